"""srgan_lib: SRResNet and SRGAN (Ledig et al., CVPR 2017) in plain PyTorch.

The library of the book "SRGAN, step by step": every chapter imports it and shows its
source, so book and code are one truth. Modules, in the order the book meets them:

* ``images``  - loading, saving, and the one ``convert_image`` between pixel ranges
* ``metrics`` - PSNR and SSIM by the paper's protocol
* ``sources`` - the data directory, the registry of named sets, checksummed downloads
* ``data``    - training crops, evaluation images, built-in demo images
* ``models``  - SRResNet, Generator, Discriminator
* ``vgg``     - VGG19 truncated at phi_{i,j}
* ``losses``  - content (pixel / VGG), adversarial and perceptual losses
* ``weights`` - safetensors files with metadata
* ``config``, ``checkpoint``, ``train`` - the training engine (presets, exact resume, torchrun)
* ``files``   - atomic writes
* ``upscale``  - a PIL image in, a super-resolved PIL image out
* ``book``    - what the chapters use: set-up, ``show`` (the library's source), figures
* ``evaluate`` - the paper-protocol evaluation table
"""

from . import content, losses, sources, train, weights
from .book import count_parameters, setup, show, show_images
from .data import EvalDataset, TrainDataset, demo_image
from .errors import SRGANError
from .images import (FORMATS, convert_image, crop_to_multiple, downscale, load_image,
                     save_image, upscale_bicubic)
from .metrics import psnr, ssim, y_channel
from .models import (ConvolutionalBlock, Discriminator, Generator, ResidualBlock, SRResNet,
                     SubPixelConvolutionalBlock)
from .vgg import TruncatedVGG19, vgg19_layer_table

__version__ = "0.1.0"

__all__ = ["content", "losses", "sources", "train", "weights",
           "setup", "show", "show_images", "count_parameters", "EvalDataset", "TrainDataset",
           "demo_image", "SRGANError", "FORMATS", "convert_image", "crop_to_multiple", "downscale",
           "load_image", "save_image", "upscale_bicubic", "psnr", "ssim", "y_channel",
           "ConvolutionalBlock", "Discriminator", "Generator", "ResidualBlock", "SRResNet",
           "SubPixelConvolutionalBlock", "TruncatedVGG19", "vgg19_layer_table"]
