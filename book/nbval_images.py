"""Compare images embedded in HTML outputs with a tolerance, not byte for byte.

nbval compares a cell's ``text/html`` output exactly. A before/after slider embeds its images
as base64 PNGs, and its element id is a hash of them, so the stored page would fail on a
machine whose Pillow (the LR images are made with Pillow's bicubic) or CPU rounds a handful
of the network's 8-bit values the other way: one grey level in 3 of 76,800 values was seen.
Stored outputs must hold on any machine, so here, before nbval's exact comparison:

1. every ``data:image/png;base64,...`` payload in a text output is decoded, in order, on both
   sides, and the pairs are compared with a tolerance (``MAX_LEVELS`` grey levels at most,
   on at most ``MAX_FRACTION`` of the values); a wrong picture, crop, size or model fails;
2. then each payload is replaced by a placeholder that keeps its size, and the slider's
   pixel-derived element id by a fixed one, so the rest of the HTML is still compared exactly.

``book/conftest.py`` installs it with ``install()``.
"""

import base64
import copy
import io
import re

import numpy as np
from PIL import Image

PAYLOAD = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")
SLIDER_ID = re.compile(r"srgan-slider-[0-9a-f]{12}")
MAX_LEVELS = 4  # no value may differ by more than this many 8-bit levels
MAX_FRACTION = 0.005  # and at most this share of the values may differ at all


def decode_png(payload):
    """The pixels of a base64 PNG payload, as a uint8 array (H, W, C)."""
    img = Image.open(io.BytesIO(base64.b64decode(payload)))
    return np.atleast_3d(np.asarray(img))


def compare_images(ref, test):
    """None if two uint8 images agree within the tolerance, else one line saying how they differ."""
    if ref.shape != test.shape:
        return f"size {test.shape} where the stored image is {ref.shape}"
    diff = np.abs(ref.astype(np.int16) - test.astype(np.int16))
    worst, share = int(diff.max()), float((diff > 0).mean())
    if worst > MAX_LEVELS or share > MAX_FRACTION:
        return (f"{share:.3%} of the values differ, by up to {worst} levels (allowed: "
                f"{MAX_FRACTION:.1%}, {MAX_LEVELS} levels)")
    return None


def _texts(outputs):
    """(output index, mime type, text) of every text in a cell's outputs that may embed PNGs."""
    for i, out in enumerate(outputs):
        for mime, value in (out.get("data") or {}).items():
            if not mime.startswith("image/") and isinstance(value, str):
                yield i, mime, value


def _images(outputs):
    return [decode_png(p) for _, _, text in _texts(outputs) for p in PAYLOAD.findall(text)]


def _neutralise(outputs):
    """A copy of the outputs with each PNG payload replaced by its size and the slider id fixed."""
    outputs = copy.deepcopy(list(outputs))
    for i, mime, text in list(_texts(outputs)):
        def placeholder(match):
            shape = "x".join(map(str, decode_png(match.group(1)).shape))
            return f"data:image/png;base64,<PNG {shape}, compared with a tolerance>"

        outputs[i]["data"][mime] = SLIDER_ID.sub("srgan-slider-ID", PAYLOAD.sub(placeholder, text))
    return outputs


def embedded_image_problems(ref_outputs, test_outputs):
    """Lines describing where the embedded images of two cells' outputs differ beyond tolerance."""
    ref, test = _images(ref_outputs), _images(test_outputs)
    if len(ref) != len(test):
        return [f"{len(test)} embedded images where the stored output has {len(ref)}"]
    found = [(n, compare_images(r, t)) for n, (r, t) in enumerate(zip(ref, test, strict=True))]
    return [f"embedded image {n + 1} of {len(ref)}: {why}" for n, why in found if why]


def install():
    """Make nbval compare embedded PNGs with a tolerance and the rest of the output exactly."""
    from nbval.plugin import IPyNbCell

    exact = IPyNbCell.compare_outputs
    if getattr(exact, "tolerant_images", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        problems = embedded_image_problems(ref, test)
        if problems:
            self.comparison_traceback = problems
            return False
        return exact(self, _neutralise(test), _neutralise(ref), skip_compare)

    compare_outputs.tolerant_images = True
    IPyNbCell.compare_outputs = compare_outputs
