"""PSNR and SSIM, measured the way the SRGAN paper measured them.

Conventions (Ledig et al. 2017, Section 3.1, and the SR literature since SRCNN):

* both images are 8-bit RGB ``PIL.Image``s of the same size: a super-resolved image is
  measured as it would be saved (clamped, rounded to 8 bits), never as raw floats;
* they are compared on the BT.601 **Y channel** (``16 + 65.481 R + 128.553 G + 24.966 B``
  with R, G, B in [0, 1], so values in [16, 235]), computed in float64;
* a **border** of ``scale`` pixels is removed on every side ("removal of a 4-pixel wide
  strip from each border"), where upsampling methods cannot be fair;
* PSNR uses a peak of 255; SSIM is scikit-image's with the settings of Wang et al.'s
  reference implementation (11x11 Gaussian window, sigma 1.5, population statistics).
  The paper does not say which SSIM implementation or settings it used.

How the LR image is made is part of the protocol too: ``images.crop_to_multiple`` then
``images.downscale`` (Pillow's antialiased bicubic). With that, bicubic x4 upsampling gives
28.43 dB on Set5, the paper's Table 2 figure, and 26.10 dB on Set14 (paper 25.99, +0.11 dB).
Our bicubic SSIMs are below Table 2's, by 0.010 on Set5 and 0.044 on Set14
(``tests/test_metrics.py`` pins all four figures).

Beyond the paper: ``high_frequency_energy`` (how much fine detail), ``periodic_artefacts``
(how much of a regular grid), ``local_periodic_artefacts`` (a grid that comes and goes with
the texture) and ``colour_shift`` (a tint), each relative to the HR image.
"""

import math

import numpy as np
import torch
from PIL import Image
from skimage.filters import gaussian
from skimage.metrics import structural_similarity

from .images import convert_image

__all__ = ["y_channel", "psnr", "ssim", "high_frequency_energy", "periodic_artefacts",
           "local_periodic_artefacts", "texture_grid", "colour_shift"]


def y_channel(img, border=0):
    """The Y channel of an RGB ``PIL.Image`` as a float64 array, ``border`` pixels cut off.

    Args:
        img (PIL.Image): an RGB image.
        border (int): pixels removed from each side.

    Returns:
        numpy.ndarray: (H - 2 border, W - 2 border), values in [16, 235].

    Explained in: book/01_sr_problem.ipynb
    """
    # 8-bit values as float64 first, so the whole computation is in double precision.
    rgb = torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float64)).permute(2, 0, 1)
    y = convert_image(rgb, "[0, 255]", "y-channel").numpy()
    if border:
        if min(y.shape) <= 2 * border:
            raise ValueError(f"a {img.size[0]}x{img.size[1]} image has nothing left after "
                             f"removing a {border}-pixel border")
        y = y[border:-border, border:-border]
    return y


def _same_size(sr, hr):
    if sr.size != hr.size:
        raise ValueError(f"SR and HR differ in size: {sr.size} vs {hr.size}")


def _pair(sr, hr, border):
    _same_size(sr, hr)
    return y_channel(sr, border), y_channel(hr, border)


