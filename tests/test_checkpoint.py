"""Checkpoints and atomic writes: RNG states round-trip, torn writes never replace a file."""

import random

import numpy as np
import pytest
import torch

from srgan_lib.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from srgan_lib.errors import SRGANError
from srgan_lib.files import atomic_write


def draw():
    return (random.random(), float(np.random.rand()), float(np.random.randn()),
            float(torch.rand(1)))


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    np.random.randn()  # leave a cached Gaussian in numpy's state
    save_checkpoint({"rng": rng_state()}, tmp_path / "c.pt")
    expected = draw()
    draw()
    set_rng_state(load_checkpoint(tmp_path / "c.pt")["rng"])  # weights_only=True
    assert draw() == expected


def test_checkpoint_keeps_tensors_and_refuses_foreign_files(tmp_path):
    save_checkpoint({"step": 7, "w": torch.arange(3)}, tmp_path / "c.pt")
    state = load_checkpoint(tmp_path / "c.pt")
    assert state["step"] == 7 and torch.equal(state["w"], torch.arange(3))
    torch.save({"model": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(SRGANError, match="not a checkpoint of this library"):
        load_checkpoint(tmp_path / "other.pt")


def test_checkpoint_with_code_inside_is_refused(tmp_path):
    # A pickle that would build an arbitrary object: weights_only=True refuses to run it.
    torch.save({"format": "srgan_lib-checkpoint/1", "obj": SRGANError("x")},
               tmp_path / "evil.pt")
    with pytest.raises(SRGANError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint({"step": 1}, path)
    with pytest.raises(RuntimeError), atomic_write(path) as f:
        f.write(b"half a checkpoint")
        raise RuntimeError("killed")
    assert load_checkpoint(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_atomic_write_gives_normal_permissions(tmp_path):
    with atomic_write(tmp_path / "x.bin") as f:
        f.write(b"1")
    assert (tmp_path / "x.bin").read_bytes() == b"1"
    assert (tmp_path / "x.bin").stat().st_mode & 0o044  # readable by others (umask 022)


# --- a mirror folder (Google Drive in Colab) ---------------------------------------------

def test_mirror_keeps_the_last_two_copies_under_new_names(tmp_path):
    from srgan_lib.checkpoint import mirror_checkpoint, mirror_copies

    local, drive = tmp_path / "run" / "checkpoint.pt", tmp_path / "drive"
    for step in (100, 200, 300):
        save_checkpoint({"step": step}, local)
        mirror_checkpoint(local, drive, step)
    names = sorted(p.name for p in drive.iterdir())
    assert names == ["checkpoint-000000200.pt", "checkpoint-000000300.pt"]
    assert [load_checkpoint(p)["step"] for p in mirror_copies(drive)] == [300, 200]
    assert local.stat().st_nlink == 1  # copies, not hard links (Drive refuses links)


def test_restore_takes_the_newest_copy_that_reads(tmp_path):
    from srgan_lib.checkpoint import mirror_checkpoint, restore_from_mirror

    local, drive = tmp_path / "run" / "checkpoint.pt", tmp_path / "drive"
    for step in (100, 200):
        save_checkpoint({"step": step}, local)
        mirror_checkpoint(local, drive, step)
    newest = drive / "checkpoint-000000200.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # a sync cut short
    local.unlink()
    assert restore_from_mirror(drive, local) == drive / "checkpoint-000000100.pt"
    assert load_checkpoint(local)["step"] == 100
    assert restore_from_mirror(tmp_path / "empty", tmp_path / "x.pt") is None
