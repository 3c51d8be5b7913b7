#!/usr/bin/env bash
# The test command: sets up .venv with the test and parity extras (PyTorch +
# transformers reference models for the converter parity tests) and .venv-timm (timm's
# PyTorch models, the timm parity reference), then runs the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k metrics -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh test,parity,timm
export HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu
exec .venv/bin/python -m pytest -q "$@"
