"""The live comparison for Jupyter and Colab (ipywidgets): ``ComparisonView`` and
``ComparisonApp``.

They are the kernel-backed twins of ``slider.slider_html``: the wipe and its close-up are
drawn in Python, so they need a running kernel, and in exchange can recompute anything,
such as a new picture uploaded by the reader. ipywidgets is imported only when one is
built, so the library itself does not need it.
"""

import html
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from .errors import SRGANError
from .images import load_image
from .slider import _png
from .viz import comparison_images, image_choices

__all__ = ["ComparisonView", "ComparisonApp"]


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

    Explained in: book/10_evaluation_and_upscaling.ipynb
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

    def _ipython_display_(self):
        # A cell ending in the app shows its widget. ipywidgets 8 widgets have
        # _repr_mimebundle_, 7.7.1's (Colab's) only _ipython_display_: display() takes either.
        from IPython.display import display

        display(self.widget)

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


def _uploaded_files(value):
    """The files of a ``FileUpload`` value as ``[(name, bytes)]``, in ipywidgets 7 or 8.

    ipywidgets 8 (Jupyter, this book's requirements) gives a tuple of dicts with ``name``
    and ``content`` (a memoryview); ipywidgets 7 (Colab keeps 7.7.1) gives a dict
    ``{name: {"metadata": {...}, "content": bytes}}``.
    """
    if isinstance(value, dict):  # ipywidgets 7
        return [(name, bytes(file["content"])) for name, file in value.items()]
    return [(file["name"], bytes(file["content"])) for file in value]


def _clear_upload(upload):
    """Empty a ``FileUpload`` so that the same file can be uploaded again, in ipywidgets 7
    or 8 (8 takes ``()``; 7's value is a read-only dict, rebuilt from two lists when the
    browser's upload counter changes).
    """
    if isinstance(upload.value, dict):  # ipywidgets 7: a read-only value built from these
        upload.metadata, upload.data = [], []
        upload.set_trait("value", {})
        upload._counter = 0  # uploads counted by the browser; the next one makes it 1
    else:
        upload.value = ()


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

    Explained in: book/10_evaluation_and_upscaling.ipynb
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

    def _ipython_display_(self):
        # A cell ending in the app shows its widget. ipywidgets 8 widgets have
        # _repr_mimebundle_, 7.7.1's (Colab's) only _ipython_display_: display() takes either.
        from IPython.display import display

        display(self.widget)

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
            text += (f"treated as the HR truth, downscaled with Pillow's bicubic to a "
                     f"{lw}x{lh} input, then upscaled to {lw * s}x{lh * s} by each method")
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
        files = _uploaded_files(change["new"])
        for name, content in files:
            try:
                img = _decode_upload(name, content)
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
        if files:
            _clear_upload(self.upload)  # the same file can be uploaded again
