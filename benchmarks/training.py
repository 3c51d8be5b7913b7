r"""Training throughput per architecture of the small catalog, and where vmap pays.

  .venv/bin/python benchmarks/training.py [--batch 64,128] [--steps 12] [--rows cnn.s0,mlp.s0,...] [--vmap 3]

For every batch size of ``--batch`` and every architecture (one row per distinct builder
of the ``small`` catalog, plus the ConvNet as it was before the speed work, ``baseline``,
and the 32 → 32-channel ConvNet the study used before issue 13) prints the FLOPs of one compiled
train step (``jax.jit(...).lower(...).compile().cost_analysis()``: forward, backward and
the AdamW update of the row's own objective), compile time, the median steady-state step
time, examples/s and GFLOP/s, and examples/s relative to the baseline measured in the
same run (the machine is shared: compare ratios, not absolute figures). ``--vmap M``
adds sequential vs vmapped training of M same-architecture models (train_supervised_many).
``--loop N`` times the real loop (zoo.training.train: data on the device) on N Fashion-MNIST
examples for 2 epochs per row, the second epoch's examples/s with each epoch one lax.scan
and with one jitted call per step (the baseline), and says which one the loop picks
(training.scans_epochs).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

import zoo  # noqa: E402
from zoo import fitting, training  # noqa: E402
from zoo.architectures import small  # noqa: E402

DEFAULT_ROWS = ("cnn.s0,mlp.s0,small_cnn.s0,small_resnet.s0,tiny_vit.s0,tiny_mixer.s0,cnn.simclr,cnn.autoencoder,"
                "cnn.distilled")


class BaselineConvNet(nnx.Module):
  """The study's ConvNet before this work: nnx.Conv 32 → 64 channels, max-pools, 3136 → 128."""

  def __init__(self, rngs):
    self.convs = nnx.List([nnx.Conv(1, 32, (3, 3), rngs=rngs), nnx.Conv(32, 64, (3, 3), rngs=rngs)])
    self.dense = nnx.Linear(7 * 7 * 64, 128, rngs=rngs)
    self.head = nnx.Linear(128, 10, rngs=rngs)

  def __call__(self, x):
    for conv in self.convs:
      x = nnx.max_pool(jax.nn.relu(conv(x)), (2, 2), strides=(2, 2))
    embedding = jax.nn.relu(self.dense(x.reshape(x.shape[0], -1)))
    return self.head(embedding), embedding


def objective_of(entry, images, labels):
  """(loss_fn, batch arrays) of the row's training objective."""
  if entry.objective.startswith("contrastive"):
    return training.nt_xent_loss, (images, images[::-1], jnp.float32(0.5))
  if entry.objective == "autoencoding":
    return training.reconstruction_loss, (images,)
  if entry.objective == "distillation":
    return training.distillation_loss, (images, jax.random.normal(jax.random.key(0), (len(images), 10)),
                                        jnp.float32(4.0))
  return training.cross_entropy_loss, (images, labels)


def measure(name, model, loss_fn, batch, steps):
  recipe = training.SupervisedRecipe()
  start = time.perf_counter()
  step, state = training.compiled_step(model, loss_fn, batch, recipe, total_steps=1000)
  compile_s = time.perf_counter() - start
  flops = training.step_flops(step)
  state, loss = step(state, batch)
  jax.block_until_ready(loss)
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    state, loss = step(state, batch)
    jax.block_until_ready(loss)
    times.append(time.perf_counter() - start)
  seconds = statistics.median(times)
  return {"name": name, "mflop": flops / len(batch[0]) / 1e6, "compile": compile_s, "step_ms": 1e3 * seconds,
          "examples_s": len(batch[0]) / seconds, "gflops": flops / seconds / 1e9}


def vmap_comparison(rows, models_count, examples):
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (examples, 28, 28, 1)).astype(np.uint8)
  labels = rng.integers(0, 10, examples)
  for name in rows:
    entry = zoo.get(name)
    recipes = [training.SupervisedRecipe(epochs=1, seed=s) for s in range(models_count)]
    start = time.perf_counter()
    for recipe in recipes:
      training.train_supervised(zoo.build(entry, recipe.seed), images, labels, recipe, entry.preprocessing)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    training.train_supervised_many([zoo.build(entry, r.seed) for r in recipes], images, labels, recipes,
                                   entry.preprocessing)
    vmapped = time.perf_counter() - start
    print(f"vmap {name}: {models_count} models × {examples} examples, 1 epoch incl. compile: sequential "
          f"{sequential:.2f} s, vmapped {vmapped:.2f} s, speed-up {sequential / vmapped:.2f}x", flush=True)


