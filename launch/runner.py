"""The sharded evaluation runner: exact, resumable, one code path from one CPU to a pod.

For one model on one split it computes logits and the pre-logit embedding of every
example and writes them to the store (:mod:`launch.store`) chunk by chunk:

* one jit-compiled forward (preprocessing included, so resize/normalise run on the
  accelerator) with the batch sharded along the ``data`` axis of a Mesh over all
  devices of all processes, parameters replicated;
* every global batch has the same static shape: the last one is padded and the padded
  rows are dropped by a mask, so no example is lost or counted twice whatever the
  split size, device count or process count;
* each process reads only its own slice of every global batch (``jax.process_index``)
  and all processes run the same steps; outputs are gathered and process 0 writes;
* host decoding runs one batch ahead in a background thread (prefetch);
* chunks already in the store (and passing their checksum) are skipped, so a killed
  run, rerun, computes only what is missing.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from launch import store


def data_mesh(devices=None) -> Mesh:
  """A 1-D mesh named "data" over all devices of all processes (Auto axis type)."""
  devices = jax.devices() if devices is None else devices
  return Mesh(np.asarray(devices), ("data",), axis_types=(AxisType.Auto,))


class NonFiniteOutputs(ValueError):
  """The model produced NaN or infinite logits."""


@dataclasses.dataclass(frozen=True)
class RunStats:
  computed_chunks: int
  skipped_chunks: int
  examples_per_second: float


def _global_batch_size(requested: int, mesh: Mesh) -> int:
  """Rounds the batch up to a multiple of the device count (every device gets equal rows)."""
  devices = mesh.devices.size
  return -(-requested // devices) * devices


def _host_batch(source, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Decodes rows (−1 = padding) into images, labels, ids and a validity mask."""
  valid = rows >= 0
  first = source[int(rows[valid][0])] if valid.any() else source[0]
  images = np.zeros((len(rows),) + np.shape(first["image"]), np.asarray(first["image"]).dtype)
  labels = np.zeros(len(rows), np.int64)
  ids = np.full(len(rows), -1, np.int64)
  for slot in np.flatnonzero(valid):
    record = source[int(rows[slot])]
    images[slot], labels[slot], ids[slot] = record["image"], record["label"], record["id"]
  return images, labels, ids, valid


def evaluate(apply_fn: Callable, params: Any, source, writer: store.ChunkWriter, *, batch_size: int,
             mesh: Mesh | None = None, compute_dtype=jnp.float32, log_every_s: float = 10.0) -> RunStats:
  """Evaluates ``apply_fn(params, images) -> (logits, embeddings)`` on every example of ``source``.

  Args:
    apply_fn: pure function of (params, uint8 images [B, H, W, C]) returning logits
      [B, K] and embeddings [B, D]; it includes the model's preprocessing.
    params: pytree, replicated over the mesh.
    source: random-access source (``len``, ``[i]`` → {"image", "label", "id"}).
    writer: the store chunk writer; its chunk size must be a multiple of the global batch.
    batch_size: requested global batch (rounded up to a multiple of the device count).
    compute_dtype: e.g. ``jnp.bfloat16`` to run the forward in bfloat16; outputs are
      always stored as float32.
  Raises:
    NonFiniteOutputs: a chunk has NaN or infinite logits (nothing of it is written).
  """
  mesh = data_mesh() if mesh is None else mesh
  global_batch = _global_batch_size(batch_size, mesh)
  if writer.chunk_size % global_batch:
    raise ValueError(f"store chunk size {writer.chunk_size} must be a multiple of the global batch {global_batch}.")
  if writer.num_examples != len(source):
    raise ValueError(f"the store expects {writer.num_examples} examples but the source has {len(source)}.")
  processes, process = jax.process_count(), jax.process_index()
  local_batch = global_batch // processes
  batch_sharding = NamedSharding(mesh, PartitionSpec("data"))
  replicated = NamedSharding(mesh, PartitionSpec())
  params = jax.device_put(jax.tree.map(lambda p: jnp.asarray(p, compute_dtype) if jnp.issubdtype(
      jnp.asarray(p).dtype, jnp.floating) else p, params), replicated)

  @jax.jit
  def forward(params, images):
    logits, embeddings = apply_fn(params, images)
    return logits.astype(jnp.float32), embeddings.astype(jnp.float32)

  # Every process must agree on which chunks to compute: process 0 decides.
  missing = writer.missing_chunks() if process == 0 else []
  if processes > 1:
    flags = np.zeros(writer.num_chunks, np.int32)
    flags[missing] = 1
    flags = multihost_utils.broadcast_one_to_all(flags)
    missing = np.flatnonzero(flags).tolist()
  steps_per_chunk = writer.chunk_size // global_batch

  def local_rows(chunk: int, step: int) -> np.ndarray:
    start = writer.rows(chunk)[0] + step * global_batch + process * local_batch
    rows = np.arange(start, start + local_batch)
    return np.where(rows < writer.num_examples, rows, -1)

  plan = [(chunk, step) for chunk in missing for step in range(steps_per_chunk)
          if writer.rows(chunk)[0] + step * global_batch < writer.rows(chunk)[1]]
  started, examples, last_log = time.perf_counter(), 0, time.perf_counter()
  with concurrent.futures.ThreadPoolExecutor(1) as prefetcher:
    pending = prefetcher.submit(_host_batch, source, local_rows(*plan[0])) if plan else None
    outputs: dict[str, list] = {name: [] for name in store.ARRAYS}
    for position, (chunk, step) in enumerate(plan):
      images, labels, ids, valid = pending.result()
      if position + 1 < len(plan):
        pending = prefetcher.submit(_host_batch, source, local_rows(*plan[position + 1]))
      global_images = jax.make_array_from_process_local_data(batch_sharding, images)
      logits, embeddings = forward(params, global_images)
      gathered = multihost_utils.process_allgather((logits, embeddings, labels, ids, valid), tiled=True) \
          if processes > 1 else jax.device_get((logits, embeddings, labels, ids, valid))
      logits, embeddings, labels, ids, valid = gathered
      for name, value in zip(store.ARRAYS, (logits, embeddings, labels, ids)):
        outputs[name].append(np.asarray(value)[np.asarray(valid)])
      examples += int(np.sum(valid))
      last_step = position + 1 == len(plan) or plan[position + 1][0] != chunk
      if last_step:
        arrays = {name: np.concatenate(parts) for name, parts in outputs.items()}
        outputs = {name: [] for name in store.ARRAYS}
        if not np.all(np.isfinite(arrays["logits"])):
          raise NonFiniteOutputs(f"NaN or infinite logits in rows {writer.rows(chunk)} of {writer.directory}.")
        if process == 0:
          writer.write_chunk(chunk, arrays)
      if time.perf_counter() - last_log > log_every_s:
        rate = examples / (time.perf_counter() - started)
        remaining = sum(min(global_batch, writer.num_examples - writer.rows(c)[0] - s * global_batch)
                        for c, s in plan[position + 1:])
        logging.info("%s: %d examples, %.0f examples/s, ETA %.0f s", writer.directory.name, examples, rate,
                     remaining / max(rate, 1e-9))
        last_log = time.perf_counter()
  if processes > 1:
    multihost_utils.sync_global_devices("overlap-evaluate-done")
  elapsed = time.perf_counter() - started
  return RunStats(computed_chunks=len(missing), skipped_chunks=writer.num_chunks - len(missing),
                  examples_per_second=examples / elapsed if elapsed > 0 else float("nan"))
