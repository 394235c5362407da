"""The losses, checked against their formulas."""

import math

import pytest
import torch

from srgan_lib.images import convert_image
from srgan_lib.losses import (CONTENT_LOSSES, PixelContentLoss, VGGContentLoss, WithGridLoss,
                              content_loss, discriminator_loss, generator_adversarial_loss,
                              grid_loss, perceptual_loss)


def test_pixel_content_loss_is_mse():
    sr = torch.zeros(1, 3, 2, 2)
    hr = torch.full((1, 3, 2, 2), 0.5)
    assert PixelContentLoss()(sr, hr).item() == pytest.approx(0.25)


def test_vgg_content_loss_formula_and_normalisation():
    torch.manual_seed(0)
    loss = VGGContentLoss(2, 2, weights=None, rescale=12.75)
    sr, hr = torch.rand(2, 3, 16, 16) * 2 - 1, torch.rand(2, 3, 16, 16) * 2 - 1
    vgg = loss.truncated_vgg19
    # The loss feeds VGG imagenet-norm images, not the [-1, 1] images it is given.
    expected = torch.mean((vgg(convert_image(sr, "[-1, 1]", "imagenet-norm")) / 12.75
                           - vgg(convert_image(hr, "[-1, 1]", "imagenet-norm")) / 12.75) ** 2)
    torch.testing.assert_close(loss(sr, hr), expected)
    assert loss(hr, hr).item() == 0


def test_vgg_content_loss_gradient_reaches_sr_only():
    loss = VGGContentLoss(1, 2, weights=None)
    sr = torch.rand(1, 3, 8, 8, requires_grad=True)
    hr = torch.rand(1, 3, 8, 8, requires_grad=True)
    loss(sr, hr).backward()
    assert sr.grad is not None and sr.grad.abs().sum() > 0
    assert hr.grad is None
    assert all(p.grad is None for p in loss.parameters())


def test_content_loss_factory():
    assert isinstance(content_loss("mse"), PixelContentLoss)
    vgg22 = content_loss("vgg22", weights=None)
    assert (vgg22.truncated_vgg19.i, vgg22.truncated_vgg19.j) == (2, 2)
    vgg54 = content_loss("vgg54", weights=None)
    assert (vgg54.truncated_vgg19.i, vgg54.truncated_vgg19.j) == (5, 4)
    assert set(CONTENT_LOSSES) == {"mse", "vgg22", "vgg54"}
    with pytest.raises(ValueError, match="vgg54"):
        content_loss("l1")


def test_discriminator_loss_is_bce_real_one_fake_zero():
    hr_logits = torch.tensor([[2.0], [0.0]])
    sr_logits = torch.tensor([[-1.0], [3.0]])
    sigmoid = torch.sigmoid
    expected = (-torch.log(sigmoid(hr_logits)).mean()
                - torch.log(1 - sigmoid(sr_logits)).mean())
    torch.testing.assert_close(discriminator_loss(hr_logits, sr_logits), expected)


def test_generator_adversarial_loss_is_minus_log_d():
    sr_logits = torch.tensor([[0.0], [1.0]])
    expected = -torch.log(torch.sigmoid(sr_logits)).mean()
    torch.testing.assert_close(generator_adversarial_loss(sr_logits), expected)
    # Exact where a sigmoid would saturate: a confident "fake" still gives a finite loss.
    assert generator_adversarial_loss(torch.tensor([[-200.0]])).item() == pytest.approx(200.0)
    assert generator_adversarial_loss(torch.tensor([[0.0]])).item() == pytest.approx(math.log(2))


def test_perceptual_loss_weights_the_adversarial_term_by_1e3():
    content, adversarial = torch.tensor(0.5), torch.tensor(2.0)
    assert perceptual_loss(content, adversarial).item() == pytest.approx(0.502)
    assert perceptual_loss(content, adversarial, beta=0.1).item() == pytest.approx(0.7)


def test_vgg_content_loss_default_rescale_is_the_papers_12_75():
    # Ledig et al., Section 2.2.1: VGG feature maps are divided by 12.75.
    torch.manual_seed(0)
    default = VGGContentLoss(2, 2, weights=None)
    assert default.rescale == 12.75
    assert content_loss("vgg54", weights=None).rescale == 12.75
    assert content_loss("vgg22", weights=None, rescale=1.0).rescale == 1.0
    sr, hr = torch.rand(1, 3, 16, 16) * 2 - 1, torch.rand(1, 3, 16, 16) * 2 - 1
    vgg = default.truncated_vgg19
    raw = torch.mean((vgg(convert_image(sr, "[-1, 1]", "imagenet-norm"))
                      - vgg(convert_image(hr, "[-1, 1]", "imagenet-norm"))) ** 2)
    torch.testing.assert_close(default(sr, hr), raw / 12.75 ** 2)


