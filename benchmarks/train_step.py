"""Training throughput: our engine against a plain loop written the way the 2020 reference
tutorial trains, measured in the same run on the current device.

    python benchmarks/train_step.py                      # both stages, default settings
    python benchmarks/train_step.py --stages srresnet --steps 30 --json out.json

The engine is measured by running ``srgan_lib.train.train`` itself (its data path, its
defaults for this device: bf16 autocast and channels_last where they help) and reading the
wall time of its log records after a warm-up. The baseline is what the reference tutorial
does: fp32, NCHW, and a DataLoader whose workers open, decode, crop and resize an image
file from disk for every sample; for SRGAN, the generator update first and then the
discriminator update with real and fake batches in separate forwards. Both train the
paper's networks (16 residual blocks, 64 channels, x4) on T91 + BSD200 with the pixel MSE
content loss (no ImageNet VGG offline), with the same batch and crop size.

The ratio printed is engine step time / baseline step time: below 1.0, the engine is faster.

    python benchmarks/train_step.py --preset colab --steps 300 --json out.json

runs the first steps of a preset's two stages through the engine instead (its own networks,
losses, crop, batch and mixed precision), and reports the median step time, the peak GPU
memory, and the hours the whole preset would take at that speed, beside the estimate the
preset was sized with (``srgan_lib.config.colab_hours``). VGG19 gets random weights of the
real shapes (same FLOPs; the machine may be offline) and, where DIV2K is not in the data
directory, T91 + BSD200 stand in for it (the same 96-pixel crops, so the same step time).
"""

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import srgan_lib.train as engine_module  # noqa: E402
from srgan_lib.config import (T4_TFLOPS_HOPEFUL, TrainConfig, colab_hours,  # noqa: E402
                              estimate_hours)
from srgan_lib.errors import SRGANError  # noqa: E402
from srgan_lib.losses import content_loss  # noqa: E402
from srgan_lib.images import convert_image  # noqa: E402
from srgan_lib.models import Discriminator, Generator, SRResNet  # noqa: E402
from srgan_lib.sources import find_dataset, list_images  # noqa: E402
from srgan_lib.train import read_log, train  # noqa: E402
from srgan_lib.weights import save_weights  # noqa: E402


