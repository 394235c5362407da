"""The command line, run as users run it: a subprocess, with its exit status and output."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import srgan_lib
from srgan_lib.__main__ import build_parser, main
from srgan_lib.data import demo_image
from srgan_lib.errors import SRGANError
from srgan_lib.models import Discriminator, SRResNet
from srgan_lib.upscale import super_resolve
from srgan_lib.weights import save_weights


def run(*args):
    return subprocess.run([sys.executable, "-m", "srgan_lib", *args],
                          capture_output=True, text=True, timeout=300)


def test_evaluate_bicubic_prints_the_papers_numbers():
    result = run("evaluate", "--model", "bicubic", "--sets", "Set5", "Set14", "--no-progress",
                 "--markdown")
    assert result.returncode == 0, result.stderr
    lines = {line.split("|")[1].strip(): line for line in result.stdout.splitlines()
             if line.startswith("| Set")}
    assert "| 28.43 |" in lines["Set5"] and "| 26.10 |" in lines["Set14"]
    assert "Y channel" in result.stdout


def test_evaluate_json_with_a_model_file(tmp_path):
    torch.manual_seed(0)
    path = save_weights(SRResNet(n_blocks=1, n_channels=8), tmp_path / "tiny.safetensors")
    result = run("evaluate", "--model", str(path), "--sets", "Set5", "--json", "--no-progress",
                 "--device", "cpu")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scale"] == 4 and report["results"][0]["images"] == 5
    assert report["results"][0]["paper_psnr"] == 32.05  # compared with the SRResNet row
    assert 0 < report["results"][0]["psnr"] < 28.43  # an untrained network is worse than bicubic


def test_bad_inputs_give_one_line_and_no_traceback(tmp_path):
    save_weights(Discriminator(n_blocks=2, fc_size=8), tmp_path / "d.safetensors")
    (tmp_path / "fake.safetensors").write_text("not weights")
    cases = {
        str(tmp_path / "absent.safetensors"): "no such weights file",
        str(tmp_path / "fake.safetensors"): "not a safetensors weights file",
        str(tmp_path / "d.safetensors"): "holds Discriminator",
    }
    for model, message in cases.items():
        result = run("evaluate", "--model", model, "--sets", "Set5", "--no-progress")
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and model in lines[0]


def test_unknown_set_is_a_clear_error():
    result = run("evaluate", "--sets", "Set6", "--no-progress")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Set6" in result.stderr and "Set5" in result.stderr  # names the known sets


def test_debug_shows_the_traceback(tmp_path):
    result = run("--debug", "evaluate", "--model", str(tmp_path / "absent.safetensors"))
    assert result.returncode != 0 and "Traceback" in result.stderr
    result = run("evaluate", "--model", str(tmp_path / "absent.safetensors"), "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_debug_before_or_after_the_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.png").write_text("not an image")
    upscale = ["upscale", "text.png", "-o", "x.png", "--model", "bicubic"]
    assert main(upscale) == 1  # one line, no traceback
    for args in (["--debug", *upscale], [*upscale, "--debug"]):
        with pytest.raises(SRGANError, match="text.png: not an image"):
            main(args)
    parse = build_parser().parse_args
    for command in (["evaluate"], ["train", "srresnet", "--out", "r"], upscale):
        assert parse(command).debug is False
        assert parse(["--debug", *command]).debug is True
        assert parse([*command, "--debug"]).debug is True


# --- every numeric option: refused by the parser, one line naming it and its range, exit 2 ---

UPSCALE = ["upscale", "in.png", "-o", "o.png"]
TRAIN = ["train", "srresnet", "--out", "run"]
BAD_NUMBERS = [
    # (arguments, the option, the allowed values the line must state)
    ([*UPSCALE, "--tile", "-5"], "--tile", ">= 0 (0: the whole image at once)"),
    ([*UPSCALE, "--tile", "2.5"], "--tile", ">= 0"),
    ([*UPSCALE, "--overlap", "-10"], "--overlap", ">= 0"),
    ([*UPSCALE, "--overlap", "ten"], "--overlap", ">= 0"),
    ([*UPSCALE, "--scale", "3"], "--scale", "choose from 2, 4, 8"),
    (["evaluate", "--scale", "3"], "--scale", "choose from 2, 4, 8"),
    ([*TRAIN, "--iterations", "0"], "--iterations", ">= 1"),
    ([*TRAIN, "--batch-size", "0"], "--batch-size", ">= 1"),
    ([*TRAIN, "--lr", "0"], "--lr", "> 0"),
    ([*TRAIN, "--lr", "-0.5"], "--lr", "> 0"),
    ([*TRAIN, "--lr=-1e-4"], "--lr", "> 0"),  # argparse reads a bare -1e-4 as an option
    ([*TRAIN, "--lr", "nan"], "--lr", "> 0"),
    ([*TRAIN, "--lr", "inf"], "--lr", "> 0"),
    ([*TRAIN, "--lr-decay-at", "0"], "--lr-decay-at", ">= 1"),
    ([*TRAIN, "--workers", "-1"], "--workers", ">= 0"),
    ([*TRAIN, "--seed", "-1"], "--seed", "from 0 to 4294967295"),
    ([*TRAIN, "--seed", str(2 ** 32)], "--seed", "from 0 to 4294967295"),
    ([*TRAIN, "--checkpoint-every", "0"], "--checkpoint-every", ">= 1"),
    ([*TRAIN, "--val-every", "0"], "--val-every", ">= 1"),
    ([*TRAIN, "--log-every", "-3"], "--log-every", ">= 1"),
    ([*TRAIN, "--grid-weight", "-1"], "--grid-weight", ">= 0"),
    ([*TRAIN, "--grid-weight", "nan"], "--grid-weight", ">= 0"),
    ([*TRAIN, "--grid-window", "-4"], "--grid-window", ">= 0"),
    ([*TRAIN, "--ema-decay", "1"], "--ema-decay", ">= 0 and < 1"),
    ([*TRAIN, "--beta", "0"], "--beta", "> 0"),
    ([*TRAIN, "--ema-decay", "-0.5"], "--ema-decay", ">= 0 and < 1"),
    ([*TRAIN, "--ema-decay", "nan"], "--ema-decay", ">= 0 and < 1"),
]


@pytest.mark.parametrize("args, option, allowed", BAD_NUMBERS,
                         ids=[f"{a[0]} {' '.join(a[-2:])}" for a, _, _ in BAD_NUMBERS])
def test_bad_numbers_are_refused_in_one_line(tmp_path, monkeypatch, capsys, args, option,
                                              allowed):
    monkeypatch.chdir(tmp_path)
    demo_image("coffee").resize((8, 8)).save(tmp_path / "in.png")

    def let_through(args):
        raise AssertionError("the parser let a bad number through")

    for command in ("_evaluate", "_upscale", "_train"):  # no work starts, whatever happens
        monkeypatch.setattr(f"srgan_lib.__main__.{command}", let_through)
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"argument {option}: " in err[0] and allowed in err[0], err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]  # nothing written


def test_good_numbers_pass_the_parser():
    parse = build_parser().parse_args
    args = parse([*UPSCALE, "--tile", "0", "--overlap", "0"])
    assert (args.tile, args.overlap) == (0, 0)
    args = parse([*TRAIN, "--lr", "2e-4", "--seed", "0", "--workers", "0", "--iterations", "1"])
    assert (args.lr, args.seed, args.workers, args.iterations) == (2e-4, 0, 0, 1)


def test_tile_zero_is_the_whole_image(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    tiny = SRResNet(n_blocks=1, n_channels=8).eval()
    save_weights(tiny, tmp_path / "tiny.safetensors")
    lr = demo_image("coffee").resize((40, 30))
    lr.save(tmp_path / "in.png")
    assert main([*UPSCALE, "--model", "tiny.safetensors", "--tile", "0", "--no-progress",
                 "--device", "cpu"]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")),
                          np.asarray(super_resolve(tiny, lr)))


# --- start-up: --help and option errors must not wait for torch ---------------------------

PROBE = """
import runpy, sys
sys.argv = ["srgan_lib", *sys.argv[1:]]
try:
    runpy.run_module("srgan_lib", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    print("exit", exit.code, "heavy:", sorted({"torch", "torchvision", "skimage", "numpy",
                                               "PIL"} & set(sys.modules)))
"""


@pytest.mark.parametrize("args", [["--help"], ["upscale", "--help"], ["train", "--help"],
                                  ["evaluate", "--help"], [*UPSCALE, "--tile", "-5"],
                                  ["upscale"], ["nosuchcommand"]])
def test_help_and_option_errors_import_nothing_heavy(args):
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                            text=True, timeout=60)
    last = result.stdout.strip().splitlines()[-1]
    assert last in ("exit 0 heavy: []", "exit 2 heavy: []"), (last, result.stderr)


def test_the_package_imports_its_names_on_first_use():
    # In a fresh interpreter: importing srgan_lib loads no torch, and every public name
    # still works (loaded when first asked for).
    code = ("import sys, srgan_lib as sl; assert 'torch' not in sys.modules; "
            "from srgan_lib import psnr; import srgan_lib.models; "
            "assert sl.SRResNet is srgan_lib.models.SRResNet and sl.psnr is psnr; "
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.strip() == "ok", result.stderr
    for name in srgan_lib.__all__:
        assert getattr(srgan_lib, name) is not None, name
    assert srgan_lib.train.__name__ == "srgan_lib.train" and "SRResNet" in dir(srgan_lib)
    with pytest.raises(AttributeError, match="no attribute 'SRResNet2'"):
        srgan_lib.SRResNet2  # noqa: B018


def test_train_refuses_test_sets_and_unknown_devices_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert main(["train", "srresnet", "--out", str(tmp_path / "r"), "--train-sets", "T91",
                 "Set5", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--train-sets Set5: Set5 is an evaluation set" in err
    # --no-progress reaches data.py's decoding bar through tqdm's own switch.
    assert os.environ["TQDM_DISABLE"] == "1"
    for device, message in (("tpu", "not a device name"),
                            ("cuda:9", "this machine has no such device")):
        assert main(["train", "srresnet", "--out", str(tmp_path / "r"), "--device",
                     device]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--device {device}: {message}" in err
    assert not (tmp_path / "r").exists()


def test_train_ema_decay_and_beta_reach_the_config(tmp_path, monkeypatch):
    import srgan_lib.train as train_module

    seen = []
    monkeypatch.setattr(train_module, "train",
                        lambda config, out, **kwargs: seen.append(config) or tmp_path / "w")
    for given, expected in ((["--ema-decay", "0.999", "--beta", "0.002"], (0.999, 0.002)),
                            ([], (0.0, 0.001))):
        assert main(["train", "srgan", "--out", str(tmp_path / "r"), *given,
                     "--no-progress"]) == 0
        assert (seen[-1].ema_decay, seen[-1].beta) == expected


def test_train_grid_window_reaches_the_config_or_is_refused_in_one_line(tmp_path, capsys,
                                                                        monkeypatch):
    import srgan_lib.train as train_module

    seen = []

    def fake_train(config, out, **kwargs):
        seen.append(config)
        return tmp_path / "w.safetensors"

    monkeypatch.setattr(train_module, "train", fake_train)
    out = str(tmp_path / "r")
    for window, expected in (("16", 16), ("0", None)):
        assert main(["train", "srgan", "--out", out, "--grid-window", window,
                     "--no-progress"]) == 0
        assert seen[-1].grid_window == expected
    # 24 px is a multiple of nothing the cpu preset's 64-px crop splits into.
    assert main(["train", "srgan", "--out", out, "--grid-window", "24", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "grid_window 24" in err and "--grid-window" in err
    assert len(seen) == 2 and not (tmp_path / "r").exists()
    # Any other configuration error is not relabelled as a --grid-window one.
    from srgan_lib.config import TrainConfig

    def other_error(*args, **kwargs):
        raise ValueError("crop_size 30 must be divisible by scale 4")

    monkeypatch.setattr(TrainConfig, "preset", other_error)
    with pytest.raises(ValueError, match="crop_size 30") as raised:
        main(["train", "srgan", "--out", out, "--grid-window", "16", "--no-progress"])
    assert "--grid-window" not in str(raised.value)


def test_warnings_are_one_line_without_file_and_line(monkeypatch, capsys, tmp_path):
    import warnings

    import srgan_lib.__main__ as cli

    monkeypatch.setattr(cli, "_export",
                        lambda args: warnings.warn("left out 2 images", stacklevel=1))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["export", "srgan", "-o", str(tmp_path / "m.onnx")]) == 0
    assert capsys.readouterr().err == "warning: left out 2 images\n"
