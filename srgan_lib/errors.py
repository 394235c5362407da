"""The one exception type the library raises for problems a user can fix.

Every error a person can act on (a missing file, an image Pillow cannot read, a weights
file of another architecture, VGG weights that cannot be downloaded, ...) is an
``SRGANError`` whose message names the file and says what to do. The command line
prints that message as one line and exits non-zero, instead of a traceback from deep
inside torch or Pillow.

One failure is not the user's input but their install: torch and torchvision from two
different builds (say torch from the CPU index and torchvision from PyPI's CUDA build).
``import torchvision`` then dies with ``RuntimeError: operator torchvision::nms does not
exist``, which names neither package's version nor the fix. ``install_error`` turns that
into one line, and ``check_torchvision`` runs the import and raises it.
"""

__all__ = ["SRGANError", "check_torchvision"]

# What a torchvision built for another torch says when it is imported: its compiled
# operators (nms, roi_align, ...) cannot be registered with this torch.
_MISMATCH_SIGNS = ("torchvision::", "torchvision._C", "torchvision/_C")


class SRGANError(Exception):
    """A problem with the user's input or environment, with a message saying how to fix it.

    Explained in: book/11_data.ipynb
    """


def _version(package):
    """The installed version of ``package`` from its metadata, without importing it."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def install_error(err):  # not in __all__: the command line's helper
    """The one-line ``SRGANError`` for a torch/torchvision mismatch, or ``None``.

    Args:
        err (BaseException): what an import (or a call that imported torchvision) raised.

    Returns:
        SRGANError | None: an error naming both installed versions and the fix when
        ``err`` is the mismatch (``operator torchvision::nms does not exist`` and its
        kin); ``None`` for anything else.
    """
    if not isinstance(err, (RuntimeError, ImportError, OSError)):
        return None
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if not any(sign in str(err) for sign in _MISMATCH_SIGNS):
        return None
    return SRGANError(
        f"torch {_version('torch')} and torchvision {_version('torchvision')} are from "
        f"different builds ({text}); reinstall both from the same index, e.g. `pip install "
        "--force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/cpu` "
        "(CPU) or the same command without --index-url (CUDA)")


def check_torchvision():
    """Import torchvision; a torch/torchvision mismatch becomes one ``SRGANError`` line.

    Raises:
        SRGANError: torchvision cannot be loaded with this torch (``install_error``).

    Explained in: book/11_data.ipynb
    """
    try:
        import torchvision  # noqa: F401
    except (RuntimeError, ImportError, OSError) as err:
        error = install_error(err)
        if error is None:
            raise
        raise error from None
