"""A broken install and cached downloads: torch and torchvision from different builds give
one line naming both versions and the fix; the data module works without torchvision; an
archive already in downloads/ is trusted only when its checksum matches."""

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import srgan_lib.__main__ as cli
import srgan_lib.sources as sources
from srgan_lib.errors import SRGANError, check_torchvision, install_error

ROOT = Path(__file__).resolve().parents[1]
MISMATCH = "operator torchvision::nms does not exist"

# Put before every other finder, it makes `import torchvision` fail as a torchvision built
# for another torch does.
BREAK_TORCHVISION = f"""
import sys
class _Broken:
    def find_spec(self, name, path=None, target=None):
        if name == "torchvision" or name.startswith("torchvision."):
            raise RuntimeError({MISMATCH!r})
        return None
sys.meta_path.insert(0, _Broken())
"""


@pytest.fixture
def broken_torchvision(monkeypatch):
    """``import torchvision`` raises the mismatch's RuntimeError for the test's duration."""
    namespace = {}
    exec(BREAK_TORCHVISION.replace("sys.meta_path.insert(0, _Broken())", ""), namespace)
    monkeypatch.setattr(sys, "meta_path", [namespace["_Broken"](), *sys.meta_path])
    for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)


def test_check_torchvision_names_both_versions_and_the_fix(broken_torchvision):
    from importlib import metadata

    with pytest.raises(SRGANError) as err:
        check_torchvision()
    message = str(err.value)
    assert "\n" not in message and MISMATCH in message
    assert metadata.version("torch") in message and metadata.version("torchvision") in message
    assert "reinstall both from the same index" in message


def test_other_errors_are_not_called_a_mismatch():
    assert install_error(RuntimeError("CUDA out of memory")) is None
    assert install_error(ValueError(MISMATCH)) is None
    assert install_error(RuntimeError(MISMATCH)) is not None


def test_the_command_line_turns_the_mismatch_into_one_line(broken_torchvision, monkeypatch,
                                                           capsys, tmp_path):
    def needs_torchvision(args):
        import torchvision  # noqa: F401

    monkeypatch.setattr(cli, "_export", needs_torchvision)
    assert cli.main(["export", "srgan", "-o", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "torchvision" in err and "Traceback" not in err


def test_the_data_module_needs_no_torchvision(tmp_path):
    """Checksums, downloads' helpers and the data sets import and run with torchvision
    broken (in a fresh interpreter, so this process's torchvision is left alone)."""
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"srgan" * 1000)
    code = BREAK_TORCHVISION + f"""
import srgan_lib.sources as s, srgan_lib.data, srgan_lib.upscale, srgan_lib.evaluate
print(s.calculate_md5({str(blob)!r}))
try:
    import torchvision
except RuntimeError:
    print("broken")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [hashlib.md5(blob.read_bytes()).hexdigest(), "broken"]


# --- an archive already in downloads/ --------------------------------------------------

def _png(seed):
    buf = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _tar(path, n):
    with tarfile.open(path, "w") as t:
        for i in range(n):
            blob = _png(i)
            info = tarfile.TarInfo(f"S/HR/im{i}.png")
            info.size = len(blob)
            t.addfile(info, io.BytesIO(blob))
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_corrupt_archive_in_downloads_is_downloaded_again(tmp_path, server, monkeypatch):
    datadir = tmp_path / "data"
    (datadir / "downloads").mkdir(parents=True)
    monkeypatch.setenv("SRGAN_DATA", str(datadir))
    md5 = _tar(server.root / "pack.tar", 2)
    cached = bytearray((server.root / "pack.tar").read_bytes())
    cached[1500] ^= 0xFF  # one flipped byte inside the first image: the tar still extracts
    (datadir / "downloads" / "pack.tar").write_bytes(bytes(cached))
    monkeypatch.setattr(sources, "SOURCES",
                        {"S": sources.Source(server.url + "pack.tar", "pack.tar", md5, "S/HR", 2)})

    folder = sources.find_dataset("S")
    assert server.requests == ["/pack.tar"]  # the cached copy failed its md5
    assert [p.read_bytes() for p in sources.list_images(folder)] == [_png(0), _png(1)]


def test_a_chapter_set_up_stops_in_one_line(broken_torchvision):
    from srgan_lib import book

    with pytest.raises(SystemExit) as stop:
        book.setup()
    assert MISMATCH in str(stop.value) and "\n" not in str(stop.value)


@pytest.mark.parametrize("target", ["tests/test_nbval_images.py", "book/01_sr_problem.ipynb"])
def test_pytest_stops_in_one_line(target):
    """pytest on a mismatched install: one line and status 4, not an INTERNALERROR."""
    run = f"{BREAK_TORCHVISION}\nimport pytest\nsys.exit(pytest.main(['-q', '--co', {target!r}]))"
    done = subprocess.run([sys.executable, "-c", run], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 4, out[-2000:]
    assert MISMATCH in out and "reinstall both from the same index" in out
    assert "INTERNALERROR" not in out and "Traceback" not in out
