"""Upscaling: exact tiling, alpha, bounded memory, and one clear line for every bad input."""

import io
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_lib.__main__ import main
from srgan_lib.data import demo_image
from srgan_lib.models import Discriminator, Generator, SRResNet
from srgan_lib.upscale import (SHIPPED, model_scale, receptive_radius, resolve_model,
                               super_resolve, upscale_files, upscale_image)
from srgan_lib.weights import save_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SRResNet(n_blocks=2, n_channels=16).eval()


@pytest.fixture
def files(tmp_path, tiny):
    """Weights and images of every kind the bad-input table needs."""
    save_weights(tiny, tmp_path / "tiny.safetensors")
    save_weights(SRResNet(n_blocks=1, n_channels=8, scaling_factor=2),
                 tmp_path / "x2.safetensors")
    save_weights(Discriminator(n_blocks=2, fc_size=8), tmp_path / "disc.safetensors")
    torch.save(tiny.state_dict(), tmp_path / "pickle.safetensors")
    demo_image("coffee").resize((40, 30)).save(tmp_path / "in.png")
    buffer = io.BytesIO()
    demo_image("coffee").resize((40, 30)).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:400])
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "adir").mkdir()
    return tmp_path


def test_receptive_radius_matches_the_gradient(tiny):
    assert receptive_radius(SRResNet()) == 40  # 80x80 LR window, as chapter 4 measures
    lr = torch.randn(1, 3, 48, 48, requires_grad=True)
    tiny(lr)[0, :, 96, 96].sum().backward()
    seen = (lr.grad[0].abs().sum(0) > 0).nonzero()
    width = int(seen[:, 1].max() - seen[:, 1].min() + 1)
    assert width // 2 <= receptive_radius(tiny) <= width // 2 + 1


def test_tiles_with_default_overlap_equal_whole_image(tiny):
    lr = demo_image("astronaut").resize((70, 50))
    whole = np.asarray(super_resolve(tiny, lr), dtype=int)
    tiled = np.asarray(super_resolve(tiny, lr, tile=16), dtype=int)
    assert whole.shape == (200, 280, 3)
    # The stated tolerance: at most one grey level (float rounding), and almost never that.
    assert np.abs(whole - tiled).max() <= 1 and np.abs(whole - tiled).mean() < 0.01
    # Too little context is visibly different: the check above can fail.
    seams = np.asarray(super_resolve(tiny, lr, tile=16, overlap=0), dtype=int)
    assert np.abs(whole - seams).max() > 1


def test_generator_and_alpha(tiny):
    generator = Generator(n_blocks=2, n_channels=16).eval()
    generator.initialize_with_srresnet(tiny)
    rgba = demo_image("coffee").resize((20, 16)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((20, 16)))
    out = upscale_image(generator, rgba, tile=8)
    assert out.mode == "RGBA" and out.size == (80, 64) and model_scale(generator) == 4
    assert np.array_equal(np.asarray(out.convert("RGB")),
                          np.asarray(super_resolve(tiny, rgba.convert("RGB"))))
    alpha = np.asarray(out.getchannel("A"), dtype=int)
    assert alpha[0].mean() < alpha[-1].mean()  # the gradient survived, upscaled
    assert upscale_image("bicubic", rgba, scale=2).size == (40, 32)


def test_upscale_files_writes_each_output_once(files):
    results = list(upscale_files([files / "in.png"], files / "one.png",
                                 model=str(files / "tiny.safetensors"), progress=False))
    assert results[0][1] == files / "one.png" and Image.open(files / "one.png").size == (160, 120)
    # A bad second input: the first output is complete, nothing half-written is left.
    with pytest.raises(Exception, match="truncated"):
        list(upscale_files([files / "in.png", files / "cut.png"], files / "out",
                           model=str(files / "tiny.safetensors"), progress=False))
    assert sorted(p.name for p in (files / "out").iterdir()) == ["in_x4.png"]


def test_shipped_names_and_bicubic():
    assert resolve_model("bicubic") == "bicubic"
    assert set(SHIPPED) == {"srgan", "srresnet"}


