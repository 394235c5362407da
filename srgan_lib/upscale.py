"""Super-resolve images: whole or in tiles, with memory that stays flat whatever their size.

Evaluation, the comparison chapter and the ``upscale`` command all go through
``super_resolve``, so the conversions around the network (``imagenet-norm`` in, ``[-1, 1]``
out, clamped and rounded to 8 bits) are written once.

Why tiles, and why they leave no seams: a convolutional network's output pixel depends only
on the LR pixels within its receptive field (for SRResNet x4, 40 LR pixels on each side;
``receptive_radius`` computes it from the layers). So the image is cut into tiles, each
tile is run with ``overlap`` pixels of its neighbours as context, and only the tile's own
part of the output is kept. With ``overlap`` at least the receptive radius (the default),
every kept pixel saw exactly what it would have seen in the whole image: the result equals
whole-image inference (to the last bit of float32 on the CPUs we tested), and there is no
seam to hide. Memory is one tile's activations plus the 8-bit output, whatever the image
size.

Why two sizes of tiles: the margins are recomputed work, about half of it with 192-px tiles
and a 40-px margin. The residual body (activations at LR size) therefore runs on tiles
``s`` times wider than the upsampling tail (activations ``s * s`` times larger per LR
pixel), and the tail needs a margin of only 3 LR pixels of the body's output.

Why the last convolution runs before the last pixel shuffle: the final 9x9 convolution
makes 3 channels from 64 at full size, 11% of the network's arithmetic but, with so few
output channels, about 30% of its time on a CPU. Run on the shuffle's input instead, as
an equivalent 5x5 convolution from 256 channels to 12, the tail ran 1.64 times as fast
in chapter 10's measurement, and the 64-channel map at full size is never made
(``_fold_last_conv``).
"""

import copy
import math
import os
from contextlib import contextmanager
from itertools import pairwise, product
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from .errors import SRGANError
from .images import check_output, convert_image, load_image, save_image, upscale_bicubic

__all__ = ["SHIPPED", "default_device", "model_scale", "receptive_radius", "super_resolve",
           "upscale_image", "fill_transparent", "resolve_model", "upscale_files", "check_device"]

# The weights shipped in the repository's data/ folder, by name.
_DATA = Path(__file__).resolve().parent.parent / "data"
SHIPPED = {"srgan": _DATA / "srgan_x4.safetensors", "srresnet": _DATA / "srresnet_x4.safetensors"}


def default_device():
    """``'cuda'`` when a GPU is visible, else ``'cpu'``.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_scale(model):
    """The upscaling factor of an ``SRResNet`` or ``Generator``: 2 per sub-pixel block.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    srresnet = getattr(model, "net", model)  # a Generator wraps its SRResNet as .net
    return 2 ** len(srresnet.subpixel_convolutional_blocks)


def receptive_radius(model):
    """How many LR pixels on each side one output pixel of the network depends on.

    Every convolution with a k x k kernel widens the field by k // 2 pixels of the size it
    runs at; layers after an upsampler run on a larger grid, so they widen it by less, in
    LR pixels.

    Explained in: book/04_building_modules.ipynb
    """
    net = getattr(model, "net", model)
    large = net.conv_block1.conv_block[0].kernel_size[0] // 2
    small = net.conv_block2.conv_block[0].kernel_size[0] // 2
    # At LR size: the first conv, two convs per residual block, and conv_block2.
    radius = large + small * (2 * len(net.residual_blocks) + 1)
    size = 1  # how many output pixels one LR pixel has become so far
    for _ in net.subpixel_convolutional_blocks:  # each conv runs, then the size doubles
        radius += small / size
        size *= 2
    radius += large / size  # the last conv runs at HR size
    return math.ceil(radius)


