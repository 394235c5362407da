"""ONNX export: the exported file, run by ONNX Runtime, is the network that super_resolve runs."""

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from srgan_lib.__main__ import main
from srgan_lib.data import demo_image
from srgan_lib.export import export_onnx
from srgan_lib.images import convert_image
from srgan_lib.models import Discriminator, Generator, SRResNet
from srgan_lib.upscale import super_resolve
from srgan_lib.weights import save_weights

ROOT = Path(__file__).resolve().parents[1]


def run_onnx(path, lr):
    """The 8-bit RGB output of an ONNX file for a PIL image, through ONNX Runtime on the CPU."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = convert_image(lr, "pil", "imagenet-norm").unsqueeze(0).numpy()
    (sr,) = session.run(["sr"], {"lr": x})  # the names the export promises
    return np.asarray(convert_image(torch.from_numpy(sr[0]), "[-1, 1]", "pil"), dtype=int)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small Generator, its weights file and that file exported to ONNX."""
    torch.manual_seed(0)
    generator = Generator(n_blocks=2, n_channels=16).eval()
    folder = tmp_path_factory.mktemp("export")
    weights = save_weights(generator, folder / "g.safetensors")
    return generator, export_onnx(weights, folder / "g.onnx")


def test_onnx_output_equals_super_resolve_at_two_sizes(exported):
    generator, onnx_file = exported
    for size in ((48, 40), (71, 33)):  # two shapes: height and width really are dynamic
        lr = demo_image("astronaut").resize(size)
        expected = np.asarray(super_resolve(generator, lr), dtype=int)
        got = run_onnx(onnx_file, lr)
        assert got.shape == (size[1] * 4, size[0] * 4, 3)
        assert np.abs(got - expected).max() <= 1, size  # at most one grey level


def test_onnx_batch_is_dynamic_too(exported):
    generator, onnx_file = exported
    x = torch.randn(2, 3, 9, 13)
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    (sr,) = session.run(["sr"], {"lr": x.numpy()})
    with torch.no_grad():
        assert np.abs(sr - generator(x).numpy()).max() < 1e-4


def test_onnx_runs_the_last_convolution_folded(exported):
    # The file holds the network as super_resolve runs it: the 9x9 convolution to 3
    # channels folded into a 5x5 one to 3 * 2 * 2 = 12 on the last shuffle's input (16
    # channels * 4 phases here), which ONNX Runtime runs faster; the 9x9 one is not in it.
    import onnx

    _, onnx_file = exported
    shapes = [list(t.dims) for t in onnx.load(str(onnx_file)).graph.initializer]
    assert [12, 64, 5, 5] in shapes
    assert [3, 16, 9, 9] not in shapes


@pytest.mark.parametrize("name", ["srgan_x4", "srresnet_x4"])
def test_shipped_weights_export(tmp_path, capsys, name):
    weights = ROOT / "data" / f"{name}.safetensors"
    if not weights.exists():
        pytest.skip(f"{weights} is not in this checkout")
    # The names upscale's --model takes (srgan, srresnet) name the shipped files here too.
    assert main(["export", name.removesuffix("_x4"), "-o", str(tmp_path / "m.onnx")]) == 0
    assert "m.onnx" in capsys.readouterr().out
    lr = demo_image("coffee").resize((40, 28))
    from srgan_lib.upscale import resolve_model
    expected = np.asarray(super_resolve(resolve_model(str(weights)), lr), dtype=int)
    assert np.abs(run_onnx(tmp_path / "m.onnx", lr) - expected).max() <= 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # no temporary file left


@pytest.mark.parametrize("what, message", [
    ("missing", "missing.safetensors: no such weights file"),
    ("disc", "disc.safetensors: holds Discriminator"),
    ("no_folder", "does not exist"),
])
def test_export_errors_are_one_line(tmp_path, capsys, what, message):
    save_weights(Discriminator(n_blocks=2, fc_size=8), tmp_path / "disc.safetensors")
    save_weights(SRResNet(n_blocks=1, n_channels=8), tmp_path / "ok.safetensors")
    weights, out = {"missing": ("missing.safetensors", "m.onnx"),
                    "disc": ("disc.safetensors", "m.onnx"),
                    "no_folder": ("ok.safetensors", "no/such/m.onnx")}[what]
    assert main(["export", str(tmp_path / weights), "-o", str(tmp_path / out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("out, force, message", [
    ("ok.safetensors", True, "ok.safetensors: is the weights file being exported"),
    ("exists.onnx", False, "exists.onnx: already exists"),
    ("m.png", False, "m.png: an ONNX file must end in .onnx"),
])
def test_export_overwrites_nothing_and_writes_only_onnx(tmp_path, capsys, out, force, message):
    save_weights(SRResNet(n_blocks=1, n_channels=8), tmp_path / "ok.safetensors")
    (tmp_path / "exists.onnx").write_bytes(b"keep me")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    args = ["export", str(tmp_path / "ok.safetensors"), "-o", str(tmp_path / out)]
    assert main(args + (["--force"] if force else [])) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_export_force_replaces_an_existing_file(tmp_path):
    save_weights(SRResNet(n_blocks=1, n_channels=8), tmp_path / "ok.safetensors")
    (tmp_path / "m.onnx").write_bytes(b"old")
    assert main(["export", str(tmp_path / "ok.safetensors"), "-o", str(tmp_path / "m.onnx"),
                 "--force"]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 1000
