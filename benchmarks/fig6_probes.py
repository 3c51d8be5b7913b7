r"""Benchmark: the Fig. 6 mixing probes of one pair, batched (probes.subset_probes) vs the per-subset L-BFGS loop.

  .venv/bin/python benchmarks/fig6_probes.py --cache /tmp/fig6/cache [--models cnn.s0,cnn.s1]

Reads the two models' calibration and test embeddings from a study cache (a default-config
run), fits the pair's distinct feature mixtures (rates 1 … 0, 2 seeds) both ways on the same
arrays, and prints both times, their ratio, the max |Δ test accuracy| and the lowest
per-example agreement of the two probes' test predictions.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launch import store  # noqa: E402
from launch.study import analysis  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--cache", required=True)
  parser.add_argument("--models", default="cnn.s0,cnn.s1")
  parser.add_argument("--steps", type=int, default=100)
  args = parser.parse_args()
  names = args.models.split(",")
  read = lambda split: store.lazy_read(Path(args.cache) / "store", "fashion_mnist", split, names)
  as_predictions = lambda r: analysis.Predictions(names, None, np.asarray(r.labels),
                                                  [np.asarray(r.embeddings[n], np.float32) for n in names], None, None)
  calibration, test = as_predictions(read("train[55000:]")), as_predictions(read("test"))
  grid = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
  plan = analysis._mixing_plan(calibration, {"pair": 1}, (1.0, 0.75, 0.5, 0.25, 0.0), 2)
  subsets = [keep for _, keep in plan[0][3]]
  start = time.perf_counter()
  batched = analysis._pair_subset_outcomes(calibration, test, 1, subsets, grid, args.steps)
  batched_s = time.perf_counter() - start
  split = analysis._probe_split(calibration)
  x, x_test = np.concatenate(calibration.embeddings, 1), np.concatenate(test.embeddings, 1)
  start, looped = time.perf_counter(), []
  for keep in subsets:
    mask = np.zeros(x.shape[1], np.float32)
    mask[keep] = 1
    looped.append(analysis._single_label_outcomes((x * mask)[:split], calibration.labels[:split], (x * mask)[split:],
                                                  calibration.labels[split:], x_test * mask, test.labels, grid, 300))
  looped_s = time.perf_counter() - start
  print(f"{len(subsets)} mixtures of {names}: batched {batched_s:.1f} s, L-BFGS loop {looped_s:.1f} s, "
        f"ratio loop/batched {looped_s / batched_s:.2f}")
  print(f"max |Δ test accuracy| {max(abs(a[0] - b[0]) for a, b in zip(batched, looped)):.4f}, lowest per-example "
        f"agreement {min(np.mean(a[1] == b[1]) for a, b in zip(batched, looped)):.4f}")


if __name__ == "__main__":
  main()
