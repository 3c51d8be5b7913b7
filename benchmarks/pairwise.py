"""Benchmark: all-pairs ensemble metrics at the paper's scale vs. the naive numpy loop.

N = 82 models, E = 50,000 examples, K = 1,000 classes (bfloat16 storage, 8.2 GB),
accuracy ≈ 76%, models sharing part of their errors. Times

  * ``metrics.pairwise_ensemble`` (error inconsistency, ensemble accuracy and
    conversion rate for all 3,321 pairs), after one untimed call that compiles,
  * the naive loop ``for a < b: ((p[a] + p[b]).argmax(-1) == y)`` in float32 on the
    same stored values, on a sample of pairs, extrapolated to all pairs,
  * ``metrics.greedy_selection`` over all models, 10 steps,

checks that the sampled pairs agree exactly, and prints figures, ratios and peak
memory. Run: ``python benchmarks/pairwise.py`` (``--models/--examples/--classes``
for smaller runs).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import metrics  # noqa: E402
from synthetic import synthetic_probs  # noqa: E402


def peak_rss_gb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def naive_pair(probs, labels, a, b):
  return (probs[a].astype(np.float32) + probs[b].astype(np.float32)).argmax(-1) == labels


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50_000)
  parser.add_argument("--classes", type=int, default=1_000)
  parser.add_argument("--naive_pairs", type=int, default=12, help="pairs timed with the naive loop")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--greedy_steps", type=int, default=10)
  args = parser.parse_args()

  start = time.perf_counter()
  probs, labels = synthetic_probs(args.models, args.examples, args.classes)
  print(f"synthetic data: {probs.shape} {probs.dtype} ({probs.nbytes / 1e9:.1f} GB) "
        f"in {time.perf_counter() - start:.0f} s")
  num_pairs = args.models * (args.models - 1) // 2

  start = time.perf_counter()
  metrics.summarize(metrics.pairwise_outcomes(probs, labels))["error_inconsistency"].block_until_ready()
  print(f"first call (includes compiling the kernels, not counted below): {time.perf_counter() - start:.2f} s")
  timings, result = [], None
  for _ in range(args.repeats):
    start = time.perf_counter()
    outcomes = metrics.pairwise_outcomes(probs, labels)
    result = metrics.summarize(outcomes)
    result["error_inconsistency"].block_until_ready()
    timings.append(time.perf_counter() - start)
  fast = statistics.median(timings)
  accuracy = np.asarray(result["accuracy"])
  print(f"model accuracy: mean {accuracy.mean():.3f} [{accuracy.min():.3f}, {accuracy.max():.3f}]; "
        f"cases recomputed over all K: {outcomes.num_recomputed} "
        f"({outcomes.num_recomputed / (num_pairs * args.examples):.4%})")

  rng = np.random.default_rng(0)
  sample = rng.choice(num_pairs, size=min(args.naive_pairs, num_pairs), replace=False)
  ensemble_correct = np.asarray(outcomes.ensemble_correct)
  start = time.perf_counter()
  mismatches = 0
  for pair in sample:
    a, b = outcomes.pair_a[pair], outcomes.pair_b[pair]
    mismatches += int(np.sum(naive_pair(probs, labels, a, b) != ensemble_correct[pair]))
  naive_per_pair = (time.perf_counter() - start) / len(sample)
  naive_all = naive_per_pair * num_pairs

  print(f"all {num_pairs} pairs (EI + ensemble accuracy + conversion): median {fast:.2f} s "
        f"of {[round(t, 2) for t in timings]}")
  print(f"naive numpy loop: {1 / naive_per_pair:.1f} pairs/s on {len(sample)} sampled pairs, "
        f"extrapolated to all pairs: {naive_all:.0f} s")
  print(f"speed-up: {naive_all / fast:.0f}x (target >= 100x); under 10 s: {fast < 10}")
  print(f"sampled pairs identical to the naive loop: {mismatches == 0} ({mismatches} mismatching examples)",
        flush=True)

  best = int(np.argmax(accuracy))
  greedy_times = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    greedy = metrics.greedy_selection(probs, labels, start=best,
                                      pool=[m for m in range(args.models) if m != best], steps=args.greedy_steps)
    greedy_times.append(time.perf_counter() - start)
  print(f"greedy selection, {args.models} models, {args.greedy_steps} steps: median "
        f"{statistics.median(greedy_times):.2f} s (target < 30 s); accuracy "
        f"{greedy.accuracy[0]:.4f} -> {greedy.accuracy[-1]:.4f}")
  print(f"peak memory (max RSS): {peak_rss_gb():.1f} GB (target < 12 GB; the data alone is "
        f"{probs.nbytes / 1e9:.1f} GB)")


if __name__ == "__main__":
  main()
