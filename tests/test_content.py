"""The content-loss experiment helpers of chapter 3."""

from urllib.error import URLError

import numpy as np
import pytest
import torch
from PIL import Image

from srgan_lib import content
from srgan_lib.losses import PixelContentLoss
from srgan_lib.vgg import TruncatedVGG19, vgg19_layer_table


def _image(w=40, h=32, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), mode="RGB")


def test_receptive_fields_of_vgg19():
    # Known values for VGG19: relu1_1 sees 3x3 pixels, relu2_2 14, relu5_4 252.
    assert content.receptive_field(1, 1) == 3
    assert content.receptive_field(2, 2) == 14
    assert content.receptive_field(5, 4) == 252
    fields = [content.receptive_field(r["i"], r["j"]) for r in vgg19_layer_table()]
    assert fields == sorted(fields) and len(set(fields)) == 16
    with pytest.raises(ValueError, match="no phi"):
        content.receptive_field(2, 3)


def test_feature_map_shapes_match_the_networks_and_keep_the_seed():
    torch.manual_seed(3)
    expected_next = torch.rand(1)
    torch.manual_seed(3)
    shapes = content.feature_map_shapes(64, 48)
    assert torch.equal(torch.rand(1), expected_next)  # the random weights used a forked RNG
    assert len(shapes) == 16
    for i, j in [(1, 2), (2, 2), (3, 1), (5, 4)]:
        out = TruncatedVGG19(i, j, weights=None)(torch.zeros(1, 3, 64, 48))
        assert shapes[(i, j)] == tuple(out.shape[1:])
    assert shapes[(5, 4)] == (512, 4, 3)


def test_shifted_and_blurred():
    hr = _image(40, 32)
    target, candidates = content.shifted_and_blurred(hr, shifts=(1, 2), scales=(2, 4), margin=4)
    assert target.size == (32, 24)
    assert list(candidates) == ["shifted 1 px", "shifted 2 px", "bicubic x2", "bicubic x4"]
    assert all(img.size == target.size for img in candidates.values())
    a, s1 = np.asarray(hr), np.asarray(candidates["shifted 1 px"])
    assert np.array_equal(s1, a[4:-4, 5:-3])  # the window moved one pixel to the right
    assert np.array_equal(np.asarray(target), a[4:-4, 4:-4])
    with pytest.raises(ValueError, match="margin"):
        content.shifted_and_blurred(hr, shifts=(5,), margin=4)


def test_measure_content_losses_is_the_pixel_mse():
    target, candidates = content.shifted_and_blurred(_image(), shifts=(1,), scales=(4,))
    result = content.measure_content_losses(target, candidates, {"mse": PixelContentLoss()})
    t = np.asarray(target, dtype=np.float64) / 127.5 - 1
    c = np.asarray(candidates["shifted 1 px"], dtype=np.float64) / 127.5 - 1
    assert result["shifted 1 px"]["mse"] == pytest.approx(np.mean((t - c) ** 2), rel=1e-5)
    same = content.measure_content_losses(target, {"same": target}, {"mse": PixelContentLoss()})
    assert same["same"]["mse"] == 0


def test_strongest_channels():
    features = torch.zeros(1, 5, 3, 4)
    features[0, 3] = torch.arange(12.0).view(3, 4)  # mean 5.5
    features[0, 1] = 2.0  # mean 2, constant
    top = content.strongest_channels(features, n=2)
    assert [c for c, _ in top] == [3, 1]
    assert top[0][1].min() == 0 and top[0][1].max() == 1
    assert np.all(top[1][1] == 0)  # a constant map is shown flat, not divided by zero


def test_without_weights_one_machine_independent_sentence(monkeypatch, tmp_path, capfd):
    import torchvision.models._api as api

    def offline(*args, **kwargs):
        print(f'Downloading: "{content.VGG19_URL}" to {tmp_path}/somewhere')
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    vgg, message = content.try_imagenet_vgg19(5, 4)
    assert vgg is None
    assert "not available here" in message and "vgg19-dcbb9e9d.pth" in message
    assert "<torch.hub.get_dir()>/checkpoints/" in message
    assert str(tmp_path) not in message and "name resolution" not in message
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""  # torch's path-bearing line held back


