"""The book: its helpers, and the rules that keep chapters and library one truth."""

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest
import torch
import yaml

import srgan_lib
from srgan_lib.book import (count_parameters, fold_checks, fold_docstrings, fold_precision,
                             profile, setup, show, show_images)
from srgan_lib.data import demo_image

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CHAPTERS = [ROOT / f"{c['file']}.ipynb" for part in TOC["parts"] for c in part["chapters"]
            if not (ROOT / f"{c['file']}.md").exists()
            and ((ROOT / f"{c['file']}.ipynb").exists() or c["file"][5:7].isdigit())]
# Part I teaches SRGAN; Part II ("Under the hood") holds the engineering.
PART_ONE = [ROOT / f"{c['file']}.ipynb" for part in TOC["parts"]
            if part["caption"].startswith("Part I:") for c in part["chapters"]]


def cells(path, kind=None):
    nb = json.loads(path.read_text())
    return [c for c in nb["cells"] if kind is None or c["cell_type"] == kind]


def source(cell):
    return "".join(cell["source"])


# --- helpers --------------------------------------------------------------------------------

def test_profile_follows_the_switch(monkeypatch):
    monkeypatch.setenv("SRGAN_PROFILE", "full")
    assert profile() == "full"
    monkeypatch.setenv("SRGAN_PROFILE", "quick")
    assert profile() == "quick"
    monkeypatch.delenv("SRGAN_PROFILE")
    assert profile() == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv("SRGAN_PROFILE", "fast")
    with pytest.raises(ValueError, match="SRGAN_PROFILE"):
        profile()


def test_setup_seeds_and_reports(monkeypatch, capsys):
    monkeypatch.setenv("SRGAN_PROFILE", "quick")
    assert setup(seed=3) == "quick"
    a = torch.rand(2)
    setup(seed=3)
    assert torch.equal(a, torch.rand(2))
    assert "Profile: quick" in capsys.readouterr().out


def test_show_is_the_library_source_as_markdown():
    shown = show(srgan_lib.psnr, docstrings="full", checks="keep")
    assert shown.data.startswith("```python\ndef psnr(")
    assert shown.data.endswith("```")
    assert inspect.getsource(srgan_lib.psnr).strip() in shown.data


def test_show_folds_docstrings_to_their_first_line():
    shown = show(srgan_lib.ResidualBlock).data
    full = inspect.getsource(srgan_lib.ResidualBlock)
    assert "Explained in" in full and "Explained in" not in shown
    # the class's and forward's docstrings, each now one line; the code itself untouched
    assert shown.count('"""') == 2 * 2
    assert "        return x + residual" in shown
    assert fold_docstrings('def f():\n    """One.\n\n    Two.\n    """\n    return 1') == \
        'def f():\n    """One."""\n    return 1'
    with pytest.raises(ValueError, match="docstrings"):
        show(srgan_lib.psnr, docstrings="none")


def test_show_folds_argument_checks_to_one_comment():
    code = ("def f(x, y):\n"
            "    if x < 0:\n"
            "        raise ValueError(f'x must be >= 0, got {x}')\n"
            "    if y is None or (\n"
            "            y > 3):\n"
            "        raise SRGANError('y')\n"
            "    z = x + y\n"
            "    if z > 9:\n"
            "        raise TypeError\n"
            "    if z:\n"
            "        z -= 1\n"
            "    else:\n"
            "        raise ValueError('kept: not a check alone')\n"
            "    return z")
    assert fold_checks(code).split("\n") == [
        "def f(x, y):",
        "    # (argument checks, folded: ValueError or SRGANError)",
        "    z = x + y",
        "    # (argument checks, folded: TypeError)",
        "    if z:",
        "        z -= 1",
        "    else:",
        "        raise ValueError('kept: not a check alone')",
        "    return z"]
    # The folded listing still parses, and show folds by default, keeps on request.
    compile(fold_checks(code), "<listing>", "exec")
    shown, kept = show(srgan_lib.downscale).data, show(srgan_lib.downscale, checks="keep").data
    assert "raise" in kept and "raise" not in shown and "# (argument checks, folded:" in shown
    with pytest.raises(ValueError, match="checks"):
        show(srgan_lib.psnr, checks="none")


