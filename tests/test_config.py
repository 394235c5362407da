"""The configuration's presets: their names (``quick`` and its alias ``ci``) and tables."""

import pytest

from srgan_lib import config
from srgan_lib.config import PRESETS, TrainConfig, compare_presets, preset_name


def test_compare_presets_keeps_zero_apart_from_false_and_one_apart_from_true():
    config._setting.cache_clear()  # as in a fresh process: the order of first calls matters
    table = compare_presets(["paper", "cpu"], ["channels_last", "workers", "compile",
                                                "grid_weight", "vgg_rescale"])
    rows = dict(line.split(" | ", 1) for line in table.split("\n")[2:])
    assert rows["| `compile`"] == "False | False |"
    assert rows["| `grid_weight`"] == "0 | 0 / 100 |"  # a cached False printed "False" here
    assert rows["| `channels_last`"] == "True | True |"
    assert config._setting(1.0) == "1" and config._setting(True) == "True"
    assert config._setting(0) == "0" and config._setting(False) == "False"


def test_quick_is_the_small_preset_and_ci_its_alias():
    assert "quick" in PRESETS and "ci" not in PRESETS
    for stage in ("srresnet", "srgan"):
        assert TrainConfig.preset("ci", stage) == TrainConfig.preset("quick", stage)
        assert TrainConfig.preset("ci", stage, iterations=3).iterations == 3
    assert TrainConfig.preset("quick").n_channels == 16  # the tiny network
    assert preset_name("ci") == "quick" and preset_name("colab") == "colab"
    with pytest.raises(ValueError, match=r"quick.*\(or ci\), got 'tiny'"):
        TrainConfig.preset("tiny")
    assert "`ci`" in compare_presets(["ci"], ["iterations"])  # the name as the caller wrote it


def test_grid_window_must_split_the_crop_into_whole_periods():
    assert TrainConfig.preset("cpu", "srgan").grid_window is None  # the whole crop
    assert TrainConfig.preset("cpu", "srgan", grid_window=16).grid_window == 16
    for bad in (2, 6, 24, 128):  # under a period, not a multiple of 4, not dividing 64
        with pytest.raises(ValueError, match=f"grid_window {bad} must be a multiple"):
            TrainConfig.preset("cpu", "srgan", grid_window=bad)
