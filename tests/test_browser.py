"""The rendered book in a real browser: headless Chromium driven by Playwright.

Run by `.ci/run` after it installs Debian's `chromium`, Playwright and local copies of
MathJax and ONNX Runtime Web (`npm install --prefix .ci/node mathjax@3
onnxruntime-web@1.30.0`); deselected from a plain `pytest` (marker `browser`), since it
needs those. Nothing is downloaded at test time: the pages are served from 127.0.0.1, and
the CDN files the book references (MathJax on every page, ONNX Runtime Web on the upscaling
page) are answered from the local copies (tools/local_site.py).

Screenshots of the slider at two handle positions are saved under `artifacts/` (ignored
by git) for a person to look at: `slider_*.png` from a test page, `book_slider_[ab].png`
from the comparison chapter of the built book.
"""

import base64
import functools
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan_lib.slider import slider_html
from tools.local_site import ISOLATION_HEADERS, NODE_MODULES, answer_cdn_locally, serve

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
MATHJAX = NODE_MODULES / "mathjax" / "es5"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install chromium)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def open_page(browser, url, errors, javascript=True, width=900, init_script=None,
              wait_until="networkidle"):
    """A new page (in a context of its own) at `url`, CDN files answered locally; console
    errors, uncaught exceptions and HTTP errors (a missing file: status 400 or more) are
    appended to `errors`. `wait_until`: Playwright's navigation event to wait for
    (networkidle: half a second with no requests)."""
    context = browser.new_context(java_script_enabled=javascript,
                                  viewport={"width": width, "height": 700})
    if init_script:  # run in every page before its own scripts
        context.add_init_script(init_script)

    answer_cdn_locally(context, errors)  # the CDN files from .ci/node
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    context.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}")
               if r.status >= 400 else None)
    page.goto(url, wait_until=wait_until)
    return page


def pixel(page, x, y):
    return Image.open(io.BytesIO(page.screenshot())).convert("RGB").getpixel((x, y))


@pytest.fixture(scope="module")
def slider_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slider")
    (folder / "favicon.ico").write_bytes(b"")
    before, after = Image.new("RGB", (400, 200), "red"), Image.new("RGB", (400, 200), "blue")
    page = slider_html(before, after, labels=("Bicubic", "SRGAN"))
    (folder / "index.html").write_text(f"<!doctype html><body style='margin:0'>{page}</body>")
    server, url = serve(folder)
    yield url + "/index.html"
    server.shutdown()


def test_slider_reveals_the_image_under_the_handle(browser, slider_page):
    errors = []
    page = open_page(browser, slider_page, errors)
    ARTIFACTS.mkdir(exist_ok=True)
    # Red ("before") left of the divide, blue ("after") right of it.
    assert page.get_attribute(".srgan-slider", "data-position") == "50.0"
    assert pixel(page, 150, 100) == (255, 0, 0) and pixel(page, 250, 100) == (0, 0, 255)
    page.screenshot(path=str(ARTIFACTS / "slider_50.png"))
    page.mouse.move(200, 100)
    page.mouse.down()
    page.mouse.move(60, 100, steps=8)  # drag the handle to the left
    page.mouse.up()
    position = float(page.get_attribute(".srgan-slider", "data-position"))
    assert 10 < position < 20
    assert pixel(page, 30, 100) == (255, 0, 0) and pixel(page, 150, 100) == (0, 0, 255)
    page.screenshot(path=str(ARTIFACTS / "slider_15.png"))
    # The keys move the divide by 1% of the width (10% with Shift), not by the 0.1% step
    # that keeps a drag smooth.
    page.keyboard.press("ArrowRight")
    assert float(page.get_attribute(".srgan-slider", "data-position")) == pytest.approx(
        position + 1, abs=0.05)
    page.keyboard.press("Shift+ArrowLeft")
    assert float(page.get_attribute(".srgan-slider", "data-position")) == pytest.approx(
        max(0, position - 9), abs=0.05)
    page.keyboard.press("ArrowRight")
    x = round(400 * (max(0, position - 9) + 1) / 100)  # the divide, in pixels
    assert pixel(page, x - 3, 100) == (255, 0, 0) and pixel(page, x + 3, 100) == (0, 0, 255)
    assert errors == []


def test_slider_without_scripts_still_compares(browser, slider_page):
    errors = []
    page = open_page(browser, slider_page, errors, javascript=False)
    # The CSS fallback: the top image covers the left half, resizable by its corner.
    assert pixel(page, 100, 100) == (255, 0, 0) and pixel(page, 300, 100) == (0, 0, 255)
    page.screenshot(path=str(ARTIFACTS / "slider_no_script.png"))
    assert errors == []


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    assert MATHJAX.is_dir(), "run: npm install --prefix .ci/node mathjax@3"
    out = tmp_path_factory.mktemp("book")
    # The build itself exports the in-browser page's ONNX models (tools/export_site_models.py).
    jb = shutil.which("jupyter-book")
    subprocess.run([jb, "build", str(ROOT), "--path-output", str(out), "-W"], check=True,
                   capture_output=True)
    server, url = serve(out / "_build" / "html")
    yield out / "_build" / "html", url
    server.shutdown()


