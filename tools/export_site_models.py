"""Export the shipped generators to ONNX for the book's in-browser upscaling page.

Writes ``_static/models/srgan_x4.onnx`` and ``_static/models/srresnet_x4.onnx`` from the
weights in ``data/`` (``srgan_lib.export.export_onnx``); Jupyter Book copies ``_static/`` into
the built site. The files are made, not committed (git ignores ``_static/models/``). Each
``.onnx`` has a ``.onnx.source`` beside it holding a digest of what made it (its weights and
the library code that exports them); a file whose digest still matches is kept, so a new
build re-exports after a change to the weights or to the exporter, and only then. The book
build runs it (``_config.yml`` loads this file as a Sphinx extension: ``setup`` below), so
``jupyter-book build .`` alone makes a complete site; it also runs on its own:

    python tools/export_site_models.py
"""

import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("srgan_x4", "srresnet_x4")
# The library code an exported file depends on besides its weights: the exporter, and the
# network as super_resolve runs it (the folded last convolution), with the models.
EXPORTER = ("srgan_lib/export.py", "srgan_lib/upscale.py", "srgan_lib/models.py")


def source_digest(weights, root=ROOT):
    """The sha256 of ``weights`` and of the exporter's code (``EXPORTER``), as hex."""
    digest = hashlib.sha256()
    for path in (Path(weights), *(Path(root) / name for name in EXPORTER)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def export_site_models(out_dir=ROOT / "_static" / "models"):
    """Export each shipped model in ``MODELS`` to ``out_dir``; returns the ``.onnx`` paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in MODELS:
        weights, onnx = ROOT / "data" / f"{name}.safetensors", out_dir / f"{name}.onnx"
        stamp, digest = onnx.with_suffix(".onnx.source"), source_digest(weights)
        if not (onnx.exists() and stamp.exists() and stamp.read_text().strip() == digest):
            sys.path.insert(0, str(ROOT))
            from srgan_lib.export import export_onnx  # imports torch: only when needed

            stamp.unlink(missing_ok=True)  # no stamp until the new file is complete
            # Made beside it, then put in its place: never half a file under the real name
            # (and export_onnx, which refuses to replace a file, is given a new one).
            part = onnx.with_name(f"{name}.partial.onnx")
            part.unlink(missing_ok=True)
            try:
                export_onnx(weights, part)
                os.replace(part, onnx)
            finally:
                part.unlink(missing_ok=True)
            stamp.write_text(digest + "\n")
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


def scripts_once(app, pagename, templatename, context, doctree):
    """Drop repeats from a page's scripts (Sphinx's ``html-page-context``).

    sphinx-thebe adds its inline configuration (``const THEBE_JS_URL = ...``) while the
    HTML builder is already set up, and Sphinx 7 then lists it twice (sphinx-togglebutton's
    line too): the second copy of a ``const`` is a SyntaxError on every page of the book.
    Each script, file or inline, is kept once, at its first place (an inline script's
    file name is None in one copy and "" in the other).
    """
    scripts = context.get("script_files")
    if scripts:
        seen, kept = set(), []
        for js in scripts:
            key = (getattr(js, "filename", js) or "",
                   tuple(sorted(getattr(js, "attributes", {}).items())))
            if key not in seen:
                seen.add(key)
                kept.append(js)
        scripts[:] = kept


def setup(app):
    """Sphinx extension entry point: export the models as the build starts, before Sphinx
    copies ``_static/`` into the site; keep the page's scripts off the other pages, and
    each script once on a page."""
    app.connect("config-inited", page_scripts_only_where_used)
    app.connect("html-page-context", scripts_once, priority=900)  # after those that add
    app.connect("builder-inited", lambda app: export_site_models())
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for path in export_site_models():
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1e6:.1f} MB")
