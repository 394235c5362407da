"""Images: one way to read them from disk, one way to write them, one way to convert them.

Every range bug in SRGAN projects (green tints, washed-out outputs, a PSNR 20 dB too low)
comes from an image being in one range while the code believes it is in another. So the
library has exactly one conversion function, ``convert_image``, and it speaks the
vocabulary of the reference tutorial (sgrvinod, 2020):

=================  ============================================================
``'pil'``          a ``PIL.Image`` in RGB, 8 bits per channel
``'[0, 255]'``     a float tensor, (3, H, W) or (N, 3, H, W), values in [0, 255]
``'[0, 1]'``       the same in [0, 1] (what ``torchvision`` calls a float image)
``'[-1, 1]'``      the generator's output (``tanh``) and the training targets
``'imagenet-norm'`` ``([0, 1] - mean) / std`` with ImageNet's statistics: what the
                   generator, the discriminator and VGG19 take in
``'y-channel'``    BT.601 luma ``16 + 65.481 R + 128.553 G + 24.966 B`` (R, G, B in
                   [0, 1]), values in [16, 235]: what PSNR and SSIM are measured on.
                   A target only: colour cannot be recovered from luma.
=================  ============================================================

Conversions go through ``[0, 1]``; converting to ``'pil'`` clamps and rounds, so an
out-of-range network output never wraps around (the classic cause of speckled pixels).
"""

import functools
import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import SRGANError
from .files import atomic_write

__all__ = ["FORMATS", "IMAGENET_MEAN", "IMAGENET_STD", "convert_image", "load_image",
           "check_output", "save_image", "crop_to_multiple", "downscale", "upscale_bicubic"]

FORMATS = ("pil", "[0, 255]", "[0, 1]", "[-1, 1]", "imagenet-norm", "y-channel")

# The statistics torchvision's ImageNet models (VGG19 among them) were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ITU-R BT.601 luma for RGB in [0, 1], scaled to [16, 235] (MATLAB's rgb2ycbcr, used by
# the SR literature for every published PSNR).
_Y_WEIGHTS = (65.481, 128.553, 24.966)
_Y_OFFSET = 16.0


def _channel_vector(values, like):
    """``values`` as a (3, 1, 1) tensor on ``like``'s device and dtype (broadcasts on NCHW too)."""
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(3, 1, 1)


def _check_channels(img, source):
    if not torch.is_tensor(img):
        raise TypeError(f"source {source!r} expects a torch.Tensor, got {type(img).__name__}")
    if img.dim() not in (3, 4) or img.shape[-3] != 3:
        raise ValueError(f"expected a (3, H, W) or (N, 3, H, W) tensor, got {tuple(img.shape)}")


def convert_image(img, source, target):
    """Convert an image between the formats of ``FORMATS``.

    Args:
        img (PIL.Image | torch.Tensor): the image; a tensor is (3, H, W) or (N, 3, H, W).
        source (str): the format ``img`` is in; any of ``FORMATS`` but ``'y-channel'``.
        target (str): the format wanted; any of ``FORMATS``.

    Returns:
        PIL.Image | torch.Tensor: a PIL RGB image for ``'pil'``; a float tensor of the same
        layout for the other targets, except ``'y-channel'`` which drops the channel axis
        ((H, W) or (N, H, W)). Tensors stay on their device.

    Raises:
        ValueError: an unknown format, ``'y-channel'`` as a source, or a batch to ``'pil'``.

    Explained in: book/01_sr_problem.ipynb
    """
    if source not in FORMATS or source == "y-channel":
        raise ValueError(f"source must be one of {FORMATS[:-1]}, got {source!r}")
    if target not in FORMATS:
        raise ValueError(f"target must be one of {FORMATS}, got {target!r}")

    # 1. Anything -> float [0, 1].
    if source == "pil":
        if not isinstance(img, Image.Image):
            raise TypeError(f"source 'pil' expects a PIL.Image, got {type(img).__name__}")
        array = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0  # (H, W, 3)
        x = torch.from_numpy(array).permute(2, 0, 1).contiguous()  # (3, H, W)
    else:
        _check_channels(img, source)
        img = img.float() if not img.is_floating_point() else img
        if source == "[0, 255]":
            x = img / 255.0
        elif source == "[0, 1]":
            x = img
        elif source == "[-1, 1]":
            x = (img + 1.0) / 2.0
        else:  # imagenet-norm
            x = img * _channel_vector(IMAGENET_STD, img) + _channel_vector(IMAGENET_MEAN, img)

    # 2. Float [0, 1] -> target.
    if target == "pil":
        if x.dim() == 4:
            raise ValueError("a batch cannot become one PIL image: convert img[i] instead")
        # Clamp *then* round: a tanh output of 1.0001 must become 255, not wrap to 0.
        x8 = (x.detach().clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return Image.fromarray(x8.permute(1, 2, 0).cpu().numpy(), mode="RGB")
    if target == "[0, 255]":
        return x * 255.0
    if target == "[0, 1]":
        return x
    if target == "[-1, 1]":
        return x * 2.0 - 1.0
    if target == "imagenet-norm":
        return (x - _channel_vector(IMAGENET_MEAN, x)) / _channel_vector(IMAGENET_STD, x)
    # y-channel: weighted sum over the channel axis, (..., 3, H, W) -> (..., H, W).
    weights = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x * weights).sum(dim=-3) + _Y_OFFSET