def super_resolve(model, lr, device=None, tile=None, overlap=None, bf16=False,
                  progress=False):
    """Upscale an LR image with an ``SRResNet`` or ``Generator``, whole or in tiles.

    The caller's model is left exactly as it was (device, train/eval mode, memory layout):
    it runs in eval mode for the call, and on another ``device`` a copy runs instead.

    Args:
        model (nn.Module): takes (N, 3, h, w) ``imagenet-norm``, returns ``[-1, 1]``.
        lr (PIL.Image): the LR image (RGB).
        device (str | torch.device | None): where to run; the model's device if ``None``.
        tile (int | None): side of the square tiles, in LR pixels; ``None`` or 0: the
            whole image at once.
        overlap (int | None): LR pixels of context around each tile; ``None``: the
            model's receptive radius, which makes tiling exact.
        bf16 (bool): run under bf16 autocast (faster on GPUs; slightly different pixels).
        progress (bool): a progress bar over the tiles.

    Returns:
        PIL.Image: the SR image, ``model_scale(model)`` times larger, 8-bit RGB.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    s = model_scale(model)
    w, h = lr.size
    out = np.empty((h * s, w * s, 3), dtype=np.uint8)
    with _in_eval_mode_on(model, device) as net:
        for (x0, y0, x1, y1), sr in _sr_tiles(net, lr, tile, overlap, bf16, progress):
            out[y0 * s:y1 * s, x0 * s:x1 * s] = np.asarray(convert_image(sr, "[-1, 1]", "pil"))
    return Image.fromarray(out)


@contextmanager
def _in_eval_mode_on(model, device):
    """``model`` in eval mode on ``device`` for a ``with`` block, then as it was.

    On the model's own device the model itself runs: only its modules' train/eval flags
    change, and they are put back. Its weights are not moved, converted or replaced (a
    weight replaced under inference mode could no longer be trained). On another device
    a copy runs, so the caller's model never moves.
    """
    here = next(model.parameters()).device
    device = here if device is None else torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    if device != here:
        yield copy.deepcopy(model).to(device).eval()
        return
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in flags:
            m.training = training


@torch.inference_mode()
def _sr_tiles(model, lr, tile=None, overlap=None, bf16=False, progress=False):
    """Run ``model`` (in eval mode) over ``lr`` in tiles: the float output of each tile.

    The network has two halves of about equal cost and very different shapes. The residual
    body works at LR size, so it runs on large tiles (``s * tile`` LR pixels), where the
    margin of context is a small part of the work. The upsampling tail works at up to
    ``s`` times the size, ``s * s`` times more memory per LR pixel, but each of its output
    pixels sees only a few LR pixels of the body's output, so it runs on small tiles
    (``tile`` LR pixels) of the body's output with that thin margin.

    Yields:
        tuple: ``((x0, y0, x1, y1), sr)``: a tile's box in LR pixels and its SR output, a
        float tensor ``(3, (y1 - y0) * s, (x1 - x0) * s)`` in ``[-1, 1]``.
    """
    if tile is not None and tile < 0 or overlap is not None and overlap < 0:
        raise ValueError(f"tile and overlap must be >= 0, got tile={tile}, overlap={overlap}")
    net, s, (w, h) = getattr(model, "net", model), model_scale(model), lr.size
    tile = tile or max(w, h)
    overlap = receptive_radius(model) if overlap is None else overlap
    margin = min(overlap, _tail_radius(net))  # the tail's context, inside the body's
    tiles = [(big, box) for big in _split((0, 0, w, h), s * tile) for box in _split(big, tile)]
    body_box = features = None
    last_conv = _fold_last_conv(net)
    for big, box in tqdm(tiles, desc="tiles", unit="tile", leave=False,
                         disable=not progress or len(tiles) == 1):
        if big != body_box:  # a new body tile: run the body once for all its tail tiles
            features = None  # free the last body tile's output before making the next
            body_box, body_in = big, _grow(big, overlap, w, h)  # with its context
            features = _run(_body, net, _as_input(lr.crop(body_in), net), bf16)
        tail_in = _grow(box, margin, w, h)  # the tail tile with its context
        sr = _run(_tail, net, _window(features, tail_in, body_in), bf16, last_conv)
        yield box, _window(sr, box, tail_in, s)[0].float()


def _body(net, x):
    """SRResNet's residual body, at LR size: (N, 3, h, w) -> (N, 64, h, w)."""
    x = net.conv_block1(x)
    return net.conv_block2(net.residual_blocks(x)) + x  # the long skip of Figure 4


