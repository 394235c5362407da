"""Data: the data directory, named sets and their downloads, training and evaluation datasets.

Downloads are tested for real, against an HTTP server on 127.0.0.1 serving archives made
here, since no machine of the project reaches the internet.
"""

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import srgan_lib.data as data
import srgan_lib.sources as sources
from srgan_lib.data import DEMO_IMAGES, EvalDataset, TrainDataset, demo_image
from srgan_lib.sources import Source, data_dir, find_dataset, list_images, registered_name
from srgan_lib.errors import SRGANError
from srgan_lib.images import IMAGENET_MEAN, IMAGENET_STD, convert_image, downscale

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def make_images(folder, sizes, ext=".png", seed=0):
    """Write random RGB images of the given (width, height) sizes; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (w, h) in enumerate(sizes):
        path = folder / f"img{i:02d}{ext}"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def png_bytes(w=24, h=20, seed=0):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def make_archive(path, members):
    """Write a .tar or .zip at ``path``; ``members`` maps a folder inside it to an image count.

    Each folder also gets a README.txt, which must not be taken for an image.
    """
    files = {}
    for member, n in members.items():
        files[f"{member}/README.txt"] = b"not an image"
        for i in range(n):
            files[f"{member}/im{i}.png"] = png_bytes(seed=i)
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as z:
            for name, blob in files.items():
                z.writestr(name, blob)
    else:
        with tarfile.open(path, "w") as t:
            for name, blob in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(blob)
                t.addfile(info, io.BytesIO(blob))
    return hashlib.md5(path.read_bytes()).hexdigest()


def tree(folder):
    """Every path under ``folder``, relative, sorted (empty if it does not exist)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.fixture
def datadir(tmp_path, monkeypatch):
    root = tmp_path / "data"
    root.mkdir()  # SRGAN_DATA names a folder that exists: the library never creates it
    monkeypatch.setenv("SRGAN_DATA", str(root))
    return root


# --- data_dir ---------------------------------------------------------------------------

def test_data_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SRGAN_DATA", str(tmp_path / "sets"))
    assert data_dir() == (tmp_path / "sets").resolve()


