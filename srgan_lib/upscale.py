"""Super-resolve a PIL image with a generator: the one path from pixels to pixels.

Evaluation, the comparison chapter and the ``upscale`` command all call ``super_resolve``,
so the conversions around the network (``imagenet-norm`` in, ``[-1, 1]`` out, clamped and
rounded to 8 bits) are written once.
"""

import torch

from .images import convert_image

__all__ = ["default_device", "super_resolve"]


def default_device():
    """``'cuda'`` when a GPU is visible, else ``'cpu'``.

    Explained in: book/07_evaluation.ipynb
    """
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.inference_mode()
def super_resolve(model, lr, device=None):
    """Upscale a whole LR image with an ``SRResNet`` or ``Generator``.

    Args:
        model (nn.Module): takes (N, 3, h, w) ``imagenet-norm``, returns ``[-1, 1]``.
        lr (PIL.Image): the LR image (RGB).
        device (str | torch.device | None): where to run; the model's device if ``None``.

    Returns:
        PIL.Image: the SR image, ``scaling_factor`` times larger, 8-bit RGB.

    Explained in: book/07_evaluation.ipynb
    """
    if device is None:
        device = next(model.parameters()).device
    model = model.to(device).eval()
    x = convert_image(lr, "pil", "imagenet-norm").unsqueeze(0).to(device)  # (1, 3, h, w)
    sr = model(x)[0].float()  # (3, h*s, w*s) in [-1, 1]
    return convert_image(sr, "[-1, 1]", "pil")
