"""The whole study as one function: ``run(config, out_dir)`` (what ``python -m launch.study`` calls).

Stages, each resumable (a rerun with the same config recomputes nothing):

1. **zoo** (:mod:`launch.study.zoo_stage`): rows with a recipe and no weights are trained
   into checkpoints keyed on what produced them; the others are loaded;
2. **evaluation**: every model on the calibration, test and downstream splits through
   the runner into the store (sharded over all devices of all processes; every process
   runs the same steps). Each manifest holds the model's weight content hash: outputs of
   other weights under the same name are recomputed, and the run says so;
3. **analysis** (:mod:`launch.study.analysis`): pure functions of the stored arrays;
4. **report** (:mod:`launch.study.report`), written by process 0 only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np

import zoo
from launch import caches, code_digest, data, locks, store, weights_lock
from launch.study import analysis, config as config_lib, probe_head, report, validate, verdicts, zoo_stage
from launch.study.config import ConfigError
from launch.study.progress import Bar, say
from zoo.loading import weights_sha256

ANALYSIS_VERSION = 3  # bump when the analysis computes something else from the same inputs


def default_cache() -> Path:
  """$OVERLAP_CACHE/study, else ~/.cache/overlap/study (launch.caches)."""
  return caches.study()


def splits_of(config) -> list[tuple[str, str, str]]:
  """(role, dataset, split) of every split the study evaluates."""
  splits = [("calibration", config.dataset, config.calibration_split), ("test", config.dataset, config.test_split)]
  if config.selection_split:
    splits.append(("selection", config.dataset, config.selection_split))
  if config.downstream.dataset:
    splits += [(f"downstream_{part}", config.downstream.dataset, config.downstream[f"{part}_split"])
               for part in ("train", "val", "test")]
  return splits


def _sources(config):
  sources = {}
  for role, dataset, split in splits_of(config):
    try:
      sources[role] = data.load_source(dataset, split, config.data_dir or None)
    except (FileNotFoundError, ValueError) as error:
      field = "dataset" if dataset == config.dataset else "downstream.dataset"
      split_field = (f"{role}_split" if not role.startswith("downstream_")
                     else f"downstream.{role.removeprefix('downstream_')}_split")
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


def _calibrated(results, temperatures):
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


def _in_memory(embeddings: dict, names) -> dict:
  """Per-model embeddings read into memory once (lazy readers re-read the store on every access)."""
  return {n: np.asarray(embeddings[n], np.float32) for n in names}


def analyse(config, names: list[str], stored: dict[str, store.LazyResults], class_names, hashes: dict[str, str],
            located: dict, *, timings: dict | None = None, resample_seed: int = 0) -> dict:
  """Every table of the report from the stored outputs (see :mod:`launch.study.analysis`).

  ``stored`` maps each role of :func:`splits_of` to its :func:`launch.store.lazy_read`
  (or anything with the same ``logits``, ``embeddings``, ``labels`` and ``manifests``):
  models are read one at a time, calibrated probabilities are never stacked, and only
  the embeddings the probes use are read into memory. ``timings``, if given, receives
  the seconds of each stage.
  """
  import metrics
  lap = _Timings(timings)
  calibration, test = stored["calibration"], stored["test"]
  temperatures = fit_temperatures(calibration.logits, calibration.labels)
  lap("temperatures")
  test_set, calibration_set = (_predictions(names, split, temperatures) for split in (test, calibration))
  lap("calibrated pass (correctness, confidence, candidate views)")
  # The analysis runs on process 0 alone: its all-pairs kernel uses this process's devices,
  # not metrics' default mesh over every process (whose collectives the others never join).
  import jax
  outcomes = metrics.pairwise_outcomes(test_set.probs, test_set.labels,
                                       mesh=metrics.example_mesh(jax.local_devices()))
  lap("pairwise")
  intervals = metrics.pairwise_intervals(outcomes, num_resamples=config.resamples)
  pairs = analysis.pair_table(names, intervals)
  correct = test_set.correct
  accuracy = correct.mean(axis=1)
  # The accuracy band (test accuracy, as the paper's 74–78%): Fig. 1–2, the category table
  # and claims 1–3 use its models only; greedy runs may use any model.
  in_band = verdicts.accuracy_band(accuracy, base=0, width=config.accuracy_band)
  band = verdicts.band_range(accuracy, base=0, width=config.accuracy_band)
  base_pairs = [p for p in pairs if p["with_base"] and in_band[names.index(p["model_b"])]]
  lap("pairwise intervals")
  categories = analysis.category_table(names, outcomes, config.resamples, in_band=in_band)
  lap("category table")
  chosen = analysis.representatives(names, accuracy)
  confidence = test_set.confidence  # [N, E], read off the calibrated pass: Fig. 3 and claim 3
  special = analysis.specialisation(test_set, correct, chosen, config.theta_bins, confidence)
  groups = analysis.class_groups(special, config_lib.class_groups(config.class_groups))
  lap("specialisation")
  greedy, greedy_final = [], []
  if config.selection_split:
    selection = stored["selection"]
    greedy, greedy_final = analysis.greedy_runs(names, _calibrated(selection, temperatures), selection.labels,
                                                test_set, config.greedy_starts, config.greedy_steps)
  lap("greedy")
  _hold_probe_embeddings(names, chosen, (test_set, calibration_set))
  lap("probe embeddings read")
  mixing, diversity, needed = _fig6_probes(config, calibration_set, test_set, chosen, lap)
  fit = analysis.base_fit(base_pairs)
  downstream = _downstream(config, stored, names, correct, lap)
  from launch.study import link
  similarity = link.similarity_section(config, test_set, calibration_set, outcomes, intervals)
  lap("similarity")
  models = analysis.model_table(test_set, temperatures, intervals, in_band)
  claims = _quietly(decide_claims, config, names, outcomes, confidence, in_band, greedy, greedy_final, mixing,
                    resample_seed)
  claim_samples = [claim.pop("samples") for claim in claims]  # per-resample statistics: replicates combine them
  mixing = [{k: v for k, v in row.items() if k != "test_correct"} for row in mixing]  # per-example: claims only
  lap("claims")
  for row in models:
    row["weights_sha256"] = hashes[row["model"]]
    row["weights_origin"] = located[row["model"]].origin
  return {"config": config.to_dict(), "num_test_examples": int(len(test.labels)), "class_names": list(class_names),
          "band": {"width": float(config.accuracy_band), "low": band[0], "high": band[1],
                   "in_band": [n for n, b in zip(names, in_band) if b]},
          "models": models, "pairs": pairs, "categories": categories, "fit": fit, "specialisation": special,
          "class_groups": groups, "greedy": greedy, "mixing": mixing, "diversity": diversity,
          "features_needed": needed, "downstream": downstream, "similarity": similarity,
          "provenance": _provenance(names, hashes, located, stored["test"].manifests),
          "claims": claims, "claim_samples": claim_samples}


def _predictions(names, results, temperatures):
  """analysis.predictions of one stored split: calibrated probabilities and every model's embeddings."""
  return analysis.predictions(names, _calibrated(results, temperatures), results.labels,
                              [results.embeddings[n] for n in names])


