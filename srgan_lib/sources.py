"""Image sets: where they live on disk, where they come from, and how they get there.

Design choices:

* **One data directory** (``data_dir()``): the environment variable ``SRGAN_DATA`` when it
  is set (CI points it at ``../shared/datasets``), else ``data/datasets`` inside a source
  checkout, else ``~/.cache/srgan_lib/datasets``. A set is a plain folder of image files
  named after the set (``Set5/baby.png``, ...), so images copied there by hand work exactly
  like downloaded ones.
* **One registry** of named sets, ``SOURCES`` (the idea of d2l's ``DATA_HUB``): where the
  archive is, its md5, which folder inside it holds the HR images and how many there are.
  ``find_dataset`` looks in the data directory first and downloads only what is missing.
* **Downloads never leave a file a later run trusts by mistake.** An archive is written
  into a temporary folder and moved into place only once its checksum matches; images
  are extracted into a temporary folder and a set's folder appears, by one rename, only
  once all its images are there. A corrupt download is deleted and reported with both
  hashes. Archives with no published checksum are checked by extracting them and counting
  the images instead.
* **Nothing compiled is needed for it.** Checksums, downloads and extraction use the
  standard library (``hashlib``, ``urllib``, ``tarfile``, ``zipfile``), not torchvision's
  helpers: importing torchvision loads its compiled operators, so a torchvision from
  another build than torch would stop every chapter at its first data access.
* **Only HR images are taken from the archives.** The LR images some packs ship were made
  with MATLAB's ``imresize``; this library makes its own with ``images.downscale``
  (Pillow's bicubic), the same function the metrics use, so training, evaluation and the
  paper's protocol agree.
"""

import contextlib
import errno
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import SRGANError

__all__ = ["data_dir", "Source", "SOURCES", "IMAGE_EXTENSIONS", "find_dataset", "list_images",
           "registered_name"]