def _open_checked(path, allow_large, decode=True):
    """Open (and, with ``decode``, fully decode) ``path`` with Pillow, turning every failure
    into an SRGANError.

    One size limit, Pillow's ``Image.MAX_IMAGE_PIXELS``: an image above it is refused
    (Pillow itself only warns up to twice that and refuses beyond, which would quote two
    limits), unless ``allow_large``.
    """
    path = Path(path)
    if not path.exists():
        raise SRGANError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise SRGANError(f"{path}: is a directory, not an image file; name an image inside it")
    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if allow_large:
                Image.MAX_IMAGE_PIXELS = None  # the user said the image is trusted
            img = Image.open(path)
            if decode:
                img.load()  # decode now, so a truncated file fails here and not later
        return img
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SRGANError(f"{path}: larger than Pillow's decompression-bomb limit of "
                         f"{limit:,} pixels; if you trust the file, allow large images "
                         "(allow_large=True, or --allow-large on the command line)") from None
    except UnidentifiedImageError:
        raise SRGANError(f"{path}: not an image Pillow can read (is it really a "
                         f"{path.suffix or 'image'} file?); export it as PNG or JPEG") from None
    except PermissionError:
        raise SRGANError(f"{path}: not readable (no read permission); make the file "
                         "readable") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise SRGANError(f"{path}: the image data is truncated or corrupt ({err}); "
                         "re-download or re-export it") from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def load_image(path, allow_large=False, keep_alpha=False):
    """Read an image file as an 8-bit RGB ``PIL.Image``, whatever it was stored as.

    Handles what people's images really are: EXIF-rotated camera JPEGs (turned upright),
    palette and greyscale images (expanded to RGB), transparency (dropped: the networks see
    colour only, unless ``keep_alpha``) and 16-bit images (scaled to 8 bits, not clipped).

    Args:
        path (str | Path): the image file.
        allow_large (bool): lift Pillow's decompression-bomb guard, for trusted huge images.
        keep_alpha (bool): return ``'RGBA'`` for images with transparency (RGBA, LA, or a
            palette with a transparent colour), so a caller can treat alpha separately.

    Returns:
        PIL.Image: mode ``'RGB'`` (or ``'RGBA'``, see ``keep_alpha``), fully decoded (the
        file is closed).

    Raises:
        SRGANError: the file is missing, a directory, not an image, truncated or corrupt,
            unreadable, or too large; the message names the file and the fix.

    Explained in: book/11_data.ipynb
    """
    with _open_checked(path, allow_large) as img:
        img = ImageOps.exif_transpose(img)  # camera JPEGs store "rotate me" as a tag
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            # 16-bit greyscale: Pillow's convert('RGB') would clip at 255, so scale instead:
            # keep the high byte, as Pillow does for 16-bit colour and Chromium for both.
            array = np.asarray(img, dtype=np.int64) >> 8
            img = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L")
        elif img.mode == "P":
            # A palette may mark one colour transparent; resolve it before dropping it.
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        return img.convert("RGBA" if keep_alpha and has_alpha else "RGB")


