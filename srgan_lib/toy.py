"""The MSE averaging problem in miniature: several sharp answers, one input, seconds on a CPU.

Many sharp HR images shrink to the same LR image. Ledig et al. argue (Figure 3 of the paper)
that a network trained with the pixel MSE answers with their blurry *average*, and that an
adversarial loss pushes it back towards one of them. This module makes that visible:
``stripe_answers`` gives four striped 8x8 HR patches that ``box_downscale`` shrinks to the
same flat grey 2x2 LR patch; ``train_toy`` trains a tiny MLP ``ToyGenerator`` (LR patch and
a random code z in) with MSE alone, or MSE plus the adversarial loss of a ``ToyDiscriminator``
through the library's own ``discriminator_loss`` and ``generator_adversarial_loss`` (Eq. 2
and 6); ``distances``, ``total_variation`` and ``expected_mse`` are what the chapter prints.

Patches are (N, H, W) tensors in [-1, 1], the generator's range. Everything runs in float64
on one thread from fixed seeds, so the printed numbers are the same on every run.
"""

from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from .images import convert_image
from .losses import (PixelContentLoss, discriminator_loss, generator_adversarial_loss,
                     perceptual_loss)

__all__ = ["stripe_answers", "box_downscale", "ToyGenerator", "ToyDiscriminator", "toy_step",
           "train_toy", "sample", "distances", "total_variation", "expected_mse", "as_images"]


