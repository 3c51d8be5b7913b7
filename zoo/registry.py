"""The model registry: a model is a data row.

A :class:`ModelEntry` names a model (timm-style ``arch.tag``), how to build it, where
its weights come from, its exact preprocessing, and how it was trained
(``objective``, ``pretraining_data``, ``architecture``, ``hparams``, ``seed``). The
paper's category of any pair is *derived* from those fields by :func:`pair_category`,
never written per pair.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from typing import Any, Callable

from etils import epath

from zoo.preprocessing import Preprocessing

# The paper's categories, from most to least similar training (§3.1).
CATEGORIES = ("reinit", "hyper-parameters", "architecture", "framework", "dataset")


@dataclasses.dataclass(frozen=True)
class WeightSource:
  """Where weights come from: ``kind`` "checkpoint" (an orbax checkpoint of the nnx
  state at ``location``, relative to the zoo directory unless absolute), "huggingface"
  (a Hub repo id or local ``save_pretrained`` directory, read by zoo.load_pretrained) or
  "npz" (a Google ViT/AugReg/Mixer .npz, local or gs://), "openai_clip" (openai/CLIP's
  state dict as open_clip's safetensors) or "timm" (a timm Hub id, or a directory in timm's
  format read by zoo.load_timm: absolute, ``~/…``, or ``./…`` relative to the zoo directory);
  ``sha256`` and the Hub ``revision`` where pinned; ``files``: the repo files the converter
  reads (glob patterns; empty: the converter's own default set), the only ones downloaded."""
  kind: str
  location: str
  sha256: str | None = None
  revision: str | None = None
  files: tuple[str, ...] = ()


# How a row's ImageNet-style predictions are made: its own classifier head, a zero-shot head built from
# its text tower (class names × prompt templates), or a linear probe fitted on its embedding.
HEADS = ("classifier", "zero-shot", "linear-probe")


@dataclasses.dataclass(frozen=True)
class Provenance:
  """Where a row's weights and its published number come from (as timm's ``PretrainedCfg``):
  ``license`` as the checkpoint's model card states it (None where it states none), ``paper``
  the citation of the method, ``top1_source`` where the row's ``top1`` was published and
  at what preprocessing; ``sources`` where each pinned value of the row (weights, revision, files,
  preprocessing, architecture options, top-1, license) was read: urls or ``repo@commit:path``."""
  license: str | None
  paper: str
  top1_source: str | None = None
  sources: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class ModelEntry:
  """One row of the zoo. ``builder(rngs)`` returns an nnx module whose call on
  preprocessed float32 NHWC images returns (logits, embedding). ``head`` (one of
  :data:`HEADS`) says where the row's class scores come from; ``provenance`` holds the
  license, paper and the source of ``top1``."""
  name: str
  builder: Callable[..., Any]
  weights: WeightSource
  preprocessing: Preprocessing
  num_classes: int
  objective: str
  pretraining_data: str
  architecture: str
  hparams: tuple[tuple[str, Any], ...] = ()
  seed: int = 0
  top1: float | None = None
  catalog: str = ""
  note: str = ""
  provenance: Provenance | None = None
  head: str = "classifier"

  def __post_init__(self):
    if self.head not in HEADS:
      raise ValueError(f"model {self.name!r}: head must be one of {HEADS}; got {self.head!r}.")

  @property
  def training_method(self) -> dict[str, Any]:
    return {"objective": self.objective, "pretraining_data": self.pretraining_data,
            "architecture": self.architecture, "hparams": dict(self.hparams), "seed": self.seed}


_REGISTRY: dict[str, ModelEntry] = {}
_BASES: dict[str, str] = {}


def set_base(catalog: str, name: str) -> None:
  """Declares the base model of a catalog (the paper's categories are relative to it)."""
  _BASES[catalog] = name


def base_of(catalog: str) -> ModelEntry:
  """The base model of ``catalog``."""
  if catalog not in _BASES:
    raise KeyError(f"catalog {catalog!r} has no base model (catalogs with one: {sorted(_BASES)}).")
  return get(_BASES[catalog])


def register(entry: ModelEntry) -> ModelEntry:
  """Adds a row; names are unique."""
  if entry.name in _REGISTRY and _REGISTRY[entry.name] != entry:
    raise ValueError(f"a different model is already registered as {entry.name!r}.")
  _REGISTRY[entry.name] = entry
  return entry


def list_models(pattern: str = "*", catalog: str | None = None) -> list[str]:
  """Registered names matching an fnmatch ``pattern`` (and ``catalog``), sorted."""
  return sorted(name for name, entry in _REGISTRY.items()
                if fnmatch.fnmatchcase(name, pattern) and (catalog is None or entry.catalog == catalog))


def get(name: str) -> ModelEntry:
  """The row named ``name``; the error lists close names."""
  if name not in _REGISTRY:
    close = [n for n in _REGISTRY if name.split(".")[0] in n][:10]
    raise KeyError(f"no model {name!r} in the zoo (similar: {close}; all: zoo.list_models()).")
  return _REGISTRY[name]


def resolve_patterns(patterns: list[str]) -> list[str]:
  """Names for a list of names or glob patterns, in order, each once; unknown → KeyError."""
  names: list[str] = []
  for pattern in patterns:
    matched = list_models(pattern)
    if not matched:
      raise KeyError(f"{pattern!r} matches no model in the zoo (have: {list_models()[:20]}...).")
    names.extend(n for n in matched if n not in names)
  return names


def pair_category(a: ModelEntry, b: ModelEntry) -> str:
  """The paper's category of the pair, from the training-method fields (§3.1).

  dataset: different pretraining data; framework: same data, different objective;
  architecture: same data and objective, different architecture; hyper-parameters:
  only hyper-parameters differ; reinit: only the seed differs; "identical" otherwise.
  """
  if a.pretraining_data != b.pretraining_data:
    return "dataset"
  if a.objective != b.objective:
    return "framework"
  if a.architecture != b.architecture:
    return "architecture"
  if dict(a.hparams) != dict(b.hparams):
    return "hyper-parameters"
  if a.seed != b.seed:
    return "reinit"
  return "identical"


def differences(base: ModelEntry, entry: ModelEntry) -> list[str]:
  """What ``entry``'s training differs in from ``base``'s, one short phrase per field, in the
  order of :func:`pair_category`'s tests (pretraining data, objective, architecture, each
  differing hyper-parameter, seed); [] when the training methods are equal. Categories
  nest (PAPER.md §2.1): a dataset row may also differ in objective, architecture and seed."""
  out = [f"{field} {getattr(base, field)} → {getattr(entry, field)}"
         for field in ("pretraining_data", "objective", "architecture") if getattr(base, field) != getattr(entry, field)]
  ours, theirs = dict(base.hparams), dict(entry.hparams)
  out += [f"{key} {ours.get(key, '—')} → {theirs.get(key, '—')}" for key in sorted(set(ours) | set(theirs))
          if ours.get(key) != theirs.get(key)]
  if base.seed != entry.seed:
    out.append(f"seed {base.seed} → {entry.seed}")
  return out


# Replicate r of a zoo (an independent draw: every row retrained with seeds of its own) gives
# each row the seed ``seed + r * REPLICATE_SEED_STRIDE``; replicate 0 keeps the rows' seeds (and
# so every cached checkpoint). Catalog seeds stay below the stride, so no replicate's seed is
# another row's seed in another replicate.
REPLICATE_SEED_STRIDE = 1000


def replicate_seed(seed: int, replicate: int) -> int:
  """The seed a row of seed ``seed`` trains with in replicate ``replicate`` (0 → ``seed``)."""
  if replicate < 0 or not 0 <= seed < REPLICATE_SEED_STRIDE:
    raise ValueError(f"replicate must be >= 0 and the row's seed in [0, {REPLICATE_SEED_STRIDE}); got replicate "
                     f"{replicate}, seed {seed}.")
  return seed + replicate * REPLICATE_SEED_STRIDE


def replicate_of(entry: ModelEntry, replicate: int) -> ModelEntry:
  """``entry`` as trained in replicate ``replicate`` (same name, seed :func:`replicate_seed`);
  not registered: the pairs' categories are unchanged, as every row moves alike."""
  return entry if replicate == 0 else dataclasses.replace(entry, seed=replicate_seed(entry.seed, replicate))


def weights_location(entry: ModelEntry, zoo_dir) -> str:
  """A Hub-or-path ``location`` with ``./`` resolved against ``zoo_dir`` and ``~`` expanded."""
  location = entry.weights.location
  if location.startswith("./"):
    return str((epath.Path(zoo_dir).expanduser() / location[2:]).resolve())
  return os.path.expanduser(location) if location.startswith("~") else location


def weights_path(entry: ModelEntry, zoo_dir) -> epath.Path:
  """Absolute path of a checkpoint row's weights (orbax refuses relative paths)."""
  location = epath.Path(entry.weights.location)
  if not location.is_absolute():
    location = epath.Path(zoo_dir).expanduser() / location
  return location if "://" in str(location) else location.resolve()
