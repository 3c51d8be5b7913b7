"""A study is a list of sections (the model: big_vision's ``evaluators/common.py``, whose
``from_config`` imports ``evaluators.<type>`` and builds it from its own sub-config).

Each section is one module here, named in ``config.sections`` (launch/study/config.py, the
sections block: one line per section, in report order). A section module defines

- ``defaults()``: its own sub-config (``config.sections.<name>``, an ml_collections
  ConfigDict; empty if the section has no settings of its own): every setting that this
  section alone reads lives here, beside its code, with the comment that documents it;
- ``check(own)`` (optional): a ConfigError for a value of its own settings out of range (the
  config's validation calls it before the study writes anything; merge checks the types);
- ``FIELDS``: the study-wide config fields it reads (e.g. ``resamples``): only fields that
  other sections or the study's other stages read too (splits, resamples, ...);
- ``USES``: the shared intermediates of :class:`Context` it reads (each costs work that the
  sections share: the calibrated pass, the pairwise outcomes, ...) and ``NEEDS``: the sections
  whose results it reads (``context.results[name]``);
- ``Result``: a frozen dataclass (arrays, ``metrics.Interval``s, tables) and
  ``compute(context, settings) -> Result``, ``settings`` being its frozen view of the config
  (:func:`settings`: its own sub-config's fields and its ``FIELDS``, flat: ``settings.steps``);
- ``write(results, out)`` (its CSVs and figures) and ``markdown(results) -> list[str]`` (its
  part of report.md), reading the study's results (every section's fields, and ``config``).

Each section's result is cached under :func:`key`: its name, code (its own file and the code
every section shares, never another section's file), settings, the rows' training methods, the
splits and every stored manifest it may read, and the keys of the sections it needs. Changing
one section's settings or file recomputes that section (and the sections that need it) only.

The expensive intermediates the sections share (:data:`SHARED`: the temperatures, the calibrated
pass, the pairwise outcomes and their bootstrap intervals) are cached too, each under a key of
exactly what computes it (:func:`shared_key`), so a section recomputed for its own setting reads
them back instead of recomputing them.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import json
from pathlib import Path

import ml_collections
import numpy as np

from launch import code_digest

VERSION = 5  # bump when a section computes something else from the same inputs and code

# The config fields each shared intermediate of Context reads (they join the key of every section using it).
CONTEXT_FIELDS = {"temperatures": (), "test_set": (), "calibration_set": (), "outcomes": (),
                  "intervals": ("resamples",), "accuracy": (), "in_band": ("accuracy_band",),
                  "band": ("accuracy_band",), "chosen": (), "probe_sets": (), "stored": ()}


@dataclasses.dataclass(frozen=True)
class Shared:
  """An intermediate kept on disk with the study's cache: the Context intermediates it holds
  (whose :data:`CONTEXT_FIELDS` join its key), the stored splits it reads (roles of
  ``stored``: their manifests join its key) and the shared intermediates it is computed from
  (their keys' parts join its key)."""
  serves: tuple[str, ...]
  roles: tuple[str, ...]
  after: tuple[str, ...]


# Fresh, on the default study (19 models, 10,000 test examples; 2 CPU cores under load): temperatures
# 0.8 s, calibrated pass 0.7 s, pairwise outcomes 0.8 s, their 300-resample intervals 4.7 s; stored, 3 MB
# together, each read back in milliseconds. At the paper's scale (82 models, 50,000 examples) the
# pass and the all-pairs outcomes read every model's probabilities: the shares grow with N and N².
SHARED = {"temperatures": Shared(("temperatures",), ("calibration",), ()),
          "calibrated": Shared(("test_set", "calibration_set"), ("test", "calibration"), ("temperatures",)),
          "outcomes": Shared(("outcomes",), (), ("calibrated",)),
          "intervals": Shared(("intervals",), (), ("outcomes",))}


def get(name: str):
  """The section module ``launch.study.sections.<name>`` (a ValueError naming the known ones if absent)."""
  if not name.isidentifier():
    raise ValueError(f"section name {name!r} is not a module name.")
  try:
    return importlib.import_module(f"{__name__}.{name}")
  except ModuleNotFoundError as error:
    if error.name != f"{__name__}.{name}":
      raise
    known = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem != "__init__")
    raise ValueError(f"no study section {name!r} (launch/study/sections/{name}.py); known: {', '.join(known)}.") \
        from None


def defaults(names) -> ml_collections.ConfigDict:
  """``config.sections``: each named section's own sub-config (its module's ``defaults()``)."""
  return ml_collections.ConfigDict({name: get(name).defaults() for name in names})


