"""The evaluation table: which row of the paper a model is compared with, the tables in
Markdown and plain text, and the evaluate command's model names and output forms."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_lib.__main__ import main
from srgan_lib.evaluate import evaluate, format_comparison, format_table, paper_row
from srgan_lib.models import Generator, SRResNet
from srgan_lib.weights import load_weights, save_weights

# Ledig et al. 2017, typed in from the paper (x4, PSNR dB / SSIM; Set5, Set14[, BSD100]).
TABLE_1 = {"SRResNet-MSE": ((32.05, 0.9019), (28.49, 0.8184)),
           "SRResNet-VGG22": ((30.51, 0.8803), (27.19, 0.7807)),
           "SRGAN-MSE": ((30.64, 0.8701), (26.92, 0.7611)),
           "SRGAN-VGG22": ((29.84, 0.8468), (26.44, 0.7518)),
           "SRGAN-VGG54": ((29.40, 0.8472), (26.02, 0.7397))}
TABLE_2_BSD100 = {"Bicubic": (25.94, 0.6935), "SRResNet-MSE": (27.58, 0.7620),
                  "SRGAN-VGG54": (25.16, 0.6688)}


def _tiny(cls, tmp_path, **metadata):
    """A small untrained network saved with ``metadata`` and loaded back, as a user has it."""
    torch.manual_seed(0)
    net = SRResNet(n_blocks=1, n_channels=8)
    if cls is Generator:
        net = Generator(n_blocks=1, n_channels=8)
    return load_weights(save_weights(net, tmp_path / "tiny.safetensors", **metadata))


@pytest.fixture
def sets(tmp_path):
    """Folders named like the benchmark sets, each with one small image (fast)."""
    rng = np.random.default_rng(0)
    for name in ("Set5", "Set14", "BSD100"):
        (tmp_path / name).mkdir()
        pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / name / "a.png")
    return [str(tmp_path / name) for name in ("Set5", "Set14", "BSD100")]


@pytest.mark.parametrize("cls, loss, expected", [
    (SRResNet, "mse", "SRResNet-MSE"), (SRResNet, "vgg22", "SRResNet-VGG22"),
    (Generator, "mse", "SRGAN-MSE"), (Generator, "vgg22", "SRGAN-VGG22"),
    (Generator, "vgg54", "SRGAN-VGG54")])
def test_the_paper_row_follows_the_content_loss_in_the_metadata(tmp_path, sets, cls, loss,
                                                                 expected):
    model = _tiny(cls, tmp_path, content_loss=loss)
    row, reason = paper_row(model)
    assert row == expected and loss in reason and "assumed" not in reason
    set5, set14, bsd100 = evaluate(model, sets=sets, progress=False)
    assert (set5["paper_psnr"], set5["paper_ssim"]) == TABLE_1[expected][0]
    assert (set14["paper_psnr"], set14["paper_ssim"]) == TABLE_1[expected][1]
    if expected in TABLE_2_BSD100:  # Table 2 rows have BSD100 ...
        assert set5["paper_table"] == 2
        assert (bsd100["paper_psnr"], bsd100["paper_ssim"]) == TABLE_2_BSD100[expected]
    else:  # ... Table 1 has none: printed as a dash
        assert set5["paper_table"] == 1
        assert bsd100["paper_psnr"] is None and bsd100["paper_ssim"] is None
        assert format_table([bsd100], "t").splitlines()[-1].endswith("| – | – |")


def test_the_shipped_srgan_is_compared_with_srgan_mse():
    from srgan_lib.upscale import resolve_model

    assert paper_row(resolve_model("srgan"))[0] == "SRGAN-MSE"
    assert paper_row(resolve_model("srresnet"))[0] == "SRResNet-MSE"
    assert paper_row("bicubic")[0] == "Bicubic"


@pytest.mark.parametrize("cls, assumed", [(SRResNet, "SRResNet-MSE"),
                                          (Generator, "SRGAN-VGG54")])
def test_without_metadata_the_papers_own_model_is_assumed_and_said(tmp_path, cls, assumed):
    row, reason = paper_row(_tiny(cls, tmp_path))
    assert row == assumed and reason.startswith("assumed")
    row, _ = paper_row(SRResNet(n_blocks=1, n_channels=8) if cls is SRResNet
                       else Generator(n_blocks=1, n_channels=8))  # no .metadata at all
    assert row == assumed


def test_a_row_the_paper_does_not_have_prints_dashes(tmp_path, sets):
    model = _tiny(SRResNet, tmp_path, content_loss="vgg54")  # Table 1 has no SRResNet-VGG54
    row, reason = paper_row(model)
    assert row is None and "SRResNet-VGG54" in reason
    [set5] = evaluate(model, sets=sets[:1], progress=False)
    assert set5["paper_psnr"] is None
    assert format_table([set5], "t").splitlines()[-1].endswith("| – | – | – |")


def _rows(psnr, sets=("Set5", "Set14"), paper=None):
    return [{"set": s, "images": 5, "psnr": psnr, "ssim": 0.8, "hf_energy": 0.5,
             "hf_energy_median": 0.25, "periodic_artefacts": 12.345,
             "periodic_artefacts_median": 1.5, "local_artefacts": 2.5,
             "local_artefacts_median": 2.25, "colour_shift": 0.1, "paper_row": paper and paper[0],
             "paper_table": paper and paper[1], "paper_psnr": paper and paper[2],
             "paper_ssim": paper and paper[3]} for s in sets]


def test_format_comparison_puts_the_paper_beside_ours_set_by_set():
    table = format_comparison({"Bicubic": _rows(28.43, paper=("Bicubic", 2, 28.43, 0.8211)),
                               "SRGAN": _rows(27.0, paper=("SRGAN-MSE", 1, 30.64, 0.8701))})
    lines = table.splitlines()
    assert len(lines) == 2 + 4  # header, rule, 2 sets x 2 methods
    assert lines[0] == ("| set | method | PSNR (dB) | SSIM | HF energy (median) "
                        "| periodic artefacts (median) | local grid (median) "
                        "| colour shift | paper row | paper PSNR | paper SSIM |")
    # The ratio metrics: the set's mean, and its median in brackets.
    assert lines[2] == ("| Set5 | Bicubic | 28.43 | 0.8000 | 0.500 (0.250) | 12.35 (1.50) "
                        "| 2.50 (2.25) | 0.10 | Bicubic (Table 2) | 28.43 | 0.8211 |")
    assert lines[3] == ("| Set5 | SRGAN | 27.00 | 0.8000 | 0.500 (0.250) | 12.35 (1.50) "
                        "| 2.50 (2.25) | 0.10 | SRGAN-MSE (Table 1) | 30.64 | 0.8701 |")
    assert lines[4].startswith("| Set14 | Bicubic |")


def test_format_comparison_splits_its_columns_in_two_groups():
    results = {"SRGAN": _rows(27.0, paper=("SRGAN-MSE", 1, 30.64, 0.8701))}
    scores = format_comparison(results, columns="scores").splitlines()
    looks = format_comparison(results, columns="looks").splitlines()
    assert scores[0] == "| set | method | PSNR (dB) | SSIM | paper row | paper PSNR | paper SSIM |"
    assert scores[1] == "|---|---|---:|---:|---|---:|---:|"
    assert scores[2] == "| Set5 | SRGAN | 27.00 | 0.8000 | SRGAN-MSE (Table 1) | 30.64 | 0.8701 |"
    assert looks[2] == "| Set5 | SRGAN | 0.500 (0.250) | 12.35 (1.50) | 2.50 (2.25) | 0.10 |"
    # Together the two groups hold every column once.
    whole = format_comparison(results).splitlines()[0].split(" | ")
    assert len(whole) == len(scores[0].split(" | ")) + len(looks[0].split(" | ")) - 2
    with pytest.raises(ValueError, match="columns must be None or one of"):
        format_comparison(results, columns="paper")
    # A row saved before the local figure existed prints "–" there.
    old = _rows(27.0)
    for r in old:
        del r["local_artefacts"], r["local_artefacts_median"]
    assert format_comparison({"Old": old}, columns="looks").splitlines()[2] == (
        "| Set5 | Old | 0.500 (0.250) | 12.35 (1.50) | – | 0.10 |")


def test_format_comparison_leaves_missing_paper_figures_blank():
    table = format_comparison({"Mine": _rows(30.0, sets=("Urban100",))})
    assert table.splitlines()[2].endswith("| – | – | – |")


def test_plain_text_table_is_aligned_and_has_no_markdown():
    rows = _rows(28.4321, paper=("Bicubic", 2, 28.43, 0.8211)) + _rows(9.5, sets=("BSD100",))
    text = format_table(rows, "Bicubic x4", markdown=False)
    lines = text.splitlines()
    assert lines[0] == "Bicubic x4"
    assert "|" not in text and "**" not in text and "---|" not in text
    header, rule, *body = lines[1:]
    assert header.split()[:4] == ["set", "images", "PSNR", "(dB)"]
    assert set(rule.replace(" ", "")) == {"-"}
    # Right-aligned numbers: every PSNR ends in the column where the header's "(dB)" ends.
    end = header.index("PSNR (dB)") + len("PSNR (dB)")
    assert [line[end - 5:end] for line in body] == ["28.43", "28.43", " 9.50"]


def test_evaluate_command_speaks_the_upscale_commands_model_names(sets, capsys):
    for name, cls in (("srgan", "SRGAN"), ("srresnet", "SRResNet")):
        assert main(["evaluate", "--model", name, "--sets", sets[0], "--no-progress",
                     "--device", "cpu"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"{cls} x4\n")  # the paper's names, not the class's
        row = "SRGAN-MSE" if name == "srgan" else "SRResNet-MSE"
        assert f"Table {1 if name == 'srgan' else 2}, row {row}" in out
    assert main(["evaluate", "--model", "nonsense", "--sets", sets[0]]) == 1
    assert "nonsense: no such weights file" in capsys.readouterr().err


def test_evaluate_command_prints_text_markdown_or_json(sets, capsys):
    assert main(["evaluate", "--sets", sets[0], "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Bicubic x4\nset ") and "|" not in text and "**" not in text
    assert main(["evaluate", "--sets", sets[0], "--no-progress", "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("**Bicubic x4**\n\n| set |") and "| Set5 | 1 |" in markdown
    assert main(["evaluate", "--sets", sets[0], "--no-progress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"][0]["paper_row"] == "Bicubic"
    # The grid-artefact figure is in all three forms, beside HF energy.
    grid = report["results"][0]["periodic_artefacts"]
    assert isinstance(grid, float) and grid > 0
    assert ("HF energy (median)  periodic artefacts (median)  local grid (median)  colour shift"
            in text.splitlines()[1])
    local = report["results"][0]["local_artefacts"]
    assert isinstance(local, float) and local > 0
    r = report["results"][0]
    assert (f"| {r['hf_energy']:.3f} ({r['hf_energy_median']:.3f}) | {grid:.2f} "
            f"({r['periodic_artefacts_median']:.2f}) | {local:.2f} "
            f"({r['local_artefacts_median']:.2f}) |") in markdown
    assert report["results"][0]["paper_psnr"] == 28.43
    assert "Table 2, row Bicubic" in report["paper"]


def test_evaluate_command_has_no_paper_figures_at_other_scales(sets, capsys):
    assert main(["evaluate", "--sets", sets[0], "--scale", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Bicubic x2\n") and "x4 only" in out
    assert out.splitlines()[3].split()[-3:] == ["–", "–", "–"]


def test_ratio_metrics_report_the_median_beside_the_mean(sets):
    from srgan_lib.evaluate import evaluate

    row = evaluate("bicubic", sets=[sets[0]], progress=False)[0]
    # One image, so the median is that image's figure, as the mean is.
    assert row["hf_energy_median"] == pytest.approx(row["hf_energy"])
    many = evaluate("bicubic", sets=["Set5"], progress=False)[0]
    assert many["periodic_artefacts_median"] != pytest.approx(many["periodic_artefacts"])


def test_evaluate_refuses_what_it_would_silently_ignore(sets, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--markdown", "--json"])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err
    assert main(["evaluate", "--model", "srgan", "--scale", "8", "--sets", sets[0]]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scale 8: srgan is a x4 model" in err
    assert main(["evaluate", "--device", "tpu", "--sets", sets[0]]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--device tpu: not a device name; this machine has" in err


def test_the_grid_loss_is_said_to_have_no_paper_row():
    from srgan_lib.upscale import resolve_model

    row, reason = paper_row(resolve_model("srgan"))
    assert row == "SRGAN-MSE" and "grid loss (weight 100), which no row of the paper" in reason
    _, plain = paper_row(resolve_model("srresnet"))
    assert "grid" not in plain


def test_local_grid_is_measured_only_where_its_windows_fit(tmp_path):
    from srgan_lib.data import EvalDataset
    from srgan_lib.evaluate import LOCAL_MIN_SIDE, evaluate
    from srgan_lib.images import upscale_bicubic
    from srgan_lib.metrics import local_periodic_artefacts

    rng = np.random.default_rng(1)
    folder = tmp_path / "Mixed"
    folder.mkdir()
    for name, side in (("big.png", LOCAL_MIN_SIDE * 4 + 8), ("small.png", LOCAL_MIN_SIDE * 4 - 4)):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / name)
    row = evaluate("bicubic", sets=[str(folder)], progress=False)[0]
    # Both images count for PSNR; the local grid is the big one's alone.
    assert row["images"] == 2
    big = next((lr, hr) for name, lr, hr in EvalDataset(str(folder), scale=4) if name == "big")
    assert row["local_artefacts"] == pytest.approx(
        local_periodic_artefacts(upscale_bicubic(big[0], 4), big[1], scale=4, border=4))
    (folder / "big.png").unlink()
    row = evaluate("bicubic", sets=[str(folder)], progress=False)[0]
    assert row["local_artefacts"] is None and row["local_artefacts_median"] is None
    assert "| – |" in format_comparison({"Bicubic": [row]}, columns="looks")
