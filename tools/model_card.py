"""Write ``data/MODEL_CARD.md`` from the shipped weights, their logs and the evaluate command.

    SRGAN_DATA=../shared/datasets python tools/model_card.py

Nothing in the card is typed by hand: the recipe, hardware and wall time come from the
weights' metadata (written by the training engine), the training curve from the JSON-lines
logs, and the evaluation table from ``python -m srgan_lib evaluate --json`` run on every
benchmark set the data directory holds (Set5, Set14, and BSD100 when it is there). The
card records each file's sha256, and ``tests/test_shipped.py`` checks them, so the card can
not silently describe other weights than the ones in ``data/``.
"""

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from srgan_lib.config import TrainConfig  # noqa: E402
from srgan_lib.errors import SRGANError  # noqa: E402
from srgan_lib.evaluate import format_comparison  # noqa: E402
from srgan_lib.files import atomic_write  # noqa: E402
from srgan_lib.sources import find_dataset  # noqa: E402
from srgan_lib.train import _RESUMABLE, read_log, split_validation  # noqa: E402
from srgan_lib.weights import read_metadata  # noqa: E402

DATA = ROOT / "data"
SETS = ("Set5", "Set14", "BSD100")
# (row label, shipped weights, shipped log, training command, its changes to the preset)
SHIPPED = (
    ("SRResNet", "data/srresnet_x4.safetensors", "data/srresnet_x4.log.jsonl",
     "python -m srgan_lib train srresnet --preset cpu --out runs/srresnet_x4\n"
     "cp runs/srresnet_x4/srresnet.safetensors data/srresnet_x4.safetensors\n"
     "cp runs/srresnet_x4/log.jsonl data/srresnet_x4.log.jsonl", {}),
    ("SRGAN", "data/srgan_x4.safetensors", "data/srgan_x4.log.jsonl",
     "python -m srgan_lib train srgan --preset cpu --out runs/srgan_x4 \\\n"
     "    --init runs/srresnet_x4/srresnet.safetensors\n"
     "cp runs/srgan_x4/srgan.safetensors data/srgan_x4.safetensors\n"
     "cp runs/srgan_x4/log.jsonl data/srgan_x4.log.jsonl", {}),
    # The SRGAN shipped first, before the cpu recipe had the grid loss; kept to compare.
    ("SRGAN v1", "data/srgan_x4_v1.safetensors", "data/srgan_x4_v1.log.jsonl",
     "python -m srgan_lib train srgan --preset cpu --grid-weight 0 --out runs/srgan_x4_v1 \\\n"
     "    --init runs/srresnet_x4/srresnet.safetensors\n"
     "cp runs/srgan_x4_v1/srgan.safetensors data/srgan_x4_v1.safetensors\n"
     "cp runs/srgan_x4_v1/log.jsonl data/srgan_x4_v1.log.jsonl", {"grid_weight": 0.0}),
)
# Config fields that do not change what is computed (the ones a resume may change, bar the
# run's length), left out when checking that a file was made by the command the card gives.
NOT_RECIPE = _RESUMABLE - {"iterations"}


def sha256(path):
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recipe_differences(config, stage, preset="cpu", overrides=None):
    """Fields of a run's config that differ from ``preset`` with the command's ``overrides``
    (ignoring non-recipe fields; a field the config lacks, added to ``TrainConfig`` after
    the run, had its default).

    Empty means the card's command (``train STAGE --preset cpu ...``) reproduces the run.
    """
    expected = TrainConfig.preset(preset, stage, **(overrides or {})).to_dict()
    config = TrainConfig.with_defaults(config)  # a field added since: its default
    return {k: (config.get(k), v) for k, v in expected.items()
            if k not in NOT_RECIPE and config.get(k) != v}


def available_sets():
    """The benchmark sets of ``SETS`` the data directory holds (nothing is downloaded)."""
    found = []
    for name in SETS:
        try:
            find_dataset(name, download=False)
            found.append(name)
        except SRGANError:
            pass
    return found