def _hold_probe_embeddings(names, chosen, splits) -> None:
  """The probes read the base's and each representative's embeddings: those alone, into memory once."""
  used = [names[0]] + [names[i] for i in chosen.values()]
  for split in splits:
    held = _in_memory(dict(zip(names, split.embeddings)), used)
    split.embeddings = [held.get(n, e) for n, e in zip(names, split.embeddings)]


def _fig6_probes(config, calibration_set, test_set, chosen, lap):
  """Fig. 6: (mixing rows, diversity curves, features needed). Each pair's mixtures (then its
  diversity prefixes) are fitted together, padded to one batch shape per figure, or one for both
  when they nearly agree (analysis.fig6_batches: one compile)."""
  fig6 = dict(l2_grid=tuple(config.probe_l2_grid), steps=config.probe_steps)
  mixing_batch, diversity_batch = analysis.fig6_batches(
      analysis.mixing_batch(calibration_set, chosen, config.mixing_rates, config.mixing_seeds),
      analysis.diversity_batch(calibration_set, chosen, config.diversity_step, config.diversity_ranking))
  mixing = analysis.mixing(calibration_set, test_set, chosen, config.mixing_rates, config.mixing_seeds, **fig6,
                           batch=mixing_batch)
  lap("mixing probes")
  diversity = analysis.diversity_curves(calibration_set, test_set, chosen, config.diversity_step,
                                        config.diversity_ranking, **fig6, batch=diversity_batch)
  needed = analysis.features_needed(diversity, config.diversity_target)
  lap("diversity probes")
  return mixing, diversity, needed


