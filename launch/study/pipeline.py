"""The whole study as one function: ``run(config, out_dir)`` (what ``python -m launch.study`` calls).

Stages, each resumable (a rerun with the same config recomputes nothing):

1. **zoo** (:mod:`launch.study.zoo_stage`): rows with a recipe and no weights are trained
   into checkpoints keyed on what produced them; the others are loaded;
2. **evaluation**: every model on the calibration, test and downstream splits through
   the runner into the store (sharded over all devices of all processes; every process
   runs the same steps). Each manifest holds the model's weight content hash: outputs of
   other weights under the same name are recomputed, and the run says so;
3. **analysis**: each configured section (:mod:`launch.study.sections`, one module per part of
   the report) computes its typed Result from the stored arrays, each cached under a key of its
   own inputs, settings and code (changing one section recomputes only it);
4. **report** (:mod:`launch.study.report`): each section writes its tables, figures and part of
   report.md; written by process 0 only.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

import zoo
from launch import caches, code_digest, data, locks, store, weights_lock
from launch.study import (analysis, config as config_lib, probe_head, report, sections, serial, validate, verdicts,
                          zoo_stage)
from launch.study.config import ConfigError
from launch.study.progress import Bar, say
from zoo.loading import weights_sha256


def default_cache() -> Path:
  """$OVERLAP_CACHE/study, else ~/.cache/overlap/study (launch.caches)."""
  return caches.study()


def splits_of(config) -> list[tuple[str, str, str]]:
  """(role, dataset, split) of every split the study evaluates: the study dataset's, and the
  downstream dataset's where the config runs the downstream section with one (sections.downstream)."""
  splits = [("calibration", config.dataset, config.calibration_split), ("test", config.dataset, config.test_split)]
  if config.selection_split:
    splits.append(("selection", config.dataset, config.selection_split))
  downstream = config_lib.section_settings(config, "downstream")
  if downstream is not None and downstream.dataset:
    splits += [(f"downstream_{part}", downstream.dataset, downstream[f"{part}_split"])
               for part in ("train", "val", "test")]
  return splits


def _sources(config):
  sources = {}
  for role, dataset, split in splits_of(config):
    try:
      sources[role] = data.load_source(dataset, split, config.data_dir or None)
    except (FileNotFoundError, ValueError) as error:
      downstream = role.startswith("downstream_")
      field = "sections.downstream.dataset" if downstream else "dataset"
      split_field = f"sections.downstream.{role.removeprefix('downstream_')}_split" if downstream else f"{role}_split"
      raise ConfigError(f"{error} (config fields {field!r} = {dataset!r} and {split_field!r} = {split!r}: write a "
                        f"split of that dataset, e.g. {split_field}='test[:1000]', and set data_dir to where the "
                        "dataset is prepared).") from None
  return sources


def evaluate_all(config, names: list[str], located: dict, store_dir: Path, sources: dict) -> dict[str, str]:
  """Evaluates every model on every split into the store; returns each model's weight hash."""
  from launch import runner
  hashes = {}
  heads = probe_head.ProbeHeads(config, sources.get(probe_head.ROLE), store_dir.parent)  # <cache>/linear_probe
  for index, name in enumerate(names):
    entry = zoo.get(name)
    try:
      locked = _locked(store_dir.parent / weights_lock.LOCK_NAME, entry, located[name].zoo_dir)
      model = zoo.load(entry, located[name].zoo_dir, revision=locked.commit if locked else None,
                       **caches.zoo_load())
    except zoo.WeightsUnavailable as error:
      raise ConfigError(f"{error} (config field 'zoo_dir' = {config.zoo_dir!r}: the directory holding the "
                        "checkpoints of rows the study does not train).") from None
    if entry.head == "zero-shot":
      model = zero_shot_head(config, entry, model, located[name].zoo_dir, sources["test"],
                             revision=locked.commit if locked else None)
    if entry.head == "linear-probe":
      model, located[name].key, located[name].provenance = heads.attach(entry, model, f"[{index + 1}/{len(names)}] "
                                                                         f"{name}")
      located[name].origin = probe_head.ORIGIN
    hashes[name] = weights_sha256(model)
    for role, dataset, split in splits_of(config):
      source = sources[role]
      settings = {"out": str(store_dir), "dataset": dataset, "split": split, "batch_size": config.batch_size,
                  "chunk_batches": config.chunk_batches, "precision": config.precision,
                  "logits_dtype": config.logits_dtype}
      bar = Bar(f"[{index + 1}/{len(names)}] {name} on {dataset}/{split}", len(source))
      with _store_lock(store_dir, dataset, split, name):
        stats = runner.evaluate_zoo_model(name, source, settings, model=model, weights_sha256=hashes[name],
                                          replace_stale=True, progress=bar.update, report=say, summary=False)
      if stats.computed_chunks:
        bar.close(f" ({stats.skipped_chunks} chunks were already stored)" if stats.skipped_chunks else "")
      else:
        say(f"  [{index + 1}/{len(names)}] {name} on {dataset}/{split}: stored")
    del model
  return hashes