# Extensions (lower case) that count as images when a folder is listed.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def calculate_md5(path, chunk=1 << 20):
    """The hex md5 of a file, read in 1 MiB chunks (a checksum, not a security measure)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def download_url(url, folder, filename):
    """Download ``url`` to ``folder / filename`` with a progress bar; return the path.

    Raises what ``urllib`` raises (``HTTPError``, ``URLError``, ``OSError``); a failed
    download leaves its partial file in ``folder``, which the caller's temporary folder
    removes.
    """
    from tqdm import tqdm

    target = Path(folder) / filename
    request = urllib.request.Request(url, headers={"User-Agent": "srgan_lib"})
    with urllib.request.urlopen(request, timeout=60) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=filename, leave=False) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))
    return target


def extract_archive(archive, folder):
    """Extract a ``.zip`` or a (possibly compressed) ``.tar`` into ``folder``.

    Tar members are extracted with the ``data`` filter where Python has it (no absolute
    paths, no links out of ``folder``, no device files).
    """
    if str(archive).lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(folder)
        return
    with tarfile.open(archive) as t:
        if hasattr(tarfile, "data_filter"):
            t.extractall(folder, filter="data")
        else:  # pragma: no cover - Python before 3.11.4
            t.extractall(folder)


def _checkout_root():
    """The project's root folder when the library runs from a source checkout, else None.

    A checkout is recognised by the ``pyproject.toml`` beside the ``srgan_lib`` package.
    """
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def data_dir():
    """The folder where named image sets are looked up and downloaded to.

    In order: the environment variable ``SRGAN_DATA`` when it is set; ``data/datasets`` of
    the source checkout when the library runs from one (the folder above the package holds
    ``pyproject.toml``; the folder is git-ignored); else ``~/.cache/srgan_lib/datasets``.
    A relative ``SRGAN_DATA`` (the README's ``../shared/datasets``) is taken relative to the
    project's root in a checkout, so the command line at the root, the tests and the
    chapters (whose kernels run in ``book/``) all find the same folder; an installed
    package takes it relative to the working directory. The folder is not created here.

    Returns:
        Path: the data directory (absolute).

    Explained in: book/11_data.ipynb
    """
    env = os.environ.get("SRGAN_DATA")
    root = _checkout_root()
    if env:
        path = Path(env).expanduser()
        return ((root or Path.cwd()) / path).resolve()  # an absolute path stays itself
    if root is not None:
        return root / "data" / "datasets"
    # An installed package: site-packages is no place for data, so use the user's cache.
    return Path.home() / ".cache" / "srgan_lib" / "datasets"


@dataclass(frozen=True)
class Source:
    """Where a named image set comes from.

    Args:
        url (str): the archive to download.
        archive (str): the archive's file name (its extension tells how to extract it).
        md5 (str | None): the archive's md5 as published, or ``None`` where nobody publishes
            one; the download is then checked by extracting it and counting the images.
        member (str): the folder inside the archive that holds the HR images.
        count (int): how many images that folder holds.
        split (str): ``'train'`` for training sets, ``'eval'`` for sets kept for
            evaluation (``TrainDataset`` warns when given one).

    Explained in: book/11_data.ipynb
    """

    url: str
    archive: str
    md5: str | None
    member: str
    count: int
    split: str = "train"


# Set5, Set14, BSD100 and Urban100 come in one archive, the EDSR "benchmark" pack; its md5
# is the one pinned by torchSR (Coloquinte/torchSR, torchsr/datasets/benchmarks.py).
_BENCHMARK_URL = "https://cv.snu.ac.kr/research/EDSR/benchmark.tar"
_BENCHMARK_MD5 = "4ace41d33c2384b97e6b320cd0afd6ba"
# DIV2K from ETH, the official host. The md5s are torchSR's (torchsr/datasets/div2k.py);
# TFDS publishes sha256 and sizes of the same files (tensorflow_datasets/datasets/div2k/
# checksums.tsv); this module checks md5.
_DIV2K_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
# T91 and BSD200 in LapSRN's training-set pack. Nobody publishes a checksum of this
# archive, so md5 is None and the download is checked by extraction and image counts.
_LAPSRN_URL = "http://vllab.ucmerced.edu/wlai24/LapSRN/results/SR_training_datasets.zip"

SOURCES = {
    "Set5": Source(_BENCHMARK_URL, "benchmark.tar", _BENCHMARK_MD5,
                   "benchmark/Set5/HR", 5, split="eval"),
    "Set14": Source(_BENCHMARK_URL, "benchmark.tar", _BENCHMARK_MD5,
                    "benchmark/Set14/HR", 14, split="eval"),
    "BSD100": Source(_BENCHMARK_URL, "benchmark.tar", _BENCHMARK_MD5,
                     "benchmark/B100/HR", 100, split="eval"),
    "Urban100": Source(_BENCHMARK_URL, "benchmark.tar", _BENCHMARK_MD5,
                       "benchmark/Urban100/HR", 100, split="eval"),
    "DIV2K": Source(_DIV2K_URL + "DIV2K_train_HR.zip", "DIV2K_train_HR.zip",
                    "bdc2d9338d4e574fe81bf7d158758658", "DIV2K_train_HR", 800),
    "DIV2K_valid": Source(_DIV2K_URL + "DIV2K_valid_HR.zip", "DIV2K_valid_HR.zip",
                          "9fcdda83005c5e5997799b69f955ff88", "DIV2K_valid_HR", 100,
                          split="eval"),
    "T91": Source(_LAPSRN_URL, "SR_training_datasets.zip", None, "T91", 91),
    "BSD200": Source(_LAPSRN_URL, "SR_training_datasets.zip", None, "BSDS200", 200),
}


def _image_files(folder):
    """The image files directly inside ``folder`` (unsorted; nothing if it is no folder)."""
    if not folder.is_dir():
        return []
    # Names starting with '.' are skipped: archives made on macOS carry '._name.png'
    # resource forks that have an image extension but are not images.
    return [p for p in folder.iterdir()
            if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
            and p.is_file()]


def list_images(folder):
    """The image files of a folder, sorted by name (sub-folders are not searched).

    Args:
        folder (str | Path): the folder.

    Returns:
        list[Path]: files whose extension is one of ``IMAGE_EXTENSIONS`` (any case),
        hidden files left out.

    Raises:
        SRGANError: ``folder`` does not exist or is not a folder.

    Explained in: book/11_data.ipynb
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "no such folder"
        raise SRGANError(f"{folder}: {what}; name a folder of images")
    return sorted(_image_files(folder))


def registered_name(name):
    """The key of ``SOURCES`` that ``name`` stands for, ignoring case, or None.

    Explained in: book/11_data.ipynb
    """
    if not isinstance(name, str):
        return None
    for known in SOURCES:
        if known.lower() == name.lower():
            return known
    return None


def _looks_like_path(name):
    return os.sep in name or "/" in name or name.startswith((".", "~"))


def _existing_folder(path):
    """``path`` as a folder that holds images, or an SRGANError saying what is wrong."""
    path = Path(path).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "no such folder"
        raise SRGANError(f"{path}: {what}; give a folder of images or a set name "
                         f"({', '.join(SOURCES)})")
    if not _image_files(path):
        raise SRGANError(f"{path}: holds no image files ({', '.join(IMAGE_EXTENSIONS)}); "
                         "put the images directly in this folder")
    return path


def find_dataset(name, download=True):
    """The folder of a named image set, downloading the set if it is missing.

    A name is looked up as ``data_dir() / name`` first: any folder there with image files
    counts as present, however it got there. A registered set that is missing is
    downloaded (with a progress bar), checked, and extracted there. Every set served by the
    same archive is extracted at the same time, so one archive is downloaded once.

    Args:
        name (str | Path): a set name (a key of ``SOURCES``, any case, or a folder name
            inside ``data_dir()``), or the path of a folder of images.
        download (bool): download a missing registered set; if false, a missing set is
            an error.

    Returns:
        Path: a folder holding the set's images.

    Raises:
        SRGANError: an unknown name (the message lists the known ones), a path that is not
            a folder of images, a missing set with ``download=False``, or a failed
            download (no network, a corrupt archive, a folder that cannot be written).

    Explained in: book/11_data.ipynb
    """
    if isinstance(name, os.PathLike):
        return _existing_folder(name)
    if not isinstance(name, str):
        raise TypeError(f"name must be a set name or a path, got {type(name).__name__}")
    if _looks_like_path(name):
        return _existing_folder(name)

    key = registered_name(name)
    folder = data_dir() / (key or name)
    if _image_files(folder):
        return folder
    if key is None:
        if Path(name).is_dir():  # a folder in the working directory, named without './'
            return _existing_folder(name)
        raise SRGANError(f"unknown data set {name!r} (no folder {folder} either): known sets "
                         f"are {', '.join(SOURCES)}; or give the path of a folder of images")
    if not download:
        raise SRGANError(f"{key} not found: no images in {folder}. Put the {key} images there, "
                         f"or set SRGAN_DATA to a folder that holds a {key}/ folder, or allow "
                         "downloading (download=True)")
    _install(key)
    return folder


def _make_folder(folder):
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SRGANError(f"{folder}: cannot create it ({err.strerror}); set SRGAN_DATA to a "
                         "writable folder") from None


def _install(name):
    """Download the archive of ``SOURCES[name]`` and extract every missing set it serves."""
    source = SOURCES[name]
    root = data_dir()
    if os.environ.get("SRGAN_DATA") and not root.is_dir():
        # Only the default folder is created; a set folder that is missing is a typo or a
        # wrong relative path far more often than a wish for a new folder.
        raise SRGANError(f"{root}: no such folder (SRGAN_DATA={os.environ['SRGAN_DATA']}); "
                         f"point SRGAN_DATA at the folder that holds {name}/, or create it "
                         "first to download there")
    wanted = [n for n, s in SOURCES.items()
              if s.url == source.url and not _image_files(root / n)]
    downloads = root / "downloads"
    _make_folder(downloads)
    archive = downloads / source.archive
    partial = None  # the temporary folder of a fresh download
    try:
        # An archive already in place is reused only if its md5 matches (one with no
        # published md5 is there because a person put it there; extraction checks it).
        if not (archive.is_file()
                and (source.md5 is None or calculate_md5(archive) == source.md5)):
            partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=downloads))
            fresh = _download(name, source, partial)
            if source.md5 is None:
                archive = fresh
            else:
                _check_md5(fresh, source, archive)
                # Only now may a later run trust the file: if extraction is interrupted, the
                # next run extracts this archive again instead of downloading it again.
                os.replace(fresh, archive)
        _extract_sets(archive, source, wanted, root)
    except BaseException:
        if source.md5 is None:
            archive.unlink(missing_ok=True)  # unverified, and it just failed: never reuse it
        raise
    else:
        archive.unlink(missing_ok=True)  # the images are in place; the archive is not needed
    finally:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)
        with contextlib.suppress(OSError):
            downloads.rmdir()  # only succeeds when empty: a kept archive stays


