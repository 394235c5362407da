#!/usr/bin/env bash
# A new user's install, checked: a fresh clone of this checkout's HEAD, a fresh venv installed the
# README's way (`pip install -r requirements.txt`), then the README's test command (`pytest`).
#
#   tools/fresh_install_check.sh newest [VENV] [pytest args]   # what pip picks today
#   tools/fresh_install_check.sh oldest [VENV] [pytest args]   # lower bounds: tools/oldest_versions.txt
#
# VENV (default: a new temporary folder) is created and installed into when it does not exist;
# an existing one is brought up to date with the same command, so a second check is quick. The
# versions installed are printed first (and saved as VENV/versions.txt). The image sets come from
# SRGAN_DATA, else ../shared/datasets beside this checkout. Needs pip's registry (PyPI).
set -euo pipefail
which=${1:?say oldest or newest}
shift
case $which in oldest|newest) ;; *) echo "first argument: oldest or newest, not '$which'" >&2; exit 2;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$(mktemp -d /tmp/srgan-venv-XXXXXX)/venv}
[ $# -gt 0 ] && shift
export SRGAN_DATA=${SRGAN_DATA:-$(cd "$root/.." && pwd)/shared/datasets}

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
clone=$(mktemp -d /tmp/srgan-clone-XXXXXX)
trap 'rm -rf "$clone"' EXIT
git clone -q "$root" "$clone/repo"
# As CI has it: the image sets in ../shared beside the clone (some tests look there).
ln -s "$(dirname "$SRGAN_DATA")" "$clone/shared"
cd "$clone/repo"
extra=()
[ "$which" = oldest ] && extra=(-c tools/oldest_versions.txt)
start=$SECONDS
"$venv/bin/python" -m pip install -q -r requirements.txt "${extra[@]}" 2>&1 | grep -v "is ignored" || true
echo "== install: $((SECONDS - start)) s"
"$venv/bin/python" - <<'PY' | tee "$venv/versions.txt"
import importlib.metadata as md
names = ["torch", "torchvision", "numpy", "pillow", "scikit-image", "matplotlib", "scipy",
         "onnxruntime", "ipywidgets", "jupyter-book", "nbval"]
print("versions: " + ", ".join(f"{n} {md.version(n)}" for n in names))
PY
start=$SECONDS
# The venv's own pytest and kernels: its bin/ first on PATH, as an activated venv has it.
PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest "$@"
echo "== pytest: $((SECONDS - start)) s"