def run_evaluate(model, sets):
    """The rows of ``python -m srgan_lib evaluate --model MODEL --sets ... --json``."""
    out = subprocess.run([sys.executable, "-m", "srgan_lib", "evaluate", "--model", model,
                          "--sets", *sets, "--json", "--no-progress"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _hours(seconds):
    return f"{seconds / 3600:.2f} h" if seconds is not None else "not recorded"


def throughput(speeds):
    """The logged images/s as a phrase: the median and the range of the middle 90% of windows.

    The extremes are left out: a window that held a validation pass or a pause while other
    work had the CPU logs a rate near 0 that says nothing of the training itself.
    """
    if not speeds:
        return "not logged"
    s = sorted(speeds)
    low, high = s[round(0.05 * (len(s) - 1))], s[round(0.95 * (len(s) - 1))]
    return (f"median {s[len(s) // 2]:.0f} images/s ({low:.0f}-{high:.0f} in 90% of the logged "
            "windows; lower while other work shared the CPU)")


def training_section(label, weights, log, command, overrides=None):
    """The Markdown describing how one shipped file was trained, from its metadata and log."""
    meta = read_metadata(ROOT / weights)
    config = json.loads(meta["config"])
    records = read_log(ROOT / log)
    val = [(r["step"], r["val_psnr"]) for r in records if "val_psnr" in r]
    speeds = [r["images_per_s"] for r in records if "images_per_s" in r]
    diffs = recipe_differences(config, meta["stage"], overrides=overrides)
    grid = config.get("grid_weight", 0.0)
    lines = [
        f"### {label}: `{Path(weights).name}`", "",
        f"- sha256: `{sha256(ROOT / weights)}`",
        f"- architecture: {meta['architecture']} {meta['arguments']}",
        f"- content loss: `{meta['content_loss']}`"
        + (" (the paper's SRGAN-MSE variant: ImageNet VGG19 weights cannot be downloaded "
           "on the machines that trained it, so the paper's VGG54 loss was not used)"
           if meta["stage"] == "srgan" and meta["content_loss"] == "mse" else "")
        + (f", plus the grid loss with weight {grid:g} (`losses.grid_loss`, not in the paper: "
           "without it this recipe's SRGAN draws a 4-pixel grid; book chapter 6)" if grid
           else (", without the grid loss" if meta["stage"] == "srgan" else "")),
        f"- iterations: {meta['iterations']} (batch {config.get('batch_size')}, HR crops of "
        f"{config.get('crop_size')} px, Adam lr {config.get('lr')}, x0.1 at step "
        f"{config.get('lr_decay_at')}" + (f", beta {config.get('beta')}"
                                           if meta["stage"] == "srgan" else "") + ")",
        f"- training data: {', '.join(config.get('train_sets', []))}, minus "
        f"{config.get('val_images')} images held out for validation",
        f"- hardware: {meta.get('hardware', 'not recorded')} (device `{meta.get('device')}`, "
        f"{meta.get('world_size', 1)} process)",
        f"- wall time: {_hours(float(meta['wall_time_s']) if 'wall_time_s' in meta else None)} "
        "of training, summed over resumed runs; throughput " + throughput(speeds),
        f"- validation PSNR (held-out crops, every {config.get('val_every')} steps): "
        + (", ".join(f"{s // 1000}k {p:.2f}" for s, p in val) + " dB" if val else "none"),
        "- reproduce (from the repository root, `SRGAN_DATA` pointing at T91 and BSD200):",
        "", "```bash", command, "```",
        "" if not diffs else f"- **the file's config differs from the preset**: {diffs}",
    ]
    return "\n".join(lines)


def _paper_gap(ours, other):
    """``, paper ROW vs ROW: +x.xx dB`` from the paper rows evaluate chose, or nothing."""
    if ours.get("paper_psnr") is None or other.get("paper_psnr") is None:
        return ""
    return (f"; paper, {ours['paper_row']} vs {other['paper_row']}: "
            f"{ours['paper_psnr'] - other['paper_psnr']:+.2f} dB")


def goal_checks(results):
    """The issue's quality goals, each stated with the figures that decide it."""
    def row(method, name):
        return next(r for r in results[method] if r["set"] == name)

    out = []
    if "Set5" in [r["set"] for r in results["SRResNet"]]:
        p = row("SRResNet", "Set5")["psnr"]
        out.append("- SRResNet reaches at least 30.5 dB on Set5: "
                   f"**{'yes' if p >= 30.5 else 'no'}** ({p:.2f} dB;"
                   " the paper's, trained on ImageNet for 1e6 iterations: 32.05).")
    for name in [r["set"] for r in results["SRResNet"]]:
        b, r, g = (row(m, name) for m in ("Bicubic", "SRResNet", "SRGAN"))
        ordered = b["hf_energy"] < r["hf_energy"] < g["hf_energy"]
        closest = abs(1 - g["hf_energy"]) < min(abs(1 - b["hf_energy"]), abs(1 - r["hf_energy"]))
        out.append(
            f"- {name}: SRResNet above bicubic by {r['psnr'] - b['psnr']:+.2f} dB"
            f"{_paper_gap(r, b)}; "
            f"HF energy bicubic {b['hf_energy']:.3f} < SRResNet {r['hf_energy']:.3f} < SRGAN "
            f"{g['hf_energy']:.3f}: **{'yes' if ordered else 'no'}**, SRGAN closest to 1: "
            f"**{'yes' if closest else 'no'}** (HF energy rewards noise as much as detail, so "
            "this is read beside PSNR and the pictures, not as a perceptual judgement); "
            "SRGAN PSNR below SRResNet: "
            f"**{'yes' if g['psnr'] < r['psnr'] else 'no'}** ({g['psnr'] - r['psnr']:+.2f} dB"
            f"{_paper_gap(g, r)}); "
            f"largest colour shift {max(m['colour_shift'] for m in (b, r, g)):.2f} levels.")
        out.append(f"- {name}: periodic artefacts (a regular grid; 1 = as much as HR): bicubic "
                   f"{b['periodic_artefacts']:.2f}, SRResNet {r['periodic_artefacts']:.2f}, "
                   f"SRGAN {g['periodic_artefacts']:.2f}.")
        if "SRGAN v1" in results:
            v = row("SRGAN v1", name)
            half = g["periodic_artefacts"] <= v["periodic_artefacts"] / 2
            out.append(f"- {name}: SRGAN's periodic artefacts at most half the first SRGAN's "
                       f"({v['periodic_artefacts']:.2f}, trained without the grid loss): "
                       f"**{'yes' if half else 'no'}** ({g['periodic_artefacts']:.2f}); its "
                       f"HF energy {g['hf_energy']:.3f} against the first's "
                       f"{v['hf_energy']:.3f}; PSNR {g['psnr']:.2f} against {v['psnr']:.2f} dB.")
        if g.get("local_artefacts") is not None and r.get("local_artefacts") is not None:
            first = (f", the first SRGAN {row('SRGAN v1', name)['local_artefacts']:.2f}"
                     if "SRGAN v1" in results else "")
            ratio = g["local_artefacts"] / r["local_artefacts"]
            near = ratio <= 1.5 + 1e-9  # 1.8 / 1.2 is 1.5000000000000002 in floats
            out.append(f"- {name}: local grid (a grid seen window by window, also one whose "
                       f"sign follows the texture; 1 = as much as HR): bicubic "
                       f"{b['local_artefacts']:.2f}, SRResNet {r['local_artefacts']:.2f}, "
                       f"SRGAN {g['local_artefacts']:.2f}{first}; SRGAN within 1.5x "
                       f"SRResNet's: **{'yes' if near else 'no'}** "
                       f"({ratio:.2f}x).")
    if "Set5" in [r["set"] for r in results["SRGAN"]]:
        g = row("SRGAN", "Set5")
        out.append(f"- Set5: SRGAN's PSNR at least 30.0 dB (the paper's SRGAN-MSE: 30.64): "
                   f"**{'yes' if g['psnr'] >= 30.0 else 'no'}** ({g['psnr']:.2f} dB); its HF "
                   f"energy at least 0.8: **{'yes' if g['hf_energy'] >= 0.8 else 'no'}** "
                   f"({g['hf_energy']:.3f}).")
    shifts = [(r["colour_shift"], r["set"]) for r in results["SRGAN"]]
    worst = max(shifts)
    out.append(f"- SRGAN's colour shift at most one 8-bit level on every set: "
               f"**{'yes' if worst[0] <= 1 else 'no'}** (largest {worst[0]:.2f}, {worst[1]}).")
    return "\n".join(out)


def paper_rows(results):
    """Which row of the paper each method was compared with, as evaluate chose it."""
    return ", ".join(f"{method} beside {rows[0]['paper_row']} (Table {rows[0]['paper_table']})"
                     for method, rows in results.items() if rows[0].get("paper_row"))


def render(sections, results, sets, n_train):
    """The whole card."""
    return "\n".join([
        "# Model card: the shipped SRResNet x4 and SRGAN x4", "",
        "Written by `tools/model_card.py` from the files themselves; do not edit by hand.", "",
        "Two x4 super-resolution networks (and an earlier SRGAN, below) with the architecture "
        "of Ledig et al. (CVPR 2017): "
        "16 residual blocks, 64 channels, two sub-pixel x2 upsampling stages. `srgan_x4` holds "
        "the generator only. Inputs are RGB in ImageNet normalisation, outputs in [-1, 1]; "
        "the tensor names are those of the reference tutorial (sgrvinod, "
        "a-PyTorch-Tutorial-to-Super-Resolution), so the files also load into its `SRResNet` "
        "and `Generator` classes with `load_state_dict(safetensors.torch.load_file(path))`. "
        "A third file, `srgan_x4_v1`, is the SRGAN shipped first, trained without the grid "
        "loss; it is kept so that its grid can be compared (book chapter 8).",
        "",
        f"They are demo weights, trained on a CPU on {n_train} small training images, not the "
        "paper's 350k ImageNet images on a GPU: expect lower figures than the paper's. "
        "Benchmark sets were never used for training or for choosing anything.", "",
        "## Training", "",
        "All three files come from the training engine (`python -m srgan_lib train`), trained on "
        "the CPU in the background across several resumed runs; each log is the run's whole "
        "log. A resumed run continues exactly (tested: bit-identical weights to a run never "
        "stopped), and the learning-rate decay step may be moved on resume only while it has "
        "not been reached, which the SRResNet run used to end sooner; so the commands below "
        "reproduce the files.", "",
        "\n\n".join(sections), "",
        "## Evaluation", "",
        f"`python -m srgan_lib evaluate --model MODEL --sets {' '.join(sets)}`, with MODEL "
        "`bicubic`, `data/srresnet_x4.safetensors`, `data/srgan_x4.safetensors` and "
        "`data/srgan_x4_v1.safetensors`. Protocol: "
        "the paper's (Y channel, 4-pixel border removed, LR by antialiased bicubic). HF energy: "
        "spectral energy above the LR Nyquist frequency relative to HR (1 = as much fine detail "
        "as the truth). Periodic artefacts: the Y spectrum's peaks at the frequencies of the "
        "x4 sub-pixel upsampler's 2- and 4-pixel periods (k/4 cycles per pixel), each peak "
        "relative to the spectrum around it, SR relative to HR (`metrics.periodic_artefacts`; "
        "1 = as much of a regular grid as the truth, a grid drawn over smooth areas gives "
        "tens). Local grid: the same peaks measured in 32-pixel windows, SR against HR in "
        "the same window (`metrics.local_periodic_artefacts`), which also sees a grid whose "
        "strength and sign follow the texture and so cancel out of the whole image's "
        "spectrum; calibrated in `benchmarks/grid_measure.py`. Colour shift: the largest "
        "change of a colour channel's mean, in 8-bit levels. Paper: the row of Ledig et "
        "al. 2017 that matches each file's content loss "
        f"(read from its metadata by `evaluate`): {paper_rows(results)}; Table 1 has no "
        "BSD100 column (`–`). The shipped SRGAN was also trained with the grid loss, which "
        "no row of the paper has: its row is the nearest one, not the same recipe. HF "
        "energy and the two grid figures are ratios, and a set's mean can be dominated by "
        "one image: each cell gives the mean and, in brackets, the median. HF "
        "energy counts noise as much as detail: it says how much fine texture there is, "
        "not whether it is right.", "",
        format_comparison(results), "",
        "### The goals of the issue", "", goal_checks(results), "",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DATA / "MODEL_CARD.md"))
    parser.add_argument("--sets", nargs="+", help="default: every one of Set5, Set14, BSD100 "
                        "the data directory holds")
    args = parser.parse_args(argv)
    sets = args.sets or available_sets()
    n_train = len(split_validation(TrainConfig.preset("cpu", "srresnet"))[0])
    if not sets:
        raise SystemExit("no benchmark set (Set5, Set14, BSD100) in the data directory: "
                         "set SRGAN_DATA")
    results = {"Bicubic": run_evaluate("bicubic", sets)["results"]}
    sections = []
    for label, weights, log, command, overrides in SHIPPED:
        results[label] = run_evaluate(weights, sets)["results"]
        sections.append(training_section(label, weights, log, command, overrides))
    with atomic_write(Path(args.out)) as f:
        f.write(render(sections, results, sets, n_train).encode())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
