"""Experiments on the content loss: pixel MSE against MSE between VGG19 feature maps.

The book's chapter 3 asks which of two content losses (Ledig et al., Eq. 4 and Eq. 5)
judges super-resolved images the way a person would. This module holds the reusable
parts of that experiment:

* ``try_imagenet_vgg19`` - VGG19 with its ImageNet weights where they can be had, else
  ``None`` and one plain sentence that says so (identical on every machine);
* ``receptive_field`` and ``feature_map_shapes`` - facts about the architecture, which do
  not depend on the weights;
* ``shifted_and_blurred`` - an image, the same image moved by a pixel or two, and blurred
  versions of it (the bicubic baseline of chapter 1);
* ``measure_content_losses`` - every content loss between every candidate and the target;
* ``strongest_channels`` - the most active channels of a feature map, ready to plot;
* ``random_vgg19``, ``features_at`` and ``shift_against_blur`` - the verdict of a VGG19
  (ImageNet weights where they load, else random ones) on a 1-px shift against a blur;
* ``PAPER_TABLE1`` and ``paper_table1`` - what the paper measured for each content loss.
"""

import contextlib
import io
import math
import sys
from pathlib import Path

import numpy as np
import torch

from torch import nn

from .errors import SRGANError
from .evaluate import PAPER
from .images import convert_image, crop_to_multiple, downscale, upscale_bicubic
from .vgg import TruncatedVGG19, vgg19_layer_table

__all__ = ["VGG19_URL", "try_imagenet_vgg19", "receptive_field", "feature_map_shapes",
           "shifted_and_blurred", "measure_content_losses", "strongest_channels",
           "random_vgg19", "centre_crop", "features_at", "shift_against_blur",
           "PAPER_TABLE1", "paper_table1"]

# torchvision's ImageNet weights of VGG19 (VGG19_Weights.IMAGENET1K_V1).
VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"

_NO_WEIGHTS = (  # lines of at most 88 characters: it is printed in a chapter
    "ImageNet VGG19 weights are not available here (not cached, no download). Run this\n"
    "chapter in Colab, or download {url}\n"
    "and copy {name} into <torch.hub.get_dir()>/checkpoints/.")

# Ledig et al. 2017, Table 1 (x4): the paper's own figures for each content loss, not
# computed by this library. PSNR (dB) and SSIM on the Y channel come from the one table of
# paper figures, ``evaluate.PAPER``; MOS, from 1 (bad) to 5 (excellent), rated by 26 people,
# is only needed here. Table 1 has no BSD100 column.
_TABLE1_VARIANTS = ("SRResNet-MSE", "SRResNet-VGG22", "SRGAN-MSE", "SRGAN-VGG22", "SRGAN-VGG54")
_TABLE1_MOS = {"Set5": (3.37, 3.46, 3.77, 3.78, 3.58), "Set14": (2.98, 3.14, 3.43, 3.57, 3.72)}
PAPER_TABLE1 = {
    "variants": _TABLE1_VARIANTS,
    **{name: {"PSNR": tuple(PAPER[v][name][0] for v in _TABLE1_VARIANTS),
              "SSIM": tuple(PAPER[v][name][1] for v in _TABLE1_VARIANTS),
              "MOS": _TABLE1_MOS[name]}
       for name in ("Set5", "Set14")},
}


def _last_lines(text):
    """Text as a terminal would show it: of each line, what follows its last carriage return."""
    return "".join(line.rsplit("\r", 1)[-1] for line in text.splitlines(keepends=True))


def try_imagenet_vgg19(i=5, j=4):
    """``TruncatedVGG19(i, j)`` with ImageNet weights, or ``None`` where they cannot be had.

    A chapter uses this to branch: with the weights it shows VGG19's real features; without
    them (no internet and no cached file, as on CI) it says so and computes nothing that
    would need them. torch prints a "Downloading ... to <path>" line before it tries the
    network; what torch prints is held back while trying and shown only if loading works,
    so an offline run prints the same text on every machine.

    Args:
        i (int): VGG19 block, 1..5.
        j (int): convolution in that block.

    Returns:
        tuple[TruncatedVGG19 | None, str]: the network (``None`` without weights) and one
        sentence saying which case this is and, without weights, how to get them.

    Explained in: book/03_content_loss.ipynb
    """
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            vgg = TruncatedVGG19(i, j, weights="IMAGENET1K_V1")
    except SRGANError:
        return None, _NO_WEIGHTS.format(url=VGG19_URL, name=Path(VGG19_URL).name)
    sys.stdout.write(_last_lines(out.getvalue()))  # a real download's messages
    sys.stderr.write(_last_lines(err.getvalue()))
    return vgg, (f"ImageNet VGG19 weights loaded: the phi_{{{i},{j}}} features below are "
                 "VGG19's own.")


