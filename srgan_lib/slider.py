"""A before/after slider that works in a static web page: ``slider_html``.

``slider_html`` returns one self-contained piece of HTML: both images embedded as PNG data
URIs (``png_data_uri``), inline CSS, a few lines of plain JavaScript, no library and no
network. So it works in a live notebook, in Colab, and in the rendered book read offline,
where ipywidgets would need a kernel and a CDN.

Where scripts are stripped (GitHub's notebook viewer, an untrusted notebook), the same
markup still works: the top image sits in a box that CSS lets the reader resize by its
corner (``resize: horizontal``). When the script runs it swaps that for a range input that
moves the divide, drags with the mouse or a finger in steps of 0.1% of the width, and
responds to the arrow keys in steps of 1% (10% with Shift, or Page Up and Page Down).

The element id is derived from the images, labels and zoom, so the same inputs give the
same HTML (nbval compares it), and two sliders on one page never clash.

The kernel-backed views (ipywidgets) are in ``app``; figures for print in ``viz``.
"""

import base64
import hashlib
import html
import io

__all__ = ["png_data_uri", "slider_html"]


def _png(img, compress_level=1):
    """PNG bytes of a PIL image; light compression by default, as a live view re-sends them
    on every change."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def png_data_uri(img):
    """A PIL image as a ``data:image/png;base64,...`` URI (lossless, self-contained).

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    return "data:image/png;base64," + base64.b64encode(_png(img, 6)).decode("ascii")


_STYLE = """
#{id} {{position: relative; display: inline-block; max-width: 100%; line-height: 0;
  user-select: none; touch-action: none; font-family: sans-serif;}}
#{id} img {{display: block; max-width: 100%; height: auto; image-rendering: {rendering};}}
#{id} .srgan-top {{position: absolute; top: 0; left: 0; height: 100%; width: 50%;
  overflow: hidden; resize: horizontal; border-right: 2px solid #fff;
  box-shadow: 1px 0 0 rgba(0,0,0,.5); min-width: 8px; max-width: 100%;}}
#{id} .srgan-top img {{max-width: none; height: 100%; width: auto;}}
#{id} .srgan-label {{position: absolute; top: 6px; padding: 3px 6px; line-height: 1.2;
  font-size: 13px; color: #fff; background: rgba(0,0,0,.55); border-radius: 3px;}}
#{id} .srgan-range {{display: none;}}
#{id}.srgan-js .srgan-top {{resize: none; border: 0; box-shadow: none;
  clip-path: inset(0 50% 0 0);}}
#{id}.srgan-js .srgan-top img {{height: 100%; width: 100%;}}
#{id}.srgan-js .srgan-handle {{position: absolute; top: 0; bottom: 0; left: 50%; width: 2px;
  margin-left: -1px; background: #fff; box-shadow: 0 0 0 1px rgba(0,0,0,.4);
  pointer-events: none;}}
#{id}.srgan-js .srgan-range {{display: block; position: absolute; inset: 0; width: 100%;
  height: 100%; margin: 0; opacity: 0; cursor: ew-resize;}}
"""

_SCRIPT = """
(function () {{
  var root = document.getElementById("{id}");
  if (!root) return;
  root.classList.add("srgan-js");
  var top = root.querySelector(".srgan-top"), handle = root.querySelector(".srgan-handle"),
      range = root.querySelector(".srgan-range");
  top.style.width = "100%";  // the top image now spans the width; the clip sets the divide
  function set(value) {{
    var v = Math.max(0, Math.min(100, Number(value)));
    top.style.clipPath = "inset(0 " + (100 - v) + "% 0 0)";
    handle.style.left = v + "%";
    root.setAttribute("data-position", v.toFixed(1));
  }}
  range.addEventListener("input", function () {{ set(range.value); }});
  // The fine step keeps a drag smooth, but an arrow key would move it by a fraction of a
  // pixel: the keys move the divide by 1% of the width instead (10% with Shift).
  var keys = {{ArrowLeft: -1, ArrowDown: -1, ArrowRight: 1, ArrowUp: 1,
              PageDown: -10, PageUp: 10}};
  range.addEventListener("keydown", function (e) {{
    if (!(e.key in keys)) return;
    e.preventDefault();
    var by = keys[e.key] * (e.shiftKey && Math.abs(keys[e.key]) == 1 ? 10 : 1);
    range.value = Math.max(0, Math.min(100, Number(range.value) + by));
    set(range.value);
  }});
  set(range.value);
}})();
"""


def slider_html(before, after, labels=("before", "after"), position=50, zoom=1):
    """A before/after comparison slider as self-contained HTML.

    ``before`` shows on the left of the divide, ``after`` on the right; both are scaled to
    the same displayed size, so pass images of the same size (e.g. bicubic and SR outputs
    of one LR image, or crops of them).

    Args:
        before (PIL.Image): the left image (e.g. bicubic).
        after (PIL.Image): the right image (e.g. SRGAN).
        labels (tuple[str, str]): captions shown on each side.
        position (float): where the divide starts, in percent of the width.
        zoom (int): display the images this many times larger, each pixel a sharp square
            (CSS ``image-rendering: pixelated``): a small crop, enlarged, shows what a
            method did to single pixels, and its PNGs stay small.

    Returns:
        str: HTML (display it with ``IPython.display.HTML``).

    Raises:
        ValueError: the images differ in size, or ``zoom`` is below 1.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    if before.size != after.size:
        raise ValueError(f"the images differ in size: {before.size} vs {after.size}")
    if zoom < 1:
        raise ValueError(f"zoom must be at least 1, got {zoom}")
    uri_before, uri_after = png_data_uri(before), png_data_uri(after)
    key = uri_before + uri_after + "|".join(labels) + f"|{zoom}"
    element = f"srgan-slider-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    left, right = (html.escape(str(label)) for label in labels)
    w, h = after.size[0] * zoom, after.size[1] * zoom
    rendering = "pixelated" if zoom > 1 else "auto"
    return (
        f'<div id="{element}" class="srgan-slider" data-position="{position:.1f}">'
        f"<style>{_STYLE.format(id=element, rendering=rendering)}</style>"
        f'<img src="{uri_after}" width="{w}" height="{h}" alt="{right}">'
        f'<div class="srgan-top" style="width: {position}%">'
        f'<img src="{uri_before}" width="{w}" height="{h}" alt="{left}"></div>'
        f'<span class="srgan-label" style="left: 6px">{left}</span>'
        f'<span class="srgan-label" style="right: 6px">{right}</span>'
        f'<div class="srgan-handle"></div>'
        f'<input class="srgan-range" type="range" min="0" max="100" step="0.1" '
        f'value="{position}" aria-label="divide between {left} and {right}">'
        f"<script>{_SCRIPT.format(id=element)}</script></div>")
