"""Helpers the book's chapters use: set-up, showing the library's source, and figures.

``show`` is how the book and the library stay one truth. A chapter never re-types a class
of ``srgan_lib``: it shows the library's own source, as a Markdown code fence, and then
uses it. nbval compares ``text/markdown`` outputs exactly, so a change to the library that
a chapter was not re-run for fails ``pytest --nbval book/``.
"""

import ast
import inspect
import os
import random
import re
import textwrap
import warnings

import numpy as np
import torch

from . import smoke
from .errors import SRGANError, check_torchvision

__all__ = ["PROFILES", "PROFILE_ALIASES", "profile", "setup", "show",
           "count_parameters", "show_images"]

PROFILES = ("quick", "full")
PROFILE_ALIASES = {"ci": "quick"}  # the small profile's former name, still accepted
# What each profile runs, in the words the set-up line prints.
PROFILE_MEANING = {
    "quick": "tiny networks, few steps: seconds on a CPU; full: the real sizes",
    "full": "the real sizes: training runs the colab preset, hours on a GPU",
}


class Profile(str):
    """A profile's name that also equals its former name: ``Profile('quick') == 'ci'``, so
    that a notebook written when the small profile was called ``ci`` runs the same."""

    __hash__ = str.__hash__

    def __eq__(self, other):
        if isinstance(other, str):
            other = PROFILE_ALIASES.get(str(other), str(other))
        return str.__eq__(str(self), other)

    def __ne__(self, other):
        return not self == other


def profile():
    """The book's profile: ``SRGAN_PROFILE`` if set, else ``'full'`` on a GPU, ``'quick'``
    on a CPU.

    A profile is how big a chapter's computations are; a preset (``TrainConfig.preset``) is
    one training configuration. ``quick`` is small (tiny networks, a few steps: seconds on
    a CPU; the book's stored outputs come from it). ``full`` means one thing: a chapter that
    trains runs the ``colab`` preset's configuration (the paper's networks, losses, crops and
    batch, on DIV2K), on a GPU; chapters that only measure run at the real sizes. ``ci``,
    the small profile's former name, is accepted and read as ``quick``.

    Returns:
        Profile: ``'quick'`` or ``'full'`` (a ``str``; ``'quick'`` also equals ``'ci'``).

    Explained in: book/01_sr_problem.ipynb
    """
    name = os.environ.get("SRGAN_PROFILE") or ("full" if torch.cuda.is_available() else "quick")
    name = PROFILE_ALIASES.get(name, name)
    if name not in PROFILES:
        raise ValueError(f"SRGAN_PROFILE must be one of {PROFILES} (or "
                         f"{', '.join(PROFILE_ALIASES)}), got {name!r}")
    return Profile(name)


def where_it_runs():
    """The device in words: the GPU's name, or the CPU when torch sees no GPU."""
    if torch.cuda.is_available():
        return f"GPU ({torch.cuda.get_device_name(0)})"
    return "CPU (no GPU found)"


def setup(seed=0):
    """Prepare a chapter: fixed seeds, PNG figures, and a line saying where it runs.

    The line names the device (the GPU's name, or the CPU) and the profile with what it
    means, e.g. ``Runs on: CPU (no GPU found)`` and ``Profile: quick (tiny networks ...)``.

    Args:
        seed (int): seed of Python's, NumPy's and torch's generators.

    Returns:
        str: the profile (``'quick'`` or ``'full'``).

    Explained in: book/01_sr_problem.ipynb
    """
    try:  # a torchvision built for another torch: one line naming both, not a traceback
        check_torchvision()
    except SRGANError as err:
        raise SystemExit(str(err)) from None
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:  # PNG, not SVG: nbval compares SVG byte for byte, and PNG renders everywhere
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")
    except ImportError:  # outside IPython there is nothing to configure
        pass
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
    name = profile()
    if smoke.enabled():  # tools/smoke_full_profile.py: the same code, tiny numbers
        smoke.install()
    print(f"Runs on: {where_it_runs()}\nProfile: {name} ({PROFILE_MEANING[name]})")
    return name


