"""Several processes (gloo on the CPU): the same batch statistics and no shared samples.

Two processes with batches of 4 must train like one process with the batch of 8 that they
share: batch norm normalises over all 8 crops (SyncBatchNorm), and the ranks draw different
samples. Each stage runs one step in two processes (``torch.multiprocessing.spawn``) and in
one, and the running statistics of every batch norm are compared.
"""

import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from srgan_lib.checkpoint import load_checkpoint
from srgan_lib.config import TrainConfig
from srgan_lib.models import SRResNet
from srgan_lib.train import CropStream, train
from srgan_lib.weights import save_weights

BATCH = 4  # per process; the single-process reference takes 2 * BATCH
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank, world, ports, configs, outs, init, samples):
    """One process of the run: each stage in turn, recording the samples it draws."""
    drawn, original = [], CropStream.__getitem__

    def recorded(self, n):
        drawn.append(n)
        return original(self, n)

    CropStream.__getitem__ = recorded  # this process only (spawned: its own module)
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1")
    for port, config, out in zip(ports, configs, outs, strict=True):
        os.environ["MASTER_PORT"] = str(port)
        train(TrainConfig.from_dict(config), out, init=init, progress=False)
    Path(samples).with_suffix(f".{rank}.json").write_text(json.dumps(drawn))


def _config(stage, batch_size):
    # SRGAN's discriminator sees a third batch after its own Adam step; with lr 0 that step
    # leaves it as it was. (Adam's first step moves every weight by about lr, whatever the
    # size of its gradient: a conv bias before batch norm, whose gradient is rounding
    # noise, would move by +-lr at random, and the running means with it.)
    return TrainConfig.preset("ci", stage, iterations=1, batch_size=batch_size, amp="off",
                              device="cpu", lr_decay_at=None,
                              lr=0.0 if stage == "srgan" else 1e-3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both stages, one step each, in two processes and in one."""
    tmp = tmp_path_factory.mktemp("ddp")
    torch.manual_seed(5)
    config = _config("srresnet", BATCH)
    init = save_weights(SRResNet(n_blocks=config.n_blocks, n_channels=config.n_channels),
                        tmp / "init.safetensors")
    stages = ("srresnet", "srgan")
    with pytest.MonkeyPatch.context() as patch:
        # conftest's autouse fixture sets the data folder per test, after this fixture
        patch.setenv("SRGAN_DATA", os.environ.get("SRGAN_DATA", str(SHARED_DATASETS)))
        mp.spawn(_rank, nprocs=2, join=True,
                 args=(2, [_free_port() for _ in stages],
                       [_config(s, BATCH).to_dict() for s in stages],
                       [str(tmp / "two" / s) for s in stages], str(init),
                       str(tmp / "samples")))
        for s in stages:
            train(_config(s, 2 * BATCH), tmp / "one" / s, init=init, progress=False)
    return tmp


@pytest.mark.parametrize("stage", ["srresnet", "srgan"])
def test_two_processes_keep_the_batch_statistics_of_the_whole_batch(runs, stage):
    two = load_checkpoint(runs / "two" / stage / "checkpoint.pt")["models"]
    one = load_checkpoint(runs / "one" / stage / "checkpoint.pt")["models"]
    compared = 0
    for net in one:  # the generator, and in stage 2 the discriminator
        for key, value in one[net].items():
            if key.endswith(("running_mean", "running_var")):
                torch.testing.assert_close(two[net][key], value, rtol=1e-4, atol=1e-6,
                                           msg=f"{net}.{key}")
                compared += 1
            if key.endswith("num_batches_tracked"):
                assert torch.equal(two[net][key], value), f"{net}.{key}"
    assert compared >= 2 * (4 if stage == "srresnet" else 4 + 3)  # ci: G 5 BN, D 3 BN


def test_ranks_draw_different_samples_and_together_the_whole_batch(runs):
    rank0 = json.loads((runs / "samples.0.json").read_text())
    rank1 = json.loads((runs / "samples.1.json").read_text())
    assert len(rank0) == len(rank1) == 2 * BATCH  # one step of each stage
    for stage in range(2):  # each stage's step: samples 0 .. 2 * BATCH - 1, each once
        step = slice(stage * BATCH, (stage + 1) * BATCH)
        mine = rank0[step], rank1[step]
        assert not set(mine[0]) & set(mine[1])
        assert sorted(mine[0] + mine[1]) == list(range(2 * BATCH))


def _bn_rank(rank, world, port, out):
    """Rank ``rank``'s share of a batch through the CPU SyncBatchNorm, forward and backward."""
    import torch.distributed as dist

    from srgan_lib.train import _GlooSyncBatchNorm

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    torch.manual_seed(0)  # every rank builds the same batch and keeps its share
    x, w = torch.randn(8, 3, 5, 5), torch.randn(8, 3, 5, 5)
    share = slice(rank * 4, (rank + 1) * 4)
    bn = _GlooSyncBatchNorm(3)
    x = x[share].clone().requires_grad_(True)
    y = bn(x)
    (y * w[share]).sum().backward()
    torch.save({"y": y.detach(), "x_grad": x.grad, "weight_grad": bn.weight.grad,
                "bias_grad": bn.bias.grad, "running_mean": bn.running_mean,
                "running_var": bn.running_var}, f"{out}.{rank}.pt")
    dist.destroy_process_group()


def test_cpu_sync_batch_norm_is_batch_norm_of_the_whole_batch(tmp_path):
    mp.spawn(_bn_rank, nprocs=2, join=True, args=(2, _free_port(), str(tmp_path / "bn")))
    ranks = [torch.load(tmp_path / f"bn.{r}.pt", weights_only=True) for r in range(2)]
    torch.manual_seed(0)  # the same batch, through plain batch norm in one process
    x, w = torch.randn(8, 3, 5, 5, requires_grad=True), torch.randn(8, 3, 5, 5)
    bn = torch.nn.BatchNorm2d(3)
    y = bn(x)
    (y * w).sum().backward()
    close = dict(rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.cat([r["y"] for r in ranks]), y.detach(), **close)
    torch.testing.assert_close(torch.cat([r["x_grad"] for r in ranks]), x.grad, **close)
    # Each rank's parameter gradient is its share's; DDP adds them (and divides by 2).
    torch.testing.assert_close(ranks[0]["weight_grad"] + ranks[1]["weight_grad"],
                               bn.weight.grad, **close)
    torch.testing.assert_close(ranks[0]["bias_grad"] + ranks[1]["bias_grad"], bn.bias.grad,
                               **close)
    for r in ranks:
        torch.testing.assert_close(r["running_mean"], bn.running_mean, **close)
        torch.testing.assert_close(r["running_var"], bn.running_var, **close)
