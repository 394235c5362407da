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

__all__ = ["CONTENT_LOSSES", "PixelContentLoss", "VGGContentLoss", "content_loss",
           "discriminator_loss", "generator_adversarial_loss", "perceptual_loss"]

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


def content_loss(name, weights="IMAGENET1K_V1", rescale=12.75):
    """Build a content loss by name: ``'mse'``, ``'vgg22'`` or ``'vgg54'``.

    Args:
        name (str): one of ``CONTENT_LOSSES``.
        weights (str | None): VGG weights for the VGG losses (see ``TruncatedVGG19``).
        rescale (float): the VGG losses' divisor of the feature maps (the paper's 12.75).

    Returns:
        nn.Module: called as ``loss(sr, hr)`` with images in [-1, 1].

    Explained in: book/03_content_loss.ipynb
    """
    if name == "mse":
        return PixelContentLoss()
    if name in ("vgg22", "vgg54"):
        return VGGContentLoss(int(name[3]), int(name[4]), weights=weights, rescale=rescale)
    raise ValueError(f"content loss must be one of {CONTENT_LOSSES}, got {name!r}")


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
