"""The comparison views: the images compared and the crop grid (``viz``), the static
slider's HTML (``slider``), and the live ipywidgets views (``app``, built and driven from
Python, no browser)."""

import base64
import datetime
import io
import re
import tempfile

import numpy as np
import pytest
import torch
from PIL import Image, ImageColor

from srgan_lib.data import DEMO_IMAGES, demo_image
from srgan_lib.images import crop_to_multiple, downscale, upscale_bicubic
from srgan_lib.models import SRResNet
from srgan_lib.upscale import upscale_image
from srgan_lib.app import ComparisonApp, ComparisonView
from srgan_lib.slider import png_data_uri, slider_html
from srgan_lib.viz import comparison_images, crop_grid, image_choices


def solid(colour, size=(40, 30)):
    return Image.new("RGB", size, colour)


def test_png_data_uri_round_trips():
    img = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    uri = png_data_uri(img)
    assert uri.startswith("data:image/png;base64,")
    back = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_slider_is_self_contained_and_deterministic():
    page = slider_html(solid("red"), solid("blue"), labels=("Bicubic", "SRGAN <x4>"))
    assert page == slider_html(solid("red"), solid("blue"), labels=("Bicubic", "SRGAN <x4>"))
    assert page.count("data:image/png;base64,") == 2
    assert "http" not in page and "src=\"/" not in page  # nothing fetched from anywhere
    assert "SRGAN &lt;x4&gt;" in page and "<x4>" not in page  # labels are escaped
    [element] = set(re.findall(r'id="(srgan-slider-[0-9a-f]{12})"', page))
    assert page.count(element) > 5  # the style and the script address this element only
    assert "resize: horizontal" in page  # the no-script fallback
    other = slider_html(solid("red"), solid("green"))
    assert re.search(r'id="(srgan-slider-[0-9a-f]{12})"', other).group(1) != element


def test_slider_refuses_images_of_different_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        slider_html(solid("red", (10, 10)), solid("blue", (20, 10)))


def test_crop_grid_enlarges_the_same_region():
    images = {"a": solid("red", (50, 50)), "b": solid("blue", (50, 50))}
    fig = crop_grid(images, box=(10, 10, 30, 20), zoom=3)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    assert fig.axes[0].images[0].get_array().shape[:2] == (30, 60)
    with pytest.raises(ValueError, match="differ in size"):
        crop_grid({"a": solid("red", (5, 5)), "b": solid("red", (6, 5))}, (0, 0, 2, 2))


def decoded(png):
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_slider_zoom_enlarges_the_display_not_the_images():
    plain = slider_html(solid("red"), solid("blue"))
    zoomed = slider_html(solid("red"), solid("blue"), zoom=3)
    assert 'width="40" height="30"' in plain and "image-rendering: auto" in plain
    assert 'width="120" height="90"' in zoomed and "image-rendering: pixelated" in zoomed
    uris = re.findall(r'src="(data:[^"]+)"', zoomed)
    assert uris == re.findall(r'src="(data:[^"]+)"', plain)  # the same 40x30 PNGs
    assert re.search(r'id="([^"]+)"', plain).group(1) != re.search(r'id="([^"]+)"',
                                                                  zoomed).group(1)
    with pytest.raises(ValueError, match="zoom"):
        slider_html(solid("red"), solid("blue"), zoom=0)


# --- the images to compare, and the live views ---------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SRResNet(n_blocks=1, n_channels=8).eval()


def test_comparison_images_against_the_truth(tiny):
    picture = demo_image("coffee").resize((50, 30))
    lr, images = comparison_images(picture, {"Bicubic": "bicubic", "Tiny": tiny})
    hr = crop_to_multiple(picture, 4)  # 48x28: the evaluation's protocol
    assert list(images) == ["Bicubic", "Tiny", "HR"]
    assert lr.size == (12, 7) and np.array_equal(np.asarray(lr), np.asarray(downscale(hr, 4)))
    assert {img.size for img in images.values()} == {(48, 28)}
    assert np.array_equal(np.asarray(images["HR"]), np.asarray(hr))
    assert np.array_equal(np.asarray(images["Bicubic"]), np.asarray(upscale_bicubic(lr, 4)))
    assert np.array_equal(np.asarray(images["Tiny"]), np.asarray(upscale_image(tiny, lr)))


