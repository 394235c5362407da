"""Upscaling: exact tiling, alpha, bounded memory, and one clear line for every bad input."""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_lib.__main__ import main
from srgan_lib.data import demo_image
from srgan_lib.images import convert_image
from srgan_lib.models import Discriminator, Generator, SRResNet
from srgan_lib.upscale import (SHIPPED, _fold_last_conv, _sr_tiles, _tail, model_scale,
                               receptive_radius, resolve_model, super_resolve, upscale_files,
                               upscale_image)
from srgan_lib.weights import load_weights, save_weights

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny():
    """A fresh small SRResNet for each test, so no test sees what another did to it."""
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


def float_output(model, lr, **tiling):
    """The float32 SR image, [-1, 1], assembled from super_resolve's tiles (NaN where none)."""
    s = model_scale(model)
    w, h = lr.size
    out = torch.full((3, h * s, w * s), float("nan"))
    for (x0, y0, x1, y1), sr in _sr_tiles(model, lr, **tiling):
        out[:, y0 * s:y1 * s, x0 * s:x1 * s] = sr
    assert not out.isnan().any()  # every pixel written once
    return out


def test_tiles_with_default_overlap_equal_whole_image(tiny):
    lr = demo_image("astronaut").resize((70, 50))
    whole = float_output(tiny, lr)
    assert whole.shape == (3, 200, 280)
    x = convert_image(lr, "pil", "imagenet-norm").unsqueeze(0)
    with torch.no_grad():  # the body and the tail, run apart, are the network
        assert (whole - tiny(x.contiguous(memory_format=torch.channels_last))[0]).abs().max() \
            <= 1e-6
    # tile 8: the body runs on 3 x 2 tiles of at most 32 px, the tail on 8-px ones
    for tile in (8, 16, 23, 32):
        tiled = float_output(tiny, lr, tile=tile)
        # Each output pixel sees the same inputs and, in channels_last, sums them in the
        # same order: bit for bit equal on AVX2/AVX-512 CPUs (measured), and on older ones
        # to 2.5e-7. Too little context (next test) is off by 3.5e-5 or more.
        assert (whole - tiled).abs().max() <= 1e-6, tile
    assert np.array_equal(np.asarray(super_resolve(tiny, lr)),
                          np.asarray(super_resolve(tiny, lr, tile=16)))


@pytest.mark.parametrize("shape", [{}, {"scaling_factor": 2}, {"scaling_factor": 8},
                                   {"large_kernel_size": 5}, {"large_kernel_size": 11}])
def test_tail_with_the_last_conv_folded_is_the_network(shape):
    # super_resolve runs the last 9x9 convolution before the last pixel shuffle, on r * r
    # times more channels (_fold_last_conv). It must be the same function for every
    # scale and kernel size; a phase or a shift off by one is off by about 0.1.
    torch.manual_seed(0)
    net = SRResNet(n_blocks=1, n_channels=16, **shape).eval()
    for block in net.subpixel_convolutional_blocks:  # PReLU slopes unlike the initial 0.25
        block.prelu.weight.data.uniform_(-0.5, 0.5)
    features = torch.randn(1, 16, 13, 11)
    with torch.no_grad():
        reference = net.conv_block3(net.subpixel_convolutional_blocks(features))
        folded = _tail(net, features, _fold_last_conv(net))
    assert folded.shape == reference.shape
    assert (folded - reference).abs().max() <= 1e-5