def psnr(sr, hr, border=4):
    """Peak signal-to-noise ratio in dB, on the Y channel, peak 255.

    ``PSNR = 10 log10(255^2 / MSE)``; identical images give ``inf``.

    Args:
        sr (PIL.Image): the image being judged (super-resolved or bicubic).
        hr (PIL.Image): the ground truth, same size.
        border (int): pixels ignored on each side (the scale, 4 for x4).

    Returns:
        float: PSNR in dB.

    Explained in: book/01_sr_problem.ipynb
    """
    y_sr, y_hr = _pair(sr, hr, border)
    mse = float(np.mean((y_sr - y_hr) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0 ** 2 / mse)


def ssim(sr, hr, border=4):
    """Structural similarity (Wang et al. 2004) on the Y channel, through scikit-image.

    Gaussian-weighted 11x11 windows with sigma 1.5 and population (not sample)
    covariance: the settings of Wang et al.'s reference implementation, through
    scikit-image. The SRGAN paper does not state its SSIM implementation, and our bicubic
    SSIMs are 0.010 (Set5) to 0.044 (Set14) below its Table 2: compare SSIMs with the
    paper's as a rough guide only, and with each other exactly.

    Args:
        sr (PIL.Image): the image being judged.
        hr (PIL.Image): the ground truth, same size.
        border (int): pixels ignored on each side.

    Returns:
        float: SSIM, 1.0 for identical images.

    Explained in: book/01_sr_problem.ipynb
    """
    y_sr, y_hr = _pair(sr, hr, border)
    return float(structural_similarity(y_sr, y_hr, data_range=255.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False))


def high_frequency_energy(sr, hr, scale=4, border=4):
    """How much fine detail an SR image has, relative to the HR image: a sharpness ratio.

    The energy of the Y channel's spectrum outside the disc of radius ``0.5 / scale``
    cycles per HR pixel (the LR image's Nyquist frequency), against HR's. The LR grid holds
    a *square* of frequencies, ``max(|fx|, |fy|) <= 0.5 / scale``; the band outside the
    disc holds all that lies outside the square (the detail the LR image could not hold,
    which an upsampler must invent), and the square's four corners as well (diagonal
    frequencies up to ``0.71 / scale``, which the LR image can hold). So an ideal
    reconstruction of the square band, nothing invented, scores about 0.16 on Set5, not 0
    (``tests/test_metrics.py`` measures it); the disc, the same in every direction, is the
    cut-off every figure of the book uses. 1.0 means as much fine detail as the truth;
    bicubic is far below; an MSE-trained network is below too (it averages detail away);
    a GAN should come closest to 1. It measures *amount*, not correctness: noise counts.

    Args:
        sr (PIL.Image): the image being judged.
        hr (PIL.Image): the ground truth, same size.
        scale (int): the upscaling factor, which sets the cut-off.
        border (int): pixels ignored on each side.

    Returns:
        float: energy(SR, high band) / energy(HR, high band).

    Explained in: book/07_evaluation.ipynb
    """
    def energy(y):
        y = y - y.mean()
        window = np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))  # no edge leakage
        power = np.abs(np.fft.fft2(y * window)) ** 2
        fy = np.fft.fftfreq(y.shape[0])[:, None]
        fx = np.fft.fftfreq(y.shape[1])[None, :]
        return float(power[np.hypot(fx, fy) > 0.5 / scale].sum())

    y_sr, y_hr = _pair(sr, hr, border)
    return energy(y_sr) / energy(y_hr)


# periodic_artefacts: the neighbourhood of each target frequency is a disc of this radius
# (cycles per pixel), at least one frequency bin wide, and its background the ring from two
# to four radii. A grid's peak is spread by how its strength varies over the image; 1/64
# keeps grids that vary over 64 pixels or more inside the disc.
_NEAR = 1 / 64
_FLOOR = 1e-9  # added to the power, so that a perfectly flat image gives 1, not 0 / 0


def _hann_power(y):
    """The power spectrum of a 2-D array, its mean removed and a Hann window applied."""
    y = y - y.mean()
    window = np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))  # no edge leakage
    return np.abs(np.fft.fft2(y * window)) ** 2 + _FLOOR


