"""Rendered text size of each page of the built book (_build/html), in KB.

The reader-facing measure of a chapter's length: the text inside the page's article,
without scripts and styles, whitespace collapsed; and, beside it, the text a reader sees
before opening anything ("open"): without the folded parts (exercise solutions in dropdowns,
cells tagged hide-cell, inputs tagged hide-input). Usage: python tools/page_sizes.py
"""
import re
import sys
from html.parser import HTMLParser
from pathlib import Path


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.skip = 0
        self.parts = []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def page_text(html):
    """The visible text of a built page's article, whitespace collapsed."""
    match = re.search(r"<article[^>]*>(.*)</article>", html, re.S)
    parser = _Text()
    parser.feed(match.group(1) if match else html)
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


FOLDED = ("div.dropdown.admonition", "div.tag_hide-cell", "details.hide")


def open_text(html):
    """The visible text of a built page's article without its folded parts."""
    from bs4 import BeautifulSoup  # comes with Jupyter Book

    soup = BeautifulSoup(html, "html.parser")
    for folded in soup.select(", ".join(FOLDED)):
        folded.decompose()
    return page_text(str(soup))


def main(root="_build/html"):
    for page in sorted(Path(root).glob("book/*.html")):
        html = page.read_text(encoding="utf-8")
        size, shown = (len(text.encode()) for text in (page_text(html), open_text(html)))
        print(f"{page.relative_to(root)}  {size / 1000:5.1f} KB  (open: {shown / 1000:5.1f} KB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