def chapters(html_root):
    """The notebook chapters of the built book (Markdown pages have no Colab link)."""
    return sorted(p.stem for p in (html_root / "book").glob("[0-9][0-9]_*.html")
                  if (ROOT / "book" / f"{p.stem}.ipynb").exists())


def pages(html_root):
    """Every page a reader can open: the chapters and the Markdown pages."""
    return sorted(p.stem for p in (html_root / "book").glob("*.html"))


# The results tables of the book, by page: each must reach the reader as an HTML table
# whose header starts with these cells (Markdown printed by a cell is easy to get
# rendered as raw pipe text instead).
RESULT_TABLES = {
    "01_sr_problem": ["set", "images", "PSNR (dB)", "SSIM"],
    "03_content_loss": ["(i, j)", "layer"],
    "07_evaluation": ["set", "method", "PSNR (dB)", "SSIM"],
}


def test_every_page_loads_without_console_errors_and_fits_a_laptop_screen(browser, book):
    # A reader on a 1280-px window, each page their first (a fresh browser context: the
    # theme's colour mode unset): no page error, no console error, no missing file (once,
    # every page declared sphinx-thebe's THEBE_JS_URL twice, the theme logged an invalid
    # colour mode, and the browser's request for a tab icon was a 404); the tab icon is
    # the book's own. No code block scrolls sideways (lines clipped at the right edge hide
    # code), and no Markdown table arrives as raw pipe text.
    html_root, url = book
    for name in pages(html_root):
        errors = []
        page = open_page(browser, f"{url}/book/{name}.html", errors, width=1280)
        assert errors == [], (name, errors)
        icon = page.eval_on_selector("link[rel~='icon']", "e => e.href")
        answer = page.request.get(icon)
        assert answer.ok and answer.body() == (ROOT / "_static" / "favicon.ico").read_bytes()
        wide = page.eval_on_selector_all(
            "article pre", "els => els.filter(e => e.checkVisibility() && "
            "e.scrollWidth > e.clientWidth + 1).map(e => e.innerText.split('\\n')"
            ".reduce((a, l) => l.length > a.length ? l : a, ''))")
        assert wide == [], f"{name}: code wider than the column: {wide}"
        raw = page.eval_on_selector_all(
            "article p", "els => els.map(e => e.innerText).filter(t => /^\\|.*\\|\\s*$/m"
            ".test(t) && t.includes('---'))")
        assert raw == [], f"{name}: a table rendered as text: {raw}"
        page.context.close()


def as_served(browser, url, names):
    """(name, page) for each book page in `names`, one after the other in one tab, read as
    the server sends them: no scripts run, and no image is waited for. For what the build
    writes into the HTML (tables, links), in a fraction of the time a full load takes."""
    page = None
    for name in names:
        if page is None:
            page = open_page(browser, f"{url}/book/{name}.html", [], javascript=False,
                             width=1280, wait_until="domcontentloaded")
        else:
            page.goto(f"{url}/book/{name}.html", wait_until="domcontentloaded")
        yield name, page
    if page is not None:
        page.context.close()


def test_results_tables_render_as_html_tables(browser, book):
    _, url = book
    for name, page in as_served(browser, url, RESULT_TABLES):
        header = RESULT_TABLES[name]
        headers = page.eval_on_selector_all(
            "article table", "ts => ts.map(t => [...t.querySelectorAll('thead th')]"
            ".map(th => th.innerText.trim()))")
        assert any(h[:len(header)] == header for h in headers), (name, headers)


def test_colab_buttons_open_the_right_notebook(browser, book):
    html_root, url = book
    for name, page in as_served(browser, url, chapters(html_root)):
        links = page.eval_on_selector_all(
            "a[href*='colab.research.google.com']", "els => els.map(e => e.href)")
        assert links, f"{name}: no Colab link"
        assert all(link.endswith(f"/blob/main/book/{name}.ipynb") for link in links), links
        assert (ROOT / "book" / f"{name}.ipynb").exists()


def element_image(locator, path):
    """An element's screenshot, saved to ``path`` and returned as an RGB array."""
    return np.asarray(Image.open(io.BytesIO(locator.screenshot(path=str(path)))).convert("RGB"),
                      dtype=np.float64)


