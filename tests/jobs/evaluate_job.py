"""Runs the evaluation runner on Fashion-MNIST with a small random Flax model (a test helper).

  python tests/jobs/evaluate_job.py OUT SPLIT BATCH CHUNK [PROCESS_ID NUM_PROCESSES PORT] [--slow]

Used by the tests as a separate process: with XLA_FLAGS for several fake devices, as
two jax.distributed processes on 127.0.0.1, and to be SIGKILLed part-way.
"""

import sys
import time

import jax

args = [a for a in sys.argv[1:] if not a.startswith("--")]
if len(args) > 4:
  process_id, num_processes, port = int(args[4]), int(args[5]), int(args[6])
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=num_processes,
                             process_id=process_id)

import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

from launch import data, runner, store  # noqa: E402


class TinyCNN(nnx.Module):
  """conv → relu → global mean pool (the embedding) → dense (the logits)."""

  def __init__(self, rngs: nnx.Rngs):
    self.conv = nnx.Conv(1, 8, kernel_size=(3, 3), rngs=rngs)
    self.head = nnx.Linear(8, 10, rngs=rngs)

  def __call__(self, images):
    features = jax.nn.relu(self.conv(images)).mean(axis=(1, 2))
    return self.head(features), features


def main():
  out, split, batch, chunk = args[0], args[1], int(args[2]), int(args[3])
  graphdef, state = nnx.split(TinyCNN(nnx.Rngs(0)))

  def apply(state, images):
    return nnx.merge(graphdef, state)(images.astype(jnp.float32) / 255.0)

  source = data.load_source("fashion_mnist", split)
  if "--slow" in sys.argv:  # slow every batch read down so a test can kill the run part-way
    original = source.get_batch
    source.get_batch = lambda indices: (time.sleep(0.01 * len(indices)), original(indices))[1]
  writer = store.ChunkWriter(out, "fashion_mnist", split, "tiny_cnn", {"weights": "rngs(0)"}, len(source), chunk)
  stats = runner.evaluate(apply, state, source, writer, batch_size=batch)
  print(f"computed={stats.computed_chunks} skipped={stats.skipped_chunks} devices={jax.device_count()}", flush=True)


if __name__ == "__main__":
  main()