def test_relative_data_dir_is_taken_from_the_project_root(tmp_path, monkeypatch):
    # The README's form, from another working directory (a chapter's kernel runs in book/).
    repo = Path(sources.__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SRGAN_DATA", "../shared/datasets")
    assert data_dir() == (repo.parent / "shared" / "datasets").resolve()
    monkeypatch.setenv("SRGAN_DATA", "sets")
    assert data_dir() == repo / "sets"
    assert not (tmp_path / "sets").exists() and not (repo / "sets").exists()


@pytest.mark.skipif(not SHARED_DATASETS.is_dir(), reason="needs ../shared/datasets")
def test_relative_data_dir_finds_the_sets_from_book(monkeypatch):
    repo = Path(sources.__file__).resolve().parents[1]
    monkeypatch.chdir(repo / "book")
    monkeypatch.setenv("SRGAN_DATA", "../shared/datasets")
    assert find_dataset("Set5") == SHARED_DATASETS.resolve() / "Set5"
    assert not (repo / "shared").exists() and not (repo / "book" / "shared").exists()


def test_a_missing_data_dir_is_not_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for value in (str(tmp_path / "typo"), "../no/such/folder"):
        monkeypatch.setenv("SRGAN_DATA", value)
        with pytest.raises(SRGANError, match="no such folder") as err:
            find_dataset("Set5")
        assert str(data_dir()) in str(err.value) and "SRGAN_DATA" in str(err.value)
        assert not data_dir().exists()
    assert tree(tmp_path) == []


@pytest.mark.skipif(not SHARED_DATASETS.is_dir(), reason="needs ../shared/datasets")
def test_book_conftest_exports_an_absolute_data_dir_to_the_kernels():
    repo = Path(sources.__file__).resolve().parents[1]
    code = (f"import os, runpy; runpy.run_path({str(repo / 'book' / 'conftest.py')!r})"
            "['pytest_configure'](None); print(os.environ['SRGAN_DATA'])")
    env = {**os.environ, "SRGAN_DATA": "../shared/datasets", "PYTHONPATH": str(repo)}
    run = subprocess.run([sys.executable, "-c", code], cwd=repo / "book", env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == str(SHARED_DATASETS.resolve())


def test_plain_pytest_stops_at_once_without_the_sets(tmp_path):
    repo = Path(sources.__file__).resolve().parents[1]
    env = {**os.environ, "SRGAN_DATA": str(tmp_path), "PYTHONPATH": str(repo)}
    run = subprocess.run([sys.executable, "-m", "pytest", "book", "--collect-only", "-q",
                          "-p", "no:cacheprovider"], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=120)
    out = (run.stdout + run.stderr).strip()
    assert run.returncode == 4 and len(out.splitlines()) == 1
    assert "SRGAN_DATA" in out and "Set5" in out and "T91" in out


def test_data_dir_default_in_checkout(monkeypatch):
    monkeypatch.delenv("SRGAN_DATA", raising=False)
    repo = Path(sources.__file__).resolve().parents[1]
    assert (repo / "pyproject.toml").is_file()
    assert data_dir() == repo / "data" / "datasets"


def test_data_dir_default_when_installed(tmp_path, monkeypatch):
    monkeypatch.delenv("SRGAN_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sources, "__file__",
                        str(tmp_path / "site-packages/srgan_lib/sources.py"))
    assert data_dir() == tmp_path / "home" / ".cache" / "srgan_lib" / "datasets"


# --- list_images and find_dataset (local) -----------------------------------------------

def test_list_images_sorted_and_filtered(tmp_path):
    for name in ["b.PNG", "a.jpg", "c.Tiff", "d.webp", "e.bmp", "f.jpeg", "notes.txt",
                 "._a.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.Tiff", "d.webp",
                                                       "e.bmp", "f.jpeg"]
    with pytest.raises(SRGANError, match="no such folder"):
        list_images(tmp_path / "missing")


def test_find_dataset_in_data_dir(datadir):
    make_images(datadir / "MySet", [(20, 20)] * 3)
    make_images(datadir / "Set5", [(20, 20)] * 2)
    assert find_dataset("MySet") == datadir / "MySet"
    # Registered names are found in any case, without downloading anything.
    assert find_dataset("set5", download=False) == datadir / "Set5"


def test_find_dataset_accepts_a_path(tmp_path, datadir):
    make_images(tmp_path / "mine", [(20, 20)] * 2)
    assert find_dataset(tmp_path / "mine") == tmp_path / "mine"
    assert find_dataset(str(tmp_path / "mine")) == tmp_path / "mine"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SRGANError, match="holds no image files"):
        find_dataset(tmp_path / "empty")
    with pytest.raises(SRGANError, match="no such folder"):
        find_dataset(str(tmp_path / "nowhere"))


def test_find_dataset_unknown_name_lists_known_ones(datadir):
    with pytest.raises(SRGANError) as err:
        find_dataset("Set6")
    assert "Set6" in str(err.value)
    for name in ("Set5", "Set14", "BSD100", "Urban100", "DIV2K", "T91", "BSD200"):
        assert name in str(err.value)


def test_find_dataset_missing_without_download(datadir):
    with pytest.raises(SRGANError, match="SRGAN_DATA") as err:
        find_dataset("Set14", download=False)
    assert str(datadir / "Set14") in str(err.value)
    assert tree(datadir) == []  # nothing written when nothing is downloaded


# --- downloads, against a local server --------------------------------------------------

def test_registered_name_ignores_case():
    assert registered_name("set5") == "Set5" and registered_name("BSD100") == "BSD100"
    assert registered_name("Set6") is None and registered_name(Path("Set5")) is None


def register(monkeypatch, **entries):
    monkeypatch.setattr(sources, "SOURCES", entries)


def test_download_tar_serves_all_its_sets_once(datadir, server, monkeypatch):
    md5 = make_archive(server.root / "pack.tar", {"pack/A/HR": 3, "pack/B/HR": 2})
    url = server.url + "pack.tar"
    register(monkeypatch, A=Source(url, "pack.tar", md5, "pack/A/HR", 3),
             B=Source(url, "pack.tar", md5, "pack/B/HR", 2))

    folder = find_dataset("A")
    assert folder == datadir / "A"
    assert [p.name for p in list_images(folder)] == ["im0.png", "im1.png", "im2.png"]
    assert (folder / "im1.png").read_bytes() == png_bytes(seed=1)
    n_requests = len(server.requests)
    assert n_requests >= 1

    # B came out of the same archive: no second download, and neither for A again.
    assert len(list_images(find_dataset("B"))) == 2
    find_dataset("A")
    assert len(server.requests) == n_requests
    # Only the two sets are left: no archive, no temporary folders.
    assert tree(datadir) == ["A", "A/im0.png", "A/im1.png", "A/im2.png",
                             "B", "B/im0.png", "B/im1.png"]


def test_download_zip_without_checksum(datadir, server, monkeypatch):
    make_archive(server.root / "train.zip", {"T9": 4})
    register(monkeypatch, T9=Source(server.url + "train.zip", "train.zip", None, "T9", 4))
    assert len(list_images(find_dataset("T9"))) == 4
    assert tree(datadir) == ["T9"] + [f"T9/im{i}.png" for i in range(4)]


def test_verified_archive_in_downloads_is_reused(datadir, server, monkeypatch):
    # What an interrupted extraction leaves: a checked archive, which must not be fetched again.
    (datadir / "downloads").mkdir(parents=True)
    md5 = make_archive(datadir / "downloads" / "pack.tar", {"S/HR": 2})
    register(monkeypatch, S=Source(server.url + "pack.tar", "pack.tar", md5, "S/HR", 2))
    assert len(list_images(find_dataset("S"))) == 2
    assert server.requests == []


def test_corrupt_archive_names_both_hashes_and_leaves_nothing(datadir, server, monkeypatch):
    good_md5 = make_archive(server.root / "pack.tar", {"pack/A/HR": 3})
    blob = bytearray((server.root / "pack.tar").read_bytes())
    blob[2000] ^= 0xFF  # one flipped byte inside an image
    (server.root / "pack.tar").write_bytes(bytes(blob))
    bad_md5 = hashlib.md5(bytes(blob)).hexdigest()
    register(monkeypatch, A=Source(server.url + "pack.tar", "pack.tar", good_md5,
                                   "pack/A/HR", 3))

    with pytest.raises(SRGANError) as err:
        find_dataset("A")
    message = str(err.value)
    assert good_md5 in message and bad_md5 in message and "pack.tar" in message
    assert tree(datadir) == []


@pytest.mark.parametrize("archive", ["pack.tar", "pack.zip"])
def test_truncated_archive_without_checksum_leaves_nothing(datadir, server, monkeypatch,
                                                           archive):
    make_archive(server.root / archive, {"pack/A": 3})
    blob = (server.root / archive).read_bytes()
    cut = len(blob) // 2
    if archive.endswith(".tar"):
        # Cut inside the last image's data: a tar cut between members reads as a valid,
        # shorter tar, which the image count catches (test_wrong_image_count_...).
        with tarfile.open(server.root / archive) as t:
            last = t.getmembers()[-1]
        cut = last.offset_data + last.size // 2
    (server.root / archive).write_bytes(blob[:cut])
    register(monkeypatch, A=Source(server.url + archive, archive, None, "pack/A", 3))

    with pytest.raises(SRGANError, match="corrupt or truncated"):
        find_dataset("A")
    assert tree(datadir) == []


def test_wrong_image_count_installs_nothing(datadir, server, monkeypatch):
    make_archive(server.root / "pack.zip", {"A": 3, "B": 1})
    url = server.url + "pack.zip"
    register(monkeypatch, A=Source(url, "pack.zip", None, "A", 3),
             B=Source(url, "pack.zip", None, "B", 2))  # one image short
    with pytest.raises(SRGANError, match="expected 2 images"):
        find_dataset("A")
    assert tree(datadir) == []  # not even A, which was complete


def test_unreachable_server_says_network_and_srgan_data(datadir, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/pack.tar"
    register(monkeypatch, A=Source(url, "pack.tar", "0" * 32, "pack/A", 3))
    with pytest.raises(SRGANError) as err:
        find_dataset("A")
    assert "network" in str(err.value) and "SRGAN_DATA" in str(err.value)
    assert tree(datadir) == []


def test_missing_file_on_server_gives_http_status(datadir, server, monkeypatch):
    register(monkeypatch, A=Source(server.url + "gone.tar", "gone.tar", None, "A", 1))
    with pytest.raises(SRGANError, match="HTTP 404"):
        find_dataset("A")
    assert tree(datadir) == []


# --- TrainDataset -----------------------------------------------------------------------

LR_MIN = min((0 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True))
LR_MAX = max((1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True))


@pytest.mark.parametrize("scale, crop", [(4, 24), (2, 16)])
def test_train_dataset_shapes_and_ranges(tmp_path, scale, crop):
    make_images(tmp_path / "set", [(40, 30), (33, 50)])
    ds = TrainDataset(tmp_path / "set", crop_size=crop, scale=scale, crops_per_image=3)
    assert len(ds) == 6
    for i in range(len(ds)):
        lr, hr = ds[i]
        assert lr.shape == (3, crop // scale, crop // scale) and lr.dtype == torch.float32
        assert hr.shape == (3, crop, crop) and hr.dtype == torch.float32
        assert hr.min() >= -1 and hr.max() <= 1
        assert lr.min() >= LR_MIN - 1e-5 and lr.max() <= LR_MAX + 1e-5
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_train_dataset_lr_is_downscale_of_hr(tmp_path):
    make_images(tmp_path / "set", [(64, 48)])
    lr, hr = TrainDataset(tmp_path / "set", crop_size=32, scale=4)[0]
    expected = downscale(convert_image(hr, "[-1, 1]", "pil"), 4)
    assert torch.allclose(lr, convert_image(expected, "pil", "imagenet-norm"), atol=1e-5)


def test_train_dataset_decodes_each_image_once(tmp_path, monkeypatch):
    make_images(tmp_path / "set", [(40, 40)] * 3)
    calls = []
    original = data.load_image

    def counting_load_image(path, *args, **kwargs):
        calls.append(Path(path).name)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(data, "load_image", counting_load_image)
    ds = TrainDataset(tmp_path / "set", crop_size=16, scale=4, crops_per_image=5)
    for _ in range(2):
        for i in range(len(ds)):
            ds[i]
    assert sorted(calls) == ["img00.png", "img01.png", "img02.png"]


def test_train_dataset_reproducible_with_manual_seed(tmp_path):
    make_images(tmp_path / "set", [(120, 100)])
    ds = TrainDataset(tmp_path / "set", crop_size=16, scale=4)
    torch.manual_seed(0)
    a = ds[0]
    torch.manual_seed(0)
    b = ds[0]
    torch.manual_seed(1)
    c = ds[0]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


def test_train_dataset_leaves_out_small_images(tmp_path):
    make_images(tmp_path / "set", [(40, 40), (40, 20), (15, 60), (32, 32)])
    with pytest.warns(UserWarning, match=r"left out 2 of 4 images smaller than 32") as rec:
        ds = TrainDataset(tmp_path / "set", crop_size=32, scale=4)
    assert "img01.png" in str(rec[0].message) and "img02.png" in str(rec[0].message)
    assert [f.name for f in ds.files] == ["img00.png", "img03.png"]
    assert len(ds) == 2


def test_train_dataset_all_images_too_small(tmp_path):
    make_images(tmp_path / "set", [(20, 20), (30, 10)])
    with pytest.raises(SRGANError, match="smaller crop_size"):
        TrainDataset(tmp_path / "set", crop_size=32, scale=4)


def test_train_dataset_crop_must_divide_by_scale(tmp_path):
    make_images(tmp_path / "set", [(40, 40)])
    with pytest.raises(ValueError, match="not divisible"):
        TrainDataset(tmp_path / "set", crop_size=30, scale=4)


def test_train_dataset_several_sources(tmp_path, datadir):
    make_images(datadir / "One", [(40, 40)] * 2)
    make_images(tmp_path / "two", [(40, 40)] * 3, ext=".jpg")
    ds = TrainDataset(["One", tmp_path / "two"], crop_size=16, scale=4)
    assert len(ds) == 5


# --- EvalDataset --------------------------------------------------------------------------

def test_eval_dataset_protocol_sizes(tmp_path, datadir):
    make_images(datadir / "Tiny", [(50, 41), (64, 64), (23, 30)])
    ds = EvalDataset("Tiny", scale=4)
    assert ds.name == "Tiny" and len(ds) == 3
    for i, (w, h) in enumerate([(48, 40), (64, 64), (20, 28)]):
        name, lr, hr = ds[i]
        assert name == f"img{i:02d}"
        assert hr.size == (w, h) and lr.size == (w // 4, h // 4)
        assert hr.mode == lr.mode == "RGB"
    assert EvalDataset(datadir / "Tiny", scale=2)[0][2].size == (50, 40)


# --- demo images ------------------------------------------------------------------------

DEMO_SIZES = {"astronaut": (512, 512), "coffee": (600, 400), "chelsea": (451, 300),
              "rocket": (640, 427), "hubble_deep_field": (1000, 872),
              "immunohistochemistry": (512, 512), "retina": (1411, 1411),
              "camera": (512, 512), "coins": (384, 303), "moon": (512, 512),
              "page": (384, 191), "text": (448, 172), "clock": (400, 300),
              "brick": (512, 512), "grass": (512, 512), "gravel": (512, 512),
              "cell": (550, 660), "microaneurysms": (102, 102)}


def test_demo_images_are_rgb_of_known_size():
    assert set(DEMO_IMAGES) == set(DEMO_SIZES)
    for name in DEMO_IMAGES:
        img = demo_image(name)
        assert img.mode == "RGB" and img.size == DEMO_SIZES[name], name
    assert demo_image().size == (512, 512)


def test_demo_image_unknown_name():
    with pytest.raises(ValueError, match="astronaut"):
        demo_image("lena")


# --- the real sets in ../shared/datasets (present here and in CI) ------------------------

def test_shared_set5_and_t91(monkeypatch):
    monkeypatch.setenv("SRGAN_DATA", str(SHARED_DATASETS))
    assert len(list_images(find_dataset("Set5", download=False))) == 5
    ds_eval = EvalDataset("Set5")
    assert ds_eval.name == "Set5" and [ds_eval[i][0] for i in range(5)] == [
        "baby", "bird", "butterfly", "head", "woman"]

    small = [f for f in list_images(SHARED_DATASETS / "T91")
             if min(Image.open(f).size) < 96]
    assert small  # T91 has images from 78 px up
    with pytest.warns(UserWarning, match=f"left out {len(small)} of 91 images"):
        ds = TrainDataset("T91", crop_size=96)
    assert len(ds) == 91 - len(small)
    lr, hr = ds[0]
    assert lr.shape == (3, 24, 24) and hr.shape == (3, 96, 96)


def test_training_on_an_evaluation_set_warns(monkeypatch):
    monkeypatch.setenv("SRGAN_DATA", str(SHARED_DATASETS))
    with pytest.warns(UserWarning, match="evaluation set"):
        TrainDataset("Set5", crop_size=96)


def test_crop_pair_follows_its_generator_and_exclude_leaves_files_out(datadir):
    files = make_images(datadir / "S", [(64, 64), (80, 72), (70, 70)])
    dataset = TrainDataset("S", crop_size=32, scale=4, exclude=[files[1]])
    assert dataset.files == [files[0], files[2]]
    a = dataset.crop_pair(1, torch.Generator().manual_seed(5))
    b = dataset.crop_pair(1, torch.Generator().manual_seed(5))
    assert torch.equal(a[1], b[1]) and a[0].shape == (3, 8, 8)


def test_stand_in_sources_are_downloaded_by_the_registry(datadir, server, monkeypatch,
                                                         tmp_path):
    # The smoke run's override: SRGAN_SMOKE_SOURCES names a JSON of stand-in archives,
    # which the real download code fetches from 127.0.0.1 and checks against their md5.
    from srgan_lib import smoke, toy
    from srgan_lib.config import TrainConfig

    monkeypatch.setattr(TrainConfig, "preset", TrainConfig.__dict__["preset"])
    monkeypatch.setattr(toy, "train_toy", toy.train_toy)
    monkeypatch.setattr(sources, "SOURCES", dict(sources.SOURCES))
    md5 = make_archive(server.root / "small.zip", {"DIV2K_train_HR": 3})
    table = {"DIV2K": dict(url=server.url + "small.zip", archive="small.zip", md5=md5,
                           member="DIV2K_train_HR", count=3)}
    (tmp_path / "stand_ins.json").write_text(json.dumps(table))
    monkeypatch.setenv("SRGAN_SMOKE_SOURCES", str(tmp_path / "stand_ins.json"))
    smoke.install()
    assert [p.name for p in list_images(find_dataset("DIV2K"))] == ["im0.png", "im1.png",
                                                                    "im2.png"]
    assert server.requests and all(r == "/small.zip" for r in server.requests)


def test_training_crops_start_at_every_offset_modulo_the_scale(tmp_path):
    # Pixel (x, y) of the image is (x, y, 0): a crop's top-left pixel tells where it starts.
    # Crops drawn only at multiples of the scale would keep the LR grid aligned with the
    # image's, which a network could learn; they must start anywhere.
    x, y = np.meshgrid(np.arange(120), np.arange(100))
    (tmp_path / "set").mkdir()
    Image.fromarray(np.stack([x, y, 0 * x], -1).astype(np.uint8)).save(tmp_path / "set" / "a.png")
    dataset = TrainDataset(tmp_path / "set", crop_size=16, scale=4)
    lefts, tops = set(), set()
    for seed in range(200):
        _, hr = dataset.crop_pair(0, torch.Generator().manual_seed(seed))
        rgb = np.rint((hr[:, 0, 0].numpy() + 1) / 2 * 255).astype(int)
        lefts.add(int(rgb[0]))
        tops.add(int(rgb[1]))
    assert {v % 4 for v in lefts} == {0, 1, 2, 3} and {v % 4 for v in tops} == {0, 1, 2, 3}
    assert max(lefts) <= 120 - 16 and max(tops) <= 100 - 16 and min(lefts | tops) >= 0


def test_a_cache_maps_decoded_images_from_disk_with_the_same_crops(tmp_path, monkeypatch):
    files = make_images(tmp_path / "set", [(64, 48), (50, 70)])
    in_memory = TrainDataset(tmp_path / "set", crop_size=32, scale=4)
    calls = []
    original = data.load_image
    monkeypatch.setattr(data, "load_image", lambda p, *a, **k: calls.append(p) or original(p))
    cached = TrainDataset(tmp_path / "set", crop_size=32, scale=4, cache=tmp_path / "decoded")
    assert len(calls) == 2 and len(list((tmp_path / "decoded").glob("*.npy"))) == 2
    assert not list((tmp_path / "decoded").glob(".*"))  # no temporary file left behind
    for i, img in enumerate(cached.images):
        assert isinstance(img, np.memmap) and not img.flags.writeable
        assert np.array_equal(img, in_memory.images[i])
        a = in_memory.crop_pair(i, torch.Generator().manual_seed(3))
        b = cached.crop_pair(i, torch.Generator().manual_seed(3))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    TrainDataset(tmp_path / "set", crop_size=32, scale=4, cache=tmp_path / "decoded")
    assert len(calls) == 2  # decoded once: the second dataset maps the files
    os.utime(files[0], ns=(1, 1))  # an edited image is decoded again
    TrainDataset(tmp_path / "set", crop_size=32, scale=4, cache=tmp_path / "decoded")
    assert calls[2:] == [files[0]]


_ANON = """
import sys
from pathlib import Path
from srgan_lib.data import TrainDataset

def anon():
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss_Anon:"):
            return int(line.split()[1]) / 1024

before = anon()
ds = TrainDataset(sys.argv[1], crop_size=32, scale=4, cache=sys.argv[2] or None)
for i in range(len(ds.images)):
    ds.crop_pair(i)
print(anon() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux /proc only")
def test_memory_mapped_images_stay_out_of_the_process_private_memory(tmp_path):
    # 12 images of 1200x900: 39 MB decoded. In memory they are the process's own; mapped,
    # they are page cache, which every process shares and the kernel can take back.
    make_images(tmp_path / "set", [(1200, 900)] * 12)
    grown = {}
    for mode, cache in (("memory", ""), ("disk", str(tmp_path / "decoded"))):
        run = subprocess.run([sys.executable, "-c", _ANON, str(tmp_path / "set"), cache],
                             capture_output=True, text=True, env={**os.environ,
                                                                  "TQDM_DISABLE": "1"})
        assert run.returncode == 0, run.stderr
        grown[mode] = float(run.stdout.split()[-1])
    assert grown["memory"] > 35  # MB: the decoded pixels
    assert grown["disk"] < 8  # MB: a few crops' worth, whatever the images' size
