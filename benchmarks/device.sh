#!/usr/bin/env bash
# One command for an accelerator machine (< 8 min on one GPU): evaluation throughput of ResNet-50,
# ViT-B/16, ConvNeXt-T and EfficientNet-B3 through the runner (bf16), all-pairs metrics at
# N=82, E=50,000, K=1,000, all-pairs CKA at N=82, E=50,000, D=2,048 and the probe sweep
# (benchmarks/device.py). Writes the markdown table for benchmarks/RESULTS.md to $OUT/device.md
# (or ./device.md). Never run by the tests.
#
#   bash benchmarks/device.sh            # on the GPU machine
#   bash benchmarks/device.sh --tiny     # a CPU check of the script (tiny sizes, not a measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
OUT_DIR="${OUT:-.}"
mkdir -p "$OUT_DIR"
if [[ " $* " == *" --tiny "* ]]; then export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"; fi
export HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || true
exec "$PYTHON" benchmarks/device.py --out "$OUT_DIR/device.md" "$@"
