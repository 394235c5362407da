"""The networks: shapes, parameter counts, and key-for-key compatibility with the reference."""

import json
from pathlib import Path

import pytest
import torch

from srgan_lib.models import (ConvolutionalBlock, Discriminator, Generator, ResidualBlock,
                              SRResNet, SubPixelConvolutionalBlock)
from srgan_lib.vgg import TruncatedVGG19

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "reference_state_dicts.json").read_text())["models"]


def shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def n_parameters(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, build", [
    ("SRResNet_x4", lambda: SRResNet(scaling_factor=4)),
    ("SRResNet_x2", lambda: SRResNet(scaling_factor=2)),
    ("SRResNet_x8", lambda: SRResNet(scaling_factor=8)),
    ("Generator_x4", lambda: Generator(scaling_factor=4)),
    ("Discriminator", lambda: Discriminator()),
    ("TruncatedVGG19_5_4", lambda: TruncatedVGG19(5, 4, weights=None)),
    ("TruncatedVGG19_2_2", lambda: TruncatedVGG19(2, 2, weights=None)),
])
def test_state_dict_matches_reference_key_for_key(name, build):
    model = build()
    reference = REFERENCE[name]
    # Same keys in the same order, same shapes: a reference state_dict loads strictly.
    assert list(shapes(model)) == list(reference["state_dict"])
    assert shapes(model) == reference["state_dict"]
    assert n_parameters(model) == reference["n_parameters"]


def test_srresnet_x4_has_the_papers_parameter_count():
    assert n_parameters(SRResNet()) == 1_549_462


def test_reference_state_dict_loads_both_ways():
    # A state_dict shaped like the reference's (here: random tensors of those shapes)
    # loads strictly into our classes, and ours comes out with the same keys.
    state = {k: torch.randn(s) if s else torch.tensor(3)
             for k, s in REFERENCE["Generator_x4"]["state_dict"].items()}
    generator = Generator()
    generator.load_state_dict(state, strict=True)
    assert torch.equal(generator.state_dict()["net.conv_block3.conv_block.0.weight"],
                       state["net.conv_block3.conv_block.0.weight"])


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_srresnet_upscales_by_its_factor_into_tanh_range(scale):
    torch.manual_seed(0)
    model = SRResNet(n_blocks=2, scaling_factor=scale).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 12, 10))
    assert out.shape == (2, 3, 12 * scale, 10 * scale)
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("scale", [3, 6, 1, 16])
def test_srresnet_rejects_scales_that_are_not_2_4_8(scale):
    with pytest.raises(ValueError, match="2, 4 or 8"):
        SRResNet(scaling_factor=scale)


def test_generator_is_srresnet_inside_and_initialises_from_it():
    torch.manual_seed(0)
    srresnet = SRResNet(n_blocks=2).eval()
    generator = Generator(n_blocks=2).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(generator(x), srresnet(x))
        generator.initialize_with_srresnet(srresnet)
        assert torch.equal(generator(x), srresnet(x))
        generator.initialize_with_srresnet(srresnet.state_dict())  # a state_dict works too
        assert torch.equal(generator(x), srresnet(x))


@pytest.mark.parametrize("size", [96, 64, 150])
def test_discriminator_scores_any_size_with_one_logit(size):
    model = Discriminator().eval()
    with torch.no_grad():
        out = model(torch.randn(3, 3, size, size))
    assert out.shape == (3, 1)


def test_discriminator_widths_follow_figure_4():
    model = Discriminator()
    widths = [b.conv_block[0].out_channels for b in model.conv_blocks]
    strides = [b.conv_block[0].stride[0] for b in model.conv_blocks]
    assert widths == [64, 64, 128, 128, 256, 256, 512, 512]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.conv_blocks[0].modules())


def test_blocks_shapes():
    x = torch.randn(1, 64, 6, 5)
    assert ConvolutionalBlock(64, 32, 3, stride=2, batch_norm=True,
                              activation="LeakyReLu")(x).shape == (1, 32, 3, 3)
    assert SubPixelConvolutionalBlock(3, 64, 2)(x).shape == (1, 64, 12, 10)
    assert ResidualBlock(3, 64)(x).shape == x.shape


def test_convolutional_block_rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        ConvolutionalBlock(3, 3, 3, activation="relu6")


def test_residual_block_is_identity_plus_correction():
    block = ResidualBlock(3, 8)
    for p in block.conv_block2.parameters():  # zero the last conv + BN -> pure skip
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(block(x), x)
