"""Training: stage 1 (SRResNet, pixel MSE) and stage 2 (SRGAN), on a CPU, a GPU or many.

The paper trains in two stages (Ledig et al. Section 3.2): SRResNet with the MSE content
loss, then SRGAN with the generator initialised from that SRResNet "to avoid undesired
local optima". Both stages run through ``train(config, out)``:

    python -m srgan_lib train srresnet --preset cpu --out runs/srresnet
    python -m srgan_lib train srgan --preset cpu --out runs/srgan \\
        --init runs/srresnet/srresnet.safetensors
    python -m srgan_lib train srresnet --preset cpu --out runs/srresnet --resume
    torchrun --standalone --nproc_per_node=4 -m srgan_lib train srresnet --preset paper --out runs/p

What a run writes into its output folder (only rank 0 writes):

* ``checkpoint.pt``    - everything needed to resume exactly (see ``checkpoint.py``);
* ``log.jsonl``        - one JSON object per logged step: losses, lr, images/s, wall time,
                         and the validation PSNR when it is measured;
* ``<stage>.safetensors`` - the final weights (the generator only, for SRGAN), with the
                         configuration and content loss in their metadata: the last
                         step's, or their moving average where ``ema_decay`` is set.

Why it is exact on resume: sample ``n`` of a run takes its crop position from a generator
seeded with ``(seed, n)`` and its image from a permutation seeded with its batch's number
(distinct images within a batch, as in the paper), so the data of step ``s`` does not
depend on what ran before; the checkpoint restores models, optimisers, schedulers and
every RNG.

Why it is fast: training images are decoded once and kept in memory, or memory-mapped from
disk where they would not fit (``TrainDataset``; the ``colab`` preset's DIV2K);
mixed precision is on by default wherever the hardware computes faster in 16 bits: bf16
autocast on GPUs of compute capability 8 and more and on CPUs with AVX-512 BF16 (there,
with channels_last, it about halves the step time, with the same loss curve and validation
PSNR as fp32 to 0.03 dB in our check), float16 autocast with a gradient scaler on older
GPUs with tensor cores (Colab's T4, V100), whose scale is saved in the checkpoint;
channels_last is on by default; ``torch.compile`` is opt-in because its warm-up costs
minutes. Under ``torchrun`` each process trains on its own shard of samples with
DistributedDataParallel (NCCL on GPUs, gloo on CPUs), and batch norm is synchronised across
processes (SyncBatchNorm), so N processes of B crops train like one process with a batch of
N * B crops.

The update math itself (what one step computes) lives in ``updates.py``; this module runs it.
"""

import contextlib
import copy
import functools
import hashlib
import json
import math
import os
import platform
import random
import time
from collections import Counter
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from .checkpoint import (load_checkpoint, mirror_checkpoint, mirror_copies, restore_from_mirror,
                         rng_state, save_checkpoint, set_rng_state)
from .data import TrainDataset
from .errors import SRGANError
from .files import atomic_copy, atomic_write
from .images import crop_to_multiple, downscale, load_image
from .losses import content_loss
from .metrics import psnr
from .models import Discriminator, Generator, SRResNet
from .sources import data_dir, find_dataset, list_images
from .updates import NO_SCALING, discriminator_update, generator_update, srresnet_update
from .upscale import super_resolve
from .weights import load_weights, save_weights, unwrap

__all__ = ["amp_dtype", "split_validation", "CropStream", "StepBatches", "moving_average",
           "srresnet_step",
           "srgan_step", "train", "train_srresnet", "train_srgan", "read_log", "hardware"]

# Fields that may change when a run is resumed: they do not change what is computed.
_RESUMABLE = {"iterations", "workers", "device", "log_every", "val_every",
              "checkpoint_every", "extra", "compile", "decoded_images"}