def _locked(lock_path: Path, entry, zoo_dir) -> "weights_lock.Locked | None":
  """The row's weights checked against (or recorded in) the weights lock beside the store, on
  every process (each its own download and, where the cache is per host, its own lock: every
  process records the same entry, atomically), and compared across processes."""
  try:
    locked = weights_lock.check(lock_path, entry, zoo_dir)
    weights_lock.agree_across_processes(entry.name, locked)
  except (weights_lock.LockMismatch, FileNotFoundError) as error:  # HubError, RemoteFileError: user-fixable
    raise ConfigError(str(error)) from None
  return locked


def _store_lock(store_dir: Path, dataset: str, split: str, name: str):
  """One run at a time evaluates a model on a split (:mod:`launch.locks`; a second run waits,
  then finds the chunks stored); a killed run's temporary files there are removed first.
  Single-process runs only: in a multi-host job every process joins each evaluation's
  collectives, so none may wait on another's lock."""
  import contextlib
  import jax
  if jax.process_count() > 1:
    return contextlib.nullcontext()

  @contextlib.contextmanager
  def held():
    with locks.hold(store_dir.parent, "store", dataset, split, name,
                    on_wait=lambda: say(f"  waiting for another run evaluating {name} on {dataset}/{split}")):
      directory = store.model_dir(store_dir, dataset, split, name)
      if not locks.is_remote(directory):
        locks.remove_stale_temporaries(directory)
      yield
  return held()


def zero_shot_head(config, entry, model, zoo_dir, test_source, revision=None):
  """A zero-shot row's classifier: its text tower's features of the class names × CLIP's 80
  templates (zoo.zero_shot_classifier), with the checkpoint's own tokenizer."""
  from zoo.classnames import IMAGENET_CLASS_NAMES
  from zoo.registry import weights_location
  names = (IMAGENET_CLASS_NAMES if config.zero_shot_class_names == "imagenet"
           else tuple(getattr(test_source, "class_names", ()) or ()))
  if not names:
    raise ConfigError(f"model {entry.name!r} is zero-shot and the test split has no class names; set "
                      "zero_shot_class_names='imagenet' or use a dataset whose metadata names its classes.")
  try:
    tokenizer = zoo.load_tokenizer(weights_location(entry, zoo_dir), revision=revision or entry.weights.revision)
  except (FileNotFoundError, ValueError) as error:
    raise ConfigError(f"model {entry.name!r} is zero-shot but its tokenizer cannot be read ({error}).") from None
  say(f"  {entry.name}: zero-shot head from {len(names)} class names × {len(zoo.IMAGENET_TEMPLATES)} templates")
  return zoo.zero_shot_classifier(model, tokenizer, list(names), zoo.IMAGENET_TEMPLATES)


def fit_temperatures(logits, labels, *, workers: int = 2) -> np.ndarray:
  """One temperature per model (``metrics.fit_temperature``), each model's calibration
  logits read on its own (N per-model [E, K] array-likes, e.g. ``store.LazyLogits``), a
  few models at a time: float64[N]."""
  import concurrent.futures
  import metrics
  fit = lambda model: float(metrics.fit_temperature(np.asarray(model), labels))
  with concurrent.futures.ThreadPoolExecutor(workers) as pool:
    return np.asarray(list(pool.map(fit, logits)), np.float64)


def calibrated(results, temperatures):
  """Each model's calibrated probabilities softmax(z / T): a lazy per-model [E, K] reader
  for :func:`launch.store.lazy_read` results; float32 [N, E, K] for in-memory
  :func:`launch.store.read` results (small studies, tests)."""
  if isinstance(results.logits, np.ndarray):
    import metrics
    return np.asarray(metrics.apply_temperature(results.logits, temperatures))
  return [lazy.calibrated(t) for lazy, t in zip(results.logits, temperatures)]