def test_comparison_images_of_an_input_as_given(tiny):
    picture = demo_image("coffee").resize((50, 30)).convert("RGBA")
    lr, images = comparison_images(picture, {"Bicubic": "bicubic", "Tiny": tiny}, truth=False)
    assert lr.mode == "RGB" and lr.size == (50, 30)  # the input itself, no truth to show
    assert list(images) == ["Bicubic", "Tiny"]
    assert {img.size for img in images.values()} == {(200, 120)}


def test_comparison_images_crop_large_inputs_at_the_centre():
    picture = demo_image("coffee").resize((100, 80))
    lr, images = comparison_images(picture, {"Bicubic": "bicubic"}, max_lr=10)
    assert lr.size == (10, 10) and images["HR"].size == (40, 40)
    assert np.array_equal(np.asarray(images["HR"]), np.asarray(picture.crop((30, 20, 70, 60))))
    lr, _ = comparison_images(picture, {"Bicubic": "bicubic"}, truth=False, max_lr=10)
    assert np.array_equal(np.asarray(lr), np.asarray(picture.crop((45, 35, 55, 45))))


def test_comparison_images_refuse_what_cannot_be_compared(tiny):
    x2 = SRResNet(n_blocks=1, n_channels=8, scaling_factor=2)
    with pytest.raises(ValueError, match="x2, not x4"):
        comparison_images(solid("red"), {"Bicubic": "bicubic", "x2": x2})
    with pytest.raises(ValueError, match="smaller than the scale"):
        comparison_images(solid("red", (3, 30)), {"Tiny": tiny})


