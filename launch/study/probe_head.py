"""Classifier heads for rows without one (head "linear-probe": DINO, DINOv2, MAE, ...).

The study evaluates the headless backbone on ``linear_probe.split`` (a labelled slice of
the study's dataset, disjoint from every analysed split), fits a Kornblith-protocol
multinomial logistic regression on its embeddings (:func:`probes.fit_linear_head`: L2
strength chosen on a seeded held-out part, then refitted on all of it) and attaches it
(:class:`zoo.LinearProbeHead`); the row is then evaluated as any other.

A fitted head lives under ``<cache>/linear_probe/<key>/`` (``head.safetensors`` with W and
b, ``provenance.json``), where ``key`` is the sha256 of everything that produced it
(:func:`head_key`): the backbone's weight content hash, its preprocessing and the compute
precision, the probe dataset, split and the sha256 of that split's content, and the probe
settings. Other weights, other data or other settings fit into another directory, and the
run says why it fits.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

import zoo
from launch import data
from launch.study.config import ConfigError
from launch.study.progress import Bar, say
from launch.study.zoo_stage import json_safe
from zoo.loading import weights_sha256

KEY_VERSION = 1
ROLE = "linear_probe"
ORIGIN = "loaded + linear probe"


def needs_probe(names) -> list[str]:
  """The rows among ``names`` whose head is a linear probe."""
  return [n for n in names if zoo.get(n).head == "linear-probe"]


def probe_sources(config, names, sources: dict, splits) -> dict:
  """{"linear_probe": source} of the probe split when ``names`` has headless rows, else {}.

  Raises ConfigError (before anything is written) when the split cannot be read or shares
  examples with an analysed split of the same dataset (``splits``: (role, dataset, split)).
  """
  probed = needs_probe(names)
  if not probed:
    return {}
  split = config.linear_probe.split
  try:
    source = data.load_source(config.dataset, split, config.data_dir or None)
  except (FileNotFoundError, ValueError) as error:
    raise ConfigError(f"{error} (config field 'linear_probe.split' = {split!r} of dataset {config.dataset!r}, the "
                      f"probe data of {probed}).") from None
  for role, dataset, other in splits:
    if dataset != config.dataset:
      continue
    shared = data.shared_examples(source, sources[role])
    if shared:
      raise ConfigError(f"config field 'linear_probe.split': {split!r} shares {shared} examples with the {role} split "
                        f"{other!r}; the probe of {probed} must be fitted on other examples than those analysed. "
                        f"Choose a disjoint slice (e.g. 'train[:50000]' with calibration_split 'train[-10000:]').")
  return {ROLE: source}


def head_key(config, entry, backbone_sha256: str, data_sha256: str) -> tuple[str, dict]:
  """(sha256 key, the provenance it hashes) of the head fitted for ``entry``."""
  probe = config.linear_probe
  provenance = {
      "version": KEY_VERSION, "model": entry.name, "backbone_weights_sha256": backbone_sha256,
      "preprocessing": json_safe(entry.preprocessing), "precision": config.precision, "num_classes": entry.num_classes,
      "probe": {"dataset": config.dataset, "split": probe.split, "data_sha256": data_sha256,
                "l2_grid": [float(v) for v in probe.l2_grid], "iterations": int(probe.iterations),
                "validation_fraction": float(probe.validation_fraction), "seed": int(probe.seed),
                "method": "Kornblith et al. 2019: standardised features, L-BFGS multinomial logistic regression, L2 "
                          "chosen on the held-out fraction, refitted on the whole split"},
  }
  return hashlib.sha256(json.dumps(provenance, sort_keys=True).encode()).hexdigest(), provenance


def _why(root: Path, provenance: dict) -> str:
  """Why a head is fitted: what differs from the latest head of the same model, if any."""
  previous = []
  for path in root.glob("*/provenance.json"):
    try:
      old = json.loads(path.read_text())
    except (OSError, ValueError):
      continue
    if old.get("model") == provenance["model"]:
      previous.append((path.stat().st_mtime, old))
  if not previous:
    return "no fitted head yet"
  old = max(previous, key=lambda item: item[0])[1]
  changes = []
  if old.get("backbone_weights_sha256") != provenance["backbone_weights_sha256"]:
    changes.append(f"backbone weights changed (sha256 {str(old.get('backbone_weights_sha256'))[:12]} → "
                   f"{provenance['backbone_weights_sha256'][:12]})")
  old_probe, new_probe = old.get("probe", {}), provenance["probe"]
  for field in ("dataset", "split", "data_sha256", "l2_grid", "iterations", "validation_fraction", "seed"):
    if old_probe.get(field) != new_probe[field]:
      shown = (lambda v: str(v)[:12]) if field == "data_sha256" else repr
      changes.append(f"probe {field} changed ({shown(old_probe.get(field))} → {shown(new_probe[field])})")
  for field in ("preprocessing", "precision", "num_classes", "version"):
    if old.get(field) != provenance[field]:
      changes.append(f"{field} changed")
  return "; ".join(changes) or "previous fit incomplete"


class ProbeHeads:
  """Fits (or reads from the cache) the heads of one study run; the probe split's content
  hash is computed once."""

  def __init__(self, config, source, cache: Path):
    self.config, self.source, self.root = config, source, cache / "linear_probe"
    self._data_sha256 = None

  def data_sha256(self) -> str:
    if self._data_sha256 is None:
      self._data_sha256 = data.content_sha256(self.source)
    return self._data_sha256

  def attach(self, entry, backbone, label: str):
    """(backbone with its fitted head, the head's key, its provenance with the fit's outcome)."""
    import jax
    backbone_sha256 = weights_sha256(backbone)
    key, provenance = head_key(self.config, entry, backbone_sha256, self.data_sha256())
    directory = self.root / key[:24]
    head = _verified_head(directory, entry, key, label)
    if head is None:
      say(f"  {label}: fitting its linear probe on {self.config.dataset}/{self.config.linear_probe.split} "
          f"({_why(self.root, provenance)})")
      features = self._features(entry, backbone, backbone_sha256, directory, label)
      if jax.process_index() == 0:
        self._fit_and_write(entry, features, provenance, directory)
      if jax.process_count() > 1:
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices(f"overlap-linear-probe-{entry.name}")
      head = read_head(directory, entry, key)
    else:
      say(f"  {label}: cached linear probe ({key[:12]})")
    weights, bias, provenance = head
    return zoo.LinearProbeHead(backbone, weights, bias), key, provenance

  def _features(self, entry, backbone, backbone_sha256, directory: Path, label: str):
    """(embeddings, labels) of the probe split, through the runner into a store under the
    head's own directory (resumable; deleted once the head is written)."""
    from launch import runner, store
    config, split = self.config, self.config.linear_probe.split
    settings = {"out": str(directory / "features"), "dataset": config.dataset, "split": split,
                "batch_size": config.batch_size, "chunk_batches": config.chunk_batches,
                "precision": config.precision, "logits_dtype": "float16"}
    bar = Bar(f"  {label} on {config.dataset}/{split} (probe features)", len(self.source))
    runner.evaluate_zoo_model(entry.name, self.source, settings, model=backbone, weights_sha256=backbone_sha256,
                              replace_stale=True, progress=bar.update, report=say, summary=False)
    bar.close("")
    _, arrays = store.read_model(directory / "features", config.dataset, split, entry.name)
    return arrays["embeddings"], arrays["labels"]

  def _fit_and_write(self, entry, features, provenance: dict, directory: Path) -> None:
    import probes
    from safetensors.numpy import save_file
    embeddings, labels = features
    probe = self.config.linear_probe
    if np.asarray(labels).ndim != 1:
      raise ConfigError(f"model {entry.name!r}: the linear-probe split {probe.split!r} is multi-label; the probe "
                        "head needs one class id per example.")
    try:
      fitted = probes.fit_linear_head(embeddings, np.asarray(labels, np.int64), entry.num_classes,
                                      tuple(probe.l2_grid), validation_fraction=probe.validation_fraction,
                                      seed=probe.seed, max_iterations=probe.iterations)
    except ValueError as error:
      raise ConfigError(f"model {entry.name!r}: cannot fit its linear probe on {self.config.dataset}/"
                        f"{probe.split} ({error}); set linear_probe.split to a larger labelled slice.") from None
    best = int(np.flatnonzero(np.asarray(fitted["l2_grid"]) == fitted["l2"])[0])
    outcome = {"l2": fitted["l2"], "val_accuracy": float(fitted["val_accuracy"][best]),
               "num_train": fitted["num_train"], "num_val": fitted["num_val"],
               "embedding_width": int(fitted["weights"].shape[0])}
    temporary = directory.with_name(f".{directory.name}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    save_file({"weights": fitted["weights"], "bias": fitted["bias"]}, str(temporary / "head.safetensors"))
    outcome["head_sha256"] = hashlib.sha256((temporary / "head.safetensors").read_bytes()).hexdigest()
    (temporary / "provenance.json").write_text(json.dumps({**provenance, "fit": outcome}, indent=1, sort_keys=True))
    shutil.rmtree(directory, ignore_errors=True)  # the probe features: not needed once the head exists
    temporary.replace(directory)
    say(f"  {entry.name}: linear probe fitted (L2 {fitted['l2']:.3g}, held-out accuracy {outcome['val_accuracy']:.4f} "
        f"on {fitted['num_val']} examples)")


def _verified_head(directory: Path, entry, key: str, label: str):
  """:func:`read_head` of a written head, or None: none written, or damaged (said in one
  line naming the directory; it is then refitted)."""
  if not (directory / "head.safetensors").exists():
    return None
  try:
    return read_head(directory, entry, key)
  except ConfigError as error:
    say(f"  {label}: damaged linear probe, refitting it ({error})")
    return None


def read_head(directory: Path, entry, key: str):
  """(W, b, provenance) of a written head; a head whose provenance does not hash to
  ``key``, or whose file is not the one fitted (edited or damaged), is refused."""
  from safetensors import SafetensorError
  from safetensors.numpy import load
  try:
    raw = (directory / "head.safetensors").read_bytes()
    provenance = json.loads((directory / "provenance.json").read_text())
    tensors = load(raw)
  except (OSError, ValueError, SafetensorError) as error:
    raise ConfigError(f"model {entry.name!r}: cannot read its linear probe in {directory} ({error}); delete that "
                      "directory and rerun.") from None
  hashed = {k: v for k, v in provenance.items() if k != "fit"}
  if (hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest() != key
      or provenance.get("fit", {}).get("head_sha256") != hashlib.sha256(raw).hexdigest()):
    raise ConfigError(f"model {entry.name!r}: the linear probe in {directory} was not fitted for this backbone and "
                      "config (its provenance does not match its key); delete that directory and rerun.")
  return tensors["weights"], tensors["bias"], provenance
