"""The `colab` preset's host memory with DIV2K-sized images, decoded in memory or memory-mapped.

    python benchmarks/colab_memory.py [--images 40] [--processes 2] [--out results.json]

DIV2K's training images are mostly 2040 pixels wide and about 1356 high. This script writes
``--images`` stand-ins of that size (smooth random colour fields with grain, as PNG), then,
for each way of keeping the decoded images (``memory``: arrays in each process; ``disk``:
``.npy`` files memory-mapped, see ``data.decoded_image``), starts ``--processes`` processes
as ``torchrun`` would, each of which:

1. imports torch and the library and builds the paper's generator and discriminator (the
   host side of a run, without a GPU's runtime);
2. builds the ``TrainDataset``;
3. draws batches of 16 crops through ``CropStream`` for a few seconds (one process, no
   workers: the crop stream's own speed, in images/s).

Memory is read from ``/proc/<pid>/smaps_rollup``: ``Pss_Anon`` (private memory, which the
kernel cannot give back) and ``Pss_File`` (pages of mapped files: the page cache, shared by
every process that maps them and given back when memory is short). The per-image cost is
the anonymous memory the dataset added, divided by the image count; the figure for
DIV2K's 800 images is that cost times 800 (plus what the processes hold without images).
"""

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WIDTH, HEIGHT, DIV2K_TRAIN = 2040, 1356, 800


def stand_ins(folder, count, seed=0):
    """``count`` DIV2K-sized PNGs in ``folder`` (kept between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        path = folder / f"{i:04d}.png"
        if path.exists():
            continue
        coarse = rng.integers(0, 256, (HEIGHT // 32 + 1, WIDTH // 32 + 1, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(coarse).resize((WIDTH, HEIGHT), Image.BICUBIC))
        grain = rng.integers(-12, 13, field.shape)
        Image.fromarray(np.clip(field + grain, 0, 255).astype(np.uint8)).save(
            path, compress_level=1)
    return folder


def _memory(pid="self"):
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Pss_Anon", "Pss_File", "Rss"):
            values[key] = int(rest.split()[0]) / 2**20  # kB -> GB
    return values


def _worker(folder, mode, cache, barrier, results, seconds):
    import torch

    from srgan_lib.data import TrainDataset
    from srgan_lib.models import Discriminator, Generator
    from srgan_lib.train import CropStream

    torch.set_num_threads(1)
    models = (Generator(), Discriminator())  # noqa: F841 - held, as in a run
    before = _memory()
    barrier.wait()
    dataset = TrainDataset(folder, crop_size=96, scale=4,
                           cache=cache if mode == "disk" else None)
    after = _memory()
    barrier.wait()  # every process holds its dataset: measure them together
    together = _memory()
    barrier.wait()
    stream, n, start = CropStream(dataset, seed=0, batch_size=16), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(16):
            stream[n]
            n += 1
    rate = n / (time.perf_counter() - start)
    results.put({"before": before, "after": after, "together": together,
                 "images_per_s": rate, "n_images": len(dataset.images)})


def measure(folder, mode, processes, seconds):
    """Memory and crop-stream speed of ``processes`` processes in one mode."""
    with tempfile.TemporaryDirectory(prefix="decoded_") as cache:
        ctx = mp.get_context("spawn")
        barrier, results = ctx.Barrier(processes), ctx.Queue()
        procs = [ctx.Process(target=_worker, args=(folder, mode, cache, barrier, results,
                                                   seconds)) for _ in range(processes)]
        for p in procs:
            p.start()
        got = [results.get(timeout=1800) for _ in procs]
        for p in procs:
            p.join()
    n = got[0]["n_images"]
    base = sum(g["before"]["Pss_Anon"] for g in got)
    anon = sum(g["together"]["Pss_Anon"] for g in got)
    per_image = (anon - base) / processes / n
    return {"mode": mode, "processes": processes, "images": n,
            "anon_without_images_gb": round(base, 3),
            "anon_with_images_gb": round(anon, 3),
            "file_pages_gb": round(sum(g["together"]["Pss_File"] for g in got), 3),
            "anon_per_image_mb": round(per_image * 1024, 2),
            "div2k_800_anon_gb": round(base + per_image * DIV2K_TRAIN * processes, 2),
            "div2k_800_page_cache_gb": round(WIDTH * HEIGHT * 3 * DIV2K_TRAIN / 2**30, 2)
            if mode == "disk" else 0.0,
            "crop_stream_images_per_s": round(float(np.mean([g["images_per_s"]
                                                             for g in got])), 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--folder", type=Path,
                        default=Path(tempfile.gettempdir()) / "div2k_stand_ins")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    folder = stand_ins(args.folder, args.images)
    rows = [measure(folder, mode, args.processes, args.seconds) for mode in ("memory", "disk")]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