def _download(name, source, folder):
    """Download ``source.url`` into ``folder`` (with a progress bar)."""
    root = data_dir()
    by_hand = (f"Without network, put the {name} images in {root / name}, or set SRGAN_DATA "
               f"to a folder that holds a {name}/ folder of images")
    try:
        download_url(source.url, os.fspath(folder), filename=source.archive)
    except urllib.error.HTTPError as err:
        raise SRGANError(f"{source.url}: the server answered HTTP {err.code} ({err.reason}); "
                         f"the archive may have moved. {by_hand}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        if getattr(err, "errno", None) in (errno.ENOSPC, errno.EACCES, errno.EROFS):
            raise SRGANError(f"{folder}: cannot write the download ({err.strerror}); free "
                             "some disk space or set SRGAN_DATA to another folder") from None
        reason = getattr(err, "reason", None) or err
        raise SRGANError(f"could not download {source.url} ({reason}): is this machine "
                         f"connected to the network? {by_hand}") from None
    return folder / source.archive


def _check_md5(path, source, final):
    actual = calculate_md5(path)
    if actual != source.md5:
        path.unlink(missing_ok=True)
        raise SRGANError(f"{final.name} from {source.url}: checksum mismatch, md5 {actual} "
                         f"but expected {source.md5}; the download is corrupt or incomplete "
                         "and was deleted: run again to download it again")


def _extract_sets(archive, source, wanted, root):
    """Extract ``archive`` and move the images of each set in ``wanted`` to ``root / set``."""
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    except OSError as err:
        raise SRGANError(f"{root}: cannot write to it ({err.strerror}); set SRGAN_DATA to a "
                         "writable folder") from None
    try:
        try:
            extract_archive(os.fspath(archive), os.fspath(scratch))
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
            if source.md5 is None:  # nothing vouched for the file: assume it is damaged
                raise SRGANError(f"{archive.name} from {source.url}: the archive is corrupt or "
                                 f"truncated ({err}); it was deleted: run again to download "
                                 "it again") from None
            raise SRGANError(f"{archive}: extraction failed ({err}); check the free disk "
                             f"space in {root}") from None
        # Check every set before moving any, so a bad archive installs nothing at all.
        found = {}
        for name in wanted:
            member = SOURCES[name].member
            found[name] = _image_files(scratch / member)
            if len(found[name]) != SOURCES[name].count:
                raise SRGANError(f"{archive.name} from {source.url}: expected "
                                 f"{SOURCES[name].count} images in {member}/, found "
                                 f"{len(found[name])}; the archive is incomplete or its "
                                 f"layout changed: put the {name} images in {root / name}")
        for name, files in found.items():
            staging = scratch / f".set-{name}"
            staging.mkdir()
            for f in files:
                os.replace(f, staging / f.name)
            _move_into_place(staging, root / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move_into_place(staging, target):
    """Rename the complete folder ``staging`` to ``target``: the set appears all at once."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()  # an empty folder left by hand: rename cannot replace it otherwise
    try:
        os.replace(staging, target)
    except OSError as err:
        if _image_files(target):
            return  # another process installed the set meanwhile
        raise SRGANError(f"{target}: cannot create the set folder ({err.strerror}); it exists "
                         "without images: move it away and run again") from None
