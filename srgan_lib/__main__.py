"""The command line: ``python -m srgan_lib upscale|evaluate|train|export ...``.

Examples::

    python -m srgan_lib upscale photo.jpg -o photo_x4.png          # the shipped SRGAN
    python -m srgan_lib upscale a.png b.png -o out/ --model srresnet

    python -m srgan_lib train srresnet --preset cpu --out runs/srresnet
    python -m srgan_lib train srgan --preset cpu --out runs/srgan \\
        --init runs/srresnet/srresnet.safetensors
    torchrun --standalone --nproc_per_node=2 -m srgan_lib train srresnet --preset quick --out runs/t

    python -m srgan_lib evaluate                         # bicubic on Set5 and Set14
    python -m srgan_lib evaluate --model data/srresnet_x4.safetensors --sets Set5 Set14 BSD100
    python -m srgan_lib evaluate --model bicubic --json  # machine-readable

    python -m srgan_lib export data/srgan_x4.safetensors -o srgan_x4.onnx  # ONNX Runtime

Errors a user can fix (a missing set, a wrong weights file, torch and torchvision from
different builds, memory running out) are printed as one line on stderr with exit status
1; ``--debug`` (before or after the command) shows the full traceback instead. A bad
option (``--tile -5``, ``--lr abc``) is refused before any work starts: one line naming
the option and the values it takes, exit status 2.

This module imports nothing heavy at the top, so ``--help`` and option errors answer at
once; each command imports torch and the rest of the library when it runs.
"""

import argparse
import json
import math
import os
import sys
import warnings

from .errors import SRGANError, install_error

__all__ = ["main"]


def _evaluate(args):
    from .evaluate import PAPER, PROTOCOL, evaluate, format_table, paper_row
    from .upscale import check_device, model_scale, resolve_model

    device = check_device(args.device)
    model = resolve_model(args.model, device=device)
    if model == "bicubic":
        label, scale = "Bicubic", args.scale or 4
    else:
        scale = model_scale(model)
        if args.scale is not None and args.scale != scale:
            raise SRGANError(f"--scale {args.scale}: {args.model} is a x{scale} model; leave "
                             f"--scale out (a model uses its own) or pass x{args.scale} weights")
        family = "SRGAN" if type(model).__name__ == "Generator" else type(model).__name__
        label = family if args.model in ("srgan", "srresnet") else f"{family} ({args.model})"
    rows = evaluate(model, sets=args.sets, scale=scale, device=device,
                    progress=not args.no_progress)
    protocol = PROTOCOL.format(scale=scale)
    row, reason = paper_row(model)
    paper = (f"Ledig et al. 2017, Table {PAPER[row]['table']}, row {row} ({reason})" if row
             else f"no row of Ledig et al. 2017 ({reason})")
    if scale != 4:
        paper = "none (Ledig et al. 2017 report x4 only)"
    if args.json:
        print(json.dumps({"model": args.model, "scale": scale, "protocol": protocol,
                          "paper": paper, "results": rows}, indent=2))
        return
    print(format_table(rows, f"{label} x{scale}", markdown=args.markdown))
    print(f"\nProtocol: {protocol}. HF energy: detail above the LR Nyquist frequency "
          "relative to HR (1 = as much as the truth). Periodic artefacts: spectral peaks at "
          "the upsampler's 2- and 4-px periods relative to HR (1 = as much grid as the truth). "
          "Colour shift: largest change of a colour channel's mean, 8-bit levels. "
          f"Paper: {paper}.")


def _upscale(args):
    from .upscale import upscale_files

    for source, target, (w, h), scale in upscale_files(
            args.inputs, args.output, model=args.model, tile=args.tile, overlap=args.overlap,
            scale=args.scale, device=args.device, bf16=args.bf16, force=args.force,
            allow_large=args.allow_large, progress=not args.no_progress):
        print(f"{source} -> {target} ({w}x{h} -> {w * scale}x{h * scale})")