def split_validation(config):
    """The training files and the validation files held out of the same sets.

    The split is a seeded shuffle of the file list, so it is the same on every machine
    and in every process; the benchmark sets are never involved.

    Returns:
        tuple[list[Path], list[Path]]: ``(train_files, val_files)``.

    Explained in: book/09_training_engine.ipynb
    """
    files = [f for name in config.train_sets for f in list_images(find_dataset(name))]
    shuffled = random.Random(config.seed).sample(files, len(files))
    val = sorted(shuffled[:config.val_images])
    return [f for f in files if f not in set(val)], val


class CropStream(Dataset):
    """Sample ``n`` of a run: an image chosen without replacement within its batch, and a
    crop drawn from a generator seeded by ``n``.

    Samples ``b * batch_size`` to ``(b + 1) * batch_size - 1`` form batch ``b`` (what
    ``StepBatches`` hands one process for one step). Their images are the first
    ``batch_size`` entries of a permutation of the images seeded by ``b``: distinct images,
    as in the paper ("16 random 96x96 sub images of distinct training images"). A batch
    larger than the image count takes one permutation after another, each seeded by ``b``
    and its place in the batch, so that no image appears more than ``ceil(batch_size /
    images)`` times. Both the image and the crop depend on ``n`` alone: a resumed or
    sharded run draws the same samples.

    Explained in: book/09_training_engine.ipynb
    """

    def __init__(self, dataset, seed, batch_size=1):
        self.dataset, self.seed, self.batch_size = dataset, seed, batch_size

    def __len__(self):
        return 2 ** 62  # a stream: the sampler decides which samples a run takes

    @functools.lru_cache(maxsize=4)  # noqa: B019 - a batch's samples ask for one permutation
    def _permutation(self, batch, block):
        generator = torch.Generator().manual_seed((self.seed * 0x9E3779B1 + batch) * 1024 + block)
        return torch.randperm(len(self.dataset.images), generator=generator).tolist()

    def image_of(self, n):
        """The image of sample ``n``: its place in its batch's permutation."""
        batch, k = divmod(n, self.batch_size)
        block, k = divmod(k, len(self.dataset.images))
        return self._permutation(batch, block)[k]

    def __getitem__(self, n):
        """The ``(lr, hr)`` pair of sample ``n``."""
        generator = torch.Generator().manual_seed(self.seed * 0x9E3779B1 + n)
        return self.dataset.crop_pair(self.image_of(n), generator)


class StepBatches(Sampler):
    """The sample numbers of each step, from ``start`` to ``end``, for one rank.

    Step ``s`` of rank ``r`` among ``world`` takes samples
    ``((s * world + r) * batch_size + k)`` for ``k < batch_size``: every rank its own shard,
    and a resumed run continues exactly where it stopped.

    Explained in: book/09_training_engine.ipynb
    """

    def __init__(self, start, end, batch_size, rank=0, world=1):
        self.start, self.end = start, end
        self.batch_size, self.rank, self.world = batch_size, rank, world

    def __len__(self):
        return max(0, self.end - self.start)

    def __iter__(self):
        for step in range(self.start, self.end):
            first = (step * self.world + self.rank) * self.batch_size
            yield list(range(first, first + self.batch_size))


def _fast_bf16(device):
    """Whether bf16 autocast speeds this device up: GPUs, and CPUs with bf16 instructions.

    On a CPU without AVX-512 BF16 (or AMX), or a GPU older than Ampere (Colab's T4), bf16
    is emulated and slower than fp32.
    """
    if device.type == "cuda":  # native bf16 from Ampere (8.x) on; a T4 (7.5) only emulates it
        return torch.cuda.get_device_capability(device)[0] >= 8
    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)  # private, so guarded
    return bool(check and check())


def amp_dtype(amp, device):
    """The autocast dtype of a run: ``torch.bfloat16``, ``torch.float16`` or ``None`` (fp32).

    ``auto`` picks what the hardware computes fastest: bf16 where it is native (see
    ``_fast_bf16``), float16 on GPUs with tensor cores but no bf16 (compute capability 7:
    V100, Colab's T4), float32 elsewhere. ``bf16`` and ``fp16`` force a dtype on any device
    (float16 on a CPU is slow, but runs the same code path, which is how it is tested).

    Explained in: book/09_training_engine.ipynb
    """
    device = torch.device(device)
    if amp == "auto":
        if _fast_bf16(device):
            return torch.bfloat16
        tensor_cores = device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 7
        return torch.float16 if tensor_cores else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