def test_book_slider_reveals_the_other_method_under_the_handle(browser, book):
    # The comparison chapter as a reader gets it: its first slider compares two methods
    # on the same crop. Dragging the divide must switch the strip it passes over from one
    # method's pixels to the other's, and leave the rest of the slider as it was.
    html_root, url = book
    errors = []
    page = open_page(browser, f"{url}/book/08_comparison.html", errors)
    slider = page.locator(".srgan-slider").first
    slider.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the sticky header
    ARTIFACTS.mkdir(exist_ok=True)
    start = float(slider.get_attribute("data-position"))
    a = element_image(slider, ARTIFACTS / "book_slider_a.png")
    box = slider.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * start / 100, y)  # grab the handle
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.15, y, steps=8)
    page.mouse.up()
    end = float(slider.get_attribute("data-position"))
    assert 10 < end < 20 and end < start
    b = element_image(slider, ARTIFACTS / "book_slider_b.png")
    assert a.shape == b.shape and a.shape[1] == round(box["width"])
    width = a.shape[1]
    old, new = round(width * start / 100), round(width * end / 100)
    passed = np.abs(a[:, new + 4:old - 4] - b[:, new + 4:old - 4]).mean()
    beyond = np.abs(a[:, old + 4:] - b[:, old + 4:]).mean()
    assert passed > 2, f"the strip the handle crossed hardly changed ({passed:.2f} levels)"
    assert beyond < 0.1, f"the part right of the old handle changed ({beyond:.2f} levels)"
    assert errors == [], errors
    page.context.close()


UPSCALE_PAGE = "book/12_upscale_in_the_browser.html"
FINAL_STATES = "['done', 'error', 'too-large', 'refused', 'cancelled']"


def test_only_the_upscaling_page_loads_its_scripts(book):
    # Jupyter Book puts every .js file under _static/ on every page; run in a page,
    # worker.js answers any message posted to the window with two more, for ever
    # (tools/export_site_models.py keeps them off).
    html_root, _ = book
    for path in sorted(html_root.rglob("*.html")):
        scripts = re.findall(r'<script[^>]*\ssrc="([^"]*upscale/[^"]*)"', path.read_text())
        want = (["../_static/upscale/pixels.js", "../_static/upscale/upscale.js"]
                if path.name == Path(UPSCALE_PAGE).name else [])
        assert scripts == want, (path.relative_to(html_root), scripts)


def upload(page, path):
    """Choose `path` in the page's file input; the state the page settles in and its line."""
    page.evaluate("document.getElementById('upscale-app').dataset.state = 'test-waits'")
    page.set_input_files("#upscale-file", str(path))
    page.wait_for_function(f"{FINAL_STATES}.includes(document.getElementById('upscale-app')"
                           ".dataset.state)", timeout=120_000)
    return page.get_attribute("#upscale-app", "data-state"), page.inner_text("#upscale-status")


def output_pixels(page):
    url = page.evaluate("document.getElementById('upscale-output').toDataURL('image/png')")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    path = folder / "astronaut_crop.png"
    Image.fromarray(data.astronaut()[60:92, 180:220]).save(path)  # 40x32, a face's edge
    return path


def test_upscale_page_refuses_bad_files_with_one_line(browser, book, tmp_path):
    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    text = tmp_path / "notes.png"
    text.write_text("these are notes, not a picture")
    state, line = upload(page, text)
    assert state == "error" and line.startswith("notes.png: not an image"), line
    broken = tmp_path / "broken.png"  # a PNG signature, then garbage
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    state, line = upload(page, broken)
    assert state == "error" and line.startswith("broken.png: not an image"), line
    big = tmp_path / "big.png"
    Image.new("RGB", (1100, 40), "grey").save(big)
    state, line = upload(page, big)
    assert state == "too-large" and "1100x40" in line and "1024x1024" in line, line
    assert page.is_visible("#upscale-crop") and "\n" not in line
    # The button names the crop it makes: as wide as the limit, as tall as the image.
    assert page.inner_text("#upscale-crop") == "Upscale the centre 1024x40 crop"
    assert page.is_hidden("#upscale-result") and page.is_disabled("#upscale-cancel")
    assert errors == []


def test_upscale_page_matches_python_and_refuses_a_second_file(browser, book, photo):
    from srgan_lib.upscale import resolve_model, super_resolve

    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    # Tiles of 20 LR pixels: the 40x32 image runs as 2x2 tiles, each with its 40-px context.
    page.evaluate("document.getElementById('upscale-app').setAttribute('data-tile', '20')")
    running = ("document.getElementById('upscale-status').innerText.startsWith('Upscaling on')")
    page.set_input_files("#upscale-file", str(photo))  # started, then cancelled
    page.wait_for_function(running, timeout=60_000)
    page.click("#upscale-cancel")
    assert page.get_attribute("#upscale-app", "data-state") == "cancelled"
    assert page.inner_text("#upscale-status").startswith("Cancelled astronaut_crop.png")
    page.set_input_files("#upscale-file", str(photo))  # and started again, to the end
    page.wait_for_function(running, timeout=60_000)
    assert page.is_enabled("#upscale-cancel")
    page.evaluate("document.getElementById('upscale-app').dataset.noticeMs = '300'")
    state, line = upload(page, photo)  # a second file while the first runs: refused
    assert state == "refused" and line.startswith("Still upscaling astronaut_crop.png"), line
    # The red refusal goes (here after 0.3 s, 5 s by default): the run's own line is back
    # while it goes on, not at its end.
    page.wait_for_function("['running', 'done'].includes(document.getElementById("
                           "'upscale-app').dataset.state)", timeout=120_000)
    assert page.get_attribute("#upscale-app", "data-state") == "running"
    assert page.inner_text("#upscale-status").startswith("Upscaling on")
    assert page.is_enabled("#upscale-cancel")
    page.wait_for_function("document.getElementById('upscale-app').dataset.state == 'done'",
                           timeout=120_000)
    line = page.inner_text("#upscale-status")
    print("\n" + line)
    got = np.asarray(output_pixels(page), dtype=np.int16)
    want = np.asarray(super_resolve(resolve_model("srgan"), Image.open(photo).convert("RGB")),
                      dtype=np.int16)
    assert got.shape == (128, 160, 4) and (got[..., 3] == 255).all()
    assert np.abs(got[..., :3] - want).max() <= 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#upscale-app").screenshot(path=str(ARTIFACTS / "upscale_page.png"))
    assert page.is_visible("#upscale-download") and page.is_disabled("#upscale-cancel")
    assert page.is_hidden("#upscale-detail")  # shown at its real size: no 1:1 views needed
    assert errors == []