def _run_update(update, seed):
    """One call of a training update on tiny networks; the losses and every weight after it."""
    from srgan_lib.losses import PixelContentLoss
    from srgan_lib.models import Discriminator, Generator
    torch.manual_seed(seed)
    g = Generator(n_blocks=1, n_channels=8)
    d = Discriminator(n_blocks=2, fc_size=16)
    lr, hr = torch.randn(2, 3, 6, 6), torch.rand(2, 3, 24, 24) * 2 - 1
    name = update.__name__
    if name == "srresnet_update":
        out = update(g, PixelContentLoss(), torch.optim.Adam(g.parameters()), lr, hr)
    elif name == "discriminator_update":
        out = update(d, torch.optim.Adam(d.parameters()), hr, g(lr))
    else:
        out = update(d, PixelContentLoss(), torch.optim.Adam(g.parameters()), g(lr), hr, 1e-3)
    out = out if isinstance(out, tuple) else (out,)
    return [*out, *g.state_dict().values(), *d.state_dict().values()]


@pytest.mark.parametrize("name", ["srresnet_update", "discriminator_update", "generator_update"])
def test_folded_precision_listing_is_the_update_as_it_runs_by_default(name):
    from srgan_lib import updates
    update = getattr(updates, name)
    shown = show(update).data
    assert "autocast" not in shown.replace("(mixed precision folded: autocast", "")
    assert "scaler" not in shown and ".float()" not in shown
    assert "# (mixed precision folded: autocast and GradScaler, Part II)" in shown
    assert ".backward()" in shown and "optimizer.step()" in shown
    assert "scaler.step(optimizer)" in show(update, precision="keep").data
    # The listing, executed in the module's namespace, is the same function, bit for bit.
    namespace = dict(vars(updates))
    exec(compile(fold_precision(inspect.getsource(update)), "<listing>", "exec"), namespace)
    folded = namespace[name]
    assert folded is not update
    for a, b in zip(_run_update(update, 0), _run_update(folded, 0), strict=True):
        assert torch.equal(a, b)


def test_fold_precision_leaves_other_code_alone():
    code = inspect.getsource(srgan_lib.train)
    assert fold_precision(code) == code
    with pytest.raises(ValueError, match="precision"):
        show(srgan_lib.psnr, precision="half")


PART_ONE_FORBIDDEN = re.compile(
    r"\b(nbval|pytest|CI|the tests?|unit tests?|saniti[sz]e\w*|tqdm|progress bars?"
    r"|this page was built|the one this page|depends? a little on the machine"
    r"|the machine this page|bf16 digits|Change the code, and the figure changes)\b",
    re.IGNORECASE)
# The pages a reader meets first: the same rule as Part I's chapters.
FRONT_PAGES = [ROOT / "book" / "intro.md", ROOT / "book" / "00_before_you_start.md"]


def _tooling_talk(text):
    # "CI" only as capitals: "ci" is an (old) profile name, not tooling.
    return [m for m in PART_ONE_FORBIDDEN.findall(text) if m.lower() != "ci" or m == "CI"]


@pytest.mark.parametrize("path", PART_ONE, ids=lambda p: p.stem)
def test_part_one_speaks_to_the_reader_not_about_the_tests(path):
    # Part I is for learners: talk of the project's test machinery belongs in Part II.
    prose = "\n".join(source(c) for c in cells(path, "markdown"))
    comments = "\n".join(line for c in cells(path, "code") for line in source(c).splitlines()
                         if line.lstrip().startswith("#"))
    found = _tooling_talk(prose + "\n" + comments)
    assert not found, f"{path.name}: {sorted(set(found))}"


@pytest.mark.parametrize("path", FRONT_PAGES, ids=lambda p: p.stem)
def test_front_pages_speak_to_the_reader_not_about_the_tests(path):
    found = _tooling_talk(path.read_text())
    assert not found, f"{path.name}: {sorted(set(found))}"


def test_the_tooling_grep_catches_the_phrases_a_reader_objected_to():
    for phrase in ("the one this page was built with does not", "the values depend a little "
                   "on the machine", "`tqdm` draws a progress bar", "Change the code, and the "
                   "figure changes with it", "pytest --nbval", "as CI runs it"):
        assert _tooling_talk(phrase), phrase
    assert not _tooling_talk("the `ci` profile, a circle, a Citation")


EXERCISE = re.compile(r"^(\d+)\. ", re.M)


