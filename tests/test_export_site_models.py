"""tools/export_site_models.py: the book build re-exports the page's ONNX files when, and
only when, their weights or the exporting code changed."""

import importlib.util
from pathlib import Path

import pytest

import srgan_lib.export

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location(
        "export_site_models", ROOT / "tools" / "export_site_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _tool()


@pytest.fixture
def exports(monkeypatch):
    """Replace the real exporter by one that writes a small file and records each call."""
    calls = []

    def fake_export(weights, out):
        calls.append(Path(weights).name)
        Path(out).write_bytes(b"onnx of " + Path(weights).name.encode())

    monkeypatch.setattr(srgan_lib.export, "export_onnx", fake_export)
    return calls


def test_a_second_build_keeps_the_files(tmp_path, exports):
    paths = tool.export_site_models(tmp_path)
    assert [p.name for p in paths] == ["srgan_x4.onnx", "srresnet_x4.onnx"]
    assert exports == ["srgan_x4.safetensors", "srresnet_x4.safetensors"]
    for p in paths:
        assert p.with_suffix(".onnx.source").read_text().strip() == tool.source_digest(
            ROOT / "data" / p.with_suffix(".safetensors").name)
    tool.export_site_models(tmp_path)
    assert len(exports) == 2  # nothing changed, nothing exported


def test_a_file_made_by_other_code_is_exported_again(tmp_path, exports):
    tool.export_site_models(tmp_path)
    # As if export.py had changed since: the stamp no longer matches.
    (tmp_path / "srgan_x4.onnx.source").write_text("0" * 64 + "\n")
    tool.export_site_models(tmp_path)
    assert exports[2:] == ["srgan_x4.safetensors"]
    # A file without its stamp (an older build, or an export that stopped half-way).
    (tmp_path / "srresnet_x4.onnx.source").unlink()
    tool.export_site_models(tmp_path)
    assert exports[3:] == ["srresnet_x4.safetensors"]


def test_the_digest_follows_the_weights_and_the_exporter(tmp_path):
    for name in tool.EXPORTER:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"# {name}\n")
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"weights")
    first = tool.source_digest(weights, root=tmp_path)
    assert tool.source_digest(weights, root=tmp_path) == first
    (tmp_path / "srgan_lib" / "export.py").write_text("# changed\n")
    second = tool.source_digest(weights, root=tmp_path)
    weights.write_bytes(b"other weights")
    assert len({first, second, tool.source_digest(weights, root=tmp_path)}) == 3
