"""The evaluation tables (the evaluate loop itself is exercised through the CLI tests)."""

from srgan_lib.evaluate import PAPER_TABLE2, format_comparison


def _rows(psnr, sets=("Set5", "Set14")):
    return [{"set": s, "images": 5, "psnr": psnr, "ssim": 0.8, "hf_energy": 0.5,
             "colour_shift": 0.1} for s in sets]


def test_format_comparison_puts_the_paper_beside_ours_set_by_set():
    table = format_comparison({"Bicubic": _rows(28.43), "SRGAN": _rows(27.0)})
    lines = table.splitlines()
    assert len(lines) == 2 + 4  # header, rule, 2 sets x 2 methods
    assert lines[2] == "| Set5 | Bicubic | 28.43 | 0.8000 | 0.500 | 0.10 | 28.43 | 0.8211 |"
    assert lines[3].startswith("| Set5 | SRGAN | 27.00 |")
    assert lines[3].endswith(f"| {PAPER_TABLE2['SRGAN']['Set5'][0]:.2f} | "
                             f"{PAPER_TABLE2['SRGAN']['Set5'][1]:.4f} |")
    assert lines[4].startswith("| Set14 | Bicubic |")


def test_format_comparison_leaves_missing_paper_figures_blank():
    table = format_comparison({"Mine": _rows(30.0, sets=("Urban100",))})
    assert table.splitlines()[2].endswith("| - | - |")