class _Timings:
  """Seconds per analysis stage, in order (``timings[name]``), when a dict is given."""

  def __init__(self, timings: dict | None):
    self.timings, self.started = timings, time.perf_counter()

  def __call__(self, name: str) -> None:
    now = time.perf_counter()
    if self.timings is not None:
      self.timings[name] = self.timings.get(name, 0.0) + now - self.started
    self.started = now


def analyse(config, rows: list, stored: dict[str, store.LazyResults], class_names, hashes: dict[str, str],
            located: dict, *, timings: dict | None = None, resample_seed: int = 0, cache: Path | None = None) -> dict:
  """Every configured section's result (:mod:`launch.study.sections`) from the stored outputs of
  the models ``rows`` (their zoo rows, :class:`zoo.ModelEntry`, the base first), as the report
  reads them: ``config``, ``sections`` (their names, in report order) and every field of every
  section's Result.

  ``stored`` maps each role of :func:`splits_of` to its :func:`launch.store.lazy_read` (or
  anything with the same ``logits``, ``embeddings``, ``labels`` and ``manifests``): models are
  read one at a time, calibrated probabilities are never stacked, and only the embeddings the
  probes use are read into memory. With ``cache`` (the study's cache directory, holding
  ``store``), each section's result is read from ``<cache>/analysis`` under its own key
  (:func:`launch.study.sections.key`) or computed and stored there; without, each is computed.
  Either way a result is the serialised form (:mod:`launch.study.serial`), so a fresh and a
  cached run write the same report. With ``cache``, the intermediates the sections share
  (:data:`launch.study.sections.SHARED`) are kept in ``<cache>/analysis/shared`` under keys of
  their own (:func:`cached_arrays`): a section recomputed for its own setting reads them back.
  ``timings``, if given, receives the seconds of each stage.
  """
  shared_cache = functools.partial(cached_arrays, cache) if cache is not None else None
  context = sections.Context(config, rows, stored, class_names, hashes, located, resample_seed=resample_seed,
                             lap=_Timings(timings), shared_cache=shared_cache)
  inputs = _section_inputs(config, rows, cache / "store") if cache is not None else None
  keys = {}
  for name in sections.compute_order(sections.order(config)):
    module = sections.get(name)
    compute = lambda: serial.dumps(module.compute(context.scoped(name), sections.settings(config, name)))
    if cache is None:
      context.results[name] = serial.loads(compute())
      continue
    keys[name] = sections.key(config, name, inputs, {need: keys[need] for need in module.NEEDS})
    context.results[name] = cached_section(cache, name, keys[name], compute)
  results = {"config": config.to_dict(), "sections": sections.order(config)}
  for name, result in context.results.items():
    fields = sections.fields_of(result)
    clash = sorted(set(fields) & set(results))
    if clash:
      raise ValueError(f"study section {name!r}'s result fields {clash} are another section's too: rename them.")
    results.update(fields)
  return results


def predictions_of(names, results, temperatures, *, correct=None, confidence=None):
  """analysis.Predictions of one stored split: calibrated probabilities and every model's
  embeddings (``correct`` and ``confidence``: the calibrated pass's arrays, if kept)."""
  return analysis.predictions(names, calibrated(results, temperatures), results.labels,
                              [results.embeddings[n] for n in names], correct=correct, confidence=confidence)


class _Stages:
  """Prints each stage's name, and the previous stage's time when the next begins."""

  def __init__(self):
    self.name, self.started = None, time.perf_counter()

  def __call__(self, name: str | None) -> None:
    now = time.perf_counter()
    if self.name:
      say(f"  ({self.name.split(' ', 1)[1]}: {now - self.started:.1f} s)")
    if name:
      say(name)
    self.name, self.started = name, now


def analysis_code_sha256(root: Path | None = None) -> str:
  """sha256 of the code that computes the analysis (every .py file of ``launch/study``,
  ``metrics`` and ``probes``, by relative path): a changed analysis never serves the
  cached results of the old code. The installed packages are read (launch.code_digest), ``root``
  only in tests. Each section's own key covers less (:func:`launch.study.sections.code_sha256`:
  no other section's file)."""
  return code_digest.packages_sha256(("launch.study", "metrics", "probes"), root)


