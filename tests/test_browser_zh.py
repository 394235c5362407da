"""The Chinese edition in a real browser: headless Chromium driven by Playwright.

Set up as tests/test_browser.py is (`.ci/run` installs Debian's `chromium` and local copies
of MathJax and ONNX Runtime Web under `.ci/node`); deselected from a plain `pytest`
(marker `browser`). Both books are built into a temporary folder and published as they are
meant to be: the English site, with the zh site inside it at `zh/`, which is what the
language switch (`_static/language_switch.js`) links to.
"""

import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.test_browser import MATHJAX, browser, open_page  # noqa: F401 (a fixture)
from tools import sync_zh
from tools.local_site import serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
# What a reader types into the zh book's search, and a page it must find.
SEARCHES = {"超分辨率": "book/glossary", "生成对抗网络": "book/glossary",
            "感知损失": "book/glossary", "数据目录": "book/11_data"}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Both books built (warnings are errors) and served: ``(html root, url)``."""
    assert MATHJAX.is_dir(), "run: npm install --prefix .ci/node mathjax@3"
    out = tmp_path_factory.mktemp("site")
    jb = shutil.which("jupyter-book")
    # The English build's warnings are tests/test_browser.py's business; the zh build's here.
    for book, path, strict in ((ROOT, out / "en", []), (ROOT / "zh", out / "zh", ["-W", "-n"])):
        done = subprocess.run([jb, "build", str(book), "--path-output", str(path), *strict,
                               "--keep-going"], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = out / "en" / "_build" / "html"
    shutil.copytree(out / "zh" / "_build" / "html", html / "zh")
    server, url = serve(html)
    yield html, url
    server.shutdown()


def zh_pages(html):
    return sorted(p.stem for p in (html / "zh" / "book").glob("*.html"))


def test_zh_pages_render_fit_the_screen_and_have_no_console_errors(browser, site):  # noqa: F811
    html, url = site
    assert set(zh_pages(html)) == {*sync_zh.pages(), "glossary"}
    for name in zh_pages(html):
        errors = []
        page = open_page(browser, f"{url}/zh/book/{name}.html", errors, width=1280)
        assert errors == [], (name, errors)
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        assert page.eval_on_selector("article", "e => e.innerText.length") > 150, name
        scroll = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll[0] <= scroll[1], f"{name}: the page scrolls sideways: {scroll}"
        wide = page.eval_on_selector_all(
            "article pre", "els => els.filter(e => e.checkVisibility() && "
            "e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.slice(0, 80))")
        assert wide == [], f"{name}: code wider than the column: {wide}"
        raw = page.eval_on_selector_all(
            "article p", "els => els.map(e => e.innerText).filter(t => /^\\|.*\\|\\s*$/m"
            ".test(t) && t.includes('---'))")
        assert raw == [], f"{name}: a table rendered as text: {raw}"
        colab = page.eval_on_selector_all("a[href*='colab.research.google.com']",
                                          "els => els.map(e => e.href)")
        if (ROOT / "book" / f"{name}.ipynb").exists():  # the launch button and the page's link
            assert len(colab) >= 2, (name, colab)
        assert all(link.endswith(f"/blob/main/zh/book/{name}.ipynb") for link in colab), colab
        page.context.close()


def test_glossary_tables_render_as_tables(browser, site):  # noqa: F811
    _, url = site
    page = open_page(browser, f"{url}/zh/book/glossary.html", [], width=1280)
    headers = page.eval_on_selector_all(
        "article table", "ts => ts.map(t => [...t.querySelectorAll('thead th')]"
        ".map(th => th.innerText.trim()))")
    assert headers and all(h == ["中文", "English", "说明"] for h in headers), headers
    page.context.close()


def switch(page):
    """Follow the page's language switch; the URL it lands on."""
    link = page.locator("#srgan-language-switch")
    assert link.count() == 1 and link.is_visible()
    with page.expect_navigation(wait_until="domcontentloaded"):
        link.click()
    return page.url


def test_language_switch_lands_on_the_twin_page_both_ways(browser, site):  # noqa: F811
    html, url = site
    errors = []
    page = open_page(browser, f"{url}/book/intro.html", errors, width=1280)
    for name in sync_zh.pages():
        page.goto(f"{url}/book/{name}.html", wait_until="domcontentloaded")
        assert page.locator("#srgan-language-switch").inner_text() == "中文"
        assert switch(page) == f"{url}/zh/book/{name}.html"
        assert page.locator("#srgan-language-switch").inner_text() == "English"
        assert switch(page) == f"{url}/book/{name}.html"
    # A page without a zh twin yet leads to the zh book's first page, and the zh-only
    # glossary back to the English book's.
    missing = sorted({p.stem for p in (html / "book").glob("*.html")} - set(sync_zh.pages()))
    if missing:
        page.goto(f"{url}/book/{missing[0]}.html", wait_until="domcontentloaded")
        assert switch(page) == f"{url}/zh/book/intro.html" or page.url.startswith(f"{url}/zh/")
    page.goto(f"{url}/zh/book/glossary.html", wait_until="domcontentloaded")
    assert switch(page) == f"{url}/book/intro.html"
    assert errors == []
    page.context.close()


def test_zh_search_finds_whole_chinese_terms(browser, site):  # noqa: F811
    _, url = site
    for term, expected in SEARCHES.items():
        errors = []
        page = open_page(browser, f"{url}/zh/search.html?q={quote(term)}", errors,
                         width=1280)
        page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
        found = page.eval_on_selector_all("#search-results ul.search li a",
                                          "els => els.map(e => e.getAttribute('href'))")
        assert any(href.startswith(expected + ".html") for href in found), (term, found)
        assert errors == [], (term, errors)
        page.context.close()