class _Context:
    """Where this process runs: device, rank, world size, and the autocast to use."""

    def __init__(self, config):
        self.distributed = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        want_cuda = config.device == "cuda" or (config.device == "auto"
                                                and torch.cuda.is_available())
        if self.distributed:
            dist.init_process_group("nccl" if want_cuda else "gloo")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
            local = int(os.environ.get("LOCAL_RANK", 0))
            self.device = torch.device(f"cuda:{local}" if want_cuda else "cpu")
            if want_cuda:
                torch.cuda.set_device(self.device)
        else:
            self.rank, self.world = 0, 1
            self.device = torch.device("cuda" if want_cuda else
                                       (config.device if config.device != "auto" else "cpu"))
        self.master = self.rank == 0  # the one process that logs and writes files
        self.dtype = amp_dtype(config.amp, self.device)
        self.memory_format = (torch.channels_last if config.channels_last
                              else torch.contiguous_format)

    def scalers(self, names):
        """One gradient scaler per optimiser, switched on under float16 only.

        float16 has 5 exponent bits: gradients below 6e-8 round to zero. The scaler
        multiplies the loss (by 65536 at first) before the backward pass, divides the
        gradients back before the step, skips a step whose gradients overflowed and halves
        its scale then. One scaler per optimiser rather than one shared: G's and D's
        gradients have their own ranges, an overflow in D's backward then skips D's step
        only, and each update stays self-contained (scale, step, update), as in
        ``updates.py``. bf16 has float32's exponent range and needs no scaling.
        """
        on = self.dtype == torch.float16
        return {k: torch.amp.GradScaler(self.device.type, enabled=on) for k in names}

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def barrier(self):
        if self.distributed:
            dist.barrier()

    def close(self):
        if self.distributed:
            dist.destroy_process_group()


def _validate(generator, val_files, config, device):
    """Mean PSNR (paper protocol) of ``generator`` on the held-out validation images.

    It measures a copy: whatever inference does to a model (eval mode, another memory
    layout, inference-mode tensors) must not reach the one being trained.
    """
    generator = copy.deepcopy(generator)
    scores = []
    for f in val_files:
        hr = load_image(f)
        if config.val_size:  # a centre crop keeps validation cheap on a CPU
            w, h = hr.size
            s = min(config.val_size, w, h)
            hr = hr.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        hr = crop_to_multiple(hr, config.scale)
        scores.append(psnr(super_resolve(generator, downscale(hr, config.scale), device), hr,
                           border=config.scale))
    return sum(scores) / len(scores)


def read_log(path):
    """The records of a ``log.jsonl`` file, as a list of dicts.

    Every record ends with a newline; a last line without one that does not parse was torn
    by a kill in the middle of its write, and is left out.

    Explained in: book/06_training.ipynb
    """
    lines = Path(path).read_text().split("\n")
    records = [json.loads(line) for line in lines[:-1] if line.strip()]
    if lines[-1].strip():
        with contextlib.suppress(json.JSONDecodeError):
            records.append(json.loads(lines[-1]))
    return records


def _truncate_log(path, step):
    """Drop log records after ``step`` (a killed run may have logged past its checkpoint)."""
    if not path.exists():
        return
    keep = [r for r in read_log(path) if r.get("step", 0) <= step]
    with atomic_write(path) as f:
        f.write("".join(json.dumps(r) + "\n" for r in keep).encode())


def _check_resumable(saved, config, path, step):
    current = config.to_dict()
    saved = type(config).with_defaults(saved)  # a field added since had its default
    resumable = set(_RESUMABLE)
    # The lr decay step may move while neither the old nor the new step has been reached:
    # until then both schedules computed exactly the same thing.
    if all(d is None or d > step for d in (saved.get("lr_decay_at"), current["lr_decay_at"])):
        resumable.add("lr_decay_at")
    changed = sorted(k for k in current
                     if k not in resumable and saved.get(k) != current[k])
    if changed:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
        hint = (f" (--lr-decay-at {saved.get('lr_decay_at')} keeps the saved decay step)"
                if "lr_decay_at" in changed else "")
        raise SRGANError(f"{path}: the checkpoint was made with another configuration "
                         f"({details}); resume with the same settings{hint} or use a new --out")


