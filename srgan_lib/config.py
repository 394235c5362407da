"""One training configuration, with presets chosen by one switch.

``TrainConfig`` holds every knob of both stages; ``TrainConfig.preset(name, stage)`` gives
the three configurations the project uses:

* ``paper`` - the reference recipe (Ledig et al. Section 3.2; sgrvinod's tutorial): batch 16,
  HR crops of 96, Adam with lr 1e-4; SRResNet 1e6 iterations; SRGAN 2e5 iterations with the
  learning rate divided by 10 halfway, beta = 1e-3, VGG54 content loss.
* ``cpu``   - the paper's architecture trained as well as a 2-core CPU can in a few hours:
  SRResNet 22k iterations on 64-pixel crops at lr 2e-4, divided by 10 at 18k; SRGAN 3k
  iterations at lr 1e-4, divided by 10 halfway, with the grid loss (weight 100). The shipped
  weights took 3.27 h and 2.21 h of a 2-core CPU shared with other work (``data/MODEL_CARD.md``).
* ``colab`` - the paper's networks, losses (SRGAN: VGG54, beta = 1e-3), crops and batch, on
  DIV2K, in one free Colab session on a T4: SRResNet 1e5 iterations, SRGAN 5e4 with the
  learning rate divided by 10 halfway; 2.0 to 2.8 hours with set-up at 10 to 6 TFLOP/s
  achieved. Sized by ``estimate_hours`` (the counted FLOPs of a step against an assumed
  T4 throughput), not measured: see there. Its decoded DIV2K images are memory-mapped
  from disk (``decoded_images='disk'``), so that they fit a free VM's RAM once however
  many processes train.
* ``quick`` - a tiny network and a few steps: seconds on a CPU, to show the machinery work
  (the book's stored outputs). ``ci``, its former name, is still accepted (``PRESET_ALIASES``).

Model selection uses a validation split held out of the *training* sets, never the
benchmark sets.
"""

import functools
from dataclasses import asdict, dataclass, field, fields, replace

__all__ = ["STAGES", "PRESETS", "PRESET_ALIASES", "AMP", "preset_name", "TrainConfig",
           "compare_presets", "step_flops", "estimate_hours", "colab_hours"]

STAGES = ("srresnet", "srgan")
PRESETS = ("paper", "cpu", "colab", "quick")
PRESET_ALIASES = {"ci": "quick"}  # former names, still accepted


def preset_name(name):
    """The preset a name stands for: one of ``PRESETS``, or an alias of one (``'ci'`` is
    ``'quick'``), else a ``ValueError`` listing the names.

    Explained in: book/09_training_engine.ipynb
    """
    name = PRESET_ALIASES.get(name, name)
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS} (or {', '.join(PRESET_ALIASES)}), "
                         f"got {name!r}")
    return name
