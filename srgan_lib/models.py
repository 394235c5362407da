"""SRResNet, the SRGAN generator and the SRGAN discriminator, top to bottom.

The networks of Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network", CVPR 2017 (Figure 4), written so that every module and
attribute name matches the reference PyTorch tutorial (sgrvinod,
"a-PyTorch-Tutorial-to-Super-Resolution", 2020). A ``state_dict`` saved from the
tutorial's classes therefore loads into these classes key for key, and back.

Data conventions, the same as the reference so that weights are interchangeable:

* the generator (``SRResNet`` / ``Generator``) takes LR images normalised with the
  ImageNet mean and standard deviation (``imagenet-norm``) and returns SR images in
  ``[-1, 1]`` (a ``tanh`` output);
* the ``Discriminator`` sees images in ``imagenet-norm``.

The classes read in dependency order: a conv block, the sub-pixel (PixelShuffle)
upsampler, the residual block, SRResNet, the generator that wraps it, the discriminator.
The truncated VGG19 used by the content loss lives in ``vgg.py``.
"""

import math

from torch import nn

__all__ = [
    "ConvolutionalBlock",
    "SubPixelConvolutionalBlock",
    "ResidualBlock",
    "SRResNet",
    "Generator",
    "Discriminator",
]

_ACTIVATIONS = {"prelu", "leakyrelu", "tanh"}


class ConvolutionalBlock(nn.Module):
    """Convolution, then optional batch norm, then an optional activation.

    The block behind every convolutional layer of the paper's networks except the
    sub-pixel upsamplers' own. ``padding`` is ``kernel_size // 2`` so that a stride-1 block
    keeps the spatial size.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels of the output.
        kernel_size (int): side of the square kernel (odd).
        stride (int): 1 keeps the size, 2 halves it (the discriminator's downsampling).
        batch_norm (bool): add ``BatchNorm2d`` after the convolution.
        activation (str | None): ``'prelu'``, ``'leakyrelu'`` (slope 0.2), ``'tanh'``
            or ``None``; case-insensitive, as in the reference (``'PReLu'``).

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1,
                 batch_norm=False, activation=None):
        super().__init__()
        if activation is not None:
            activation = activation.lower()
            if activation not in _ACTIVATIONS:
                raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} "
                                 f"or None, got {activation!r}")

        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                            padding=kernel_size // 2)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        if activation == "prelu":
            layers.append(nn.PReLU())  # one learnt slope shared by all channels
        elif activation == "leakyrelu":
            layers.append(nn.LeakyReLU(0.2))  # the paper's alpha = 0.2
        elif activation == "tanh":
            layers.append(nn.Tanh())  # output in [-1, 1]
        # The name `conv_block` gives state_dict keys like `conv_block.0.weight`,
        # exactly the reference tutorial's.
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        """Apply the block: (N, in_channels, h, w) -> (N, out_channels, h/stride, w/stride)."""
        return self.conv_block(x)


class SubPixelConvolutionalBlock(nn.Module):
    """Upsample by ``scaling_factor`` with a convolution and a pixel shuffle (Shi et al. 2016).

    The convolution makes ``scaling_factor**2`` times more channels; ``PixelShuffle``
    rearranges each group of ``s*s`` channels into an ``s x s`` patch of pixels. Unlike a
    transposed convolution this learns the upsampling in LR space (cheap) and avoids
    its checkerboard overlap artefacts.

    Args:
        kernel_size (int): kernel of the convolution.
        n_channels (int): channels in and out.
        scaling_factor (int): how much larger each side becomes (the paper uses 2, twice).

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, kernel_size=3, n_channels=64, scaling_factor=2):
        super().__init__()
        self.conv = nn.Conv2d(n_channels, n_channels * scaling_factor ** 2, kernel_size,
                              padding=kernel_size // 2)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor=scaling_factor)
        self.prelu = nn.PReLU()

    def forward(self, x):
        """Upsample: (N, n_channels, h, w) -> (N, n_channels, h*s, w*s)."""
        x = self.conv(x)  # (N, c, h, w) -> (N, c*s*s, h, w)
        x = self.pixel_shuffle(x)  # (N, c*s*s, h, w) -> (N, c, h*s, w*s)
        return self.prelu(x)


class ResidualBlock(nn.Module):
    """Two conv blocks (conv-BN-PReLU, conv-BN) with an identity skip around them.

    The skip lets each block learn only a correction to its input, which is what makes
    a 16-block network trainable (He et al. 2016).

    Args:
        kernel_size (int): kernel of both convolutions.
        n_channels (int): channels in and out.

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, kernel_size=3, n_channels=64):
        super().__init__()
        self.conv_block1 = ConvolutionalBlock(n_channels, n_channels, kernel_size,
                                              batch_norm=True, activation="prelu")
        self.conv_block2 = ConvolutionalBlock(n_channels, n_channels, kernel_size,
                                              batch_norm=True, activation=None)

    def forward(self, x):
        """Residual update: (N, c, h, w) -> (N, c, h, w)."""
        residual = x
        x = self.conv_block1(x)
        x = self.conv_block2(x)
        return x + residual


class SRResNet(nn.Module):
    """The SRResNet generator of the paper (Figure 4, top).

    A 9x9 conv, ``n_blocks`` residual blocks, a conv + BN with a long skip from the first
    conv, ``log2(scaling_factor)`` sub-pixel x2 upsamplers, and a 9x9 conv to RGB with
    ``tanh``. Input: LR in ``imagenet-norm``; output: SR in ``[-1, 1]``.

    Args:
        large_kernel_size (int): kernel of the first and last convolutions (9).
        small_kernel_size (int): kernel of every other convolution (3).
        n_channels (int): width of the network (64).
        n_blocks (int): number of residual blocks (16).
        scaling_factor (int): 2, 4 or 8 (a power of two: each upsampler doubles).

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, large_kernel_size=9, small_kernel_size=3, n_channels=64,
                 n_blocks=16, scaling_factor=4):
        super().__init__()
        scaling_factor = int(scaling_factor)
        if scaling_factor not in {2, 4, 8}:
            raise ValueError(f"scaling_factor must be 2, 4 or 8, got {scaling_factor}")

        self.conv_block1 = ConvolutionalBlock(3, n_channels, large_kernel_size,
                                              batch_norm=False, activation="prelu")
        self.residual_blocks = nn.Sequential(
            *[ResidualBlock(small_kernel_size, n_channels) for _ in range(n_blocks)])
        self.conv_block2 = ConvolutionalBlock(n_channels, n_channels, small_kernel_size,
                                              batch_norm=True, activation=None)
        n_upsamplers = int(math.log2(scaling_factor))
        self.subpixel_convolutional_blocks = nn.Sequential(
            *[SubPixelConvolutionalBlock(small_kernel_size, n_channels, scaling_factor=2)
              for _ in range(n_upsamplers)])
        self.conv_block3 = ConvolutionalBlock(n_channels, 3, large_kernel_size,
                                              batch_norm=False, activation="tanh")

    def forward(self, lr_imgs):
        """Super-resolve: (N, 3, h, w) imagenet-norm -> (N, 3, h*s, w*s) in [-1, 1]."""
        x = self.conv_block1(lr_imgs)  # (N, 3, h, w) -> (N, 64, h, w)
        residual = x
        x = self.residual_blocks(x)  # (N, 64, h, w)
        x = self.conv_block2(x) + residual  # the long skip of Figure 4
        x = self.subpixel_convolutional_blocks(x)  # (N, 64, h, w) -> (N, 64, h*s, w*s)
        return self.conv_block3(x)  # (N, 64, h*s, w*s) -> (N, 3, h*s, w*s)


