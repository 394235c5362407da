"""Shared test set-up: the data directory CI uses, and small fixtures."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch):
    """Point SRGAN_DATA at the shared image sets unless the caller set it already (as CI does)."""
    if "SRGAN_DATA" not in os.environ:
        monkeypatch.setenv("SRGAN_DATA", str(SHARED_DATASETS))
    # book/conftest.py switches ImageNet VGG weights off for the notebooks; unit tests
    # that need the switch set it themselves.
    monkeypatch.delenv("SRGAN_VGG_WEIGHTS", raising=False)