def _exercise_problems(path):
    """What breaks the convention: every exercise in its own cell, a solution right after."""
    all_cells = cells(path)
    start = next(k for k, c in enumerate(all_cells)
                 if c["cell_type"] == "markdown" and "## Exercises" in source(c))
    problems, expected, last = [], 1, None
    rest = all_cells[start:]
    for k, cell in enumerate(rest):
        text = source(cell)
        if cell["cell_type"] == "code":
            first = text.splitlines()[0] if text else ""
            if first != f"# Solution to exercise {last}":
                problems.append(f"code cell after exercise {last} starts {first!r}")
            if "hide-cell" not in cell["metadata"].get("tags", []):
                problems.append(f"solution code of exercise {last} is not folded (hide-cell)")
            continue
        if text.startswith("```{admonition} Solution"):
            continue
        numbers = [int(n) for n in EXERCISE.findall(text)]
        if not numbers:
            continue
        if numbers != [expected]:
            problems.append(f"exercises {numbers} in one cell (expected {expected} alone)")
        last, expected = numbers[-1], numbers[-1] + 1
        after = source(rest[k + 1]) if k + 1 < len(rest) else ""
        if not (after.startswith("```{admonition} Solution\n:class: dropdown")
                and after.rstrip().endswith("```")):
            problems.append(f"exercise {last} has no solution dropdown right after it")
    return problems


@pytest.mark.parametrize("path", PART_ONE, ids=lambda p: p.stem)
def test_every_exercise_has_a_solution_right_after_it(path):
    problems = _exercise_problems(path)
    assert not problems, f"{path.name}: {problems}"


def test_the_exercise_check_finds_a_missing_solution(tmp_path):
    def nb(*cell_list):
        path = tmp_path / "x.ipynb"
        path.write_text(json.dumps({"cells": [
            {"cell_type": kind, "metadata": {"tags": tags}, "source": text}
            for kind, text, tags in cell_list]}))
        return path

    solution = ("markdown", "```{admonition} Solution\n:class: dropdown\nIt is 4.\n```", [])
    good = nb(("markdown", "## Exercises\n\n1. Add 2 and 2.", []), solution,
              ("code", "# Solution to exercise 1\nprint(2 + 2)", ["hide-cell"]),
              ("markdown", "2. Add 3 and 3.", []), solution)
    assert _exercise_problems(good) == []
    missing = nb(("markdown", "## Exercises\n\n1. Add 2 and 2.\n2. Add 3 and 3.", []))
    assert len(_exercise_problems(missing)) == 2
    unfolded = nb(("markdown", "## Exercises\n\n1. Add.", []), solution,
                  ("code", "# Solution to exercise 1\nprint(4)", []))
    assert _exercise_problems(unfolded) == ["solution code of exercise 1 is not folded (hide-cell)"]


