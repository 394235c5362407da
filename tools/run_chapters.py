"""Re-run chapters the way their stored outputs must be made: a clean kernel, the `quick`
profile, progress bars off, ImageNet VGG weights off, cells in order.

    python tools/run_chapters.py                      # every chapter in book/
    python tools/run_chapters.py book/04_building_modules.ipynb

Run it after changing a chapter or the library code a chapter shows, then commit the
notebooks: `pytest --nbval book/` compares what it re-runs with what is stored.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path):
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    # No widget state in the file: it would embed the live view's images (megabytes) and
    # make the built page fetch the widget manager from a CDN.
    NotebookClient(nb, timeout=1800, kernel_name="python3", record_timing=False,
                   store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    os.environ.update(SRGAN_PROFILE="quick", TQDM_DISABLE="1", SRGAN_VGG_WEIGHTS="off")
    os.environ.setdefault("SRGAN_DATA", str(ROOT.parent / "shared" / "datasets"))
    paths = args.notebooks or sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {run(path.resolve()):.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