def _section_inputs(config, rows: list, store_dir: Path) -> dict:
  """What every section may read: the rows (names and training methods, from which categories
  derive), the splits and every stored manifest (model, weight hash, preprocessing, split,
  example count, logits dtype) of every split."""
  names = [row.name for row in rows]
  manifests = [json.loads((store.model_dir(store_dir, dataset, split, name) / "manifest.json").read_text())
               for _, dataset, split in splits_of(config) for name in names]
  return {"names": names, "training_methods": [row.training_method for row in rows], "splits": splits_of(config),
          "manifests": manifests}


encode, decode = serial.encode, serial.decode  # the one serialiser of the study's results


def _analysis(config, names, cache: Path, sources, hashes, located, replicate: int) -> dict:
  """The analysis of one replicate's rows (its bootstrap seeded by ``replicate``), each section
  cached under the key of what it reads (a replicate's row names carry its index)."""
  stored = {role: store.lazy_read(cache / "store", dataset, split, names) for role, dataset, split in splits_of(config)}
  class_names = getattr(sources["test"], "class_names", ()) or ()
  rows = [zoo.get(name) for name in names]  # resolved once: the analysis reads no registry
  return analyse(config, rows, stored, class_names, hashes, located, resample_seed=replicate, cache=cache)


def combine_replicates(config, per_replicate: list[dict]) -> list[dict]:
  """The claims over every replicate (verdicts.replicated_claims: a hierarchical bootstrap of
  ``config.resamples`` draws over each replicate's own example resamples), each with its
  ``statistic`` Interval and its per-replicate estimate, interval and verdict in ``per_replicate``
  (text, for the report and claims.csv)."""
  claims = [[{**claim, "samples": samples} for claim, samples in zip(results["claims"], results["claim_samples"])]
            for results in per_replicate]
  out = verdicts.replicated_claims(claims, num_draws=config.resamples)
  for claim in out:
    each = claim.pop("replicates")
    claim["per_replicate"] = "; ".join(f"r{i}: {e['quoted']} {e['verdict']}" for i, e in enumerate(each))
  return out


def run(config, out_dir, *, cache_dir=None) -> dict | None:
  """Runs the study of ``config`` (a ConfigDict with the fields of
  :func:`launch.study.config.defaults`) and writes its report to ``out_dir``.

  ``cache_dir`` holds trained checkpoints and the result store (default
  :func:`default_cache`). Returns the results dict (every table of the report) on
  process 0 and None on the others. Raises ConfigError for bad input, before writing
  anything: every config field, every split's size, and ``out_dir`` and the cache
  (:func:`launch.study.validate.check_paths`: a directory the study did not write is never
  replaced). Concurrent runs on one cache compute each artefact once (:mod:`launch.locks`).
  """
  import jax
  start = time.perf_counter()
  if set(config.keys()) != set(config_lib.defaults().keys()):  # a partial config: its fields over the defaults
    config = config_lib.merge(config, "the config")
  validate.check_ranges(config)
  names = config_lib.validate(config)
  out = Path(out_dir).expanduser()
  cache = Path(cache_dir).expanduser() if cache_dir else default_cache()
  sources = _sources(config)
  validate.check_split_sizes(config, sources)
  sources.update(probe_head.probe_sources(config, names, sources, splits_of(config)))
  if jax.process_index() == 0:  # last: it creates the cache directory
    validate.check_paths(out, cache)
  say(f"overlap study: {config.name}, {len(names)} models (base {names[0]}), {jax.device_count()} devices, "
      f"cache {cache}")
  # Every replicate's rows registered (and checked trainable) before any work.
  replicate_rows = [zoo_stage.replicate_names(config, names, r) for r in range(config.replicates)]
  stage = _Stages()
  per_replicate = []
  for replicate, rows in enumerate(replicate_rows):
    of = f" (replicate {replicate + 1}/{config.replicates})" if config.replicates > 1 else ""
    stage(f"1/4 zoo{of}")
    located = zoo_stage.prepare(config, rows, cache)
    stage(f"2/4 evaluation{of}")
    hashes = evaluate_all(config, rows, located, cache / "store", sources)
    if jax.process_index() != 0:
      continue
    stage(f"3/4 analysis{of}")
    per_replicate.append(_analysis(config, rows, cache, sources, hashes, located, replicate))
  if jax.process_index() != 0:
    return None
  results = {**per_replicate[0], "config": config.to_dict()}  # this run's config (the analysis may be a shared one)
  if config.replicates > 1:
    results = {**results, "claims": combine_replicates(config, per_replicate)}
  stage("4/4 report")
  weights_lock.annotate(results["models"], cache / weights_lock.LOCK_NAME)
  write_report(results, out, cache)
  stage(None)
  results["seconds"] = time.perf_counter() - start
  return results