def test_upscale_page_keeps_transparency(browser, book, photo, tmp_path):
    # RGBA: the colours go through the network, the alpha is upscaled by bicubic.
    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    rgba = Image.open(photo).convert("RGBA")
    alpha = np.full((32, 40), 255, np.uint8)
    alpha[:, :20] = 0  # the left half transparent
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "logo.png")
    state, line = upload(page, tmp_path / "logo.png")
    assert state == "done", line
    got = np.asarray(output_pixels(page))
    assert got.shape == (128, 160, 4)
    assert (got[:, :70, 3] == 0).all() and (got[:, 90:, 3] == 255).all()
    assert errors == []


@functools.cache
def srgan():
    from srgan_lib.upscale import resolve_model

    return resolve_model("srgan")


def python_result(img):
    """What `srgan_lib upscale` makes of the decoded image (RGB): (H, W, 3) levels, as int16.
    An image whose pixels are all grey, which is all the page sees of a greyscale file, as
    upscale_image makes a greyscale one: grey (its luminance), in three equal channels."""
    from srgan_lib.upscale import super_resolve, upscale_image

    rgb = np.asarray(img.convert("RGB"))
    if (rgb == rgb[..., :1]).all():
        grey = np.asarray(upscale_image(srgan(), Image.fromarray(rgb[..., 0], "L")))
        return np.repeat(grey[..., None], 3, axis=2).astype(np.int16)
    return np.asarray(super_resolve(srgan(), img), dtype=np.int16)


def upscaled(page, path, size):
    """Upload `path`, expect the page to finish with a one-line report of an LR image of
    `size` (w, h); the output canvas as (H, W, 4) int16, fully opaque."""
    state, line = upload(page, path)
    w, h = size
    assert state == "done", line
    assert line.startswith(f"{path.name}: {w}x{h} upscaled to {4 * w}x{4 * h} in "), line
    assert "\n" not in line and "undefined" not in line and "NaN" not in line, line
    print("\n" + line)
    got = np.asarray(output_pixels(page), dtype=np.int16)
    assert got.shape == (4 * h, 4 * w, 4) and (got[..., 3] == 255).all()
    return got[..., :3]


def differences(got, want):
    """Max and mean absolute difference, in levels."""
    d = np.abs(got - want)
    return int(d.max()), round(float(d.mean()), 5)


# The same LR pixels on both sides leave only float rounding between ONNX Runtime and
# PyTorch: a few output values in 60,000 one level apart (mean 2e-5 to 7e-5 measured).
# LR pixels one level apart (rounding 16 bits to 8 instead of truncating, measured; or an
# off-by-one decode) give a mean of 0.67 to 1 and a maximum of 3 to 9.
SAME_INPUT_MEAN = 0.01


def test_upscale_page_takes_a_greyscale_png(browser, book, photo, tmp_path):
    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    # Grey in, grey out, as upscale_image: the network's output made grey by Pillow's
    # luminance (before, the network's faint colour noise came through), downloaded as a
    # greyscale PNG.
    grey = Image.open(photo).convert("L")
    grey.save(tmp_path / "grey.png")
    got = upscaled(page, tmp_path / "grey.png", (40, 32))
    assert (got == got[..., :1]).all()
    diff = differences(got, python_result(grey.convert("RGB")))
    print("greyscale: max, mean difference", diff)
    assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN
    name, png = download(page)
    assert png.mode == "L" and np.array_equal(np.asarray(png), got[..., 0])
    assert errors == []


@pytest.fixture(scope="module")
def isolated_book(book):
    """The built book served cross-origin isolated (COOP and COEP on every response, as a
    host can be set up to send): the page's URL root."""
    server, url = serve(book[0], headers=ISOLATION_HEADERS)
    yield url
    server.shutdown()