def _export(args):
    from .export import export_onnx

    out = export_onnx(args.weights, args.output, overwrite=args.force)
    print(f"{args.weights} -> {out} (input lr: imagenet-norm; output sr: [-1, 1])")


def _check_train_sets(sets):
    """Refuse the benchmark sets as training data, in one line, before anything loads."""
    from .sources import SOURCES, registered_name

    for name in sets or ():
        key = registered_name(name)
        if key is not None and SOURCES[key].split == "eval":
            raise SRGANError(f"--train-sets {name}: {key} is an evaluation set, and training "
                             "on it makes its scores meaningless; train on T91, BSD200 or "
                             "DIV2K, or on a folder of your own images")


def _train(args):
    if args.no_progress:  # also data.py's decoding bar: tqdm reads this when imported
        os.environ["TQDM_DISABLE"] = "1"
    _check_train_sets(args.train_sets)
    if args.device is not None:
        from .upscale import check_device

        check_device(args.device)

    from .config import TrainConfig
    from .train import train

    overrides = {k: v for k, v in [("iterations", args.iterations), ("batch_size", args.batch_size),
                                   ("lr", args.lr), ("content_loss", args.content_loss),
                                   ("device", args.device), ("amp", args.amp),
                                   ("workers", args.workers), ("seed", args.seed),
                                   ("checkpoint_every", args.checkpoint_every),
                                   ("val_every", args.val_every), ("log_every", args.log_every),
                                   ("lr_decay_at", args.lr_decay_at),
                                   ("grid_weight", args.grid_weight),
                                   ("beta", args.beta), ("ema_decay", args.ema_decay)]
                 if v is not None}
    if args.grid_window is not None:  # 0: the whole crop
        overrides["grid_window"] = args.grid_window or None
    if args.no_channels_last:
        overrides["channels_last"] = False
    if args.compile:
        overrides["compile"] = True
    if args.train_sets:
        overrides["train_sets"] = tuple(args.train_sets)
    try:
        config = TrainConfig.preset(args.preset, args.stage, **overrides)
    except ValueError as error:  # --grid-window against the preset's crop: no flag sees both
        if "grid_window" not in str(error):
            raise
        raise SRGANError(f"train: {error}; change --grid-window or the preset's crop "
                         "size") from None
    weights = train(config, args.out, resume=args.resume, init=args.init,
                    progress=not args.no_progress, mirror=args.mirror)
    if int(os.environ.get("RANK", 0)) == 0:
        print(f"weights: {weights}")


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (argparse prints the whole usage first)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def whole_number(low, high=None, note=""):
    """An argparse ``type``: an integer in ``[low, high]``; the error names the range.

    Explained in: book/07_evaluation.ipynb
    """
    allowed = f"from {low} to {high}" if high is not None else f">= {low}"

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be a whole number {allowed}{note}, "
                                             f"not {text!r}")
        return value

    return parse


def real_number(ok, allowed):
    """An argparse ``type``: a float for which ``ok(value)`` holds; the error says ``allowed``.

    Explained in: book/09_training_engine.ipynb
    """
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not ok(value):  # NaN fails every comparison
            raise argparse.ArgumentTypeError(f"must be a number {allowed}, not {text!r}")
        return value

    return parse


positive_number = real_number(lambda v: math.isfinite(v) and v > 0, "> 0 (e.g. 1e-4)")  # an lr
loss_weight = real_number(lambda v: math.isfinite(v) and v >= 0, ">= 0 (e.g. 100)")
decay_rate = real_number(lambda v: 0 <= v < 1, ">= 0 and < 1 (e.g. 0.999)")  # a moving average


def _add_debug(parser, default):
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show full tracebacks instead of one-line errors")


