"""Comparing images: the images to compare, a before/after slider that works in a static web
page, crop grids for print, and a live view for Jupyter and Colab.

``comparison_images`` makes what every view compares: from one picture, the LR input and
what bicubic and each model make of it (plus the HR truth when the picture is treated as
one), all the same size.

``slider_html`` returns one self-contained piece of HTML: both images embedded as PNG data
URIs, inline CSS, a few lines of plain JavaScript, no library and no network. So it works
in a live notebook, in Colab, and in the rendered book read offline, where ipywidgets would
need a kernel and a CDN.

Where scripts are stripped (GitHub's notebook viewer, an untrusted notebook), the same
markup still works: the top image sits in a box that CSS lets the reader resize by its
corner (``resize: horizontal``). When the script runs it swaps that for a range input that
moves the divide, drags with the mouse or a finger, and responds to the arrow keys.

The element id is derived from the images, labels and zoom, so the same inputs give the
same HTML (nbval compares it), and two sliders on one page never clash.

``ComparisonView`` and ``ComparisonApp`` are the kernel-backed views (ipywidgets): the wipe
and its close-up are drawn in Python, so they need a running kernel, and in exchange can
recompute anything, such as a new image uploaded by the reader. ipywidgets is imported only
when one is built, so the library itself does not need it.
"""

import base64
import functools
import hashlib
import html
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .data import DEMO_IMAGES, demo_image
from .errors import SRGANError
from .images import crop_to_multiple, downscale, load_image
from .sources import SOURCES, find_dataset, list_images
from .upscale import model_scale, upscale_image

__all__ = ["png_data_uri", "slider_html", "crop_grid", "comparison_images", "image_choices",
           "ComparisonView", "ComparisonApp"]


def png_data_uri(img):
    """A PIL image as a ``data:image/png;base64,...`` URI (lossless, self-contained).

    Explained in: book/08_comparison.ipynb
    """
    return "data:image/png;base64," + base64.b64encode(_png(img, 6)).decode("ascii")


_STYLE = """
#{id} {{position: relative; display: inline-block; max-width: 100%; line-height: 0;
  user-select: none; touch-action: none; font-family: sans-serif;}}
#{id} img {{display: block; max-width: 100%; height: auto; image-rendering: {rendering};}}
#{id} .srgan-top {{position: absolute; top: 0; left: 0; height: 100%; width: 50%;
  overflow: hidden; resize: horizontal; border-right: 2px solid #fff;
  box-shadow: 1px 0 0 rgba(0,0,0,.5); min-width: 8px; max-width: 100%;}}
#{id} .srgan-top img {{max-width: none; height: 100%; width: auto;}}
#{id} .srgan-label {{position: absolute; top: 6px; padding: 3px 6px; line-height: 1.2;
  font-size: 13px; color: #fff; background: rgba(0,0,0,.55); border-radius: 3px;}}
#{id} .srgan-range {{display: none;}}
#{id}.srgan-js .srgan-top {{resize: none; border: 0; box-shadow: none;
  clip-path: inset(0 50% 0 0);}}
#{id}.srgan-js .srgan-top img {{height: 100%; width: 100%;}}
#{id}.srgan-js .srgan-handle {{position: absolute; top: 0; bottom: 0; left: 50%; width: 2px;
  margin-left: -1px; background: #fff; box-shadow: 0 0 0 1px rgba(0,0,0,.4);
  pointer-events: none;}}
#{id}.srgan-js .srgan-range {{display: block; position: absolute; inset: 0; width: 100%;
  height: 100%; margin: 0; opacity: 0; cursor: ew-resize;}}
"""

_SCRIPT = """
(function () {{
  var root = document.getElementById("{id}");
  if (!root) return;
  root.classList.add("srgan-js");
  var top = root.querySelector(".srgan-top"), handle = root.querySelector(".srgan-handle"),
      range = root.querySelector(".srgan-range");
  top.style.width = "100%";  // the top image now spans the width; the clip sets the divide
  function set(value) {{
    var v = Math.max(0, Math.min(100, Number(value)));
    top.style.clipPath = "inset(0 " + (100 - v) + "% 0 0)";
    handle.style.left = v + "%";
    root.setAttribute("data-position", v.toFixed(1));
  }}
  range.addEventListener("input", function () {{ set(range.value); }});
  set(range.value);
}})();
"""


