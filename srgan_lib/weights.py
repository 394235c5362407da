"""Weights files: safetensors state_dicts whose architecture can be read from the file.

Why safetensors: a ``.pth`` pickle runs code when it is loaded, and a pickled *model*
(what the reference tutorial ships) also needs the source tree it was saved from
("No module named 'models'"). A safetensors file holds only named tensors plus a small
string-to-string metadata header, loads without executing anything, and is fast.

Why the architecture is read from the tensors: the names and shapes of a state_dict say
exactly which network it fits (SRResNet or Generator or Discriminator, the number of
residual blocks, the channels, the scale), so a file needs no separate config to be
loaded, and a file of the wrong architecture or scale is caught with a message that says
what it holds and what was asked for, instead of a wall of "size mismatch" lines.
The metadata header records what trained the weights (content loss, data, iterations)
for people; the loader only reads ``architecture`` from it, as a cross-check.

Why the loader checks values too: a file whose header is intact but whose tensor bytes
are damaged loads without complaint and makes black images. So every tensor is checked
for NaN and infinity on load, and the files shipped in ``data/`` are checked against the
sha256 that ``data/MODEL_CARD.md`` records for them (the one place it is written, by
``tools/model_card.py``; each file is hashed once per process).
"""

import functools
import hashlib
import json
import re
from pathlib import Path

import torch

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import nn

from .errors import SRGANError
from .files import atomic_write
from .models import Discriminator, Generator, SRResNet

__all__ = ["FORMAT", "unwrap", "architecture_of", "build_model", "save_weights",
           "read_metadata", "load_weights"]

FORMAT = "srgan_lib/1"
_DATA = Path(__file__).resolve().parent.parent / "data"
_CARD = _DATA / "MODEL_CARD.md"
_CLASSES = {cls.__name__: cls for cls in (SRResNet, Generator, Discriminator)}


def unwrap(model):
    """The plain module inside ``DistributedDataParallel`` and ``torch.compile`` wrappers.

    Saving the unwrapped module keeps the state_dict keys free of ``module.`` and
    ``_orig_mod.`` prefixes, so files always load into the plain classes.

    Explained in: book/09_training_engine.ipynb
    """
    while True:
        if hasattr(model, "_orig_mod"):  # torch.compile
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def _count(state, pattern):
    """How many distinct indices ``pattern`` (a regex with one group) matches in the keys."""
    return len({m.group(1) for k in state if (m := re.match(pattern, k))})


def _srresnet_arguments(state):
    first = state["conv_block1.conv_block.0.weight"]  # (n_channels, 3, k, k)
    return {"large_kernel_size": first.shape[-1],
            "small_kernel_size": state["conv_block2.conv_block.0.weight"].shape[-1],
            "n_channels": first.shape[0],
            "n_blocks": _count(state, r"residual_blocks\.(\d+)\."),
            "scaling_factor": 2 ** _count(state, r"subpixel_convolutional_blocks\.(\d+)\.")}


def architecture_of(state):
    """Which network a state_dict fits, read from its key names and tensor shapes.

    Args:
        state (dict[str, Tensor]): a state_dict.

    Returns:
        tuple[str, dict]: the class name (``'SRResNet'``, ``'Generator'`` or
        ``'Discriminator'``) and its constructor arguments.

    Raises:
        ValueError: the keys fit none of the three networks.

    Explained in: book/04_building_modules.ipynb
    """
    try:
        if "fc1.weight" in state:
            first = state["conv_blocks.0.conv_block.0.weight"]
            return "Discriminator", {
                "kernel_size": first.shape[-1], "n_channels": first.shape[0],
                "n_blocks": _count(state, r"conv_blocks\.(\d+)\."),
                "fc_size": state["fc1.weight"].shape[0]}
        if "net.conv_block1.conv_block.0.weight" in state:
            inner = {k.removeprefix("net."): v for k, v in state.items()}
            return "Generator", _srresnet_arguments(inner)
        return "SRResNet", _srresnet_arguments(state)
    except KeyError as err:
        raise ValueError(f"not an SRResNet, Generator or Discriminator state_dict "
                         f"(no key {err})") from None


def build_model(name, arguments):
    """Instantiate ``SRResNet``, ``Generator`` or ``Discriminator`` by class name.

    Explained in: book/04_building_modules.ipynb
    """
    if name not in _CLASSES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(_CLASSES)}")
    return _CLASSES[name](**arguments)


def _describe(name, arguments):
    if name == "Discriminator":
        return f"Discriminator ({arguments['n_blocks']} conv blocks)"
    return (f"{name} x{arguments['scaling_factor']} ({arguments['n_blocks']} residual blocks, "
            f"{arguments['n_channels']} channels)")


def save_weights(model, path, **metadata):
    """Write a model's state_dict to a safetensors file, atomically, with metadata.

    The file is written to a temporary name in the same folder and renamed into place,
    so an interrupted save never leaves a truncated weights file.

    Args:
        model (nn.Module): an ``SRResNet``, ``Generator`` or ``Discriminator`` (possibly
            wrapped by DDP or ``torch.compile``).
        path (str | Path): the ``.safetensors`` file to write (replaced if it exists).
        **metadata: anything worth recording (content loss, data, iterations, command);
            values are stored as strings, non-strings as JSON.

    Returns:
        Path: ``path``.

    Explained in: book/09_training_engine.ipynb
    """
    path = Path(path)
    model = unwrap(model)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    name, arguments = architecture_of(state)
    header = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    header.update(format=FORMAT, architecture=name, arguments=json.dumps(arguments))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        f.write(save(state, metadata=header))
    return path


