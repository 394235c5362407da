"""Training checkpoints: everything needed to resume a run exactly, written atomically.

A checkpoint holds the models, the optimisers, the learning-rate schedulers, the step, and
every random generator's state (Python, NumPy, torch, CUDA), so that a run killed at any
moment and resumed from its last checkpoint ends with bit-identical weights on the CPU.

It is written to a temporary file, flushed to disk (fsync) and renamed over the previous
one: a kill during the write leaves the previous checkpoint intact, never a torn file.
A run can also keep copies in a second folder, a *mirror* (Google Drive in Colab, whose
files outlive the VM): after each local write the checkpoint is copied there under a new
name, ``checkpoint-<step>.pt``, and the last two copies are kept. A new name each time,
because Drive's mount syncs late: a file being replaced may reach Drive half-written, while
the previous copy stays complete. A resumed run whose local folder is gone takes the newest
mirror copy that reads completely.

It is read with ``torch.load(weights_only=True)``, which refuses anything but tensors and
plain containers, so loading a checkpoint can never execute code. That is also why the
NumPy generator state is stored as a tensor and plain numbers rather than as arrays.
"""

import random
import re
from pathlib import Path

import numpy as np
import torch

from .errors import SRGANError
from .files import atomic_copy, atomic_write

__all__ = ["FORMAT", "rng_state", "set_rng_state", "save_checkpoint", "load_checkpoint",
           "mirror_checkpoint", "mirror_copies", "restore_from_mirror", "checkpoint_bytes",
           "mirror_writes"]

FORMAT = "srgan_lib-checkpoint/1"


def rng_state():
    """The state of every random generator a training step may draw from.

    Returns:
        dict: ``python``, ``numpy``, ``torch`` and ``cuda`` states, in types that
        ``torch.load(weights_only=True)`` accepts.

    Explained in: book/09_training_engine.ipynb
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": random.getstate(),
            "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state):
    """Restore the generators saved by ``rng_state``.

    Explained in: book/09_training_engine.ipynb
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state, path):
    """Write a checkpoint dict atomically: temporary file, fsync, rename.

    Args:
        state (dict): tensors, state_dicts and plain Python values.
        path (str | Path): the checkpoint file; the previous one is replaced only once the
            new one is completely on disk.

    Explained in: book/09_training_engine.ipynb
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        torch.save({"format": FORMAT, **state}, f)


def load_checkpoint(path, map_location="cpu"):
    """Read a checkpoint written by ``save_checkpoint``, safely (``weights_only=True``).

    Args:
        path (str | Path): the checkpoint file.
        map_location (str | torch.device): where tensors are loaded.

    Returns:
        dict: the checkpoint.

    Raises:
        SRGANError: the file is missing, truncated, corrupt, or not a checkpoint of this
            library; the message names the file.

    Explained in: book/09_training_engine.ipynb
    """
    path = Path(path)
    if not path.is_file():
        raise SRGANError(f"{path}: no checkpoint there; start without --resume, or name the "
                         "output folder of the run to resume")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise SRGANError(f"{path}: not a readable checkpoint ({type(err).__name__}: "
                         f"{str(err).splitlines()[0][:200]}); the file is corrupt or not a "
                         "checkpoint: delete it to start again") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SRGANError(f"{path}: not a checkpoint of this library (format "
                         f"{state.get('format') if isinstance(state, dict) else None!r}, "
                         f"expected {FORMAT!r})")
    return state


def mirror_copies(folder):
    """The checkpoint copies in a mirror folder, newest (highest step) first.

    Returns:
        list[Path]: the ``checkpoint-<step>.pt`` files.

    Explained in: book/09_training_engine.ipynb
    """
    found = []
    for path in Path(folder).glob("checkpoint-*.pt"):
        match = re.fullmatch(r"checkpoint-(\d+)\.pt", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found, reverse=True)]


def mirror_checkpoint(path, folder, step, keep=2, extra=()):
    """Copy a just-written checkpoint into a mirror folder as ``checkpoint-<step>.pt``.

    Args:
        path (str | Path): the local checkpoint.
        folder (str | Path): the mirror folder (created if missing).
        step (int): the checkpoint's step, which names the copy.
        keep (int): how many copies to keep, newest first; older ones are deleted.
        extra (iterable of Path): other files to copy under their own names (the log).

    Returns:
        Path: the copy.

    Explained in: book/09_training_engine.ipynb
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / f"checkpoint-{step:09d}.pt"
    atomic_copy(path, copy)
    for other in extra:
        if Path(other).is_file():
            atomic_copy(other, folder / Path(other).name)
    for old in mirror_copies(folder)[keep:]:
        old.unlink(missing_ok=True)
    return copy


def restore_from_mirror(folder, path):
    """Put the newest complete mirror copy of a checkpoint at ``path`` (a lost local folder).

    Copies that do not read (a sync cut short) are passed over for the one before.

    Args:
        folder (str | Path): the mirror folder.
        path (str | Path): where the local checkpoint belongs.

    Returns:
        Path | None: the copy used, or ``None`` if the mirror holds none that reads.

    Explained in: book/09_training_engine.ipynb
    """
    for copy in mirror_copies(folder):
        try:
            load_checkpoint(copy)
        except SRGANError:
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_copy(copy, path)
        return copy
    return None


def checkpoint_bytes(config):
    """The size of one checkpoint of ``config``, counted: every network's parameters and
    buffers, and Adam's two moments per parameter, in float32 (4 bytes each).

    The models are built on the "meta" device (shapes only), so this takes milliseconds
    for any size. A saved file is a little larger (the step, RNG states, pickling).

    Explained in: book/09_training_engine.ipynb
    """
    import torch

    from .models import Discriminator, Generator, SRResNet

    with torch.device("meta"):
        net = dict(n_blocks=config.n_blocks, n_channels=config.n_channels,
                   scaling_factor=config.scale)
        models = [(SRResNet if config.stage == "srresnet" else Generator)(**net)]
        if config.stage == "srgan":
            models.append(Discriminator(n_blocks=config.d_n_blocks, fc_size=config.d_fc_size))
    count = 0
    for model in models:
        count += 3 * sum(p.numel() for p in model.parameters())  # weights, exp_avg, exp_avg_sq
        count += sum(b.numel() for b in model.buffers() if b.is_floating_point())
    if config.ema_decay:  # the generator's moving average: one more copy of its state
        count += sum(t.numel() for t in models[0].state_dict().values() if t.is_floating_point())
    return 4 * count


def mirror_writes(config):
    """What one stage of ``config`` writes into a mirror folder: a checkpoint copy per
    ``checkpoint_every`` steps (and one at the end), each ``checkpoint_bytes`` large.

    Every copy counts against the Drive account: the two newest stay in the folder, and
    the older ones, deleted through Colab's mount, go to Drive's trash, which counts too
    until it is emptied (by hand, or by Drive after 30 days).

    Returns:
        dict: ``copies``, ``bytes_each`` and ``bytes`` (all copies together).

    Explained in: book/09_training_engine.ipynb
    """
    copies = -(-config.iterations // config.checkpoint_every)  # the last step saves too
    each = checkpoint_bytes(config)
    return {"copies": copies, "bytes_each": each, "bytes": copies * each}
