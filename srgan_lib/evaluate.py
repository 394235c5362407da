"""The evaluation table: PSNR and SSIM of a model on the benchmark sets, beside the paper's.

The protocol is the paper's (see ``metrics``): each HR image is centre-cropped to a
multiple of the scale, its LR image is made by Pillow's antialiased bicubic, the model
(or bicubic upsampling, the baseline) produces the SR image, and PSNR / SSIM are measured
on the Y channel with a border of ``scale`` pixels removed. The numbers of Ledig et al.
(Table 2, x4) are kept here so every table is printed next to them.
"""

from tqdm import tqdm

from .data import EvalDataset
from .images import upscale_bicubic
from .metrics import colour_shift, high_frequency_energy, psnr, ssim
from .upscale import model_scale, super_resolve

__all__ = ["PAPER_TABLE2", "PROTOCOL", "evaluate", "format_table", "format_comparison"]

# Ledig et al. 2017, Table 2 (x4): (PSNR dB, SSIM) per method and set.
PAPER_TABLE2 = {
    "Bicubic": {"Set5": (28.43, 0.8211), "Set14": (25.99, 0.7486), "BSD100": (25.94, 0.6935)},
    "SRResNet": {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "BSD100": (27.58, 0.7620)},
    "SRGAN": {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "BSD100": (25.16, 0.6688)},
}

PROTOCOL = ("Y channel (BT.601), {scale}-px border removed, LR by Pillow's antialiased bicubic "
            "from the largest centre crop divisible by {scale}")


def _paper_method(model):
    """Which row of Table 2 a model is compared with: by class name."""
    if model == "bicubic":
        return "Bicubic"
    return {"SRResNet": "SRResNet", "Generator": "SRGAN"}.get(type(model).__name__)


def evaluate(model, sets=("Set5", "Set14"), scale=4, device=None, progress=True):
    """Mean PSNR, SSIM, sharpness and colour shift of a model on each set (paper protocol).

    Args:
        model (nn.Module | str): an ``SRResNet`` / ``Generator``, or ``'bicubic'``.
        sets (Iterable[str | Path]): set names (looked up by ``data.find_dataset``) or folders.
        scale (int): the upscaling factor for bicubic; a model always uses its own.
        device (str | None): where the model runs; its current device if ``None``.
        progress (bool): show a progress bar over the images.

    Returns:
        list[dict]: one row per set: ``set``, ``images``, ``psnr``, ``ssim``,
        ``hf_energy`` (``metrics.high_frequency_energy``: fine detail relative to HR, 1 is
        as much as the truth), ``colour_shift`` (``metrics.colour_shift``, 8-bit levels),
        and ``paper_psnr`` / ``paper_ssim`` (None where Table 2 has no figure).

    Explained in: book/07_evaluation.ipynb
    """
    method = _paper_method(model)
    if model != "bicubic":
        scale = model_scale(model)
    rows = []
    for source in sets:
        dataset = EvalDataset(source, scale=scale)
        psnrs, ssims, energies, shifts = [], [], [], []
        for name, lr, hr in tqdm(dataset, desc=f"{dataset.name} x{scale}", unit="img",
                                 disable=not progress, leave=False):
            if model == "bicubic":
                sr = upscale_bicubic(lr, scale)
            else:
                sr = super_resolve(model, lr, device=device)
            if sr.size != hr.size:
                raise ValueError(f"{name}: the model returned {sr.size}, expected {hr.size}: "
                                 f"is it a x{scale} model?")
            psnrs.append(psnr(sr, hr, border=scale))
            ssims.append(ssim(sr, hr, border=scale))
            energies.append(high_frequency_energy(sr, hr, scale=scale, border=scale))
            shifts.append(colour_shift(sr, hr))
        paper = PAPER_TABLE2.get(method, {}).get(dataset.name) if scale == 4 else None
        rows.append({"set": dataset.name, "images": len(psnrs),
                     "psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims),
                     "hf_energy": sum(energies) / len(energies),
                     "colour_shift": sum(shifts) / len(shifts),
                     "paper_psnr": paper[0] if paper else None,
                     "paper_ssim": paper[1] if paper else None})
    return rows


def _fmt(value, digits):
    """A table cell: the number with ``digits`` decimals, or ``-`` where there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows, title):
    """The rows of ``evaluate`` as a Markdown table, with the paper's figures beside ours.

    HF energy: fine detail above the LR Nyquist frequency relative to HR (1.0 = as much as
    the truth). Colour shift: the largest change of a colour channel's mean, in 8-bit levels.

    Explained in: book/07_evaluation.ipynb
    """
    lines = [f"**{title}**", "",
             "| set | images | PSNR (dB) | SSIM | HF energy | colour shift | paper PSNR "
             "| paper SSIM |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['set']} | {r['images']} | {_fmt(r['psnr'], 2)} | "
                     f"{_fmt(r['ssim'], 4)} | {_fmt(r['hf_energy'], 3)} | "
                     f"{_fmt(r['colour_shift'], 2)} | {_fmt(r['paper_psnr'], 2)} | "
                     f"{_fmt(r['paper_ssim'], 4)} |")
    return "\n".join(lines)


def format_comparison(results):
    """Several methods' ``evaluate`` rows as one Markdown table, set by set, beside the paper.

    Args:
        results (dict[str, list[dict]]): method name (``'Bicubic'``, ``'SRResNet'``,
            ``'SRGAN'``: the rows of Table 2 they are compared with) to its ``evaluate`` rows;
            every method evaluated on the same sets.

    Returns:
        str: a Markdown table with one line per set and method.

    Explained in: book/07_evaluation.ipynb
    """
    lines = ["| set | method | PSNR (dB) | SSIM | HF energy | colour shift | paper PSNR "
             "| paper SSIM |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    sets = [r["set"] for r in next(iter(results.values()))]
    for name in sets:
        for method, rows in results.items():
            r = next(r for r in rows if r["set"] == name)
            paper = PAPER_TABLE2.get(method, {}).get(name, (None, None))
            lines.append(f"| {name} | {method} | {_fmt(r['psnr'], 2)} | {_fmt(r['ssim'], 4)} "
                         f"| {_fmt(r['hf_energy'], 3)} | {_fmt(r['colour_shift'], 2)} | "
                         f"{_fmt(paper[0], 2)} | {_fmt(paper[1], 4)} |")
    return "\n".join(lines)
