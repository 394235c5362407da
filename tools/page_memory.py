"""Peak memory of the in-browser upscaling page (book/12_upscale_in_the_browser.md).

Serves the page's HTML block with `_static/` (the page's scripts and the ONNX models made by
tools/export_site_models.py), opens it in headless Chromium (Debian's, driven by Playwright,
ONNX Runtime Web answered from .ci/node by tools/local_site.py), upscales one image and
samples the resident memory (VmRSS, from /proc) of Chromium's processes every 100 ms. The
Web Worker, and the WebAssembly heap of ONNX Runtime in it, live in the page's renderer
process, so the renderer's peak is the page's peak.

    python tools/page_memory.py --size 256 --tiles 256 128 96
    python tools/page_memory.py --size 1024 --tiles 256 --stand-in   # the page's own arrays

`--device-memory GB` makes the page see that navigator.deviceMemory (with `--tiles 0`, the
tile the page then chooses is printed); `--trace` prints the renderer's memory over time.
`--stand-in` swaps the network for a one-layer x4 network (a 1x1 conv to 48 channels, then
PixelShuffle(4)): seconds instead of minutes, and what is left is what the page itself
holds (the image, the result, the canvases).

Measured on a 2-core machine shared with a training job (so the seconds are noisy), MB of
the page's renderer; T is the largest tile with its context, "hand" the network's two
largest tensors, the second sub-pixel stage's conv output 256 x (2T)^2 and its shuffled
64 x (4T)^2, both alive at once: 2 x 1024 T^2 floats = 8.2 kB * T^2.

| LR image | tile | T | hand | peak | growth over the empty page | seconds |
|---|---|---|---|---|---|---|
| 256x256 | 256 | 256 | 537 | 864 | 730 | 21.0 (17.4 in another run) |
| 256x256 | 128 | 168 | 231 | 532 | 399 | 26.8 (29.8) |
| 256x256 | 96 | 166 | 226 | 524 | 391 | 44.2 (44.7) |
| 336x336 | 336 | 336 | 925 | 1316 | 1183 | 24.0 |
| 208x208 | 208 | 208 | 354 | 652 | 519 | 10.7 |
| 1024x1024, stand-in | 256 | 336 | - | 564 | 431 | 1.2 |
| 1024x1024, stand-in, 1:1 views, bytes kept | 256 | 336 | - | 577 | 433 | 5.6 |

Growth = about 150 MB (ONNX Runtime, the model, the smaller tensors) + 8.9 kB * T^2.
("bytes kept": the page since it keeps the result's exact bytes for its PNG download and
draws the 1:1 views; the download itself, which builds the PNG, was not measured.)
"""

import argparse
import os
import re
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from local_site import answer_cdn_locally, serve  # tools/, this script's folder

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
MB = 1e6


def proc_status(pid):
    """{field: kB} of /proc/PID/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return {k: int(v) for k, v in re.findall(r"^(Vm\w+):\s+(\d+) kB", text, re.M)}


def descendants(root_pid):
    """{pid: command line} of every process below `root_pid`."""
    parent, cmd = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                cmd[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                pass
    out, frontier = {}, [root_pid]
    while frontier:
        p = frontier.pop()
        for child, par in parent.items():
            if par == p and child not in out:
                out[child] = cmd[child].decode(errors="replace")
                frontier.append(child)
    return out


def chromium_processes():
    return {p: c for p, c in descendants(os.getpid()).items() if "chrom" in c}


class Sampler(threading.Thread):
    """Every 100 ms: {pid: VmRSS in kB} of each renderer, and the sum over all of Chromium."""

    def __init__(self):
        super().__init__(daemon=True)
        self.renderers, self.total, self.stop = [], [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            procs = chromium_processes()
            rss = {p: (proc_status(p) or {}).get("VmRSS", 0) for p in procs}
            self.renderers.append({p: v for p, v in rss.items() if "--type=renderer" in procs[p]})
            self.total.append(sum(rss.values()))
            time.sleep(0.1)

    def page_renderer(self):
        """(before, peak) of the renderer that grew the most: the page's."""
        pids = set().union(*self.renderers)
        runs = {p: [r.get(p, 0) for r in self.renderers] for p in pids}
        pid = max(pids, key=lambda p: max(runs[p]) - runs[p][0])
        return runs[pid][0], max(runs[pid]), pid

    def trace(self, pid):
        """The renderer's VmRSS in MB, every 0.5 s."""
        return " ".join(f"{r.get(pid, 0) * 1.024e-3:.0f}" for r in self.renderers[::5])


