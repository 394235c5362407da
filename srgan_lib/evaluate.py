"""The evaluation table: PSNR and SSIM of a model on the benchmark sets, beside the paper's.

The protocol is the paper's (see ``metrics``): each HR image is centre-cropped to a
multiple of the scale, its LR image is made by Pillow's antialiased bicubic, the model
(or bicubic upsampling, the baseline) produces the SR image, and PSNR / SSIM are measured
on the Y channel with a border of ``scale`` pixels removed.

Which row of the paper a model is printed beside depends on how it was trained, not on its
class: an SRGAN trained with the MSE content loss belongs beside Table 1's SRGAN-MSE, not
beside Table 2's SRGAN (which is SRGAN-VGG54). ``paper_row`` reads the content loss from the
weights' metadata (``model.metadata``, written by the training engine).
"""

import json
import statistics

from tqdm import tqdm

from .data import EvalDataset
from .images import upscale_bicubic
from .metrics import (LOCAL_WINDOW_PERIODS, colour_shift, high_frequency_energy,
                      local_periodic_artefacts, periodic_artefacts, psnr, ssim)
from .upscale import model_scale, super_resolve

__all__ = ["PAPER", "PROTOCOL", "paper_row", "evaluate", "format_table", "format_comparison"]

# Ledig et al., CVPR 2017 (arXiv:1609.04802v5), x4: (PSNR dB, SSIM) per set, and the table
# each row is from. Table 1 compares content losses on Set5 and Set14 only (no BSD100 column);
# Table 2 compares methods on Set5, Set14 and BSD100. Table 2's "SRResNet" and "SRGAN" are
# Table 1's SRResNet-MSE and SRGAN-VGG54 (the same Set5 and Set14 figures), so those two rows
# are taken from Table 2, which adds their BSD100 figures.
PAPER = {
    "Bicubic": {"table": 2, "Set5": (28.43, 0.8211), "Set14": (25.99, 0.7486),
                "BSD100": (25.94, 0.6935)},
    "SRResNet-MSE": {"table": 2, "Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184),
                     "BSD100": (27.58, 0.7620)},
    "SRResNet-VGG22": {"table": 1, "Set5": (30.51, 0.8803), "Set14": (27.19, 0.7807)},
    "SRGAN-MSE": {"table": 1, "Set5": (30.64, 0.8701), "Set14": (26.92, 0.7611)},
    "SRGAN-VGG22": {"table": 1, "Set5": (29.84, 0.8468), "Set14": (26.44, 0.7518)},
    "SRGAN-VGG54": {"table": 2, "Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397),
                    "BSD100": (25.16, 0.6688)},
}

PROTOCOL = ("Y channel (BT.601), {scale}-px border removed, LR by Pillow's antialiased bicubic "
            "from the largest centre crop divisible by {scale}")

# What a network is assumed to be when its weights record no content loss: the paper's
# SRResNet (Table 2) is SRResNet-MSE, and its SRGAN (Table 2) is SRGAN-VGG54.
_ASSUMED_LOSS = {"SRResNet": "mse", "Generator": "vgg54"}
_FAMILY = {"SRResNet": "SRResNet", "Generator": "SRGAN"}


def paper_row(model):
    """The row of the paper's tables a model is compared with, and why.

    Bicubic is Table 2's bicubic row. A network's row is its family (``SRResNet``, or
    ``SRGAN`` for a ``Generator``) and the content loss its weights' metadata records
    (``mse``, ``vgg22``, ``vgg54``). Weights without that record are assumed to be the
    paper's own SRResNet (MSE) or SRGAN (VGG54), and the reason says so.

    Args:
        model (nn.Module | str): an ``SRResNet`` / ``Generator`` (``load_weights`` sets its
            ``metadata``), or ``'bicubic'``.

    Returns:
        tuple[str | None, str]: a key of ``PAPER`` (``None`` when the paper has no such
        row, e.g. SRResNet-VGG54) and a short reason, e.g. ``"content loss mse, from the
        weights' metadata"``; weights trained with the grid loss (``grid_weight`` in
        their config) say that no row of the paper has it.

    Explained in: book/07_evaluation.ipynb
    """
    if isinstance(model, str) and model == "bicubic":
        return "Bicubic", "bicubic upsampling"
    family = _FAMILY.get(type(model).__name__)
    if family is None:
        return None, f"the paper has no {type(model).__name__}"
    metadata = getattr(model, "metadata", {})
    loss = metadata.get("content_loss")
    if loss:
        reason = f"content loss {loss}, from the weights' metadata"
    else:
        loss = _ASSUMED_LOSS[type(model).__name__]
        reason = (f"assumed: the weights record no content loss, so the paper's own "
                  f"{family} ({loss}) is assumed")
    try:
        grid = float(json.loads(metadata.get("config", "{}")).get("grid_weight") or 0)
    except (ValueError, TypeError, AttributeError):
        grid = 0.0
    if grid:
        reason += f"; plus the grid loss (weight {grid:g}), which no row of the paper has"
    name = f"{family}-{loss.upper()}"
    if name not in PAPER:
        return None, f"the paper has no {name} row ({reason})"
    return name, reason


