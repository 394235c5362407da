"""Upscaling throughput and peak memory of ``super_resolve`` on this machine.

    python benchmarks/upscale.py --size 500            # the paper's SRResNet, 500x500 LR
    python benchmarks/upscale.py --size 768x512        # a photo, as `upscale` runs it
    python benchmarks/upscale.py --size 2000 --tile 192

Uses the shipped SRGAN weights when they are in data/, else a randomly initialised
network of the same architecture (speed and memory do not depend on the weight values).
Prints LR and output megapixels per second and the peak resident memory of the process.
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srgan_lib.models import SRResNet  # noqa: E402
from srgan_lib.upscale import SHIPPED, default_device, resolve_model, super_resolve  # noqa: E402


def _size(text):
    """``'768x512'`` -> (768, 512); ``'500'`` -> (500, 500)."""
    sides = [int(side) for side in text.lower().split("x")]
    return (sides[0], sides[-1]) if len(sides) in (1, 2) else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=_size, default=(500, 500),
                        help="the LR image: WIDTHxHEIGHT, or one side for a square")
    parser.add_argument("--tile", type=int, default=192)
    parser.add_argument("--overlap", type=int, default=None)
    parser.add_argument("--bf16", action="store_true")
    args = parser.parse_args(argv)

    device = default_device()
    if SHIPPED["srgan"].exists():
        model, which = resolve_model("srgan", device=device), "shipped SRGAN"
    else:
        model, which = SRResNet().to(device).eval(), "random-init SRResNet (no shipped weights)"
    width, height = args.size
    lr = Image.effect_noise((width, height), 40).convert("RGB")
    start = time.perf_counter()
    sr = super_resolve(model, lr, device=device, tile=args.tile, overlap=args.overlap,
                       bf16=args.bf16)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{which} on {device} ({torch.get_num_threads()} threads), tile {args.tile}, "
          f"bf16 {args.bf16}: {width}x{height} -> {sr.size[0]}x{sr.size[1]} in "
          f"{seconds:.1f} s = {width * height / 1e6 / seconds:.3f} LR Mpx/s, "
          f"{sr.size[0] * sr.size[1] / 1e6 / seconds:.2f} output Mpx/s; "
          f"peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