def pixels_through_each_half(model, lr, **tiling):
    """How many LR pixels the residual body and the upsampling tail ran on, margins included."""
    net, seen = getattr(model, "net", model), {"body": 0, "tail": 0}

    def count(half):
        def hook(module, inputs):
            seen[half] += inputs[0].shape[2] * inputs[0].shape[3]
        return hook

    hooks = [net.conv_block1.register_forward_pre_hook(count("body")),
             net.subpixel_convolutional_blocks.register_forward_pre_hook(count("tail"))]
    try:
        for _ in _sr_tiles(model, lr, **tiling):
            pass
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def test_tiling_a_photo_recomputes_little():
    # A 768x512 photo in the command's 192-px tiles, with the paper's 16 blocks (receptive
    # radius 40; few channels keep the test fast). Tiles of 192 with 40 px of context on
    # each side would run 1.72 times the photo's pixels through the whole network. The body,
    # whose activations are at LR size, takes the photo in one piece (at most 4 x 192 px a
    # side); the tail's tiles need only 3 px of context: together at most 10% extra.
    torch.manual_seed(0)
    model = SRResNet(n_blocks=16, n_channels=4).eval()
    assert receptive_radius(model) == 40
    lr = Image.new("RGB", (768, 512))
    seen = pixels_through_each_half(model, lr, tile=192)
    assert seen["body"] == 768 * 512
    assert seen["tail"] <= 1.1 * 768 * 512


def test_tiles_with_less_context_than_the_radius_differ(tiny):
    # The check above can fail: one pixel less context than the receptive radius changes
    # the float output measurably (so a default overlap of radius - 1 would be caught),
    # and no context at all leaves seams that show in 8 bits.
    lr = demo_image("astronaut").resize((70, 50))
    whole = float_output(tiny, lr)
    short = float_output(tiny, lr, tile=16, overlap=receptive_radius(tiny) - 1)
    assert (whole - short).abs().max() > 1e-5
    seams = np.asarray(super_resolve(tiny, lr, tile=16, overlap=0), dtype=int)
    assert np.abs(np.asarray(super_resolve(tiny, lr), dtype=int) - seams).max() > 1


def test_tile_zero_is_the_whole_image_and_negative_is_refused(tiny):
    lr = demo_image("coffee").resize((30, 20))
    assert torch.equal(float_output(tiny, lr, tile=0), float_output(tiny, lr))
    for bad in ({"tile": -5}, {"overlap": -10}):
        with pytest.raises(ValueError, match="must be >= 0"):
            super_resolve(tiny, lr, **bad)


def layout(model):
    """What super_resolve must not change: each tensor's device, strides, values, kind."""
    return {name: (t.device, t.stride(), t.detach().clone(), t.is_inference())
            for name, t in [*model.named_parameters(), *model.named_buffers()]}


def test_super_resolve_leaves_the_callers_model_as_it_was():
    torch.manual_seed(0)
    model = SRResNet(n_blocks=2, n_channels=16)  # training mode, the default layout
    model.conv_block2.eval()  # one module's own flag, which must come back as it was
    before = layout(model)
    lr = demo_image("coffee").resize((24, 20))
    reference = super_resolve(same_weights(model), lr)
    assert np.array_equal(np.asarray(super_resolve(model, lr, tile=8)), np.asarray(reference))
    for name, module in model.named_modules():  # conv_block2 and its parts in eval mode
        assert module.training == (name.split(".")[0] != "conv_block2"), name
    after = layout(model)
    for name, (device, stride, value, _) in before.items():
        assert after[name][:2] == (device, stride), name  # same device, same memory layout
        assert torch.equal(after[name][2], value), name  # BN running stats untouched too
        assert not after[name][3], name  # no weight became an inference tensor
    # ... so training goes on: an inference tensor would fail "saved for backward" here.
    model(torch.randn(2, 3, 8, 8)).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def same_weights(model):
    """An independent eval-mode copy of a model with the same weights."""
    torch.manual_seed(0)
    copy = SRResNet(n_blocks=2, n_channels=16)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_super_resolve_on_another_device_leaves_the_model_where_it_is():
    torch.manual_seed(0)
    lr = demo_image("coffee").resize((24, 20))
    for home, there in (("cpu", "cuda"), ("cuda", "cpu")):
        model = SRResNet(n_blocks=2, n_channels=16).to(home)
        before = layout(model)
        sr = np.asarray(super_resolve(model, lr, device=there), dtype=int)
        assert model.training
        after = layout(model)
        for name, (device, stride, value, _) in before.items():
            assert after[name][:2] == (device, stride) and torch.equal(after[name][2], value)
        expected = np.asarray(super_resolve(same_weights(model).to(home), lr), dtype=int)
        assert np.abs(sr - expected).max() <= 1  # the same network, run elsewhere


