"""Candidate remedies for the hatching of textured areas, judged on the validation split.

    SRGAN_DATA=../shared/datasets python benchmarks/grid_remedy.py runs/NAME [runs/NAME ...]

Each run folder is a ``train srgan`` run (``srgan.safetensors``) with, in ``snaps/``, copies
of its checkpoints taken while it trained. The judge is the validation split held out of
T91 and BSD200 (``train.split_validation`` of the ``cpu`` preset: 10 images), whole images,
by ``evaluate``'s protocol (largest centre crop divisible by 4, antialiased bicubic LR);
never Set5 or Set14. Figures: PSNR (Y, 4-pixel border), HF energy, periodic artefacts
(whole-image spectrum) and the local grid (``metrics.local_periodic_artefacts``), each a
mean over the images. SRResNet, the first SRGAN and the shipped SRGAN are measured
alongside. A candidate is given by its last weights and by the mean over its last
``--last`` checkpoints (single snapshots of a GAN swing).

A run that keeps a moving average of its generator (``--ema-decay``) exports that average;
its snapshots are measured both ways, the average and the weights it averages, so that the
average's effect is seen within one run. ``--add`` keeps the rows already measured.

Prints a Markdown table and writes ``benchmarks/results/grid_remedy.json``.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srgan_lib.checkpoint import load_checkpoint  # noqa: E402
from srgan_lib.config import TrainConfig  # noqa: E402
from srgan_lib.images import crop_to_multiple, downscale, load_image  # noqa: E402
from srgan_lib.metrics import (high_frequency_energy, local_periodic_artefacts,  # noqa: E402
                               periodic_artefacts, psnr)
from srgan_lib.models import Generator  # noqa: E402
from srgan_lib.train import moving_average, split_validation  # noqa: E402
from srgan_lib.upscale import resolve_model, super_resolve  # noqa: E402

REFERENCES = {"SRResNet": "data/srresnet_x4.safetensors",
              "first SRGAN (no grid loss)": "data/srgan_x4_v1.safetensors",
              "shipped SRGAN (grid loss, whole crop)": "data/srgan_x4.safetensors"}
FIGURES = ("psnr", "hf_energy", "periodic_artefacts", "local_artefacts")


def validation_pairs():
    """(name, LR, HR) of the cpu preset's validation images, whole."""
    _, files = split_validation(TrainConfig.preset("cpu", "srgan"))
    pairs = []
    for f in files:
        hr = crop_to_multiple(load_image(f), 4)
        pairs.append((f"{f.parent.name}/{f.stem}", downscale(hr, 4), hr))
    return pairs


def measure(model, pairs):
    """The four figures of a model, each a mean over the pairs, with the local grid's median."""
    found = {k: [] for k in FIGURES}
    with torch.inference_mode():
        for _, lr, hr in pairs:
            sr = super_resolve(model, lr)
            found["psnr"].append(psnr(sr, hr, border=4))
            found["hf_energy"].append(high_frequency_energy(sr, hr, scale=4, border=4))
            found["periodic_artefacts"].append(periodic_artefacts(sr, hr, scale=4, border=4))
            found["local_artefacts"].append(local_periodic_artefacts(sr, hr, scale=4, border=4))
    row = {k: statistics.mean(v) for k, v in found.items()}
    row["local_artefacts_median"] = statistics.median(found["local_artefacts"])
    return row


def snapshot_generators(path):
    """The step of a training checkpoint (``checkpoint.load_checkpoint``: read safely) and
    its generators: ``{"weights": ...}``, and ``"average"`` too where the run keeps a moving
    average (``--ema-decay``), which is what such a run exports."""
    state = load_checkpoint(path)
    config = TrainConfig.from_dict(TrainConfig.with_defaults(state["config"]))
    generator = Generator(n_channels=config.n_channels, n_blocks=config.n_blocks,
                          scaling_factor=config.scale)
    generator.load_state_dict(state["models"]["generator"])
    models = {"weights": generator.eval()}
    if "ema" in state:  # the engine's own average, rebuilt as the run kept it
        average = moving_average(generator, config.ema_decay)  # holds a copy of it
        average.load_state_dict(state["ema"])
        models["average"] = average.module.eval()
    return state["step"], models


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="train srgan run folders")
    parser.add_argument("--last", type=int, default=3, help="checkpoints averaged per run")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/grid_remedy.json"))
    parser.add_argument("--add", action="store_true",
                        help="keep the rows already in --out and add (or replace) these runs'")
    args = parser.parse_args(argv)
    pairs = validation_pairs()
    rows = {}
    if args.add and Path(args.out).exists():
        saved = json.loads(Path(args.out).read_text())
        if saved["images"] != [n for n, _, _ in pairs]:
            sys.exit(f"{args.out}: measured on other images; run without --add")
        rows = saved["rows"]
    for label, path in REFERENCES.items():
        if label not in rows:
            rows[label] = measure(resolve_model(str(ROOT / path)), pairs)
    for run in map(Path, args.runs):
        weights = run / "srgan.safetensors"
        if weights.exists():  # a run stopped early has only its checkpoints
            rows[f"{run.name}: last weights"] = measure(resolve_model(str(weights)), pairs)
        snaps = {}
        for snap in sorted((run / "snaps").glob("*.pt")):
            step, models = snapshot_generators(snap)
            snaps[step] = models
        steps = sorted(snaps)[-args.last:]
        kinds = {"average": "its moving average", "weights": "its weights"}
        for kind in [k for k in kinds if steps and k in snaps[steps[-1]]]:
            each = [measure(snaps[s][kind], pairs) for s in steps]
            name = f"{run.name}: mean of steps {', '.join(map(str, steps))}"
            if len(snaps[steps[-1]]) > 1:  # a run with an average: name which is which
                name += f", {kinds[kind]}"
            rows[name] = {k: statistics.mean(r[k] for r in each) for k in each[0]}
    header = ("| model | PSNR (dB) | HF energy | periodic artefacts | local grid (median) |\n"
              "|---|---:|---:|---:|---:|")
    lines = [header] + [f"| {k} | {r['psnr']:.2f} | {r['hf_energy']:.3f} | "
                        f"{r['periodic_artefacts']:.2f} | {r['local_artefacts']:.2f} "
                        f"({r['local_artefacts_median']:.2f}) |" for k, r in rows.items()]
    print(f"Validation split: {len(pairs)} images ({', '.join(n for n, _, _ in pairs)})\n")
    print("\n".join(lines))
    Path(args.out).write_text(json.dumps({"images": [n for n, _, _ in pairs], "rows": rows},
                                         indent=1) + "\n")


if __name__ == "__main__":
    main()