def moving_average(generator, decay):
    """A moving average of ``generator``'s weights (``None`` where ``decay`` is 0).

    After every step the average moves a fraction ``1 - decay`` of the way to the weights
    (its first update copies them), so with 0.999 it is a weighted mean over about the
    last 1000 steps. Why: a GAN's generator swings back and forth as the discriminator
    moves; the average keeps what the recent weights agree on and smooths away what each
    one adds in passing. Real-ESRGAN (Wang et al. 2021) exports such an average with decay
    0.999. Batch-norm statistics are averaged with the weights (``use_buffers``), so the
    averaged network normalises with statistics that match its own weights.

    Args:
        generator (nn.Module): the network being trained (not a DDP wrapper).
        decay (float): in [0, 1); 0 switches the average off.

    Returns:
        torch.optim.swa_utils.AveragedModel | None: call ``update_parameters(generator)``
        after each step; the averaged network is its ``.module``.

    Explained in: book/06_training.ipynb
    """
    if not decay:
        return None
    return AveragedModel(generator, multi_avg_fn=get_ema_multi_avg_fn(decay),
                         use_buffers=True)  # batch-norm statistics averaged too


def _build(config, ctx, init):
    """Models, optimisers and schedulers of a stage, in the order they are checkpointed."""
    arch = dict(n_channels=config.n_channels, n_blocks=config.n_blocks,
                scaling_factor=config.scale)
    if config.stage == "srresnet":
        models = {"generator": SRResNet(**arch)}
    else:
        generator = Generator(**arch)
        if init is not None:  # the paper's initialisation from the trained SRResNet
            source = load_weights(init, expect=(SRResNet, Generator),
                                  scaling_factor=config.scale)
            generator.initialize_with_srresnet(getattr(source, "net", source))
        models = {"generator": generator,
                  "discriminator": Discriminator(n_blocks=config.d_n_blocks,
                                                 fc_size=config.d_fc_size)}
    if ctx.world > 1:  # batch norm over the whole batch, not each process's share
        models = {k: _sync_batch_norm(m, ctx.device) for k, m in models.items()}
    for m in models.values():
        m.to(ctx.device, memory_format=ctx.memory_format).train()
    optimizers = {k: torch.optim.Adam(m.parameters(), lr=config.lr) for k, m in models.items()}
    milestones = [config.lr_decay_at] if config.lr_decay_at else []
    schedulers = {k: torch.optim.lr_scheduler.MultiStepLR(o, milestones, gamma=0.1)
                  for k, o in optimizers.items()}
    return models, optimizers, schedulers


