"""Running the zoo's compiled programs from several host threads at once.

XLA runs programs dispatched from different host threads concurrently on one process's
devices (on CPU: one shared intra-op thread pool), which lets a launcher train two small
models at once: one's compiles and host dispatch overlap the other's compute. Results are
unchanged: XLA:CPU partitions work by shape, not by timing.

One hazard: jaxlib's CPU LAPACK kernels (eigh, LU/inverse, QR, SVD, Cholesky, ... are XLA
custom calls) split a batch of matrices over that same pool and wait inside a pool thread
for the pieces. Two of them waiting at once on a 2-thread pool hold every thread, and
neither's pieces can run: a deadlock (observed on 2 cores: a batched eigh and a batched LU
from two threads). So a program with any custom call runs under :data:`EXCLUSIVE` (one
such program at a time, to completion); programs without custom calls never wait inside
the pool and run freely beside it.
"""

from __future__ import annotations

import contextlib
import re
import threading

# Held while a program with custom calls runs (module docstring).
EXCLUSIVE = threading.RLock()
# Custom calls that only annotate shardings or placements for the partitioner: no kernel runs.
_ANNOTATIONS = frozenset({"Sharding", "SPMDFullToShardShape", "SPMDShardToFullShape", "MoveToHost", "MoveToDevice",
                          "annotate_device_placement", "LayoutConstraint"})
_CUSTOM_CALL = re.compile(r"custom_call\s*@([\w.]+)|custom_call_target\s*=\s*\"([\w.]+)\"")


def custom_calls(lowered) -> set[str]:
  """The custom-call targets (kernels, not sharding annotations) in a ``jax.jit(...).lower(...)``."""
  targets = {a or b for a, b in _CUSTOM_CALL.findall(lowered.as_text())}
  return targets - _ANNOTATIONS


def guard(lowered):
  """A context manager to run ``lowered``'s program in: :data:`EXCLUSIVE` if it has custom
  calls (:func:`custom_calls`), else nothing. Block on its results inside it."""
  return EXCLUSIVE if custom_calls(lowered) else contextlib.nullcontext()