def stripe_answers(size=8, level=0.75):
    """Four sharp (size, size) HR patches, float64, that all shrink by 4 to one flat grey patch.

    Stripes two pixels wide, at +level and -level, vertical and horizontal, each in two
    phases: every 4x4 block holds two bright and two dark columns (or rows), so it averages
    to 0. ``size`` is a multiple of 4.

    Explained in: book/02_mse_averaging.ipynb
    """
    bright = (torch.arange(size) // 2) % 2 == 0  # True, True, False, False, True, ...
    stripe = torch.where(bright, 1.0, -1.0).to(torch.float64) * level  # (size,)
    vertical = stripe.expand(size, size)  # every row the same: vertical stripes
    horizontal = vertical.T
    return torch.stack([vertical, -vertical, horizontal, -horizontal])


def box_downscale(hr, scale=4):
    """Shrink (N, H, W) patches to (N, H / scale, W / scale) by averaging each block.

    Explained in: book/02_mse_averaging.ipynb
    """
    return F.avg_pool2d(hr.unsqueeze(1), scale).squeeze(1)


class ToyGenerator(nn.Module):
    """A tiny generator: LR patch and random code z in, HR patch out (tanh, [-1, 1]).

    An MLP with PReLUs (the paper's generator's activation). ``lr_pixels`` is the size of
    the LR patch (4 for 2x2), ``z_dim`` that of the code that lets it choose an answer.

    Explained in: book/02_mse_averaging.ipynb
    """

    def __init__(self, lr_pixels=4, hr_size=8, z_dim=8, hidden=128):
        super().__init__()
        self.hr_size, self.z_dim = hr_size, z_dim
        self.net = nn.Sequential(
            nn.Linear(lr_pixels + z_dim, hidden), nn.PReLU(),
            nn.Linear(hidden, hidden), nn.PReLU(),
            nn.Linear(hidden, hr_size * hr_size), nn.Tanh())

    def forward(self, lr, z):
        """(N, h, w) LR patches and (N, z_dim) codes -> (N, hr_size, hr_size) HR patches."""
        x = torch.cat([lr.flatten(1), z], dim=1)  # (N, h*w + z_dim)
        return self.net(x).view(-1, self.hr_size, self.hr_size)


class ToyDiscriminator(nn.Module):
    """A tiny discriminator: an HR patch in, one logit out (real answer versus generated).

    An MLP with a LeakyReLU of slope 0.2, like the paper's discriminator.

    Explained in: book/02_mse_averaging.ipynb
    """

    def __init__(self, hr_size=8, hidden=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hr_size * hr_size, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, hr):
        """(N, H, W) patches -> (N, 1) logits."""
        return self.net(hr.flatten(1))


@contextmanager
def _one_thread():
    """Tiny networks run fastest on one thread, and then cannot depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@_one_thread()
def train_toy(answers, beta=0.0, steps=600, batch_size=64, lr=4e-3, seed=0):
    """Train a ``ToyGenerator`` on the LR patch of ``answers``, with MSE or MSE + adversarial.

    Each sample pairs the LR patch with one answer drawn at random, as a data set of photos
    pairs an LR patch with whichever HR patch it came from; each step is ``toy_step``
    (D first, then G, as the real SRGAN training does; ``beta=0`` is MSE alone, no D).

    Args:
        answers (Tensor): (K, H, W) HR patches with one LR patch (see ``stripe_answers``).
        beta (float): weight of the adversarial term; 0 for MSE alone.
        steps (int): optimiser steps.
        batch_size (int): samples per step.
        lr (float): learning rate of Adam (both networks).
        seed (int): seeds torch's global generator (weights) and the data's generator.

    Returns:
        tuple: the trained ``ToyGenerator`` (float64, eval mode) and a history dict of lists
        ``step``, ``to_mean``, ``to_nearest``: mean distances of 256 outputs (``distances``),
        measured now and then; and ``adversarial``: the generator's ``-log D`` of every
        training step (empty when ``beta`` is 0).

    Explained in: book/02_mse_averaging.ipynb
    """
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    answers = answers.to(torch.float64)
    lr_patch = box_downscale(answers[:1])  # (1, h, w): the LR patch every answer shares
    generator = ToyGenerator(lr_patch[0].numel(), answers.shape[-1]).double()
    discriminator = ToyDiscriminator(answers.shape[-1]).double()
    # beta1 = 0.5, not the paper's 0.9: the usual choice for GANs since DCGAN (Radford et
    # al. 2016); a shorter momentum lets G follow a D that keeps changing.
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    history = {"step": [], "to_mean": [], "to_nearest": [], "adversarial": []}
    for step in range(steps + 1):
        if step % max(steps // 20, 1) == 0 or step == steps:  # how far G is, now and then
            d = distances(sample(generator, lr_patch, 256), answers)
            history["step"].append(step)
            history["to_mean"].append(d["to_mean"].mean().item())
            history["to_nearest"].append(d["to_nearest"].mean().item())
        if step == steps:
            break
        hr = answers[torch.randint(len(answers), (batch_size,), generator=rng)]  # (B, H, W)
        z = torch.randn(batch_size, generator.z_dim, generator=rng, dtype=torch.float64)
        adversarial = toy_step(generator, discriminator, opt_g, opt_d, lr_patch, hr, z, beta)
        if beta > 0:
            history["adversarial"].append(adversarial)
    return generator.eval(), history


def toy_step(generator, discriminator, opt_g, opt_d, lr_patch, hr, z, beta):
    """One training step: D learns real from generated (if ``beta`` > 0), then G learns.

    G's loss is the perceptual loss of Eq. 3, pixel MSE (Eq. 4) + ``beta`` * ``-log D(G)``
    (Eq. 6); with ``beta=0`` it is the MSE alone and D is not used.

    Args:
        generator (ToyGenerator): G.
        discriminator (ToyDiscriminator): D.
        opt_g, opt_d (torch.optim.Optimizer): their optimisers.
        lr_patch (torch.Tensor): (1, h, w), the LR patch every answer shares.
        hr (torch.Tensor): (B, H, W), one drawn answer per sample.
        z (torch.Tensor): (B, z_dim), one code per sample.
        beta (float): weight of the adversarial term.

    Returns:
        float: G's adversarial loss ``-log D(G)`` of this step (0.0 when ``beta`` is 0).

    Explained in: book/02_mse_averaging.ipynb
    """
    sr = generator(lr_patch.expand(len(hr), -1, -1), z)  # (B, H, W)
    adversarial = torch.zeros(())
    if beta > 0:
        # 1. Discriminator: answers -> real, sr (detached: G does not move) -> fake.
        loss_d = discriminator_loss(discriminator(hr), discriminator(sr.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        adversarial = generator_adversarial_loss(discriminator(sr))
    # 2. Generator. (The gradients this leaves in D are cleared before D's next step.)
    loss_g = perceptual_loss(PixelContentLoss()(sr, hr), adversarial, beta)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return adversarial.item()


@torch.no_grad()
def sample(generator, lr_patch, n, seed=1):
    """(n, H, W): outputs of ``generator`` for one LR patch (1, h, w) and n seeded codes z.

    Explained in: book/02_mse_averaging.ipynb
    """
    z = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed),
                    dtype=torch.float64)
    return generator(lr_patch.to(torch.float64).expand(n, -1, -1), z)


def _rms(a, b):
    return (a - b).pow(2).mean(dim=(-2, -1)).sqrt()


def distances(patches, answers):
    """RMS distances (per pixel) of patches (N, H, W) to the answers (K, H, W) and their mean.

    Returns:
        dict: ``to_mean`` (N,), ``to_answers`` (N, K), ``to_nearest`` (N,), and ``nearest``
        (N,), the index of the nearest answer.

    Explained in: book/02_mse_averaging.ipynb
    """
    to_answers = _rms(patches.unsqueeze(1), answers.unsqueeze(0))  # (N, K)
    to_nearest, nearest = to_answers.min(dim=1)
    return {"to_mean": _rms(patches, answers.mean(dim=0)), "to_answers": to_answers,
            "to_nearest": to_nearest, "nearest": nearest}


def total_variation(patches):
    """Sharpness, (N, H, W) -> (N,): the mean absolute jump between neighbouring pixels.

    0 for a flat patch; large for stripes and edges.

    Explained in: book/02_mse_averaging.ipynb
    """
    across = (patches[..., :, 1:] - patches[..., :, :-1]).abs().flatten(-2)
    down = (patches[..., 1:, :] - patches[..., :-1, :]).abs().flatten(-2)
    return torch.cat([across, down], dim=-1).mean(dim=-1)


def expected_mse(prediction, answers):
    """The MSE a prediction (H, W) scores on average when each answer is equally likely.

    Explained in: book/02_mse_averaging.ipynb
    """
    return (prediction - answers).pow(2).mean().item()


def as_images(patches):
    """(N, H, W) patches in [-1, 1] -> a list of grey PIL images, for ``sl.show_images``.

    Explained in: book/02_mse_averaging.ipynb
    """
    return [convert_image(p.expand(3, -1, -1), "[-1, 1]", "pil") for p in patches.cpu()]
