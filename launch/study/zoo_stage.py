"""Stage 1, the zoo: train the rows that have a recipe and no weights, locate everyone's weights.

A trained checkpoint lives under ``<cache>/trained/<key>/``, where ``key`` is the sha256
of everything that produced it (:func:`training_key`): the row's training-method fields,
the structure its builder makes (zoo.loading.architecture_digest) and the program that draws
its initial weights (zoo.loading.initialisation_digest), preprocessing and class
count, the recipe (epochs, seed, hyper-parameters), the data (how it is made and the
sha256 of its content), the probing data of linearly probed rows, and the teacher's
weight hash for distilled rows. A config that changes any of
them trains into another directory, so a cached checkpoint is never served for a
different recipe, and switching back reuses the first one.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import functools
import hashlib
import itertools
import json
import re
import threading
import time
from pathlib import Path

import numpy as np

import zoo
from launch import data, locks, procedural, weights_lock
from launch.configs import ConfigError
from launch.study.progress import Bar, say
from zoo import fitting, registry, training
from zoo.loading import WeightsDamaged, abstract_build, architecture_digest, initialisation_digest, weights_sha256
from zoo.registry import weights_path

# 2: the key holds the builder's architecture digest; 3: initialisers compiled (zoo.abstract.init);
# 4: the key holds the initialisers' program (zoo.loading.initialisation_digest).
KEY_VERSION = 4
PROCEDURAL = {"procedural_shapes": (procedural.shapes, 1), "procedural_textures": (procedural.textures, 2)}


def data_spec(config, name: str) -> dict | None:
  """How the study makes pretraining data ``name``; None if it cannot (the row is then
  loaded, never trained). ``<dataset>_classes_<a>-<b>``: the train split's examples of
  classes a..b."""
  if name == config.dataset:
    return {"kind": "dataset", "dataset": config.dataset, "split": config.train_split}
  subset = re.fullmatch(rf"{re.escape(config.dataset)}_classes_(\d+)-(\d+)", name)
  if subset:
    return {"kind": "class_subset", "dataset": config.dataset, "split": config.train_split,
            "first": int(subset.group(1)), "last": int(subset.group(2))}
  if name in PROCEDURAL:
    return {"kind": "procedural", "generator": name, "examples": config.pretrain_examples,
            "seed": PROCEDURAL[name][1]}
  return None


def replicate_names(config, names: list[str], replicate: int) -> list[str]:
  """The rows of replicate ``replicate`` (an independent zoo draw, config field ``replicates``):
  replicate 0 is ``names`` as they are (their cached checkpoints stay valid); replicate r > 0
  registers ``<name>@r<r>``, the row with seed zoo.registry.replicate_seed(seed, r) and its own
  checkpoint, so every stage (training keys, the store, the analysis cache) keeps replicates
  apart. Every row must be trainable (a row loaded from fixed weights has no other draw)."""
  if replicate == 0:
    return list(names)
  out = []
  for name in names:
    entry = zoo.get(name)
    if not trainable(config, entry):
      raise ConfigError(f"config field 'replicates' = {config.replicates}: model {name!r} is not trained by the study "
                        "(fixed weights), so it has no independent draw; use replicates = 1 or leave it out of "
                        "'models'.")
    name = f"{name}@r{replicate}"
    out.append(zoo.register(dataclasses.replace(
        registry.replicate_of(entry, replicate), name=name,
        weights=dataclasses.replace(entry.weights, location=f"{entry.weights.location}@r{replicate}"))).name)
  return out


def trainable(config, entry) -> bool:
  """A checkpoint row whose objective has a recipe and whose data the study can make."""
  return (entry.weights.kind == "checkpoint" and fitting.objective_of(entry.objective) is not None
          and data_spec(config, entry.pretraining_data) is not None)


class TrainingData:
  """The arrays of each data spec, made once, with their content hashes."""

  def __init__(self, config):
    self.config = config
    self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    self._hashes: dict[str, str] = {}
    self._lock = threading.RLock()  # rows training concurrently ask for data at once: make it once

  def _train_split(self):
    key = "__train__"
    if key not in self._arrays:
      try:
        source = data.load_source(self.config.dataset, self.config.train_split, self.config.data_dir or None)
      except FileNotFoundError as error:
        raise ConfigError(f"{error} (config fields 'dataset'/'train_split', needed to train the zoo; pass "
                          "--set data_dir=DIR or prepare the dataset)") from None
      self._arrays[key] = data.as_arrays(source)
    return self._arrays[key]

  def arrays(self, name: str) -> tuple[np.ndarray, np.ndarray]:
    with self._lock:
      return self._arrays_of(name)

  def _arrays_of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
    if name not in self._arrays:
      spec = data_spec(self.config, name)
      if spec["kind"] == "dataset":
        self._arrays[name] = self._train_split()
      elif spec["kind"] == "class_subset":
        images, labels = self._train_split()
        keep = (labels >= spec["first"]) & (labels <= spec["last"])
        self._arrays[name] = (images[keep], labels[keep])
      else:
        generate, seed = PROCEDURAL[name]
        self._arrays[name] = generate(spec["examples"], seed=seed)
    return self._arrays[name]

  def content_hash(self, name: str) -> str:
    """sha256 of the images and labels of data ``name`` (so other files under the same
    name, e.g. another --data_dir, change every key that uses them)."""
    if name not in self._hashes:
      images, labels = self.arrays(name)
      digest = hashlib.sha256()
      for array in (images, np.asarray(labels, np.int64)):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
      self._hashes[name] = digest.hexdigest()
    return self._hashes[name]

  def as_dict(self, names) -> dict:
    return {name: self.arrays(name) for name in names}


def json_safe(value):
  """JSON-safe form of dataclasses, tuples and numbers (for keys and provenance files)."""
  if dataclasses.is_dataclass(value):
    return {k: json_safe(v) for k, v in dataclasses.asdict(value).items()}
  if isinstance(value, dict):
    return {str(k): json_safe(v) for k, v in value.items()}
  if isinstance(value, (tuple, list)):
    return [json_safe(v) for v in value]
  return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def training_key(config, entry, training_data: TrainingData, teacher_sha256: str | None) -> tuple[str, dict]:
  """(sha256 key, the provenance it hashes) of the checkpoint the study trains for ``entry``."""
  recipe = fitting.recipe_of(entry, config.epochs)
  provenance = {
      "version": KEY_VERSION, "model": entry.name, "training_method": json_safe(entry.training_method),
      "architecture_sha256": architecture_digest(entry), "initialisation_sha256": initialisation_digest(entry),
      "num_classes": entry.num_classes, "preprocessing": json_safe(entry.preprocessing),
      "recipe": json_safe(recipe),
      "data": {**data_spec(config, entry.pretraining_data),
               "sha256": training_data.content_hash(entry.pretraining_data)},
      "probe_data": {**data_spec(config, config.dataset), "sha256": training_data.content_hash(config.dataset)},
      "teacher_weights_sha256": teacher_sha256 if fitting.needs_teacher(entry) else None,
  }
  key = hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest()
  return key, provenance


@dataclasses.dataclass
class Located:
  """Where a row's weights are: ``zoo_dir`` to pass to zoo.load, how they came to be, and
  (for trained rows) the provenance their key hashes."""
  zoo_dir: Path
  origin: str                      # "trained" (by the study, now or in an earlier run) | "loaded"
  key: str | None = None
  provenance: dict | None = None


def _user_checkpoint(entry, zoo_dir: Path | None) -> bool:
  return zoo_dir is not None and weights_path(entry, zoo_dir).exists()


def prepare(config, names: list[str], cache: Path) -> dict[str, Located]:
  """Trains what is missing and returns where every row's weights are. Rows with a
  checkpoint in config.zoo_dir use it as is. Distilled rows are keyed on their teacher's
  (the base's) weights, so they are located once the base has them: while the base trains,
  the other rows train beside it."""
  import contextlib
  import jax
  # One run trains at a time on a cache (launch.locks): a second waits, then finds the checkpoints.
  lock = (locks.hold(cache, "zoo", on_wait=lambda: say("  waiting for another run training into this cache"))
          if jax.process_count() == 1 else contextlib.nullcontext())
  with lock:
    if jax.process_count() == 1:
      _remove_stale_temporaries(cache / "trained")
    return _prepare(config, names, cache)


def _remove_stale_temporaries(trained: Path) -> None:
  """Temporaries of runs killed while saving (orbax's ``*.orbax-checkpoint-tmp-*``, hash files)."""
  for key_dir in (trained.iterdir() if trained.is_dir() else ()):
    for folder in [key_dir] + [d for d in key_dir.iterdir() if d.is_dir()]:
      locks.remove_stale_temporaries(folder)


def _prepare(config, names: list[str], cache: Path) -> dict[str, Located]:
  import jax
  user_dir = Path(config.zoo_dir).expanduser() if config.zoo_dir else None
  training_data = TrainingData(config)
  located: dict[str, Located] = {}
  to_train, taught = [], []
  for name in names:
    entry = zoo.get(name)
    if not trainable(config, entry) or _user_checkpoint(entry, user_dir):
      located[name] = Located(user_dir or cache / "zoo", "loaded")
    elif fitting.needs_teacher(entry):
      taught.append(entry)
    elif _missing(config, entry, training_data, None, cache, located):
      to_train.append(entry)

  def taught_to_train() -> list:
    """The distilled rows' locations (the teacher's weight hash in their keys); those to train."""
    teacher_hash = weights_sha256(_teacher(names[0], located, cache))
    return [e for e in taught if _missing(config, e, training_data, teacher_hash, cache, located)]

  if to_train or taught:
    _train(config, names[0], to_train, located, training_data, taught_to_train if taught else None, len(taught),
           cache=cache)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("overlap-study-zoo")
  return located


def _teacher(base: str, located: dict, cache: Path):
  """The base row's model, the distilled rows' teacher: a downloaded base at the commit the
  study's weights lock records (what evaluation reads too), never wherever its branch points now."""
  try:
    return weights_lock.load_locked(cache / weights_lock.LOCK_NAME, zoo.get(base), located[base].zoo_dir)
  except weights_lock.LockMismatch as error:
    raise ConfigError(str(error)) from None


def _missing(config, entry, training_data, teacher_hash, cache: Path, located: dict) -> bool:
  """Locates ``entry``'s trained checkpoint (its key) in ``located``; whether it must be trained."""
  import jax
  key, provenance = training_key(config, entry, training_data, teacher_hash)
  directory = cache / "trained" / key[:24]
  located[entry.name] = Located(directory, "trained", key, provenance)
  try:
    if jax.process_index() == 0:
      zoo.load(entry, directory, require_recorded_sha256=True)
    say(f"  {entry.name}: cached (trained checkpoint {key[:12]})")
    return False
  except zoo.WeightsUnavailable as error:
    if isinstance(error, WeightsDamaged):
      say(f"  {entry.name}: damaged checkpoint, retraining ({error})")
    return True


def _train(config, base: str, entries, located, training_data: TrainingData, taught=None,
           taught_rows: int = 0, *, cache: Path) -> None:
  """Trains ``entries`` (process 0 only; the others wait at the stage barrier),
  ``config.train_threads`` tasks at once (:func:`training_tasks`, longest first, the base
  first). ``taught()``, if given, locates the ``taught_rows`` distilled rows once the base
  has its weights and returns those to train, which then join the queue."""
  import jax
  if jax.process_index() != 0:
    if taught:
      taught()
    return
  probe = config.dataset
  if taught and all(e.name != base for e in entries):  # the teacher's weights exist: the distilled rows are known now
    entries, taught = entries + taught(), None
  groups = fitting.vmap_groups(entries, jax.default_backend(), probe_data=probe)
  tasks = training_tasks(groups)
  tasks.sort(key=lambda task: not any(e.name == base for group in task for e in group))  # the teacher first
  backbones: dict = {}  # rows whose backbones train identically train them once (fitting.fit_row)
  teacher, teacher_lock = [], threading.Lock()  # the base, loaded once it has weights (distilled rows only)
  redraw = None if config.train_threads == 1 else False  # concurrent bars print lines, never redraw one
  numbers = itertools.count(1)
  total = len(groups) + (taught_rows if taught else 0)  # at most: distilled rows may turn out cached

  def run_task(task):
    for group in task:
      if fitting.needs_teacher(group[0]):
        with teacher_lock:
          teacher[:] = teacher or [_teacher(base, located, cache)]
      _train_group(config, group, f"[{next(numbers)}/{total}]", located, training_data,
                   teacher[0] if teacher else None, backbones, redraw)

  # Host threads, not processes: XLA runs the two threads' programs at once on the shared
  # CPU thread pool (or device), and one row's compiles, host dispatch and data generation
  # overlap the other's compute (2 CPU cores: two ConvNet rows 1.2×, a ConvNet and the
  # small ResNet 1.3× the throughput of one at a time). Each row's weights are the same to
  # the bit as trained alone (tests/test_launch_study.py); programs with custom calls take
  # turns (zoo.concurrency), orbax saves too (zoo.loading).
  # Tasks start one per free thread from a queue kept longest first (the distilled rows join it
  # when the base is done), so the stage ends on its cheapest rows.
  queue = list(tasks)
  with concurrent.futures.ThreadPoolExecutor(config.train_threads, thread_name_prefix="overlap-train") as pool:
    running: dict = {}
    try:
      while queue or running:
        while queue and len(running) < config.train_threads:
          task = queue.pop(0)
          running[pool.submit(run_task, task)] = task
        done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
          task = running.pop(future)
          future.result()
          if taught and any(e.name == base for group in task for e in group):
            # Ahead of the queued tasks of equal cost: the stage must not end on them.
            queue = _by_cost(training_tasks(fitting.vmap_groups(taught(), jax.default_backend(),
                                                                probe_data=probe)) + queue)
            taught = None
    except BaseException:
      for future in running:  # what has not started stays untrained; every saved row is complete
        future.cancel()
      raise


def training_tasks(groups: list[list]) -> list[list[list]]:
  """The vmap ``groups`` as tasks for concurrent training: groups whose rows may share a
  backbone (the same objective, pretraining data and seed: e.g. a SimCLR backbone's
  linear-probed and retrained rows, fitting.fit_row's ``backbones``) run in one task, in
  order, so the backbone trains once. Tasks start longest first (:func:`_task_cost`), and
  among equal costs those whose builder few rows share (programs of their own to compile,
  an unknown speed) before those of the common builder (seed and hyper-parameter rows,
  ~10 s each here), so the pool does not end on one long row."""
  tasks: dict[tuple, list] = {}
  for group in groups:
    entry = group[0]
    shares = len(group) == 1 and "transfer" in dict(entry.hparams)
    key = (entry.objective, entry.pretraining_data, entry.seed) if shares else (id(group),)
    tasks.setdefault(key, []).append(group)
  return _by_cost(list(tasks.values()))


def _by_cost(tasks: list[list[list]]) -> list[list[list]]:
  """``tasks`` longest first (:func:`_task_cost`); among equal costs, those whose builder
  fewer of them share first (stable otherwise)."""
  builders = collections.Counter(e.builder for task in tasks for group in task for e in group)
  rarity = lambda task: -min(builders[e.builder] for group in task for e in group)
  return sorted(tasks, key=lambda task: (_task_cost(task), rarity(task)), reverse=True)


def _task_cost(task: list[list]) -> float:
  """A rough training cost of a task, for ordering only: the sum of its rows' :func:`_row_cost`."""
  def cost(entry):
    try:
      return _row_cost(entry)
    except TypeError:  # a row with an unhashable field: not cached
      return _row_cost.__wrapped__(entry)
  return sum(cost(entry) for group in task for entry in group)


@functools.lru_cache(maxsize=None)
def _row_cost(entry) -> float:
  """Passes per example (2 for a contrastive objective's two views) × a speed class: 3 for
  models trained one step per call, whose convolutions run several times slower per example
  on CPU (zoo.training.scans_epochs), ¼ for convolution-free ones (the small catalog's MLP
  trains ~4× more examples/s than its ConvNet), 1 otherwise. Cached: the queue is re-sorted
  when the distilled rows join it, and each cost traces the row's builder."""
  model = abstract_build(entry)
  objective = fitting.objective_of(entry.objective)
  passes = objective.passes if objective else 1.0
  speed = 3.0 if not training.scans_epochs(model) else 1.0 if fitting.has_convolutions(model) else 0.25
  return passes * speed


def _train_group(config, group, number: str, located, training_data, teacher, backbones, redraw) -> None:
  """Trains one vmap group (or one row) and saves its checkpoints and provenance."""
  probe = config.dataset
  datasets = training_data.as_dict({e.pretraining_data for e in group} | {probe})
  examples = sum(len(datasets[e.pretraining_data][1]) for e in group) * config.epochs
  names = ", ".join(e.name for e in group)
  bar = Bar(f"{number} training {names}", examples, redraw=redraw)
  start = time.perf_counter()
  epochs_done = [0]

  def log(event):  # fit_row's callback: typed progress (training.EpochDone) or a line of text
    if isinstance(event, training.EpochDone):
      epochs_done[0] += 1
      bar.update(epochs_done[0] * len(datasets[group[0].pretraining_data][1]))

  if len(group) > 1:
    models = fitting.fit_group(group, datasets, config.epochs, probe_data=probe)
  else:
    models = [fitting.fit_row(group[0], datasets, config.epochs, probe_data=probe, teacher=teacher, log=log,
                              backbones=backbones)]
  bar.update(examples)
  for entry, model in zip(group, models):
    directory = located[entry.name].zoo_dir
    zoo.save_weights(entry, model, directory)
    (directory / "provenance.json").write_text(json.dumps(located[entry.name].provenance, indent=1,
                                                          sort_keys=True))
    located[entry.name].origin = "trained"
  bar.close(f", trained {names} in {time.perf_counter() - start:.1f} s" + (" (vmapped)" if len(group) > 1 else ""))