def build_parser():
    """The argument parser of ``python -m srgan_lib``.

    Explained in: book/07_evaluation.ipynb
    """
    parser = _Parser(prog="python -m srgan_lib",
                     description="SRResNet / SRGAN (Ledig et al. 2017) tools")
    _add_debug(parser, default=False)
    commands = parser.add_subparsers(dest="command", required=True)

    ev = commands.add_parser("evaluate", help="PSNR / SSIM by the paper's protocol",
                             description="Mean PSNR and SSIM (Y channel, border = scale) of a "
                             "model or of bicubic upsampling on benchmark sets, beside the "
                             "row of the SRGAN paper (Table 1 or 2) that matches the model's "
                             "content loss.")
    ev.add_argument("--model", default="bicubic",
                    help="bicubic | srresnet | srgan | PATH.safetensors (default: bicubic)")
    ev.add_argument("--sets", nargs="+", default=["Set5", "Set14"],
                    help="set names (found in $SRGAN_DATA or downloaded) or folders of images")
    ev.add_argument("--scale", type=int, default=None, choices=(2, 4, 8),
                    help="upscaling factor for bicubic (default 4); a model uses its own")
    ev.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if available)")
    form = ev.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON instead of a table")
    form.add_argument("--markdown", action="store_true",
                      help="print the table as Markdown instead of aligned plain text")
    ev.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_debug(ev, default=argparse.SUPPRESS)
    ev.set_defaults(run=_evaluate)

    up = commands.add_parser("upscale", help="super-resolve image files",
                             description="Upscale images with the shipped SRGAN (default), "
                             "the shipped SRResNet, bicubic, or a weights file. Tiled, so "
                             "memory stays flat for any image size; the output format follows "
                             "the extension of -o.")
    up.add_argument("inputs", nargs="+", metavar="IN", help="image files")
    up.add_argument("-o", "--output", required=True,
                    help="output file (one input) or folder (several: IN_x4.png each)")
    up.add_argument("--model", default="srgan",
                    help="srgan | srresnet | bicubic | PATH.safetensors (default: srgan)")
    up.add_argument("--tile", type=whole_number(0, note=" (0: the whole image at once)"),
                    default=192, help="tile side in LR pixels, or 0: the whole image at once, "
                    "no tiles (default: 192)")
    up.add_argument("--overlap", type=whole_number(0), default=None,
                    help="context around each tile in LR pixels, >= 0 (default: the model's "
                    "receptive radius, which makes tiling exact)")
    up.add_argument("--scale", type=int, default=None, choices=(2, 4, 8),
                    help="the factor: bicubic's (default 4); for a model, the one its weights "
                    "must have (default: whatever they have)")
    up.add_argument("--device", default=None, help="cpu, cuda (default: cuda if available)")
    up.add_argument("--bf16", action="store_true", help="bf16 autocast (for GPUs)")
    up.add_argument("--force", action="store_true", help="replace existing output files")
    up.add_argument("--allow-large", action="store_true",
                    help="lift Pillow's decompression-bomb limit for trusted huge images")
    up.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_debug(up, default=argparse.SUPPRESS)
    up.set_defaults(run=_upscale)

    ex = commands.add_parser("export", help="write a generator as an ONNX file",
                             description="Export SRResNet or SRGAN generator weights to ONNX "
                             "(dynamic height and width): input 'lr' (N, 3, h, w) in "
                             "imagenet-norm, output 'sr' (N, 3, s*h, s*w) in [-1, 1].")
    ex.add_argument("weights", metavar="WEIGHTS",
                    help="srgan | srresnet (the shipped weights) | PATH.safetensors")
    ex.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    ex.add_argument("--force", action="store_true", help="replace an existing output file")
    _add_debug(ex, default=argparse.SUPPRESS)
    ex.set_defaults(run=_export)

    tr = commands.add_parser("train", help="train SRResNet (stage 1) or SRGAN (stage 2)",
                             description="Train one stage; writes OUT/checkpoint.pt, "
                             "OUT/log.jsonl and OUT/<stage>.safetensors. Works under torchrun.")
    tr.add_argument("stage", choices=("srresnet", "srgan"))
    tr.add_argument("--preset", default="cpu", choices=("paper", "cpu", "colab", "quick", "ci"),
                    help="paper: the reference recipe; cpu: ~4 h on 2 cores; colab: the "
                    "paper's losses on DIV2K, 2.0-2.8 h on a T4 for both stages; quick "
                    "(or its former name ci): seconds")
    tr.add_argument("--out", required=True, help="the run's folder")
    tr.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    tr.add_argument("--mirror", metavar="DIR",
                    help="also copy each checkpoint, the log and the weights to DIR (e.g. "
                    "Google Drive); --resume without OUT/checkpoint.pt continues from there")
    tr.add_argument("--init", help="SRGAN: the SRResNet weights to start from")
    tr.add_argument("--iterations", type=whole_number(1), help="steps of the stage, >= 1")
    tr.add_argument("--batch-size", type=whole_number(1), help="crops per step, >= 1")
    tr.add_argument("--lr", type=positive_number, help="Adam's learning rate, > 0")
    tr.add_argument("--lr-decay-at", type=whole_number(1),
                    help="step where the lr is divided by 10, >= 1")
    tr.add_argument("--content-loss", choices=("mse", "vgg22", "vgg54"))
    tr.add_argument("--grid-weight", type=loss_weight,
                    help="weight of the grid loss added to the content loss, >= 0 "
                    "(0: none, as the paper)")
    tr.add_argument("--grid-window", type=whole_number(0),
                    help="the grid loss's tile side in pixels, a multiple of the scale that "
                    "divides the crop (0: the whole crop)")
    tr.add_argument("--beta", type=positive_number,
                    help="SRGAN: weight of the adversarial loss, > 0 (the paper's 1e-3)")
    tr.add_argument("--ema-decay", type=decay_rate,
                    help="export a moving average of the generator's weights with this decay "
                    "per step, >= 0 and < 1 (e.g. 0.999; 0: the last step's weights)")
    tr.add_argument("--train-sets", nargs="+", help="training sets (never the test sets)")
    tr.add_argument("--device", help="cpu, cuda (default: cuda if available)")
    tr.add_argument("--amp", choices=("auto", "bf16", "fp16", "off"),
                    help="mixed precision (auto: bf16 where native, fp16 with a gradient "
                    "scaler on T4/V100 GPUs, else off)")
    tr.add_argument("--no-channels-last", action="store_true")
    tr.add_argument("--compile", action="store_true", help="torch.compile the networks")
    tr.add_argument("--workers", type=whole_number(0),
                    help="DataLoader worker processes, >= 0 (0: load in the main process)")
    tr.add_argument("--seed", type=whole_number(0, 2 ** 32 - 1), help="0 to 2^32 - 1")
    tr.add_argument("--checkpoint-every", type=whole_number(1),
                    help="steps between checkpoints, >= 1")
    tr.add_argument("--val-every", type=whole_number(1), help="steps between validations, >= 1")
    tr.add_argument("--log-every", type=whole_number(1), help="steps between log records, >= 1")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_debug(tr, default=argparse.SUPPRESS)
    tr.set_defaults(run=_train)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 user error, 130 interrupted).

    A bad option exits with status 2 from the parser, before any work starts.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    args = build_parser().parse_args(argv)
    show = warnings.showwarning
    # A library warning is a note for the user: one line, without Python's file and line.
    warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}",
                                                          file=sys.stderr)
    try:
        try:
            args.run(args)
        except (RuntimeError, ImportError, OSError) as err:
            error = install_error(err)  # torch and torchvision from different builds
            if error is None:
                raise
            raise error from err
        except MemoryError:
            raise SRGANError("out of memory: the image (or its tiles) does not fit in the RAM "
                             "left; use a smaller --tile (e.g. --tile 96), a smaller image, "
                             "or close other programs") from None
    except SRGANError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = show
    return 0


if __name__ == "__main__":
    sys.exit(main())
