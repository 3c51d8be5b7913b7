"""Benchmark: the evaluation runner's throughput vs. the bare jitted forward.

Same model (a CNN with real compute at 96 px), same batch, same examples (Fashion-MNIST
test, upsampled on device by the model's preprocessing). The bare forward loops over
batches already resident on the device; the runner decodes on the host, prefetches,
shards, gathers, checks and writes the store. Prints both rates and their ratio
(target ≥ 90%: the input pipeline is never the bottleneck).

  python benchmarks/evaluate.py [--examples 4096 --batch 256 --resolution 96]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
from flax import nnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from launch import data, runner, store  # noqa: E402
from zoo.architectures import small  # noqa: E402
from zoo.preprocessing import Preprocessing  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--examples", type=int, default=4096)
  parser.add_argument("--split", default="test", help="Fashion-MNIST split to read the examples from")
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--resolution", type=int, default=96)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--data_dir", default=None, help="directory of the Fashion-MNIST IDX files")
  args = parser.parse_args()

  source = data.load_source("fashion_mnist", f"{args.split}[:{args.examples}]", args.data_dir)
  model = small.SmallCNN(3, 10, channels=(64, 128, 256), rngs=nnx.Rngs(0))
  graphdef, state = nnx.split(model)
  preprocess = Preprocessing(args.resolution, 1.0, "bilinear", (0.5,) * 3, (0.5,) * 3, channels=3)
  apply = lambda state, images: nnx.merge(graphdef, state)(preprocess(images))

  mesh = runner.data_mesh()
  global_batch = runner._global_batch_size(args.batch, mesh)
  forward = jax.jit(apply)
  batches = [jax.device_put(source.images[i:i + global_batch]) for i in range(0, len(source), global_batch)]
  batches[-1] = jnp.pad(batches[-1], ((0, global_batch - batches[-1].shape[0]), (0, 0), (0, 0), (0, 0)))
  jax.block_until_ready(forward(state, batches[0]))
  bare = []
  for _ in range(args.repeats):
    start = time.perf_counter()
    outputs = [forward(state, batch) for batch in batches]
    jax.block_until_ready(outputs)
    bare.append(len(source) / (time.perf_counter() - start))

  rates = []
  for repeat in range(args.repeats + 1):
    with tempfile.TemporaryDirectory() as out:
      writer = store.ChunkWriter(out, "fashion_mnist", "bench", "cnn", {}, len(source), global_batch * 4)
      start = time.perf_counter()
      runner.evaluate(apply, state, source, writer, batch_size=args.batch, mesh=mesh)
      if repeat:  # the first run compiles
        rates.append(len(source) / (time.perf_counter() - start))
  bare_rate, runner_rate = statistics.median(bare), statistics.median(rates)

  # Where to resize: on the host (PIL, per image, as for variable-size datasets) or on
  # the device inside the jitted forward (batched, as for fixed-size datasets).
  sample = source.images[:global_batch]
  device_resize = jax.jit(preprocess)
  jax.block_until_ready(device_resize(jnp.asarray(sample)))
  start = time.perf_counter()
  jax.block_until_ready(device_resize(jnp.asarray(sample)))
  device_rate = len(sample) / (time.perf_counter() - start)
  start = time.perf_counter()
  for image in sample:
    preprocess.host_resize(image)
  host_rate = len(sample) / (time.perf_counter() - start)
  print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()}; {len(source)} examples, batch {global_batch}, "
        f"{args.resolution} px")
  print(f"bare jitted forward on device-resident data: {bare_rate:.0f} examples/s (median of {args.repeats})")
  print(f"runner (decode, prefetch, shard, gather, store): {runner_rate:.0f} examples/s (median of {args.repeats})")
  print(f"runner / bare: {runner_rate / bare_rate:.1%} (target >= 90%)")
  print(f"resize to {args.resolution} px: on device (batched, jitted) {device_rate:.0f} images/s; "
        f"on the host (PIL, one thread) {host_rate:.0f} images/s")


if __name__ == "__main__":
  main()
