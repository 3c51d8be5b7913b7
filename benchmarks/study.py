r"""Budgets of the embedded study (issues 13, 24), from real runs of ``python -m launch.study``.

  .venv/bin/python benchmarks/study.py [--presets default,smoke,replicated] [--repeats 3] [--phases cold,cached]

Budgets (medians, on an idle 2-core CPU of the developers' kind): the default study ≤ 300 s
from an empty cache (≤ 600 s on any machine of its kind: the ceiling), ≤ 15 s with the cache
of that run; the smoke study ≤ 30 s cold; the replicated study (3 zoo draws) ≤ 900 s from an
empty cache; peak RSS ≤ 4 GB. For each preset and repeat: one
run from an empty cache (training + evaluation + analysis + report), then one with that
cache. Prints every run's wall time, the stage times the study printed, the child
process's peak RSS, then per (preset, phase) the median and its ratio to the budget
(< 1 meets it), with the load average before and after (the machine is shared: quote
medians and the load).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS_S = {("default", "cold"): 300, ("default", "cached"): 15, ("smoke", "cold"): 30, ("smoke", "cached"): 15,
             ("replicated", "cold"): 900, ("replicated", "cached"): 15}
CEILING_S = {("default", "cold"): 600}
MEMORY_BUDGET_GB = 4.0
ROOT = Path(__file__).resolve().parent.parent
# Stage lines, "(zoo: 12.3 s)" or with replicates "(zoo (replicate 2/3): 12.3 s)": summed per stage.
STAGE = re.compile(r"\((zoo|evaluation|analysis|report)(?: \(replicate \d+/\d+\))?: ([0-9.]+) s\)")


def run(preset: str, out: Path, cache: Path) -> tuple[float, float, dict[str, float]]:
  """(wall seconds, peak RSS GB, stage seconds) of one ``python -m launch.study`` process."""
  env = {**os.environ, "HF_HUB_OFFLINE": "1"}
  log = out.with_name(out.name + ".log")  # a file, not a pipe: nobody drains a pipe while we wait
  start = time.perf_counter()
  with log.open("w") as handle:
    process = subprocess.Popen([sys.executable, "-m", "launch.study", f"--config=fashion_mnist.py:{preset}",
                                f"--out={out}", f"--cache_dir={cache}"], cwd=ROOT, env=env, stdout=handle,
                               stderr=handle)
    _, status, usage = os.wait4(process.pid, 0)
  wall = time.perf_counter() - start
  text = log.read_text()
  if os.waitstatus_to_exitcode(status) != 0:
    raise SystemExit(f"launch.study --config=fashion_mnist.py:{preset} failed:\n{text[-3000:]}")
  stages: dict[str, float] = {}
  for name, seconds in STAGE.findall(text):
    stages[name] = stages.get(name, 0.0) + float(seconds)
  return wall, usage.ru_maxrss / 2 ** 20, stages  # ru_maxrss is in KiB on Linux


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--presets", default="default,smoke")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--phases", default="cold,cached")
  args = parser.parse_args()
  phases = args.phases.split(",")
  scratch = Path(tempfile.mkdtemp(prefix="overlap_study_bench_"))
  walls: dict[tuple[str, str], list[float]] = {}
  memories: dict[tuple[str, str], list[float]] = {}
  print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
  try:
    for preset in args.presets.split(","):
      for repeat in range(args.repeats):
        cache = scratch / f"cache_{preset}_{repeat}"
        for phase in ("cold", "cached"):
          if phase == "cached" and "cached" not in phases:
            break
          wall, memory, stages = run(preset, scratch / f"report_{preset}_{repeat}_{phase}", cache)
          if phase not in phases:
            continue
          walls.setdefault((preset, phase), []).append(wall)
          memories.setdefault((preset, phase), []).append(memory)
          stage_text = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
          print(f"{preset:8s} {phase:6s} #{repeat + 1}: {wall:7.1f} s ({stage_text}); peak RSS {memory:.2f} GB; "
                f"load {os.getloadavg()[0]:.1f}", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    print(f"\nmedians (load average after: {os.getloadavg()[0]:.1f}):")
    for key, values in walls.items():
      median, budget = statistics.median(values), BUDGETS_S[key]
      ceiling = f", ceiling {CEILING_S[key]} s ratio {median / CEILING_S[key]:.2f}" if key in CEILING_S else ""
      memory = max(memories[key])
      print(f"{key[0]:8s} {key[1]:6s}: median {median:7.1f} s of {len(values)} (budget {budget} s, ratio "
            f"{median / budget:.2f}{ceiling}); peak RSS {memory:.2f} GB (budget {MEMORY_BUDGET_GB} GB, ratio "
            f"{memory / MEMORY_BUDGET_GB:.2f})", flush=True)
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
  main()
