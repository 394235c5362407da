"""Datasets: random training crops, whole evaluation images, and offline demo images.

Design choices:

* **Training images are decoded once.** ``TrainDataset`` keeps every image decoded, as a
  (H, W, 3) uint8 array, and each sample is a random crop of one: decoding a PNG costs far
  more than cropping it, and re-reading files every step starves a GPU. The arrays live in
  the process's memory, or, with ``cache=`` a folder, in ``.npy`` files on disk that are
  memory-mapped: then the operating system's page cache holds them once for every process
  of a ``torchrun`` run and its data workers, and can give the memory back when it is
  short (DIV2K's 800 images take 6.6 GB decoded, half of a free Colab VM's RAM). The crop
  position comes from torch's random generator, which ``torch.manual_seed`` and the
  ``DataLoader`` (one seed per worker) control.
* **LR images are made here, never taken from a pack**: ``images.downscale`` (Pillow's
  bicubic), the same function the metrics use, so a model is trained and tested on the same
  degradation.
* **Demo images need no download**: ``demo_image`` returns samples bundled with
  scikit-image.

Where the sets come from (the data directory, the registry, downloads) is ``sources.py``.
"""

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import data as skimage_data
from torch.utils.data import Dataset
from tqdm import tqdm

from .errors import SRGANError
from .files import atomic_write
from .images import convert_image, crop_to_multiple, downscale, load_image
from . import sources as registry
from .sources import find_dataset, list_images

__all__ = ["TrainDataset", "decoded_image", "EvalDataset", "DEMO_IMAGES", "demo_image"]


def _as_list(sources):
    if isinstance(sources, (str, os.PathLike)):
        return [sources]
    return list(sources)


class TrainDataset(Dataset):
    """Random (LR, HR) crop pairs for training, from images decoded once.

    Every image of the sources is decoded at construction (with a progress bar) and kept
    as an RGB (H, W, 3) uint8 array: in memory, or, when ``cache`` names a folder, in a
    ``.npy`` file there, memory-mapped (decoded on the first run, reused after; see
    ``decoded_image``). Sample ``i`` is a random ``crop_size`` square of image
    ``i % n_images``; its LR is ``images.downscale`` of that crop (Pillow's bicubic, the
    degradation the metrics assume). The position comes from torch's random generator,
    so ``torch.manual_seed`` repeats it and each ``DataLoader`` worker draws its own.
    Images smaller than the crop are left out with a warning.

    Args:
        sources (str | Path | list): set names and/or folders of images (see
            ``find_dataset``; missing named sets are downloaded).
        crop_size (int): side of the HR crop (96 in the paper); a multiple of ``scale``.
        scale (int): the upscaling factor (4 in the paper).
        crops_per_image (int): samples per image in one epoch; with small sets (T91), more
            crops per epoch mean fewer, longer epochs.
        exclude (Iterable[Path]): files to leave out (a validation split held out of the
            same sets).
        cache (str | Path | None): a folder for the decoded images, memory-mapped; ``None``
            keeps them in the process's memory.

    Raises:
        ValueError: ``crop_size`` not a multiple of ``scale``, or a size below 1.
        SRGANError: a source cannot be found, an image cannot be read, or no image is at
            least ``crop_size`` on both sides.

    Explained in: book/09_training_engine.ipynb
    """

    def __init__(self, sources, crop_size=96, scale=4, crops_per_image=1, exclude=(),
                 cache=None):
        if min(crop_size, scale, crops_per_image) < 1:
            raise ValueError(f"crop_size, scale and crops_per_image must be at least 1, got "
                             f"{crop_size}, {scale}, {crops_per_image}")
        if crop_size % scale:
            raise ValueError(f"crop_size {crop_size} is not divisible by scale {scale}: the "
                             f"LR crop must be exactly crop_size / scale, e.g. crop_size="
                             f"{crop_size - crop_size % scale or scale}")
        sources = _as_list(sources)
        if not sources:
            raise ValueError("sources is empty: give at least one set name or folder")
        self.crop_size, self.scale, self.crops_per_image = crop_size, scale, crops_per_image

        files = []
        for source in sources:
            key = registry.registered_name(source)
            if key is not None and registry.SOURCES[key].split == "eval":
                warnings.warn(f"{key} is an evaluation set: training on it makes its "
                              "scores meaningless", stacklevel=2)
            files.extend(list_images(find_dataset(source)))
        excluded = {Path(f).resolve() for f in exclude}
        files = [f for f in files if f.resolve() not in excluded]

        if cache is not None:
            Path(cache).mkdir(parents=True, exist_ok=True)
        self.files, self.images, small = [], [], []
        for f in tqdm(files, desc="Decoding training images", unit="image"):
            img = decoded_image(f, cache)
            if min(img.shape[:2]) < crop_size:
                small.append(f)
            else:
                self.files.append(f)
                self.images.append(img)
        if not self.images:
            raise SRGANError(f"none of the {len(files)} images of {sources} is at least "
                             f"{crop_size}x{crop_size} pixels: use a smaller crop_size or "
                             "larger images")
        if small:
            names = ", ".join(f.name for f in small[:3]) + (", ..." if len(small) > 3 else "")
            warnings.warn(f"left out {len(small)} of {len(files)} images smaller than "
                          f"{crop_size} px on a side ({names})", stacklevel=2)

    def __len__(self):
        return len(self.images) * self.crops_per_image

    def __getitem__(self, index):
        """One random crop pair.

        Args:
            index (int): the sample; it picks image ``index % n_images``.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``lr`` in ``'imagenet-norm'``,
            (3, crop_size / scale, crop_size / scale), the generator's input; ``hr`` in
            ``'[-1, 1]'``, (3, crop_size, crop_size), the generator's target (``tanh``).

        Explained in: book/09_training_engine.ipynb
        """
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        return self.crop_pair(index % len(self.images))

    def crop_pair(self, image_index, generator=None):
        """A random crop of one image and its LR, drawn from ``generator``.

        The training engine passes a generator seeded by the sample's number in the run,
        so that sample ``n`` is the same crop however the run is split, resumed or
        sharded across processes.

        Args:
            image_index (int): which decoded image.
            generator (torch.Generator | None): the source of the crop position; torch's
                global generator if ``None``.

        Returns:
            tuple[torch.Tensor, torch.Tensor]: ``(lr, hr)`` as ``__getitem__`` returns them.

        Explained in: book/09_training_engine.ipynb
        """
        img = self.images[image_index]
        h, w = img.shape[:2]
        c = self.crop_size
        # The generator passed in, not a global one: CropStream seeds it with the sample's
        # number, so a crop depends on that number alone, in any worker, after any resume.
        left = int(torch.randint(0, w - c + 1, (1,), generator=generator))
        top = int(torch.randint(0, h - c + 1, (1,), generator=generator))
        hr = Image.fromarray(np.ascontiguousarray(img[top:top + c, left:left + c]))
        lr = downscale(hr, self.scale)
        return convert_image(lr, "pil", "imagenet-norm"), convert_image(hr, "pil", "[-1, 1]")