# local_periodic_artefacts' windows, plus the 1-period border evaluate cuts off each side
LOCAL_MIN_SIDE = LOCAL_WINDOW_PERIODS + 2


def evaluate(model, sets=("Set5", "Set14"), scale=4, device=None, progress=True):
    """Mean PSNR, SSIM, HF energy, both grid figures and colour shift of a model on each set.

    The paper's protocol (see the module's docstring); the means are over a set's images.

    Args:
        model (nn.Module | str): an ``SRResNet`` / ``Generator``, or ``'bicubic'``.
        sets (Iterable[str | Path]): set names (looked up by ``data.find_dataset``) or folders.
        scale (int): the upscaling factor for bicubic; a model always uses its own.
        device (str | None): where the model runs; its current device if ``None``.
        progress (bool): show a progress bar over the images.

    Returns:
        list[dict]: one row per set: ``set``, ``images``, ``psnr``, ``ssim``,
        ``hf_energy`` (``metrics.high_frequency_energy``: fine detail relative to HR, 1 is
        as much as the truth), ``periodic_artefacts`` (``metrics.periodic_artefacts``:
        a regular grid relative to HR, 1 is as much as the truth), ``local_artefacts``
        (``metrics.local_periodic_artefacts``: the same, window by window, which also sees
        a grid whose sign follows the texture), the medians of the three
        (``hf_energy_median``, ``periodic_artefacts_median``, ``local_artefacts_median``: a
        set's mean of a ratio can be one image's; the local figures are over the images
        of at least ``LOCAL_MIN_SIDE`` periods a side, None if there are none),
        ``colour_shift``
        (``metrics.colour_shift``, 8-bit levels),
        ``paper_row`` / ``paper_table`` (the paper's row the model is compared with, see
        ``paper_row``, and its table) and ``paper_psnr`` / ``paper_ssim`` (None where that
        row has no figure for the set, or the scale is not x4).

    Explained in: book/07_evaluation.ipynb
    """
    row_name, _ = paper_row(model)
    if model != "bicubic":
        scale = model_scale(model)
    paper = PAPER.get(row_name, {}) if scale == 4 else {}
    rows = []
    for source in sets:
        dataset = EvalDataset(source, scale=scale)
        psnrs, ssims, energies, grids, local, shifts = [], [], [], [], [], []
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
            grids.append(periodic_artefacts(sr, hr, scale=scale, border=scale))
            if min(hr.size) >= LOCAL_MIN_SIDE * scale:  # room for its windows
                local.append(local_periodic_artefacts(sr, hr, scale, border=scale))
            shifts.append(colour_shift(sr, hr))
        figures = paper.get(dataset.name, (None, None))
        local_median = statistics.median(local) if local else None  # no image large enough
        rows.append({"set": dataset.name, "images": len(psnrs),
                     "psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims),
                     "hf_energy": sum(energies) / len(energies),
                     "hf_energy_median": statistics.median(energies),
                     "periodic_artefacts": sum(grids) / len(grids),
                     "periodic_artefacts_median": statistics.median(grids),
                     "local_artefacts": statistics.mean(local) if local else None,
                     "local_artefacts_median": local_median,
                     "colour_shift": sum(shifts) / len(shifts),
                     "paper_row": row_name if paper else None,
                     "paper_table": paper.get("table"),
                     "paper_psnr": figures[0], "paper_ssim": figures[1]})
    return rows


def _fmt(value, digits):
    """A table cell: the number with ``digits`` decimals, or ``–`` where there is none."""
    return "–" if value is None else f"{value:.{digits}f}"


def _pair(r, key, digits):
    """``mean (median)`` of a ratio metric; the mean alone for rows without a median."""
    median = r.get(f"{key}_median")
    mean = _fmt(r.get(key), digits)  # a row saved before the figure existed: "–"
    return mean if median is None else f"{mean} ({_fmt(median, digits)})"


