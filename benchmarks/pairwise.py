"""Benchmark: all-pairs ensemble metrics vs. the naive numpy loop, as a user runs them.

Synthetic calibrated predictions (``benchmarks/synthetic.py``: accuracy ≈ 76%, models
sharing part of their errors), N models × E examples × K classes, in memory or as
per-model memmaps on disk (``--memmap_dir``: generated model by model, deleted after).
Times, in one run:

  * ``metrics.pairwise_ensemble`` (error inconsistency, ensemble accuracy and
    conversion rate for all N(N−1)/2 pairs): the **first call, compile included**,
    then the median of ``--repeats`` further calls;
  * the compile time of the all-pairs kernel alone (ahead of time, for this N);
  * the naive loop ``((p[a].astype(float32) + p[b]).argmax(-1) == y)`` on a sample of
    pairs (each pair's two models loaded into memory first, untimed), extrapolated
    to all pairs;
  * ``metrics.greedy_selection`` over all models, ``--greedy_steps`` steps (first call);

checks that the sampled pairs' ensemble-correct counts equal the naive loop's (and,
for N ≤ 100, every per-example outcome of ``metrics.pairwise_outcomes``), and prints
figures, ratios and peak memory (max RSS, which counts memory-mapped pages too).

Examples::

  python benchmarks/pairwise.py --models 24 --dtype float32
  python benchmarks/pairwise.py --models 1000 --examples 10000 --memmap_dir /tmp/pairwise-1000
  XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/pairwise.py --models 82 --examples 5000
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import metrics  # noqa: E402
from metrics import ensemble as ensemble_lib  # noqa: E402
from synthetic import open_memmaps, synthetic_probs, write_synthetic_memmaps  # noqa: E402


def peak_rss_gb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def naive_pair(first, second, labels):
  return (first.astype(np.float32) + second.astype(np.float32)).argmax(-1) == labels


def kernel_compile_seconds(num_models: int, num_examples: int, num_candidates: int = 8) -> float:
  """Ahead-of-time lowering + compilation of the all-pairs tile kernel at this N (1 device)."""
  offsets = ensemble_lib._offsets_per_tile(num_models)
  tiles = -(-(num_models // 2) // offsets)
  width = ensemble_lib._block_width(num_models, num_candidates - 1, num_examples)
  lanes = ensemble_lib._num_lanes(width)
  channels = jax.ShapeDtypeStruct((1, 4 + num_candidates - 1, num_models + tiles * offsets, width), jnp.float32)
  counts = jax.ShapeDtypeStruct((1, 3, offsets * num_models, lanes), jnp.int32)
  start = time.perf_counter()
  ensemble_lib._certify_tile.lower(channels, jax.ShapeDtypeStruct((), jnp.int32), counts, num_models=num_models,
                                   offsets=offsets).compile()
  return time.perf_counter() - start


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50_000)
  parser.add_argument("--classes", type=int, default=1_000)
  parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
  parser.add_argument("--memmap_dir", default=None,
                      help="write per-model .npy files here and stream them (deleted afterwards)")
  parser.add_argument("--keep_files", action="store_true",
                      help="keep the --memmap_dir files (and reuse them if present) instead of deleting them")
  parser.add_argument("--skip_pairs", action="store_true", help="only greedy selection")
  parser.add_argument("--naive_pairs", type=int, default=12, help="pairs timed with the naive loop")
  parser.add_argument("--repeats", type=int, default=2, help="calls timed after the first")
  parser.add_argument("--greedy_steps", type=int, default=10, help="0 skips greedy selection")
  parser.add_argument("--check_outcomes", type=int, default=100,
                      help="compare per-example outcomes with the naive loop when N <= this")
  args = parser.parse_args()
  dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
  num_pairs = args.models * (args.models - 1) // 2
  print(f"devices: {jax.device_count()} x {jax.devices()[0].platform}; N={args.models} E={args.examples} "
        f"K={args.classes} {args.dtype}, {'memmaps in ' + args.memmap_dir if args.memmap_dir else 'in memory'}")

  start = time.perf_counter()
  if args.memmap_dir:
    existing = sorted(Path(args.memmap_dir).glob("model_*.npy"))
    labels_path = Path(args.memmap_dir) / "labels.npy"
    if args.keep_files and len(existing) == args.models and labels_path.exists():
      paths, labels = existing, np.load(labels_path)
    else:
      paths, labels = write_synthetic_memmaps(args.memmap_dir, args.models, args.examples, args.classes, dtype=dtype)
      np.save(labels_path, labels)
    probs = open_memmaps(paths, dtype)
    if probs[0].shape != (args.examples, args.classes):
      raise ValueError(f"{args.memmap_dir} holds models of shape {probs[0].shape}; delete it or change the flags.")
  else:
    probs, labels = synthetic_probs(args.models, args.examples, args.classes, dtype=dtype)
  size_gb = args.models * args.examples * args.classes * np.dtype(dtype).itemsize / 1e9
  print(f"synthetic data: {size_gb:.1f} GB in {time.perf_counter() - start:.0f} s; "
        f"peak RSS so far {peak_rss_gb():.2f} GB", flush=True)
  try:
    run(args, probs, labels, num_pairs, size_gb)
  finally:
    if args.memmap_dir and not args.keep_files:
      del probs
      shutil.rmtree(args.memmap_dir, ignore_errors=True)


def run(args, probs, labels, num_pairs, size_gb):
  if args.skip_pairs:
    return greedy(args, probs, labels, np.asarray(metrics.top1_correct(probs, labels)).mean(axis=1))
  timings = []
  for _ in range(1 + args.repeats):
    start = time.perf_counter()
    result = metrics.pairwise_ensemble(probs, labels)
    result["error_inconsistency"].block_until_ready()
    timings.append(time.perf_counter() - start)
    print(f"  pairwise_ensemble call {len(timings)}: {timings[-1]:.2f} s (peak RSS {peak_rss_gb():.2f} GB)", flush=True)
  first, second = timings[0], statistics.median(timings[1:]) if args.repeats else float("nan")
  compile_s = kernel_compile_seconds(args.models, args.examples)
  accuracy = np.asarray(result["accuracy"])
  counts = np.asarray(result["ensemble_correct_count"])
  print(f"model accuracy: mean {accuracy.mean():.3f} [{accuracy.min():.3f}, {accuracy.max():.3f}]; sha256 of the "
        f"ensemble-correct count matrix (compare across device counts): "
        f"{hashlib.sha256(np.ascontiguousarray(counts).tobytes()).hexdigest()[:16]}")

  rng = np.random.default_rng(0)
  pair_a, pair_b = metrics.pair_indices(args.models)
  sample = rng.choice(num_pairs, size=min(args.naive_pairs, num_pairs), replace=False)
  naive_seconds, count_mismatches, naive_outcomes = [], 0, {}
  for pair in sample:
    a, b = int(pair_a[pair]), int(pair_b[pair])
    first_model, second_model = np.array(probs[a]), np.array(probs[b])     # loaded, untimed
    start = time.perf_counter()
    outcome = naive_pair(first_model, second_model, labels)
    naive_seconds.append(time.perf_counter() - start)
    count_mismatches += int(outcome.sum() != counts[a, b])
    naive_outcomes[pair] = outcome
  naive_per_pair = statistics.median(naive_seconds)
  naive_all = naive_per_pair * num_pairs
  example_mismatches = None
  if args.models <= args.check_outcomes:
    ensemble_correct = np.asarray(metrics.pairwise_outcomes(probs, labels).ensemble_correct)
    example_mismatches = sum(int(np.sum(ensemble_correct[p] != o)) for p, o in naive_outcomes.items())

  print(f"all {num_pairs} pairs (pairwise_ensemble): first call (compile included) {first:.2f} s, "
        f"later calls median {second:.2f} s of {[round(t, 2) for t in timings[1:]]}")
  print(f"all-pairs kernel compile alone (ahead of time, N={args.models}): {compile_s:.2f} s")
  print(f"naive numpy loop: median {naive_per_pair * 1e3:.0f} ms/pair on {len(sample)} sampled pairs, "
        f"extrapolated to all pairs: {naive_all:.0f} s")
  print(f"speed-up: first call {naive_all / first:.1f}x, later calls {naive_all / second:.1f}x")
  print(f"sampled pairs' ensemble-correct counts equal the naive loop's: {count_mismatches == 0} "
        f"({count_mismatches} of {len(sample)} differ)")
  if example_mismatches is not None:
    print(f"sampled pairs' per-example outcomes identical to the naive loop: {example_mismatches == 0} "
          f"({example_mismatches} mismatching examples)")
  print(f"peak memory after the pairs (max RSS): {peak_rss_gb():.2f} GB (data {size_gb:.1f} GB)", flush=True)

  greedy(args, probs, labels, accuracy)


def greedy(args, probs, labels, accuracy):
  if args.greedy_steps:
    best = int(np.argmax(accuracy))
    start = time.perf_counter()
    greedy = metrics.greedy_selection(probs, labels, start=best, pool=[m for m in range(args.models) if m != best],
                                      steps=args.greedy_steps)
    print(f"greedy selection, {args.models} models, {args.greedy_steps} steps (first call): "
          f"{time.perf_counter() - start:.2f} s; accuracy {greedy.accuracy[0]:.4f} -> {greedy.accuracy[-1]:.4f}")
    print(f"peak memory (max RSS): {peak_rss_gb():.2f} GB", flush=True)


if __name__ == "__main__":
  main()