def decoded_image(path, cache=None):
    """An image file decoded to an RGB (H, W, 3) uint8 array; memory-mapped from ``cache``.

    With a cache folder, the decoded pixels are written once to a ``.npy`` file named after
    the file's path, size and modification time (an edited image is decoded again), and
    every call returns a read-only memory map of it: pixels are read from disk when a crop
    needs them and kept in the page cache, which processes share. The file is written
    atomically, so processes that decode the same image at once cannot see a torn file.

    Args:
        path (Path): the image.
        cache (str | Path | None): an existing folder, or ``None`` for an array in memory.

    Returns:
        numpy.ndarray: (H, W, 3) uint8.

    Raises:
        SRGANError: the image cannot be read.

    Explained in: book/09_training_engine.ipynb
    """
    if cache is None:
        return np.asarray(load_image(path))
    stat = Path(path).stat()
    key = hashlib.sha256(f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
                         .encode()).hexdigest()[:16]
    target = Path(cache) / f"{Path(path).stem}-{key}.npy"
    if not target.exists():
        with atomic_write(target) as f:
            np.save(f, np.asarray(load_image(path)))
    return np.load(target, mmap_mode="r")


class EvalDataset(Dataset):
    """The whole images of one set, prepared by the paper's evaluation protocol.

    Each HR image is the largest centre crop whose sides are multiples of ``scale``
    (``images.crop_to_multiple``); its LR image is ``images.downscale`` of it. Images are
    read when asked for (an evaluation reads each once). Items are PIL images, so iterate
    over the dataset itself rather than a ``DataLoader``.

    Args:
        source (str | Path): a set name or a folder of images (see ``find_dataset``).
        scale (int): the upscaling factor.

    Attributes:
        name (str): the set's name (as registered) or the folder's name.
        files (list[Path]): the images, sorted by file name.

    Raises:
        SRGANError: the set cannot be found or downloaded.

    Explained in: book/01_sr_problem.ipynb
    """

    def __init__(self, source, scale=4):
        if scale < 1:
            raise ValueError(f"scale must be at least 1, got {scale}")
        folder = find_dataset(source)
        self.name = registry.registered_name(source) or folder.name
        self.files = list_images(folder)
        self.scale = scale

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        """One image of the set.

        Args:
            index (int): position in file-name order.

        Returns:
            tuple[str, PIL.Image, PIL.Image]: the file name without extension, the LR image
            and the HR image (exactly ``scale`` times the LR on each side).

        Raises:
            SRGANError: the image cannot be read.

        Explained in: book/01_sr_problem.ipynb
        """
        path = self.files[index]
        hr = crop_to_multiple(load_image(path), self.scale)
        return path.stem, downscale(hr, self.scale), hr


# scikit-image's sample images that ship inside its wheel (no download): natural photos
# first, then greyscale ones (returned as RGB). Samples needing the optional 'pooch'
# download, binary masks and synthetic patterns are not listed.
DEMO_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
               "immunohistochemistry", "retina", "camera", "coins", "moon", "page", "text",
               "clock", "brick", "grass", "gravel", "cell", "microaneurysms")


def demo_image(name="astronaut"):
    """A sample image bundled with scikit-image, as RGB: works offline with nothing set up.

    Args:
        name (str): one of ``DEMO_IMAGES``; ``'astronaut'`` is 512x512.

    Returns:
        PIL.Image: mode ``'RGB'`` (greyscale samples repeated over three channels).

    Raises:
        ValueError: ``name`` is not one of ``DEMO_IMAGES``.

    Explained in: book/01_sr_problem.ipynb
    """
    if name not in DEMO_IMAGES:
        raise ValueError(f"unknown demo image {name!r}; choose one of {', '.join(DEMO_IMAGES)}")
    return Image.fromarray(getattr(skimage_data, name)()).convert("RGB")
