"""The comparison app's upload under both ipywidgets versions a reader may have: 8 (this
book's requirements) and 7.7.1 (what Colab ships and keeps).

Where ipywidgets 8 is installed, version 7's upload is a stand-in with its kernel-side
behaviour; run under the real 7.7.1 (`pip install ipywidgets==7.7.1`), the same tests use
the real ``FileUpload`` and the version-8 cases, which need 8, are skipped."""

import datetime
import io

import ipywidgets
import pytest
import torch
import traitlets
from PIL import Image

from srgan_lib.app import ComparisonApp, _clear_upload, _uploaded_files
from srgan_lib.models import SRResNet


WHEN = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def upload8(name, content):
    """An ipywidgets 8 ``FileUpload.value`` holding one file."""
    return ({"name": name, "type": "image/png", "size": len(content),
             "content": memoryview(content), "last_modified": WHEN},)


def png_bytes(colour, size=(16, 12)):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


class FileUpload7(ipywidgets.DOMWidget):
    """ipywidgets 7.7.1's FileUpload, reduced to what the kernel side does (its source,
    ipywidgets/widgets/widget_upload.py): the browser sends ``metadata`` and ``data`` and
    then bumps ``_counter``; ``value`` is a read-only dict rebuilt from them."""

    _counter = traitlets.Int()
    accept = traitlets.Unicode()
    multiple = traitlets.Bool()
    description = traitlets.Unicode()
    metadata = traitlets.List(traitlets.Dict())
    data = traitlets.List(traitlets.Bytes())
    value = traitlets.Dict(read_only=True)

    @traitlets.observe("_counter")
    def _on_counter(self, change):
        self.set_trait("value", {m["name"]: {"metadata": m, "content": c}
                                 for m, c in zip(self.metadata, self.data, strict=True)})



REAL_7 = ipywidgets.__version__.startswith("7.")
# The version-7 upload the tests use: the real one where 7.x is installed, else the stand-in.
Upload7 = ipywidgets.FileUpload if REAL_7 else FileUpload7
needs_8 = pytest.mark.skipif(REAL_7, reason="the ipywidgets 8 case needs ipywidgets 8")


def browser_sends(upload, name, content):
    """What ipywidgets 7's front end does when a file is picked: data, then ``_counter``."""
    upload.metadata = [{"name": name, "type": "image/png", "size": len(content),
                        "lastModified": 0}]
    upload.data = [content]
    upload._counter += 1


def test_uploaded_files_reads_both_value_shapes():
    png = png_bytes("red")
    v8 = upload8("a.png", png)
    v7 = {"a.png": {"metadata": {"name": "a.png", "type": "image/png", "size": len(png)},
                    "content": png}}
    assert _uploaded_files(v8) == [("a.png", png)]
    assert _uploaded_files(v7) == [("a.png", png)]
    assert _uploaded_files(()) == [] and _uploaded_files({}) == []
    assert all(type(content) is bytes for _, content in _uploaded_files(v8))


def test_clear_upload_in_both_versions():
    if not REAL_7:
        upload = ipywidgets.FileUpload()
        upload.value = upload8("a.png", b"x")
        _clear_upload(upload)
        assert upload.value == ()
    upload7 = Upload7()
    browser_sends(upload7, "a.png", b"x")
    with pytest.raises(traitlets.TraitError):  # what the app used to do under 7.x
        upload7.value = ()
    _clear_upload(upload7)
    assert upload7.value == {} and upload7._counter == 0 and upload7.data == []


@pytest.mark.parametrize("version", [7, pytest.param(8, marks=needs_8)])
def test_app_takes_an_upload_in_either_version(monkeypatch, version):
    if version == 7:
        monkeypatch.setattr(ipywidgets, "FileUpload", Upload7)
    torch.manual_seed(0)
    choices = {"red": lambda: Image.new("RGB", (40, 40), "red")}
    app = ComparisonApp({"Bicubic": "bicubic",
                         "Tiny": SRResNet(n_blocks=1, n_channels=8).eval()},
                        choices, max_lr=6)
    for attempt in range(2):  # the same file twice: the upload was cleared in between
        if version == 7:
            browser_sends(app.upload, "mine.png", png_bytes("green"))
        else:
            app.upload.value = upload8("mine.png", png_bytes("green"))
        assert app.choice.value == "your image: mine.png", attempt
        assert app.view.images["HR"].getpixel((0, 0)) == (0, 128, 0)
        assert app.upload.value == ({} if version == 7 else ())
        app.choice.value = "red"


def test_a_cell_ending_in_the_app_shows_it_in_either_version(displayed):
    """IPython displays the app (its widget) under ipywidgets 8 and 7.7.1 alike."""
    app = ComparisonApp({"Bicubic": "bicubic"}, {"red": lambda: Image.new("RGB", (40, 40), "red")},
                        max_lr=6)
    shown = displayed(app)
    assert shown and "application/vnd.jupyter.widget-view+json" in shown[0]
