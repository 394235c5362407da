"""Export the shipped generators to ONNX for the book's in-browser upscaling page.

Writes ``_static/models/srgan_x4.onnx`` and ``_static/models/srresnet_x4.onnx`` from the
weights in ``data/`` (``srgan_lib.export.export_onnx``); Jupyter Book copies ``_static/`` into
the built site. The files are made, not committed (git ignores ``_static/models/``); a file
newer than its weights is kept. The book build runs it (``_config.yml`` loads this file as
a Sphinx extension: ``setup`` below), so ``jupyter-book build .`` alone makes a complete
site; it also runs on its own:

    python tools/export_site_models.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("srgan_x4", "srresnet_x4")


def export_site_models(out_dir=ROOT / "_static" / "models"):
    """Export each shipped model in ``MODELS`` to ``out_dir``; returns the ``.onnx`` paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MODELS:
        weights, onnx = ROOT / "data" / f"{name}.safetensors", out_dir / f"{name}.onnx"
        if not onnx.exists() or onnx.stat().st_mtime < weights.stat().st_mtime:
            sys.path.insert(0, str(ROOT))
            from srgan_lib.export import export_onnx  # imports torch: only when needed

            export_onnx(weights, onnx)
        paths.append(onnx)
    return paths


# The page's scripts, which it loads itself. Jupyter Book adds every .js file under _static/
# to every page of the book: worker.js would then run in each page, where its message
# handler answers any message posted to the window (browser extensions post them) with two
# of its own, for ever (measured: 62,000 a second, a CPU core busy).
PAGE_SCRIPTS = "upscale/"


def page_scripts_only_where_used(app, config):
    """Drop the upscaling page's scripts from the ones Sphinx puts on every page."""
    config.html_js_files = [js for js in config.html_js_files
                            if not (js[0] if isinstance(js, tuple) else js)
                            .startswith(PAGE_SCRIPTS)]


def setup(app):
    """Sphinx extension entry point: export the models as the build starts, before Sphinx
    copies ``_static/`` into the site; keep the page's scripts off the other pages."""
    app.connect("config-inited", page_scripts_only_where_used)
    app.connect("builder-inited", lambda app: export_site_models())
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for path in export_site_models():
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.1f} MB")
