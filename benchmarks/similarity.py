"""Benchmark: all-pairs representational similarity vs. per-pair numpy loops.

Target (issue 14): N = 82 models, E = 50,000 examples, D = 2,048 features in float16
storage (16.8 GB, written blockwise to an on-disk memmap under --dir and deleted
afterwards): all-pairs linear and unbiased CKA ≤ 60 s and ≥ 20× a per-pair numpy loop;
mutual k-NN and CKNNA for N = 82 at E = 5,000, k = 10 ≤ 120 s.

Prints, all measured in the same run:
  * the machine's float32 GEMM rate (XLA and numpy), the multiply-adds each algorithm
    needs and the time that rate implies, so an out-of-reach target is visible as such;
  * ``metrics.similarity.cross_covariance_sums`` + both CKA estimators on the memmaps
    (one untimed call on the first block compiles the kernels first);
  * the per-pair numpy loop (load both models, centre, three GEMMs: XᵀY, XᵀX, YᵀY, row
    norms for the unbiased estimator) on a sample of pairs, extrapolated to all pairs,
    checked against the all-pairs result;
  * ``knn_graphs`` + ``scores_from_graphs`` (mutual k-NN and CKNNA) and the per-pair
    loop platonic-rep runs (neighbours of both models recomputed for every pair);
  * peak RSS.

Run (heavy: under the lock): ``flock /tmp/overlap-heavy.lock python benchmarks/similarity.py``;
``--models/--examples/--width/--knn_examples`` for smaller runs, ``--skip_cka`` or
``--skip_knn`` for one half.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from metrics import similarity  # noqa: E402


def peak_rss_gb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def gemm_rates(size: int = 2048, repeats: int = 3) -> tuple[float, float]:
  """Measured float32 multiply-adds per second of XLA (jnp.matmul) and numpy for [s, s]ᵀ·[s, 2s]."""
  rng = np.random.default_rng(0)
  a = rng.standard_normal((size, size), dtype=np.float32)
  b = rng.standard_normal((size, 2 * size), dtype=np.float32)
  macs = size * size * 2 * size
  product = jax.jit(lambda x, y: jnp.matmul(x.T, y, precision=jax.lax.Precision.HIGHEST))
  ja, jb = jnp.asarray(a), jnp.asarray(b)
  product(ja, jb).block_until_ready()
  xla, numpy_times = [], []
  for _ in range(repeats):
    start = time.perf_counter()
    product(ja, jb).block_until_ready()
    xla.append(time.perf_counter() - start)
    start = time.perf_counter()
    a.T @ b
    numpy_times.append(time.perf_counter() - start)
  return macs / statistics.median(xla), macs / statistics.median(numpy_times)


def write_features(directory: Path, models: int, examples: int, width: int, block: int = 4096) -> list[np.ndarray]:
  """float16 memmaps [E, D] per model: shared latent factors seen through model-specific mixings plus noise."""
  rng = np.random.default_rng(0)
  latent_width = 64
  mixings = [rng.standard_normal((latent_width, width), dtype=np.float32) * (0.2 + 0.05 * (m % 8))
             for m in range(models)]
  arrays = [np.lib.format.open_memmap(directory / f"model{m:03d}.npy", mode="w+", dtype=np.float16,
                                      shape=(examples, width)) for m in range(models)]
  for start in range(0, examples, block):
    rows = min(block, examples - start)
    latent = rng.standard_normal((rows, latent_width), dtype=np.float32)
    for m, array in enumerate(arrays):
      array[start:start + rows] = (latent @ mixings[m] + rng.standard_normal((rows, width), dtype=np.float32)
                                   ).astype(np.float16)
  for array in arrays:
    array.flush()
  del arrays
  return [np.load(directory / f"model{m:03d}.npy", mmap_mode="r") for m in range(models)]


def naive_pair_cka(x, y) -> tuple[float, float]:
  """Biased and unbiased linear CKA of one pair in numpy, feature space (what a per-pair loop does)."""
  x = np.asarray(x, np.float32)
  y = np.asarray(y, np.float32)
  x = x - x.mean(0)
  y = y - y.mean(0)
  m = x.shape[0]
  fxy, fxx, fyy = (float(np.sum(np.square(p), dtype=np.float64)) for p in (x.T @ y, x.T @ x, y.T @ y))
  nx = np.sum(x * x, 1, dtype=np.float64)
  ny = np.sum(y * y, 1, dtype=np.float64)

  def hsic_u(f, n1, n2):
    q = float(n1 @ n2)
    return (f - q + n1.sum() * n2.sum() / ((m - 1) * (m - 2)) - 2 * q / (m - 2)) / (m * (m - 3))

  return fxy / np.sqrt(fxx * fyy), hsic_u(fxy, nx, ny) / np.sqrt(hsic_u(fxx, nx, nx) * hsic_u(fyy, ny, ny))


def naive_pair_mutual_knn(x, y, k) -> float:
  """platonic-rep's per-pair mutual_knn in numpy: both models' neighbours recomputed for the pair."""
  def neighbours(f):
    f = np.asarray(f, np.float32)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    sims = f @ f.T
    np.fill_diagonal(sims, -1e8)
    return np.argpartition(-sims, k, axis=1)[:, :k]
  a, b = neighbours(x), neighbours(y)
  e = a.shape[0]
  mask_a = np.zeros((e, e), bool)
  mask_b = np.zeros((e, e), bool)
  np.put_along_axis(mask_a, a, True, 1)
  np.put_along_axis(mask_b, b, True, 1)
  return float(np.mean((mask_a & mask_b).sum(1) / k))


def cka_benchmark(args, directory: Path, gemm_rate: float):
  n, e, d = args.models, args.examples, args.width
  widths = [d] * n
  panels = similarity._panels(widths, args.memory_budget)
  primal, dual = (similarity._macs(m, e, widths, args.memory_budget) for m in ("primal", "dual"))
  method = args.method if args.method != "auto" else ("primal" if primal <= dual else "dual")
  macs = primal if method == "primal" else dual
  pairs = n * (n - 1) // 2
  naive_macs = 3 * pairs * e * d * d
  print(f"\n== CKA: N={n}, E={e:,}, D={d} float16 ({n * e * d * 2 / 1e9:.1f} GB on disk)")
  print(f"multiply-adds: primal Gram ({len(panels)} panel(s) under {args.memory_budget / 2**30:.1f} GiB) {primal:.3g}, "
        f"dual example tiles {dual:.3g} → {method}; per-pair loop (3 GEMMs per pair) {naive_macs:.3g} "
        f"(FLOP ratio {naive_macs / macs:.1f}×)")
  print(f"at the measured XLA rate ({gemm_rate / 1e9:.1f} GMAC/s) that needs ≥ {macs / gemm_rate:.0f} s "
        f"(60 s would need {macs / 60 / 1e9:.0f} GMAC/s)")

  start = time.perf_counter()
  features = write_features(directory, n, e, d)
  print(f"wrote memmaps in {time.perf_counter() - start:.0f} s")
  block = args.block_size or similarity.auto_block_size(method, widths, args.memory_budget)
  block = min(e, block if args.block_size else -(-e // -(-e // block)))   # the library's equal blocks
  start = time.perf_counter()
  similarity.cross_covariance_sums([f[:block] for f in features], method=method, block_size=block,
                                   memory_budget=args.memory_budget)
  print(f"compile call (first block only, not counted): {time.perf_counter() - start:.1f} s")
  start = time.perf_counter()
  sums = similarity.cross_covariance_sums(features, method=method, block_size=block, memory_budget=args.memory_budget)
  biased = similarity.cka_from_sums(sums, unbiased=False)
  unbiased = similarity.cka_from_sums(sums, unbiased=True)
  fast = time.perf_counter() - start
  print(f"all-pairs linear + unbiased CKA ({pairs} pairs, {method}): {fast:.1f} s "
        f"({macs / fast / 1e9:.1f} GMAC/s achieved; peak RSS so far {peak_rss_gb():.2f} GB)")

  rng = np.random.default_rng(1)
  pair_a, pair_b = np.triu_indices(n, 1)
  sample = rng.choice(pairs, size=min(args.naive_pairs, pairs), replace=False)
  times, worst = [], 0.0
  for p in sample:
    a, b = pair_a[p], pair_b[p]
    start = time.perf_counter()
    naive_biased, naive_unbiased = naive_pair_cka(features[a], features[b])
    times.append(time.perf_counter() - start)
    worst = max(worst, abs(naive_biased - biased[a, b]), abs(naive_unbiased - unbiased[a, b]))
  naive_total = statistics.median(times) * pairs
  print(f"per-pair numpy loop: median {statistics.median(times):.2f} s/pair over {len(sample)} pairs → "
        f"{naive_total:.0f} s for all pairs (extrapolated); max |difference| {worst:.2e}")
  print(f"ratio: {naive_total / fast:.1f}× faster than the per-pair loop (target ≥ 20×); "
        f"time {fast:.1f} s vs target 60 s")
  off = ~np.eye(n, dtype=bool)
  print(f"CKA off-diagonal: biased mean {biased[off].mean():.3f}, unbiased mean {unbiased[off].mean():.3f}")
  return features


def knn_benchmark(args, directory: Path, gemm_rate: float, features):
  n, e, d, k = args.models, args.knn_examples, args.knn_width or args.width, args.k
  if features is None or features[0].shape[0] < e or features[0].shape[1] != d:
    features = None
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    start = time.perf_counter()
    features = write_features(directory, n, e, d)
    print(f"\nwrote k-NN memmaps ({n * e * d * 2 / 1e9:.1f} GB) in {time.perf_counter() - start:.0f} s")
  subset = [f[:e] for f in features]
  tile = int(min(1024, np.sqrt(1 << 24), e))
  blocks = -(-e // tile)
  tile = -(-e // blocks)
  macs = n * blocks * (blocks + 1) / 2 * tile * tile * d      # symmetric tiles only
  print(f"\n== k-NN: N={n}, E={e:,}, D={d}, k={k}: neighbour search {macs:.3g} multiply-adds "
        f"(≥ {macs / gemm_rate:.0f} s at the measured rate; 120 s would need {macs / 120 / 1e9:.0f} GMAC/s); "
        f"per-pair loop {2 * e * e * d * n * (n - 1) / 2:.3g}")
  start = time.perf_counter()
  similarity.knn_graphs(subset[:2], k)
  compile_time = time.perf_counter() - start
  start = time.perf_counter()
  graphs = similarity.knn_graphs(subset, k)
  search = time.perf_counter() - start
  start = time.perf_counter()
  similarity.scores_from_graphs(graphs)
  first_pairs_time = time.perf_counter() - start
  start = time.perf_counter()
  scores = similarity.scores_from_graphs(graphs)
  pairs_time = time.perf_counter() - start
  total = search + pairs_time
  print(f"neighbour lists of {n} models: {search:.1f} s (after a {compile_time:.1f} s warm-up on 2 models); "
        f"mutual k-NN + CKNNA of {n * (n - 1) // 2} pairs: {pairs_time:.1f} s "
        f"(first call with compiling {first_pairs_time:.1f} s); total {total:.1f} s vs target 120 s")
  rng = np.random.default_rng(2)
  pair_a, pair_b = np.triu_indices(n, 1)
  sample = rng.choice(pair_a.size, size=min(args.naive_pairs, pair_a.size), replace=False)
  times, worst = [], 0.0
  for p in sample:
    start = time.perf_counter()
    value = naive_pair_mutual_knn(subset[pair_a[p]], subset[pair_b[p]], k)
    times.append(time.perf_counter() - start)
    worst = max(worst, abs(value - scores["mutual_knn"][pair_a[p], pair_b[p]]))
  naive_total = statistics.median(times) * pair_a.size
  print(f"per-pair loop (platonic-rep style, mutual k-NN only): median {statistics.median(times):.2f} s/pair → "
        f"{naive_total:.0f} s for all pairs (extrapolated); ratio {naive_total / total:.0f}×; "
        f"max |difference| {worst:.2e}")


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50_000)
  parser.add_argument("--width", type=int, default=2048)
  parser.add_argument("--knn_examples", type=int, default=5_000)
  parser.add_argument("--knn_width", type=int, default=None, help="feature width for k-NN (default --width)")
  parser.add_argument("--k", type=int, default=10)
  parser.add_argument("--naive_pairs", type=int, default=4, help="pairs timed with the per-pair loops")
  parser.add_argument("--block_size", type=int, default=None, help="examples per streamed block (default: auto)")
  parser.add_argument("--memory_budget", type=float, default=2.0, help="GiB for one Gram panel")
  parser.add_argument("--method", default="auto", choices=("auto", "primal", "dual"))
  parser.add_argument("--dir", default="/tmp", help="where the memmap directory is created (and deleted)")
  parser.add_argument("--skip_cka", action="store_true")
  parser.add_argument("--skip_knn", action="store_true")
  args = parser.parse_args()
  args.memory_budget = int(args.memory_budget * 2**30)

  print(f"devices: {jax.devices()}")
  xla_rate, numpy_rate = gemm_rates()
  print(f"measured float32 GEMM rate: XLA {xla_rate / 1e9:.1f} GMAC/s, numpy {numpy_rate / 1e9:.1f} GMAC/s "
        f"({2 * xla_rate / 1e9:.1f} / {2 * numpy_rate / 1e9:.1f} GFLOP/s)")
  full = [similarity._macs(m, 50_000, [2048] * 82, 2 << 30) for m in ("primal", "dual")]
  print(f"issue-14 target scale (82 × 50,000 × 2,048): primal {full[0]:.3g}, dual {full[1]:.3g} multiply-adds → "
        f"≥ {min(full) / xla_rate:.0f} s here at the measured rate; 60 s needs {min(full) / 60 / 1e12:.1f} TMAC/s")

  directory = Path(tempfile.mkdtemp(prefix="overlap-similarity-", dir=args.dir))
  try:
    features = None if args.skip_cka else cka_benchmark(args, directory, xla_rate)
    if not args.skip_knn:
      knn_benchmark(args, directory, xla_rate, features)
  finally:
    shutil.rmtree(directory, ignore_errors=True)
  print(f"\npeak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
  main()
