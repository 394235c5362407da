"""The smoke switch: every chapter's ``full`` profile, shrunk to seconds on a CPU.

CI cannot afford the ``full`` profile (hours on a GPU), yet a chapter's ``full`` branch is
what a Colab reader runs. ``SRGAN_SMOKE=1`` keeps every line of that branch and shrinks
only its numbers: ``book.setup`` calls ``install`` when the variable is set, and from then
on the training presets take a few tiny steps (validation and checkpoints at every step),
the toy of chapter 2 trains for a few steps, and, where ``SRGAN_SMOKE_SOURCES`` names a
JSON file, the registered image sets come from the stand-in archives it lists (the smoke
runner serves them on 127.0.0.1). ``tools/smoke_full_profile.py`` runs the chapters so.
Outputs of a smoke run mean nothing; only that no cell fails.
"""

import functools
import json
import os

__all__ = ["SMOKE_SIZES", "TOY_STEPS", "enabled", "shrink", "load_sources", "install"]

# What the presets become under the switch: the same fields, set, only smaller. The
# generator keeps its size (the shipped weights must still load into it); the
# discriminator's dense layer (18432 x 1024 weights in the paper) would dominate a CPU step.
SMOKE_SIZES = dict(iterations=2, batch_size=2, crop_size=24, d_fc_size=16, val_images=2,
                   val_size=48, log_every=1, val_every=1, checkpoint_every=1)
TOY_STEPS = 5  # chapter 2's toy trains at most this many steps


def enabled():
    """True when the environment variable ``SRGAN_SMOKE`` is ``1``.

    Explained in: book/09_training_engine.ipynb
    """
    return os.environ.get("SRGAN_SMOKE") == "1"


def shrink(values):
    """A preset's field values with the smoke sizes in place (a new dict).

    A learning-rate decay stays on (at step 1) when the preset has one, so its code runs.

    Explained in: book/09_training_engine.ipynb
    """
    values = {**values, **SMOKE_SIZES}
    if values.get("lr_decay_at"):
        values["lr_decay_at"] = 1
    return values


def load_sources(path):
    """The stand-in ``Source`` of each set named in a JSON file ``{name: {field: value}}``.

    Explained in: book/09_training_engine.ipynb
    """
    from .errors import SRGANError
    from .sources import SOURCES, Source

    with open(path, encoding="utf-8") as f:
        table = json.load(f)
    unknown = sorted(set(table) - set(SOURCES))
    if unknown:
        raise SRGANError(f"{path}: unknown sets {unknown}; known sets are {', '.join(SOURCES)}")
    return {name: Source(**fields) for name, fields in table.items()}


def _smoke_preset(original):
    @functools.wraps(original)
    def preset(name, stage="srresnet", **overrides):
        config = original(name, stage, **overrides)
        return config.replace(**shrink(config.to_dict()))
    preset.smoke = True
    return preset


def _smoke_toy(original):
    @functools.wraps(original)
    def train_toy(*args, **kwargs):
        kwargs["steps"] = min(kwargs.get("steps", TOY_STEPS), TOY_STEPS)
        return original(*args, **kwargs)
    train_toy.smoke = True
    return train_toy


def install():
    """Shrink the presets and the toy, and swap in the stand-in sources (once per process).

    Explained in: book/09_training_engine.ipynb
    """
    from . import sources, toy
    from .config import TrainConfig

    if not getattr(TrainConfig.preset, "smoke", False):
        TrainConfig.preset = staticmethod(_smoke_preset(TrainConfig.preset))
    if not getattr(toy.train_toy, "smoke", False):
        toy.train_toy = _smoke_toy(toy.train_toy)
    if os.environ.get("SRGAN_SMOKE_SOURCES"):
        sources.SOURCES.update(load_sources(os.environ["SRGAN_SMOKE_SOURCES"]))