def _check_file(path):
    path = Path(path)
    if not path.exists():
        raise SRGANError(f"{path}: no such weights file; check the path")
    if path.is_dir():
        raise SRGANError(f"{path}: is a directory; name a .safetensors file inside it")
    return path


def _not_safetensors(path, err):
    return SRGANError(f"{path}: not a safetensors weights file ({err}); srgan_lib loads weights "
                      "only from .safetensors (a .pth pickle can run code when loaded): save "
                      "the state_dict with srgan_lib.weights.save_weights")


def _recorded_sha256(card=_CARD):
    """The sha256 the model card records for each shipped weights file, by file name.

    ``tools/model_card.py`` writes a line ``- sha256: `HEX``` under each file's heading
    (``### LABEL: `NAME.safetensors```); that card is the one record of the digests.

    Args:
        card (str | Path): the model card (default ``data/MODEL_CARD.md``).

    Returns:
        dict[str, str]: file name to hex digest; empty if there is no card.

    Explained in: book/07_evaluation.ipynb
    """
    try:
        text = Path(card).read_text()
    except OSError:
        return {}
    pattern = r"^### [^\n]*`([^`]+\.safetensors)`\s*\n\s*\n- sha256: `([0-9a-f]{64})`"
    return dict(re.findall(pattern, text, re.M))


@functools.cache
def _sha256(path, size, mtime_ns):
    """The hex sha256 of a file; cached per (path, size, mtime), so hashed once a process."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_shipped(path):
    """A file of ``data/`` that the model card lists must have the digest it records."""
    path = Path(path).resolve()
    if path.parent != _DATA:
        return
    expected = _recorded_sha256().get(path.name)
    if expected is None:
        return
    stat = path.stat()
    actual = _sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected:
        raise SRGANError(f"{path}: sha256 {actual[:12]}... is not the {expected[:12]}... that "
                         f"{_CARD.name} records for the shipped file; it is damaged or was "
                         f"replaced: restore it (git checkout -- data/{path.name}), or "
                         "regenerate the card (tools/model_card.py) for new weights")


def _check_finite(path, state):
    """Every tensor of ``state`` must be finite: NaN or inf weights make black images."""
    bad = {k: int((~torch.isfinite(v)).sum()) for k, v in state.items()
           if v.is_floating_point() and not torch.isfinite(v).all()}
    if bad:
        total = sum(v.numel() for v in state.values())
        first = next(iter(bad))
        raise SRGANError(f"{path}: {sum(bad.values()):,} of {total:,} values are NaN or "
                         f"infinite ({len(bad)} tensors, the first {first}); the file is "
                         "damaged: download, copy or train it again")


def read_metadata(path):
    """The metadata header of a safetensors file, without loading its tensors.

    Args:
        path (str | Path): the file.

    Returns:
        dict[str, str]: the header (empty if the file has none).

    Raises:
        SRGANError: the file is missing or not a safetensors file.

    Explained in: book/07_evaluation.ipynb
    """
    path = _check_file(path)
    try:
        with safe_open(path, framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError) as err:
        raise _not_safetensors(path, err) from None


def load_weights(path, expect=None, scaling_factor=None, device="cpu"):
    """Load a safetensors file into the network it was saved from, in eval mode.

    Args:
        path (str | Path): the ``.safetensors`` file.
        expect (type | tuple[type] | None): the class(es) accepted, e.g.
            ``(SRResNet, Generator)`` for anything that super-resolves; ``None`` accepts all.
        scaling_factor (int | None): the scale the caller needs; ``None`` accepts any.
        device (str | torch.device): where to put the tensors.

    Returns:
        nn.Module: the model, with the file's header as ``model.metadata`` (a dict).

    Raises:
        SRGANError: missing or non-safetensors file, a state_dict of no known network,
            another architecture or scale than asked for, NaN or infinite values, or a
            shipped file whose sha256 is not the model card's; the message names the
            file, what it holds and what was expected.

    Explained in: book/07_evaluation.ipynb
    """
    path = _check_file(path)
    metadata = read_metadata(path)
    _check_shipped(path)
    try:
        state = load_file(path, device=str(device))
    except (SafetensorError, OSError) as err:
        raise _not_safetensors(path, err) from None
    _check_finite(path, state)
    try:
        name, arguments = architecture_of(state)
    except ValueError as err:
        raise SRGANError(f"{path}: {err}; it is not a weights file of this library") from None
    if metadata.get("architecture", name) != name:
        raise SRGANError(f"{path}: the header says {metadata['architecture']} but the tensors "
                         f"are a {name}; the file is damaged, save it again")
    holds = _describe(name, arguments)
    if expect is not None:
        expect = expect if isinstance(expect, tuple) else (expect,)
        if name not in {cls.__name__ for cls in expect}:
            wanted = " or ".join(cls.__name__ for cls in expect)
            raise SRGANError(f"{path}: holds {holds} weights, but {wanted} weights are needed "
                             "here; pass the right file")
    if scaling_factor is not None and arguments.get("scaling_factor") != scaling_factor:
        raise SRGANError(f"{path}: holds {holds} weights, but x{scaling_factor} was asked for; "
                         f"use a x{scaling_factor} file or ask for "
                         f"x{arguments.get('scaling_factor')}")
    model = build_model(name, arguments)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[1].strip() if "\n" in str(err) else str(err)
        raise SRGANError(f"{path}: does not fit {holds} ({first}); the file is damaged or "
                         "from another code base") from None
    model.metadata = metadata
    return model.to(device).eval()

