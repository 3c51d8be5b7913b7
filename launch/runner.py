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
* host decoding runs in a grain pipeline (threads, batches prefetched in order), and
  each step is dispatched before the previous step's outputs are fetched (the device
  never waits);
* chunks already in the store (and passing their checksum) are skipped, so a killed
  run, rerun, computes only what is missing.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import time
from typing import Any, Callable

import grain
import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from launch import caches, store


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


def _host_batch(source, rows: np.ndarray, host_transform=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Decodes rows (−1 = padding) into images, labels, ids and a validity mask.

  Sources with a vectorised ``get_batch(indices)`` (in-memory arrays) are read in one
  call; others record by record, each image through ``host_transform`` if given (the
  host-side resize that makes variable-size images stackable).
  """
  valid = rows >= 0
  indices = rows[valid]
  if hasattr(source, "get_batch") and indices.size and host_transform is None:
    batch = source.get_batch(indices)
    images_valid, labels_valid, ids_valid = batch["image"], batch["label"], batch["id"]
  else:
    records = [source[int(i)] for i in indices] or [source[0]]
    transform = host_transform or (lambda image: image)
    images_valid = np.stack([transform(r["image"]) for r in records])[:indices.size]
    labels_valid = np.stack([np.asarray(r["label"], np.int64) for r in records])[:indices.size]
    ids_valid = np.asarray([r["id"] for r in records], np.int64)[:indices.size]
  images = np.zeros((len(rows),) + images_valid.shape[1:], images_valid.dtype)
  labels = np.zeros((len(rows),) + np.shape(labels_valid)[1:], np.int64)   # [B] or multi-hot [B, C]
  ids = np.full(len(rows), -1, np.int64)
  images[valid], labels[valid], ids[valid] = images_valid, labels_valid, ids_valid
  return images, labels, ids, valid


@functools.lru_cache(maxsize=32)  # one per architecture (_zoo_apply); bounded so closures do not pile up
def _jitted_forward(apply_fn: Callable):
  """One compiled forward per apply function (reused across splits and reruns)."""

  @jax.jit
  def forward(params, images):
    logits, embeddings = apply_fn(params, images)
    return logits.astype(jnp.float32), embeddings.astype(jnp.float32)

  return forward


def evaluate(apply_fn: Callable, params: Any, source, writer: store.ChunkWriter, *, batch_size: int,
             mesh: Mesh | None = None, compute_dtype=jnp.float32, log_every_s: float = 10.0,
             host_transform: Callable | None = None, decode_threads: int = 4,
             progress: Callable[[int, int], None] | None = None) -> RunStats:
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
    host_transform: optional per-image host function (e.g. the zoo entry's
      ``preprocessing.host_resize``) for sources whose images differ in size.
    decode_threads: host threads of the grain decoding pipeline.
    progress: optional ``progress(examples_done, examples_to_compute)``, called after
      every step (a progress bar); without it, an INFO log line every ``log_every_s``.
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
  params = _replicated_params(params, compute_dtype, replicated)
  forward = _jitted_forward(apply_fn)
  missing = _agreed_missing_chunks(writer, process, processes)
  steps_per_chunk = writer.chunk_size // global_batch

  plan, rows_per_step = _plan(writer, missing, steps_per_chunk, global_batch, process, local_batch)
  to_compute = sum(writer.rows(c)[1] - writer.rows(c)[0] for c in missing)
  started, examples, last_log = time.perf_counter(), 0, time.perf_counter()
  outputs: dict[str, list] = {name: [] for name in store.ARRAYS}

  def finish(position, device_outputs, labels, ids, valid):
    """Fetches one step's outputs (while the next step runs) and writes finished chunks."""
    nonlocal outputs, examples
    chunk = plan[position][0]
    values, valid = _fetch_step(*device_outputs, labels, ids, valid, processes)
    for name, value in zip(store.ARRAYS, values):
      outputs[name].append(value[valid])
    examples += int(valid.sum())
    if progress is not None:
      progress(examples, to_compute)
    if position + 1 == len(plan) or plan[position + 1][0] != chunk:
      _submit_chunk(writer, chunk, outputs, process == 0, write_pool, writes)
      outputs = {name: [] for name in store.ARRAYS}

  # Each step is dispatched before the previous one's outputs are fetched: the device never waits on the host.
  host_batches = _host_batches(source, rows_per_step, host_transform, decode_threads)
  writes: list[concurrent.futures.Future] = []
  with concurrent.futures.ThreadPoolExecutor(1) as write_pool:
    in_flight = None
    for position in range(len(plan)):
      images, labels, ids, valid = next(host_batches)
      device_outputs = forward(params, jax.make_array_from_process_local_data(batch_sharding, images))
      if in_flight is not None:
        finish(*in_flight)
      in_flight = (position, device_outputs, labels, ids, valid)
      if progress is None and time.perf_counter() - last_log > log_every_s:
        _log_rate(writer, missing, examples, started)
        last_log = time.perf_counter()
    if in_flight is not None:
      finish(*in_flight)
    for write in writes:
      write.result()  # surfaces any write error
  if processes > 1:
    multihost_utils.sync_global_devices("overlap-evaluate-done")
  elapsed = time.perf_counter() - started
  return RunStats(computed_chunks=len(missing), skipped_chunks=writer.num_chunks - len(missing),
                  examples_per_second=examples / elapsed if elapsed > 0 else float("nan"))


def _plan(writer: store.ChunkWriter, missing, steps_per_chunk: int, global_batch: int, process: int,
          local_batch: int) -> tuple[list, list]:
  """(plan: (chunk, step) of every step that holds examples, in order; per step, this process's
  example rows, -1 past the end of the split)."""
  def local_rows(chunk: int, step: int) -> np.ndarray:
    start = writer.rows(chunk)[0] + step * global_batch + process * local_batch
    rows = np.arange(start, start + local_batch)
    return np.where(rows < writer.num_examples, rows, -1)

  plan = [(chunk, step) for chunk in missing for step in range(steps_per_chunk)
          if writer.rows(chunk)[0] + step * global_batch < writer.rows(chunk)[1]]
  return plan, [local_rows(*step) for step in plan]


def _fetch_step(logits, embeddings, labels, ids, valid, processes: int):
  """One step's ((logits, embeddings, labels, ids) as host arrays, bool valid), gathered over
  processes (each computed its own share of the global batch)."""
  if processes > 1:
    logits, embeddings, labels, ids, valid = multihost_utils.process_allgather(
        (logits, embeddings, labels, ids, valid), tiled=True)
  else:
    logits, embeddings = jax.device_get((logits, embeddings))
  return [np.asarray(v) for v in (logits, embeddings, labels, ids)], np.asarray(valid)


def _submit_chunk(writer: store.ChunkWriter, chunk: int, outputs: dict, is_writer: bool, write_pool, writes) -> None:
  """One finished chunk's arrays, checked finite and (on process 0) written on a background
  thread, so hashing and I/O overlap the next steps.

  Raises:
    NonFiniteOutputs: NaN or infinite logits (nothing of the chunk is written).
  """
  arrays = {name: np.concatenate(parts) for name, parts in outputs.items()}
  if not np.all(np.isfinite(arrays["logits"])):
    raise NonFiniteOutputs(f"NaN or infinite logits in rows {writer.rows(chunk)} of {writer.directory}.")
  if is_writer:
    writes.append(write_pool.submit(writer.write_chunk, chunk, arrays))


def _host_batches(source, rows_per_step: list, host_transform, decode_threads: int):
  """Iterator of each step's host batch, decoded by a grain pipeline (threads, a few batches
  ahead, in order)."""
  return iter(grain.MapDataset.range(len(rows_per_step))
              .map(lambda position: _host_batch(source, rows_per_step[position], host_transform))
              .to_iter_dataset(grain.ReadOptions(num_threads=decode_threads, prefetch_buffer_size=4)))


def _replicated_params(params, compute_dtype, replicated: NamedSharding):
  """``params`` cast to ``compute_dtype`` (floating leaves; PRNG keys kept) and replicated. Through
  host memory: every process then places its own replicas (a committed device array would need a
  cross-host transfer to reach a multi-process sharding)."""
  is_key = lambda p: hasattr(p, "dtype") and jax.dtypes.issubdtype(p.dtype, jax.dtypes.prng_key)
  host_params = jax.tree.map(lambda p: p if is_key(p) else np.asarray(p), params)
  return jax.device_put(jax.tree.map(lambda p: p.astype(jnp.dtype(compute_dtype)) if not is_key(p) and
                                     jnp.issubdtype(p.dtype, jnp.floating) else p, host_params), replicated)


def _agreed_missing_chunks(writer: store.ChunkWriter, process: int, processes: int) -> list[int]:
  """The chunks still to compute; every process must agree on them, so process 0 decides."""
  missing = writer.missing_chunks() if process == 0 else []
  if processes > 1:
    flags = np.zeros(writer.num_chunks, np.int32)
    flags[missing] = 1
    flags = multihost_utils.broadcast_one_to_all(flags)
    missing = np.flatnonzero(flags).tolist()
  return missing


def _log_rate(writer: store.ChunkWriter, missing, examples: int, started: float) -> None:
  """One INFO line: examples done, the rate since ``started``, and the ETA of what is left."""
  rate = examples / max(time.perf_counter() - started, 1e-9)
  remaining = writer.num_examples - examples - sum(writer.rows(c)[1] - writer.rows(c)[0]
                                                   for c in range(writer.num_chunks) if c not in missing)
  logging.info("%s: %d examples, %.0f examples/s, ETA %.0f s", writer.directory.name, examples, rate,
               max(remaining, 0) / max(rate, 1e-9))


def initialize_distributed(coordinator_address: str | None, num_processes: int | None, process_id: int | None,
                           auto: bool) -> None:
  """jax.distributed.initialize for launch.evaluate and launch.study (the same flags):
  an explicit coordinator (gloo collectives on CPU), or auto-detection (TPU VMs)."""
  if coordinator_address:
    # gloo for CPU collectives (it affects only the CPU backend; asking for the backend
    # here would initialise it, which jax.distributed.initialize must precede).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id)
  elif auto:
    jax.distributed.initialize()


def model_metadata(entry, weights_sha256: str, precision: str) -> dict:
  """What a store manifest records about the evaluated model: its weight source, the
  sha256 of its weight content (zoo.loading.weights_sha256), preprocessing, training
  method and compute precision. Changed weights under the same name change it."""
  import dataclasses as dc
  as_dict = lambda value: {k: (list(v) if isinstance(v, tuple) else v) for k, v in dc.asdict(value).items()}
  return {"weights": as_dict(entry.weights), "weights_sha256": weights_sha256,
          "preprocessing": as_dict(entry.preprocessing), "training_method": entry.training_method,
          "precision": precision}


def _zoo_apply(graphdef, preprocess, dtype) -> Callable:
  """:func:`_shared_zoo_apply`, or a function of this model alone when its graphdef does not
  hash (zoo.loading.architecture_key): it then compiles per call."""
  from zoo.loading import architecture_key
  key = architecture_key(graphdef, preprocess, dtype)
  return _shared_zoo_apply(*key) if key else _shared_zoo_apply.__wrapped__(graphdef, preprocess, dtype)


@functools.lru_cache(maxsize=32)
def _shared_zoo_apply(graphdef, preprocess, dtype) -> Callable:
  """The pure forward of a zoo model's architecture (its nnx graphdef), preprocessing
  included: one function per (graphdef, preprocessing, compute dtype), so
  :func:`_jitted_forward` compiles once per architecture and input shape, shared by every
  split and every row of that architecture (weights are an argument). A fresh closure
  per call compiled the same forward again for each (model, split): most of the study's
  evaluation time."""
  from flax import nnx

  def apply(state, images):  # inputs in the compute dtype that evaluate() casts the weights to
    return nnx.merge(graphdef, state)(preprocess(images).astype(dtype))
  return apply


def evaluate_zoo_model(name: str, source, settings: dict, *, model=None, weights_sha256: str | None = None,
                       replace_stale: bool = False, progress: Callable[[int, int], None] | None = None,
                       report: Callable[[str], None] | None = print, summary: bool = True) -> RunStats:
  """Evaluates zoo model ``name`` (loaded from ``settings["zoo_dir"]`` unless ``model`` is
  given) over ``source`` into the store.

  ``settings``: out, dataset, split, zoo_dir, batch_size, chunk_batches, precision and
  optionally logits_dtype (the fields of launch.evaluate's flags). The manifest records
  the weights' content hash; stored outputs of other weights under the same name are
  refused, or with ``replace_stale`` recomputed (and ``report`` says so; with
  ``summary`` it also reports the chunks computed). Variable-size
  images are resized and cropped on the host so batches stack; fixed-size ones are
  resized on the device.
  """
  from etils import epath
  from flax import nnx

  import zoo

  entry = zoo.get(name)
  if model is None:
    model = zoo.load(entry, epath.Path(settings["zoo_dir"]).expanduser(), **caches.zoo_load())
  if weights_sha256 is None:
    from zoo.loading import weights_sha256 as content_hash
    weights_sha256 = content_hash(model)
  graphdef, state = nnx.split(model)
  preprocess = entry.preprocessing
  dtype = jnp.bfloat16 if settings["precision"] == "bfloat16" else jnp.float32
  apply = _zoo_apply(graphdef, preprocess, jnp.dtype(dtype))
  mesh = data_mesh()
  metadata = model_metadata(entry, weights_sha256, settings["precision"])
  make_writer = lambda replace: store.ChunkWriter(
      settings["out"], settings["dataset"], settings["split"], name, metadata, len(source),
      _global_batch_size(settings["batch_size"], mesh) * settings["chunk_batches"],
      logits_dtype=settings.get("logits_dtype", "float32"), replace_stale=replace)
  # Only process 0 replaces stale outputs; the others open the store once it has.
  writer = make_writer(replace_stale and jax.process_index() == 0)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f"overlap-manifest-{name}-{settings['split']}")
    if jax.process_index() != 0:
      writer = make_writer(False)
  if writer.replaced is not None and report:
    old = writer.replaced.get("metadata", {})
    changes = [k for k in set(old) | set(metadata) if old.get(k) != metadata.get(k)]
    detail = (f"weights changed (sha256 {str(old.get('weights_sha256'))[:12]} → {weights_sha256[:12]})"
              if "weights_sha256" in changes else f"{', '.join(sorted(changes)) or 'layout'} changed")
    report(f"{name} on {settings['dataset']}/{settings['split']}: stored outputs came from other inputs ({detail}); "
           "recomputing them")
  host_transform = None if getattr(source, "fixed_image_shape", True) else preprocess.host_resize
  stats = evaluate(apply, state, source, writer, batch_size=settings["batch_size"], mesh=mesh, compute_dtype=dtype,
                   host_transform=host_transform, progress=progress)
  if report and summary:
    report(f"{name}: {stats.computed_chunks} chunks computed, {stats.skipped_chunks} already stored, "
           f"{stats.examples_per_second:.0f} examples/s")
  return stats
