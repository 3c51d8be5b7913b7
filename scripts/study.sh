#!/usr/bin/env bash
# The main job: sets up .venv, then runs the embedded default study
# (python -m launch.study). Extra arguments are passed on as flags.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/python -m launch.study "$@"
