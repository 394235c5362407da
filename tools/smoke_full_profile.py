"""Run every chapter in the ``full`` profile, shrunk by ``SRGAN_SMOKE=1``: CI's smoke run.

Usage: ``python3 tools/smoke_full_profile.py [book/06_training.ipynb ...]`` (default: every
chapter). Nothing of it leaves the machine, and every outside service is a stand-in:

* image sets: ``SRGAN_DATA`` is an empty temporary folder, so every set a chapter asks for
  is downloaded by the library's own registry code (``srgan_lib.sources``) from an HTTP
  server on 127.0.0.1 serving small stand-in archives (``SRGAN_SMOKE_SOURCES`` lists their
  URLs and md5s; the LapSRN pack keeps no md5, as registered);
* ImageNet VGG19: ``TORCH_HOME`` is a temporary hub cache holding a file of the real
  shapes and name, which torchvision's weights API loads;
* Colab and Google Drive: a fake ``google.colab`` module is imported by an IPython start-up
  file in chapter 6's kernel; its ``drive.mount`` links the mount point (``/content/drive``)
  to a temporary folder. Chapter 6 runs in a temporary folder holding a link named
  ``srgan-step-by-step`` to this checkout, as Colab's set-up cell leaves it.

Outputs are not compared (they are not the stored ``quick`` run); any cell error fails, and
the script exits with status 1 naming the chapter and the cell.
"""

import hashlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from PIL import Image

from local_site import serve  # tools/, this script's folder

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
COLAB_CHAPTERS = ("06_training.ipynb",)  # chapters with a Colab (Drive) branch
SIDE = 128  # longest side of a made-up stand-in image
CELL_TIMEOUT = 600
ARTIFACTS = ROOT / "artifacts" / "smoke"  # git-ignored: a failed chapter, as executed

FAKE_COLAB = '''\
"""A stand-in for Colab's google.colab module (the smoke run's start-up file)."""
import os
import sys
import types

drive = types.ModuleType("google.colab.drive")
_mounted = []


def mount(mountpoint, force_remount=False):
    os.makedirs(os.path.dirname(mountpoint), exist_ok=True)
    if not os.path.islink(mountpoint):
        os.symlink(os.environ["SMOKE_DRIVE"], mountpoint)
    os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
    _mounted.append(mountpoint)


def flush_and_unmount(timeout_ms=None):
    while _mounted:
        os.unlink(_mounted.pop())


drive.mount, drive.flush_and_unmount = mount, flush_and_unmount
google = types.ModuleType("google")
colab = types.ModuleType("google.colab")
google.colab, colab.drive = colab, drive
sys.modules.update({"google": google, "google.colab": colab, "google.colab.drive": drive})
'''


