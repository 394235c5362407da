"""convert_image round trips, load_image on the images people really have, save_image."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_lib.errors import SRGANError
from srgan_lib.images import (FORMATS, IMAGENET_MEAN, IMAGENET_STD, convert_image,
                              crop_to_multiple, downscale, load_image, save_image,
                              upscale_bicubic)


@pytest.fixture
def pil_image():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8), mode="RGB")


TENSOR_FORMATS = [f for f in FORMATS if f not in ("pil", "y-channel")]


@pytest.mark.parametrize("fmt", TENSOR_FORMATS)
def test_pil_round_trip_is_exact(pil_image, fmt):
    x = convert_image(pil_image, "pil", fmt)
    assert x.shape == (3, 20, 30) and x.dtype == torch.float32
    back = convert_image(x, fmt, "pil")
    assert np.array_equal(np.asarray(back), np.asarray(pil_image))


@pytest.mark.parametrize("source", TENSOR_FORMATS)
@pytest.mark.parametrize("target", TENSOR_FORMATS)
def test_tensor_round_trips_on_batches(source, target):
    torch.manual_seed(0)
    x01 = torch.rand(2, 3, 5, 4)
    x = convert_image(x01, "[0, 1]", source)
    y = convert_image(convert_image(x, source, target), target, source)
    assert y.shape == (2, 3, 5, 4)
    torch.testing.assert_close(y, x, atol=1e-5, rtol=1e-5)


def test_ranges_are_what_the_names_say():
    white = torch.ones(3, 2, 2)
    black = torch.zeros(3, 2, 2)
    assert convert_image(white, "[0, 1]", "[0, 255]").max() == 255
    assert convert_image(black, "[0, 1]", "[-1, 1]").min() == -1
    # imagenet-norm of a mid-grey image: (0.5 - mean) / std, per channel
    norm = convert_image(torch.full((3, 1, 1), 0.5), "[0, 1]", "imagenet-norm")
    assert norm[:, 0, 0].tolist() == pytest.approx([(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224,
                                                    (0.5 - 0.406) / 0.225], rel=1e-6)


def test_imagenet_statistics_are_torchvisions():
    # torchvision's ImageNet models (VGG19 among them) expect these, in R, G, B order.
    assert IMAGENET_MEAN == (0.485, 0.456, 0.406)
    assert IMAGENET_STD == (0.229, 0.224, 0.225)
    # One pixel (R, G, B) = (255, 0, 51) typed in: 51 / 255 = 0.2 exactly.
    pixel = Image.new("RGB", (1, 1), (255, 0, 51))
    norm = convert_image(pixel, "pil", "imagenet-norm")[:, 0, 0].tolist()
    assert norm == pytest.approx([(1 - 0.485) / 0.229, (0 - 0.456) / 0.224,
                                  (0.2 - 0.406) / 0.225], abs=1e-6)
    back = convert_image(torch.tensor([0.0, 0.0, 0.0]).view(3, 1, 1), "imagenet-norm", "[0, 1]")
    assert back.flatten().tolist() == pytest.approx([0.485, 0.456, 0.406], abs=1e-6)


def test_y_channel_is_bt601():
    white, black = torch.ones(3, 2, 2), torch.zeros(3, 2, 2)
    assert convert_image(white, "[0, 1]", "y-channel").shape == (2, 2)
    y_white = convert_image(white, "[0, 1]", "y-channel")[0, 0].item()
    assert y_white == pytest.approx(235.0, abs=1e-3)
    assert convert_image(black, "[0, 1]", "y-channel")[0, 0].item() == pytest.approx(16.0)
    red = torch.zeros(1, 3, 1, 1)
    red[:, 0] = 1
    assert convert_image(red, "[0, 1]", "y-channel").shape == (1, 1, 1)
    assert convert_image(red, "[0, 1]", "y-channel").item() == pytest.approx(16 + 65.481)


@pytest.mark.parametrize("rgb, y", [((1, 0, 0), 81.481), ((0, 1, 0), 144.553),
                                    ((0, 0, 1), 40.966), ((0.2, 0.4, 0.6), 95.497)])
def test_y_channel_weights_of_each_channel(rgb, y):
    # BT.601 on [0, 1] RGB: 16 + 65.481 R + 128.553 G + 24.966 B, values typed in
    # (0.2, 0.4, 0.6: 16 + 13.0962 + 51.4212 + 14.9796 = 95.497).
    x = torch.tensor(rgb, dtype=torch.float64).view(3, 1, 1)
    assert convert_image(x, "[0, 1]", "y-channel").item() == pytest.approx(y, abs=1e-9)


def test_to_pil_clamps_instead_of_wrapping():
    # A tanh output slightly out of range must saturate, not wrap around 255 -> 0.
    x = torch.tensor([1.2, -1.3, 0.0]).view(3, 1, 1)
    assert np.asarray(convert_image(x, "[-1, 1]", "pil")).tolist() == [[[255, 0, 128]]]


def test_conversion_errors():
    with pytest.raises(ValueError, match="source"):
        convert_image(torch.rand(3, 2, 2), "y-channel", "[0, 1]")
    with pytest.raises(ValueError, match="target"):
        convert_image(torch.rand(3, 2, 2), "[0, 1]", "[0, 2]")
    with pytest.raises(ValueError, match="batch"):
        convert_image(torch.rand(2, 3, 2, 2), "[0, 1]", "pil")
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        convert_image(torch.rand(1, 2, 2), "[0, 1]", "[-1, 1]")
    with pytest.raises(TypeError):
        convert_image(np.zeros((2, 2, 3)), "pil", "[0, 1]")


def test_conversion_keeps_device_and_gradients():
    x = torch.rand(3, 2, 2, requires_grad=True)
    y = convert_image(x, "[0, 1]", "imagenet-norm")
    y.sum().backward()
    assert x.grad is not None and x.grad.device == x.device


# --- load_image: the modes real files come in -------------------------------------------

def saved(tmp_path, img, name, **kwargs):
    path = tmp_path / name
    img.save(path, **kwargs)
    return path


def test_load_greyscale_palette_rgba(tmp_path, pil_image):
    grey = saved(tmp_path, pil_image.convert("L"), "grey.png")
    palette = saved(tmp_path, pil_image.convert("P"), "palette.png")
    rgba = pil_image.copy()
    rgba.putalpha(128)
    rgba = saved(tmp_path, rgba, "rgba.png")
    for path in (grey, palette, rgba):
        img = load_image(path)
        assert img.mode == "RGB" and img.size == (30, 20)
    g = np.asarray(load_image(grey))
    assert (g[..., 0] == g[..., 1]).all()
    assert np.array_equal(np.asarray(load_image(rgba)), np.asarray(pil_image))


def test_load_palette_with_transparency_gives_no_warning(tmp_path, recwarn):
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    path = saved(tmp_path, img, "t.png", transparency=0)
    assert np.asarray(load_image(path))[0, 0].tolist() == [255, 0, 0]
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_load_16_bit_scales_instead_of_clipping(tmp_path):
    array = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    path = saved(tmp_path, Image.fromarray(array), "deep.png")
    assert Image.open(path).mode.startswith("I")
    assert np.asarray(load_image(path))[0, :, 0].tolist() == [0, 100, 255]


def test_load_16_bit_keeps_the_high_byte_in_grey_and_colour(tmp_path, write_png16):
    # 16 bits to 8 the one way, whatever the file: the high byte (v >> 8). Pillow does so
    # for 48-bit RGB and Chromium for both (the in-browser page's tests), so the library
    # does for greyscale too. Each value here rounds to another level than it truncates to.
    values = np.array([[0, 255, 51250, 65280, 65535]], dtype=np.uint16)
    want = [0, 0, 200, 255, 255]
    assert np.round(values / 257).astype(int).tolist()[0] == [0, 1, 199, 254, 255]
    grey = write_png16(tmp_path / "grey16.png", values)
    rgb = write_png16(tmp_path / "rgb48.png", np.stack([values, values[:, ::-1], values], -1))
    # Pillow opens a 16-bit grey PNG as "I;16" (newer releases) or "I" (10.0, the oldest
    # requirements.txt allows): the library must take the high byte of both.
    assert Image.open(grey).mode in ("I;16", "I") and Image.open(rgb).mode == "RGB"
    assert np.asarray(load_image(grey))[0].T.tolist() == [want, want, want]
    assert np.asarray(load_image(rgb))[0].T.tolist() == [want, want[::-1], want]


def test_load_turns_exif_rotated_jpeg_upright(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = saved(tmp_path, img, "camera.jpg", exif=exif.tobytes())
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.png", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "text.png").write_text("hello") and p / "text.png", "not an image"),
])
def test_load_errors_name_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(SRGANError, match=message) as err:
        load_image(path)
    assert str(path) in str(err.value)


def test_load_truncated_png(tmp_path, pil_image):
    buffer = io.BytesIO()
    pil_image.save(buffer, format="PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(SRGANError, match="truncated or corrupt"):
        load_image(path)


def test_load_decompression_bomb_is_refused_then_allowed(tmp_path, monkeypatch):
    path = saved(tmp_path, Image.new("RGB", (100, 100)), "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 > 2x the limit
    with pytest.raises(SRGANError, match="allow_large"):
        load_image(path)
    assert load_image(path, allow_large=True).size == (100, 100)
    assert Image.MAX_IMAGE_PIXELS == 1000  # the guard is restored


# --- save_image ---------------------------------------------------------------------------

def test_save_is_atomic_and_refuses_to_overwrite(tmp_path, pil_image):
    path = tmp_path / "out.png"
    save_image(pil_image, path)
    assert np.array_equal(np.asarray(load_image(path)), np.asarray(pil_image))
    with pytest.raises(SRGANError, match="already exists"):
        save_image(pil_image, path)
    save_image(Image.new("RGB", (2, 2)), path, overwrite=True)
    assert load_image(path).size == (2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp files left


def test_save_failure_leaves_nothing(tmp_path):
    class Broken:
        def save(self, f, format):
            f.write(b"half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_image(Broken(), tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_save_errors(tmp_path, pil_image):
    with pytest.raises(SRGANError, match="unknown image extension"):
        save_image(pil_image, tmp_path / "x.xyz")
    with pytest.raises(SRGANError, match="cannot write"):
        save_image(pil_image, tmp_path / "no" / "such" / "dir" / "x.png")


# --- resizing ------------------------------------------------------------------------------

def test_crop_to_multiple_is_centred():
    img = Image.new("RGB", (103, 98))
    out = crop_to_multiple(img, 4)
    assert out.size == (100, 96)
    assert crop_to_multiple(Image.new("RGB", (8, 8)), 4).size == (8, 8)
    with pytest.raises(SRGANError):
        crop_to_multiple(Image.new("RGB", (3, 8)), 4)
    marked = Image.new("L", (6, 5))
    marked.putpixel((1, 0), 255)  # 6x5 -> 4x4 drops one column left, one right, one row below
    assert np.asarray(crop_to_multiple(marked, 4))[0, 0] == 255


def test_downscale_and_bicubic_upscale_sizes(pil_image):
    hr = crop_to_multiple(pil_image, 4)  # 28x20
    lr = downscale(hr, 4)
    assert lr.size == (7, 5)
    assert upscale_bicubic(lr, 4).size == hr.size
    with pytest.raises(ValueError, match="crop_to_multiple"):
        downscale(pil_image.crop((0, 0, 30, 19)), 4)


def test_downscale_antialiases():
    # A one-pixel checkerboard averages to grey with an antialiased bicubic.
    board = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
    lr = np.asarray(downscale(Image.fromarray(board).convert("RGB"), 4))
    assert abs(lr[4:-4, 4:-4].mean() - 127.5) < 3 and lr[4:-4, 4:-4].std() < 3


def test_check_output_knows_what_pillow_writes_and_what_a_format_holds(tmp_path):
    from srgan_lib.images import _writable_extensions, check_output

    assert {".png", ".jpg", ".webp", ".tiff", ".bmp"} <= set(_writable_extensions())
    assert ".psd" not in _writable_extensions() and ".xbm" not in _writable_extensions()
    with pytest.raises(SRGANError, match=r"x.psd: Pillow cannot write images as '.psd'; use "):
        check_output(tmp_path / "x.psd")
    with pytest.raises(SRGANError, match="x.jpg: JPEG cannot hold transparency"):
        check_output(tmp_path / "x.jpg", mode="RGBA")
    assert check_output(tmp_path / "x.jpg", mode="L") == "JPEG"
    assert check_output(tmp_path / "x.png", mode="LA") == "PNG"


def test_load_between_the_limit_and_twice_it_is_refused_without_a_warning(tmp_path,
                                                                           monkeypatch):
    import warnings

    path = saved(tmp_path, Image.new("RGB", (40, 30)), "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1200 px: Pillow only warns
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would fail the test
        with pytest.raises(SRGANError, match="limit of 1,000 pixels; if you trust"):
            load_image(path)
