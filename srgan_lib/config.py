"""One training configuration, with presets chosen by one switch.

``TrainConfig`` holds every knob of both stages; ``TrainConfig.preset(name, stage)`` gives
the three configurations the project uses:

* ``paper`` - the reference recipe (Ledig et al. Section 3.2; sgrvinod's tutorial): batch 16,
  HR crops of 96, Adam with lr 1e-4; SRResNet 1e6 iterations; SRGAN 2e5 iterations with the
  learning rate divided by 10 halfway, beta = 1e-3, VGG54 content loss.
* ``cpu``   - the paper's architecture trained as well as a 2-core CPU can in a few hours:
  SRResNet 22k iterations on 64-pixel crops at lr 2e-4, divided by 10 at 18k; SRGAN 3k
  iterations at lr 1e-4, divided by 10 halfway. The shipped weights took 3.27 h and 0.69 h
  of a 2-core CPU shared with other work (``data/MODEL_CARD.md``).
* ``ci``    - a tiny network and a few steps: seconds, to prove the machinery works.

Model selection uses a validation split held out of the *training* sets, never the
benchmark sets.
"""

from dataclasses import asdict, dataclass, field, fields, replace

__all__ = ["STAGES", "PRESETS", "AMP", "TrainConfig"]

STAGES = ("srresnet", "srgan")
PRESETS = ("paper", "cpu", "ci")
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
        if self.amp not in AMP:
            raise ValueError(f"amp must be one of {AMP}, got {self.amp!r}")
        if self.crop_size % self.scale:
            raise ValueError(f"crop_size {self.crop_size} must be divisible by scale "
                             f"{self.scale}")
        self.train_sets = tuple(self.train_sets)

    @classmethod
    def preset(cls, name, stage="srresnet", **overrides):
        """The ``paper``, ``cpu`` or ``ci`` configuration of a stage, with overrides.

        Fields derived from others follow the overrides: ``iterations=N`` without
        ``lr_decay_at`` keeps the learning-rate decay at the same fraction of the run.

        Args:
            name (str): one of ``PRESETS``.
            stage (str): ``'srresnet'`` or ``'srgan'``.
            **overrides: fields to change.

        Returns:
            TrainConfig

        Explained in: book/09_training_engine.ipynb
        """
        if name not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, got {name!r}")
        srgan = stage == "srgan"
        if name == "paper":
            iterations = 200_000 if srgan else 1_000_000
            values = dict(iterations=iterations, lr_decay_at=iterations // 2 if srgan else None,
                          content_loss="vgg54" if srgan else "mse")
        elif name == "cpu":
            # About 4 hours of a 2-core CPU (the shipped runs: 3.27 h SRResNet + 0.69 h SRGAN).
            # Smaller crops give more gradient steps per hour; the network itself stays the
            # paper's, so the weights are a real SRResNet.
            iterations = 3_000 if srgan else 22_000
            values = dict(iterations=iterations, batch_size=16, crop_size=64,
                          lr=1e-4 if srgan else 2e-4,
                          lr_decay_at=iterations // 2 if srgan else 18_000,
                          content_loss="mse", workers=1, log_every=50, val_every=1000,
                          checkpoint_every=250, val_images=10, val_size=128)
        else:  # ci
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

    def replace(self, **changes):
        """A copy with some fields changed.

        Explained in: book/09_training_engine.ipynb
        """
        return replace(self, **changes)
