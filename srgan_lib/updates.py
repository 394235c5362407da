"""The update math of both stages: what one training step computes.

Each function is one optimiser step of one network, in plain PyTorch. The engine
(``train.py``) adds what a real run needs around them: devices, mixed precision,
several processes, logging. ``autocast`` is a function that returns a context
manager (the engine's bf16 or float16 autocast); the default runs in full precision.
``scaler`` is a ``torch.amp.GradScaler``: under float16 it multiplies the loss before the
backward pass so that small gradients do not round to zero, and skips a step whose
gradients overflowed; the default one is switched off, and then ``scaler.scale(loss)`` is
just ``loss`` and ``scaler.step(optimizer)`` just ``optimizer.step()``.

Images: LR in ``imagenet-norm``, SR and HR in ``[-1, 1]``; the discriminator
returns logits (Ledig et al. 2017, Section 2.2).
"""

from contextlib import nullcontext

import torch

from .images import convert_image
from .losses import (discriminator_loss, generator_adversarial_loss,
                     perceptual_loss)

__all__ = ["d_input", "srresnet_update", "discriminator_update",
           "generator_update"]

NO_SCALING = torch.amp.GradScaler("cpu", enabled=False)  # plain backward() and step()


def d_input(imgs):
    """Images in [-1, 1] as the discriminator sees them: imagenet-norm.

    Explained in: book/05_perceptual_loss.ipynb
    """
    return convert_image(imgs, "[-1, 1]", "imagenet-norm")


def srresnet_update(generator, content_loss, optimizer, lr_imgs, hr_imgs,
                    autocast=nullcontext, scaler=NO_SCALING):
    """One SRResNet step: the content loss of G(LR) against HR, one Adam step.

    Returns:
        Tensor: the content loss before the step.

    Explained in: book/05_perceptual_loss.ipynb
    """
    with autocast():
        sr_imgs = generator(lr_imgs)  # (N, 3, H, W) in [-1, 1]
        loss = content_loss(sr_imgs, hr_imgs)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def discriminator_update(discriminator, optimizer, hr_imgs, sr_imgs,
                         autocast=nullcontext, scaler=NO_SCALING):
    """D's step: real HR images -> 1, generated SR images -> 0.

    SR is detached, so this step cannot move the generator. Real and fake
    go through D as two batches: D's batch norm then sees an all-fake batch
    here, as it does in the generator's step.

    Returns:
        tuple[Tensor, Tensor, Tensor]: D's loss, and its logits of HR and SR.

    Explained in: book/05_perceptual_loss.ipynb
    """
    with autocast():
        hr_logits = discriminator(d_input(hr_imgs)).float()
        sr_logits = discriminator(d_input(sr_imgs.detach())).float()
    loss = discriminator_loss(hr_logits, sr_logits)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()  # one backward for both forwards
    scaler.step(optimizer)
    scaler.update()
    return loss.detach(), hr_logits.detach(), sr_logits.detach()


def generator_update(discriminator, content_loss, optimizer, sr_imgs, hr_imgs,
                     beta=1e-3, autocast=nullcontext, scaler=NO_SCALING):
    """G's step: content + beta * adversarial (-log D(SR)), with D frozen.

    ``sr_imgs`` still carries G's graph: the loss reaches G's weights
    through it. D is frozen, so only G learns from this step.

    Returns:
        tuple[Tensor, Tensor, Tensor]: content, adversarial and perceptual loss.

    Explained in: book/05_perceptual_loss.ipynb
    """
    discriminator.requires_grad_(False)
    with autocast():
        sr_logits = discriminator(d_input(sr_imgs)).float()
        content = content_loss(sr_imgs, hr_imgs).float()
    adversarial = generator_adversarial_loss(sr_logits)  # non-saturating
    loss = perceptual_loss(content, adversarial, beta)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    discriminator.requires_grad_(True)
    return content.detach(), adversarial.detach(), loss.detach()
