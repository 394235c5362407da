"""Settings for `pytest --nbval book/`: the kernels nbval starts inherit this environment.

The committed outputs come from the CPU `ci` profile with progress bars off (a bar's text
holds rates and times, which differ on every run), so the check runs the same way.
"""

import os

os.environ.setdefault("SRGAN_PROFILE", "ci")
os.environ["TQDM_DISABLE"] = "1"  # tqdm reads it when imported, in the kernel
# The stored outputs come from a machine without ImageNet VGG19 weights (none here can
# download them); a machine that has them cached must reproduce the same outputs.
os.environ["SRGAN_VGG_WEIGHTS"] = "off"