def show(obj, docstrings="first-line", checks="fold", precision="fold"):
    """The source of a library object as a Markdown code fence, for a chapter to display.

    Args:
        obj: a class, function or module of ``srgan_lib``.
        docstrings (str): ``'first-line'`` folds every docstring in the listing to its first
            line (the reader sees what a function is for, not its reference manual);
            ``'full'`` keeps them whole.
        checks (str): ``'fold'`` replaces each argument check (an ``if`` whose only
            statement is a ``raise``) by a one-line comment naming what it raises, so that
            the listing shows the idea; ``'keep'`` shows them, for a chapter about errors.
        precision (str): ``'fold'`` shows a training update as it runs by default, in full
            precision: the ``autocast`` and ``scaler`` arguments, the ``with autocast():``
            line and the gradient scaler's calls are folded away, and one comment says so
            (see ``fold_precision``); ``'keep'`` shows them, for Part II.

    Returns:
        IPython.display.Markdown: the fenced source (``text/markdown``, compared by nbval).

    Explained in: book/04_building_modules.ipynb
    """
    from IPython.display import Markdown

    if docstrings not in ("first-line", "full"):
        raise ValueError(f"docstrings must be 'first-line' or 'full', got {docstrings!r}")
    if checks not in ("fold", "keep"):
        raise ValueError(f"checks must be 'fold' or 'keep', got {checks!r}")
    code = textwrap.dedent(inspect.getsource(obj)).rstrip()
    if precision not in ("fold", "keep"):
        raise ValueError(f"precision must be 'fold' or 'keep', got {precision!r}")
    if checks == "fold":
        code = fold_checks(code)
    if precision == "fold":
        code = fold_precision(code)
    if docstrings == "first-line":
        code = fold_docstrings(code)
    return Markdown(f"```python\n{code}\n```")


def fold_checks(code):
    """Python source with each run of argument checks (``if ...: raise ...``, nothing else)
    cut to one comment line naming the exceptions (what ``show`` displays). A block made of
    checks alone keeps them, so that the listing stays valid Python."""
    def is_check(node):
        return (isinstance(node, ast.If) and not node.orelse and len(node.body) == 1
                and isinstance(node.body[0], ast.Raise)
                and node.body[0].exc is not None)  # a bare re-raise is control flow

    runs = []  # [first line, last line, indent, exception names] of consecutive checks
    for parent in ast.walk(ast.parse(code)):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(parent, field, None)
            if not isinstance(block, list) or all(is_check(n) for n in block):
                continue
            for prev, node in zip([None] + block[:-1], block, strict=True):
                if not is_check(node):
                    continue
                if prev is not None and is_check(prev):
                    runs[-1][1] = node.end_lineno
                    runs[-1][3].append(_raised(node.body[0]))
                else:
                    runs.append([node.lineno - 1, node.end_lineno, node.col_offset,
                                 [_raised(node.body[0])]])
    lines = code.split("\n")
    for start, end, indent, names in sorted(runs, reverse=True):
        raised = " or ".join(dict.fromkeys(names))
        lines[start:end] = [" " * indent + f"# (argument checks, folded: {raised})"]
    return "\n".join(lines)


_PRECISION_ARGS = ("autocast", "scaler")
_SCALER_CALLS = [(re.compile(r"scaler\.scale\((\w+)\)\.backward\(\)"), r"\1.backward()"),
                 (re.compile(r"scaler\.step\((\w+)\)"), r"\1.step()")]