def test_generator_and_alpha(tiny):
    generator = Generator(n_blocks=2, n_channels=16).eval()
    generator.initialize_with_srresnet(tiny)
    opaque = demo_image("coffee").resize((20, 16)).convert("RGBA")  # alpha 255 everywhere
    out = upscale_image(generator, opaque, tile=8)
    assert out.mode == "RGBA" and out.size == (80, 64) and model_scale(generator) == 4
    assert np.array_equal(np.asarray(out.convert("RGB")),
                          np.asarray(super_resolve(tiny, opaque.convert("RGB"))))
    rgba = opaque.copy()
    rgba.putalpha(Image.linear_gradient("L").resize((20, 16)))
    alpha = np.asarray(upscale_image(generator, rgba, tile=8).getchannel("A"), dtype=int)
    assert alpha[0].mean() < alpha[-1].mean()  # the gradient survived, upscaled
    assert upscale_image("bicubic", rgba, scale=2).size == (40, 32)


def logo(hidden):
    """A white square, opaque, with a half-transparent white rim, on a fully transparent
    background whose (invisible) colour is ``hidden``."""
    img = Image.new("RGBA", (24, 20), (*hidden, 0))
    img.paste((255, 255, 255, 128), (5, 4, 19, 16))
    img.paste((255, 255, 255, 255), (7, 6, 17, 14))
    return img


def test_hidden_colours_of_transparent_pixels_make_no_halo(tiny):
    red, green = logo((255, 0, 0)), logo((0, 255, 0))
    for model in ("bicubic", tiny):
        a = np.asarray(upscale_image(model, red, tile=8), dtype=int)
        b = np.asarray(upscale_image(model, green, tile=8), dtype=int)
        visible = a[..., 3] > 0
        assert visible.sum() > 14 * 12 * 16  # the square, upscaled x4, and some of its edge
        # What cannot be seen cannot change what is seen.
        assert np.array_equal(a[visible], b[visible]), model
    # Bicubic of white with any alpha is white: no pink or red fringe at the edge.
    bicubic = np.asarray(upscale_image("bicubic", red), dtype=int)
    seen = bicubic[..., 3] > 0
    assert (bicubic[seen][:, :3] == 255).all()
    assert (bicubic[~seen][:, :3] == 0).all()  # nothing visible: colour 0, not a division by 0


def test_upscale_files_writes_each_output_once(files):
    results = list(upscale_files([files / "in.png"], files / "one.png",
                                 model=str(files / "tiny.safetensors"), progress=False))
    assert results[0][1] == files / "one.png" and Image.open(files / "one.png").size == (160, 120)
    # A bad second input: the first output is complete, nothing half-written is left.
    with pytest.raises(Exception, match="truncated"):
        list(upscale_files([files / "in.png", files / "cut.png"], files / "out",
                           model=str(files / "tiny.safetensors"), progress=False))
    assert sorted(p.name for p in (files / "out").iterdir()) == ["in_x4.png"]