def slider_html(before, after, labels=("before", "after"), position=50, zoom=1):
    """A before/after comparison slider as self-contained HTML.

    ``before`` shows on the left of the divide, ``after`` on the right; both are scaled to
    the same displayed size, so pass images of the same size (e.g. bicubic and SR outputs
    of one LR image, or crops of them).

    Args:
        before (PIL.Image): the left image (e.g. bicubic).
        after (PIL.Image): the right image (e.g. SRGAN).
        labels (tuple[str, str]): captions shown on each side.
        position (float): where the divide starts, in percent of the width.
        zoom (int): display the images this many times larger, each pixel a sharp square
            (CSS ``image-rendering: pixelated``): a small crop, enlarged, shows what a
            method did to single pixels, and its PNGs stay small.

    Returns:
        str: HTML (display it with ``IPython.display.HTML``).

    Raises:
        ValueError: the images differ in size, or ``zoom`` is below 1.

    Explained in: book/08_comparison.ipynb
    """
    if before.size != after.size:
        raise ValueError(f"the images differ in size: {before.size} vs {after.size}")
    if zoom < 1:
        raise ValueError(f"zoom must be at least 1, got {zoom}")
    uri_before, uri_after = png_data_uri(before), png_data_uri(after)
    key = uri_before + uri_after + "|".join(labels) + f"|{zoom}"
    element = f"srgan-slider-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    left, right = (html.escape(str(label)) for label in labels)
    w, h = after.size[0] * zoom, after.size[1] * zoom
    rendering = "pixelated" if zoom > 1 else "auto"
    return (
        f'<div id="{element}" class="srgan-slider" data-position="{position:.1f}">'
        f"<style>{_STYLE.format(id=element, rendering=rendering)}</style>"
        f'<img src="{uri_after}" width="{w}" height="{h}" alt="{right}">'
        f'<div class="srgan-top" style="width: {position}%">'
        f'<img src="{uri_before}" width="{w}" height="{h}" alt="{left}"></div>'
        f'<span class="srgan-label" style="left: 6px">{left}</span>'
        f'<span class="srgan-label" style="right: 6px">{right}</span>'
        f'<div class="srgan-handle"></div>'
        f'<input class="srgan-range" type="range" min="0" max="100" step="0.1" '
        f'value="{position}" aria-label="divide between {left} and {right}">'
        f"<script>{_SCRIPT.format(id=element)}</script></div>")


def crop_grid(images, box, zoom=2, size=2.6):
    """The same region of several images side by side, enlarged: the print-friendly view.

    Args:
        images (dict[str, PIL.Image]): title -> image; all of the same size.
        box (tuple[int, int, int, int]): the region (left, top, right, bottom), in pixels.
        zoom (int): enlargement of the crops, with nearest-neighbour (pixels stay visible).
        size (float): inches per panel.

    Returns:
        matplotlib.figure.Figure

    Explained in: book/08_comparison.ipynb
    """
    from .book import show_images

    sizes = {img.size for img in images.values()}
    if len(sizes) != 1:
        raise ValueError(f"the images differ in size: {sorted(sizes)}")
    crops = [np.asarray(img.crop(box)).repeat(zoom, 0).repeat(zoom, 1)
             for img in images.values()]
    return show_images(crops, list(images), size=size)


def _centre_crop(img, side):
    """The centre of ``img``, at most ``side`` pixels on each side (``img`` if it fits)."""
    w, h = img.size
    cw, ch = min(w, side), min(h, side)
    if (cw, ch) == (w, h):
        return img
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def comparison_images(img, models, scale=4, truth=True, max_lr=None):
    """What a comparison compares: from one picture, the LR input and what bicubic and each
    model make of it, all the same size.

    With ``truth`` (the default) ``img`` is treated as the HR image, the way the evaluation
    treats it: cropped to a multiple of ``scale``, then downscaled with ``images.downscale``
    to make the LR input. ``'HR'`` is then among the results, so any method can be set
    against the truth. Without it, ``img`` *is* the input, upscaled as given (your own
    photo, at its own size): there is no truth to show, only the methods.

    Args:
        img (PIL.Image): the picture (converted to RGB; an alpha channel is dropped).
        models (dict[str, nn.Module | str]): name -> an ``SRResNet`` / ``Generator`` or
            ``'bicubic'``, e.g. ``{"Bicubic": "bicubic", "SRGAN": resolve_model("srgan")}``.
        scale (int): the upscaling factor; every model must have it.
        truth (bool): ``img`` is the HR image (downscale it first), not the input.
        max_lr (int | None): the largest side of the LR input; a larger one is
            centre-cropped (not resized, which would change what the networks see).
            ``None``: no limit.

    Returns:
        tuple[PIL.Image, dict[str, PIL.Image]]: the LR input, and name -> image, each
        ``scale`` times the input's size: one per model, in the order given, then
        ``'HR'`` if ``truth``.

    Raises:
        ValueError: a model of another scale, or a picture smaller than ``scale``.

    Explained in: book/08_comparison.ipynb
    """
    img = img.convert("RGB")
    if max_lr is not None:
        img = _centre_crop(img, max_lr * scale if truth else max_lr)
    if truth:
        if min(img.size) < scale:
            raise ValueError(f"a {img.size[0]}x{img.size[1]} picture is smaller than the "
                             f"scale {scale}: there is no LR image to make from it")
        hr = crop_to_multiple(img, scale)
        lr = downscale(hr, scale)
    else:
        lr = img
    images = {}
    for name, model in models.items():
        if not isinstance(model, str) and model_scale(model) != scale:
            raise ValueError(f"{name} upscales x{model_scale(model)}, not x{scale}")
        images[name] = upscale_image(model, lr, scale=scale)
    if truth:
        images["HR"] = hr
    return lr, images