def settings(config, name: str) -> ml_collections.FrozenConfigDict:
  """The frozen view of ``config`` section ``name`` computes from: its own sub-config's fields
  (``config.sections.<name>``) and the study-wide fields it reads (its ``FIELDS``). A ValueError
  if one of its own settings has the name of one of its ``FIELDS`` (the view would hide one)."""
  module = get(name)
  own = config.sections[name] if "sections" in config and name in config.sections else module.defaults()
  own = own.to_dict() if isinstance(own, ml_collections.ConfigDict) else dict(own)
  shadowed = sorted(set(own) & set(module.FIELDS))
  if shadowed:
    raise ValueError(f"study section {name!r}: its own settings {shadowed} have the names of study-wide fields it "
                     "reads (FIELDS); rename them in its defaults().")
  return ml_collections.FrozenConfigDict({**{field: config[field] for field in module.FIELDS}, **own})


def context_fields(config, name: str) -> dict:
  """The study-wide fields the intermediates section ``name`` ``USES`` read (:data:`CONTEXT_FIELDS`):
  part of its key, not of its settings (it reads them only through those intermediates)."""
  module = get(name)
  return {field: config[field] for use in module.USES for field in CONTEXT_FIELDS[use]}


def order(config) -> list[str]:
  """The configured sections (``config.sections``) in report order (``config.SECTIONS``)."""
  from launch.study.config import SECTIONS
  return [n for n in SECTIONS if n in config.sections] + sorted(n for n in config.sections if n not in SECTIONS)


def compute_order(names) -> list[str]:
  """``names`` with every section after the sections it needs (a ValueError on a cycle or an absent one)."""
  done, out = set(), []

  def visit(name, path=()):
    if name in done:
      return
    if name in path:
      raise ValueError(f"study sections need each other in a cycle: {' → '.join(path + (name,))}.")
    for need in get(name).NEEDS:
      if need not in names:
        raise ValueError(f"study section {name!r} needs section {need!r}, which the config does not list.")
      visit(need, path + (name,))
    done.add(name)
    out.append(name)

  for name in names:
    visit(name)
  return out


def code_sha256(name: str, root: Path | None = None) -> str:
  """sha256 of the code a section's result depends on: every .py file of ``launch/study``
  (this package's ``__init__`` and section ``name``'s own file, no other section's),
  ``metrics`` and ``probes``, by package path, as installed (launch.code_digest)."""
  def other_section(package_path: str) -> bool:
    folder, _, file = package_path.rpartition("/")
    return folder == "launch/study/sections" and file not in ("__init__.py", f"{name}.py")
  return code_digest.packages_sha256(("launch.study", "metrics", "probes"), root, skip=other_section)


def shared_code_sha256(root: Path | None = None) -> str:
  """sha256 of the code every section shares (:func:`code_sha256` without any section's own file):
  what computes the :data:`SHARED` intermediates."""
  def section_file(package_path: str) -> bool:
    folder, _, file = package_path.rpartition("/")
    return folder == "launch/study/sections" and file != "__init__.py"
  return code_digest.packages_sha256(("launch.study", "metrics", "probes"), root, skip=section_file)


def _shared_parts(config, name: str, stored) -> dict:
  """What shared intermediate ``name`` is computed from: its config fields, the manifests of the
  stored splits it reads, and the same of the intermediates it is computed from."""
  spec = SHARED[name]
  fields = [field for served in spec.serves for field in CONTEXT_FIELDS[served]]
  return {"fields": ml_collections.FrozenConfigDict({f: config[f] for f in fields}).to_dict(),
          "splits": {role: stored[role].manifests for role in spec.roles},
          "after": {before: _shared_parts(config, before, stored) for before in spec.after}}


