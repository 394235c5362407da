"""The command line, run as users run it: a subprocess, with its exit status and output."""

import json
import subprocess
import sys

import torch

from srgan_lib.models import Discriminator, SRResNet
from srgan_lib.weights import save_weights


def run(*args):
    return subprocess.run([sys.executable, "-m", "srgan_lib", *args],
                          capture_output=True, text=True, timeout=300)


def test_evaluate_bicubic_prints_the_papers_numbers():
    result = run("evaluate", "--model", "bicubic", "--sets", "Set5", "Set14", "--no-progress")
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