class _SumOverProcesses(torch.autograd.Function):
    """``all_reduce`` (sum over processes) whose backward pass is a sum over processes too."""

    @staticmethod
    def forward(ctx, tensor):
        tensor = tensor.clone()
        dist.all_reduce(tensor)
        return tensor

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class _GlooSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm with the statistics of the whole batch of all processes, on CPUs.

    ``torch.nn.SyncBatchNorm`` runs on GPUs only. Here each channel's sum and sum of
    squared deviations are summed over processes, so every process normalises with
    the mean and variance one process would compute on the whole batch, and the running
    statistics follow the whole batch too. Outside training, plain batch norm.
    """

    def forward(self, x):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        xf = x.float()  # statistics in fp32, also under bf16 autocast
        n = torch.tensor(float(xf.numel() // xf.shape[1]))
        dist.all_reduce(n)  # values in the whole batch, per channel
        mean = _SumOverProcesses.apply(xf.sum((0, 2, 3))) / n
        centred = xf - mean.view(1, -1, 1, 1)
        var = _SumOverProcesses.apply((centred * centred).sum((0, 2, 3))) / n
        with torch.no_grad():  # as F.batch_norm: the unbiased variance in the running one
            self.num_batches_tracked += 1
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
        y = centred * torch.rsqrt(var + self.eps).view(1, -1, 1, 1)
        return (y * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)).to(x.dtype)


def _sync_batch_norm(module, device):
    """``module`` with every BatchNorm2d replaced by one that syncs across processes.

    Under DDP each process sees ``batch_size`` crops; without this its batch norm would
    normalise over that share alone instead of over the whole batch of all processes.
    """
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            sync = _GlooSyncBatchNorm(child.num_features, child.eps, child.momentum)
            sync.load_state_dict(child.state_dict())
            setattr(module, name, sync)
        else:
            _sync_batch_norm(child, device)
    return module


def _wrap(model, ctx, config):
    """The module the training step calls: DDP-wrapped and/or compiled where asked."""
    if ctx.distributed:
        model = DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    if config.compile:
        model = torch.compile(model)
    return model


def train(config, out, resume=False, init=None, progress=True, mirror=None):
    """Train one stage, writing checkpoints, a JSON-lines log and the final weights.

    Args:
        config (TrainConfig): what to train and how (``TrainConfig.preset(...)``).
        out (str | Path): the run's folder.
        resume (bool): continue from ``out/checkpoint.pt``.
        init (str | Path | None): SRGAN only: the SRResNet (or generator) weights the
            generator starts from, as in the paper.
        progress (bool): show a progress bar.
        mirror (str | Path | None): a second folder (Google Drive in Colab) that receives a
            copy of every checkpoint under a new name (the last two are kept), of the log,
            and of the final weights; with ``resume`` and no local checkpoint, the run
            continues from the newest complete copy there.

    Returns:
        Path: the exported weights, ``out/<stage>.safetensors``.

    Raises:
        SRGANError: a checkpoint that exists without ``resume``, is missing, corrupt, or of
            another configuration; SRGAN without ``init``; data that cannot be found.

    Explained in: book/09_training_engine.ipynb
    """
    out = Path(out)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.jsonl"
    if config.stage == "srgan" and init is None and not resume:
        raise SRGANError("SRGAN starts from a trained SRResNet (paper, Section 3.2): pass "
                         "--init PATH.safetensors (the output of `train srresnet`)")
    if ckpt_path.exists() and not resume:
        raise SRGANError(f"{ckpt_path}: a run is already there; pass --resume to continue it "
                         "or choose another --out")
    if mirror is not None:
        _restore_or_check_mirror(Path(mirror), ckpt_path, log_path, resume)
    saved = load_checkpoint(ckpt_path) if resume else None
    if saved is not None:
        _check_resumable(saved["config"], config, ckpt_path, saved["step"])

    ctx = _Context(config)
    try:
        return _run(config, ctx, out, ckpt_path, log_path, saved, init, progress, mirror)
    finally:
        ctx.close()


def _restore_or_check_mirror(mirror, ckpt_path, log_path, resume):
    """Resume from the mirror where the local run is gone; never mix two runs in one."""
    if not resume:
        if mirror_copies(mirror):
            raise SRGANError(f"{mirror}: the mirror folder holds checkpoints of a run already; "
                             "pass --resume to continue it or choose another --mirror")
        return
    restored = not ckpt_path.exists() and restore_from_mirror(mirror, ckpt_path) is not None
    if restored and (mirror / log_path.name).is_file() and not log_path.exists():
        atomic_copy(mirror / log_path.name, log_path)


def _run(config, ctx, out, ckpt_path, log_path, saved, init, progress, mirror):
    torch.manual_seed(config.seed + ctx.rank)
    random.seed(config.seed + ctx.rank)
    _, val_files = split_validation(config)
    cache = data_dir() / "decoded" if config.decoded_images == "disk" else None
    if cache is not None and not ctx.master:
        ctx.barrier()  # rank 0 decodes into the cache first; the others then map its files
    dataset = TrainDataset(config.train_sets, crop_size=config.crop_size, scale=config.scale,
                           exclude=val_files, cache=cache)
    if cache is not None and ctx.master:
        ctx.barrier()
    models, optimizers, schedulers = _build(config, ctx, None if saved else init)
    scalers = ctx.scalers(models)
    average = moving_average(models["generator"], config.ema_decay)
    start, best, wall = 0, -math.inf, 0.0
    if saved is not None:
        for k in models:
            models[k].load_state_dict(saved["models"][k])
            optimizers[k].load_state_dict(saved["optimizers"][k])
            schedulers[k].load_state_dict(saved["schedulers"][k])
            scaler_state = saved.get("scalers", {}).get(k)  # none before float16 existed
            if scalers[k].is_enabled() and scaler_state:
                scalers[k].load_state_dict(scaler_state)
            # The saved state carries the old milestones; the config's (checked above) win.
            schedulers[k].milestones = Counter([config.lr_decay_at] if config.lr_decay_at else [])
        if average is not None:
            average.load_state_dict(saved["ema"])
        start, best, wall = saved["step"], saved["best_psnr"], saved["wall_time"]
        set_rng_state(saved["rng"])
        if ctx.master:
            _truncate_log(log_path, start)
    if ctx.master:
        out.mkdir(parents=True, exist_ok=True)

    generator = _wrap(models["generator"], ctx, config)
    discriminator = (_wrap(models["discriminator"], ctx, config)
                     if "discriminator" in models else None)
    content = content_loss(config.content_loss, rescale=config.vgg_rescale,
                           grid_weight=config.grid_weight, period=config.scale,
                           grid_window=config.grid_window).to(ctx.device)
    # Distinct images within the *global* batch: step s of every rank together is batch s.
    loader = DataLoader(CropStream(dataset, config.seed, config.batch_size * ctx.world),
                        batch_sampler=StepBatches(start, config.iterations, config.batch_size,
                                                  ctx.rank, ctx.world),
                        num_workers=config.workers, pin_memory=ctx.device.type == "cuda",
                        persistent_workers=False,
                        # Its own generator: the seed it draws for its workers must not
                        # move the global one, whose state the checkpoint restores.
                        generator=torch.Generator().manual_seed(config.seed))

    def exported():
        return average.module if average is not None else unwrap(models["generator"])

    def to_device(x):
        return x.to(ctx.device, non_blocking=True).contiguous(memory_format=ctx.memory_format)

    def save(step):
        state = {"config": config.to_dict(), "step": step, "best_psnr": best,
                 "wall_time": wall + time.perf_counter() - t0, "rng": rng_state(),
                 "models": {k: unwrap(m).state_dict() for k, m in models.items()},
                 "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                 "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
                 "scalers": {k: s.state_dict() for k, s in scalers.items()}}
        if average is not None:
            state["ema"] = average.state_dict()
        save_checkpoint(state, ckpt_path)
        if mirror is not None:  # after the local write: a copy under a new name
            mirror_checkpoint(ckpt_path, mirror, step, extra=[log_path])

    # A fresh run starts a fresh log; a resumed one appends to its truncated log.
    log = open(log_path, "a" if saved else "w") if ctx.master else None  # noqa: SIM115
    # Pass `disable` only to hide the bar: otherwise TQDM_DISABLE=1 (the book's CI) decides.
    quiet = {} if progress and ctx.master else {"disable": True}
    bar = tqdm(total=config.iterations, initial=start, desc=config.stage, unit="step",
               dynamic_ncols=True, **quiet)
    t0, images, t_window = time.perf_counter(), 0, time.perf_counter()
    step, final_psnr = start, None
    try:
        for lr_imgs, hr_imgs in loader:
            lr_imgs, hr_imgs = to_device(lr_imgs), to_device(hr_imgs)
            if discriminator is None:
                record = srresnet_step(generator, content, optimizers, lr_imgs, hr_imgs, ctx,
                                       scalers)
            else:
                record = srgan_step(generator, discriminator, content, optimizers, lr_imgs,
                                     hr_imgs, ctx, config.beta, scalers)
            lr = optimizers["generator"].param_groups[0]["lr"]  # the lr this step used
            for s in schedulers.values():
                s.step()
            if average is not None:
                average.update_parameters(models["generator"])
            step += 1
            images += lr_imgs.shape[0] * ctx.world
            last = step == config.iterations
            validate = bool(val_files) and (step % config.val_every == 0 or last)
            # A validation step is logged too, whether or not it is a logging step.
            if ctx.master and (step % config.log_every == 0 or last or validate):
                now = time.perf_counter()
                record = {"step": step, **{k: float(v) for k, v in record.items()},
                          "lr": lr,
                          "images_per_s": images / (now - t_window),
                          "wall_time": wall + now - t0}
                images, t_window = 0, now
                if validate:  # the weights the run exports: the average where there is one
                    record["val_psnr"] = _validate(exported(), val_files, config, ctx.device)
                    best = max(best, record["val_psnr"])
                    final_psnr = record["val_psnr"] if last else None
                log.write(json.dumps(record) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()
                                 if k in ("content", "d_loss", "val_psnr", "images_per_s")})
            bar.update(1)
            if step % config.checkpoint_every == 0 or step == config.iterations:
                if ctx.master:
                    save(step)
                ctx.barrier()
    finally:
        bar.close()
        if log is not None:
            log.close()

    final = {**models, **({"ema": average.module} if average is not None else {})}
    if ctx.distributed:
        _sync_buffers(final)
    weights = out / f"{config.stage}.safetensors"
    if ctx.master:
        # The last step's weights (or their average), not the best validation step's.
        save_weights(exported(), weights, stage=config.stage,
                     content_loss=config.content_loss, iterations=step,
                     weights_from=("the last step, not the best validation step"
                                   if average is None else
                                   f"the moving average of the weights (decay "
                                   f"{config.ema_decay:g}), not the best validation step"),
                     val_psnr=final_psnr,
                     train_sets=list(config.train_sets), config=config.to_dict(),
                     best_val_psnr=best if best > -math.inf else None,
                     device=str(ctx.device), hardware=hardware(ctx.device),
                     world_size=ctx.world,
                     wall_time_s=round(wall + time.perf_counter() - t0, 1))
        if mirror is not None:
            for path in (weights, log_path):
                atomic_copy(path, Path(mirror) / path.name)
    if ctx.distributed:
        _check_ranks_agree(final, ctx, out)
    return weights


def hardware(device):
    """A one-line description of the machine a device belongs to, for logs and model cards.

    Args:
        device (torch.device | str): ``cuda[:i]`` or ``cpu``.

    Returns:
        str: the GPU's name, or the CPU's model name and its number of logical cores.

    Explained in: book/09_training_engine.ipynb
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:  # not Linux: platform's answer stands
        pass
    return f"{name}, {os.cpu_count()} logical cores"