AMP = ("auto", "bf16", "fp16", "off")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved into checkpoints, logs and weights.

    Explained in: book/09_training_engine.ipynb
    """

    stage: str = "srresnet"  # 'srresnet' (stage 1, MSE) or 'srgan' (stage 2, adversarial)
    # --- data
    train_sets: tuple = ("T91", "BSD200")  # training only: never Set5/Set14/BSD100
    val_images: int = 10  # held out of train_sets (seeded choice) for model selection
    val_size: int = 192  # HR centre crop of each validation image (None: whole image)
    crop_size: int = 96  # HR crop side (the paper's 96x96)
    decoded_images: str = "memory"  # 'memory', or 'disk': memory-mapped .npy files in the
    # data directory's decoded/ folder, held once in the page cache for all processes
    scale: int = 4  # the paper's x4
    # --- model (the paper's: 16 residual blocks of 64 channels)
    n_blocks: int = 16
    n_channels: int = 64
    d_n_blocks: int = 8  # discriminator conv blocks
    d_fc_size: int = 1024
    # --- optimisation
    batch_size: int = 16
    iterations: int = 1_000_000
    lr: float = 1e-4
    lr_decay_at: int | None = None  # step where lr is multiplied by 0.1 (SRGAN: halfway)
    content_loss: str = "mse"  # 'mse' (SRResNet, SRGAN-MSE), 'vgg22', 'vgg54'
    beta: float = 1e-3  # weight of the adversarial loss
    vgg_rescale: float = 12.75  # the paper's divisor of VGG feature maps
    grid_weight: float = 0.0  # weight of losses.grid_loss in the content loss (0: the paper)
    grid_window: int | None = None  # its tile side in pixels (None: the whole crop)
    ema_decay: float = 0.0  # export an exponential moving average of the generator's
    # weights, with this decay per step, instead of the last step's (0: the paper's last step)
    # --- engine
    seed: int = 0
    device: str = "auto"  # 'auto': cuda if available
    amp: str = "auto"  # 'bf16', 'fp16' (with a gradient scaler), 'off', or 'auto':
    # bf16 where the hardware has bf16 math, fp16 on older GPUs (T4, V100), else fp32
    channels_last: bool = True
    compile: bool = False  # torch.compile: faster steps, minutes of warm-up
    workers: int = 2  # DataLoader worker processes
    log_every: int = 100
    val_every: int = 10_000
    checkpoint_every: int = 10_000
    extra: dict = field(default_factory=dict)  # free-form notes recorded with the run

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.content_loss not in ("mse", "vgg22", "vgg54"):
            raise ValueError(f"content_loss must be mse, vgg22 or vgg54, got "
                             f"{self.content_loss!r}")
        if self.decoded_images not in ("memory", "disk"):
            raise ValueError(f"decoded_images must be 'memory' or 'disk', got "
                             f"{self.decoded_images!r}")
        if self.amp not in AMP:
            raise ValueError(f"amp must be one of {AMP}, got {self.amp!r}")
        if self.crop_size % self.scale:
            raise ValueError(f"crop_size {self.crop_size} must be divisible by scale "
                             f"{self.scale}")
        if not self.grid_weight >= 0:
            raise ValueError(f"grid_weight must be >= 0, got {self.grid_weight}")
        if self.grid_window is not None and (self.grid_window < self.scale
                                             or self.grid_window % self.scale
                                             or self.crop_size % self.grid_window):
            raise ValueError(f"grid_window {self.grid_window} must be a multiple of scale "
                             f"{self.scale} that divides crop_size {self.crop_size}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be >= 0 and < 1 (0: off), got {self.ema_decay}")
        self.train_sets = tuple(self.train_sets)

    @classmethod
    def preset(cls, name, stage="srresnet", **overrides):
        """The ``paper``, ``cpu``, ``colab`` or ``quick`` configuration of a stage, with overrides.

        Fields derived from others follow the overrides: ``iterations=N`` without
        ``lr_decay_at`` keeps the learning-rate decay at the same fraction of the run.

        Args:
            name (str): one of ``PRESETS``, or an alias (``'ci'``: ``'quick'``).
            stage (str): ``'srresnet'`` or ``'srgan'``.
            **overrides: fields to change.

        Returns:
            TrainConfig

        Explained in: book/09_training_engine.ipynb
        """
        name = preset_name(name)
        srgan = stage == "srgan"
        if name == "paper":
            iterations = 200_000 if srgan else 1_000_000
            values = dict(iterations=iterations, lr_decay_at=iterations // 2 if srgan else None,
                          content_loss="vgg54" if srgan else "mse")
        elif name == "cpu":
            # 4-6 hours of a 2-core CPU (the shipped runs: 3.27 h SRResNet + 2.21 h SRGAN, shared).
            # Smaller crops give more gradient steps per hour; the network itself stays the
            # paper's, so the weights are a real SRResNet. The SRGAN stage adds the grid
            # loss, without which it draws a 4-pixel grid (book chapter 6).
            iterations = 3_000 if srgan else 22_000
            values = dict(iterations=iterations, batch_size=16, crop_size=64,
                          lr=1e-4 if srgan else 2e-4,
                          lr_decay_at=iterations // 2 if srgan else 18_000,
                          content_loss="mse", grid_weight=100.0 if srgan else 0.0,
                          workers=1, log_every=50, val_every=1000,
                          checkpoint_every=250, val_images=10, val_size=128)
        elif name == "colab":
            # Sized for one free session at a conservative 6 TFLOP/s; colab_hours() sums it.
            iterations = 50_000 if srgan else 100_000
            values = dict(iterations=iterations, lr_decay_at=iterations // 2 if srgan else None,
                          content_loss="vgg54" if srgan else "mse", train_sets=("DIV2K",),
                          decoded_images="disk", workers=2, log_every=100, val_every=5_000,
                          checkpoint_every=5_000)
        else:  # quick
            values = dict(iterations=8, batch_size=4, crop_size=32, n_blocks=2, n_channels=16,
                          d_n_blocks=4, d_fc_size=32, lr=1e-3,
                          lr_decay_at=4 if srgan else None, content_loss="mse", workers=0,
                          log_every=1, val_every=4, checkpoint_every=4, val_images=2,
                          val_size=64, train_sets=("T91",))
        if values["lr_decay_at"] and "iterations" in overrides and "lr_decay_at" not in overrides:
            # e.g. the cpu preset's decay at 18k of 22k moves to 9k of a run of 11k
            values["lr_decay_at"] = round(values["lr_decay_at"] * overrides["iterations"]
                                          / values["iterations"])
        values.update(overrides)
        return cls(stage=stage, **values)

    def to_dict(self):
        """The configuration as a JSON-ready dict (tuples become lists).

        Explained in: book/09_training_engine.ipynb
        """
        d = asdict(self)
        d["train_sets"] = list(self.train_sets)
        return d

    @classmethod
    def from_dict(cls, d):
        """Rebuild a configuration saved by ``to_dict`` (unknown keys are refused).

        Explained in: book/09_training_engine.ipynb
        """
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown configuration keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def with_defaults(cls, d):
        """A saved configuration dict, completed with today's defaults for the fields it
        lacks: a field added to ``TrainConfig`` after the run had its default in that run.
        Keys ``TrainConfig`` no longer has are kept, so that a comparison can name them.

        Explained in: book/07_evaluation.ipynb
        """
        return {**{k: v for k, v in cls().to_dict().items() if k not in d}, **d}

    def replace(self, **changes):
        """A copy with some fields changed.

        Explained in: book/09_training_engine.ipynb
        """
        return replace(self, **changes)


# How the colab preset was sized. No GPU has measured it yet (benchmarks/gpu_check.sh will):
# these are assumptions, stated so that a measurement can replace them.
# Achieved float16 FLOP/s on a T4, in 1e12: 6 is conservative (an expert reviewer's reference
# point for mixed-precision CNN training on a T4, issue 23; a tenth of its 65 TFLOP/s
# tensor-core peak), 10 the hopeful end. The preset is sized at the conservative one.
T4_TFLOPS = 6.0
T4_TFLOPS_HOPEFUL = 10.0
STEP_OVERHEAD_S = 0.010  # per step: ~1,500 small kernels (batch norm, PReLU, Adam), copies
SETUP_HOURS = 0.25  # DIV2K (3.5 GB) and VGG19 (0.55 GB) downloads, decoding 800 images
SESSION_HOURS = 3.0  # what the colab preset must fit, set-up included, at T4_TFLOPS


@functools.lru_cache(typed=True)  # typed: 0.0 and False, 1.0 and True are not one key
def _setting(value):
    """One setting as a table shows it: sets joined by +, counts with thousands commas."""
    if isinstance(value, tuple):
        return " + ".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def compare_presets(names, keys):
    """A Markdown table of presets side by side: a row per ``TrainConfig`` field in
    ``keys``, a column per preset in ``names``; a cell reads "SRResNet / SRGAN" where the
    two stages differ, and holds one value where they agree.

    Explained in: book/06_training.ipynb
    """
    rows = ["| setting | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|" + "---|" * len(names)]
    for key in keys:
        cells = []
        for name in names:
            pair = [_setting(getattr(TrainConfig.preset(name, stage), key)) for stage in STAGES]
            cells.append(pair[0] if pair[0] == pair[1] else " / ".join(pair))
        rows.append(f"| `{key}` | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _count_flops(stage, content_loss, arch, batch_size, crop_size, scale):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .losses import content_loss as make_loss
    from .models import Discriminator, Generator, SRResNet
    from .train import srgan_step, srresnet_step

    n_blocks, n_channels, d_n_blocks, d_fc_size = arch
    with torch.device("meta"):  # shapes only: nothing is computed, nothing downloaded
        net = dict(n_blocks=n_blocks, n_channels=n_channels, scaling_factor=scale)
        models = {"generator": (SRResNet if stage == "srresnet" else Generator)(**net)}
        if stage == "srgan":
            models["discriminator"] = Discriminator(n_blocks=d_n_blocks, fc_size=d_fc_size)
        optimizers = {k: torch.optim.Adam(m.parameters()) for k, m in models.items()}
        content = make_loss(content_loss, weights=None)
        lr = torch.zeros(batch_size, 3, crop_size // scale, crop_size // scale)
        hr = torch.zeros(batch_size, 3, crop_size, crop_size)
    with FlopCounterMode(display=False) as counter:
        if stage == "srresnet":
            srresnet_step(models["generator"], content, optimizers, lr, hr)
        else:
            srgan_step(models["generator"], models["discriminator"], content, optimizers, lr, hr)
    return counter.get_total_flops()


def step_flops(config):
    """FLOPs of one training step of ``config``, counted, not estimated by hand.

    ``torch.utils.flop_counter`` counts the convolutions and matrix products of one engine
    step on tensors of the "meta" device (shapes only, so it takes seconds): forward and
    backward passes of every network the step runs, VGG included. For the paper's networks
    at batch 16 and crop 96: 122 GFLOP for an SRResNet step, 692 GFLOP for an SRGAN step with
    VGG54 (G forward 41, D forwards and backward 169, G's loss through D and VGG19 to conv5_4
    on SR and HR, and G's backward).

    Args:
        config (TrainConfig): the stage, networks, content loss, batch and crop.

    Returns:
        int: floating-point operations (a multiply-add counts as two).

    Explained in: book/09_training_engine.ipynb
    """
    arch = (config.n_blocks, config.n_channels, config.d_n_blocks, config.d_fc_size)
    return _count_flops(config.stage, config.content_loss, arch, config.batch_size,
                        config.crop_size, config.scale)


def estimate_hours(config, tflops=T4_TFLOPS, overhead_s=STEP_OVERHEAD_S):
    """Hours one stage of ``config`` should take on a GPU: ``step_flops`` at ``tflops``
    achieved, plus a fixed cost per step.

    An estimate, not a measurement: the default throughput (``T4_TFLOPS``, 6 TFLOP/s, about
    a tenth of a T4's 65 TFLOP/s float16 peak: 64-channel convolutions on 24 to 96 pixel
    maps keep its tensor cores far from full, and a T4 lowers its clock at 70 W; an expert
    reviewer's reference point for mixed-precision CNN training on a T4) and the overhead
    are assumptions. Quote the result as a range: ``T4_TFLOPS_HOPEFUL`` (10) gives the
    short end.

    Args:
        config (TrainConfig): one stage.
        tflops (float): achieved throughput, in 1e12 FLOP/s.
        overhead_s (float): seconds per step that are not convolutions (small kernels,
            optimiser, data).

    Returns:
        float: hours.

    Explained in: book/06_training.ipynb
    """
    seconds_per_step = step_flops(config) / (tflops * 1e12) + overhead_s
    return config.iterations * seconds_per_step / 3600


def colab_hours(tflops=T4_TFLOPS, overhead_s=STEP_OVERHEAD_S):
    """The ``colab`` preset's wall time on a T4: set-up, SRResNet, then SRGAN.

    Returns:
        dict[str, float]: hours of ``setup``, ``srresnet``, ``srgan`` and their ``total``.

    Explained in: book/06_training.ipynb
    """
    hours = {"setup": SETUP_HOURS}
    for stage in STAGES:
        hours[stage] = estimate_hours(TrainConfig.preset("colab", stage), tflops, overhead_s)
    hours["total"] = sum(hours.values())
    return hours