class FromDiskCrops(Dataset):
    """The reference's data path: every sample opens and decodes its image file again."""

    def __init__(self, files, crop, scale):
        self.files = [f for f in files if min(Image.open(f).size) >= crop]
        self.crop, self.scale = crop, scale

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        img = Image.open(self.files[i]).convert("RGB")
        left = random.randint(0, img.width - self.crop)
        top = random.randint(0, img.height - self.crop)
        hr = img.crop((left, top, left + self.crop, top + self.crop))
        lr = hr.resize((self.crop // self.scale,) * 2, Image.Resampling.BICUBIC)
        return convert_image(lr, "pil", "imagenet-norm"), convert_image(hr, "pil", "[-1, 1]")


def baseline(stage, files, args, device):
    """Seconds per step of the plain loop (median over the timed steps)."""
    loader = DataLoader(FromDiskCrops(files, args.crop, 4), batch_size=args.batch,
                        shuffle=True, num_workers=args.workers, drop_last=True,
                        pin_memory=device.type == "cuda")
    torch.manual_seed(0)
    generator = (SRResNet() if stage == "srresnet" else Generator()).to(device).train()
    opt_g = torch.optim.Adam(generator.parameters(), lr=1e-4)
    if stage == "srgan":
        discriminator = Discriminator().to(device).train()
        opt_d = torch.optim.Adam(discriminator.parameters(), lr=1e-4)
    times, done, last = [], 0, time.perf_counter()
    while done < args.warmup + args.steps:
        for lr, hr in loader:
            lr, hr = lr.to(device), hr.to(device)
            sr = generator(lr)
            if stage == "srresnet":
                loss = F.mse_loss(sr, hr)
                opt_g.zero_grad()
                loss.backward()
                opt_g.step()
            else:
                sr_in = convert_image(sr, "[-1, 1]", "imagenet-norm")
                hr_in = convert_image(hr, "[-1, 1]", "imagenet-norm")
                fake = discriminator(sr_in)
                g_loss = F.mse_loss(sr, hr) + 1e-3 * F.binary_cross_entropy_with_logits(
                    fake, torch.ones_like(fake))
                opt_g.zero_grad()
                g_loss.backward()
                opt_g.step()
                real, fake = discriminator(hr_in), discriminator(sr_in.detach())
                d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                          + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
                opt_d.zero_grad()
                d_loss.backward()
                opt_d.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            # From the end of one step to the end of the next: the time spent waiting for
            # the batch counts, since that is the data path's cost.
            now = time.perf_counter()
            times.append(now - last)
            last = now
            done += 1
            if done == args.warmup + args.steps:
                break
    return statistics.median(times[args.warmup:])


def engine(stage, args, tmp):
    """Seconds per step of ``srgan_lib.train`` with its defaults for this device."""
    overrides = dict(iterations=args.warmup + args.steps, batch_size=args.batch,
                     crop_size=args.crop, log_every=1, val_every=10 ** 9,
                     checkpoint_every=10 ** 9, workers=args.workers, val_images=0)
    if args.compile:
        overrides["compile"] = True
    init = None
    if stage == "srgan":
        init = save_weights(SRResNet(), Path(tmp) / "init.safetensors")
    out = Path(tmp) / stage
    train(TrainConfig.preset("paper", stage, **overrides, content_loss="mse"), out,
          init=init, progress=False)
    walls = [r["wall_time"] for r in read_log(out / "log.jsonl") if "step" in r]
    return statistics.median(b - a for a, b in zip(walls[args.warmup - 1:-1],
                                                   walls[args.warmup:], strict=True))


def preset_run(preset, stage, args, tmp):
    """Median seconds per step, peak GPU memory and extrapolated hours of a preset's stage."""
    overrides = dict(iterations=args.warmup + args.steps, log_every=1, val_every=10 ** 9,
                     checkpoint_every=10 ** 9, val_images=0)
    if args.batch_override:
        overrides["batch_size"] = args.batch
    sets = TrainConfig.preset(preset, stage).train_sets
    try:
        for name in sets:
            find_dataset(name, download=False)
        data_note = " + ".join(sets)
    except SRGANError:  # not in the data directory: the same crops, of other images
        overrides["train_sets"] = ("T91", "BSD200")
        data_note = f"T91 + BSD200 standing in for {' + '.join(sets)}"
    config = TrainConfig.preset(preset, stage, **overrides)
    full = TrainConfig.preset(preset, stage)
    init = None
    if stage == "srgan":
        init = save_weights(SRResNet(), Path(tmp) / "init.safetensors")
    # Random VGG19 weights of the real shapes: the same FLOPs, and no download.
    real_loss = engine_module.content_loss
    engine_module.content_loss = lambda name, rescale: content_loss(name, weights=None,
                                                                    rescale=rescale)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    out = Path(tmp) / f"{preset}_{stage}"
    try:
        train(config, out, init=init, progress=False)
    finally:
        engine_module.content_loss = real_loss
    walls = [r["wall_time"] for r in read_log(out / "log.jsonl") if "step" in r]
    step_s = statistics.median(b - a for a, b in zip(walls[args.warmup - 1:-1],
                                                     walls[args.warmup:], strict=True))
    return {"preset": preset, "stage": stage, "steps_timed": args.steps,
            "batch_size": config.batch_size, "crop_size": config.crop_size,
            "content_loss": config.content_loss, "amp": config.amp,
            "amp_dtype": str(engine_module.amp_dtype(config.amp, "cuda" if cuda else "cpu")),
            "data": data_note, "s_per_step": step_s,
            "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2 ** 30 if cuda else None,
            "iterations": full.iterations, "hours_at_this_speed": full.iterations * step_s / 3600,
            "hours_estimated_for_a_t4": estimate_hours(full),  # at the slow end, 6 TFLOP/s
            "hours_estimated_for_a_t4_hopeful": estimate_hours(full, T4_TFLOPS_HOPEFUL)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="+", default=["srresnet", "srgan"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per loop")
    parser.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--crop", type=int, default=96, help="HR crop (the paper's 96)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers, both")
    parser.add_argument("--compile", action="store_true", help="engine with torch.compile")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--preset", help="time this preset's stages instead (e.g. colab)")
    args = parser.parse_args(argv)
    args.batch_override = "--batch" in (argv if argv is not None else sys.argv)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor()
    files = [f for s in ("T91", "BSD200") for f in list_images(find_dataset(s))]
    print(f"device: {device} ({name or platform.machine()}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; batch {args.batch}, HR crop {args.crop}")
    results = []
    if args.preset:
        with tempfile.TemporaryDirectory() as tmp:
            for stage in args.stages:
                row = {"device": str(device), "device_name": name,
                       "torch": torch.__version__, **preset_run(args.preset, stage, args, tmp)}
                results.append(row)
                print(f"{args.preset} {stage:9s} {row['s_per_step'] * 1000:7.1f} ms/step "
                      f"({row['amp_dtype']}, {row['data']}), peak memory "
                      f"{row['peak_gpu_memory_gib'] or 0:.2f} GiB; the whole stage "
                      f"({row['iterations']} steps) {row['hours_at_this_speed']:.2f} h here, "
                      f"{row['hours_estimated_for_a_t4_hopeful']:.2f} to "
                      f"{row['hours_estimated_for_a_t4']:.2f} h estimated for a T4", flush=True)
        if args.preset == "colab":
            results.append({"colab_hours_estimate": colab_hours(),
                            "colab_hours_estimate_hopeful": colab_hours(T4_TFLOPS_HOPEFUL)})
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for stage in args.stages:
            base = baseline(stage, files, args, device)
            ours = engine(stage, args, tmp)
            row = {"stage": stage, "device": str(device), "baseline_s_per_step": base,
                   "engine_s_per_step": ours, "ratio": ours / base,
                   "baseline_images_per_s": args.batch / base,
                   "engine_images_per_s": args.batch / ours}
            results.append(row)
            print(f"{stage:9s} baseline {1 / base:6.2f} steps/s {args.batch / base:7.1f} img/s"
                  f" | engine {1 / ours:6.2f} steps/s {args.batch / ours:7.1f} img/s"
                  f" | engine/baseline step time {ours / base:.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