def _figures(r):
    """The cells of one evaluate row, ours then the paper's."""
    where = (f"{r['paper_row']} (Table {r['paper_table']})" if r.get("paper_row") else "–")
    return [_fmt(r["psnr"], 2), _fmt(r["ssim"], 4), _pair(r, "hf_energy", 3),
            _pair(r, "periodic_artefacts", 2), _pair(r, "local_artefacts", 2),
            _fmt(r["colour_shift"], 2), where,
            _fmt(r.get("paper_psnr"), 2), _fmt(r.get("paper_ssim"), 4)]


_FIGURE_COLUMNS = ["PSNR (dB)", "SSIM", "HF energy (median)", "periodic artefacts (median)",
                   "local grid (median)", "colour shift",
                   "paper row", "paper PSNR", "paper SSIM"]
_FIGURE_ALIGN = ">>>>>><>>"
# Column groups for narrow pages: the paper's scores, and what PSNR and SSIM miss.
COLUMN_GROUPS = {"scores": ("PSNR (dB)", "SSIM", "paper row", "paper PSNR", "paper SSIM"),
                 "looks": ("HF energy (median)", "periodic artefacts (median)",
                           "local grid (median)", "colour shift")}


def _render(header, align, body, markdown):
    """A table as Markdown (for notebooks) or as aligned plain text (for a terminal)."""
    if markdown:
        rule = "|" + "|".join("---:" if a == ">" else "---" for a in align) + "|"
        return "\n".join(["| " + " | ".join(header) + " |", rule]
                         + ["| " + " | ".join(cells) + " |" for cells in body])
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells):
        padded = (f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths, strict=True))
        return "  ".join(padded).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(c) for c in body])


def format_table(rows, title, markdown=True):
    """The rows of ``evaluate`` as a table, with the paper's figures beside ours.

    HF energy: fine detail above the LR Nyquist frequency relative to HR (1.0 = as much as
    the truth; noise counts as much as detail, so it is read beside PSNR, not alone).
    Both ratio metrics show the set's mean and, in brackets, its median (one image can
    carry a set's mean). Periodic artefacts: the spectral peaks of a regular grid at the upsampler's
    periods relative to HR's (1.0 = as much as the truth; a visible grid gives tens). Colour
    shift: the largest change of a colour channel's mean, in 8-bit levels. ``–`` marks a
    figure the paper does not give (Table 1 has no BSD100 column).

    Args:
        rows (list[dict]): what ``evaluate`` returned.
        title (str): the table's title, e.g. ``'Bicubic x4'``.
        markdown (bool): Markdown (a notebook renders it); ``False``: aligned plain text,
            for a terminal.

    Returns:
        str: the title and the table.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    body = [[r["set"], str(r["images"]), *_figures(r)] for r in rows]
    table = _render(["set", "images", *_FIGURE_COLUMNS], "<>" + _FIGURE_ALIGN, body, markdown)
    return f"**{title}**\n\n{table}" if markdown else f"{title}\n{table}"


def format_comparison(results, markdown=True, columns=None):
    """Several methods' ``evaluate`` rows as one table, set by set, beside the paper.

    Args:
        results (dict[str, list[dict]]): a label per method (``'Bicubic'``, ``'SRResNet'``,
            ...) to its ``evaluate`` rows (which name the paper's row they are compared
            with); every method evaluated on the same sets.
        markdown (bool): Markdown; ``False``: aligned plain text.
        columns (str | None): ``'scores'`` or ``'looks'`` (``COLUMN_GROUPS``) for half of
            the columns, a table that fits a page; None: all of them.

    Returns:
        str: a table with one line per set and method.

    Explained in: book/07_evaluation.ipynb
    """
    sets = [r["set"] for r in next(iter(results.values()))]
    body = []
    for name in sets:
        for method, rows in results.items():
            r = next(r for r in rows if r["set"] == name)
            body.append([name, method, *_figures(r)])
    if columns is not None and columns not in COLUMN_GROUPS:
        raise ValueError(f"columns must be None or one of {sorted(COLUMN_GROUPS)}, "
                         f"got {columns!r}")
    keep = [0, 1] + [i + 2 for i, c in enumerate(_FIGURE_COLUMNS)
                     if columns is None or c in COLUMN_GROUPS[columns]]
    header = ["set", "method", *_FIGURE_COLUMNS]
    align = "<<" + _FIGURE_ALIGN
    return _render([header[i] for i in keep], "".join(align[i] for i in keep),
                   [[cells[i] for i in keep] for cells in body], markdown)