def test_image_choices_offer_sets_on_disk_and_samples_without_downloading(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("SRGAN_DATA", str(tmp_path))
    choices = image_choices()  # an empty data directory: the samples only
    assert list(choices) == [f"{name} (scikit-image)" for name in DEMO_IMAGES]
    assert not list(tmp_path.iterdir())  # nothing was downloaded
    assert choices["coffee (scikit-image)"]().size == demo_image("coffee").size
    (tmp_path / "Set5").mkdir()
    solid("red").save(tmp_path / "Set5" / "b.png")
    solid("blue").save(tmp_path / "Set5" / "a.png")
    choices = image_choices()
    assert list(choices)[:3] == ["Set5/a.png", "Set5/b.png", "astronaut (scikit-image)"]
    assert choices["Set5/a.png"]().getpixel((0, 0)) == (0, 0, 255)
    assert list(image_choices(sets=["Set5", "NoSuchSet"]))[:2] == ["Set5/a.png", "Set5/b.png"]


def rgb(name):
    return ImageColor.getrgb(name)


@pytest.fixture
def view():
    images = {name: solid(name) for name in ("red", "green", "blue")}
    return ComparisonView(images, region=8)


def test_view_wipes_between_the_chosen_images(view):
    assert (view.left.value, view.right.value, view.position.value) == ("red", "blue", 50)
    shown = decoded(view.picture.value)
    assert shown.size == (40, 30)
    assert shown.getpixel((5, 2)) == rgb("red") and shown.getpixel((35, 2)) == rgb("blue")
    assert shown.getpixel((20, 2)) == (255, 255, 255)  # the divide
    view.position.value = 25  # what dragging the slider does
    shown = decoded(view.picture.value)
    assert shown.getpixel((5, 2)) == rgb("red") and shown.getpixel((15, 2)) == rgb("blue")
    view.left.value = "green"
    assert decoded(view.picture.value).getpixel((5, 2)) == rgb("green")
    assert np.array_equal(np.asarray(decoded(view.picture.value)),
                          np.asarray(view.draw()[0]))


def test_view_closeup_shows_the_region_of_both_images_enlarged(view):
    assert view.box() == (16, 11, 24, 19)
    outlined = decoded(view.picture.value)
    assert outlined.getpixel((15, 15)) == (255, 215, 0)  # the outline, around the region
    assert outlined.getpixel((16, 15)) != (255, 215, 0)
    closeup = decoded(view.closeup.value)
    assert closeup.size == (2 * 8 * 4 + 4, 8 * 4)
    assert closeup.getpixel((0, 0)) == rgb("red") and closeup.getpixel((36, 0)) == rgb("blue")
    assert closeup.getpixel((33, 0)) == (255, 255, 255)  # the gap between the two
    view.zoom.value = 2
    view.x.value = 0  # the region stays inside the images
    assert decoded(view.closeup.value).size == (36, 16) and view.box() == (0, 11, 8, 19)
    assert "x2" in view.caption.value and "<b>red</b>" in view.caption.value


def test_view_takes_new_images(view):
    view.left.value, view.x.value = "green", 5
    view.set_images({name: solid(name) for name in ("green", "blue")})
    assert view.left.options == ("green", "blue") and view.left.value == "green"
    assert view.x.value == 5  # same size: the region stays
    view.set_images({name: solid(name, (60, 50)) for name in ("red", "blue")})
    assert (view.left.value, view.right.value) == ("red", "blue")
    assert (view.x.value, view.y.value, view.x.max) == (30, 25, 59)
    assert decoded(view.picture.value).size == (60, 50)
    with pytest.raises(ValueError, match="one size"):
        view.set_images({"red": solid("red"), "blue": solid("blue", (10, 10))})
    with pytest.raises(ValueError, match="unknown image 'HR'"):
        view.set_images({"red": solid("red")}, right="HR")


def png_bytes(img):
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def upload(name, content):
    return ({"name": name, "type": "image/png", "size": len(content),
             "content": memoryview(content),
             "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)


@pytest.fixture
def app(tiny):
    choices = {"coffee": lambda: demo_image("coffee").resize((48, 32)),
               "red": lambda: solid("red", (40, 40))}
    return ComparisonApp({"Bicubic": "bicubic", "Tiny": tiny}, choices, max_lr=6)


def test_app_compares_the_chosen_picture_with_its_truth(app):
    assert app.choice.value == "coffee"
    assert list(app.view.images) == ["Bicubic", "Tiny", "HR"]
    assert (app.view.left.value, app.view.right.value) == ("Bicubic", "Tiny")
    assert app.view.images["HR"].size == (24, 24)  # the centre, max_lr * scale
    assert "treated as the HR truth" in app.status.value
    assert "a 6x6 input" in app.status.value and "Only its centre, 24x24" in app.status.value
    app.choice.value = "red"
    assert app.view.images["HR"].getpixel((0, 0)) == rgb("red")
    app.truth.value = False
    assert list(app.view.images) == ["Bicubic", "Tiny"]
    assert app.view.images["Tiny"].size == (24, 24)
    assert "upscaled as given, 6x6 to 24x24" in app.status.value
    assert "no HR truth" in app.status.value


# An upload's value as ipywidgets 8 gives it; tests/test_app.py covers 7.7.1 (Colab's) too.
needs_ipywidgets_8 = pytest.mark.skipif(
    __import__("ipywidgets").__version__.startswith("7."),
    reason="an ipywidgets 8 upload value (tests/test_app.py covers 7.7.1)")


@needs_ipywidgets_8
def test_app_takes_an_uploaded_picture(app):
    app.upload.value = upload("mine.png", png_bytes(solid("green", (16, 12))))
    assert app.choice.value == "your image: mine.png"
    assert "your image: mine.png" in app.choice.options and "coffee" in app.choice.options
    assert app.view.images["HR"].getpixel((0, 0)) == rgb("green")
    assert app.view.images["HR"].size == (16, 12)  # smaller than max_lr * scale: whole
    assert "Only its centre" not in app.status.value
    assert app.upload.value == ()  # cleared, so the same file can come again


@needs_ipywidgets_8
def test_app_explains_a_file_that_is_not_an_image(app):
    app.upload.value = upload("notes.png", b"not a picture")
    assert app.choice.value == "coffee"  # nothing changed but the status line
    assert "notes.png: not an image Pillow can read" in app.status.value
    assert "/tmp" not in app.status.value and tempfile.gettempdir() not in app.status.value


def test_app_and_view_display_as_their_widgets(app, displayed):
    for shown, widget in ((displayed(app), app.widget), (displayed(app.view), app.view.widget)):
        view = shown[0]["application/vnd.jupyter.widget-view+json"]
        assert view["model_id"] == widget.model_id
    assert app.view.widget in app.widget.children