def page_html():
    md = (ROOT / "book" / "12_upscale_in_the_browser.md").read_text()
    block = re.search(r"```\{raw\} html\n(.*?)\n```", md, re.S).group(1)
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{block}</body></html>"


def stand_in_model(path):
    import warnings

    import torch

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # the TorchScript exporter
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 48, 1), torch.nn.PixelShuffle(4))
    torch.onnx.export(net, (torch.zeros(1, 3, 8, 8),), str(path), input_names=["lr"],
                      output_names=["sr"], dynamo=False, dynamic_axes={
                          "lr": {2: "h", 3: "w"}, "sr": {2: "H", 3: "W"}})


def measure(playwright, url, image, tile, device_memory, stand_in, trace=False):
    """One fresh browser: open the page, upscale `image`; the numbers of one row."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
    try:
        context = browser.new_context()
        if device_memory is not None:
            context.add_init_script("Object.defineProperty(navigator, 'deviceMemory', "
                                    f"{{get: () => {device_memory}}})")
        answer_cdn_locally(context)
        page = context.new_page()
        page.goto(url, wait_until="networkidle")
        if tile:
            page.evaluate(f"document.getElementById('upscale-app').dataset.tile = '{tile}'")
        if stand_in:
            page.evaluate("(() => { var o = document.createElement('option'); "
                          "o.value = 'stand_in'; o.textContent = 'stand-in'; "
                          "var s = document.getElementById('upscale-model'); s.append(o); "
                          "s.value = 'stand_in'; })()")
        time.sleep(1)
        sampler = Sampler()
        sampler.start()
        time.sleep(0.5)
        page.set_input_files("#upscale-file", str(image))
        page.wait_for_function("['done', 'error'].includes(document.getElementById("
                               "'upscale-app').dataset.state)", timeout=900_000)
        time.sleep(3)  # the result drawn and shown
        sampler.stop.set()
        sampler.join()
        line = page.inner_text("#upscale-status")
        used = page.get_attribute("#upscale-app", "data-tile-used")
        base, peak, pid = sampler.page_renderer()
        hwm = proc_status(pid)["VmHWM"]
    finally:
        browser.close()
    seconds = re.search(r" in ([\d.]+) s", line)
    kb = 1.024e-3  # kB (KiB, as /proc counts) to MB
    if trace:
        print("   renderer MB every 0.5 s:", sampler.trace(pid))
    return {"tile": used or tile, "base": base * kb, "peak": peak * kb, "hwm": hwm * kb,
            "all": (max(sampler.total) - sampler.total[0]) * kb,
            "seconds": float(seconds.group(1)) if seconds else None, "line": line}


def main():
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="LR side of the test image")
    parser.add_argument("--tiles", type=int, nargs="*", default=[256, 128, 96],
                        help="data-tile overrides (0: the page's own choice)")
    parser.add_argument("--device-memory", type=float, help="navigator.deviceMemory to fake")
    parser.add_argument("--stand-in", action="store_true", help="a one-layer stand-in network")
    parser.add_argument("--trace", action="store_true", help="print the renderer's RSS over time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "book").mkdir()
        (folder / "book" / "index.html").write_text(page_html())
        (folder / "_static").mkdir()
        (folder / "_static" / "upscale").symlink_to(ROOT / "_static" / "upscale")
        (folder / "_static" / "models").mkdir()
        for onnx in (ROOT / "_static" / "models").glob("*.onnx"):
            (folder / "_static" / "models" / onnx.name).symlink_to(onnx)
        if args.stand_in:
            stand_in_model(folder / "_static" / "models" / "stand_in.onnx")
        from skimage import data

        photo = np.asarray(Image.fromarray(data.astronaut()).resize((args.size, args.size)))
        image = folder / f"photo{args.size}.png"
        Image.fromarray(photo).save(image)
        server, url = serve(folder)
        print(f"{args.size}x{args.size} LR, {'stand-in' if args.stand_in else 'SRGAN'}; "
              "MB = 10^6 bytes")
        print("| tile | renderer before | renderer peak (100 ms) | renderer VmHWM | "
              "growth | all Chromium growth | seconds |")
        print("|---|---|---|---|---|---|---|")
        with sync_playwright() as p:
            for tile in args.tiles:
                r = measure(p, f"{url}/book/index.html", image, tile, args.device_memory,
                            args.stand_in, args.trace)
                print(f"| {r['tile']} | {r['base']:.0f} | {r['peak']:.0f} | {r['hwm']:.0f} | "
                      f"{r['hwm'] - r['base']:.0f} | {r['all']:.0f} | {r['seconds']} |",
                      flush=True)
                print("  ", r["line"], flush=True)
        server.shutdown()


if __name__ == "__main__":
    main()
