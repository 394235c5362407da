"""What ``book.show`` folds (a docstring to its first sentence), and the book's profiles."""

import pytest
import torch

import srgan_lib.book as book
from srgan_lib.book import first_sentence, fold_docstrings, profile, setup, show


def test_a_folded_docstring_keeps_its_first_sentence_over_several_lines():
    code = ('def f():\n    """What a comparison compares: from one picture, the LR input\n'
            '    and what each model makes of it. More detail.\n\n    Args: none.\n    """\n'
            '    return 1')
    assert fold_docstrings(code) == (
        'def f():\n    """What a comparison compares: from one picture, the LR input\n'
        '    and what each model makes of it."""\n    return 1')
    assert fold_docstrings('def f():\n    """One.\n\n    Two.\n    """\n    return 1') == \
        'def f():\n    """One."""\n    return 1'


@pytest.mark.parametrize("doc, first", [
    ("One line.", ["One line."]),
    ("A summary without a stop\nover two lines\n\nThen more.", ["A summary without a stop",
                                                                "over two lines"]),
    ("Eq. 3 of Ledig et al. 2017, e.g. the MSE. Then more.",
     ["Eq. 3 of Ledig et al. 2017, e.g. the MSE."]),
    ("A value such as 0.5 / scale is no stop.\nNext.", ["A value such as 0.5 / scale is no stop."]),
    ("Really? Yes.", ["Really?"]),
    ("", []),
])
def test_first_sentence(doc, first):
    assert first_sentence(doc) == first


def test_show_folds_a_library_docstring_that_runs_over_two_lines():
    from srgan_lib.viz import comparison_images

    shown = show(comparison_images).data
    assert ('"""What a comparison compares: from one picture, the LR input and what bicubic '
            'and each\n    model make of it, all the same size."""') in shown
    assert "Args:" not in shown and "Explained in" not in shown
    compile(shown.split("\n", 1)[1].rsplit("```", 1)[0], "<shown>", "exec")  # still Python


def test_quick_is_the_small_profile_and_ci_its_alias(monkeypatch):
    monkeypatch.setenv("SRGAN_PROFILE", "ci")
    name = profile()
    assert name == "quick" and str(name) == "quick" and f"{name}" == "quick"
    assert name == "ci" and name != "full"  # a notebook written for `ci` runs the same
    assert {name: 1}["quick"] == 1
    assert name != [] and name != None and name != 3  # noqa: E711 - other types
    monkeypatch.setenv("SRGAN_PROFILE", "quick")
    assert profile() == "quick"
    monkeypatch.setenv("SRGAN_PROFILE", "full")
    assert profile() == "full" and profile() != "ci"
    monkeypatch.delenv("SRGAN_PROFILE")
    assert profile() == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv("SRGAN_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"SRGAN_PROFILE must be one of \('quick', 'full'\)"):
        profile()


def test_setup_line_names_the_device_and_what_the_profile_runs(monkeypatch, capsys):
    monkeypatch.setenv("SRGAN_PROFILE", "ci")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert setup(seed=1) == "quick"
    out = capsys.readouterr().out
    assert out.startswith("Runs on: CPU (no GPU found)\nProfile: quick (")
    assert "cu1" not in out and "+cu" not in out and "torch" not in out  # no CUDA build string
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Tesla T4")
    monkeypatch.setenv("SRGAN_PROFILE", "full")
    setup(seed=1)
    out = capsys.readouterr().out
    assert out.startswith("Runs on: GPU (Tesla T4)\nProfile: full (")
    assert "colab preset" in out
    assert book.where_it_runs() == "GPU (Tesla T4)"