@functools.cache
def _writable_extensions():
    """The file extensions Pillow can write an RGB image to, sorted (``.bmp``, ``.jpg``, ...).

    Pillow reads more formats than it writes (``.psd`` is read-only, ``.xbm`` holds only
    black and white), so an output name is checked against this list, not against every
    extension Pillow knows.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    return tuple(sorted(ext for ext, fmt in Image.registered_extensions().items()
                        if _holds(fmt, "RGB")))


def _holds(fmt, mode):
    """Whether Pillow can write a ``mode`` image (``'RGBA'``, ``'L'``, ...) as ``fmt``."""
    try:
        with warnings.catch_warnings():  # some formats warn that they are deprecated
            warnings.simplefilter("ignore")
            Image.new(mode, (1, 1)).save(io.BytesIO(), format=fmt)
    except (OSError, KeyError, ValueError, TypeError):
        return False
    return True


def check_output(path, overwrite=False, mode=None):
    """Check, before any work is done, that an image can be written to ``path``.

    Args:
        path (str | Path): the output file.
        overwrite (bool): whether an existing file may be replaced.
        mode (str | None): the mode of the image to be written (``'RGBA'``, ``'L'``,
            ...): the format must hold it (JPEG has no alpha); ``None``: not checked.

    Returns:
        str: Pillow's format name for the extension (``'PNG'``, ``'JPEG'``, ...).

    Raises:
        SRGANError: ``path`` exists and ``overwrite`` is false, the extension is not one
            Pillow writes, the format cannot hold ``mode``, or the folder is missing or
            not writable.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise SRGANError(f"{path}: already exists; choose another name or allow overwriting "
                         "(--force on the command line)")
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None or path.suffix.lower() not in _writable_extensions():
        what = "unknown image extension" if fmt is None else "Pillow cannot write images as"
        # The common ones, not Pillow's whole list: that grows with each Pillow release.
        raise SRGANError(f"{path}: {what} {path.suffix!r}; use .png (it keeps everything), "
                         ".jpg, .webp, .tiff or another format Pillow can write")
    if mode is not None and not _holds(fmt, mode):
        holds = "transparency" if mode in ("RGBA", "LA") else f"{mode} images"
        raise SRGANError(f"{path}: {fmt} cannot hold {holds}; write .png (or .webp, "
                         ".tiff) instead")
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        why = "no such folder" if not folder.is_dir() else "not writable"
        raise SRGANError(f"{path}: cannot write to {folder} ({why}); choose a writable folder")
    return fmt


def save_image(img, path, overwrite=False):
    """Write a ``PIL.Image`` atomically: a reader never sees a half-written file.

    The image goes to a temporary file in the same folder, which is renamed over ``path``
    only once complete, so an error or a kill leaves either the old file or nothing.
    The format follows the extension (``.png``, ``.jpg``, ``.webp``, ...).

    Args:
        img (PIL.Image): the image.
        path (str | Path): where to write it.
        overwrite (bool): replace an existing file; refused otherwise.

    Raises:
        SRGANError: ``path`` exists and ``overwrite`` is false, the extension is unknown,
            or the folder is not writable.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    fmt = check_output(path, overwrite)
    try:
        with atomic_write(path) as f:
            img.save(f, format=fmt)
    except (FileNotFoundError, PermissionError, IsADirectoryError) as err:
        why = "not writable" if isinstance(err, PermissionError) else err.strerror
        raise SRGANError(f"{path}: cannot write to {path.parent} ({why}); "
                         "choose a writable folder") from None


def crop_to_multiple(img, scale):
    """The largest centre crop of ``img`` whose width and height are multiples of ``scale``.

    The paper's evaluation protocol (and the reference tutorial's): an HR image must be
    an exact ``scale`` times its LR image, so the few leftover rows and columns are cut,
    half on each side.

    Args:
        img (PIL.Image): the HR image.
        scale (int): the upscaling factor.

    Returns:
        PIL.Image: the crop (``img`` itself when nothing needs cutting).

    Explained in: book/01_sr_problem.ipynb
    """
    w, h = img.size
    dw, dh = w % scale, h % scale
    if dw == 0 and dh == 0:
        return img
    if w < scale or h < scale:
        raise SRGANError(f"a {w}x{h} image is smaller than the scale {scale}")
    left, top = dw // 2, dh // 2
    return img.crop((left, top, left + w - dw, top + h - dh))


def downscale(hr, scale):
    """Make the LR image of an HR image: Pillow's bicubic, which antialiases when shrinking.

    This is the degradation the paper assumes ("bicubic kernel with downsampling factor
    r", Section 2), and the one function both the training data and the metrics use, so
    that a model is tested on the same kind of LR image it was trained on.

    Args:
        hr (PIL.Image): HR image whose sides are multiples of ``scale``
            (see ``crop_to_multiple``).
        scale (int): the downscaling factor.

    Returns:
        PIL.Image: the LR image, ``scale`` times smaller on each side.

    Explained in: book/01_sr_problem.ipynb
    """
    w, h = hr.size
    if w % scale or h % scale:
        raise ValueError(f"{w}x{h} is not divisible by {scale}: use crop_to_multiple first")
    return hr.resize((w // scale, h // scale), Image.Resampling.BICUBIC)


def upscale_bicubic(lr, scale):
    """The bicubic baseline: ``lr`` made ``scale`` times larger with Pillow's bicubic.

    Explained in: book/01_sr_problem.ipynb
    """
    w, h = lr.size
    return lr.resize((w * scale, h * scale), Image.Resampling.BICUBIC)
