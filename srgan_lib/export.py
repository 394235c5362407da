"""Export a generator to ONNX, so that it runs without PyTorch (ONNX Runtime, the browser).

The exported graph keeps the generator's convention, with names for it:

* input ``lr``: a float32 batch ``(N, 3, height, width)`` of LR images in ``imagenet-norm``
  (``convert_image(img, "pil", "imagenet-norm")``: RGB in [0, 1], minus the ImageNet mean,
  divided by its standard deviation);
* output ``sr``: float32 ``(N, 3, s * height, s * width)`` in ``[-1, 1]`` (the ``tanh``),
  which ``convert_image(sr, "[-1, 1]", "pil")`` turns into an image.

``N``, ``height`` and ``width`` are dynamic: one file serves every image size, so a caller
can tile an image however it likes. The graph is made by ``torch.onnx.export``'s default
exporter (``torch.export`` plus ``onnxscript``), which needs torch 2.6 or newer.
"""

import contextlib
import io
from pathlib import Path

import torch

from .errors import SRGANError
from .files import atomic_write

__all__ = ["export_onnx"]


def export_onnx(model, out_path, overwrite=False):
    """Write an ``SRResNet`` / ``Generator`` as an ONNX file with dynamic height and width.

    Args:
        model (nn.Module | str | Path): the network, a ``--model`` name of ``upscale``
            (``'srgan'``, ``'srresnet'``: the shipped weights) or a ``.safetensors`` file
            of one (a ``Generator`` or an ``SRResNet``, any scale).
        out_path (str | Path): the ``.onnx`` file; written atomically (a failed export
            leaves no half-written file and an existing file as it was).
        overwrite (bool): replace an existing ``out_path`` (``--force``); never the
            weights file itself.

    Returns:
        Path: ``out_path``. Its input is ``lr`` (N, 3, h, w) in ``imagenet-norm``; its
        output ``sr`` (N, 3, s*h, s*w) in ``[-1, 1]``; the weights are stored inside it.

    Raises:
        SRGANError: the weights file is missing or not a generator's; ``out_path`` is
            the weights file, exists (without ``overwrite``), does not end in ``.onnx``
            or cannot be written. All checked before the export starts.

    Explained in: book/10_evaluation_and_upscaling.ipynb
    """
    from .upscale import SHIPPED, resolve_model

    out_path = Path(out_path)
    if not isinstance(model, torch.nn.Module):
        source = Path(SHIPPED.get(str(model), model))
        if out_path.resolve() == source.resolve():
            raise SRGANError(f"{out_path}: is the weights file being exported; choose another "
                             "-o (the input is never overwritten)")
    if out_path.suffix.lower() != ".onnx":
        raise SRGANError(f"{out_path}: an ONNX file must end in .onnx; e.g. "
                         f"-o {out_path.with_suffix('.onnx').name}")
    if out_path.exists() and not overwrite:
        raise SRGANError(f"{out_path}: already exists; choose another name or replace it "
                         "(--force)")
    if not out_path.parent.is_dir():
        raise SRGANError(f"{out_path}: cannot write there, the folder {out_path.parent} does "
                         "not exist; create it or choose another -o")
    if not isinstance(model, torch.nn.Module):
        model = resolve_model(model)
        if model == "bicubic":
            raise SRGANError("bicubic: is not a network; export srgan, srresnet or a "
                             ".safetensors file")
    program = _to_onnx(model)
    try:
        with atomic_write(out_path) as f:
            f.write(program.model_proto.SerializeToString())
    except OSError as err:
        why = "not writable" if isinstance(err, PermissionError) else err.strerror
        raise SRGANError(f"{out_path}: cannot write the ONNX file ({why}); "
                         "choose a writable place") from None
    return out_path


class _AsSuperResolveRunsIt(torch.nn.Module):
    """A generator as ``super_resolve`` runs it: the residual body, then the upsampling
    tail with its last convolution folded before the last pixel shuffle
    (``upscale._fold_last_conv``). The same function as the network's own ``forward``,
    within float rounding; about a fifth faster in ONNX Runtime on one CPU thread, for a
    file 3% larger."""

    def __init__(self, model):
        super().__init__()
        from .upscale import _fold_last_conv

        self.net = getattr(model, "net", model)  # a Generator wraps its SRResNet as .net
        weight, bias = _fold_last_conv(self.net)
        self.register_buffer("last_weight", weight.contiguous())
        self.register_buffer("last_bias", bias)

    def forward(self, lr):
        """(N, 3, h, w) ``imagenet-norm`` -> (N, 3, s * h, s * w) in ``[-1, 1]``."""
        from .upscale import _body, _tail

        return _tail(self.net, _body(self.net, lr), (self.last_weight, self.last_bias))


def _to_onnx(model):
    """The ``torch.onnx.ONNXProgram`` of ``model`` (a copy in eval mode, on the CPU)."""
    import copy

    net = _AsSuperResolveRunsIt(copy.deepcopy(model).float().cpu().eval()).eval()
    example = torch.zeros(1, 3, 24, 24)  # any size: height and width are dynamic below
    dims = {0: torch.export.Dim("batch", min=1), 2: torch.export.Dim("height", min=1),
            3: torch.export.Dim("width", min=1)}
    # The exporter reports its progress on stdout; a library call should not print.
    with contextlib.redirect_stdout(io.StringIO()):
        return torch.onnx.export(net, (example,), input_names=["lr"], output_names=["sr"],
                                 dynamo=True, dynamic_shapes=(dims,), external_data=False)