def receptive_field(i, j):
    """The side, in input pixels, of the window that one value of phi_{i,j} depends on.

    Each 3x3 convolution widens the window by 2 steps of the current grid, each 2x2
    max-pool by 1 step, and a max-pool doubles the step. A weight-free fact of the
    architecture: 3 pixels for phi_{1,1}, 252 for phi_{5,4}.

    Args:
        i (int): VGG19 block, 1..5.
        j (int): convolution in that block.

    Returns:
        int: the receptive field's side in pixels.

    Raises:
        ValueError: an (i, j) that VGG19 does not have.

    Explained in: book/03_content_loss.ipynb
    """
    field, step = 1, 1
    for row in vgg19_layer_table():
        if row["i"] > 1 and row["j"] == 1:  # a max-pool closed the previous block
            field, step = field + step, step * 2
        field += 2 * step
        if (row["i"], row["j"]) == (i, j):
            return field
    raise ValueError(f"VGG19 has no phi_{{{i},{j}}}: see vgg19_layer_table()")


def feature_map_shapes(height=96, width=96):
    """The shape of every phi_{i,j} for an image of ``height`` x ``width`` pixels.

    Computed by running a zero image through a VGG19 with *random* weights: shapes depend
    on the architecture only, never on the weights, so this is exact without ImageNet
    weights. (The values of those random features mean nothing and are not returned.)

    Args:
        height (int): image height in pixels (96: the paper's HR training crops).
        width (int): image width in pixels.

    Returns:
        dict[tuple[int, int], tuple[int, int, int]]: (i, j) -> (channels, height, width).

    Explained in: book/03_content_loss.ipynb
    """
    with torch.random.fork_rng():  # the random weights do not disturb the caller's seed
        layers = TruncatedVGG19(5, 4, weights=None).truncated_vgg19
    at_index = {row["index"]: (row["i"], row["j"]) for row in vgg19_layer_table()}
    x, shapes = torch.zeros(1, 3, height, width), {}
    with torch.no_grad():
        for index, layer in enumerate(layers):
            x = layer(x)
            if index in at_index:
                shapes[at_index[index]] = tuple(x.shape[1:])
    return shapes


def shifted_and_blurred(hr, shifts=(1, 2), scales=(2, 4), margin=4):
    """The experiment's images: a target, shifted copies of it, and blurred copies of it.

    The target is ``hr`` without ``margin`` pixels on every side. A shifted copy is the
    same window of ``hr`` moved ``s`` pixels to the right (so the picture moves ``s``
    pixels to the left): real, perfectly sharp content, only misaligned. A blurred copy is
    the bicubic baseline of chapter 1: ``hr`` shrunk ``r`` times and enlarged back, cut to
    the same window.

    Args:
        hr (PIL.Image): the image.
        shifts (tuple[int, ...]): shifts in pixels, each at most ``margin``.
        scales (tuple[int, ...]): bicubic down-and-up factors.
        margin (int): pixels cut from each side of the target.

    Returns:
        tuple[PIL.Image, dict[str, PIL.Image]]: the target and the candidates, named
        ``'shifted 1 px'``, ..., ``'bicubic x2'``, ...; all the same size.

    Raises:
        ValueError: a shift larger than ``margin``.

    Explained in: book/03_content_loss.ipynb
    """
    if any(s < 0 or s > margin for s in shifts):
        raise ValueError(f"shifts must be between 0 and margin={margin}, got {shifts}")
    hr = crop_to_multiple(hr, math.lcm(*scales)) if scales else hr
    w, h = hr.size
    box = (margin, margin, w - margin, h - margin)
    candidates = {f"shifted {s} px": hr.crop((box[0] + s, box[1], box[2] + s, box[3]))
                  for s in shifts}
    for r in scales:
        candidates[f"bicubic x{r}"] = upscale_bicubic(downscale(hr, r), r).crop(box)
    return hr.crop(box), candidates


def measure_content_losses(target, candidates, losses, device="cpu"):
    """Every content loss between every candidate image and the target.

    Args:
        target (PIL.Image): the image the candidates should match (I^HR).
        candidates (dict[str, PIL.Image]): the images to judge, each the target's size.
        losses (dict[str, torch.nn.Module]): content losses, called as ``loss(sr, hr)`` on
            (1, 3, H, W) tensors in ``[-1, 1]`` (``losses.PixelContentLoss``,
            ``losses.VGGContentLoss``).
        device (str): where to compute.

    Returns:
        dict[str, dict[str, float]]: ``result[candidate][loss]``.

    Explained in: book/03_content_loss.ipynb
    """
    def batch(img):
        return convert_image(img, "pil", "[-1, 1]").unsqueeze(0).to(device)

    hr = batch(target)
    result = {}
    with torch.no_grad():
        for name, img in candidates.items():
            sr = batch(img)
            result[name] = {loss_name: loss.to(device)(sr, hr).item()
                            for loss_name, loss in losses.items()}
    return result


def strongest_channels(features, n=4):
    """The ``n`` channels of a feature map with the largest mean activation, ready to plot.

    Args:
        features (torch.Tensor): a feature map, (C, H, W) or (1, C, H, W).
        n (int): how many channels.

    Returns:
        list[tuple[int, numpy.ndarray]]: (channel index, (H, W) float array scaled to
        [0, 1]), strongest first.

    Explained in: book/03_content_loss.ipynb
    """
    maps = features.detach().float().cpu()
    maps = maps[0] if maps.dim() == 4 else maps
    order = torch.argsort(maps.mean(dim=(1, 2)), descending=True, stable=True)[:n]
    out = []
    for c in order.tolist():
        m = maps[c].numpy().astype(np.float64)
        span = m.max() - m.min()
        out.append((c, (m - m.min()) / span if span > 0 else np.zeros_like(m)))
    return out


