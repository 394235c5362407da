"""``metrics.local_periodic_artefacts`` calibrated on drawn grids, then measured on the models.

    SRGAN_DATA=../shared/datasets python benchmarks/grid_measure.py [--sets Set5 Set14]

1. Calibration: each HR image of the sets against itself changed in one way (noise of 2 grey
   levels, a Gaussian blur of radius 1, a 4-pixel grid of 1 and of 2 levels, that grid times
   the image's local contrast, and that grid times a band-pass of the image, which follows its
   texture in strength and sign), measured by ``periodic_artefacts`` and by
   ``local_periodic_artefacts``: the range over the images and the mean.
2. The models, by ``evaluate``'s protocol (``EvalDataset``: centre crop, antialiased bicubic
   LR; ``super_resolve``): HR, bicubic, SRResNet, the first SRGAN and the shipped SRGAN, the
   mean and median of both measures over each set.

Prints both tables and writes ``benchmarks/results/grid_measure.json``. About 3 minutes on
2 CPU cores.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srgan_lib.data import EvalDataset  # noqa: E402
from srgan_lib.images import upscale_bicubic  # noqa: E402
from srgan_lib.metrics import (local_periodic_artefacts, periodic_artefacts,  # noqa: E402
                               texture_grid)
from srgan_lib.upscale import resolve_model, super_resolve  # noqa: E402

MODELS = {"SRResNet": "data/srresnet_x4.safetensors",
          "first SRGAN": "data/srgan_x4_v1.safetensors",
          "shipped SRGAN": "data/srgan_x4.safetensors"}
MEASURES = {"periodic_artefacts": periodic_artefacts,
            "local_periodic_artefacts": local_periodic_artefacts}


def plus(img, extra):
    """``img`` plus ``extra`` (8-bit levels, (h, w) or (h, w, 3)), rounded to 8 bits."""
    extra = extra if extra.ndim == 3 else extra[..., None]
    values = np.round(np.asarray(img, dtype=np.float64) + extra)
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))


def local_contrast(hr):
    """The local standard deviation of the grey image (Gaussian sigma 2), mean 1."""
    y = np.asarray(hr.convert("L"), dtype=np.float64)
    mean = ndimage.gaussian_filter(y, 2)
    std = np.sqrt(np.maximum(ndimage.gaussian_filter(y * y, 2) - mean * mean, 0))
    return std / std.mean()


def calibration_cases(hr, pattern, rng):
    """The changed images: {case: image}."""
    w, h = hr.size
    grid = np.tile(pattern, (h // 4 + 1, w // 4 + 1))[:h, :w]
    return {"noise of 2 levels": plus(hr, rng.normal(0, 2, (h, w, 3))),
            "blur, radius 1": hr.filter(ImageFilter.GaussianBlur(1)),
            "grid of 1 level": plus(hr, grid),
            "grid of 2 levels": plus(hr, 2 * grid),
            "grid x local contrast, 2 levels": plus(hr, 2 * grid * local_contrast(hr)),
            "grid x band-pass, 2 levels RMS": texture_grid(hr, pattern, rms=2)}


def calibrate(sets):
    rng = np.random.default_rng(0)
    pattern = rng.standard_normal((4, 4))
    pattern = (pattern - pattern.mean()) / pattern.std()  # mean 0, standard deviation 1
    out = {}
    for name in sets:
        found = {}
        for image, _, hr in EvalDataset(name, scale=4):
            for case, img in calibration_cases(hr, pattern, rng).items():
                for key, measure in MEASURES.items():
                    found.setdefault(case, {}).setdefault(key, {})[image] = measure(img, hr)
        out[name] = {case: {key: {"min": min(v.values()), "max": max(v.values()),
                                  "mean": float(np.mean(list(v.values()))), "images": v}
                            for key, v in by_measure.items()}
                     for case, by_measure in found.items()}
    return out


def measure_models(sets):
    models = {"bicubic": "bicubic"}
    models.update({label: resolve_model(str(ROOT / path)) for label, path in MODELS.items()})
    out = {}
    for name in sets:
        dataset = EvalDataset(name, scale=4)
        values = {}
        for image, lr, hr in dataset:
            for label, model in [("HR", None)] + list(models.items()):
                if model is None:
                    sr = hr
                elif model == "bicubic":
                    sr = upscale_bicubic(lr, 4)
                else:
                    with torch.inference_mode():
                        sr = super_resolve(model, lr)
                for key, measure in MEASURES.items():
                    values.setdefault(label, {}).setdefault(key, {})[image] = measure(sr, hr)
        out[name] = {label: {key: {"mean": float(np.mean(list(v.values()))),
                                   "median": float(statistics.median(v.values())), "images": v}
                             for key, v in by_measure.items()}
                     for label, by_measure in values.items()}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=["Set5", "Set14"])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/grid_measure.json")
    args = parser.parse_args(argv)

    calibration = calibrate(args.sets)
    for name, cases in calibration.items():
        print(f"{name}: HR changed, measured against HR (min to max, mean)")
        print(f"    {'case':32s} {'periodic_artefacts':>28s} {'local_periodic_artefacts':>28s}")
        for case, by_measure in cases.items():
            cells = [f"{v['min']:7.2f} to {v['max']:7.2f} ({v['mean']:7.2f})"
                     for v in by_measure.values()]
            print(f"    {case:32s} {cells[0]:>28s} {cells[1]:>28s}")
    models = measure_models(args.sets)
    print("\nmean (median) over each set's images")
    for key in MEASURES:
        print(f"{key}:")
        labels = list(next(iter(models.values())))
        print(f"    {'set':6s}" + "".join(f"{label:>16s}" for label in labels))
        for name, by_label in models.items():
            cells = [f"{by_label[lb][key]['mean']:.2f} ({by_label[lb][key]['median']:.2f})"
                     for lb in labels]
            print(f"    {name:6s}" + "".join(f"{c:>16s}" for c in cells))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"what": "metrics.periodic_artefacts and metrics.local_periodic_artefacts: "
                      "calibration on drawn changes of the HR images, and the models by "
                      "evaluate's protocol (x4)",
              "torch": torch.__version__, "numpy": np.__version__,
              "calibration": calibration, "models": models}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