def test_upscale_page_runs_on_threads_when_cross_origin_isolated(browser, isolated_book,
                                                                 photo):
    # Isolated, the worker has SharedArrayBuffer and runs ONNX Runtime's threaded
    # WebAssembly with a thread per core (a plain host, as above, gets one thread). Every
    # file the page loads must then be same-origin with COEP of its own (the worker) or
    # carry CORP (ONNX Runtime's scripts, modules and .wasm, as jsDelivr and its local
    # stand-in send them).
    errors = []
    page = open_page(browser, f"{isolated_book}/{UPSCALE_PAGE}", errors)
    assert page.evaluate("self.crossOriginIsolated")
    cores = page.evaluate("navigator.hardwareConcurrency")
    assert cores > 1, "threads need a machine with more than one core"
    got = upscaled(page, photo, (40, 32))
    assert page.inner_text("#upscale-status").endswith(f" s (WebAssembly, {cores} threads).")
    diff = differences(got, python_result(Image.open(photo).convert("RGB")))
    print(f"{cores} threads: max, mean difference", diff)
    assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN
    assert errors == []


def test_upscale_page_says_so_when_its_worker_cannot_start(browser, isolated_book, photo):
    # A host that sends COEP with its pages but not with worker.js: an isolated page may
    # not start such a worker (Chromium refuses it). The page says so in its one line
    # instead of waiting at "Starting..." for ever.
    def without_coep(route):
        response = route.fetch()
        route.fulfill(response=response, headers={
            k: v for k, v in response.headers.items()
            if k.lower() != "cross-origin-embedder-policy"})

    errors = []
    page = open_page(browser, f"{isolated_book}/{UPSCALE_PAGE}", errors)
    page.context.route("**/_static/upscale/worker.js", without_coep)  # the Worker's request
    state, line = upload(page, photo)
    assert state == "error", line
    assert line == "astronaut_crop.png: the upscaling worker did not start (worker.js did " \
        "not load).", line
    assert page.is_disabled("#upscale-cancel") and page.is_hidden("#upscale-progress")
    assert errors == []


@pytest.fixture(scope="module")
def webgpu_browser(browser):
    """A second Chromium, with WebGPU switched on (--enable-unsafe-webgpu). Headless and with
    no GPU it offers SwiftShader's software adapter ("google", "swiftshader"), to pages and
    to their workers alike (measured, Chromium 156; without the switch: no adapter)."""
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                           args=FLAGS + ["--enable-unsafe-webgpu"])
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def thumbnail(tmp_path_factory):
    """An 8x8 crop of the astronaut photo. WebGPU on SwiftShader is slow: about 5 s for this
    one, mostly a fixed cost (as for 4x4), and 60 s for the 40x32 `photo` (measured on 2
    busy cores)."""
    from skimage import data

    path = tmp_path_factory.mktemp("thumbnail") / "thumbnail.png"
    Image.fromarray(data.astronaut()[60:68, 180:188]).save(path)
    return path


def test_upscale_page_runs_on_webgpu_where_the_browser_offers_it(webgpu_browser, book,
                                                                 thumbnail):
    _, url = book
    errors = []
    page = open_page(webgpu_browser, f"{url}/{UPSCALE_PAGE}", errors)
    assert page.evaluate("navigator.gpu.requestAdapter().then(a => a.info.architecture)") \
        == "swiftshader"
    got = upscaled(page, thumbnail, (8, 8))
    assert page.inner_text("#upscale-status").endswith(" s (WebGPU).")
    diff = differences(got, python_result(Image.open(thumbnail).convert("RGB")))
    print("WebGPU (SwiftShader): max, mean difference", diff)
    assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN
    assert errors == []


def before_each_worker(prelude):
    """An init script for a page: every Worker the page starts runs the JavaScript
    `prelude` first, then its own script. (Playwright's init scripts reach pages, not
    workers; this starts the worker from a blob: URL of the page's origin instead, which
    imports the real script.)"""
    return f"""(() => {{
      const Original = self.Worker, prelude = {json.dumps(prelude)};
      self.Worker = function (url, options) {{
        const source = prelude + "\\nimportScripts(" + JSON.stringify(String(url)) + ");";
        return new Original(URL.createObjectURL(new Blob([source])), options);
      }};
    }})()"""


# In the worker: the GPU adapter is still offered, but no device comes from it.
NO_GPU_DEVICE = ("GPUAdapter.prototype.requestDevice = () => "
                 "Promise.reject(new Error('a test: no device'));")


