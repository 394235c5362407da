"""Figure 4 of Ledig et al. (2017), drawn from the networks' own modules.

``trace`` walks a network's top-level modules, runs one forward pass with hooks, and
returns a box per module: its layers (read from the module), the shape it outputs, and
whether its output is added to an earlier one (a skip connection, found from the tensors
themselves). ``figure4`` draws those boxes with matplotlib. Nothing is typed by hand, so
the figure cannot drift from the code.
"""

import torch
from torch import nn

__all__ = ["trace", "figure4"]


def _layers(module):
    """The module's layers in the paper's notation (``k3n64s1``: kernel, channels, stride)."""
    names = {nn.BatchNorm2d: "BN", nn.PReLU: "PReLU", nn.LeakyReLU: "LeakyReLU",
             nn.Tanh: "tanh"}
    out = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            out += ["Conv", f"k{m.kernel_size[0]}n{m.out_channels}s{m.stride[0]}"]
        elif isinstance(m, nn.PixelShuffle):
            out.append(f"Shuffle x{m.upscale_factor}")
        elif isinstance(m, nn.AdaptiveAvgPool2d):
            out.append("AvgPool {}x{}".format(*m.output_size))
        elif isinstance(m, nn.Linear):
            out.append(f"Dense {m.out_features}")
        elif type(m) in names:
            out.append(names[type(m)])
    return out


def _run(model, x, modules):
    """Each named module's (input, output) in one forward pass of ``model`` on ``x``."""
    seen = {}

    def keep(name):
        def hook(module, inputs, output):
            seen.setdefault(name, (inputs[0], output))  # returns None: output unchanged
        return hook

    hooks = [m.register_forward_hook(keep(name)) for name, m in modules]
    was_training = model.training
    model.eval()  # drawing a figure updates no batch-norm statistics
    try:
        with torch.no_grad():
            y = model(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return seen, y


def _same(a, b):
    return a.numel() == b.numel() and torch.allclose(a.flatten(), b.flatten(), atol=1e-5)


def _skip(outputs, feeds):
    """Which earlier output was added to the last one to give ``feeds`` (None: no skip)."""
    if _same(feeds, outputs[-1]):
        return None
    return next(e for e in range(len(outputs) - 1) if outputs[e].shape == feeds.shape
                and _same(feeds, outputs[-1] + outputs[e]))


def _adds_its_input(block, x):
    """Whether ``block`` adds its input to what its sub-modules make (a residual block)."""
    kids = list(block.named_children())
    seen, y = _run(block, x, kids)
    return len(kids) > 1 and _skip([x] + [seen[n][1] for n, _ in kids], y) == 0


def trace(model, x):
    """One box per top-level module of ``model`` on the input ``x``, in forward order.

    A ``Sequential`` of blocks gives a box per block, or a single box with ``repeat`` when
    its blocks are alike and keep the shape (SRResNet's residual blocks). A box is a dict:
    ``name``, ``layers`` (lines of text), ``shape`` (its output, without the batch),
    ``repeat``, ``residual`` (each block adds its input) and ``skip``: the box whose
    output is added to this box's output (-1: the network's input; None: no skip).

    Explained in: book/04_building_modules.ipynb
    """
    net = getattr(model, "net", model)  # the Generator holds an SRResNet as ``net``
    groups = [(name, list(child) if isinstance(child, nn.Sequential) else [child])
              for name, child in net.named_children()]
    named = [(f"{name}.{i}" if len(kids) > 1 else name, k)
             for name, kids in groups for i, k in enumerate(kids)]
    seen, y = _run(net, x, named)
    units = []  # (name, first block, repeat, input, output)
    for name, kids in groups:
        ends = [seen[n] for n, m in named if any(m is k for k in kids)]
        if len(kids) > 1 and len({type(k) for k in kids}) == 1 and all(
                i.shape == o.shape for i, o in ends):
            units.append((name, kids[0], len(kids), ends[0][0], ends[-1][1]))
        else:
            units += [(n, m, 1, *seen[n]) for n, m in named if any(m is k for k in kids)]
    boxes, outputs = [], [x]
    for k, (name, block, repeat, x_in, x_out) in enumerate(units):
        outputs.append(x_out)
        feeds = units[k + 1][3] if k + 1 < len(units) else y
        skip = _skip(outputs, feeds)
        boxes.append({"name": name, "layers": _layers(block), "shape": tuple(x_out.shape[1:]),
                      "repeat": repeat, "residual": _adds_its_input(block, x_in),
                      "skip": None if skip is None else skip - 1})
    return boxes


_UNIT = 0.15  # inches per unit of the drawing
_FONT, _CW, _LH = 12, 0.7, 1.3  # font size (points); a character's width, a line's height (units)
_GAP, _ROW_WIDTH = 0.9, 42.0  # space between boxes; where a row wraps
_GREEN = "#38761d"


def _shape_text(shape):
    return "x".join(map(str, shape))


def _arrow(ax, points, colour="0.3"):
    """A polyline through ``points`` with an arrow head at the end."""
    from matplotlib.patches import FancyArrowPatch

    (xs, ys) = zip(*points, strict=True)
    ax.plot(xs[:-1] + xs[-1:], ys[:-1] + ys[-1:], color=colour, lw=0.8)
    ax.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>", mutation_scale=8,
                                 color=colour, lw=0.8, shrinkA=0, shrinkB=0))


