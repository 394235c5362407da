"""The losses of the paper: content, adversarial, and their sum, the perceptual loss.

Ledig et al. (Section 2.2) train the generator with a *perceptual loss*

    l^SR = l^SR_X + 1e-3 * l^SR_Gen                                         (Eq. 3)

where the content loss l^SR_X is either the pixel-wise MSE (Eq. 4; "SRGAN-MSE" and the
whole SRResNet stage) or an MSE between VGG19 feature maps phi_{i,j} (Eq. 5; "SRGAN-VGG54"
is the paper's SRGAN), and the adversarial loss l^SR_Gen = -log D(G(I^LR)) (Eq. 6).

Conventions: every loss here takes SR and HR images in ``[-1, 1]`` (the generator's
``tanh`` range and the training targets); conversion to what VGG expects
(``imagenet-norm``) happens inside ``VGGContentLoss``, so a caller cannot forget it.
The discriminator returns logits; the sigmoid lives inside ``binary_cross_entropy_with_logits``,
which is exact where a separate sigmoid + log would underflow.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .images import convert_image
from .vgg import TruncatedVGG19

__all__ = ["CONTENT_LOSSES", "PixelContentLoss", "VGGContentLoss", "WithGridLoss", "content_loss",
           "grid_loss", "discriminator_loss", "generator_adversarial_loss", "perceptual_loss"]

CONTENT_LOSSES = ("mse", "vgg22", "vgg54")

# The paper's weight of the adversarial term (Eq. 3).
BETA = 1e-3


class PixelContentLoss(nn.Module):
    """Pixel-wise MSE between SR and HR images (Eq. 4): the SRResNet and SRGAN-MSE loss.

    Its minimiser is the *mean* of all plausible HR images, hence blurry results; the
    book's chapter 2 shows why.

    Explained in: book/03_content_loss.ipynb
    """

    def forward(self, sr, hr):
        """MSE of (N, 3, H, W) tensors in [-1, 1]: a scalar."""
        return F.mse_loss(sr, hr)


class VGGContentLoss(nn.Module):
    """MSE between VGG19 feature maps phi_{i,j} of SR and HR images (Eq. 5).

    The feature maps are divided by ``rescale`` before the MSE; the paper uses 12.75
    "to obtain VGG losses of a scale that is comparable to the MSE loss" (a factor of
    about 0.006 on the loss). The reference tutorial uses no rescaling (``rescale=1``).

    Args:
        i (int): VGG19 block (5 for the paper's VGG54).
        j (int): convolution in that block (4 for VGG54).
        weights (str | None): ``'IMAGENET1K_V1'``, or ``None`` for a random VGG (tests only).
        rescale (float): the divisor of the feature maps.

    Explained in: book/03_content_loss.ipynb
    """

    def __init__(self, i=5, j=4, weights="IMAGENET1K_V1", rescale=12.75):
        super().__init__()
        self.truncated_vgg19 = TruncatedVGG19(i, j, weights=weights)
        self.rescale = rescale

    def features(self, imgs):
        """phi_{i,j} / rescale of (N, 3, H, W) images in [-1, 1]."""
        return self.truncated_vgg19(convert_image(imgs, "[-1, 1]", "imagenet-norm")) / self.rescale

    def forward(self, sr, hr):
        """MSE between the feature maps of SR and HR, both (N, 3, H, W) in [-1, 1]."""
        with torch.no_grad():  # the target needs no gradient
            target = self.features(hr)
        return F.mse_loss(self.features(sr), target)


def grid_loss(sr, hr, period=4, window=None):
    """How much more of a fixed ``period``-pixel pattern SR has than HR.

    A sub-pixel convolution makes the ``period x period`` output pixels of each input
    pixel with different filters. Where they disagree, the output carries a pattern that
    repeats every ``period`` pixels: a grid, drawn over smooth areas too. The error SR - HR
    is averaged over all the pixels at the same position within a period (per image and
    channel): noise and detail, which fall on every position alike, average out; a grid
    does not. Those ``period**2`` means, less their own mean (a shift of the whole
    image's colour is not a grid), squared and averaged, are the loss. They are the
    error's Fourier coefficients at the grid's frequencies, the peaks that
    ``metrics.periodic_artefacts`` measures.

    With ``window`` the means are taken per ``window x window`` tile instead of over the
    whole crop. A grid whose sign follows the texture (one way in a dark stripe, the other
    way in a bright one) cancels out of a mean over the whole crop, but not out of a
    small tile's: this is the loss that sees it (``metrics.local_periodic_artefacts``).

    Args:
        sr, hr (Tensor): (N, C, H, W) images, H and W multiples of ``period`` (of
            ``window`` when given).
        period (int): the grid's period in pixels: the upscaling factor.
        window (int | None): tile side in pixels, a multiple of ``period``; None: the
            whole crop.

    Returns:
        Tensor: a scalar.

    Explained in: book/06_training.ipynb
    """
    error = (sr - hr).float()
    n, c, h, w = error.shape
    th, tw = (h, w) if window is None else (window, window)
    if h % th or w % tw or th % period or tw % period:
        raise ValueError(f"grid_loss: a {h}x{w} crop does not split into {th}x{tw} tiles "
                         f"of whole {period}-pixel periods")
    # Axes: image, channel, tile row, period row, position, tile column, period column,
    # position. Averaging over the periods of each tile leaves p x p means per tile.
    tiles = error.reshape(n, c, h // th, th // period, period, w // tw, tw // period, period)
    means = tiles.mean(dim=(3, 6))
    return (means - means.mean(dim=(3, 5), keepdim=True)).square().mean()


class WithGridLoss(nn.Module):
    """A content loss plus ``weight * grid_loss``: our recipe's SRGAN stage, not the paper's.

    Args:
        content (nn.Module): the content loss, called as ``content(sr, hr)``.
        weight (float): the grid loss's weight.
        period (int): the grid's period: the upscaling factor.

    Explained in: book/06_training.ipynb
    """

    def __init__(self, content, weight, period=4, window=None):
        super().__init__()
        self.content, self.weight, self.period, self.window = content, weight, period, window

    def forward(self, sr, hr):
        """``content(sr, hr) + weight * grid_loss(sr, hr)``: a scalar."""
        return self.content(sr, hr) + self.weight * grid_loss(sr, hr, self.period, self.window)


def content_loss(name, weights="IMAGENET1K_V1", rescale=12.75, grid_weight=0.0, period=4,
                 grid_window=None):
    """Build a content loss by name: ``'mse'``, ``'vgg22'`` or ``'vgg54'``.

    Args:
        name (str): one of ``CONTENT_LOSSES``.
        weights (str | None): VGG weights for the VGG losses (see ``TruncatedVGG19``).
        rescale (float): the VGG losses' divisor of the feature maps (the paper's 12.75).
        grid_weight (float): weight of a ``grid_loss`` added to it (0: none, as the paper).
        period (int): the grid's period for ``grid_loss``: the upscaling factor.
        grid_window (int | None): ``grid_loss``'s tile side (None: the whole crop).

    Returns:
        nn.Module: called as ``loss(sr, hr)`` with images in [-1, 1].

    Explained in: book/03_content_loss.ipynb
    """
    if name == "mse":
        loss = PixelContentLoss()
    elif name in ("vgg22", "vgg54"):
        loss = VGGContentLoss(int(name[3]), int(name[4]), weights=weights, rescale=rescale)
    else:
        raise ValueError(f"content loss must be one of {CONTENT_LOSSES}, got {name!r}")
    return WithGridLoss(loss, grid_weight, period, grid_window) if grid_weight else loss


def discriminator_loss(hr_logits, sr_logits):
    """The discriminator's loss: binary cross-entropy with HR -> 1 and SR -> 0.

    ``-log D(I^HR) - log(1 - D(G(I^LR)))``, the discriminator's side of the min-max game
    (Eq. 2), averaged over the batch for each half and summed.

    Args:
        hr_logits (Tensor): discriminator logits of real HR images, (N, 1).
        sr_logits (Tensor): logits of generated images (detached from G), (N, 1).

    Returns:
        Tensor: a scalar.

    Explained in: book/05_perceptual_loss.ipynb
    """
    real = F.binary_cross_entropy_with_logits(hr_logits, torch.ones_like(hr_logits))
    fake = F.binary_cross_entropy_with_logits(sr_logits, torch.zeros_like(sr_logits))
    return real + fake


def generator_adversarial_loss(sr_logits):
    """The generator's adversarial loss ``-log D(G(I^LR))`` (Eq. 6).

    Binary cross-entropy of the SR logits against the label *real*. Minimising
    ``-log D`` instead of ``log(1 - D)`` gives strong gradients early on, when D easily
    spots fakes (Goodfellow et al. 2014); the paper uses it for that reason.

    Args:
        sr_logits (Tensor): discriminator logits of generated images, (N, 1).

    Returns:
        Tensor: a scalar.

    Explained in: book/05_perceptual_loss.ipynb
    """
    return F.binary_cross_entropy_with_logits(sr_logits, torch.ones_like(sr_logits))


def perceptual_loss(content, adversarial, beta=BETA):
    """The perceptual loss ``content + beta * adversarial`` (Eq. 3, beta = 1e-3).

    Args:
        content (Tensor): the content loss (pixel or VGG).
        adversarial (Tensor): the generator's adversarial loss.
        beta (float): weight of the adversarial term.

    Returns:
        Tensor: a scalar.

    Explained in: book/05_perceptual_loss.ipynb
    """
    return content + beta * adversarial