def test_model_names(tmp_path, tiny):
    assert resolve_model("bicubic") == "bicubic"
    assert resolve_model("bicubic", scaling_factor=2) == "bicubic"
    assert SHIPPED == {"srgan": ROOT / "data" / "srgan_x4.safetensors",
                       "srresnet": ROOT / "data" / "srresnet_x4.safetensors"}
    path = save_weights(tiny, tmp_path / "tiny.safetensors")
    model = resolve_model(str(path))
    assert type(model) is SRResNet and not model.training and "architecture" in model.metadata
    assert torch.equal(model.conv_block1.conv_block[0].weight,
                       load_weights(path).conv_block1.conv_block[0].weight)


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
    # Formats Pillow only reads, or that cannot hold the image, before any work.
    (["in.png", "-o", "o.psd", "--model", "bicubic"], "o.psd: Pillow cannot write images as"),
    (["in.png", "-o", "o.xbm", "--model", "bicubic"], "'.xbm'; use .png (it keeps everything)"),
    (["alpha.png", "-o", "o.jpg", "--model", "bicubic"], "o.jpg: JPEG cannot hold transparency"),
    # Every input and every output name, before the first image is done.
    (["in.png", "in.jpg", "-o", "multi/", "--model", "bicubic"],
     "both in.png and in.jpg would be written there"),
    (["in.png", "missing.png", "-o", "multi/", "--model", "bicubic"], "missing.png: no such"),
    (["in.png", "-o", "o.png", "--device", "tpu"], "--device tpu: not a device name"),
    (["in.png", "-o", "o.png", "--model", "bicubic", "--device", "cuda:7"],
     "--device cuda:7: this machine has no such device (it has cpu"),
    (["in.png", "-o", "in.png", "--model", "bicubic", "--force"], "in.png: is one of the inputs"),
    (["in.png", "-o", "exists.png", "--model", "bicubic"], "exists.png: already exists"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[m.split(":")[0] if ":" in m else m
                                                           for _, m in BAD_INPUTS])
def test_bad_input_gives_one_line(files, monkeypatch, capsys, args, message):
    monkeypatch.chdir(files)
    (files / "exists.png").write_bytes(b"keep me")
    Image.new("RGBA", (8, 6), (1, 2, 3, 100)).save(files / "alpha.png")
    Image.open(files / "in.png").convert("RGB").save(files / "in.jpg")
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
    # wait4 gives this child's own peak, not the largest of every child pytest has run
    with open(tmp_path / "stderr.txt", "w") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "srgan_lib", "upscale", "big.png", "-o", "out.bmp",
             "--model", "small.safetensors", "--no-progress", "--device", "cpu"],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
    assert child.returncode == 0, (tmp_path / "stderr.txt").read_text()
    peak_kb = usage.ru_maxrss
    assert 100 * 1024 < peak_kb < 3 * 1024 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    assert Image.open(tmp_path / "out.bmp").size == (8000, 8000)


# --- alpha, grey, and what is known before the work ---------------------------------------

def soft_disc(hidden):
    """A disc of colour (30, 120, 220) whose alpha falls from 255 to 0 over 6 pixels, on a
    fully transparent background of colour ``hidden``."""
    y, x = np.mgrid[:48, :48]
    alpha = np.clip((16 - np.hypot(x - 24, y - 24)) / 6, 0, 1) * 255
    img = np.zeros((48, 48, 4), np.uint8)
    img[..., :3] = hidden
    img[alpha > 0, :3] = (30, 120, 220)
    img[..., 3] = alpha.round()
    return Image.fromarray(img, "RGBA")


@pytest.mark.parametrize("name", ["srgan", "srresnet"])
def test_semi_transparent_edges_keep_their_colour(name):
    """Premultiplying, running the network and dividing by the upscaled alpha gave edge
    pixels of alpha 1-63 a mean of (104, 154, 215) with errors up to 225 levels."""
    from srgan_lib.upscale import resolve_model

    model = resolve_model(name)
    for hidden in ((0, 0, 0), (255, 0, 0)):
        out = np.asarray(upscale_image(model, soft_disc(hidden)), dtype=float)
        edge = (out[..., 3] >= 1) & (out[..., 3] <= 63)
        assert edge.sum() > 1000
        error = np.abs(out[edge][:, :3] - (30, 120, 220))
        assert error.mean(0).max() < 4 and error.max() <= 10, (hidden, error.max(0))