def image_choices(sets=None):
    """Pictures to compare on, by label: images of the sets in the data directory, then
    scikit-image's samples. Nothing is downloaded: a set that is not on disk is left out.

    Args:
        sets (Iterable[str] | None): set names (see ``sources.find_dataset``); ``None``: the
            registered evaluation sets (images no model was trained on).

    Returns:
        dict[str, Callable[[], PIL.Image]]: label (``'Set14/baboon.png'``,
        ``'astronaut (scikit-image)'``) -> a function that reads the picture, so that
        listing many choices reads none of them.

    Explained in: book/08_comparison.ipynb
    """
    if sets is None:
        sets = [name for name, source in SOURCES.items() if source.split == "eval"]
    choices = {}
    for name in sets:
        try:
            folder = find_dataset(name, download=False)
        except SRGANError:
            continue  # not in the data directory: offered only where it is
        for path in list_images(folder):
            choices[f"{name}/{path.name}"] = functools.partial(load_image, path)
    for name in DEMO_IMAGES:
        choices[f"{name} (scikit-image)"] = functools.partial(demo_image, name)
    return choices


def _png(img, compress_level=1):
    """PNG bytes of a PIL image; light compression by default, as a live view re-sends them
    on every change."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


class ComparisonView:
    """A live wipe between two of several images, and a close-up of one region (ipywidgets).

    The kernel-backed twin of ``slider_html``: choose the image left of the divide and the
    one right of it, move the divide, and pick a square region, which is shown from both
    images side by side, enlarged pixel for pixel. The pictures are drawn in Python
    (``draw``), so the view needs a running kernel. Every control is a widget attribute,
    so code can set what a reader would drag.

    Args:
        images (dict[str, PIL.Image]): name -> image, all the same size (as
            ``comparison_images`` returns them).
        left (str | None): the image left of the divide (default: the first).
        right (str | None): the image right of it (default: the last).
        region (int): side of the close-up's square region, in pixels of the images.

    Attributes:
        left, right (ipywidgets.Dropdown): the two images compared.
        position (ipywidgets.IntSlider): the divide, in percent of the width.
        x, y (ipywidgets.IntSlider): the centre of the close-up's region.
        zoom (ipywidgets.Dropdown): the close-up's enlargement.
        picture, closeup (ipywidgets.Image): what is shown (PNG).
        caption (ipywidgets.HTML): what the close-up shows, in words.
        widget (ipywidgets.VBox): all of them; a notebook displays the view as this.

    Raises:
        ValueError: no images, images of different sizes, or an unknown name.

    Explained in: book/08_comparison.ipynb
    """

    def __init__(self, images, left=None, right=None, region=64):
        import ipywidgets as widgets

        self.region = region
        self._quiet = False
        self.left = widgets.Dropdown(description="left")
        self.right = widgets.Dropdown(description="right")
        self.position = widgets.IntSlider(50, 0, 100, description="divide (%)",
                                          continuous_update=False)
        self.x = widgets.IntSlider(description="region x", continuous_update=False)
        self.y = widgets.IntSlider(description="region y", continuous_update=False)
        self.zoom = widgets.Dropdown(options=[2, 3, 4, 6, 8], value=4, description="zoom")
        self.picture = widgets.Image(format="png")
        self.closeup = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.set_images(images, left, right)
        for control in (self.left, self.right, self.position, self.x, self.y, self.zoom):
            control.observe(self._changed, "value")
        self.widget = widgets.VBox([
            widgets.HBox([self.left, self.right]), self.position, self.picture,
            widgets.HBox([self.x, self.y, self.zoom]), self.closeup, self.caption])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def set_images(self, images, left=None, right=None):
        """Show other images (a new picture): the two names compared stay where they
        exist, and the region stays put unless the size changed (then it is centred).

        Args:
            images (dict[str, PIL.Image]): name -> image, all the same size.
            left, right (str | None): the names to compare (default: those compared
                before, where they exist, else the first and the last).
        """
        names = list(images)
        sizes = {img.size for img in images.values()}
        if not names or len(sizes) != 1:
            raise ValueError(f"give images of one size, got {sorted(sizes)}")
        keep = (self.left.value, self.right.value)
        left = left or (keep[0] if keep[0] in images else names[0])
        right = right or (keep[1] if keep[1] in images else names[-1])
        for name in (left, right):
            if name not in images:
                raise ValueError(f"unknown image {name!r}; the images are {names}")
        (w, h), = sizes
        resized = getattr(self, "size", None) != (w, h)
        self.images, self.size = dict(images), (w, h)
        self._quiet = True  # one redraw at the end, not one per control changed
        try:
            self.left.options, self.right.options = names, names
            self.left.value, self.right.value = left, right
            self.x.max, self.y.max = w - 1, h - 1
            if resized:
                self.x.value, self.y.value = w // 2, h // 2
        finally:
            self._quiet = False
        self.redraw()

    def _changed(self, change):
        if not self._quiet:
            self.redraw()

    def box(self):
        """The close-up's region, ``(left, top, right, bottom)``, kept inside the images."""
        w, h = self.size
        side = min(self.region, w, h)
        left = min(max(self.x.value - side // 2, 0), w - side)
        top = min(max(self.y.value - side // 2, 0), h - side)
        return left, top, left + side, top + side

    def draw(self):
        """The two pictures the view shows, as PIL images.

        Returns:
            tuple[PIL.Image, PIL.Image]: the wipe (the left image up to the divide, the
            right one after it, a white line at the divide, the region outlined in yellow;
            lines one pixel wide per 200 pixels of the images, so they survive shrinking)
            and the close-up (the region of the left image, then of the right one, each
            enlarged ``zoom`` times with nearest neighbour, so pixels stay visible).
        """
        a, b = self.images[self.left.value], self.images[self.right.value]
        w, h = a.size
        cut = round(w * self.position.value / 100)
        wipe = b.copy()
        wipe.paste(a.crop((0, 0, cut, h)), (0, 0))
        pen, line = ImageDraw.Draw(wipe), max(1, min(w, h) // 200)  # visible when shrunk
        if 0 < cut < w:
            pen.line([(cut, 0), (cut, h - 1)], fill=(255, 255, 255), width=line)
        x0, y0, x1, y1 = self.box()
        pen.rectangle((x0 - line, y0 - line, x1 - 1 + line, y1 - 1 + line),
                      outline=(255, 215, 0), width=line)  # around the region, not on it
        z, side, gap = self.zoom.value, x1 - x0, 4
        closeup = Image.new("RGB", (2 * side * z + gap, side * z), (255, 255, 255))
        for i, img in enumerate((a, b)):
            crop = img.crop((x0, y0, x1, y1)).resize((side * z, side * z),
                                                     Image.Resampling.NEAREST)
            closeup.paste(crop, (i * (side * z + gap), 0))
        return wipe, closeup

    def redraw(self):
        """Draw the pictures again and send them to the browser (``draw``, then PNG)."""
        wipe, closeup = self.draw()
        self.picture.value, self.closeup.value = _png(wipe), _png(closeup)
        x0, y0, x1, y1 = self.box()
        self.caption.value = (
            f"close-up x{self.zoom.value}: <b>{html.escape(self.left.value)}</b> | "
            f"<b>{html.escape(self.right.value)}</b>, the {x1 - x0}x{y1 - y0} pixels "
            f"at ({x0}, {y0}) outlined in yellow")


def _decode_upload(name, content):
    """An uploaded file's bytes as an image, read by ``load_image`` like any file on disk."""
    filename = Path(name).name or "upload"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        try:
            return load_image(path)
        except SRGANError as err:
            raise SRGANError(str(err).replace(str(path), filename)) from None


class ComparisonApp:
    """The live comparison: choose a picture (an image of the sets in the data directory, a
    scikit-image sample, or a file of your own), and see what bicubic and each model make
    of it in a ``ComparisonView``.

    Two ways to treat the picture (the ``truth`` buttons): as the HR truth, downscaled to
    make the input (what the paper's evaluation does; the truth is then one of the
    images), or as the input itself, upscaled as given (what you want for your own photo;
    there is no truth then). Inputs larger than ``max_lr`` are centre-cropped, and the
    status line says so: ``python -m srgan_lib upscale`` does whole images, in tiles.

    Args:
        models (dict[str, nn.Module | str]): name -> model, as for ``comparison_images``.
        choices (dict[str, Callable[[], PIL.Image]] | None): label -> a function that
            reads the picture; ``image_choices()`` if ``None``.
        value (str | None): the label to start with (default: the first).
        scale (int): the models' upscaling factor.
        max_lr (int | None): the largest side of the LR input, so that a change takes
            seconds on a CPU; ``None``: whole images.

    Attributes:
        choice (ipywidgets.Dropdown): the picture.
        upload (ipywidgets.FileUpload): a file of your own; it joins ``choice``.
        truth (ipywidgets.ToggleButtons): picture as HR truth (True) or as input (False).
        status (ipywidgets.HTML): what was done with the picture, or what went wrong.
        view (ComparisonView): the wipe and the close-up.
        widget (ipywidgets.VBox): all of them; a notebook displays the app as this.

    Explained in: book/08_comparison.ipynb
    """

    def __init__(self, models, choices=None, value=None, scale=4, max_lr=128):
        import ipywidgets as widgets

        self.models, self.scale, self.max_lr = dict(models), scale, max_lr
        self.choices = dict(image_choices() if choices is None else choices)
        self.choice = widgets.Dropdown(options=list(self.choices), description="picture")
        if value is not None:
            self.choice.value = value
        self.upload = widgets.FileUpload(accept="image/*", multiple=False,
                                         description="your image")
        self.truth = widgets.ToggleButtons(
            options=[("downscale it first, compare with it", True),
                     ("upscale it as given", False)], value=True)
        self.truth.style.button_width = "auto"
        self.status = widgets.HTML()
        self.view = None
        self._quiet = False
        self.refresh()
        self.choice.observe(self._changed, "value")
        self.truth.observe(self._changed, "value")
        self.upload.observe(self._uploaded, "value")
        self.widget = widgets.VBox([widgets.HBox([self.choice, self.upload]), self.truth,
                                    self.status, self.view.widget])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _changed(self, change):
        if not self._quiet:
            self.refresh()

    def refresh(self):
        """Read the chosen picture, make the images to compare, and show them."""
        label = self.choice.value
        self.status.value = f"<b>{html.escape(label)}</b>: working..."
        try:
            img = self.choices[label]()
            lr, images = comparison_images(img, self.models, self.scale,
                                           truth=self.truth.value, max_lr=self.max_lr)
        except (SRGANError, ValueError) as err:
            if self.view is None:  # nothing to show yet: the caller must hear of it
                raise
            self.status.value = f"<b>{html.escape(label)}</b>: {html.escape(str(err))}"
            return
        names = [name for name in images if name != "HR"]
        if self.view is None:
            self.view = ComparisonView(images, left=names[0], right=names[-1])
        else:
            self.view.set_images(images)
        self.status.value = self.describe(label, img, lr)

    def describe(self, label, img, lr):
        """The status line: what was done with the picture, in words.

        Args:
            label (str): the picture's label.
            img (PIL.Image): the picture as read.
            lr (PIL.Image): the LR input the methods were given.

        Returns:
            str: HTML.
        """
        (w, h), (lw, lh), s = img.size, lr.size, self.scale
        text = f"<b>{html.escape(label)}</b> ({w}x{h}): "
        if self.truth.value:
            text += (f"treated as the HR truth, downscaled with Pillow's bicubic to a {lw}x{lh} "
                     f"input, then upscaled to {lw * s}x{lh * s} by each method")
            limit = None if self.max_lr is None else self.max_lr * s
        else:
            text += (f"upscaled as given, {lw}x{lh} to {lw * s}x{lh * s}; "
                     "there is no HR truth to compare with")
            limit = self.max_lr
        if limit is not None and max(w, h) > limit:
            cw, ch = (lw * s, lh * s) if self.truth.value else (lw, lh)
            text += (f". Only its centre, {cw}x{ch}, is used here, to keep this view quick; "
                     "<code>python -m srgan_lib upscale</code> does whole images")
        return text + "."

    def _uploaded(self, change):
        for file in change["new"]:
            name = file["name"]
            try:
                img = _decode_upload(name, bytes(file["content"]))
            except SRGANError as err:
                self.status.value = html.escape(str(err))
                continue
            label = f"your image: {Path(name).name}"
            self.choices[label] = lambda picture=img: picture
            self._quiet = True  # new options reset the dropdown: refresh once, at the end
            try:
                self.choice.options = list(self.choices)
                self.choice.value = label
            finally:
                self._quiet = False
            self.refresh()
        if change["new"]:
            self.upload.value = ()  # the same file can be uploaded again