def test_grid_loss_is_the_mean_square_of_a_drawn_grid():
    # HR plus a fixed 4x4 pattern of mean 0 repeated over the image: the loss is the
    # pattern's mean square, exactly, whatever the image underneath.
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 24) * 2 - 1
    pattern = torch.randn(3, 4, 4)
    pattern -= pattern.mean(dim=(1, 2), keepdim=True)
    sr = hr + pattern.repeat(1, 8, 6)
    assert grid_loss(sr, hr).item() == pytest.approx(pattern.square().mean().item(), rel=1e-5)
    assert grid_loss(hr, hr).item() == 0
    # A colour shift is not a grid; nor is a pattern of another period (here 3 px, whose
    # means over 4-px positions agree).
    assert grid_loss(hr + 0.3, hr).item() == pytest.approx(0, abs=1e-12)
    stripes = torch.tensor([0.5, -0.25, -0.25]).repeat(8)[:24]
    assert grid_loss(hr + stripes.expand(2, 3, 32, 24), hr).item() < 1e-3


def test_grid_loss_lets_noise_through_and_reads_the_period():
    # Noise falls on every position alike: its means over the 16 positions, of 16x16 = 256
    # pixels each, vary by 1/16 of it, so the loss is about 1/256 of the MSE.
    torch.manual_seed(1)
    hr = torch.zeros(4, 3, 64, 64)
    sr = hr + 0.1 * torch.randn_like(hr)
    assert grid_loss(sr, hr) < 0.03 * torch.nn.functional.mse_loss(sr, hr)
    # A checkerboard of 2x2 squares repeats every 4 px: a grid for period 4, none for 2.
    y, x = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    four = 0.1 * ((y // 2 + x // 2) % 2 * 2 - 1).float()
    assert grid_loss(hr + four, hr, period=4).item() == pytest.approx(0.01)
    assert grid_loss(hr + four, hr, period=2).item() == pytest.approx(0, abs=1e-12)


def test_tiled_grid_loss_sees_a_grid_whose_sign_follows_the_texture():
    # A grid drawn with + in the dark stripes and - in the bright ones (16-px stripes):
    # over the whole crop its means cancel, in 16-px tiles they do not.
    torch.manual_seed(3)
    hr = torch.rand(2, 3, 64, 64) * 0.2
    pattern = torch.randn(4, 4)
    pattern -= pattern.mean()
    sign = ((torch.arange(64) // 16) % 2 * 2 - 1).float().view(64, 1)
    sr = hr + 0.1 * sign * pattern.repeat(16, 16)
    drawn = (0.1 * pattern).square().mean().item()
    assert grid_loss(sr, hr).item() < 1e-12
    assert grid_loss(sr, hr, window=16).item() == pytest.approx(drawn, rel=1e-5)
    # A 32-px tile holds one dark and one bright stripe: the grid cancels again.
    assert grid_loss(sr, hr, window=32).item() < 1e-12
    # A fixed grid is the same to both; a tile that does not fit the crop is refused.
    fixed = hr + 0.1 * pattern.repeat(16, 16)
    torch.testing.assert_close(grid_loss(fixed, hr, window=16), grid_loss(fixed, hr))
    with pytest.raises(ValueError, match="24x24 tiles"):
        grid_loss(sr, hr, window=24)


def test_content_loss_passes_the_grid_window_on():
    torch.manual_seed(4)
    hr = torch.rand(1, 3, 32, 32)
    sign = ((torch.arange(32) // 8) % 2 * 2 - 1).float().view(32, 1)
    sr = hr + 0.05 * sign * torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(16, 16)
    mse = torch.nn.functional.mse_loss(sr, hr)
    torch.testing.assert_close(content_loss("mse", grid_weight=10, period=2)(sr, hr), mse)
    torch.testing.assert_close(content_loss("mse", grid_weight=10, period=2, grid_window=8)(sr, hr),
                               mse + 10 * grid_loss(sr, hr, period=2, window=8))
    assert grid_loss(sr, hr, period=2, window=8) > 0.002


def test_content_loss_with_a_grid_weight_adds_the_grid_loss():
    torch.manual_seed(2)
    sr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    assert isinstance(content_loss("mse"), PixelContentLoss)  # no weight: the paper's loss
    loss = content_loss("mse", grid_weight=100, period=4)
    assert isinstance(loss, WithGridLoss)
    expected = torch.nn.functional.mse_loss(sr, hr) + 100 * grid_loss(sr, hr, 4)
    assert loss(sr, hr).item() == pytest.approx(expected.item())
