#!/usr/bin/env bash
# The GPU check, ready to run on a CUDA machine (under 8 minutes; about 3 on an H200 or a T4
# by our estimate), from the repository root or anywhere:
#
#     bash benchmarks/gpu_check.sh
#
# 1. benchmarks/train_step.py, both stages: the engine against the reference-style loop
#    (its defaults for the GPU: bf16 from compute capability 8, float16 + gradient scaler on
#    a T4 or V100), the paper's networks, batch 16, crop 96;
# 2. 300 timed steps of each stage of the `colab` preset (VGG54 with random VGG19 weights of
#    the real shapes, so it runs offline), with step time, peak GPU memory, and the hours
#    the whole preset would take at that speed beside the estimate it was sized with.
# Both write JSON to benchmarks/results/, named after the GPU. Without CUDA it says so in
# one line and exits with status 2, having run nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" \
        2>/dev/null; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing was run"
    exit 2
fi

export SRGAN_DATA="${SRGAN_DATA:-../shared/datasets}"  # relative: from the project root
export TQDM_DISABLE=1
gpu=$(python -c "import re, torch; print(re.sub(r'\W+', '_', torch.cuda.get_device_name()))")
results=benchmarks/results
mkdir -p "$results"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv || true

echo "== engine vs reference-style loop, both stages"
timeout 210 python benchmarks/train_step.py --stages srresnet srgan --steps 30 --warmup 5 \
    --json "$results/train_step_${gpu}.json"

echo "== colab preset, 300 steps of each stage"
timeout 210 python benchmarks/train_step.py --preset colab --stages srresnet srgan \
    --steps 300 --warmup 10 --json "$results/colab_preset_${gpu}.json"

echo "gpu_check: wrote $results/train_step_${gpu}.json and $results/colab_preset_${gpu}.json"