def _downstream(config, stored, names, correct, lap):
  """Fig. 7's downstream probes, or None when the config names no downstream dataset."""
  if not config.downstream.dataset:
    return None
  probe = dict(l2_grid=tuple(config.probe_l2_grid), max_iterations=config.probe_iterations)
  splits = [dataclasses.replace(stored[f"downstream_{part}"], embeddings=_in_memory(  # every pair reads them
      stored[f"downstream_{part}"].embeddings, names)) for part in ("train", "val", "test")]
  downstream = analysis.downstream(names, *splits, correct, **probe)
  lap("downstream")
  return downstream


def _provenance(names, hashes, located, manifests) -> dict:
  """Per model: its weights' hash and origin, its training key and recipe, its preprocessing."""
  return {n: {"weights_sha256": hashes[n], "origin": located[n].origin, "training_key": located[n].key,
              "training": located[n].provenance, "preprocessing": manifests[n]["metadata"].get("preprocessing")}
          for n in names}


def decide_claims(config, names, outcomes, confidence, in_band, greedy, greedy_final, mixing,
                  resample_seed: int = 0) -> list[dict]:
  """The five verdicts (:func:`launch.study.verdicts.claims`) from compact test arrays:
  correctness and ensemble correctness from ``outcomes``, top-1 confidences [N, E], each
  greedy run's test correctness at its selection-chosen size (analysis.greedy_runs) and the
  probes' per-example outcomes where their rows carry them (``test_correct``); intervals
  flattened to numbers for the report."""
  # Each replicate resamples the examples on its own seed (independent picks of the hierarchical bootstrap).
  resamples = verdicts.draw_resamples(outcomes.num_examples, config.resamples, seed=resample_seed)
  # Every run with a pool counts, those whose selection split keeps the start alone too (gain 0).
  runs = [(names.index(r["start"]), final) for r, final in zip(greedy, greedy_final) if r["pool"]]
  greedy_note = ("no selection_split configured: greedy ensembles (Fig. 5) need a split disjoint from calibration "
                 "and test" if not config.selection_split else
                 f"no model is {100 * analysis.GREEDY_POOL_GAP:g} points below any start on the selection split")
  probe = analysis.probe_outcomes(mixing)
  out = verdicts.claims(np.asarray(outcomes.correct), confidence, analysis.base_ensemble_correct(outcomes),
                        analysis.categories_vs_base(names), resamples, in_band=in_band, greedy=runs,
                        probe_correct=probe, names=names, greedy_note=greedy_note,
                        probe_note="no feature-mixing probe ran (no representative partner, or config field "
                                   "mixing_rates or mixing_seeds empty): no per-example outcome to resample")
  for claim in out:
    interval = claim.pop("statistic")
    claim.update(estimate=float(interval.estimate), low=float(interval.low), high=float(interval.high),
                 confidence=float(interval.confidence), resamples=int(interval.num_resamples))
  return out