def _grid_neighbourhoods(shape, scale):
    """(disc, ring) masks around each frequency (ky / scale, kx / scale) but (0, 0)."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    near = max(_NEAR, 1 / min(shape))
    for ky in range(scale):
        for kx in range(scale):
            if ky == kx == 0:
                continue
            # Distance to (ky, kx) / scale, wrapping around: frequencies are periodic.
            dy = (fy - ky / scale + 0.5) % 1 - 0.5
            dx = (fx - kx / scale + 0.5) % 1 - 0.5
            d = np.hypot(dx, dy)
            yield d <= near, (d > 2 * near) & (d <= 4 * near)


def periodic_artefacts(sr, hr, scale=4, border=4):
    """How much of a regular grid an SR image has, relative to the HR image.

    A sub-pixel convolution (``models.SubPixelConvolutionalBlock``) computes the ``r x r``
    output pixels that come from one input pixel with ``r^2`` different filters, then
    interleaves them. Where those filters disagree, the output carries a pattern that
    repeats every ``r`` pixels; x4 stacks two x2 stages, so periods of 2 and 4 pixels. A
    pattern of period ``scale`` (or a divisor of it) puts all its energy on the frequencies
    ``(ky / scale, kx / scale)`` cycles per pixel, ``ky, kx = 0 .. scale - 1``, but not
    (0, 0): 15 frequencies for x4 (k / 4 for k = 1, 2, 3, since 3/4 is -1/4).

    What is measured, on the Y channel with ``border`` pixels cut off, its mean removed and
    a Hann window applied: at each of those frequencies, the mean spectral power within
    1/64 cycle per pixel (at least one frequency bin) divided by the mean power in the ring
    from 2/64 to 4/64 around it, which is about 1 where there is no peak; the average of
    these 15 peak heights for SR, divided by the same for HR. 1 means as much grid as the
    truth. Noise or blur without a period move it little, because they raise or lower a
    peak and its ring together (0.75 to 1.12 on the HR images of Set5 and Set14); a grid of
    one grey level added to a whole photo gives from about 1.4 (a busy photo) to about 40
    (a smooth one). Book chapter 7 measures both.

    Args:
        sr (PIL.Image): the image being judged.
        hr (PIL.Image): the ground truth, same size.
        scale (int): the upscaling factor, which sets the grid's period.
        border (int): pixels ignored on each side.

    Returns:
        float: peak height(SR) / peak height(HR); exactly 1.0 when SR is HR.

    Explained in: book/07_evaluation.ipynb
    """
    y_sr, y_hr = _pair(sr, hr, border)
    neighbourhoods = list(_grid_neighbourhoods(y_sr.shape, scale))  # the same for both

    def peak_height(y):
        power = _hann_power(y)
        return np.mean([power[disc].mean() / power[ring].mean()
                        for disc, ring in neighbourhoods])

    return float(peak_height(y_sr) / peak_height(y_hr))


# local_periodic_artefacts: a window is this many periods wide (32 pixels at x4), and windows
# overlap by half. In a window's spectrum the grid frequencies k / scale fall on exact bins,
# 8 bins apart; a peak is the bins within 1 bin of one (the Hann window spreads a steady
# pattern over +-1 bin), its background the ring from 2.5 to 4.5 bins.
LOCAL_WINDOW_PERIODS = 8
_LOCAL_DISC, _LOCAL_RING = 1.0, (2.5, 4.5)


def _window_starts(length, size):
    """Where windows of ``size`` start along ``length``, half overlapping, the last at the end."""
    return sorted(set(range(0, length - size + 1, size // 2)) | {length - size})


def _local_peak_heights(y, scale):
    """Each window's mean peak height at the grid frequencies: one number per window."""
    size = LOCAL_WINDOW_PERIODS * scale
    tiles = np.stack([y[i:i + size, j:j + size] for i in _window_starts(y.shape[0], size)
                      for j in _window_starts(y.shape[1], size)])
    tiles = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(tiles * np.outer(np.hanning(size), np.hanning(size)))) ** 2
    power += _FLOOR
    bins = np.fft.fftfreq(size) * size  # frequencies in bins, 0 .. size / 2 and below 0
    heights = []
    for ky in range(scale):
        for kx in range(scale):
            if ky == kx == 0:
                continue
            # Distance in bins to (ky, kx) * size / scale, wrapping around.
            dy = (bins[:, None] - ky * size / scale + size / 2) % size - size / 2
            dx = (bins[None, :] - kx * size / scale + size / 2) % size - size / 2
            d = np.hypot(dx, dy)
            ring = (d > _LOCAL_RING[0]) & (d <= _LOCAL_RING[1])
            heights.append(power[:, d <= _LOCAL_DISC].mean(1) / power[:, ring].mean(1))
    return np.mean(heights, axis=0)