def cached_section(cache: Path, name: str, key: str, compute):
  """Section ``name``'s result under ``key``: read from ``<cache>/analysis/<name>-<key>.json`` when
  its checksum holds, else ``compute()`` (JSON text, :mod:`launch.study.serial`) and stored
  (:func:`_cached_bytes`: checksummed, atomic, one run computing a key at a time)."""
  text = _cached_bytes(cache, cache / "analysis" / f"{name}-{key[:24]}.json", key, f"section {name}",
                       lambda: compute().encode()).decode()
  return serial.loads(text)  # the cached form, so a fresh and a cached run write the same report


def cached_arrays(cache: Path, name: str, key: str, compute) -> dict[str, np.ndarray]:
  """Shared intermediate ``name``'s arrays under ``key`` (:func:`launch.study.sections.shared_key`):
  read from ``<cache>/analysis/shared/<name>-<key>.npz`` when its checksum holds, else ``compute()``
  (a dict of numpy arrays, stored as an .npz: no pickle) and stored (:func:`_cached_bytes`)."""
  def arrays_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **compute())
    return buffer.getvalue()
  data = _cached_bytes(cache, cache / "analysis" / "shared" / f"{name}-{key[:24]}.npz", key,
                       f"shared intermediate {name}", arrays_bytes)
  with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
    return {field: arrays[field] for field in arrays.files}


def _cached_bytes(cache: Path, cached: Path, key: str, what: str, compute) -> bytes:
  """The content under ``key`` at ``cached``: read when its checksum holds, else ``compute()``
  (bytes) and stored. The file is ``sha256 of the content`` + newline + the content: a damaged or
  edited file is reported in one line and recomputed, never used. One run computes a key at a
  time (:func:`launch.locks.hold`); a second waits and reads its result."""
  temporary = cached.with_name(f".{cached.name}.tmp")
  with locks.hold(cache, "analysis", key, on_wait=lambda: say(f"  waiting for another run computing {what}")):
    # Under this key's lock a temporary of this file is a killed run's leftover; another key's (a
    # run beside this one writing its own file in the same folder) is not this run's to remove.
    temporary.unlink(missing_ok=True)
    data = _verified_analysis(cached)
    if data is not None:
      say(f"  {what.removeprefix('section ')}: cached ({cached.name})")
    else:
      data = compute()
      cached.parent.mkdir(parents=True, exist_ok=True)
      temporary.write_bytes(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
      temporary.replace(cached)
  return data


def _verified_analysis(path: Path) -> bytes | None:
  """The content of a cached analysis file whose checksum line matches; None (said in one
  line naming the file) if it is absent, damaged or edited."""
  try:
    checksum, _, data = path.read_bytes().partition(b"\n")
  except FileNotFoundError:
    return None
  except OSError as error:
    say(f"  damaged analysis cache {path} ({error}); recomputing it")
    return None
  if hashlib.sha256(data).hexdigest().encode() != checksum:
    say(f"  damaged analysis cache {path} (checksum mismatch: truncated or edited); recomputing it")
    return None
  return data


def write_report(results: dict, out: Path, cache: Path) -> Path:
  """Writes the report into a new sibling directory (with :data:`validate.REPORT_MARKER`),
  then puts it at ``out``: a previous report there (checked again now: only a directory
  :func:`launch.study.validate.is_report` accepts) is moved aside and removed once the
  new one is in place; anything else is never touched (ConfigError)."""
  import shutil
  import tempfile
  out = Path(out).expanduser().absolute()
  out.parent.mkdir(parents=True, exist_ok=True)
  with locks.hold(cache, "report", str(out)):
    for stale in out.parent.glob(f".{out.name}.staging-*"):  # a killed run's (its lock is released)
      shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    report.write(results, staging / "report")
    validate.write_marker(staging / "report")
    previous = staging / "previous"
    if out.exists() or out.is_symlink():
      validate.check_out(out)  # changed since the run began?
      out.rename(previous)
    (staging / "report").rename(out)
    shutil.rmtree(staging, ignore_errors=True)
  return out
