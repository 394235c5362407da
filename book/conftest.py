"""Settings for `pytest --nbval book/`: the kernels nbval starts inherit this environment.

The committed outputs come from the CPU `quick` profile with progress bars off (a bar's text
holds rates and times, which differ on every run), so the check runs the same way.

The chapters read Set5, Set14, T91 and BSD200. The data directory is found as the unit
tests find it (`SRGAN_DATA`, else `../shared/datasets` beside the checkout, else
`data/datasets`), resolved the library's way (`srgan_lib.sources.data_dir`: a relative
`SRGAN_DATA` is taken from the project root) and exported as an absolute path, because
the kernels run in `book/`. Without the sets, pytest stops at once with one line.
"""

import os
from pathlib import Path

import pytest
from nbval_images import install as _tolerant_embedded_images

# Images embedded in HTML outputs (the sliders) are compared with a tolerance: see
# nbval_images.py. The rest of every output is still compared exactly.
_tolerant_embedded_images()

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
NEEDED = ("Set5", "Set14", "T91", "BSD200")

os.environ.setdefault("SRGAN_PROFILE", "quick")
os.environ["TQDM_DISABLE"] = "1"  # tqdm reads it when imported, in the kernel
# The stored outputs come from a machine without ImageNet VGG19 weights (none here can
# download them); a machine that has them cached must reproduce the same outputs.
os.environ["SRGAN_VGG_WEIGHTS"] = "off"


def _chapters_data_dir():
    """The absolute data directory for the kernels, or None if it lacks a needed set."""
    from srgan_lib.sources import data_dir, list_images

    if not os.environ.get("SRGAN_DATA") and SHARED_DATASETS.is_dir():
        os.environ["SRGAN_DATA"] = str(SHARED_DATASETS)
    folder = data_dir()
    missing = [n for n in NEEDED if not (folder / n).is_dir() or not list_images(folder / n)]
    return folder, missing


def pytest_configure(config):
    """Export an absolute SRGAN_DATA for the kernels, or stop with one line saying what to set.

    A torchvision built for another torch stops it too, in one line naming both versions.
    """
    from srgan_lib.errors import SRGANError, check_torchvision

    try:
        check_torchvision()
    except SRGANError as err:
        pytest.exit(str(err), returncode=4)
    folder, missing = _chapters_data_dir()
    if missing:
        pytest.exit(f"the chapters need {', '.join(missing)} in {folder}: set SRGAN_DATA to a "
                    f"folder that holds {'/, '.join(NEEDED)}/ (CI: SRGAN_DATA=../shared/datasets)",
                    returncode=4)
    os.environ["SRGAN_DATA"] = str(folder)