def _box(ax, x, y, box, w, h):
    """One module: a rounded box with its layers inside and its output shape below."""
    from matplotlib.patches import FancyBboxPatch

    kind = box["layers"][0].split()[0]
    colour = ("#d9ead3" if box["residual"] else "#fce5cd" if "Shuffle x2" in box["layers"]
              else "#cfe2f3" if kind == "Conv" else "#eeeeee")
    ax.add_patch(FancyBboxPatch((x, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.4",
                                fc=colour, ec="0.3", lw=0.8, ls="--" if box["repeat"] > 1 else "-"))
    ax.text(x + w / 2, y, "\n".join(box["layers"]), ha="center", va="center", fontsize=_FONT,
            family="monospace", linespacing=1.15)
    ax.text(x + w / 2, y - h / 2 - 0.4, _shape_text(box["shape"]), ha="center", va="top",
            fontsize=_FONT)
    if box["residual"]:  # each block adds its input to what its layers make
        ax.annotate("", (x + w - 0.3, y + h / 2), (x + 0.3, y + h / 2), arrowprops=dict(
            arrowstyle="-|>", connectionstyle="arc3,rad=-0.4", color=_GREEN, lw=0.8))
        ax.text(x + w / 2, y + h / 2 + 1.4, "+ its input", ha="center", fontsize=_FONT,
                color=_GREEN)
    if box["repeat"] > 1:  # beside the box's foot, in the room _panel leaves for it
        ax.text(x + w + 0.2, y - h / 2, _repeat_text(box), ha="left", va="bottom",
                fontsize=_FONT + 3, weight="bold", color=_GREEN)


def _repeat_text(box):
    return f"x{box['repeat']}" if box["repeat"] > 1 else ""


def _repeat_width(box):
    """The room a repeated box's ``x16`` takes right of the box (0 for other boxes): its
    bold digits, a little wider than the monospace ``_CW`` at ``_FONT``, and a margin."""
    text = _repeat_text(box)
    return len(text) * _CW * (_FONT + 3) / _FONT * 1.15 + 0.4 if text else 0.0


def _panel(ax, boxes, in_shape, title, y):
    """Draw one network from ``y`` down, wrapping rows at ``_ROW_WIDTH``; the lowest y used."""
    from matplotlib.patches import Circle

    sizes = [(max(map(len, b["layers"])) * _CW + 1.0, len(b["layers"]) * _LH + 0.8)
             for b in boxes]
    tallest = max(h for _, h in sizes)
    pitch = tallest + 5.5  # one row of boxes, its shapes and its skips
    y -= tallest / 2 + 5.6 + 1.9 * title.count("\n")  # a title's second line: room above
    ax.text(0, y + tallest / 2 + 4.2, title, fontsize=_FONT + 2, weight="bold", va="bottom")
    ax.text(0, y, f"input\n{_shape_text(in_shape)}", ha="left", va="center", fontsize=_FONT)
    x = start = len(_shape_text(in_shape)) * _CW + 0.3
    ends = {-1: x}
    for k, (box, (w, h)) in enumerate(zip(boxes, sizes, strict=True)):
        extra = (2 * _GAP + 1.2 if box["skip"] is not None else 0) + _repeat_width(box)
        if x + _GAP + w + extra > _ROW_WIDTH and x > start:  # wrap: back to the row's start
            turn = y - pitch / 2 - 0.6
            _arrow(ax, [(x, y), (x + 0.5, y), (x + 0.5, turn), (start - 0.5, turn),
                        (start - 0.5, y - pitch), (start + _GAP, y - pitch)])
            x, y = start + _GAP, y - pitch
        else:
            _arrow(ax, [(x, y), (x + _GAP, y)])
            x += _GAP
        _box(ax, x, y, box, w, h)
        x += w
        if box["repeat"] > 1:  # the next box's shape label clear of the repeat count
            ax.plot([x, x + _repeat_width(box)], [y, y], color="0.3", lw=0.8)
            x += _repeat_width(box)
        if box["skip"] is not None:  # an earlier output is added to this one
            _arrow(ax, [(x, y), (x + _GAP, y)])
            x += _GAP + 0.6
            ax.add_patch(Circle((x, y), 0.6, fc="white", ec="0.3", lw=0.8))
            ax.text(x, y, "+", ha="center", va="center", fontsize=_FONT + 1)
            high, x0 = y + tallest / 2 + 3.4, ends[box["skip"]] + _GAP / 2
            _arrow(ax, [(x0, y), (x0, high), (x, high), (x, y + 0.6)], _GREEN)
            x += 0.6
        ends[k] = x
    return y - pitch / 2 - 1.0


def figure4(generator, discriminator, lr_size=24):
    """Figure 4 of the paper drawn from the two networks, with shapes for one LR input.

    The generator gets a ``lr_size`` x ``lr_size`` LR image; the discriminator gets an
    image of the generator's output size. Box text is each module's layers (``k9n64s1``:
    9x9 kernel, 64 channels, stride 1); under each box, the shape it outputs (C x H x W).

    Returns:
        matplotlib.figure.Figure: the figure (a notebook displays it).

    Explained in: book/04_building_modules.ipynb
    """
    import matplotlib.pyplot as plt

    lr = torch.randn(1, 3, lr_size, lr_size, generator=torch.Generator().manual_seed(0))
    g_boxes = trace(generator, lr)
    hr = torch.randn(1, *g_boxes[-1]["shape"], generator=torch.Generator().manual_seed(1))
    fig = plt.figure()
    ax = fig.add_axes((0, 0, 1, 1))
    bottom = _panel(ax, g_boxes, lr.shape[1:],
                    f"{type(generator).__name__}: an LR image in, an SR image out", 0.0)
    bottom = _panel(ax, trace(discriminator, hr), hr.shape[1:],
                    f"{type(discriminator).__name__}: an HR or SR image in, one logit out\n"
                    "(real > 0 > fake)", bottom - 1.0)
    ax.set(xlim=(-0.5, _ROW_WIDTH + 0.5), ylim=(bottom, 0.5), aspect="equal")
    ax.axis("off")
    fig.set_size_inches((_ROW_WIDTH + 1.0) * _UNIT, (0.5 - bottom) * _UNIT)
    plt.close(fig)  # returned, not also drawn twice by the inline backend
    return fig
