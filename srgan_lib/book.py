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
import textwrap
import warnings

import numpy as np
import torch

from . import smoke

__all__ = ["PROFILES", "profile", "setup", "show", "count_parameters", "show_images"]

PROFILES = ("ci", "full")


def profile():
    """The book's profile: ``SRGAN_PROFILE`` if set, else ``'full'`` on a GPU, ``'ci'`` on a CPU.

    ``ci`` is the small configuration CI executes (seconds on a CPU); ``full`` is the real
    one (the paper's settings, for a GPU).

    Explained in: book/01_sr_problem.ipynb
    """
    name = os.environ.get("SRGAN_PROFILE") or ("full" if torch.cuda.is_available() else "ci")
    if name not in PROFILES:
        raise ValueError(f"SRGAN_PROFILE must be one of {PROFILES}, got {name!r}")
    return name


def setup(seed=0):
    """Prepare a chapter: fixed seeds, PNG figures, and a line saying where it runs.

    Args:
        seed (int): seed of Python's, NumPy's and torch's generators.

    Returns:
        str: the profile (``'ci'`` or ``'full'``).

    Explained in: book/01_sr_problem.ipynb
    """
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
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"profile: {name} (SRGAN_PROFILE=ci|full) | device: {device} | "
          f"torch {torch.__version__}")
    return name


def show(obj, docstrings="first-line", checks="fold"):
    """The source of a library object as a Markdown code fence, for a chapter to display.

    Args:
        obj: a class, function or module of ``srgan_lib``.
        docstrings (str): ``'first-line'`` folds every docstring in the listing to its first
            line (the reader sees what a function is for, not its reference manual);
            ``'full'`` keeps them whole.
        checks (str): ``'fold'`` replaces each argument check (an ``if`` whose only
            statement is a ``raise``) by a one-line comment naming what it raises, so that
            the listing shows the idea; ``'keep'`` shows them, for a chapter about errors.

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
    if checks == "fold":
        code = fold_checks(code)
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


def _raised(node):
    """The name of the exception a ``raise`` statement raises, as written."""
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return ast.unparse(exc)


def fold_docstrings(code):
    """Python source with each docstring cut to its first line (what ``show`` displays)."""
    lines = code.split("\n")
    spans = []
    for node in ast.walk(ast.parse(code)):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            spans.append((body[0].lineno - 1, body[0].end_lineno, body[0].col_offset,
                          body[0].value.value.strip().split("\n")[0]))
    for start, end, indent, first in sorted(spans, reverse=True):
        lines[start:end] = [" " * indent + f'"""{first}"""']
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
