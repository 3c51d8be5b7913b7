"""Up-front checks of a study run, before anything trains or is written.

Three kinds, each a :class:`launch.study.config.ConfigError` (one paragraph naming the
field or path and a valid example; ``python -m launch.study`` exits 2):

* :func:`check_ranges`: the config's numbers (rates in [0, 1], counts >= 0 or >= 1,
  L2 strengths > 0) beyond the type and range checks of :func:`launch.study.config.validate`;
* :func:`check_split_sizes`: every split the study reads is non-empty and large enough for
  the sections that need examples (e.g. the similarity section's k neighbours);
* :func:`check_paths`: ``--out`` is absent, empty or a previous report (recognised by
  :data:`REPORT_MARKER`), holds no cache, and ``--out``, the cache and the store can be written.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

from launch.study.config import ConfigError, section_settings, value_of

REPORT_MARKER = ".overlap-report"  # written into every report directory: only such a directory is replaced
# Files of a report written before the marker existed (launch/study/report.py): a directory
# holding nothing else is a previous report too.
_LEGACY_REPORT_SUFFIXES = (".md", ".csv", ".png", ".json")
CACHE_PARTS = ("trained", "store", "analysis", "linear_probe", "locks", "zoo")


def _fail(message: str):
  raise ConfigError(message)


def check_ranges(config) -> None:
  """Ranges :func:`launch.study.config.validate` leaves open: mixing rates and the
  diversity target in [0, 1], greedy starts >= 0, pretrain_examples >= 1, L2 strengths
  finite and > 0, seeds >= 0 (a section's settings only where the config runs it)."""
  mixing, greedy = section_settings(config, "mixing"), section_settings(config, "greedy")
  bad = [r for r in (mixing.rates if mixing is not None else ()) if not 0.0 <= r <= 1.0]
  if bad:
    _fail(f"config field 'sections.mixing.rates': {bad} lie outside [0, 1] (each is the share of the base model's "
          "features); write e.g. --set sections.mixing.rates=1.0,0.5,0.0.")
  if mixing is not None and not 0.0 <= mixing.diversity_target <= 1.0:
    _fail(f"config field 'sections.mixing.diversity_target' is an accuracy in [0, 1] (0: the lowest best-of-curve); "
          f"got {mixing.diversity_target}; write e.g. --set sections.mixing.diversity_target=0.0.")
  if greedy is not None and greedy.starts < 0:
    _fail(f"config field 'sections.greedy.starts' must be >= 0 (0: no greedy runs); got {greedy.starts}; write e.g. "
          "--set sections.greedy.starts=2.")
  if config.pretrain_examples < 1:
    _fail(f"config field 'pretrain_examples' must be >= 1; got {config.pretrain_examples}; write e.g. "
          "pretrain_examples=10000.")
  bad = [s for s in config.probe_l2_grid if not (math.isfinite(s) and s > 0)]
  if bad:
    _fail(f"config field 'probe_l2_grid': {bad} are not L2 strengths > 0; write e.g. probe_l2_grid=1e-3,1e-1.")
  if not math.isfinite(config.accuracy_band):
    _fail(f"config field 'accuracy_band' must be a finite width in points; got {config.accuracy_band}; write e.g. "
          "accuracy_band=4.0.")
  seeds = (["sections.similarity.seed"] if section_settings(config, "similarity") is not None else []) + \
      ["linear_probe.seed"]
  for field in seeds:
    if value_of(config, field) < 0:
      _fail(f"config field {field!r} must be >= 0; got {value_of(config, field)}; write e.g. --set {field}=0.")


def check_split_sizes(config, sources: dict) -> None:
  """Every split the study reads (``sources``: role → source, as loaded by the pipeline)
  holds examples, and enough of them: test more than sections.similarity.k (each example needs k
  neighbours besides itself) and at least 2 (paired bootstrap), calibration at least 2
  (temperatures; the probes' train and validation halves)."""
  fields = {"calibration": "calibration_split", "test": "test_split", "selection": "selection_split",
            "downstream_train": "sections.downstream.train_split", "downstream_val": "sections.downstream.val_split",
            "downstream_test": "sections.downstream.test_split"}
  minimums = {"calibration": 2, "test": 2}
  similarity = section_settings(config, "similarity")
  similar = similarity is not None and similarity.enabled
  if similar:
    minimums["test"] = max(2, similarity.k + 1)
  for role, source in sources.items():
    field = fields.get(role)
    if field is None:
      continue
    spec = value_of(config, field)
    size, needed = len(source), minimums.get(role, 1)
    if size < needed:
      why = (f"the similarity section needs more than sections.similarity.k={similarity.k} examples"
             if role == "test" and similar and needed > 2 else f"the study needs at least {needed}")
      _fail(f"config field {field!r}: {spec!r} holds {size} examples; {why}. Write a larger slice, e.g. "
            f"{field}='test' or '{spec.split('[')[0]}[:1000]'.")


def _writable(directory: Path) -> OSError | None:
  """None if a file can be created (and removed) in ``directory``, else the error."""
  probe = directory / f".overlap-write-test-{uuid.uuid4().hex}"
  try:
    probe.write_bytes(b"")
    probe.unlink()
  except OSError as error:
    return error
  return None


def _inside(path: Path, folder: Path) -> bool:
  return path == folder or folder in path.parents


def write_marker(report: Path) -> None:
  """Marks ``report`` as the study's: :data:`REPORT_MARKER` lists every file in it."""
  names = sorted(p.name for p in report.iterdir())
  (report / REPORT_MARKER).write_text(json.dumps({"written_by": "python -m launch.study; the next run with this "
                                                                "--out replaces this directory", "files": names},
                                                 indent=1))


def is_report(directory: Path) -> bool:
  """A directory this study wrote and nobody added to: it holds :data:`REPORT_MARKER` and
  only the files it lists, or (a report written before the marker existed) only files with
  a report's suffixes, report.md among them."""
  entries = list(directory.iterdir())
  marker = directory / REPORT_MARKER
  if marker.is_file():
    try:
      listed = set(json.loads(marker.read_text())["files"]) | {REPORT_MARKER}
    except (ValueError, KeyError, TypeError):
      return False
    return all(e.name in listed for e in entries)
  return bool(entries) and any(e.name == "report.md" for e in entries) and all(
      e.is_file() and e.suffix in _LEGACY_REPORT_SUFFIXES for e in entries)


def check_paths(out, cache) -> None:
  """``--out`` and the cache, before any work: ``out`` is absent, an empty directory or a
  previous report (:func:`check_out`); it is not the cache nor holds it; its parent, the
  cache and each of the cache's folders can be written."""
  from launch.locks import is_remote
  if is_remote(out):
    _fail(f"--out={out}: the report is written to a local directory; pass --out=DIR on this machine (the cache may "
          "be remote).")
  if is_remote(cache):
    check_out(out)
    return
  out, cache = Path(out).expanduser().absolute(), Path(cache).expanduser().absolute()
  real_out, real_cache = Path(os.path.realpath(out)), Path(os.path.realpath(cache))
  if _inside(real_cache, real_out):
    _fail(f"--out={out} holds the cache {cache}: the report replaces its directory as a whole. Pass --out=DIR "
          "outside the cache (e.g. --out=overlap_study) or --cache_dir elsewhere.")
  check_out(out)
  check_cache(cache)


def check_out(out) -> None:
  """``out`` is absent, an empty directory or a previous report (:func:`is_report`), and
  its parent can be written."""
  out = Path(out).expanduser().absolute()
  if out.exists() and not out.is_dir():
    _fail(f"--out={out} is a file, not a report directory; the study never replaces a file it did not write. "
          f"Pass --out=DIR naming a new or empty directory, or a previous report (e.g. --out={out}_report).")
  if out.is_dir() and any(out.iterdir()) and not is_report(out):
    names = sorted(e.name for e in out.iterdir())
    _fail(f"--out={out} holds files the study did not write ({', '.join(names[:5])}{'...' if len(names) > 5 else ''}): "
          f"a report replaces its directory as a whole. Pass --out=DIR naming a new or empty directory, or a "
          f"previous report (one holding {REPORT_MARKER} and only the files it lists).")
  parent = out.parent
  try:
    parent.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    _fail(f"--out={out}: cannot create {parent} ({error.strerror}); pass --out=DIR in a writable place.")
  error = _writable(parent)
  if error is not None:
    _fail(f"--out={out}: cannot write the report next to it, in {parent} ({error.strerror}); pass --out=DIR in a "
          "writable place.")


def check_cache(cache) -> None:
  """The cache (created if absent) and each of its folders can be written."""
  from launch.locks import is_remote
  if is_remote(cache):
    return
  cache = Path(cache).expanduser().absolute()
  try:
    cache.mkdir(parents=True, exist_ok=True)
  except OSError as error:
    _fail(f"--cache_dir={cache}: cannot create it ({error.strerror}); pass --cache_dir=DIR in a writable place "
          "(or set OVERLAP_CACHE).")
  for folder in [cache] + [cache / part for part in CACHE_PARTS if (cache / part).is_dir()]:
    error = _writable(folder)
    if error is not None:
      _fail(f"--cache_dir={cache}: {folder} cannot be written ({error.strerror}); make it writable (chmod u+w) or "
            "pass --cache_dir=DIR in a writable place.")
  for folder in _read_only_folders(cache):
    _fail(f"--cache_dir={cache}: {folder} cannot be written (read-only); make it writable (chmod -R u+w {cache}) "
          "or pass --cache_dir=DIR in a writable place.")


def _read_only_folders(cache: Path, depth: int = 4):
  """Folders of the cache (to ``depth`` levels: store/<dataset>/<split>/<model>) whose
  permission bits forbid this user to write (a cheap check: no file is created)."""
  for root, folders, _ in os.walk(cache):
    level = len(Path(root).relative_to(cache).parts)
    if not os.access(root, os.W_OK | os.X_OK):
      yield Path(root)
    if level >= depth:
      folders[:] = []
