"""Shared test set-up: the data directory CI uses, and small fixtures."""

import http.server
import os
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def pytest_configure(config):
    """Stop at once with one line when torch and torchvision come from different builds."""
    from srgan_lib.errors import SRGANError, check_torchvision

    try:
        check_torchvision()
    except SRGANError as err:
        pytest.exit(str(err), returncode=4)


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch):
    """Point SRGAN_DATA at the shared image sets unless the caller set it already (as CI does).

    A relative SRGAN_DATA is made absolute the library's way (``sources.data_dir``: from the
    project root), so subprocesses started from other folders find the same sets.
    """
    from srgan_lib.sources import data_dir

    if "SRGAN_DATA" not in os.environ:
        monkeypatch.setenv("SRGAN_DATA", str(SHARED_DATASETS))
    else:
        monkeypatch.setenv("SRGAN_DATA", str(data_dir()))
    # book/conftest.py switches ImageNet VGG weights off for the notebooks; unit tests
    # that need the switch set it themselves.
    monkeypatch.delenv("SRGAN_VGG_WEIGHTS", raising=False)


@pytest.fixture
def hub_dir(tmp_path):
    """An empty torch hub cache in tmp_path for the test; the previous one is restored."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(old)


@pytest.fixture
def cached_vgg19(hub_dir):
    """A stand-in for torchvision's ImageNet VGG19 file in the hub cache: the features'
    tensors with known random values (the classifier is never loaded). Returns them."""
    from srgan_lib.vgg import TruncatedVGG19

    torch.manual_seed(0)
    features = TruncatedVGG19(5, 4, weights=None).truncated_vgg19
    state = {f"features.{k}": torch.randn_like(v) for k, v in features.state_dict().items()}
    (hub_dir / "checkpoints").mkdir()
    torch.save(state, hub_dir / "checkpoints" / "vgg19-dcbb9e9d.pth")
    return state


@pytest.fixture(scope="session")
def write_png16():
    """``write(path, array)``: a (H, W) or (H, W, 3) uint16 array as a 16-bit PNG (greyscale
    or 48-bit RGB). Pillow writes the first but not the second, so the PNG is built here:
    the signature, an IHDR, one zlib-compressed IDAT of unfiltered rows, an IEND."""
    import struct
    import zlib

    import numpy as np

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    def write(path, array):
        array = np.asarray(array)
        assert array.dtype == np.uint16 and array.ndim in (2, 3)
        h, w = array.shape[:2]
        colour_type = 0 if array.ndim == 2 else 2  # greyscale, or RGB
        rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in array)
        header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                         + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
        return path

    return write


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A real HTTP server on 127.0.0.1 serving ``server.root``; it counts requests."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def send_head(self):
            requests.append(self.path)
            return super().send_head()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{httpd.server_port}/",
                          requests=requests)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def displayed():
    """A function that displays an object as IPython would and returns the data it published."""
    from IPython.core.interactiveshell import InteractiveShell

    def show(obj):
        shown = []
        shell = InteractiveShell.instance()
        original = shell.display_pub.publish
        shell.display_pub.publish = lambda data, *args, **kwargs: shown.append(data)
        try:
            shell.display_formatter.format(obj)
        finally:
            shell.display_pub.publish = original
        return shown

    return show
