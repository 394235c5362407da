"""book/nbval_images.py: embedded slider images compared with a tolerance, the rest exactly."""

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan_lib.slider import slider_html

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("nbval_images", ROOT / "book" / "nbval_images.py")
nbval_images = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nbval_images)


def _picture(seed, size=(40, 32)):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def _nudged(arr, count, by=1):
    """A copy with `count` values moved by `by` levels (as another CPU's rounding would)."""
    out = arr.copy().reshape(-1)
    idx = np.arange(count) * 97 % out.size
    out[idx] = np.where(out[idx] < 255 - by, out[idx] + by, out[idx] - by)
    return out.reshape(arr.shape)


def _html_output(before, after):
    html = slider_html(Image.fromarray(before), Image.fromarray(after), labels=("A", "B"))
    plain = "<IPython.core.display.HTML object>"
    return [{"output_type": "display_data", "data": {"text/html": html, "text/plain": plain},
             "metadata": {}}]


def test_rounding_differences_pass_and_the_ids_are_neutralised():
    a, b = _picture(0), _picture(1)
    ref, test = _html_output(a, b), _html_output(a, _nudged(b, 3))
    assert ref[0]["data"]["text/html"] != test[0]["data"]["text/html"]  # other bytes, other id
    assert nbval_images.embedded_image_problems(ref, test) == []
    assert nbval_images._neutralise(ref) == nbval_images._neutralise(test)


def test_another_picture_a_larger_difference_or_another_size_fails():
    a, b = _picture(0), _picture(1)
    ref = _html_output(a, b)
    assert nbval_images.embedded_image_problems(ref, _html_output(a, _picture(2)))
    assert nbval_images.embedded_image_problems(ref, _html_output(a, _nudged(b, 3, by=9)))
    many = _nudged(b, int(b.size * 0.02))
    assert "of the values differ" in nbval_images.embedded_image_problems(
        ref, _html_output(a, many))[0]
    small = _html_output(a[:16, :16], b[:16, :16])
    assert "size" in nbval_images.embedded_image_problems(ref, small)[0]
    assert "embedded images" in nbval_images.embedded_image_problems(ref, ref + ref)[0]


def test_the_rest_of_the_html_is_still_compared_exactly():
    a, b = _picture(0), _picture(1)
    ref = _html_output(a, b)
    other_labels = [{**ref[0], "data": {**ref[0]["data"], "text/html": slider_html(
        Image.fromarray(a), Image.fromarray(b), labels=("A", "C"))}}]
    assert nbval_images._neutralise(ref) != nbval_images._neutralise(other_labels)


def _notebook(tmp_path, stored_after, run_after):
    """A one-cell notebook that shows a slider of `run_after`, stored with `stored_after`'s."""
    a = _picture(0)
    np.save(tmp_path / "after.npy", run_after)
    np.save(tmp_path / "before.npy", a)
    code = textwrap.dedent("""\
        import numpy as np
        from IPython.display import HTML
        from PIL import Image
        from srgan_lib.slider import slider_html
        HTML(slider_html(Image.fromarray(np.load("before.npy")),
                         Image.fromarray(np.load("after.npy")), labels=("A", "B")))""")
    out = _html_output(a, stored_after)[0]
    out = {"output_type": "execute_result", "execution_count": 1, **out}
    nb = {"cells": [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
                     "outputs": [out], "source": code}],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "slider.ipynb").write_text(json.dumps(nb))
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book')!r})\n"
        "from nbval_images import install\ninstall()\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
         "--nbval-current-env", "-o", "addopts=", "-o", "filterwarnings=", "slider.ipynb"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("change, passes", [("rounding", True), ("picture", False)])
def test_nbval_with_the_plugin_passes_rounding_and_fails_another_picture(tmp_path, change,
                                                                         passes):
    b = _picture(1)
    run_b = _nudged(b, 2) if change == "rounding" else _picture(3)
    result = _notebook(tmp_path, b, run_b)
    assert (result.returncode == 0) == passes, result.stdout[-2000:]
    if not passes:
        assert "embedded image" in result.stdout