def test_upscale_page_falls_back_to_webassembly_when_webgpu_fails(webgpu_browser, book,
                                                                  thumbnail):
    # The browser offers an adapter, so the worker loads ONNX Runtime's WebGPU build, but
    # the session fails to start. That runtime is lost (its WebAssembly session then never
    # comes: measured, ONNX Runtime Web 1.30): the page starts a new worker with the
    # WebAssembly build, and keeps to it for the next image.
    _, url = book
    errors, runtimes = [], []
    page = open_page(webgpu_browser, f"{url}/{UPSCALE_PAGE}", errors,
                     init_script=before_each_worker(NO_GPU_DEVICE))
    page.context.on("request", lambda r: runtimes.append(r.url.rsplit("/", 1)[1])
                    if r.url.startswith("https://cdn.jsdelivr.net/npm/onnxruntime-web@")
                    and r.url.endswith(".min.js") else None)
    want = python_result(Image.open(thumbnail).convert("RGB"))
    for runs in (["ort.webgpu.min.js", "ort.wasm.min.js"], ["ort.wasm.min.js"]):
        runtimes.clear()
        got = upscaled(page, thumbnail, (8, 8))
        assert page.inner_text("#upscale-status").endswith(" s (WebAssembly, 1 thread).")
        assert runtimes == runs
        diff = differences(got, want)
        assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN, diff
    assert errors == []


@pytest.fixture(scope="module")
def deep_photo():
    """A 32x40 photo with 16 bits of real detail: a 128x160 crop of skimage's astronaut,
    averaged over 4x4 blocks in floating point, as (H, W, 3) uint16."""
    from skimage import data

    hr = data.astronaut()[0:128, 140:300].astype(np.float64)
    return np.round(hr.reshape(32, 4, 40, 4, 3).mean(axis=(1, 3)) * 257).astype(np.uint16)


def test_upscale_page_takes_16_bit_pngs_as_python_does(browser, book, deep_photo, tmp_path,
                                                        write_png16):
    # 16 bits to 8: Chromium keeps the high byte (v >> 8) and so does load_image, for
    # greyscale (I;16, written by Pillow) and 48-bit RGB (written by hand) alike, so the
    # network sees the same pixels on both sides. Rounding instead (v / 257, what load_image
    # did for I;16 before) moves a fifth of this image's LR values by one level: measured
    # against the page, max 9 and mean 0.67 (grey) or 0.83 (RGB) levels apart.
    from srgan_lib.images import load_image

    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    luma = np.round(deep_photo @ np.array([0.299, 0.587, 0.114])).astype(np.uint16)
    Image.fromarray(luma).save(tmp_path / "grey16.png")
    write_png16(tmp_path / "rgb48.png", deep_photo)
    for name, deep in (("grey16.png", luma), ("rgb48.png", deep_photo)):
        path = tmp_path / name
        lr = load_image(path)
        high_byte = (deep >> 8).astype(np.uint8)
        assert np.array_equal(np.asarray(lr), np.dstack([high_byte] * 3)
                              if deep.ndim == 2 else high_byte)
        got = upscaled(page, path, (40, 32))
        diff = differences(got, python_result(lr))
        rounded = Image.fromarray(np.round(deep / 257).astype(np.uint8)).convert("RGB")
        wrong = differences(got, python_result(rounded))
        print(name, "max, mean difference", diff, "| against rounding:", wrong)
        assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN and wrong[1] > 0.3
    assert errors == []


@pytest.mark.parametrize("orientation", [6, 8])
def test_upscale_page_turns_an_exif_rotated_jpeg_upright(browser, book, photo, tmp_path,
                                                         orientation):
    # A camera JPEG stored 40x32 with "rotate me" in its EXIF: shown, and upscaled, 32x40.
    # Read without its EXIF it would be reported as 40x32 and fail `upscaled`; turned the
    # wrong way it has the right size but is 68 levels away on average (measured).
    # Chromium's and Pillow's JPEG decoders agree exactly here (4:4:4, quality 95:
    # measured max difference 0), so the outputs differ by float rounding only (max 1).
    from PIL import ImageOps

    from srgan_lib.images import load_image

    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    exif = Image.Exif()
    exif[0x0112] = orientation  # 6: turn 90 degrees clockwise to show; 8: anticlockwise
    path = tmp_path / f"camera{orientation}.jpg"
    Image.open(photo).save(path, "JPEG", quality=95, subsampling=0, exif=exif)
    with Image.open(path) as stored:
        upright = ImageOps.exif_transpose(stored)
    assert upright.size == (32, 40) and load_image(path).tobytes() == upright.tobytes()
    got = upscaled(page, path, (32, 40))
    want = python_result(upright.convert("RGB"))
    diff = differences(got, want)
    wrong = differences(got, want[::-1, ::-1])  # turned the other way: the same size
    print(f"orientation {orientation}: max, mean difference", diff, "| turned the other way:",
          wrong)
    assert diff[0] <= 2 and wrong[1] > 20
    assert errors == []


def device_memory(gb):
    """An init script that makes the page's navigator.deviceMemory read `gb` (None: absent,
    as in Firefox and Safari). Only the page needs it: it picks the tile, the worker is told."""
    value = "undefined" if gb is None else gb
    return f"Object.defineProperty(navigator, 'deviceMemory', {{get: () => {value}}})"


