"""The one exception type the library raises for problems a user can fix.

Every error a person can act on (a missing file, an image Pillow cannot read, a weights
file of another architecture, VGG weights that cannot be downloaded, ...) is an
``SRGANError`` whose message names the file and says what to do. The command line
prints that message as one line and exits non-zero, instead of a traceback from deep
inside torch or Pillow.
"""

__all__ = ["SRGANError"]


class SRGANError(Exception):
    """A problem with the user's input or environment, with a message saying how to fix it.

    Explained in: book/11_data.ipynb
    """