def local_periodic_artefacts(sr, hr, scale=4, border=4):
    """How much of a grid an SR image has, window by window, against HR at the same place.

    ``periodic_artefacts`` looks at the whole image's spectrum. A grid whose strength and
    sign follow the texture (strong in a butterfly's stripes, absent from the sky, one way
    on the dark side of an edge and the other way on the bright side) has no sharp peak
    there: its energy is spread around the grid frequencies, and it averages out of any
    mean over the image. Seen in a small window, though, it is a steady grid.

    So this measures the same peak height as ``periodic_artefacts`` (the power at the 15
    frequencies ``(ky / scale, kx / scale)`` against the ring around each), in windows
    ``8 x scale`` pixels wide (32 at x4) overlapping by half, on the Y channel with
    ``border`` pixels cut off, each window's mean removed and a Hann window applied; the
    ratio of SR's peak height to HR's in the same window; the mean of these ratios. 1 means
    as much grid as the truth, everywhere.

    Calibration on the 19 HR images of Set5 and Set14 (``benchmarks/grid_measure.py``),
    this measure and, in brackets, ``periodic_artefacts``: noise of 2 grey levels 1.00 to
    1.27 (0.96 to 1.09); a Gaussian blur of radius 1, 0.54 to 0.98 (0.75 to 1.12); a
    4-pixel grid of 2 levels, 1.44 (baboon, a busy photo) to thousands (a flat drawing)
    (3.15 to 165); that grid times the image's local contrast, 1.23 to 23 (2.1 to 31);
    ``texture_grid`` of 2 levels RMS (strength and sign following the texture), 1.07 to
    6.85, mean 3.85 on Set5 and 1.92 on Set14, where ``periodic_artefacts`` gives 0.76 to
    1.18, no more than noise. On the busiest photos (baboon 1.07, bridge 1.23) such a faint
    hatching stays within noise's range here too.

    Args:
        sr (PIL.Image): the image being judged.
        hr (PIL.Image): the ground truth, same size, at least ``8 x scale`` pixels after
            the border is removed.
        scale (int): the upscaling factor, which sets the grid's period.
        border (int): pixels ignored on each side.

    Returns:
        float: mean over windows of peak height(SR) / peak height(HR); exactly 1.0 when SR
        is HR.

    Explained in: book/07_evaluation.ipynb
    """
    y_sr, y_hr = _pair(sr, hr, border)
    if min(y_sr.shape) < LOCAL_WINDOW_PERIODS * scale:
        raise ValueError(f"a {sr.size[0]}x{sr.size[1]} image is too small for windows of "
                         f"{LOCAL_WINDOW_PERIODS * scale} pixels after a {border}-pixel border")
    return float(np.mean(_local_peak_heights(y_sr, scale) / _local_peak_heights(y_hr, scale)))


def texture_grid(hr, pattern, rms=2.0):
    """A 4-pixel grid whose strength and sign follow an image's texture, to calibrate with.

    ``pattern`` (mean 0), tiled over the image, times the image's band-pass (the grey
    image blurred with sigma 2 minus the same blurred with sigma 6, scaled to RMS 1):
    strong in fine texture, absent from flat areas, of one sign on the dark side of an
    edge and the other on the bright side. The hatching a GAN can draw in textured areas
    looks like it, and it averages out of a whole image's spectrum
    (``periodic_artefacts``) but not out of a window's (``local_periodic_artefacts``).

    Args:
        hr (PIL.Image): the image to draw on.
        pattern (np.ndarray): the grid's (period, period) tile, mean 0, RMS 1.
        rms (float): the grid's RMS strength in 8-bit levels.

    Returns:
        PIL.Image: ``hr`` plus the grid, rounded to 8 bits (RGB).

    Explained in: book/07_evaluation.ipynb
    """
    y = np.asarray(hr.convert("L"), dtype=np.float64)
    band = gaussian(y, 2, preserve_range=True) - gaussian(y, 6, preserve_range=True)
    strength = np.sqrt(np.mean(band ** 2))
    # A flat image has no texture: its band-pass is rounding noise, not to be blown up.
    band = band / strength if strength > 1e-6 else np.zeros_like(band)
    h, w = y.shape
    p = pattern.shape[0]
    grid = np.tile(pattern, (h // p + 1, w // p + 1))[:h, :w]
    values = np.asarray(hr.convert("RGB"), dtype=np.float64) + (rms * grid * band)[..., None]
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8))


def colour_shift(sr, hr):
    """The largest shift of a colour channel's mean, SR against HR, in 8-bit levels.

    A tint (the green or washed-out outputs of a range bug, or a GAN drifting) moves a
    whole channel's mean; sharpening or blurring does not. Measured on R, G and B, not Y,
    because a tint can leave luma unchanged.

    Args:
        sr (PIL.Image): the image being judged.
        hr (PIL.Image): the ground truth, same size.

    Returns:
        float: max over R, G, B of |mean(SR) - mean(HR)|, in levels of 0..255.

    Explained in: book/07_evaluation.ipynb
    """
    _same_size(sr, hr)
    means = [np.asarray(img.convert("RGB"), dtype=np.float64).mean(axis=(0, 1))
             for img in (sr, hr)]
    return float(np.abs(means[0] - means[1]).max())
