"""The toy of chapter 2: MSE converges to the mean of the answers, MSE + adversarial to one."""

import pytest
import torch

from srgan_lib import toy


@pytest.fixture(scope="module")
def answers():
    return toy.stripe_answers()


def test_answers_are_sharp_different_and_share_one_lr_patch(answers):
    assert answers.shape == (4, 8, 8) and answers.dtype == torch.float64
    assert set(answers.unique().tolist()) == {-0.75, 0.75}
    lr = toy.box_downscale(answers)
    assert lr.shape == (4, 2, 2)
    assert torch.equal(lr, torch.zeros_like(lr))  # all four: the same flat grey LR patch
    assert torch.equal(answers.mean(dim=0), torch.zeros(8, 8))  # ... and a flat grey mean
    pairwise = toy.distances(answers, answers)["to_answers"]
    assert (pairwise + torch.eye(4) >= 1.0).all()  # no two answers alike


def test_box_downscale_averages_each_block():
    hr = torch.arange(16.0).view(1, 4, 4)
    lr = toy.box_downscale(hr, scale=2)
    assert torch.equal(lr, torch.tensor([[[2.5, 4.5], [10.5, 12.5]]]))


def test_networks_shapes_and_ranges():
    generator, discriminator = toy.ToyGenerator(), toy.ToyDiscriminator()
    sr = generator(torch.zeros(5, 2, 2), torch.randn(5, generator.z_dim) * 100)
    assert sr.shape == (5, 8, 8) and sr.abs().max() <= 1  # tanh
    assert discriminator(sr).shape == (5, 1)


def test_distances_total_variation_and_expected_mse(answers):
    mean = answers.mean(dim=0, keepdim=True)
    d = toy.distances(torch.cat([mean, answers[2:3]]), answers)
    assert d["to_mean"].tolist() == pytest.approx([0.0, 0.75])
    assert d["to_nearest"].tolist() == pytest.approx([0.75, 0.0])
    assert d["nearest"][1] == 2 and d["to_answers"].shape == (2, 4)
    # Stripes: 3 jumps of 1.5 in each of 8 rows, out of 2 * 8 * 7 neighbour pairs.
    assert toy.total_variation(answers).tolist() == pytest.approx([3 * 1.5 * 8 / 112] * 4)
    assert toy.total_variation(mean).tolist() == [0.0]
    # The mean is the MSE minimiser: half the expected MSE of any sharp answer here.
    assert toy.expected_mse(mean[0], answers) == pytest.approx(0.5625)
    assert toy.expected_mse(answers[0], answers) == pytest.approx(1.125)
    torch.manual_seed(0)
    for _ in range(5):
        nudged = mean[0] + 0.1 * torch.randn(8, 8, dtype=torch.float64)
        assert toy.expected_mse(nudged, answers) > 0.5625


def test_as_images(answers):
    images = toy.as_images(torch.stack([-torch.ones(8, 8), torch.ones(8, 8), answers[0]]))
    assert [im.size for im in images] == [(8, 8)] * 3 and images[0].mode == "RGB"
    assert images[0].getpixel((0, 0)) == (0, 0, 0) and images[1].getpixel((0, 0)) == (255,) * 3
    assert images[2].getpixel((0, 0)) > images[2].getpixel((2, 0))  # bright, then dark stripe


def test_mse_training_converges_to_the_blurry_mean(answers):
    generator, history = toy.train_toy(answers, beta=0.0, steps=300)
    lr = toy.box_downscale(answers[:1])
    d = toy.distances(toy.sample(generator, lr, 64, seed=5), answers)
    assert d["to_mean"].max() < 0.05  # every code z gives the mean ...
    assert d["to_nearest"].min() > 0.7  # ... which is far from every answer (0.75 exactly)
    assert history["to_mean"][-1] < 0.05 and len(history["step"]) == 21
    assert history["adversarial"] == []  # no discriminator at beta 0


def test_adversarial_training_commits_to_sharp_answers(answers):
    generator, history = toy.train_toy(answers, beta=0.1)  # the chapter's setting
    out = toy.sample(generator, toy.box_downscale(answers[:1]), 256, seed=2)
    d = toy.distances(out, answers)
    assert (d["to_nearest"] < d["to_mean"]).float().mean() > 0.95
    assert d["to_nearest"].median() < 0.2 and d["to_mean"].median() > 0.6
    assert toy.total_variation(out).mean() > 0.8 * toy.total_variation(answers).mean()
    assert history["to_nearest"][-1] < 0.25 < history["to_nearest"][0]
    adversarial = history["adversarial"]  # -log D of every step: positive, finite
    assert len(adversarial) == 600 and all(0 < a < 20 for a in adversarial)


def test_training_is_deterministic_and_restores_threads(answers):
    threads = torch.get_num_threads()
    runs = [toy.train_toy(answers, beta=0.1, steps=20, seed=3)[1] for _ in range(2)]
    assert runs[0] == runs[1]
    assert torch.get_num_threads() == threads


def test_toy_step_moves_d_only_with_an_adversarial_term(answers):
    torch.manual_seed(0)
    g, d = toy.ToyGenerator().double(), toy.ToyDiscriminator().double()
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    lr_patch = toy.box_downscale(answers[:1])
    z = torch.randn(4, g.z_dim, dtype=torch.float64)
    d_before = [p.clone() for p in d.parameters()]
    g_before = [p.clone() for p in g.parameters()]
    assert toy.toy_step(g, d, opt_g, opt_d, lr_patch, answers, z, beta=0.0) == 0.0
    assert all(torch.equal(a, b) for a, b in zip(d_before, d.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, g.parameters(), strict=True))
    adversarial = toy.toy_step(g, d, opt_g, opt_d, lr_patch, answers, z, beta=0.1)
    assert isinstance(adversarial, float) and adversarial > 0
    assert not all(torch.equal(a, b) for a, b in zip(d_before, d.parameters(), strict=True))