def _tail(net, features, last_conv):
    """SRResNet's upsampling tail: (N, 64, h, w) -> (N, 3, h * s, w * s) in [-1, 1].

    The same function as ``conv_block3(subpixel_convolutional_blocks(features))``, with
    the last 9x9 convolution run before the last pixel shuffle instead of after it
    (``_fold_last_conv``): 3 output channels keep a CPU's vector units mostly idle, 12 do
    not, and the shuffled 64-channel map at full size is never made.
    """
    *blocks, last = net.subpixel_convolutional_blocks
    for block in blocks:
        features = block(features)
    r = last.pixel_shuffle.upscale_factor
    # (N, 64 * r * r, h', w'): the r * r phases of each channel, before the shuffle. The
    # PReLU has one slope for all channels, so it acts the same before as after it.
    x = last.prelu(last.conv(features))
    weight, bias = last_conv
    x = torch.tanh(F.conv2d(x, weight, bias, padding=weight.shape[-1] // 2))
    return F.pixel_shuffle(x, r)


def _fold_last_conv(net):
    """``conv_block3``'s convolution rewritten to run on the last pixel shuffle's input.

    A k x k convolution on a map that a pixel shuffle made ``r`` times larger is a
    convolution on the unshuffled map (``r * r`` phases per channel, ``r`` times smaller)
    with ``r * r`` times more input and output channels and a K x K kernel,
    K = 2 * ceil((k // 2) / r) + 1: the output phase ``(py, px)`` at pixel ``(Y, X)`` takes
    the input phase ``(qy, qx)`` at ``(Y + ky - K // 2, X + kx - K // 2)``, which lies
    ``r * (ky - K // 2) + qy - py`` rows away in the large map. Zero padding is zero in both
    forms, so the result is the same function (float sums in another order: within about
    1e-5, far below one 8-bit level).

    Returns:
        tuple[Tensor, Tensor]: the weight (3 r^2, 64 r^2, K, K) and bias (3 r^2,).
    """
    conv = net.conv_block3.conv_block[0]
    r = net.subpixel_convolutional_blocks[-1].pixel_shuffle.upscale_factor
    weight = conv.weight.detach()
    out_c, in_c, k, _ = weight.shape
    half = k // 2
    big = -(-half // r)  # K // 2
    pad = r * big + r  # enough zeros around the k x k kernel for every shift below
    padded = F.pad(weight, (pad, pad, pad, pad))
    folded = weight.new_zeros(out_c, r, r, in_c, r, r, 2 * big + 1, 2 * big + 1)
    for py, px, qy, qx in product(range(r), repeat=4):
        y0, x0 = pad + half - r * big + qy - py, pad + half - r * big + qx - px
        folded[:, py, px, :, qy, qx] = padded[:, :, y0:y0 + r * (2 * big + 1):r,
                                              x0:x0 + r * (2 * big + 1):r]
    folded = folded.reshape(out_c * r * r, in_c * r * r, 2 * big + 1, 2 * big + 1)
    bias = conv.bias.detach().repeat_interleave(r * r)
    return folded.contiguous(memory_format=torch.channels_last), bias


def _tail_radius(net):
    """How many LR pixels of the body's output one output pixel of the tail depends on."""
    large = net.conv_block1.conv_block[0].kernel_size[0] // 2
    small = net.conv_block2.conv_block[0].kernel_size[0] // 2
    body = large + small * (2 * len(net.residual_blocks) + 1)  # as in receptive_radius
    return receptive_radius(net) - body


def _run(part, net, x, bf16, *args):
    """``part(net, x, *args)``, under bf16 autocast if asked."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        return part(net, x, *args)


def _as_input(crop, net):
    """A PIL crop as the network's input: (1, 3, h, w) ``imagenet-norm`` on its device."""
    x = convert_image(crop, "pil", "imagenet-norm").unsqueeze(0)
    # channels_last: fast, and each output pixel's sums then run in the same order
    # whatever the tile's size, so tiles equal the whole image to the last bit on
    # AVX2 CPUs (to 1e-6 on older ones; tests/test_upscale.py).
    return x.to(next(net.parameters()).device).contiguous(memory_format=torch.channels_last)


def _split(box, tile):
    """Cut a box ``(x0, y0, x1, y1)`` into a grid of near-equal boxes, at most ``tile`` wide.

    Equal parts rather than ``tile``-sized ones and a remainder: fewer, evener tiles waste
    less work on margins.
    """
    x0, y0, x1, y1 = box
    xs, ys = _cuts(x0, x1, tile), _cuts(y0, y1, tile)
    return [(a, c, b, d) for c, d in pairwise(ys) for a, b in pairwise(xs)]


def _cuts(start, stop, tile):
    """``n + 1`` evenly spaced integers from ``start`` to ``stop``, ``n`` parts <= ``tile``."""
    n = -(-(stop - start) // tile)  # ceil
    return [start + (stop - start) * i // n for i in range(n + 1)]


def _grow(box, margin, w, h):
    """``box`` with ``margin`` pixels more on each side, clipped to the ``w x h`` image."""
    x0, y0, x1, y1 = box
    return max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)


def _window(t, box, around, s=1):
    """The part of ``t`` (N, C, H, W), which covers ``around`` at ``s`` pixels per LR pixel,
    that covers ``box``; channels_last, as the next layer wants it."""
    (x0, y0, x1, y1), (ax, ay) = box, around[:2]
    part = t[:, :, (y0 - ay) * s:(y1 - ay) * s, (x0 - ax) * s:(x1 - ax) * s]
    return part.contiguous(memory_format=torch.channels_last)


def upscale_image(model, img, **kwargs):
    """Upscale any image as people have them: RGB, greyscale, with or without alpha.

    The colour goes through the model (``super_resolve``, tiled as asked). A greyscale
    image (``'L'``) is run as the grey replicated to RGB, and the output is converted back
    to luminance (Pillow's ``convert('L')``, ITU-R 601 weights), so grey in is grey out
    with no colour noise. An alpha channel is not a photograph: it is upscaled separately
    with bicubic. The colours of fully transparent pixels are invisible and often
    arbitrary (say red behind a white logo), so before the network sees them they are
    replaced by the colours of the visible pixels nearest to them (``fill_transparent``):
    hidden colours cannot bleed into the visible edge as a halo, and a semi-transparent
    edge keeps its own colour (the network sees it unchanged; nothing is divided by a
    small alpha afterwards).

    Args:
        model (nn.Module | str): an ``SRResNet`` / ``Generator``, or ``'bicubic'``.
        img (PIL.Image): ``'RGB'``, ``'RGBA'``, ``'L'`` or ``'LA'``.
        **kwargs: passed to ``super_resolve`` (``device``, ``tile``, ``overlap``, ``bf16``,
            ``progress``); a bicubic ``model`` takes ``scale`` instead (default 4).

    Returns:
        PIL.Image: the upscaled image, same mode as ``img``; where the upscaled alpha is
        0 the colour is 0.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    rgb = img.convert("RGB") if alpha is None else fill_transparent(img.convert("RGBA"))
    if model == "bicubic":
        scale = kwargs.get("scale", 4)
        out = upscale_bicubic(rgb, scale)
    else:
        kwargs.pop("scale", None)
        scale = model_scale(model)
        out = super_resolve(model, rgb, **kwargs)
    if img.mode in ("L", "LA"):
        out = out.convert("L")
    if alpha is None:
        return out
    a = np.asarray(upscale_bicubic(alpha, scale))[..., None]
    colour = np.asarray(out).reshape(a.shape[0], a.shape[1], -1)
    colour = np.where(a > 0, colour, 0).astype(np.uint8)  # nothing visible: colour 0
    return Image.fromarray(np.concatenate([colour, a], axis=2), mode=img.mode)


def fill_transparent(rgba):
    """The RGB of an RGBA image, each fully transparent pixel given the colour of the
    visible pixels nearest to it.

    The colour a file stores under alpha 0 cannot be seen, yet a network (or bicubic)
    mixes it into the visible pixels around it. So each pixel with alpha 0 takes the
    alpha-weighted mean colour of the square of side ``2 r + 1`` around it, for the
    smallest ``r`` in 1, 2, 4, 8, ... whose square holds a visible pixel (sums from one
    integral image per channel). Pixels with alpha > 0 keep their colour exactly; an
    image with no visible pixel at all keeps its colours. This is the one alpha
    algorithm of the command line; the in-browser page does the same.

    Args:
        rgba (PIL.Image): an ``'RGBA'`` image.

    Returns:
        PIL.Image: ``'RGB'``, the same size.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    array = np.asarray(rgba, dtype=np.float64)
    colour, a = array[..., :3], array[..., 3:] / 255
    hidden = a[..., 0] == 0
    out = colour.copy()
    h, w = hidden.shape
    weighted = np.concatenate([colour * a, a], axis=2)  # premultiplied colour, and alpha
    integral = np.pad(weighted.cumsum(0).cumsum(1), ((1, 0), (1, 0), (0, 0)))
    r = 1
    while hidden.any() and r < 2 * max(h, w):
        y0, x0 = np.clip(np.arange(h) - r, 0, h), np.clip(np.arange(w) - r, 0, w)
        y1, x1 = np.clip(np.arange(h) + r + 1, 0, h), np.clip(np.arange(w) + r + 1, 0, w)
        sums = (integral[y1][:, x1] - integral[y0][:, x1] - integral[y1][:, x0]
                + integral[y0][:, x0])  # the square around each pixel, clipped to the image
        den = sums[..., 3:]
        mean = np.divide(sums[..., :3], den, out=np.zeros_like(sums[..., :3]), where=den > 0)
        found = hidden & (den[..., 0] > 1e-9)
        out[found] = mean[found]
        hidden &= ~found
        r *= 2
    return Image.fromarray(np.clip(out.round(), 0, 255).astype(np.uint8), mode="RGB")


def resolve_model(spec, device="cpu", scaling_factor=None):
    """A model from a command-line name: ``'srgan'``, ``'srresnet'`` (the shipped weights),
    ``'bicubic'``, or the path of a ``.safetensors`` file.

    The one vocabulary of model names of every command (``--model``). A name wins over a
    file of the same name in the current folder (write ``./srgan`` for the file).

    Args:
        spec (str | Path): the name or path.
        device (str): where to load the weights.
        scaling_factor (int | None): the scale the weights must have (any if ``None``).

    Returns:
        nn.Module | str: ``'bicubic'`` for ``'bicubic'`` (the string itself, whatever
        ``scaling_factor``); for ``'srgan'`` the ``Generator`` of
        ``data/srgan_x4.safetensors``, for ``'srresnet'`` the ``SRResNet`` of
        ``data/srresnet_x4.safetensors``, for a path the ``SRResNet`` or ``Generator`` the
        file holds: in eval mode on ``device``, the file's header as ``.metadata``.

    Raises:
        SRGANError: shipped weights missing, or a file that is not generator weights of
            the asked scale.

    Explained in: book/08_comparison.ipynb
    """
    from .models import Generator, SRResNet
    from .weights import load_weights

    if spec == "bicubic":
        return "bicubic"
    path = SHIPPED.get(spec, Path(spec))
    if spec in SHIPPED and not path.exists():
        raise SRGANError(f"{path}: the shipped {spec} weights are missing from this checkout; "
                         "pass --model PATH.safetensors or --model bicubic")
    return load_weights(path, expect=(SRResNet, Generator), scaling_factor=scaling_factor,
                        device=device)


def check_device(spec):
    """The ``torch.device`` a ``--device`` value names, if this machine has it.

    Args:
        spec (str | None): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'mps'``, ...; ``None``:
            ``default_device()``.

    Returns:
        torch.device: the device.

    Raises:
        SRGANError: an unknown device name, or a GPU this machine does not have; the
            message lists the devices there are.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    if spec is None:
        return torch.device(default_device())
    here = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        here.append("mps")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise SRGANError(f"--device {spec}: not a device name; this machine has "
                         f"{', '.join(here)}") from None
    if device.type == "cpu" or (device.type == "mps" and "mps" in here):
        return device
    if device.type == "cuda" and torch.cuda.device_count() > (device.index or 0):
        return device
    raise SRGANError(f"--device {spec}: this machine has no such device (it has "
                     f"{', '.join(here)}); use --device cpu")


def _available_ram():
    """Bytes of RAM available to a new allocation (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _peak_memory(net, width, height, tile=192, overlap=None):
    """An estimate of the RAM ``upscale_image`` needs for a ``width x height`` LR image.

    The largest activations are the upsampling tail's: per LR pixel, each sub-pixel
    block makes ``4 * channels`` maps at ``4 ** i`` times the LR size, kept twice (the
    convolution's output and the PReLU's), about 10 kB per LR pixel for the x4 networks.
    Whole-image inference (``tile=0``) holds them for the whole image (a 1500x1000 photo:
    about 15 GB); tiled, for one tile only. The 8-bit output is held about twice (the
    array and the image written from it).

    Args:
        net (nn.Module | str): an ``SRResNet`` / ``Generator``, or ``'bicubic'``.
        width, height (int): the LR image's size.
        tile (int | None): as ``super_resolve``'s; 0 or ``None``: the whole image.
        overlap (int | None): as ``super_resolve``'s.

    Returns:
        int: bytes (an estimate, within a factor of about 1.5 of what was measured).

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    if net == "bicubic":
        return width * height * 16 * 3 * 3
    body = getattr(net, "net", net)
    channels, s = body.conv_block1.conv_block[0].out_channels, model_scale(net)
    output = width * height * s * s * 3 * 2
    tail_per_px = sum(2 * 4 * channels * 4 ** i for i in range(int(math.log2(s)))) * 4
    body_per_px = 4 * channels * 4
    if not tile:
        return output + width * height * (tail_per_px + body_per_px)
    overlap = receptive_radius(net) if overlap is None else overlap
    big = min(s * tile + 2 * overlap, width) * min(s * tile + 2 * overlap, height)
    small = min(tile + 2 * _tail_radius(body), width) * min(tile + 2 * _tail_radius(body),
                                                             height)
    return output + big * body_per_px + small * tail_per_px


def upscale_files(inputs, output, model="srgan", tile=192, overlap=None, scale=None,
                  device=None, bf16=False, force=False, allow_large=False, progress=True):
    """Upscale image files: what ``python -m srgan_lib upscale`` does.

    Everything that can be known before the work is checked before the first image is
    upscaled: the device, every input (it exists and is an image Pillow reads, within
    the size limit), every output name (an input is never overwritten, two inputs never
    write the same file, an existing file only with ``force``, the extension is a format
    Pillow writes that holds the image: transparency is refused for ``.jpg``, the folder
    writable) and the memory the largest image needs (refused, naming ``--tile``, when
    above the RAM available). Every output is written atomically, so an error or a kill
    leaves no half-written file. Greyscale inputs give greyscale outputs.

    Args:
        inputs (list[str | Path]): image files.
        output (str | Path): the output file for one input; a folder (created if needed)
            for several, or a name ending in ``/``, which receives ``<name>_x<scale>.png``
            per input.
        model (str): ``'srgan'``, ``'srresnet'``, ``'bicubic'`` or a ``.safetensors`` path.
        tile, overlap, bf16: see ``super_resolve`` (``tile=0``: the whole image at once).
        scale (int | None): bicubic's factor (default 4); for a model, the scale its
            weights must have (any if ``None``).
        device (str | None): where the model runs (default: a GPU if there is one).
        force (bool): replace existing output files.
        allow_large (bool): lift Pillow's decompression-bomb guard.
        progress (bool): a progress bar over tiles.

    Yields:
        tuple: ``(input, output, (width, height) of the input, scale)`` per finished file.

    Raises:
        SRGANError: any bad input, weights file, device or output path, naming it.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    from .images import _open_checked

    device = check_device(device)
    inputs, trailing = [Path(p) for p in inputs], str(output).endswith(("/", os.sep))
    output = Path(output)
    headers = []
    for p in inputs:  # the headers only: sizes and modes, no decoding yet
        with _open_checked(p, allow_large, decode=False) as img:
            alpha = img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info
            grey = img.mode in ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F")
            headers.append((img.size, ("LA" if alpha else "L") if grey else
                            ("RGBA" if alpha else "RGB")))
    net = resolve_model(model, device=device, scaling_factor=scale)
    if net != "bicubic":  # our own copy: its layout may be the fastest one
        net = net.to(memory_format=torch.channels_last)
    scale = (scale or 4) if net == "bicubic" else model_scale(net)
    many = len(inputs) > 1 or output.is_dir() or trailing
    if many and output.exists() and not output.is_dir():
        raise SRGANError(f"{output}: with several inputs, -o must be a folder")
    targets = [output / f"{p.stem}_x{scale}.png" if many else output for p in inputs]
    originals = {p.resolve() for p in inputs}
    seen = {}
    for source, target in zip(inputs, targets, strict=True):
        if target.resolve() in originals:
            raise SRGANError(f"{target}: is one of the inputs; choose another output name "
                             "(an input is never overwritten)")
        if target.resolve() in seen:
            raise SRGANError(f"{target}: both {seen[target.resolve()]} and {source} would be "
                             "written there; rename one of them or upscale them separately")
        seen[target.resolve()] = source
    if not many or output.is_dir():
        for target, (_, mode) in zip(targets, headers, strict=True):
            check_output(target, overwrite=force, mode=mode)
    _check_memory(net, device, headers, tile, overlap)
    if many and not output.exists():
        try:
            output.mkdir(parents=True)
        except OSError as err:
            raise SRGANError(f"{output}: cannot create the output folder ({err.strerror}); "
                             "choose a writable place") from None
    for target, (_, mode) in zip(targets, headers, strict=True):
        check_output(target, overwrite=force, mode=mode)
    options = {"scale": scale} if net == "bicubic" else {
        "device": device, "tile": tile, "overlap": overlap, "bf16": bf16, "progress": progress}
    for source, target, (_, mode) in zip(inputs, targets, headers, strict=True):
        img = load_image(source, allow_large=allow_large, keep_alpha=True)
        if mode in ("L", "LA"):  # grey in, grey out
            img = img.convert(mode)
        save_image(upscale_image(net, img, **options), target, overwrite=force)
        yield source, target, img.size, scale


def _check_memory(net, device, headers, tile, overlap):
    """Refuse, in one line, work whose estimated peak RAM is above what is available."""
    available = _available_ram()
    if available is None or not headers:
        return
    (w, h), _ = max(headers, key=lambda item: item[0][0] * item[0][1])
    need = _peak_memory(net, w, h, tile=tile, overlap=overlap)
    if device.type != "cpu" and net != "bicubic":  # activations on the GPU; RAM: the output
        need = w * h * model_scale(net) ** 2 * 3 * 2
    if need > available:
        s = model_scale(net) if net != "bicubic" else 4
        output_only = w * h * s * s * 3 * 2 > available
        fix = ("the output alone does not fit: upscale a smaller image or a crop" if output_only
               else "use tiles (--tile 192, or smaller)" if not tile
               else "use smaller tiles (--tile 96) or a smaller image")
        raise SRGANError(f"a {w}x{h} image needs about {need / 2 ** 30:.1f} GB of RAM here "
                         f"and {available / 2 ** 30:.1f} GB are available; {fix}")