def test_upscale_page_uses_smaller_tiles_on_a_low_memory_device(browser, book, thumbnail,
                                                                tmp_path):
    # A 256-pixel tile needs about 1.2 GB (tools/page_memory.py); where Chrome reports 4 GB
    # of memory or less the page runs 128-pixel tiles instead, with the same result. This
    # 136x48 crop is one tile at 256 but two at 128, each with its 40-px context.
    from skimage import data

    _, url = book
    for gb, tile in ((8, "256"), (None, "256"), (4, "128")):  # a desktop, Firefox, a phone
        errors = []
        page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors, init_script=device_memory(gb))
        assert page.evaluate("navigator.deviceMemory") == gb
        upscaled(page, thumbnail, (8, 8))
        assert page.get_attribute("#upscale-app", "data-tile-used") == tile, gb
        assert errors == []
        page.context.close()
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors, init_script=device_memory(2))
    path = tmp_path / "wide_crop.png"
    Image.fromarray(data.astronaut()[40:88, 150:286]).save(path)
    got = upscaled(page, path, (136, 48))
    assert page.get_attribute("#upscale-app", "data-tile-used") == "128"
    diff = differences(got, python_result(Image.open(path).convert("RGB")))
    print("2 GB device, 128-pixel tiles: max, mean difference", diff)
    assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN
    assert errors == []


# In the first worker the page starts (and only there): ONNX Runtime loads, but every
# session fails as WebAssembly does when it runs out of memory. The page counts the workers
# it starts and ends (window.workersStarted, window.workersEnded).
FIRST_WORKER_OUT_OF_MEMORY = """(() => {
  const Original = self.Worker, terminate = Original.prototype.terminate;
  const prelude = `
    const importOriginal = self.importScripts;
    self.importScripts = function (...urls) {
      importOriginal.apply(self, urls);
      if (self.ort && !self.failing) {
        self.failing = true;
        ort.InferenceSession.create = () => Promise.reject(
          new RangeError("WebAssembly.instantiate(): Out of memory: a test"));
      }
    };`;
  self.workersStarted = 0;
  self.workersEnded = 0;
  Original.prototype.terminate = function () { self.workersEnded++; terminate.call(this); };
  self.Worker = function (url, options) {
    const source = (self.workersStarted++ ? "" : prelude) +
      "\\nimportScripts(" + JSON.stringify(String(url)) + ");";
    return new Original(URL.createObjectURL(new Blob([source])), options);
  };
})()"""


def test_upscale_page_ends_a_worker_that_failed(browser, book, thumbnail):
    # WebAssembly memory never shrinks: after an error in the worker (out of memory, say)
    # the page ends that worker, as it does after a result, so the next image gets a new
    # one. (Once it only said the error and kept the worker for the next image.)
    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors,
                     init_script=FIRST_WORKER_OUT_OF_MEMORY)
    state, line = upload(page, thumbnail)
    assert state == "error" and line == "thumbnail.png: WebAssembly.instantiate(): Out of " \
        "memory: a test", line
    assert page.evaluate("[workersStarted, workersEnded]") == [1, 1]
    assert page.is_disabled("#upscale-cancel") and page.is_hidden("#upscale-progress")
    got = upscaled(page, thumbnail, (8, 8))  # a new worker, which works
    assert page.evaluate("[workersStarted, workersEnded]") == [2, 2]
    diff = differences(got, python_result(Image.open(thumbnail).convert("RGB")))
    assert diff[0] <= 2 and diff[1] < SAME_INPUT_MEAN
    assert errors == []


def download(page):
    """Press the page's download button; the file it saves, as a PIL image."""
    with page.expect_download() as info:
        page.click("#upscale-download")
    return info.value.suggested_filename, Image.open(info.value.path())


def test_upscale_page_shows_a_large_result_at_1_to_1_and_downloads_rgb(browser, book,
                                                                        tmp_path):
    # A 480x320 result in a 420-px window is shown at about 360 px: too small to see what
    # the network did. Beside the slider, a part of each side at its real size; a click on
    # the slider moves it. An opaque image downloads as an RGB PNG (a canvas gives RGBA).
    from skimage import data

    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors, width=420)
    path = tmp_path / "face.png"
    Image.fromarray(data.astronaut()[20:100, 160:280]).save(path)
    got = upscaled(page, path, (120, 80))
    shown = page.evaluate("document.getElementById('upscale-output')"
                          ".getBoundingClientRect().width")
    assert shown < 480 - 50, shown
    assert page.is_visible("#upscale-detail")

    def views():
        """The two 1:1 views: where they start in the result, their CSS widths, and
        whether each holds that part of its side, pixel for pixel."""
        return page.evaluate("""() => {
          const $ = id => document.getElementById(id);
          const [x, y] = $('upscale-detail').dataset.crop.split(',').map(Number);
          const out = [x, y];
          for (const [side, view] of [['upscale-before', 'upscale-detail-before'],
                                      ['upscale-output', 'upscale-detail-after']]) {
            const v = $(view), w = v.width, h = v.height;
            const a = $(side).getContext('2d').getImageData(x, y, w, h).data;
            const b = v.getContext('2d').getImageData(0, 0, w, h).data;
            out.push([w, h, v.getBoundingClientRect().width, a.every((p, i) => p === b[i])]);
          }
          return out;
        }""")

    x, y, *sides = views()
    assert (x, y) == (240 - 128, 160 - 128)  # around the centre
    assert sides == [[256, 256, 256, True]] * 2
    page.locator("#upscale-slider").evaluate("e => e.scrollIntoView({block: 'center'})")
    box = page.locator("#upscale-slider").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.9)
    x, y, *sides = views()
    assert (x, y) == (0, 320 - 256)  # the bottom-left corner, kept inside the result
    assert sides == [[256, 256, 256, True]] * 2
    name, png = download(page)
    assert name == "face_srgan_x4.png" and png.mode == "RGB" and png.size == (480, 320)
    assert np.array_equal(np.asarray(png, dtype=np.int16), got)
    assert errors == []


