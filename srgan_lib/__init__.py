"""srgan_lib: SRResNet and SRGAN (Ledig et al., CVPR 2017) in plain PyTorch.

The library of the book "SRGAN, step by step": every chapter imports it and shows its
source, so book and code are one truth. Modules, in the order the book meets them:

* ``images``  - loading, saving, and the one ``convert_image`` between pixel ranges
* ``metrics`` - PSNR and SSIM by the paper's protocol
* ``sources`` - the data directory, the registry of named sets, checksummed downloads
* ``data``    - training crops, evaluation images, built-in demo images
* ``models``  - SRResNet, Generator, Discriminator
* ``diagram`` - Figure 4 of the paper, drawn from the networks' own modules
* ``vgg``     - VGG19 truncated at phi_{i,j}
* ``losses``  - content (pixel / VGG), adversarial and perceptual losses
* ``updates`` - the update math of both stages: SRResNet, discriminator, generator
* ``weights`` - safetensors files with metadata
* ``config``, ``checkpoint``, ``train`` - the training engine (presets, exact resume, torchrun)
* ``files``   - atomic writes
* ``upscale``  - a PIL image in, a super-resolved PIL image out
* ``slider``  - the before/after slider, self-contained HTML for the static book
* ``viz``, ``app`` - comparison figures, and the live comparison app (ipywidgets)
* ``toy``, ``content`` - the experiments of chapters 2 and 3
* ``book``    - what the chapters use: set-up, ``show`` (the library's source), figures
* ``evaluate`` - the paper-protocol evaluation table

Importing ``srgan_lib`` is instant: torch, torchvision and scikit-image take seconds and
hundreds of MB to import, so ``sl.SRResNet``, ``sl.psnr``, ``sl.train``, ... import their
module the first time they are used (``__getattr__`` below). ``python -m srgan_lib --help``
and a mistyped option therefore answer at once.
"""

import importlib
import importlib.util

from .errors import SRGANError

__version__ = "0.1.0"

# Where each name of the package's top level lives; imported on first use.
_HOME = {
    "setup": "book", "show": "book", "show_images": "book", "count_parameters": "book",
    "EvalDataset": "data", "TrainDataset": "data", "demo_image": "data",
    "FORMATS": "images", "convert_image": "images", "crop_to_multiple": "images",
    "downscale": "images", "load_image": "images", "save_image": "images",
    "upscale_bicubic": "images",
    "psnr": "metrics", "ssim": "metrics", "y_channel": "metrics",
    "ConvolutionalBlock": "models", "Discriminator": "models", "Generator": "models",
    "ResidualBlock": "models", "SRResNet": "models", "SubPixelConvolutionalBlock": "models",
    "TruncatedVGG19": "vgg", "vgg19_layer_table": "vgg",
}

__all__ = ["content", "losses", "sources", "train", "weights", "SRGANError", *_HOME]


def __getattr__(name):
    """``srgan_lib.X`` for a name of ``_HOME`` or a module: imported when first asked for."""
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}"):
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__():
    return sorted({*globals(), *__all__})
