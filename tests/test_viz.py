"""The comparison views: the static slider's HTML and the crop grid."""

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from srgan_lib.viz import crop_grid, png_data_uri, slider_html


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