def test_count_parameters_and_show_images():
    assert count_parameters(torch.nn.Linear(3, 2)) == 8
    frozen = torch.nn.Linear(3, 2).requires_grad_(False)
    assert count_parameters(frozen) == 0
    fig = show_images([demo_image("coffee")] * 3, ["a", "b", "c"], columns=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a"


# --- the chapters -----------------------------------------------------------------------------

def test_toc_chapters_exist_and_are_numbered_in_reading_order():
    assert CHAPTERS, "no chapters in _toc.yml"
    names = [p.name for p in CHAPTERS]
    assert all(p.exists() for p in CHAPTERS), names
    assert names == sorted(names)
    listed = {p.name for p in CHAPTERS}
    on_disk = {p.name for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")}
    assert on_disk == listed, "every chapter on disk is in the table of contents"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_structure(path):
    nb = json.loads(path.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert path.stat().st_size < 2_000_000
    # Stored widget state embeds the live views' images and makes the page load a CDN.
    assert "widgets" not in nb["metadata"], "run it with tools/run_chapters.py"
    md = [source(c) for c in cells(path, "markdown")]
    code = cells(path, "code")
    assert md[0].startswith("# ") and sum(line.startswith("# ") for m in md
                                          for line in m.splitlines()) == 1
    assert "What you will learn" in md[0]
    colab = (f"https://colab.research.google.com/github/{CONFIG['repository']['url'][19:]}"
             f"/blob/{CONFIG['repository']['branch']}/book/{path.name}")
    assert colab in md[0], "the Colab link points at this notebook"
    headings = [line for m in md for line in m.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Summary", "## Exercises"]
    # Committed from a clean run: execution counts 1, 2, 3, ... and no errors.
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_setup_cell_installs_from_the_configured_repository(path):
    setup_cell = next(c for c in cells(path, "code") if "sl.setup(" in source(c))
    assert f'REPO = "{CONFIG["repository"]["url"]}"' in source(setup_cell)
    assert "nbval-ignore-output" in setup_cell["metadata"].get("tags", [])


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_chapter_retypes_the_library(path):
    for cell in cells(path, "code"):
        text = source(cell)
        assert not re.search(r"^class \w+\((nn\.|torch\.nn\.)?Module\)", text, re.M), \
            f"{path.name} defines a network; it belongs in srgan_lib"
        assert "IPython.display.Code" not in text  # Markdown fences are what nbval compares


def test_library_objects_point_to_chapters_that_use_them():
    # d2l's "Defined in", the other way round: a public object's docstring names the
    # chapter that explains it; once that chapter exists, it must mention the object.
    missing = []
    chapters = {p.name: p.read_text() for p in CHAPTERS}
    for info in pkgutil.iter_modules(srgan_lib.__path__):
        module = importlib.import_module(f"srgan_lib.{info.name}")
        for name in getattr(module, "__all__", []):
            doc = inspect.getdoc(getattr(module, name)) or ""
            match = re.search(r"Explained in: book/(\d\d_\w+\.ipynb)", doc)
            if match and match.group(1) in chapters and name not in chapters[match.group(1)]:
                missing.append(f"{info.name}.{name} -> {match.group(1)}")
    assert not missing, missing


NUMBER = re.compile(r"(?<![\w.])[-+−]?(\d+\.\d{2,})(?![\d])")


def _paper_figures():
    """Figures quoted from the paper (evaluate.PAPER, Table 1's MOS): not computed here."""
    from srgan_lib.content import PAPER_TABLE1
    from srgan_lib.evaluate import PAPER

    values = {v for row in PAPER.values() for k, pair in row.items() if k != "table"
              for v in pair}
    values |= {v for name in ("Set5", "Set14") for v in PAPER_TABLE1[name]["MOS"]}
    return values


def _outputs(cell):
    text = []
    for out in cell.get("outputs", []):
        text.append("".join(out.get("text", "")))
        for kind in ("text/plain", "text/markdown", "text/html"):
            text.append("".join(out.get("data", {}).get(kind, "")))
    return "\n".join(text)


@pytest.mark.parametrize("path", PART_ONE, ids=lambda p: p.stem)
def test_numbers_in_the_prose_come_from_cells_above_them(path):
    # A number with two or more decimals in a chapter's prose (25.74 dB, 0.8111) must be
    # printed by a code cell before it, rounded the same way, or be one of the paper's
    # figures; a number typed by hand would drift from what the code computes.
    paper = _paper_figures()
    printed, orphans = set(), []
    for cell in cells(path):
        if cell["cell_type"] == "code":
            printed |= {m.group(1) for m in NUMBER.finditer(_outputs(cell))}
            printed |= {m for m in re.findall(r"\d+\.\d+", _outputs(cell))}
            continue
        prose = re.sub(r"\$[^$]*\$", "", source(cell))  # maths is not a measurement
        for match in NUMBER.finditer(prose):
            quoted = match.group(1)
            digits = len(quoted.split(".")[1])
            if float(quoted) in paper:
                continue
            if not any(f"{float(p):.{digits}f}" == quoted for p in printed):
                orphans.append(quoted)
    assert not orphans, f"{path.name}: numbers in the prose no cell above prints: {orphans}"


def test_a_block_of_checks_alone_is_kept_so_the_listing_still_parses():
    code = ("def f(paths):\n"
            "    for p in paths:\n"
            "        if not p:\n"
            "            raise ValueError('empty')\n"
            "    return paths")
    assert fold_checks(code) == code
    reraise = ("try:\n    run()\nexcept OSError:\n    if debug:\n        raise\n"
               "    print('failed')")
    assert fold_checks(reraise) == reraise  # a bare raise is control flow, not a check
    # Every public object of the library, as a chapter would show it, is valid Python.
    for info in pkgutil.iter_modules(srgan_lib.__path__):
        module = importlib.import_module(f"srgan_lib.{info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                listing = show(obj).data.split("\n", 1)[1].rsplit("```", 1)[0]
                compile(listing, f"{info.name}.{name}", "exec")
