"""TruncatedVGG19: where it cuts, its errors, and where its ImageNet weights come from."""

from urllib.error import URLError

import pytest
import torch
from torch import nn

from srgan_lib.errors import SRGANError
from srgan_lib.vgg import VGG19_BLOCKS, TruncatedVGG19, vgg19_layer_table


def test_layer_table_names_every_valid_cut():
    table = vgg19_layer_table()
    assert len(table) == sum(VGG19_BLOCKS) == 16
    by_ij = {(r["i"], r["j"]): r for r in table}
    # torchvision's vgg19().features: relu2_2 is index 8, relu5_4 is index 35.
    assert by_ij[(2, 2)]["index"] == 8 and by_ij[(2, 2)]["name"] == "relu2_2"
    assert by_ij[(5, 4)]["index"] == 35 and by_ij[(5, 4)]["channels"] == 512
    assert by_ij[(5, 4)]["downsampling"] == 16


def test_layers_match_torchvision_vgg19():
    import torchvision

    reference = torchvision.models.vgg19(weights=None).features
    ours = TruncatedVGG19(5, 4, weights=None).truncated_vgg19
    assert [type(m) for m in ours] == [type(m) for m in reference[:36]]


@pytest.mark.parametrize("i, j, channels, factor", [(2, 2, 128, 2), (5, 4, 512, 16),
                                                    (1, 1, 64, 1)])
def test_feature_map_shape(i, j, channels, factor):
    vgg = TruncatedVGG19(i, j, weights=None)
    out = vgg(torch.randn(1, 3, 64, 48))
    assert out.shape == (1, channels, 64 // factor, 48 // factor)
    assert isinstance(vgg.truncated_vgg19[-1], nn.ReLU)  # cut *after* the activation
    assert out.min() >= 0


@pytest.mark.parametrize("i, j, message", [(0, 1, "1..5"), (6, 1, "1..5"), (1, 3, "1..2"),
                                           (2, 0, "1..2"), (5, 5, "1..4"), (3, 9, "1..4")])
def test_invalid_ij_names_the_valid_range(i, j, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        TruncatedVGG19(i, j, weights=None)


def test_vgg_is_frozen():
    vgg = TruncatedVGG19(2, 2, weights=None)
    assert not any(p.requires_grad for p in vgg.parameters())


def test_unknown_weights_name_is_a_value_error():
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        TruncatedVGG19(2, 2, weights="IMAGENET_WRONG")


def test_missing_imagenet_weights_give_one_clear_error(monkeypatch, hub_dir):
    # No cached file and no network: the message says so and names the cache path.
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(SRGANError) as err:
        TruncatedVGG19(5, 4)
    message = str(err.value)
    assert str(hub_dir / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "name resolution" in message and "'mse'" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_imagenet_weights_are_read_from_the_hub_cache(cached_vgg19):
    # A file in the torch hub cache is used without any download: the values loaded are
    # the ones the fixture put there.
    vgg = TruncatedVGG19(2, 2, weights="IMAGENET1K_V1")
    assert vgg.pretrained
    assert torch.equal(vgg.truncated_vgg19[7].weight, cached_vgg19["features.7.weight"])
    assert len(vgg.truncated_vgg19) == 9


def test_imagenet_weights_can_be_switched_off(monkeypatch, tmp_path):
    monkeypatch.setenv("SRGAN_VGG_WEIGHTS", "off")
    with pytest.raises(SRGANError, match="SRGAN_VGG_WEIGHTS=off"):
        TruncatedVGG19(2, 2)
    assert TruncatedVGG19(2, 2, weights=None) is not None  # a random VGG is unaffected