class Generator(nn.Module):
    """The SRGAN generator: the same network as SRResNet, held as ``self.net``.

    Wrapping (rather than subclassing) is the reference tutorial's choice; it makes the
    state_dict keys ``net.conv_block1...``, and ``initialize_with_srresnet`` copies the
    stage-1 weights in, as the paper initialises SRGAN from SRResNet (section 3.2).

    Args: the same as ``SRResNet``.

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, large_kernel_size=9, small_kernel_size=3, n_channels=64,
                 n_blocks=16, scaling_factor=4):
        super().__init__()
        self.net = SRResNet(large_kernel_size, small_kernel_size, n_channels,
                            n_blocks, scaling_factor)

    def initialize_with_srresnet(self, srresnet):
        """Copy the weights of a trained ``SRResNet`` (a module or its state_dict) into ``net``."""
        state = srresnet.state_dict() if isinstance(srresnet, nn.Module) else srresnet
        self.net.load_state_dict(state)

    def forward(self, lr_imgs):
        """Super-resolve: (N, 3, h, w) imagenet-norm -> (N, 3, h*s, w*s) in [-1, 1]."""
        return self.net(lr_imgs)


class Discriminator(nn.Module):
    """The SRGAN discriminator (Figure 4, bottom): is this HR image real?

    ``n_blocks`` conv blocks with LeakyReLU, alternating stride 1 (channels double, from
    ``n_channels``) and stride 2 (size halves); BN on all but the first. Then an adaptive
    average pool to 6x6 (so any input size works, as in the reference), a dense layer of
    ``fc_size``, LeakyReLU, and one output. It returns a *logit*: the sigmoid is folded
    into the loss (``BCEWithLogitsLoss``), which is numerically safer.

    Args:
        kernel_size (int): kernel of every convolution (3).
        n_channels (int): channels of the first block (64).
        n_blocks (int): number of conv blocks (8: 64, 64, 128, 128, 256, 256, 512, 512).
        fc_size (int): width of the dense layer (1024).

    Explained in: book/04_building_modules.ipynb
    """

    def __init__(self, kernel_size=3, n_channels=64, n_blocks=8, fc_size=1024):
        super().__init__()
        blocks = []
        in_channels = 3
        for i in range(n_blocks):
            if i % 2 == 0:  # stride-1 blocks widen: 64 first, then double
                out_channels = n_channels if i == 0 else in_channels * 2
            else:  # stride-2 blocks keep the width and halve the size
                out_channels = in_channels
            blocks.append(ConvolutionalBlock(in_channels, out_channels, kernel_size,
                                             stride=1 if i % 2 == 0 else 2,
                                             batch_norm=i != 0, activation="leakyrelu"))
            in_channels = out_channels
        self.conv_blocks = nn.Sequential(*blocks)
        self.adaptive_pool = nn.AdaptiveAvgPool2d((6, 6))
        self.fc1 = nn.Linear(out_channels * 6 * 6, fc_size)
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.fc2 = nn.Linear(fc_size, 1)

    def forward(self, imgs):
        """Score images: (N, 3, H, W) imagenet-norm -> (N, 1) logits (real > 0 > fake)."""
        x = self.conv_blocks(imgs)  # (N, 3, H, W) -> (N, 512, H/16, W/16)
        x = self.adaptive_pool(x)  # -> (N, 512, 6, 6)
        x = self.leaky_relu(self.fc1(x.flatten(1)))  # -> (N, 1024)
        return self.fc2(x)  # -> (N, 1)