def shared_key(config, name: str, stored, code: str) -> str:
  """sha256 of exactly what computes shared intermediate ``name`` (:data:`SHARED`): :data:`VERSION`,
  ``code`` (:func:`shared_code_sha256`), its config fields and the stored manifests it reads, and
  those of the intermediates it is computed from. No section's setting is part of it."""
  payload = {"version": VERSION, "shared": name, "code": code, "parts": _shared_parts(config, name, stored)}
  return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def key(config, name: str, inputs: dict, needs: dict[str, str]) -> str:
  """sha256 of what section ``name`` reads and what computes it: :data:`VERSION`, its code
  (:func:`code_sha256`), its settings, the fields of the intermediates it uses
  (:func:`context_fields`), ``inputs`` (the rows' names and training methods, the splits and every
  stored manifest) and the keys of the sections it needs."""
  payload = {"version": VERSION, "section": name, "code": code_sha256(name),
             "settings": settings(config, name).to_dict(), "context": context_fields(config, name),
             "inputs": inputs, "needs": needs}
  return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class Context:
  """What every section computes from: the rows, the stored splits, and the intermediates the
  sections share, each computed on first use only (a section served from the cache costs none).

  ``rows`` are the study's zoo rows (:class:`zoo.ModelEntry`, the base first), resolved once by
  the pipeline: the analysis reads no registry. ``stored`` maps each role of
  ``pipeline.splits_of`` to its ``launch.store.lazy_read`` (or anything with the same ``logits``,
  ``embeddings``, ``labels`` and ``manifests``). ``results[name]`` holds each section's Result once
  computed. ``lap(stage)`` records timings. ``shared_cache(name, key, compute)``, if given, returns
  the arrays ``compute()`` returns for shared intermediate ``name`` (:data:`SHARED`), read back from
  the study's cache under ``key`` when there (``pipeline.cached_arrays``).
  """

  def __init__(self, config, rows, stored, class_names, hashes, located, *, resample_seed: int = 0,
               lap=lambda stage: None, shared_cache=None):
    self.config, self.rows, self.stored = config, list(rows), stored
    self.names = [row.name for row in self.rows]
    self.class_names, self.hashes, self.located = list(class_names), hashes, located
    self.resample_seed, self.lap, self.results = resample_seed, lap, {}
    self.shared_cache = shared_cache

  def _shared(self, name: str, compute, to_arrays, from_arrays):
    """Shared intermediate ``name``: ``compute()`` when there is no cache or it is not there
    (stored as ``to_arrays(value)``), else ``from_arrays`` of the stored arrays (the same values
    bit for bit: arrays keep their dtype)."""
    if self.shared_cache is None:
      return compute()
    fresh = []

    def compute_arrays():
      fresh.append(compute())
      return to_arrays(fresh[0])
    arrays = self.shared_cache(name, shared_key(self.config, name, self.stored, self._shared_code), compute_arrays)
    if fresh:  # computed by this run: its own objects (e.g. the candidate view kept on the stack)
      return fresh[0]
    value = from_arrays(arrays)
    self.lap(f"{name} read from the cache")
    return value

  @functools.cached_property
  def _shared_code(self) -> str:
    return shared_code_sha256()

  @functools.cached_property
  def temperatures(self) -> np.ndarray:
    def fit():
      from launch.study import pipeline
      calibration = self.stored["calibration"]
      temperatures = pipeline.fit_temperatures(calibration.logits, calibration.labels)
      self.lap("temperatures")
      return temperatures
    return self._shared("temperatures", fit, lambda t: {"temperatures": t}, lambda arrays: arrays["temperatures"])

  @functools.cached_property
  def _calibrated_sets(self):
    from launch.study import pipeline
    roles = ("test", "calibration")

    def calibrate():
      sets = tuple(pipeline.predictions_of(self.names, self.stored[role], self.temperatures) for role in roles)
      self.lap("calibrated pass (correctness, confidence, candidate views)")
      return sets

    def to_arrays(sets):
      return {f"{role}.{field}": getattr(split, field) for role, split in zip(roles, sets)
              for field in ("correct", "confidence")}

    def from_arrays(arrays):  # the probabilities stay lazy: only the pass's arrays are stored
      return tuple(pipeline.predictions_of(self.names, self.stored[role], self.temperatures,
                                           correct=arrays[f"{role}.correct"], confidence=arrays[f"{role}.confidence"])
                   for role in roles)
    return self._shared("calibrated", calibrate, to_arrays, from_arrays)

  @property
  def test_set(self):
    """analysis.Predictions of the test split (calibrated)."""
    return self._calibrated_sets[0]

  @property
  def calibration_set(self):
    return self._calibrated_sets[1]

  @functools.cached_property
  def outcomes(self):
    """metrics.pairwise_outcomes of the test split."""
    def pairwise():
      import jax
      import metrics
      # The analysis runs on process 0 alone: its all-pairs kernel uses this process's devices,
      # not metrics' default mesh over every process (whose collectives the others never join).
      outcomes = metrics.pairwise_outcomes(self.test_set.probs, self.test_set.labels,
                                           mesh=metrics.example_mesh(jax.local_devices()))
      self.lap("pairwise")
      return outcomes
    return self._shared("outcomes", pairwise, _outcomes_arrays, _outcomes_of_arrays)

  @functools.cached_property
  def intervals(self):
    def bootstrap():
      import metrics
      intervals = metrics.pairwise_intervals(self.outcomes, num_resamples=self.config.resamples)
      self.lap("pairwise intervals")
      return intervals
    return self._shared("intervals", bootstrap, _intervals_arrays, _intervals_of_arrays)

  @property
  def accuracy(self) -> np.ndarray:
    return self.test_set.correct.mean(axis=1)

  @functools.cached_property
  def in_band(self) -> np.ndarray:
    """bool [N]: the accuracy band (test accuracy, as the paper's 74–78%): Fig. 1–2, the category
    table and claims 1–3 use its models only; greedy runs may use any model."""
    from launch.study import verdicts
    return verdicts.accuracy_band(self.accuracy, base=0, width=self.config.accuracy_band)

  @functools.cached_property
  def band(self) -> tuple[float, float]:
    from launch.study import verdicts
    return verdicts.band_range(self.accuracy, base=0, width=self.config.accuracy_band)

  @functools.cached_property
  def chosen(self) -> dict[str, int]:
    """Per category, the representative (base, X) partner of Fig. 3, 4 and 6 (analysis.representatives)."""
    from launch.study import analysis
    return analysis.representatives(self.rows, self.accuracy)

  @functools.cached_property
  def probe_sets(self):
    """(test_set, calibration_set) with the embeddings the probes read (the base's and each
    representative's) held in memory, read once."""
    used = [self.names[0]] + [self.names[i] for i in self.chosen.values()]
    for split in (self.test_set, self.calibration_set):
      held = {n: np.asarray(e, np.float32) for n, e in zip(self.names, split.embeddings) if n in used}
      split.embeddings = [held.get(n, e) for n, e in zip(self.names, split.embeddings)]
    self.lap("probe embeddings read")
    return self.test_set, self.calibration_set

  def scoped(self, name: str) -> "_Scoped":
    """This context as section ``name`` may read it: only the intermediates its ``USES`` lists
    (so its cache key, which holds their config fields, covers everything it reads)."""
    return _Scoped(self, name)


