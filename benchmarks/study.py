r"""Budgets of the default study (issue: ≤ 10 min cold, ≤ 90 s cached, smoke ≤ 60 s, ≤ 4 GB).

  .venv/bin/python benchmarks/study.py [--presets default,smoke] [--cache_dir DIR]

For each preset: one run from an empty cache (training + evaluation + analysis + report),
then one with the cache from that run; prints wall time, the child process's peak RSS,
and each figure's ratio to its budget (< 1 meets it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS_S = {("default", "cold"): 600, ("default", "cached"): 90, ("smoke", "cold"): 60, ("smoke", "cached"): 60}
MEMORY_BUDGET_GB = 4.0
ROOT = Path(__file__).resolve().parent.parent


def run(preset: str, out: Path, cache: Path) -> tuple[float, float]:
  """(wall seconds, peak RSS GB) of one ``python -m launch.study`` process."""
  env = {**os.environ, "HF_HUB_OFFLINE": "1"}
  log = out.with_name(out.name + ".log")  # a file, not a pipe: nobody drains a pipe while we wait
  start = time.perf_counter()
  with log.open("w") as handle:
    process = subprocess.Popen([sys.executable, "-m", "launch.study", f"--config=fashion_mnist.py:{preset}", f"--out={out}",
                                f"--cache_dir={cache}"], cwd=ROOT, env=env, stdout=handle, stderr=handle)
    _, status, usage = os.wait4(process.pid, 0)
  wall = time.perf_counter() - start
  if os.waitstatus_to_exitcode(status) != 0:
    raise SystemExit(f"launch.study --config=fashion_mnist.py:{preset} failed:\n{log.read_text()[-3000:]}")
  return wall, usage.ru_maxrss / 2 ** 20  # ru_maxrss is in KiB on Linux


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--presets", default="default,smoke")
  args = parser.parse_args()
  scratch = Path(tempfile.mkdtemp(prefix="overlap_study_bench_"))
  try:
    for preset in args.presets.split(","):
      cache = scratch / f"cache_{preset}"
      for phase in ("cold", "cached"):
        wall, memory = run(preset, scratch / f"report_{preset}_{phase}", cache)
        budget = BUDGETS_S[(preset, phase)]
        print(f"{preset:8s} {phase:6s}: {wall:7.1f} s (budget {budget} s, ratio {wall / budget:.2f}); "
              f"peak RSS {memory:.2f} GB (budget {MEMORY_BUDGET_GB} GB, ratio {memory / MEMORY_BUDGET_GB:.2f})",
              flush=True)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
  main()