# --- the bad-input table of the README: each row, one line, exit status 1 -----------------

BAD_INPUTS = [
    # (arguments, what the one line must say)
    (["missing.png", "-o", "o.png", "--model", "bicubic"], "missing.png: no such file"),
    (["adir", "-o", "o.png", "--model", "bicubic"], "adir: is a directory"),
    (["text.png", "-o", "o.png", "--model", "bicubic"], "text.png: not an image"),
    (["cut.png", "-o", "o.png", "--model", "bicubic"], "cut.png: the image data is truncated"),
    (["in.png", "-o", "o.png", "--model", "disc.safetensors"],
     "disc.safetensors: holds Discriminator"),
    (["in.png", "-o", "o.png", "--model", "x2.safetensors", "--scale", "4"],
     "x2.safetensors: holds SRResNet x2"),
    (["in.png", "-o", "o.png", "--model", "pickle.safetensors"],
     "pickle.safetensors: not a safetensors weights file"),
    (["in.png", "-o", "no/such/dir/o.png", "--model", "bicubic"], "cannot write to"),
    (["in.png", "-o", "o.xyz", "--model", "bicubic"], "o.xyz: unknown image extension"),
    (["in.png", "-o", "in.png", "--model", "bicubic", "--force"], "in.png: is one of the inputs"),
    (["in.png", "-o", "exists.png", "--model", "bicubic"], "exists.png: already exists"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[m.split(":")[0] if ":" in m else m
                                                           for _, m in BAD_INPUTS])
def test_bad_input_gives_one_line(files, monkeypatch, capsys, args, message):
    monkeypatch.chdir(files)
    (files / "exists.png").write_bytes(b"keep me")
    before = sorted(p.name for p in files.iterdir())
    assert main(["upscale", *args, "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written
    assert (files / "exists.png").read_bytes() == b"keep me"


def test_decompression_bomb_needs_the_flag(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # in.png (1200 px) is "huge" now
    assert main(["upscale", "in.png", "-o", "o.png", "--model", "bicubic"]) == 1
    assert "--allow-large" in capsys.readouterr().err
    assert main(["upscale", "in.png", "-o", "o.png", "--model", "bicubic",
                 "--allow-large"]) == 0
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10 ** 8)
    assert Image.open(files / "o.png").size == (160, 120)


def test_missing_shipped_weights_are_explained(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(SHIPPED, "srgan", tmp_path / "srgan_x4.safetensors")
    demo_image("coffee").resize((8, 8)).save(tmp_path / "a.png")
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png")]) == 1
    assert "shipped srgan weights are missing" in capsys.readouterr().err


def test_cli_end_to_end_no_traceback_and_debug(files):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "srgan_lib", *args], cwd=files,
                              capture_output=True, text=True, timeout=300,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})

    ok = run("upscale", "in.png", "-o", "big.png", "--model", "tiny.safetensors",
             "--tile", "16", "--no-progress")
    assert ok.returncode == 0 and "in.png -> big.png (40x30 -> 160x120)" in ok.stdout
    bad = run("upscale", "text.png", "-o", "x.png", "--model", "bicubic")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    debug = run("--debug", "upscale", "text.png", "-o", "x.png", "--model", "bicubic")
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_memory_stays_bounded_on_a_2000px_image(tmp_path):
    # 2000x2000 LR -> 8000x8000 output, in tiles: the peak resident memory of the whole
    # process (Python, torch, the 192 MB output) must stay under 3 GB. A small network keeps
    # this test fast; activations per tile are what tiling bounds, for any network.
    torch.manual_seed(0)
    save_weights(SRResNet(n_blocks=1, n_channels=8), tmp_path / "small.safetensors")
    Image.effect_noise((2000, 2000), 40).convert("RGB").save(tmp_path / "big.png")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run = subprocess.run([sys.executable, "-m", "srgan_lib", "upscale", "big.png", "-o",
                          "out.bmp", "--model", "small.safetensors", "--no-progress",
                          "--device", "cpu"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kb >= before
    assert peak_kb < 3 * 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    assert Image.open(tmp_path / "out.bmp").size == (8000, 8000)