def random_vgg19(seed=0):
    """VGG19 up to phi_{5,4} with random weights: torchvision's initialisation, fixed seed.

    The weights torchvision gives an untrained VGG19 (He et al.'s normal initialisation,
    ``kaiming_normal_`` with ``mode='fan_out'``, zero biases), drawn from ``seed`` on a
    forked generator so the caller's random state is untouched. Same architecture as the
    ImageNet network (pooling, depth, receptive fields), no training.

    Args:
        seed (int): seed of the random weights.

    Returns:
        TruncatedVGG19: frozen, in eval mode, ``pretrained`` False.

    Explained in: book/03_content_loss.ipynb
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        vgg = TruncatedVGG19(5, 4, weights=None)
        for layer in vgg.modules():
            if isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)
    return vgg


def centre_crop(img, size):
    """The centre ``size`` x ``size`` window of a PIL image (the whole side where smaller).

    Explained in: book/03_content_loss.ipynb
    """
    w, h = img.size
    cw, ch = min(size, w), min(size, h)
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def features_at(vgg, x, cuts):
    """The feature maps phi_{i,j} at several ``cuts`` from one pass through ``vgg``.

    Args:
        vgg (TruncatedVGG19): cut at or after every (i, j) of ``cuts``.
        x (torch.Tensor): (N, 3, H, W) images in ``imagenet-norm``.
        cuts (tuple[tuple[int, int], ...]): the (i, j) to return.

    Returns:
        dict[tuple[int, int], torch.Tensor]: (i, j) -> (N, C, H', W').

    Raises:
        ValueError: a cut beyond the end of ``vgg``.

    Explained in: book/03_content_loss.ipynb
    """
    at_index = {row["index"]: (row["i"], row["j"]) for row in vgg19_layer_table()
                if (row["i"], row["j"]) in set(cuts)}
    if len(at_index) != len(set(cuts)) or max(at_index) >= len(vgg.truncated_vgg19):
        raise ValueError(f"cuts {cuts} must be VGG19 cuts up to phi_{{{vgg.i},{vgg.j}}}")
    out = {}
    with torch.no_grad():
        for index, layer in enumerate(vgg.truncated_vgg19):
            x = layer(x)
            if index in at_index:
                out[at_index[index]] = x.clone()  # the next ReLU works in place
            if len(out) == len(at_index):
                break
    return out


def shift_against_blur(hr, vgg, cuts=((2, 2), (5, 4)), rescale=12.75):
    """Losses of ``hr`` moved by one pixel and of ``hr`` blurred (bicubic x4), against ``hr``.

    Pixel MSE (Eq. 4, images in [-1, 1]) and the VGG content loss at each cut (Eq. 5,
    features divided by ``rescale``), each as a pair (shifted, blurred): the smaller one
    is the candidate the loss calls closer to ``hr``.

    Args:
        hr (PIL.Image): the image (a crop keeps it fast on a CPU).
        vgg (TruncatedVGG19): ImageNet or random weights, cut at or after every cut.
        cuts (tuple[tuple[int, int], ...]): which phi_{i,j}.
        rescale (float): the paper's 12.75 (it cancels in every ratio).

    Returns:
        dict[str, tuple[float, float]]: ``'pixel MSE'``, ``'phi_2,2'``, ... ->
        (loss of the shift, loss of the blur).

    Explained in: book/03_content_loss.ipynb
    """
    target, moved = shifted_and_blurred(hr, shifts=(1,), scales=(4,))
    images = [target, moved["shifted 1 px"], moved["bicubic x4"]]
    pixels = torch.stack([convert_image(img, "pil", "[-1, 1]") for img in images])
    device = next(vgg.parameters()).device
    x = convert_image(pixels, "[-1, 1]", "imagenet-norm").to(device)
    judged = {"pixel MSE": pixels, **{f"phi_{i},{j}": f.cpu() / rescale
                                      for (i, j), f in features_at(vgg, x, cuts).items()}}
    return {name: tuple(float((t[k] - t[0]).double().pow(2).mean()) for k in (1, 2))
            for name, t in judged.items()}


def paper_table1():
    """``PAPER_TABLE1`` as a Markdown table: one column per variant, one row per measure.

    Explained in: book/03_content_loss.ipynb
    """
    fmt = {"PSNR": "{:.2f}", "SSIM": "{:.4f}", "MOS": "{:.2f}"}
    variants = PAPER_TABLE1["variants"]
    lines = ["| data set, measure | " + " | ".join(variants) + " |",
             "|---|" + "---:|" * len(variants)]
    for name in ("Set5", "Set14"):
        for measure, values in PAPER_TABLE1[name].items():
            cells = [fmt[measure].format(v) for v in values]
            best = max(values)  # higher is better for all three
            cells = [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]
            lines.append(f"| {name}, {measure} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
