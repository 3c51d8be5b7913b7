"""The weights lock: what each downloaded row resolved to, recorded once and checked on every run.

Like a package lock, ``weights.lock.json`` beside a study's store records per row, on its first
download, the Hub commit its revision resolved to and the sha256 of every weight file its
converter reads::

  {"version": 1,
   "rows": {"resnet50.a1_in1k": {"kind": "timm", "location": "timm/resnet50.a1_in1k", "revision": null,
                                 "commit": "<40 hex>", "files": {"model.safetensors": "<sha256>"}}}}

Every later run downloads the locked commit (not wherever the branch points now) and checks
each file's sha256 again, on every process of a multi-process run (each reads its own disk,
and records into its own lock where the cache directory is per host); processes also compare
their entries with each other (:func:`agree_across_processes`), so hosts that resolved
different files stop the study. A difference is a :class:`LockMismatch` naming the row, the field,
the expected and the found value. Rows whose weights are not downloaded (trained by the
study, local checkpoints) are not locked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from pathlib import Path

from launch import caches
from zoo.converters.big_vision import file_sha256
from zoo.loading import download, load

LOCK_NAME = "weights.lock.json"
VERSION = 1
_WRITE_LOCK = threading.Lock()


class LockMismatch(ValueError):
  """A row's downloaded weights differ from its lock entry (or from another process's)."""


@dataclasses.dataclass(frozen=True)
class Locked:
  """One row's lock entry: ``commit`` resolved (None for URLs) and file name → sha256."""
  kind: str
  location: str
  revision: str | None
  commit: str | None
  files: dict[str, str]

  def summary(self) -> str:
    """``commit[:12] · name sha256[:12], …`` for the report."""
    files = ", ".join(f"{name} {digest[:12]}" for name, digest in sorted(self.files.items()))
    return f"{(self.commit or '-')[:12]} · {files}"


def read(path) -> dict[str, Locked]:
  """The lock's rows (empty when the file does not exist)."""
  path = Path(path)
  if not path.exists():
    return {}
  try:
    data = json.loads(path.read_text())
    return {name: Locked(**row) for name, row in data["rows"].items()}
  except (ValueError, KeyError, TypeError) as error:
    raise LockMismatch(f"the weights lock {path} cannot be read ({type(error).__name__}: {error}); it is written by "
                       "the study: restore it from version control, or delete it to record the weights anew.") from None


def _write(path: Path, name: str, locked: Locked) -> None:
  with _WRITE_LOCK:
    rows = {n: dataclasses.asdict(r) for n, r in read(path).items()}
    rows[name] = dataclasses.asdict(locked)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": VERSION, "rows": dict(sorted(rows.items()))}, indent=2) + "\n")
    temporary.replace(path)


def _mismatch(name: str, field: str, expected, found, path) -> LockMismatch:
  return LockMismatch(
      f"model {name!r}: {field} is {found!r} but the weights lock {path} records {expected!r}. The weights changed "
      "since the lock was written (a moved branch, a re-uploaded or damaged file, or an edited row). If the change "
      f"is intended, delete the row's entry {name!r} from the lock (or the file) to record the new weights; "
      "otherwise delete the damaged download from the Hugging Face cache and run again.")


def check(path, entry, zoo_dir, *, hub_cache=None, download_cache=None, write: bool = True) -> Locked | None:
  """Downloads ``entry``'s weights (the locked commit when the lock has the row) and checks
  them against the lock at ``path``, or records them there (unless ``write`` is False).
  Returns the row's entry, or None for rows that are not downloaded. Raises LockMismatch."""
  path = Path(path)
  locked = read(path).get(entry.name)
  weights = entry.weights
  if locked is not None:
    for field, expected, found in (("the weight source", f"{locked.kind}:{locked.location}",
                                    f"{weights.kind}:{weights.location}"),
                                   ("the requested revision", locked.revision, weights.revision)):
      if expected != found:
        raise _mismatch(entry.name, field, expected, found, path)
  fetched = download(entry, zoo_dir, revision=locked.commit if locked else None, hub_cache=hub_cache,
                     download_cache=download_cache or caches.downloads())
  if fetched is None:
    return None
  found = Locked(weights.kind, weights.location, weights.revision, fetched.commit,
                 {file.name: file_sha256(file) for file in fetched.files})
  if weights.sha256 and len(found.files) == 1 and next(iter(found.files.values())) != weights.sha256:
    raise _mismatch(entry.name, "the weight file's sha256", weights.sha256, next(iter(found.files.values())),
                    "(the row's WeightSource.sha256)")
  if locked is None:
    if write:
      _write(path, entry.name, found)
    return found
  if found.commit != locked.commit:
    raise _mismatch(entry.name, "the resolved commit", locked.commit, found.commit, path)
  if sorted(found.files) != sorted(locked.files):
    raise _mismatch(entry.name, "the weight files", sorted(locked.files), sorted(found.files), path)
  for file, digest in locked.files.items():
    if found.files[file] != digest:
      raise _mismatch(entry.name, f"the sha256 of {file}", digest, found.files[file], path)
  return locked


def load_locked(path, entry, zoo_dir, *, hub_cache=None, download_cache=None):
  """``entry``'s model at the commit the lock at ``path`` records for it (recorded now, on a
  first download), after :func:`check`: what the study reads of a downloaded row outside
  evaluation (a distillation teacher), so training and evaluation see the same weights.
  Rows that are not downloaded load as zoo.load loads them. Raises LockMismatch."""
  locked = check(path, entry, zoo_dir, hub_cache=hub_cache, download_cache=download_cache)
  return load(entry, zoo_dir, revision=locked.commit if locked else None, hub_cache=hub_cache,
              download_cache=download_cache or caches.downloads(), convert_cache=caches.converted())


def agree_across_processes(name: str, locked: Locked | None) -> None:
  """In a multi-process run, every process's entry for ``name`` must be the same (each
  downloads to its own disk): a collective, called by every process in the same order."""
  import jax
  if jax.process_count() == 1:
    return
  import numpy as np
  from jax.experimental import multihost_utils
  text = json.dumps(dataclasses.asdict(locked) if locked else None, sort_keys=True)
  mine = np.frombuffer(hashlib.sha256(text.encode()).digest(), dtype=np.uint8)
  every = np.asarray(multihost_utils.process_allgather(mine))
  differing = [i for i in range(every.shape[0]) if not np.array_equal(every[i], every[0])]
  if differing:
    raise LockMismatch(f"model {name!r}: processes {differing} downloaded weights that differ from process 0's "
                       f"(this process: {locked.summary() if locked else 'none'}); each host's Hugging Face cache "
                       "must hold the same commit and files: delete the differing host's copy and run again.")


def annotate(models: list[dict], path) -> None:
  """Adds each model row's lock entry to the report's model table: ``weights_source`` =
  ``commit[:12] · file sha256[:12]`` (empty for rows that are not downloaded)."""
  rows = read(path)
  for row in models:
    row["weights_source"] = rows[row["model"]].summary() if row["model"] in rows else ""
