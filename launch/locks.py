"""Per-artefact file locks: two runs on one cache compute each artefact once.

``with hold(cache, "store", dataset, split, model):`` takes an exclusive ``fcntl.flock``
on ``<cache>/locks/<sha256 of the parts>.lock``; a second process asking for the same
artefact waits until the first releases it, then finds it written (callers re-check
after acquiring). The lock dies with its process (a SIGKILLed run leaves no stale lock).

What holds where: ``flock`` is exact on local disks. On NFS (v4, or v3 with lockd)
Linux maps ``flock`` onto POSIX byte-range locks, which the server arbitrates between
clients; on mounts without lock support (e.g. NFS ``nolock``, some FUSE and object-store
mounts such as gcsfuse) the call succeeds without excluding anyone, and two runs may
compute the same artefact twice. Every write is still atomic (temporary name + rename),
so the cost is repeated work, never a damaged file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import re
import threading
from pathlib import Path

try:
  import fcntl
except ImportError:  # not POSIX: no cross-process exclusion, writes stay atomic
  fcntl = None

# flock excludes open file descriptions, so two threads of one process taking the same
# artefact exclude each other too; this lock orders them without a busy wait on the file.
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def is_remote(path) -> bool:
  """A URL-like path (``gs://b/x``, or ``gs:/b/x`` as pathlib leaves it): not a local disk."""
  return re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", str(path)) is not None


def lock_path(root, *parts: str) -> Path:
  """``<root>/locks/<sha256 of parts>[:32].lock`` (parts may hold '/' and brackets)."""
  digest = hashlib.sha256("\0".join(map(str, parts)).encode()).hexdigest()[:32]
  return Path(root) / "locks" / f"{digest}.lock"


def hold(root, *parts: str, on_wait=None):
  """Exclusive lock on the artefact named by ``parts`` under the cache ``root``
  (:func:`hold_file` of :func:`lock_path`)."""
  if is_remote(root):  # not a local path (gs://): no lock; writes there are atomic
    return contextlib.nullcontext()
  return hold_file(lock_path(root, *parts), on_wait=on_wait)


@contextlib.contextmanager
def hold_file(path, *, on_wait=None):
  """Exclusive lock on the lock file ``path`` (created if absent).

  ``on_wait()``, if given, is called once when another process holds it (e.g. to say that
  this run waits for another's result). A lock file that cannot be created is not locked
  (every write is atomic).
  """
  path = Path(path)
  with _THREAD_LOCKS_GUARD:
    thread_lock = _THREAD_LOCKS.setdefault(str(path), threading.Lock())
  with thread_lock:
    if fcntl is None:
      yield
      return
    try:
      path.parent.mkdir(parents=True, exist_ok=True)
      handle = open(path, "a+")
    except OSError:
      yield
      return
    try:
      try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except OSError as error:
        if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
          raise
        if on_wait is not None:
          on_wait()
        fcntl.flock(handle, fcntl.LOCK_EX)
      yield
    finally:
      handle.close()  # releases the flock


def remove_stale_temporaries(directory, prefixes=(".",), markers=(".tmp", ".partial", "orbax-checkpoint-tmp")) -> list[str]:
  """Deletes temporary files/directories a killed run left in ``directory`` (names starting
  with one of ``prefixes`` or holding one of ``markers``); returns their names. Call it only
  while holding the lock of what the directory holds: a live run's temporaries look the same."""
  import shutil
  directory = Path(directory)
  removed = []
  if not directory.is_dir():
    return removed
  for entry in directory.iterdir():
    if any(marker in entry.name for marker in markers) and (
        entry.name.startswith(prefixes) or "orbax-checkpoint-tmp" in entry.name):
      if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
      else:
        with contextlib.suppress(OSError):
          entry.unlink()
      removed.append(entry.name)
  return removed
