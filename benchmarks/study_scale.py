r"""Budget of the study's analysis + report at the paper's scale, from stored logits (issue 11:
N=82, E=50,000, K=1,000; peak RSS ≤ 16 GB and ≤ 5 min on a 2-core CPU, evaluation excluded).

  flock /tmp/overlap-heavy.lock .venv/bin/python benchmarks/study_scale.py [--models 82] [--examples 50000]
      [--classes 1000] [--dim 64] [--logits_dtype float16]

Writes synthetic logits (a shared signal plus per-model noise, so models agree and err
like real ones) and small embeddings through the store's ChunkWriter for a calibration
and a test split, then times, in a child process, store.read + pipeline.analyse +
report.write with the paper config's analysis sizes scaled by the flags, and prints wall
time, the child's peak RSS and their ratios to the budget. ``--models`` below 82 measures
the per-model cost; the printed extrapolation is linear in N for memory (logits dominate)
and is a lower bound for time (pairwise work grows as N²).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET_S, BUDGET_GB = 300.0, 16.0


def write_store(root: Path, models: int, examples: int, classes: int, dim: int, dtype: str, splits) -> None:
  from launch import store
  rng = np.random.default_rng(0)
  for split, count in splits:
    labels = rng.integers(0, classes, count)
    signal = rng.normal(size=(count, classes)).astype(np.float32)
    signal[np.arange(count), labels] += 3.0
    for model in range(models):
      writer = store.ChunkWriter(root, "synthetic", split, f"m{model:02d}", {"weights_sha256": f"{model}"}, count,
                                 10000, logits_dtype=dtype)
      for index in writer.missing_chunks():
        start, stop = writer.rows(index)
        noise = rng.normal(scale=1.5, size=(stop - start, classes)).astype(np.float32)
        writer.write_chunk(index, {"logits": signal[start:stop] + noise,
                                   "embeddings": rng.normal(size=(stop - start, dim)).astype(np.float32),
                                   "labels": labels[start:stop], "ids": np.arange(start, stop)})


CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
import ml_collections
import zoo
from launch import store
from launch.study import config as config_lib, pipeline, report, zoo_stage
from zoo.preprocessing import Preprocessing
from zoo.architectures import small
args = json.loads(sys.argv[1])
names = [f"m{{i:02d}}" for i in range(args["models"])]
for i, name in enumerate(names):  # rows so categories derive: seeds, hparams, architectures, data
  zoo.register(zoo.ModelEntry(name=name, builder=lambda rngs: None, weights=zoo.WeightSource("checkpoint", name),
      preprocessing=Preprocessing(32), num_classes=args["classes"], objective="supervised",
      pretraining_data="in1k" if i % 5 else "other", architecture=f"a{{i % 3}}", hparams=(("lr", i % 2),), seed=i,
      catalog="synthetic"))
config = config_lib.merge(dict(name="scale", catalog="synthetic", models="m*", base="m00", dataset="synthetic",
    calibration_split="calibration", test_split="test", resamples=args["resamples"], greedy_starts=4, greedy_steps=10,
    mixing_seeds=1, probe_l2_grid=(1e-2,), probe_iterations=100, diversity_step=32,
    class_groups="nature:0-397,man-made:398-999"))
start = time.perf_counter()
stored = {{role: store.read(args["root"], "synthetic", split, names) for role, split in
          (("calibration", "calibration"), ("test", "test"))}}
read = time.perf_counter() - start
located = {{n: zoo_stage.Located(None, "loaded") for n in names}}
results = pipeline.analyse(config, names, stored, [], {{n: n for n in names}}, located)
analysed = time.perf_counter()
report.write(results, args["out"])
print(json.dumps({{"read_s": read, "analysis_s": analysed - start - read, "report_s": time.perf_counter() - analysed}}))
"""


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50000)
  parser.add_argument("--calibration", type=int, default=10000)
  parser.add_argument("--classes", type=int, default=1000)
  parser.add_argument("--dim", type=int, default=64)
  parser.add_argument("--resamples", type=int, default=1000)
  parser.add_argument("--logits_dtype", default="float16")
  args = parser.parse_args()
  scratch = Path(tempfile.mkdtemp(prefix="overlap_scale_"))
  try:
    start = time.perf_counter()
    write_store(scratch / "store", args.models, args.examples, args.classes, args.dim, args.logits_dtype,
                (("calibration", args.calibration), ("test", args.examples)))
    print(f"wrote the store ({args.models} models, {args.examples} test + {args.calibration} calibration examples, "
          f"K={args.classes}, {args.logits_dtype}) in {time.perf_counter() - start:.0f} s", flush=True)
    payload = json.dumps({"root": str(scratch / "store"), "out": str(scratch / "report"), "models": args.models,
                          "classes": args.classes, "resamples": args.resamples})
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), payload], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
      raise SystemExit(f"analysis child failed (status {status}); peak RSS {usage.ru_maxrss / 2 ** 20:.1f} GB")
    memory = usage.ru_maxrss / 2 ** 20
    stages = json.loads(output.strip().splitlines()[-1])
    print(f"N={args.models}: {wall:.0f} s (read {stages['read_s']:.0f}, analysis {stages['analysis_s']:.0f}, "
          f"report {stages['report_s']:.0f}; budget {BUDGET_S:.0f} s, ratio {wall / BUDGET_S:.2f}); peak RSS "
          f"{memory:.2f} GB (budget {BUDGET_GB:.0f} GB, ratio {memory / BUDGET_GB:.2f})")
    if args.models < 82:
      scale = 82 / args.models
      print(f"extrapolated to N=82: peak RSS ≈ {memory * scale:.1f} GB (linear), time ≥ {wall * scale:.0f} s "
            f"(linear; pairwise parts grow as N²)")
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
  main()
