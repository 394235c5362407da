"""tools/page_sizes.py: a page's text, and the text a reader sees before unfolding anything."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("page_sizes", ROOT / "tools" / "page_sizes.py")
page_sizes = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page_sizes)

PAGE = """<html><body><nav>menu</nav><article>
<p>Seen   text.</p><script>var hidden = 1;</script>
<div class="dropdown admonition"><p>A solution.</p></div>
<div class="cell tag_hide-cell docutils container"><pre>code = 1<br>more</pre></div>
<details class="admonition hide above-input"><pre>set-up</pre></details>
<p>End.</p></article></body></html>"""


def test_page_text_keeps_the_article_without_scripts():
    text = page_sizes.page_text(PAGE)
    assert text.startswith("Seen text.") and "A solution." in text and "set-up" in text
    assert "menu" not in text and "hidden" not in text


def test_open_text_leaves_out_what_is_folded():
    assert page_sizes.open_text(PAGE) == "Seen text. End."
