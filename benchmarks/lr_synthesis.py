"""Is making LR images a bottleneck, and would making them with torch change them?

    python benchmarks/lr_synthesis.py

1. Throughput of the engine's data path (``CropStream`` over ``TrainDataset``: a crop of an
   image decoded once, Pillow's antialiased bicubic, conversion to tensors), in samples/s
   for one process. A GPU step consumes ``batch`` samples; the DataLoader runs ``workers``
   such processes in parallel, so this number times the workers is the ceiling on
   images/s that the data path allows.
2. How different the LR images would be if they were made on the GPU with
   ``F.interpolate(mode='bicubic', antialias=True)`` instead of Pillow: PSNR (RGB, 8-bit)
   between the two LR versions of the same crops, computed on the CPU (the GPU kernel is
   the same algorithm). The evaluation protocol stays on Pillow whatever this says.
"""

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srgan_lib.data import TrainDataset  # noqa: E402
from srgan_lib.images import convert_image, downscale  # noqa: E402
from srgan_lib.train import CropStream  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--crop", type=int, default=96)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)  # one DataLoader worker's worth of CPU
    dataset = TrainDataset(("T91", "BSD200"), crop_size=args.crop, scale=4)
    stream = CropStream(dataset, seed=0)
    start = time.perf_counter()
    for n in range(args.samples):
        stream[n]
    rate = args.samples / (time.perf_counter() - start)
    print(f"data path: {rate:.0f} samples/s per worker process (HR crop {args.crop}, "
          "Pillow bicubic, tensors out)")

    mses = []
    for n in range(min(args.samples, 500)):
        generator = torch.Generator().manual_seed(n)
        image = int(torch.randint(len(dataset.images), (1,), generator=generator))
        img = dataset.images[image]
        left = int(torch.randint(0, img.width - args.crop + 1, (1,), generator=generator))
        top = int(torch.randint(0, img.height - args.crop + 1, (1,), generator=generator))
        hr = img.crop((left, top, left + args.crop, top + args.crop))
        pillow = np.asarray(downscale(hr, 4), dtype=np.float64)
        x = convert_image(hr, "pil", "[0, 1]").unsqueeze(0)
        lr = F.interpolate(x, scale_factor=0.25, mode="bicubic", antialias=True,
                           align_corners=False)[0]
        torch_lr = np.asarray(convert_image(lr, "[0, 1]", "pil"), dtype=np.float64)
        mses.append(np.mean((pillow - torch_lr) ** 2))
    mse = float(np.mean(mses))
    psnr = math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)
    identical = sum(m == 0 for m in mses)
    print(f"torch antialiased bicubic vs Pillow bicubic on {len(mses)} LR crops: "
          f"PSNR {psnr:.2f} dB (RGB, 8-bit), {identical} crops identical, "
          f"max pixel MSE {max(mses):.3f}")


if __name__ == "__main__":
    main()
