"""safetensors weights: round trips, metadata, and one clear error per bad file."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from srgan_lib.errors import SRGANError
from srgan_lib.models import Discriminator, Generator, SRResNet
from srgan_lib.weights import (architecture_of, build_model, load_weights, read_metadata,
                               save_weights, unwrap)


def small_srresnet(scale=4):
    torch.manual_seed(0)
    return SRResNet(n_blocks=2, n_channels=8, scaling_factor=scale)


@pytest.mark.parametrize("model, name, arguments", [
    (SRResNet(), "SRResNet", dict(large_kernel_size=9, small_kernel_size=3, n_channels=64,
                                  n_blocks=16, scaling_factor=4)),
    (Generator(n_blocks=3, scaling_factor=8), "Generator",
     dict(large_kernel_size=9, small_kernel_size=3, n_channels=64, n_blocks=3, scaling_factor=8)),
    (Discriminator(n_blocks=6, fc_size=32), "Discriminator",
     dict(kernel_size=3, n_channels=64, n_blocks=6, fc_size=32)),
])
def test_architecture_is_read_from_the_tensors(model, name, arguments):
    assert architecture_of(model.state_dict()) == (name, arguments)
    rebuilt = build_model(name, arguments)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()


def test_architecture_of_foreign_state_dict():
    with pytest.raises(ValueError, match="not an SRResNet"):
        architecture_of({"encoder.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("UNet", {})


def test_round_trip_keeps_weights_buffers_and_metadata(tmp_path):
    model = small_srresnet()
    model.residual_blocks[0].conv_block1.conv_block[1].running_mean.fill_(0.25)
    path = save_weights(model, tmp_path / "m.safetensors", content_loss="mse",
                        iterations=1000, data=["T91", "BSD200"])
    loaded = load_weights(path)
    assert isinstance(loaded, SRResNet) and not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    meta = read_metadata(path)
    assert meta["architecture"] == "SRResNet" and meta["content_loss"] == "mse"
    assert json.loads(meta["iterations"]) == 1000 and json.loads(meta["data"]) == ["T91", "BSD200"]
    assert json.loads(meta["arguments"])["n_channels"] == 8
    assert loaded.metadata == meta
    x = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left


def test_wrappers_are_unwrapped_before_saving(tmp_path):
    model = small_srresnet()
    compiled = torch.compile(model)  # wraps as ._orig_mod (not run, so no compile cost)
    assert unwrap(compiled) is model
    save_weights(compiled, tmp_path / "c.safetensors")
    assert isinstance(load_weights(tmp_path / "c.safetensors"), SRResNet)


def test_wrong_architecture_is_named(tmp_path):
    save_weights(Discriminator(n_blocks=2, fc_size=8), tmp_path / "d.safetensors")
    with pytest.raises(SRGANError, match=r"holds Discriminator .*SRResNet or Generator") as err:
        load_weights(tmp_path / "d.safetensors", expect=(SRResNet, Generator))
    assert "d.safetensors" in str(err.value)


def test_wrong_scale_is_named(tmp_path):
    save_weights(small_srresnet(scale=2), tmp_path / "x2.safetensors")
    with pytest.raises(SRGANError, match=r"SRResNet x2 .* x4 was asked for"):
        load_weights(tmp_path / "x2.safetensors", scaling_factor=4)
    assert load_weights(tmp_path / "x2.safetensors", scaling_factor=2) is not None


def test_generator_file_is_not_an_srresnet_file(tmp_path):
    torch.manual_seed(0)
    save_weights(Generator(n_blocks=1, n_channels=4), tmp_path / "g.safetensors")
    assert isinstance(load_weights(tmp_path / "g.safetensors", expect=(SRResNet, Generator)),
                      Generator)
    with pytest.raises(SRGANError, match="holds Generator"):
        load_weights(tmp_path / "g.safetensors", expect=SRResNet)


def test_non_safetensors_files(tmp_path):
    pickle_file = tmp_path / "model.pth"
    torch.save(small_srresnet().state_dict(), pickle_file)
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    for path in (pickle_file, text):
        with pytest.raises(SRGANError, match="not a safetensors weights file") as err:
            load_weights(path)
        assert str(path) in str(err.value)
    with pytest.raises(SRGANError, match="no such weights file"):
        load_weights(tmp_path / "absent.safetensors")
    with pytest.raises(SRGANError, match="is a directory"):
        load_weights(tmp_path)


def test_foreign_and_damaged_files(tmp_path):
    save_file({"encoder.weight": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(SRGANError, match="not a weights file of this library"):
        load_weights(tmp_path / "other.safetensors")
    # A header that contradicts the tensors.
    state = small_srresnet().state_dict()
    save_file(state, tmp_path / "lie.safetensors", metadata={"architecture": "Discriminator"})
    with pytest.raises(SRGANError, match="header says Discriminator"):
        load_weights(tmp_path / "lie.safetensors")
    # A tensor missing: the error names what does not fit, in one line.
    del state["conv_block3.conv_block.0.bias"]
    save_file(state, tmp_path / "cut.safetensors")
    with pytest.raises(SRGANError, match="does not fit SRResNet x4") as err:
        load_weights(tmp_path / "cut.safetensors")
    assert "\n" not in str(err.value)


def test_reference_layout_without_metadata_loads(tmp_path):
    # A reference-tutorial state_dict saved as plain safetensors (no header) loads as-is.
    state = {k: v.contiguous() for k, v in Generator().state_dict().items()}
    save_file(state, tmp_path / "ref.safetensors")
    model = load_weights(tmp_path / "ref.safetensors", scaling_factor=4)
    assert isinstance(model, Generator) and model.metadata == {}


def test_saved_files_fit_the_reference_tutorials_classes(tmp_path):
    # What save_weights writes is exactly the reference tutorial's state_dict layout
    # (names and shapes from its own classes, tests/fixtures), so its classes load our
    # files with load_state_dict(strict=True), and ours load its.
    from pathlib import Path

    reference = json.loads((Path(__file__).parent / "fixtures" /
                            "reference_state_dicts.json").read_text())["models"]
    for model, name in [(SRResNet(), "SRResNet_x4"), (Generator(), "Generator_x4"),
                        (Discriminator(), "Discriminator")]:
        path = save_weights(model, tmp_path / f"{name}.safetensors")
        tensors = load_file(path)
        assert {k: list(v.shape) for k, v in tensors.items()} == reference[name]["state_dict"]


def test_non_finite_weights_are_refused_in_one_line(tmp_path):
    model = SRResNet(n_blocks=1, n_channels=8)
    save_weights(model, tmp_path / "ok.safetensors")
    state = load_file(tmp_path / "ok.safetensors")
    state["conv_block1.conv_block.0.weight"].view(-1)[:100] = float("nan")
    state["conv_block2.conv_block.0.bias"][0] = float("inf")
    save_file(state, tmp_path / "bad.safetensors",
              metadata=read_metadata(tmp_path / "ok.safetensors"))
    with pytest.raises(SRGANError) as err:
        load_weights(tmp_path / "bad.safetensors")
    message = str(err.value)
    assert "\n" not in message and "bad.safetensors: 101 of" in message
    assert "NaN or infinite (2 tensors" in message
    load_weights(tmp_path / "ok.safetensors")  # finite: loads


def test_shipped_files_are_checked_against_the_cards_sha256(tmp_path, monkeypatch):
    import shutil

    import srgan_lib.weights as weights

    digests = weights._recorded_sha256()
    assert set(digests) == {"srresnet_x4.safetensors", "srgan_x4.safetensors",
                            "srgan_x4_v1.safetensors"}
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(weights._DATA / "srresnet_x4.safetensors", data)
    monkeypatch.setattr(weights, "_DATA", data)
    load_weights(data / "srresnet_x4.safetensors")  # the recorded file: loads
    blob = bytearray((data / "srresnet_x4.safetensors").read_bytes())
    blob[-1000] ^= 0x01  # one bit of one weight: still finite, still loads without the check
    (data / "srresnet_x4.safetensors").write_bytes(bytes(blob))
    with pytest.raises(SRGANError, match="srresnet_x4.safetensors: sha256 .* records for the"):
        load_weights(data / "srresnet_x4.safetensors")
    # Hashed once per process: a file's digest is cached by path, size and mtime.
    calls = weights._sha256.cache_info().hits
    with pytest.raises(SRGANError):
        load_weights(data / "srresnet_x4.safetensors")
    assert weights._sha256.cache_info().hits == calls + 1