def _stand_in_images(names, source=None, seed=0):
    """(name, PIL image) pairs: ``source``'s images as they are, else smooth noise.

    The shared sets' images keep their size: chapters crop fixed regions of them (chapter 8's
    baboon eye), and evaluating 5 + 14 of them takes seconds.
    """
    rng = np.random.default_rng(seed)
    for name in names:
        path = source / name if source else None
        if path is not None and path.is_file():
            img = Image.open(path).convert("RGB")
        else:
            small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            img = Image.fromarray(small).resize((SIDE, SIDE * 3 // 4), Image.Resampling.BICUBIC)
        yield name, img


def _set_files(name, count):
    """The file names of a stand-in set: the shared set's first ``count``, else numbered."""
    shared = SHARED / name
    if shared.is_dir():
        names = sorted(p.name for p in shared.iterdir() if not p.name.startswith("."))
        return names[:count], shared
    return [f"{i:04d}.png" for i in range(1, count + 1)], None


# The stand-in archives: archive name -> the sets (name, folder inside, image count) it holds.
ARCHIVES = {
    "benchmark.tar": [("Set5", "benchmark/Set5/HR", 5), ("Set14", "benchmark/Set14/HR", 14),
                      ("BSD100", "benchmark/B100/HR", 4),
                      ("Urban100", "benchmark/Urban100/HR", 4)],
    "DIV2K_train_HR.zip": [("DIV2K", "DIV2K_train_HR", 6)],
    "DIV2K_valid_HR.zip": [("DIV2K_valid", "DIV2K_valid_HR", 3)],
    "SR_training_datasets.zip": [("T91", "T91", 12), ("BSD200", "BSDS200", 12)],
}
NO_MD5 = ("SR_training_datasets.zip",)  # as registered: nobody publishes its checksum


def make_archives(folder, base_url):
    """Write the stand-in archives into ``folder``; return the sources JSON's table."""
    from srgan_lib.sources import SOURCES

    table = {}
    for archive, sets in ARCHIVES.items():
        path = folder / archive
        with tempfile.TemporaryDirectory() as tmp:
            for seed, (name, member, count) in enumerate(sets):
                (Path(tmp) / member).mkdir(parents=True)
                files, shared = _set_files(name, count)
                for file, img in _stand_in_images(files, shared, seed):
                    img.save(Path(tmp) / member / file)
            if archive.endswith(".tar"):
                with tarfile.open(path, "w") as tar:
                    tar.add(Path(tmp) / member.split("/")[0], arcname=member.split("/")[0])
            else:
                with zipfile.ZipFile(path, "w") as z:
                    for f in sorted(Path(tmp).rglob("*")):
                        z.write(f, f.relative_to(tmp))
        md5 = None if archive in NO_MD5 else hashlib.md5(path.read_bytes()).hexdigest()
        for name, member, count in sets:
            table[name] = dict(url=f"{base_url}/{archive}", archive=archive, md5=md5,
                               member=member, count=count, split=SOURCES[name].split)
    return table


def stand_in_vgg19(torch_home):
    """torchvision's VGG19 ImageNet file in a hub cache: the real names and shapes, random."""
    import torch
    from torchvision.models import VGG19_Weights, vgg19

    torch.manual_seed(0)
    state = {k: v for k, v in vgg19(weights=None).state_dict().items()
             if k.startswith("features.")}
    checkpoints = torch_home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(state, checkpoints / Path(VGG19_Weights.IMAGENET1K_V1.url).name)


def run_chapter(path, env, workdir):
    """Execute one chapter; None if every cell ran, else a line naming the failing cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    except CellExecutionError as err:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # the executed chapter, to read why
        nbformat.write(nb, ARTIFACTS / path.name)
        index = next((i for i, c in enumerate(nb.cells) if c.get("outputs") and any(
            o.get("output_type") == "error" for o in c.outputs)), "?")
        last = re.sub(r"\x1b\[[0-9;]*m", "", str(err).strip().splitlines()[-1])  # no colours
        return f"cell {index}: {last}"
    except Exception as err:  # a timeout, a dead kernel
        return f"{type(err).__name__}: {err}"
    finally:
        os.environ.clear()
        os.environ.update(old)
    return None


def main(chapters):
    """Run the chapters; return the exit status (0: every cell of every chapter ran)."""
    chapters = chapters or sorted(str(p) for p in (ROOT / "book").glob("[01]*.ipynb"))
    made_content = not os.path.exists("/content")
    failures = []
    with tempfile.TemporaryDirectory(prefix="srgan_smoke_") as tmp:
        tmp = Path(tmp)
        for name in ("www", "data", "torch", "drive", "ipython/profile_default/startup",
                     "colab_cwd"):
            (tmp / name).mkdir(parents=True)
        # torchvision's downloader may close a connection early (it probes for redirects):
        # that is no error of the run.
        server, url = serve(tmp / "www", ignore_disconnects=True)
        table = make_archives(tmp / "www", url)
        (tmp / "sources.json").write_text(json.dumps(table, indent=1))
        stand_in_vgg19(tmp / "torch")
        (tmp / "ipython/profile_default/startup/00-fake-colab.py").write_text(FAKE_COLAB)
        (tmp / "colab_cwd" / "srgan-step-by-step").symlink_to(ROOT)
        env = {"SRGAN_PROFILE": "full", "SRGAN_SMOKE": "1", "SRGAN_DATA": str(tmp / "data"),
               "SRGAN_SMOKE_SOURCES": str(tmp / "sources.json"), "TORCH_HOME": str(tmp / "torch"),
               "TQDM_DISABLE": "1", "SMOKE_DRIVE": str(tmp / "drive"), "MPLBACKEND": "Agg",
               # One thread: the smoke sizes' tensors are tiny, and on a CPU shared with
               # other work two threads waiting on each other made steps 6x slower.
               "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        os.environ.pop("SRGAN_VGG_WEIGHTS", None)
        start = time.perf_counter()
        try:
            for chapter in chapters:
                chapter = Path(chapter).resolve()
                colab = chapter.name in COLAB_CHAPTERS
                kernel_env = dict(env, IPYTHONDIR=str(tmp / "ipython")) if colab else env
                workdir = tmp / "colab_cwd" if colab else chapter.parent
                t0 = time.perf_counter()
                error = run_chapter(chapter, kernel_env, workdir)
                mirrored = list((tmp / "drive").rglob("*.pt"))
                if error is None and colab and not mirrored:
                    error = "the Drive branch wrote no checkpoint to the stand-in Drive"
                status = "ok" if error is None else f"FAILED at {error}"
                print(f"{chapter.name:36s} {time.perf_counter() - t0:6.1f} s  {status}",
                      flush=True)
                if error is not None:
                    failures.append(f"{chapter.name}, {error}")
        finally:
            server.shutdown()
            if made_content:
                shutil.rmtree("/content", ignore_errors=True)
        print("sets downloaded from the stand-in server:",
              ", ".join(sorted(p.name for p in (tmp / "data").iterdir())) or "none")
        print(f"smoke run (full profile, SRGAN_SMOKE=1): {len(chapters)} chapters in "
              f"{time.perf_counter() - start:.0f} s")
    for failure in failures:
        print(f"smoke run failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
