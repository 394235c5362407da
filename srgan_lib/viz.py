"""Comparing images: what a comparison compares, and figures of it for print.

``comparison_images`` makes what every view compares: from one picture, the LR input and
what bicubic and each model make of it (plus the HR truth when the picture is treated as
one), all the same size. ``image_choices`` lists the pictures available without a download,
and ``crop_grid`` shows one region of every image side by side, enlarged.

The two other views live apart: the self-contained before/after slider of the web book in
``slider``, and the live ipywidgets app for Jupyter and Colab in ``app``.
"""

import functools

import numpy as np

from .data import DEMO_IMAGES, demo_image
from .errors import SRGANError
from .images import crop_to_multiple, downscale, load_image
from .sources import SOURCES, find_dataset, list_images
from .upscale import model_scale, upscale_image

__all__ = ["crop_grid", "comparison_images", "image_choices"]


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
