#!/usr/bin/env bash
# The test command: sets up .venv with the test and parity extras (PyTorch +
# transformers reference models for the converter parity tests) and .venv-timm (timm's
# PyTorch models, the timm parity reference), then runs the whole suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k metrics -x).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh test,parity,timm
export HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu
# Two workers (the machines have 2 cores; much of a test's time is single-threaded compiling
# and Python); --dist loadfile keeps each file on one worker so its module fixtures (the study
# runs) are built once, and tests/conftest.py orders the slowest files first. -n 0: one process.
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"