def srresnet_step(generator, content, optimizers, lr_imgs, hr_imgs, ctx=None, scalers=None):
    """One SRResNet step of the engine: ``srresnet_update`` under the run's autocast.

    Args:
        generator (nn.Module): SRResNet (imagenet-norm in, [-1, 1] out), maybe DDP-wrapped.
        content (nn.Module): the content loss, ``content(sr, hr)``.
        optimizers (dict): ``{"generator": optimizer}``.
        lr_imgs (Tensor): (N, 3, h, w) in imagenet-norm.
        hr_imgs (Tensor): (N, 3, h*s, w*s) in [-1, 1].
        ctx: the engine's run context (autocast); ``None`` runs in full precision.
        scalers (dict | None): ``{"generator": torch.amp.GradScaler}`` under float16;
            ``None``: no loss scaling.

    Returns:
        dict[str, Tensor]: ``content``, the loss before the step.

    Explained in: book/09_training_engine.ipynb
    """
    autocast = ctx.autocast if ctx is not None else contextlib.nullcontext
    scalers = scalers or {}
    loss = srresnet_update(generator, content, optimizers["generator"], lr_imgs, hr_imgs,
                           autocast, scalers.get("generator", NO_SCALING))
    return {"content": loss}


def srgan_step(generator, discriminator, content, optimizers, lr_imgs, hr_imgs, ctx=None,
               beta=1e-3, scalers=None):
    """One SRGAN step of the engine: the discriminator's update, then the generator's.

    Args:
        generator (nn.Module): the Generator (imagenet-norm in, [-1, 1] out), maybe
            DDP-wrapped.
        discriminator (nn.Module): the Discriminator (imagenet-norm in, logits out), maybe
            DDP-wrapped.
        content (nn.Module): the content loss, ``content(sr, hr)``.
        optimizers (dict): ``{"generator": ..., "discriminator": ...}``.
        lr_imgs (Tensor): (N, 3, h, w) in imagenet-norm.
        hr_imgs (Tensor): (N, 3, h*s, w*s) in [-1, 1].
        ctx: the engine's run context (autocast); ``None`` runs in full precision.
        beta (float): weight of the adversarial loss (the paper's 1e-3).
        scalers (dict | None): a ``torch.amp.GradScaler`` per optimiser under float16;
            ``None``: no loss scaling.

    Returns:
        dict[str, Tensor]: ``d_loss``, ``content``, ``adversarial``, ``perceptual``, and the
        discriminator's mean belief ``d_hr`` = D(HR) and ``d_sr`` = D(G(LR)) in [0, 1].

    Explained in: book/09_training_engine.ipynb
    """
    autocast = ctx.autocast if ctx is not None else contextlib.nullcontext
    scalers = scalers or {}
    with autocast():
        sr_imgs = generator(lr_imgs)  # one forward of G serves both updates
    d_loss, hr_logits, sr_logits = discriminator_update(
        discriminator, optimizers["discriminator"], hr_imgs, sr_imgs, autocast,
        scalers.get("discriminator", NO_SCALING))
    # G's update calls the plain D, not its DDP wrapper: D's parameters take no gradient.
    c_loss, a_loss, g_loss = generator_update(
        unwrap(discriminator), content, optimizers["generator"], sr_imgs, hr_imgs, beta,
        autocast, scalers.get("generator", NO_SCALING))
    return {"content": c_loss, "adversarial": a_loss, "perceptual": g_loss,
            "d_loss": d_loss, "d_hr": torch.sigmoid(hr_logits).mean(),
            "d_sr": torch.sigmoid(sr_logits).mean()}