def fold_precision(code):
    """Python source of a training update as it runs with its default ``autocast`` (none)
    and ``scaler`` (switched off): what ``show`` displays in Part I.

    In a function that takes ``autocast`` and ``scaler`` arguments, the two arguments go,
    each ``with autocast():`` block gives way to its body (less the ``.float()`` casts
    back from half precision), ``scaler.scale(loss).backward()`` reads
    ``loss.backward()``, ``scaler.step(opt)`` reads ``opt.step()`` and
    ``scaler.update()`` goes. With those defaults each of these is exactly what the folded
    line does. A comment at the top of the body says what was folded. Other code is
    returned unchanged."""
    lines = code.split("\n")
    edits = []  # (first line, end line, replacement lines), applied from the bottom up
    for fn in ast.walk(ast.parse(code)):
        if not isinstance(fn, ast.FunctionDef):
            continue
        args = fn.args
        if not all(a in [x.arg for x in args.args] for a in _PRECISION_ARGS):
            continue
        defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
        kept = [a.arg + ("" if d is None else "=" + ast.get_source_segment(code, d))
                for a, d in zip(args.args, defaults, strict=True)
                if a.arg not in _PRECISION_ARGS]
        indent = " " * fn.col_offset
        header = textwrap.wrap(", ".join(kept), width=90 - len(indent) - len(fn.name) - 6,
                               break_long_words=False)
        pad = indent + " " * (len(fn.name) + 5)
        body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
        edits.append((fn.lineno - 1, fn.body[0].lineno - 1,
                      [f"{indent}def {fn.name}(" + ("\n" + pad).join(header) + "):"]))
        first = body[0]
        edits.append((first.lineno - 1, first.lineno - 1,
                      [" " * first.col_offset
                       + "# (mixed precision folded: autocast and GradScaler, Part II)"]))
        for node in ast.walk(fn):
            if (isinstance(node, ast.With) and len(node.items) == 1
                    and ast.unparse(node.items[0].context_expr) == "autocast()"):
                shift = node.body[0].col_offset - node.col_offset
                inner = [line[shift:].replace(".float()", "")
                         for line in lines[node.body[0].lineno - 1:node.end_lineno]]
                edits.append((node.lineno - 1, node.end_lineno, inner))
            elif isinstance(node, ast.Expr) and ast.unparse(node) == "scaler.update()":
                edits.append((node.lineno - 1, node.end_lineno, []))
            elif isinstance(node, ast.Expr) and "scaler." in ast.unparse(node):
                line = lines[node.lineno - 1]
                for pattern, plain in _SCALER_CALLS:
                    line = pattern.sub(plain, line)
                edits.append((node.lineno - 1, node.end_lineno, [line]))
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[start:end] = new
    return "\n".join(lines)


def _raised(node):
    """The name of the exception a ``raise`` statement raises, as written."""
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return ast.unparse(exc)


# A full stop, "!" or "?" that ends a sentence: followed by a space or the end, and not the
# dot of an abbreviation the library's docstrings use ("e.g. 4", "et al. 2017", "Eq. 3").
_ABBREVIATIONS = ("e.g", "i.e", "et al", "cf", "vs", "Eq", "Eqs", "Fig", "Sec", "Table")
_SENTENCE_END = re.compile("".join(rf"(?<!\b{re.escape(a)})" for a in _ABBREVIATIONS)
                           + r"[.!?](?=\s|$)")


def first_sentence(docstring):
    """The first sentence of a docstring, as the lines it is written on.

    The sentence ends at the first full stop (or ``!``, ``?``) followed by a space or a line
    end, abbreviations such as "e.g." and "et al." aside; it never runs past the first
    paragraph, which is kept whole if it has no such stop (a summary without a full stop).

    Returns:
        list[str]: the sentence's lines, without their indentation.
    """
    kept = []
    for line in inspect.cleandoc(docstring).split("\n"):
        if not line.strip():
            break
        end = _SENTENCE_END.search(line)
        if end:
            kept.append(line[:end.end()])
            break
        kept.append(line)
    return kept


def fold_docstrings(code):
    """Python source with each docstring cut to its first sentence (what ``show`` displays),
    kept on the lines it is written on."""
    lines = code.split("\n")
    spans = []
    for node in ast.walk(ast.parse(code)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            spans.append((body[0].lineno - 1, body[0].end_lineno, body[0].col_offset,
                          first_sentence(body[0].value.value)))
    for start, end, indent, sentence in sorted(spans, reverse=True):
        sentence = sentence or [""]
        sentence[0] = '"""' + sentence[0]
        sentence[-1] += '"""'
        lines[start:end] = [" " * indent + line for line in sentence]
    return "\n".join(lines)


def count_parameters(model):
    """The number of trainable parameters of a model.

    Explained in: book/04_building_modules.ipynb
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def show_images(images, titles=None, size=3.0, columns=None):
    """A row (or grid) of images with titles, axes off: the book's one figure helper.

    Args:
        images (list[PIL.Image | numpy.ndarray]): the images.
        titles (list[str] | None): one title per image.
        size (float): inches per image.
        columns (int | None): images per row (all in one row if ``None``).

    Returns:
        matplotlib.figure.Figure: the figure (a notebook displays it).

    Explained in: book/01_sr_problem.ipynb
    """
    import matplotlib.pyplot as plt

    columns = columns or len(images)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(np.asarray(img), cmap="gray" if np.asarray(img).ndim == 2 else None,
                  interpolation="nearest")  # nearest: show the pixels as they are
        if titles:
            ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # returned, not also drawn twice by the inline backend
    return fig