def _quietly(function, *args):
  """Calls ``function`` with NumPy's empty-slice warnings off (degenerate inputs give NaN,
  which the report prints as n/a)."""
  import warnings
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    return function(*args)


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
  cached results of the old code (``ANALYSIS_VERSION`` alone relied on a manual bump). The
  installed packages are read (launch.code_digest), ``root`` only in tests."""
  return code_digest.packages_sha256(("launch.study", "metrics", "probes"), root)


def analysis_key(config, names: list[str], store_dir: Path) -> str:
  """sha256 of what the analysis reads and what computes it: the config, every stored
  manifest (model, weight hash, preprocessing, split, example count, logits dtype) of
  every split, and the analysis code (:func:`analysis_code_sha256`)."""
  manifests = [json.loads((store.model_dir(store_dir, dataset, split, name) / "manifest.json").read_text())
               for _, dataset, split in splits_of(config) for name in names]
  # ``replicates`` is left out: it says how many draws a run makes, not what one draw's analysis
  # computes (a draw is named by its rows, "<row>@r<k>", and seeds its bootstrap by k), so
  # replicate 0 of a replicated run is served by the single run's analysis and vice versa.
  settings = {k: v for k, v in config.to_dict().items() if k != "replicates"}
  payload = {"version": ANALYSIS_VERSION, "code": analysis_code_sha256(), "config": settings, "names": names,
             "manifests": manifests}
  return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def encode(value):
  """Results as JSON: numpy arrays as {"__array__": values, "dtype": ...}, tuples as lists."""
  if isinstance(value, np.ndarray):
    return {"__array__": value.tolist(), "dtype": value.dtype.str}
  if isinstance(value, np.generic):
    return value.item()
  if isinstance(value, dict):
    return {k: encode(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [encode(v) for v in value]
  return value


def decode(value):
  """Inverse of :func:`encode`."""
  if isinstance(value, dict):
    if "__array__" in value:
      return np.asarray(value["__array__"], np.dtype(value["dtype"]))
    return {k: decode(v) for k, v in value.items()}
  if isinstance(value, list):
    return [decode(v) for v in value]
  return value


def _analysis(config, names, cache: Path, sources, hashes, located, replicate: int) -> dict:
  """The analysis of one replicate's rows (its bootstrap seeded by ``replicate``), cached under the
  key of what it reads (:func:`cached_analysis`; a replicate's row names carry its index)."""
  return cached_analysis(config, names, cache,
                         lambda: _analysis_text(config, names, cache, sources, hashes, located, replicate))


def combine_replicates(config, per_replicate: list[dict]) -> list[dict]:
  """The claims over every replicate (verdicts.replicated_claims: a hierarchical bootstrap of
  ``config.resamples`` draws over each replicate's own example resamples), flattened as
  :func:`decide_claims` flattens; each claim lists its per-replicate estimate, interval and
  verdict in ``per_replicate`` (text, for the report and claims.csv)."""
  from metrics.bootstrap import Interval
  claims = [[{**c, "statistic": Interval(c["estimate"], c["low"], c["high"], float("nan"), c["confidence"],
                                         c["resamples"]), "samples": samples}
             for c, samples in zip(results["claims"], results["claim_samples"])] for results in per_replicate]
  out = verdicts.replicated_claims(claims, num_draws=config.resamples)
  for claim in out:
    interval = claim.pop("statistic")
    each = claim.pop("replicates")
    claim.update(estimate=float(interval.estimate), low=float(interval.low), high=float(interval.high),
                 confidence=float(interval.confidence), resamples=int(interval.num_resamples),
                 per_replicate="; ".join(f"r{i}: {e['quoted']} {e['verdict']}" for i, e in enumerate(each)))
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
  config = config_lib.merge(config, "the config") if not hasattr(config, "downstream") else config
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


def _analysis_text(config, names, cache: Path, sources, hashes, located, replicate: int = 0) -> str:
  stored = {role: store.lazy_read(cache / "store", dataset, split, names) for role, dataset, split in splits_of(config)}
  class_names = getattr(sources["test"], "class_names", ()) or ()
  return json.dumps(encode(analyse(config, names, stored, class_names, hashes, located, resample_seed=replicate)))


def cached_analysis(config, names: list[str], cache: Path, compute) -> dict:
  """The analysis results under :func:`analysis_key`: read from
  ``<cache>/analysis/<key>.json`` when its checksum holds, else ``compute()`` (JSON text)
  and stored. The file is ``sha256 of the JSON`` + newline + the JSON: a damaged or
  edited file is reported in one line and recomputed, never used. One run computes a
  key at a time (:func:`launch.locks.hold`); a second waits and reads its result."""
  key = analysis_key(config, names, cache / "store")
  cached = cache / "analysis" / f"{key[:24]}.json"
  with locks.hold(cache, "analysis", key, on_wait=lambda: say("  waiting for another run computing this analysis")):
    locks.remove_stale_temporaries(cached.parent)
    text = _verified_analysis(cached)
    if text is not None:
      say(f"  cached ({cached.name})")
    else:
      text = compute()
      cached.parent.mkdir(parents=True, exist_ok=True)
      temporary = cached.with_name(f".{cached.name}.tmp")
      temporary.write_text(hashlib.sha256(text.encode()).hexdigest() + "\n" + text)
      temporary.replace(cached)
  return decode(json.loads(text))  # the cached form, so a fresh and a cached run write the same report


def _verified_analysis(path: Path) -> str | None:
  """The JSON text of a cached analysis whose checksum line matches; None (said in one
  line naming the file) if it is absent, damaged or edited."""
  try:
    checksum, _, text = path.read_text().partition("\n")
  except FileNotFoundError:
    return None
  except (OSError, UnicodeDecodeError) as error:
    say(f"  damaged analysis cache {path} ({error}); recomputing it")
    return None
  if hashlib.sha256(text.encode()).hexdigest() != checksum:
    say(f"  damaged analysis cache {path} (checksum mismatch: truncated or edited); recomputing it")
    return None
  return text


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
