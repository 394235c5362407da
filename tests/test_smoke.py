"""The smoke switch (SRGAN_SMOKE=1): the full profile's code with tiny numbers."""

import json

import pytest

import srgan_lib as sl
import srgan_lib.sources as sources
from srgan_lib import smoke, toy
from srgan_lib.config import TrainConfig
from srgan_lib.errors import SRGANError


@pytest.fixture
def restored(monkeypatch):
    """Whatever install() replaces is put back after the test."""
    monkeypatch.setattr(TrainConfig, "preset", TrainConfig.__dict__["preset"])
    monkeypatch.setattr(toy, "train_toy", toy.train_toy)
    monkeypatch.setattr(sources, "SOURCES", dict(sources.SOURCES))
    monkeypatch.delenv("SRGAN_SMOKE_SOURCES", raising=False)


def test_setup_without_the_switch_leaves_the_presets_alone(restored, monkeypatch):
    monkeypatch.delenv("SRGAN_SMOKE", raising=False)
    sl.setup()
    cfg = TrainConfig.preset("colab", "srgan")
    assert (cfg.iterations, cfg.batch_size, cfg.crop_size) == (50_000, 16, 96)


def test_the_switch_shrinks_numbers_and_keeps_every_choice(restored, monkeypatch):
    monkeypatch.setenv("SRGAN_SMOKE", "1")
    sl.setup()  # the library reads the switch here, as every chapter calls it first
    srgan = TrainConfig.preset("colab", "srgan")
    # Numbers: two steps of 2 crops of 24 pixels, validation and a checkpoint every step,
    # the learning-rate decay still taken (at step 1).
    assert (srgan.iterations, srgan.batch_size, srgan.crop_size) == (2, 2, 24)
    assert (srgan.val_every, srgan.checkpoint_every, srgan.log_every) == (1, 1, 1)
    assert (srgan.val_images, srgan.val_size, srgan.lr_decay_at) == (2, 48, 1)
    # Choices: the colab preset's networks, losses, data and engine, untouched.
    assert (srgan.content_loss, srgan.beta, srgan.train_sets) == ("vgg54", 1e-3, ("DIV2K",))
    assert (srgan.n_blocks, srgan.n_channels, srgan.d_n_blocks) == (16, 64, 8)
    assert srgan.d_fc_size == 16  # a number too: the paper's 1024 dominates a CPU step
    assert (srgan.workers, srgan.amp, srgan.lr) == (2, "auto", 1e-4)
    assert TrainConfig.preset("colab", "srresnet").lr_decay_at is None  # none stays none
    assert TrainConfig.preset("paper", "srresnet", amp="off").amp == "off"  # overrides kept
    sl.setup()  # a second set-up (a chapter run twice) does not shrink twice or wrap twice
    assert TrainConfig.preset("colab", "srgan").iterations == 2
    # The toy of chapter 2 trains 5 steps whatever it is asked for.
    answers = toy.stripe_answers()
    _, history = toy.train_toy(answers, steps=3000)
    assert max(history["step"]) <= 5


def test_stand_in_sources_replace_the_registered_ones(restored, monkeypatch, tmp_path):
    table = {"DIV2K": dict(url="http://127.0.0.1:1/d.zip", archive="d.zip", md5="0" * 32,
                           member="D", count=3)}
    (tmp_path / "s.json").write_text(json.dumps(table))
    monkeypatch.setenv("SRGAN_SMOKE_SOURCES", str(tmp_path / "s.json"))
    smoke.install()
    assert sources.SOURCES["DIV2K"] == sources.Source("http://127.0.0.1:1/d.zip", "d.zip",
                                                      "0" * 32, "D", 3)
    assert sources.SOURCES["T91"].url.startswith("http://vllab")  # others untouched


def test_stand_in_sources_with_an_unknown_set_name_it(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps({"Set6": {}}))
    with pytest.raises(SRGANError, match=r"s\.json: unknown sets \['Set6'\]"):
        smoke.load_sources(tmp_path / "s.json")
