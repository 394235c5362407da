"""VGG19 cut at the feature map phi_{i,j} of the paper, for the content loss.

Ledig et al. (Section 2.2.1) define phi_{i,j} as "the feature map obtained by the j-th
convolution (after activation) before the i-th maxpooling layer" of VGG19 (Simonyan &
Zisserman 2015). The SRGAN of the paper uses phi_{5,4} ("VGG54"); "VGG22" is phi_{2,2}.

Weights come from torchvision's weights API (ImageNet, ``IMAGENET1K_V1``): from the torch
hub cache when the file is there, downloaded otherwise. The environment variable
``SRGAN_VGG_WEIGHTS=off`` makes them unavailable on purpose: the book's stored outputs come
from a machine without them, and ``pytest --nbval`` sets it so that a machine that has them
reproduces those outputs too. Only the convolutional part is
built and loaded; the 120 M-parameter classifier is never materialised. The attribute
name ``truncated_vgg19`` and its indices match the reference tutorial's state_dict.
"""

import os
from pathlib import Path
from urllib.error import URLError

import torch
from torch import nn

from .errors import SRGANError

__all__ = ["VGG19_BLOCKS", "vgg19_layer_table", "TruncatedVGG19"]

# Convolutions per block of VGG19 (configuration "E"); a 2x2 max-pool follows each block.
VGG19_BLOCKS = (2, 2, 4, 4, 4)
_WIDTHS = (64, 128, 256, 512, 512)


def _vgg19_features():
    """The layers of torchvision's ``vgg19().features``, in the same order (same indices)."""
    layers, in_channels = [], 3
    for n_convs, width in zip(VGG19_BLOCKS, _WIDTHS, strict=True):
        for _ in range(n_convs):
            layers += [nn.Conv2d(in_channels, width, kernel_size=3, padding=1),
                       nn.ReLU(inplace=True)]
            in_channels = width
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return layers


def _check_ij(i, j):
    if i not in range(1, 6):
        raise ValueError(f"i must be a VGG19 block 1..5, got i={i!r}")
    if j not in range(1, VGG19_BLOCKS[i - 1] + 1):
        raise ValueError(f"j must be 1..{VGG19_BLOCKS[i - 1]} for block i={i} "
                         f"(VGG19 has {VGG19_BLOCKS[i - 1]} convolutions there), got j={j!r}")


def vgg19_layer_table():
    """Every valid (i, j) with the layer it cuts VGG19 after.

    Returns:
        list[dict]: one row per (i, j): ``i``, ``j``, ``name`` (``'relu5_4'``-style, as in
        the VGG literature), ``index`` (position of that ReLU in ``vgg19().features``),
        ``channels`` and ``downsampling`` (how much smaller than the input the map is).

    Explained in: book/03_content_loss.ipynb
    """
    rows, index = [], -1
    for block, (n_convs, width) in enumerate(zip(VGG19_BLOCKS, _WIDTHS, strict=True), start=1):
        for conv in range(1, n_convs + 1):
            index += 2  # a conv, then its ReLU
            rows.append({"i": block, "j": conv, "name": f"relu{block}_{conv}", "index": index,
                         "channels": width, "downsampling": 2 ** (block - 1)})
        index += 1  # the max-pool
    return rows


def _imagenet_features_state_dict(weights):
    """The ``features.*`` tensors of torchvision's VGG19 ImageNet weights, or an SRGANError."""
    from torchvision.models import VGG19_Weights

    try:
        weights = VGG19_Weights.verify(weights)
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"weights must be None, 'IMAGENET1K_V1', 'DEFAULT' or a "
                         f"torchvision VGG19_Weights, got {weights!r}") from None
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if os.environ.get("SRGAN_VGG_WEIGHTS") == "off":
        raise SRGANError("ImageNet VGG19 weights are switched off (SRGAN_VGG_WEIGHTS=off, as "
                         "when the book's stored outputs are checked); unset it to use them")
    try:
        state = weights.get_state_dict(progress=True, check_hash=True)
    except (URLError, OSError, RuntimeError) as err:
        reason = getattr(err, "reason", None) or err
        raise SRGANError(
            f"ImageNet VGG19 weights are not in the torch hub cache ({cached}) and could not "
            f"be downloaded ({reason}). Fix: on a machine with internet run "
            "`python -c \"import torchvision; torchvision.models.vgg19(weights='IMAGENET1K_V1')\"` "
            f"and copy {cached.name} to {cached}; or train with the 'mse' content loss "
            "(the paper's SRGAN-MSE), which needs no VGG.") from None
    return {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}


class TruncatedVGG19(nn.Module):
    """VGG19 up to and including the activation of its j-th convolution in block i.

    Input: images in ``imagenet-norm`` (the normalisation VGG19 was trained with);
    ``losses.VGGContentLoss`` does that conversion, so callers pass ``[-1, 1]`` images
    there. Output: the feature map phi_{i,j}, (N, channels, H / 2^(i-1), W / 2^(i-1)).
    The parameters are frozen: VGG is a fixed measuring instrument, never trained.

    Args:
        i (int): block, 1..5.
        j (int): convolution within the block, 1..2 for blocks 1-2, 1..4 for blocks 3-5.
        weights (str | VGG19_Weights | None): ``'IMAGENET1K_V1'`` (or ``'DEFAULT'``) for
            torchvision's ImageNet weights; ``None`` for a randomly initialised network
            (for tests and shape checks only: its features are not VGG's).

    Raises:
        ValueError: an invalid (i, j), naming the valid range.
        SRGANError: ImageNet weights asked for but neither cached nor downloadable.

    Explained in: book/03_content_loss.ipynb
    """

    def __init__(self, i, j, weights="IMAGENET1K_V1"):
        super().__init__()
        _check_ij(i, j)
        self.i, self.j = i, j
        self.pretrained = weights is not None
        cut = next(r["index"] for r in vgg19_layer_table() if (r["i"], r["j"]) == (i, j))
        layers = _vgg19_features()[:cut + 1]  # keep the ReLU that follows conv (i, j)
        self.truncated_vgg19 = nn.Sequential(*layers)
        if weights is not None:
            state = _imagenet_features_state_dict(weights)
            self.truncated_vgg19.load_state_dict(
                {k: v for k, v in state.items() if int(k.split(".")[0]) <= cut})
        self.requires_grad_(False)
        self.eval()

    def forward(self, imgs):
        """Features: (N, 3, H, W) imagenet-norm -> (N, C, H / 2^(i-1), W / 2^(i-1))."""
        return self.truncated_vgg19(imgs)