def _sync_buffers(models):
    """Give every rank rank 0's batch-norm statistics (each rank updated its own copy in
    its last forward; DDP re-broadcasts them only at the start of the next one)."""
    for m in models.values():
        for b in unwrap(m).buffers():
            dist.broadcast(b, src=0)


def _fingerprint(models):
    """A 64-bit digest of every tensor of the models' state_dicts, as an int."""
    digest = hashlib.sha256()
    for m in models.values():
        for k, t in unwrap(m).state_dict().items():
            digest.update(k.encode())
            digest.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return int.from_bytes(digest.digest()[:8], "little", signed=True)


def _check_ranks_agree(models, ctx, out):
    """All ranks must end with identical weights; rank 0 records every rank's digest."""
    mine = torch.tensor([_fingerprint(models)], dtype=torch.int64, device=ctx.device)
    gathered = [torch.zeros_like(mine) for _ in range(ctx.world)]
    dist.all_gather(gathered, mine)
    if ctx.master:
        values = [int(g.item()) for g in gathered]
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps({"event": "ranks", "world_size": ctx.world,
                                "fingerprints": values}) + "\n")
        if len(set(values)) != 1:
            raise RuntimeError(f"ranks disagree after training: {values}")


def train_srresnet(config, out, **kwargs):
    """Stage 1: train SRResNet with the pixel MSE content loss (see ``train``).

    Explained in: book/06_training.ipynb
    """
    return train(config.replace(stage="srresnet"), out, **kwargs)


def train_srgan(config, out, init=None, **kwargs):
    """Stage 2: train SRGAN from SRResNet weights ``init`` (see ``train``).

    Explained in: book/06_training.ipynb
    """
    return train(config.replace(stage="srgan"), out, init=init, **kwargs)
