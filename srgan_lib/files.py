"""Atomic file writes: a reader (or a resumed run) never sees a half-written file.

Weights, checkpoints and output images are all written the same way: into a temporary
file in the destination folder, flushed to disk (fsync), then renamed over the
destination. A rename within one folder is atomic, so after an error, a full disk or a
kill, the destination holds either its previous content or the complete new one.
"""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "atomic_copy"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file for writing in binary mode; on success it replaces ``path``.

    Args:
        path (str | Path): the destination; its folder must exist.

    Yields:
        file: the open temporary file. If the ``with`` block raises, the temporary file
        is deleted and ``path`` is left untouched.

    Raises:
        OSError: the folder cannot be written.

    Explained in: book/09_training_engine.ipynb
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_copy(source, destination):
    """Copy a file so that ``destination`` is either absent or complete, never half-copied.

    A copy, never a hard link: Google Drive's FUSE mount in Colab refuses links, and a
    link would share the file that the next checkpoint replaces.

    Args:
        source (str | Path): the file to copy.
        destination (str | Path): where; its folder must exist.

    Explained in: book/09_training_engine.ipynb
    """
    with open(source, "rb") as src, atomic_write(destination) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
