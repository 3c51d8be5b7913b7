r"""The accelerator benchmark behind benchmarks/device.sh: one run, one markdown table for RESULTS.md.

    .venv/bin/python benchmarks/device.py [--tiny] [--out device.md]

Measures, on whatever ``jax.devices()`` offers (the table names it):

1. **evaluation throughput** (images/s, bfloat16 forward) of ResNet-50, ViT-B/16, ConvNeXt-T and
   EfficientNet-B3 through the runner (``launch.runner.evaluate_zoo_model``: host decode, prefetch,
   sharding, the store's chunk writes), with random weights of the real architectures (the paper
   catalog's rows' builders) on synthetic 256 × 256 uint8 images resized on the device by each row's
   preprocessing; the first pass compiles and is not counted;
2. **all-pairs metrics** (``metrics.pairwise_ensemble``) at N = 82, E = 50,000, K = 1,000 on
   benchmarks/synthetic.py's bfloat16 predictions: first call (compile included) and a second call;
3. **all-pairs CKA** (``metrics.similarity.cross_covariance_sums`` + linear and unbiased CKA) at
   N = 82, E = 50,000, D = 2,048 float16 features held in host memory (16.8 GB);
4. **the probe sweep** (``probes.logistic``'s warm-started L-BFGS over Kornblith's 45 strengths) on
   benchmarks/probe.py's synthetic 50,000 × 4,096 embeddings of 100 classes.

``--tiny`` shrinks every size (8 models, 512 examples, 96 px images, …) so the whole script runs
end to end on a CPU in a few minutes: a check of the script, not a measurement.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "benchmarks"))  # after the packages: benchmarks/zoo.py is a script

# Architecture → the paper catalog's row whose builder makes it (random weights).
MODELS = {"ResNet-50": "resnet50.base", "ViT-B/16": "vit_b16.in21k_ft_in1k", "ConvNeXt-T": "convnext_tiny.in1k",
          "EfficientNet-B3": "efficientnet_b3.in1k"}
FULL = dict(images=8192, image_side=256, batch=256, models=82, examples=50_000, classes=1000, width=2048,
            probe_train=50_000, probe_val=10_000, probe_dim=4096, probe_classes=100, memory_budget=16 << 30)
TINY = dict(images=64, image_side=96, batch=32, models=8, examples=512, classes=100, width=64,
            probe_train=1000, probe_val=200, probe_dim=64, probe_classes=10, memory_budget=1 << 28)


def _timed(function, *args, **kwargs) -> tuple[float, object]:
  start = time.perf_counter()
  result = jax.block_until_ready(function(*args, **kwargs))
  return time.perf_counter() - start, result


def throughput(sizes: dict) -> list[tuple[str, str, str]]:
  """(measure, value, note) rows: images/s of each model through the runner (second pass)."""
  from flax import nnx
  import zoo
  from launch import data, runner
  rng = np.random.default_rng(0)
  n, side = sizes["images"], sizes["image_side"]
  source = data.ArraySource(rng.integers(0, 256, (n, side, side, 3), dtype=np.uint8),
                            rng.integers(0, 1000, n).astype(np.int64), np.arange(n, dtype=np.int64), 1000)
  rows = []
  for label, name in MODELS.items():
    model = zoo.get(name).builder(nnx.Rngs(0))
    rates = []
    for repeat in range(2):  # the first pass compiles
      with tempfile.TemporaryDirectory() as out:
        settings = dict(out=out, dataset="synthetic", split=f"pass{repeat}", zoo_dir=out, batch_size=sizes["batch"],
                        chunk_batches=4, precision="bfloat16", logits_dtype="float16")
        start = time.perf_counter()
        runner.evaluate_zoo_model(name, source, settings, model=model, weights_sha256="random", report=None,
                                  summary=False)
        rates.append(n / (time.perf_counter() - start))
    resolution = zoo.get(name).preprocessing.resolution
    rows.append((f"evaluation, {label} (bf16, runner)", f"{rates[1]:,.0f} images/s",
                 f"{n} images {side} px → {resolution} px, batch {sizes['batch']}; first pass {rates[0]:,.0f}/s"))
    print(rows[-1], flush=True)
  return rows


def pairwise(sizes: dict) -> list[tuple[str, str, str]]:
  import metrics
  from synthetic import synthetic_probs
  n, e, k = sizes["models"], sizes["examples"], sizes["classes"]
  start = time.perf_counter()
  probs, labels = synthetic_probs(n, e, k, dtype=jnp.bfloat16)
  generated = time.perf_counter() - start
  first, _ = _timed(metrics.pairwise_ensemble, probs, labels)
  second, _ = _timed(metrics.pairwise_ensemble, probs, labels)
  shape = f"N={n}, E={e:,}, K={k:,}"
  rows = [(f"all-pairs metrics ({shape}, {n * (n - 1) // 2:,} pairs)", f"{second:.2f} s",
           f"first call (compile included) {first:.2f} s; bf16 predictions generated in {generated:.0f} s")]
  print(rows[-1], flush=True)
  return rows


def cka(sizes: dict) -> list[tuple[str, str, str]]:
  from metrics import similarity
  n, e, d = sizes["models"], sizes["examples"], sizes["width"]
  key = jax.random.key(0)
  latent = jax.random.normal(key, (e, 64))
  features = []
  start = time.perf_counter()
  for m in range(n):  # shared latent factors through model-specific mixings plus noise (benchmarks/similarity.py)
    mixing = jax.random.normal(jax.random.fold_in(key, 2 * m + 1), (64, d)) * (0.2 + 0.05 * (m % 8))
    noise = jax.random.normal(jax.random.fold_in(key, 2 * m + 2), (e, d))
    features.append(np.asarray((latent @ mixing + noise).astype(jnp.float16)))
  generated = time.perf_counter() - start
  budget = sizes["memory_budget"]
  block = similarity.auto_block_size("primal", [d] * n, budget)
  similarity.cross_covariance_sums([f[:block] for f in features], block_size=block, memory_budget=budget)  # compiles
  start = time.perf_counter()
  sums = similarity.cross_covariance_sums(features, block_size=block, memory_budget=budget)
  biased, unbiased = similarity.cka_from_sums(sums), similarity.cka_from_sums(sums, unbiased=True)
  seconds = time.perf_counter() - start
  assert np.isfinite(biased).all() and np.isfinite(unbiased).all()
  rows = [(f"all-pairs CKA, linear + unbiased (N={n}, E={e:,}, D={d:,} float16)", f"{seconds:.1f} s",
           f"host-held features ({n * e * d * 2 / 1e9:.1f} GB) generated in {generated:.0f} s; compile call on one "
           f"block not counted; memory budget {budget / 2**30:.2f} GiB")]
  print(rows[-1], flush=True)
  return rows


def probe_sweep(sizes: dict) -> list[tuple[str, str, str]]:
  from probes import logistic
  from probe import synthetic_embeddings
  rng = np.random.default_rng(0)
  dim, classes = sizes["probe_dim"], sizes["probe_classes"]
  centers = (rng.normal(size=(classes, dim)) * 0.06).astype(np.float32)
  nuisance = (rng.normal(size=(64, dim)) * 0.5).astype(np.float32)
  x_train, y_train = synthetic_embeddings(rng, sizes["probe_train"], dim, classes, centers, nuisance)
  x_val, y_val = synthetic_embeddings(rng, sizes["probe_val"], dim, classes, centers, nuisance)
  x_train, x_val = logistic.standardize(x_train, x_val)
  grid = np.asarray(logistic.KORNBLITH_L2_GRID)
  path = jnp.asarray(grid[::-1].copy(), jnp.float32)
  seconds, (accuracy, iterations, _) = _timed(logistic._sweep, x_train, jax.nn.one_hot(y_train, classes), x_val,
                                              jnp.asarray(y_val), path, 1000, 1e-5)
  rows = [(f"probe sweep, {len(grid)} strengths ({sizes['probe_train']:,} × {dim:,}, {classes} classes)",
           f"{seconds:.1f} s", f"compile included; {int(np.sum(iterations))} L-BFGS iterations; best val accuracy "
                               f"{float(np.max(accuracy)):.3f}")]
  print(rows[-1], flush=True)
  return rows


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--tiny", action="store_true", help="tiny sizes: a CPU check of the script, not a measurement")
  parser.add_argument("--out", default="device.md", help="markdown table written here")
  parser.add_argument("--only", default="throughput,pairwise,cka,probe", help="comma-separated parts to run")
  args = parser.parse_args()
  sizes = TINY if args.tiny else FULL
  parts = {"throughput": throughput, "pairwise": pairwise, "cka": cka, "probe": probe_sweep}
  start, rows = time.perf_counter(), []
  for part in args.only.split(","):
    rows += parts[part](sizes)
  device = jax.devices()[0]
  header = (f"{device.platform.upper()} {device.device_kind} × {jax.device_count()}, jax {jax.__version__}"
            f"{' (--tiny: a check of the script, not a measurement)' if args.tiny else ''}; total "
            f"{time.perf_counter() - start:.0f} s, peak host RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB")
  table = "\n".join([header, "", "| measure | result | notes |", "|---|---:|---|"]
                    + [f"| {m} | {v} | {n} |" for m, v, n in rows]) + "\n"
  Path(args.out).write_text(table)
  print("\n" + table)
  return 0


if __name__ == "__main__":
  sys.exit(main())
