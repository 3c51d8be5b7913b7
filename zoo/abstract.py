"""Abstract (shape-only) evaluation of model builders at a cost linear in the model's size.

``nnx.eval_shape(lambda: build(...))`` traces the builder, and every ``nnx.Rngs`` draw in it
ends with ``RngStream.count[...] += 1``. flax's ``Variable.set_value`` then compares the new
and old values' ``sharding`` to decide whether the indexed update is a full replacement; on a
tracer that attribute raises an AttributeError whose message JAX builds by walking every
equation traced so far (``DynamicJaxprTracer._origin_msg`` → ``find_progenitors``). Each draw
therefore costs time proportional to the trace so far and a builder with D draws costs O(D²):
56 s for the full-size ALIGN model. ``eval_shape`` below traces the same builder while the RNG
streams replace their count whole (``set_value(count + 1)``, the same value flax computes),
which skips that comparison; keys, counts, shapes, dtypes, paths and the graph are unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import jax
from flax import nnx
from flax.nnx import rnglib

A = TypeVar("A")

_STREAM_CALL_LOCK = threading.RLock()


def _draw_replacing_count(stream: rnglib.RngStream) -> jax.Array:
  """RngStream.__call__: key = fold_in(key, count); count ← count + 1 (assigned whole)."""
  stream.count._check_can_update()
  count = stream.count[...]
  key = jax.random.fold_in(stream.key[...], count)
  stream.count.set_value(count + 1)
  return key


def eval_shape(function: Callable[..., A], *args: Any, **kwargs: Any) -> A:
  """``nnx.eval_shape(function, *args, **kwargs)`` (modules and arrays become shape/dtype
  structs, no FLOPs), with RNG draws that cost O(1) each instead of O(trace length).

  Use it wherever a builder is traced for its abstract model (loading checkpoints, converters,
  shape checks). The swap of ``RngStream.__call__`` lasts for this call only, under a lock, so
  concurrent callers never see a half-restored class."""
  with _STREAM_CALL_LOCK:
    original = rnglib.RngStream.__call__
    rnglib.RngStream.__call__ = _draw_replacing_count
    try:
      return nnx.eval_shape(function, *args, **kwargs)
    finally:
      rnglib.RngStream.__call__ = original