_INPUTS = ("config", "rows", "names", "class_names", "hashes", "located", "resample_seed", "lap", "results")


class _Scoped:
  def __init__(self, context: Context, name: str):
    self._context, self._name, self._uses = context, name, set(get(name).USES)

  def __getattr__(self, attribute):
    if attribute in CONTEXT_FIELDS and attribute not in self._uses:
      raise AttributeError(f"study section {self._name!r} reads context.{attribute} but its USES does not list it "
                           "(its cache key would miss the config fields that intermediate reads).")
    if attribute == "config":
      raise AttributeError(f"study section {self._name!r}: read settings (its frozen config view), not the config.")
    if attribute == "results":  # the results of the sections it NEEDS (their keys are part of its own)
      return {name: result for name, result in self._context.results.items() if name in get(self._name).NEEDS}
    return getattr(self._context, attribute)


def fields_of(result) -> dict:
  """A section Result's fields as the study's results dict holds them."""
  return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}


_INTERVAL_ARRAYS = ("estimate", "low", "high", "std")


def _outcomes_arrays(outcomes) -> dict[str, np.ndarray]:
  """metrics.PairwiseOutcomes as named arrays (for the shared cache)."""
  arrays = {"correct": np.asarray(outcomes.correct), "pair_a": np.asarray(outcomes.pair_a),
            "pair_b": np.asarray(outcomes.pair_b), "ensemble_correct": np.asarray(outcomes.ensemble_correct),
            "num_recomputed": np.asarray(outcomes.num_recomputed)}
  arrays.update({f"counts.{name}": np.asarray(count) for name, count in (outcomes.counts or {}).items()})
  return arrays


def _outcomes_of_arrays(arrays):
  """Inverse of :func:`_outcomes_arrays` (correctness back on the device, as pairwise_outcomes returns it)."""
  import jax
  import metrics
  counts = {key.removeprefix("counts."): value for key, value in arrays.items() if key.startswith("counts.")}
  return metrics.ensemble.PairwiseOutcomes(
      correct=jax.device_put(arrays["correct"]), pair_a=arrays["pair_a"], pair_b=arrays["pair_b"],
      ensemble_correct=jax.device_put(arrays["ensemble_correct"]), num_recomputed=int(arrays["num_recomputed"]),
      counts=counts or None)


def _intervals_arrays(intervals) -> dict[str, np.ndarray]:
  """{statistic: metrics.Interval} as named arrays (for the shared cache)."""
  arrays = {}
  for statistic, interval in intervals.items():
    arrays.update({f"{statistic}.{field}": np.asarray(getattr(interval, field)) for field in _INTERVAL_ARRAYS})
    arrays[f"{statistic}.confidence"] = np.asarray(interval.confidence, np.float64)
    arrays[f"{statistic}.num_resamples"] = np.asarray(interval.num_resamples, np.int64)
  return arrays


def _intervals_of_arrays(arrays) -> dict:
  """Inverse of :func:`_intervals_arrays`."""
  from metrics.bootstrap import Interval
  statistics = dict.fromkeys(key.rpartition(".")[0] for key in arrays)
  return {s: Interval(*(arrays[f"{s}.{field}"] for field in _INTERVAL_ARRAYS), float(arrays[f"{s}.confidence"]),
                      int(arrays[f"{s}.num_resamples"])) for s in statistics}