def test_upscale_page_pixel_arithmetic_matches_pillow(browser, book):
    # pixels.js, checked piece by piece in the page: Pillow's bicubic upscale, integer for
    # integer, and a PNG that Pillow reads back exactly, RGB and RGBA.
    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    rng = np.random.default_rng(0)
    for w, h in ((13, 7), (1, 3), (40, 32)):
        src = rng.integers(0, 256, (h, w), dtype=np.uint8)
        src[:, : w // 2] = 255 * (np.arange(w // 2) % 2)  # hard edges: the most ringing
        want = np.asarray(Image.fromarray(src).resize((4 * w, 4 * h), Image.BICUBIC))
        got = page.evaluate("([s, w, h]) => Array.from(SRGANPixels.resizeBicubic("
                            "Uint8Array.from(s), w, h, 4 * w, 4 * h))",
                            [src.ravel().tolist(), w, h])
        assert np.array_equal(np.array(got, np.uint8).reshape(4 * h, 4 * w), want), (w, h)
    for channels in (1, 2, 3, 4):
        pixels = rng.integers(0, 256, (5, 9, channels), dtype=np.uint8)
        data_url = page.evaluate("""async ([p, c]) => {
          const blob = await SRGANPixels.encodePng(Uint8Array.from(p), 9, 5, c);
          return await new Promise(done => {
            const r = new FileReader(); r.onload = () => done(r.result);
            r.readAsDataURL(blob);
          });
        }""", [pixels.ravel().tolist(), channels])
        png = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
        assert png.mode == ("L", "LA", "RGB", "RGBA")[channels - 1]
        assert np.array_equal(np.asarray(png).reshape(pixels.shape), pixels)
    assert errors == []


@pytest.fixture(scope="module")
def soft_logo(tmp_path_factory):
    """A 40x32 RGBA image with soft edges: the astronaut's face inside a disc whose alpha
    falls from 255 to 0 over 5 pixels (every level from 1 to 254 on its rim), and pure red,
    never seen, under alpha 0."""
    from skimage import data

    y, x = np.mgrid[0:32, 0:40]
    alpha = np.clip((13 - np.hypot(x - 19.5, y - 15.5)) / 5, 0, 1)
    rgba = np.dstack([data.astronaut()[60:92, 180:220], np.round(alpha * 255)]).astype(np.uint8)
    rgba[rgba[..., 3] == 0, :3] = (255, 0, 0)
    path = tmp_path_factory.mktemp("logo") / "soft_logo.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_upscale_page_handles_alpha_as_the_command_line_does(browser, book, soft_logo):
    # The page and `srgan_lib upscale` on the same RGBA image: the colours under alpha 0
    # filled from the visible ones (fill_transparent), the alpha upscaled by Pillow's
    # bicubic, no colour where it is 0. The download agrees with upscale_image within
    # 2 levels, colour and alpha alike; before, 26 levels of alpha and 27 of colour apart.
    from srgan_lib.upscale import fill_transparent, upscale_image

    _, url = book
    errors = []
    page = open_page(browser, f"{url}/{UPSCALE_PAGE}", errors)
    img = Image.open(soft_logo)
    assert len(np.unique(np.asarray(img)[..., 3])) > 30  # soft: many levels of alpha
    rgba = np.asarray(img)
    got = page.evaluate("([p, w, h]) => Array.from(SRGANPixels.fillTransparent("
                        "Uint8Array.from(p), w, h))", [rgba.ravel().tolist(), 40, 32])
    want = np.asarray(fill_transparent(img))
    assert np.array_equal(np.array(got, np.uint8).reshape(32, 40, 3), want)
    state, line = upload(page, soft_logo)
    assert state == "done", line
    name, png = download(page)
    assert name == "soft_logo_srgan_x4.png" and png.mode == "RGBA" and png.size == (160, 128)
    page_rgba = np.asarray(png, dtype=np.int16)
    cli = np.asarray(upscale_image(srgan(), img), dtype=np.int16)
    colour = np.abs(page_rgba[..., :3] - cli[..., :3]).max()
    alpha = np.abs(page_rgba[..., 3] - cli[..., 3]).max()
    print(f"\npage against the command line: colour {colour}, alpha {alpha} levels apart")
    assert colour <= 2 and alpha <= 2
    assert errors == []