def test_fill_transparent_guards_its_division():
    """Far from any visible pixel the alpha-weighted sums are 0: divided without the
    ``> 0`` guard, 0 / 0 would raise here."""
    from srgan_lib.upscale import fill_transparent

    img = Image.new("RGBA", (40, 30), (255, 0, 0, 0))
    img.paste((10, 20, 30, 200), (36, 26, 40, 30))  # visible only in one corner
    with np.errstate(all="raise"):
        rgb = np.asarray(fill_transparent(img))
        empty = np.asarray(fill_transparent(Image.new("RGBA", (5, 5), (7, 8, 9, 0))))
    assert (rgb == (10, 20, 30)).all()  # every hidden pixel took the visible colour
    assert (empty == (7, 8, 9)).all()  # nothing visible: the colours are kept


@pytest.mark.parametrize("mode", ["L", "LA", "I;16"])
def test_grey_in_grey_out(tmp_path, mode):
    from srgan_lib.upscale import resolve_model

    grey = np.asarray(demo_image("coffee").convert("L").resize((40, 30)))
    if mode == "I;16":
        img = Image.fromarray(grey.astype(np.uint16) * 257)
    else:
        img = Image.fromarray(grey).convert(mode)
    img.save(tmp_path / "g.png")
    list(upscale_files([tmp_path / "g.png"], tmp_path / "o.png", progress=False))
    out = Image.open(tmp_path / "o.png")
    assert out.mode == ("LA" if mode == "LA" else "L") and out.size == (160, 120)
    rgb = np.asarray(super_resolve(resolve_model("srgan"), Image.fromarray(grey).convert("RGB")))
    luma = np.asarray(Image.fromarray(rgb).convert("L"), dtype=int)
    assert np.abs(np.asarray(out.convert("L"), dtype=int) - luma).max() <= 1


def test_a_trailing_slash_names_a_folder(files, monkeypatch):
    monkeypatch.chdir(files)
    done = list(upscale_files(["in.png"], "newdir/", model="bicubic", progress=False))
    assert done[0][1] == Path("newdir/in_x4.png") and (files / "newdir" / "in_x4.png").is_file()


def test_whole_image_inference_beyond_the_ram_is_refused_before_work(files, monkeypatch,
                                                                      capsys):
    import srgan_lib.upscale as up

    monkeypatch.chdir(files)
    tiny = load_weights(files / "tiny.safetensors")
    whole, tiled = up._peak_memory(tiny, 1500, 1000, tile=0), up._peak_memory(tiny, 1500, 1000)
    assert whole > 4 * tiled
    monkeypatch.setattr(up, "_available_ram", lambda: (whole + tiled) // 2)
    assert up._peak_memory(SRResNet(), 1500, 1000, tile=0) > 10 * 2 ** 30  # measured 14.5 GB
    Image.new("RGB", (1500, 1000)).save(files / "photo.png")
    assert main(["upscale", "photo.png", "-o", "o.png", "--model", "tiny.safetensors",
                 "--tile", "0", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GB are available; use tiles (--tile 192" in err
    assert not (files / "o.png").exists()


def test_a_huge_image_is_refused_with_one_limit_and_no_warning(files, monkeypatch, capsys,
                                                              recwarn):
    monkeypatch.chdir(files)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # in.png: 1200 px, under 2x
    assert main(["upscale", "in.png", "-o", "o.png", "--model", "bicubic"]) == 1
    err = capsys.readouterr().err
    assert "limit of 1,000 pixels" in err and "2000" not in err and "2,000" not in err
    assert not [w for w in recwarn if "DecompressionBomb" in str(w.category)]


def test_memory_error_is_one_line(files, monkeypatch, capsys):
    import srgan_lib.upscale as up

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.chdir(files)
    monkeypatch.setattr(up, "upscale_image", out_of_memory)
    assert main(["upscale", "in.png", "-o", "o.png", "--model", "bicubic"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err and "--tile" in err


def test_a_read_only_folder_is_not_writable(files, capsys, monkeypatch):
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):  # root may write anywhere: make the check say no
            monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != ro)
        assert main(["upscale", str(files / "in.png"), "-o", str(ro / "o.png"),
                     "--model", "bicubic"]) == 1
        err = capsys.readouterr().err
        assert "(not writable)" in err and "permission denied" not in err.lower()
    finally:
        ro.chmod(0o755)