def test_with_cached_weights_the_network_is_returned(cached_vgg19):
    vgg, message = content.try_imagenet_vgg19(2, 2)
    assert vgg.pretrained and "loaded" in message
    assert torch.equal(vgg.truncated_vgg19[7].weight, cached_vgg19["features.7.weight"])


def test_paper_table1_is_the_papers_figures_as_a_table():
    t = content.PAPER_TABLE1
    assert t["variants"][0] == "SRResNet-MSE" and t["variants"][-1] == "SRGAN-VGG54"
    assert t["Set5"]["PSNR"][0] == 32.05 and t["Set14"]["MOS"][-1] == 3.72
    assert all(len(v) == 5 for s in ("Set5", "Set14") for v in t[s].values())
    lines = content.paper_table1().splitlines()
    assert lines[0].startswith("| data set, measure | SRResNet-MSE |") and len(lines) == 8
    assert "| Set14, MOS | 2.98 | 3.14 | 3.43 | 3.57 | **3.72** |" in lines
    assert "| Set5, PSNR | **32.05** |" in lines[2]


def _run_chapter_3(monkeypatch):
    """Every code cell of chapter 3 but the set-up, as written, on small stand-in images."""
    import json
    from pathlib import Path

    import matplotlib

    import srgan_lib

    matplotlib.use("Agg")
    small = srgan_lib.demo_image("astronaut").resize((256, 256))  # holds the zoom window
    monkeypatch.setattr(srgan_lib, "demo_image", lambda name: small)
    photos = [(name, None, small.rotate(90 * k)) for k, name in enumerate(("a", "b", "c"))]
    monkeypatch.setattr(srgan_lib, "EvalDataset", lambda name: photos)
    monkeypatch.setattr(content, "centre_crop", lambda img, size: img.crop((0, 0, 48, 48)))
    notebook = Path(__file__).resolve().parents[1] / "book" / "03_content_loss.ipynb"
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]
    namespace = {"sl": srgan_lib}
    for cell in cells[1:]:  # all but the set-up cell
        exec("".join(cell["source"]), namespace)  # noqa: S102 - the chapter's own code
    return namespace


def test_chapter_3_runs_with_random_weights_where_imagenet_is_missing(monkeypatch, capsys):
    monkeypatch.setenv("SRGAN_VGG_WEIGHTS", "off")
    namespace = _run_chapter_3(monkeypatch)
    assert not namespace["vgg"].pretrained
    out = capsys.readouterr().out
    assert "not available here" in out and "weights used below: random (seed 0)" in out
    verdicts = namespace["verdicts"]
    assert set(verdicts) == {"a", "b", "c"}
    assert all(set(v) == {"pixel MSE", "phi_2,2", "phi_5,4"} for v in verdicts.values())
    assert "phi_5,4: prefers the shift on" in out
    assert "phi_{5,4} (relu5_4): (512, 3, 3)" in out  # a 48-pixel crop, four max-pools
    assert "rescale 1 / rescale 12.75: 162.5625" in out  # exercise 4's solution


def test_chapter_3_runs_its_vgg_cells_with_stand_in_weights(cached_vgg19, monkeypatch, capsys):
    # Where the ImageNet weights load (Colab), the same cells use them: here real-shaped
    # stand-in weights in the hub cache play their part.
    namespace = _run_chapter_3(monkeypatch)
    vgg = namespace["vgg"]
    assert vgg.pretrained and "loaded" in namespace["message"]
    assert torch.equal(vgg.truncated_vgg19[34].weight, cached_vgg19["features.34.weight"])
    out = capsys.readouterr().out
    assert "weights used below: ImageNet" in out
    assert "phi_{2,2} (relu2_2): (128, 24, 24)" in out
    assert all(v > 0 for r in namespace["verdicts"].values() for pair in r.values() for v in pair)
