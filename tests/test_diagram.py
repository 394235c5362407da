"""Figure 4 drawn from the code: the boxes are the networks' own modules and shapes."""

import torch
from matplotlib.figure import Figure

from srgan_lib import diagram
from srgan_lib.models import Discriminator, Generator, SRResNet


def test_generator_boxes_are_its_modules_with_the_shapes_of_a_forward_pass():
    net = SRResNet(n_blocks=3).eval()
    x = torch.randn(1, 3, 12, 12)
    boxes = diagram.trace(Generator(n_blocks=3), x)  # the Generator's net is an SRResNet
    names = [b["name"] for b in boxes]
    assert names == ["conv_block1", "residual_blocks", "conv_block2",
                     "subpixel_convolutional_blocks.0", "subpixel_convolutional_blocks.1",
                     "conv_block3"]
    assert {n.split(".")[0] for n in names} == {n for n, _ in net.named_children()}
    with torch.no_grad():  # the shapes of the modules run one after the other
        h = net.conv_block1(x)
        shapes = [h.shape, net.residual_blocks(h).shape]
        h = net.conv_block2(net.residual_blocks(h)) + h
        for block in net.subpixel_convolutional_blocks:
            h = block(h)
            shapes.append(h.shape)
        shapes.insert(2, shapes[1])
        shapes.append(net.conv_block3(h).shape)
    assert [b["shape"] for b in boxes] == [tuple(s[1:]) for s in shapes]
    assert boxes[-1]["shape"] == (3, 48, 48)
    res = boxes[1]
    assert res["repeat"] == 3 and res["residual"]  # collapsed, each block adds its input
    assert res["layers"] == ["Conv", "k3n64s1", "BN", "PReLU", "Conv", "k3n64s1", "BN"]
    # The long skip: conv_block1's output is added to conv_block2's, found from the tensors.
    assert [b["skip"] for b in boxes] == [None, None, 0, None, None, None]
    assert boxes[0]["layers"] == ["Conv", "k9n64s1", "PReLU"]


def test_discriminator_boxes_list_every_module_with_channels_and_strides():
    d = Discriminator()
    d.train()
    before = d.conv_blocks[1].conv_block[1].running_mean.clone()
    boxes = diagram.trace(d, torch.randn(1, 3, 48, 48))
    assert d.training and torch.equal(before, d.conv_blocks[1].conv_block[1].running_mean)
    names = [b["name"] for b in boxes]
    assert names == [f"conv_blocks.{i}" for i in range(8)] + [
        "adaptive_pool", "fc1", "leaky_relu", "fc2"]
    assert [b["layers"][1] for b in boxes[:8]] == [
        "k3n64s1", "k3n64s2", "k3n128s1", "k3n128s2", "k3n256s1", "k3n256s2",
        "k3n512s1", "k3n512s2"]
    assert "BN" not in boxes[0]["layers"] and "BN" in boxes[1]["layers"]
    assert boxes[7]["shape"] == (512, 3, 3) and boxes[8]["shape"] == (512, 6, 6)
    assert boxes[-1]["shape"] == (1,)
    assert all(b["skip"] is None and not b["residual"] for b in boxes)


def test_figure4_draws_both_networks_and_keeps_the_seed():
    g, d = Generator(n_blocks=2), Discriminator()
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    fig = diagram.figure4(g, d, lr_size=12)
    assert torch.equal(torch.rand(1), expected)  # its random inputs use their own generator
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "x2" in texts and "3x48x48" in texts and "512x3x3" in texts
    assert any(t.startswith("Discriminator") for t in texts)


def _text_extents(fig):
    """(text, pixel bounding box) of every non-empty label of ``fig``, as drawn by Agg."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts
            if t.get_text()]


def test_figure4_labels_neither_overlap_nor_leave_the_figure():
    # The book's figure (chapter 4: 16 residual blocks, a 24-px LR input). Measured from the
    # drawn text: the residual blocks' "x16" once ran into the next box's "64x24x24", and
    # the discriminator's title ran past the figure's right edge.
    fig = diagram.figure4(Generator(), Discriminator(), lr_size=24)
    labels = _text_extents(fig)
    assert "x16" in [t for t, _ in labels]
    clashes = [(a, b) for i, (a, box_a) in enumerate(labels) for b, box_b in labels[i + 1:]
               if box_a.overlaps(box_b)]
    assert clashes == []
    width, height = fig.get_size_inches() * fig.dpi
    outside = [t for t, box in labels
               if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height]
    assert outside == []