def loop_comparison(rows, examples: int) -> None:
  """Second-epoch examples/s of train_supervised, scanned epochs vs per-step calls."""
  from launch import data
  images, labels = data.fashion_mnist_arrays("train")
  images, labels = images[:examples], labels[:examples]
  chosen = training.scans_epochs
  print(f"\nloop on {examples} examples, epoch 2 (compiled): {'row':30s} {'scan ex/s':>10s} {'per-step ex/s':>14s} "
        f"{'scan/step':>9s}  picked")
  for name in rows:
    entry = zoo.get(name)
    recipe = dataclasses.replace(fitting.recipe_of(entry, 2), epochs=2)
    rates = {}
    for scan in (True, False):
      training.scans_epochs = lambda model, scan=scan: scan
      times = []
      model = zoo.build(entry)
      target = model.backbone if isinstance(model, (small.LinearProbed, small.Retrained, small.FineTuned)) else model
      training.train_supervised(target if entry.objective == "supervised" else model, images, labels, recipe,
                                entry.preprocessing, log=lambda line: times.append(time.perf_counter()))
      rates[scan] = examples // recipe.batch_size * recipe.batch_size / (times[1] - times[0])
    training.scans_epochs = chosen
    picked = "scan" if chosen(zoo.build(entry)) else "per step"
    print(f"{'':43s} {name:30s} {rates[True]:10.0f} {rates[False]:14.0f} {rates[True] / rates[False]:8.2f}x  {picked}",
          flush=True)


def table(batch_size: int, rows, steps: int) -> None:
  """One row per architecture at ``batch_size``; examples/s relative to the baseline."""
  rng = np.random.default_rng(0)
  raw = rng.integers(0, 256, (batch_size, 28, 28, 1)).astype(np.uint8)
  labels = jnp.asarray(rng.integers(0, 10, batch_size))
  entry = zoo.get("cnn.s0")
  images = entry.preprocessing(jnp.asarray(raw))
  results = [measure("baseline (ConvNet before)", BaselineConvNet(nnx.Rngs(0)), training.cross_entropy_loss,
                     (images, labels), steps),
             measure("ConvNet 32→32, BN (the base before issue 13)",
                     small.ConvNet(1, 10, channels=(32, 32), batch_norm=True, rngs=nnx.Rngs(0)),
                     training.cross_entropy_loss, (images, labels), steps)]
  for name in rows:
    entry = zoo.get(name)
    model = zoo.build(entry)
    target = model.backbone if isinstance(model, (small.LinearProbed, small.Retrained)) else model
    loss_fn, batch = objective_of(entry, entry.preprocessing(jnp.asarray(raw)), labels)
    results.append(measure(f"{name} ({entry.architecture}, {entry.objective})", target, loss_fn, batch, steps))
  baseline = results[0]["examples_s"]
  print(f"\nbatch {batch_size}: {'row':51s} {'MFLOP/ex':>9s} {'compile s':>9s} {'step ms':>8s} {'ex/s':>8s} "
        f"{'GFLOP/s':>8s} {'× baseline':>10s}")
  for r in results:
    print(f"{r['name']:60s} {r['mflop']:9.2f} {r['compile']:9.2f} {r['step_ms']:8.1f} {r['examples_s']:8.0f} "
          f"{r['gflops']:8.1f} {r['examples_s'] / baseline:9.2f}x", flush=True)


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--batch", default="64,128", help="comma-separated batch sizes")
  parser.add_argument("--steps", type=int, default=12)
  parser.add_argument("--rows", default=DEFAULT_ROWS)
  parser.add_argument("--vmap", type=int, default=0, help="models per vmap comparison (0: skip)")
  parser.add_argument("--vmap_rows", default="cnn.s0,mlp.s0")
  parser.add_argument("--loop", type=int, default=0, help="examples per loop comparison (0: skip)")
  parser.add_argument("--loop_rows", default="cnn.s0,mlp.s0,small_resnet.s0,tiny_mixer.s0")
  args = parser.parse_args()
  print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}; batches {args.batch}", flush=True)
  for batch_size in [int(b) for b in args.batch.split(",")]:
    table(batch_size, args.rows.split(","), args.steps)
  if args.loop:
    loop_comparison(args.loop_rows.split(","), args.loop)
  if args.vmap:
    vmap_comparison(args.vmap_rows.split(","), args.vmap, 20 * int(args.batch.split(",")[0]))


if __name__ == "__main__":
  main()
