"""What a `colab` run costs a free Colab account: Drive space for its mirror copies."""

import torch

from srgan_lib.checkpoint import checkpoint_bytes, mirror_writes, save_checkpoint
from srgan_lib.config import TrainConfig
from srgan_lib.models import Discriminator, Generator

FREE_DRIVE_BYTES = 15e9


def test_checkpoint_bytes_is_the_size_of_a_saved_checkpoint(tmp_path):
    # The paper's G and D with both Adams' moments, saved for real: the counted size is
    # the file's, to within its pickling and RNG states.
    config = TrainConfig.preset("colab", "srgan")
    torch.manual_seed(0)
    models = {"generator": Generator(), "discriminator": Discriminator()}
    optimizers = {k: torch.optim.Adam(m.parameters()) for k, m in models.items()}
    for model, optimizer in zip(models.values(), optimizers.values(), strict=True):
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()  # creates exp_avg and exp_avg_sq
    save_checkpoint({"models": {k: m.state_dict() for k, m in models.items()},
                     "optimizers": {k: o.state_dict() for k, o in optimizers.items()}},
                    tmp_path / "checkpoint.pt")
    size = (tmp_path / "checkpoint.pt").stat().st_size
    assert abs(size - checkpoint_bytes(config)) < 0.01 * size
    assert 295e6 < size < 310e6  # issue 23's "about 301 MB"


def test_a_whole_colab_run_writes_well_inside_a_free_drive_account():
    stages = [mirror_writes(TrainConfig.preset("colab", s)) for s in ("srresnet", "srgan")]
    total = sum(s["bytes"] for s in stages)
    # Every copy counts: the kept ones, and the deleted ones in Drive's trash.
    assert total < 0.25 * FREE_DRIVE_BYTES
    srgan = stages[1]
    assert srgan["copies"] == 10 and srgan["bytes"] == 10 * srgan["bytes_each"]
    small = mirror_writes(TrainConfig.preset("quick", "srresnet", iterations=9,
                                             checkpoint_every=4))
    assert small["copies"] == 3  # steps 4, 8 and the last, 9


def test_checkpoint_bytes_counts_the_moving_average(tmp_path):
    # The average is one more copy of the generator's weights and batch-norm statistics.
    from srgan_lib.train import moving_average

    config = TrainConfig.preset("colab", "srgan")
    generator = Generator()
    average = moving_average(generator, 0.999)
    save_checkpoint({"ema": average.state_dict()}, tmp_path / "ema.pt")
    size = (tmp_path / "ema.pt").stat().st_size
    extra = checkpoint_bytes(config.replace(ema_decay=0.999)) - checkpoint_bytes(config)
    assert 0 <= size - extra < 0.02 * size  # the file adds names and headers of ~200 tensors
