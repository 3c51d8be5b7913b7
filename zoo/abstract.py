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

import contextlib
import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx import rnglib

from zoo import concurrency

A = TypeVar("A")

_STREAM_CALL_LOCK = threading.RLock()


def _draw_replacing_count(stream: rnglib.RngStream) -> jax.Array:
  """RngStream.__call__: key = fold_in(key, count); count ← count + 1 (assigned whole)."""
  stream.count._check_can_update()
  count = stream.count[...]
  key = jax.random.fold_in(stream.key[...], count)
  stream.count.set_value(count + 1)
  return key


@contextlib.contextmanager
def _cheap_rng_draws():
  """RNG draws that cost O(1) each while tracing (module docstring), under a lock so that
  concurrent callers never see a half-restored class."""
  with _STREAM_CALL_LOCK:
    original = rnglib.RngStream.__call__
    rnglib.RngStream.__call__ = _draw_replacing_count
    try:
      yield
    finally:
      rnglib.RngStream.__call__ = original


def eval_shape(function: Callable[..., A], *args: Any, **kwargs: Any) -> A:
  """``nnx.eval_shape(function, *args, **kwargs)`` (modules and arrays become shape/dtype
  structs, no FLOPs), with RNG draws that cost O(1) each instead of O(trace length).

  Use it wherever a builder is traced for its abstract model (loading checkpoints, converters,
  shape checks). The swap of ``RngStream.__call__`` lasts for this call only."""
  with _cheap_rng_draws():
    return nnx.eval_shape(function, *args, **kwargs)


# The initialisers run once per build: compiled without LLVM's optimisations, a third to a
# quarter of the compile time (the small ResNet's build 6.7 s eager, one initialiser compiled
# per kernel shape → 1.1 s), for values within 1 ulp of the optimised program's.
_INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def init(builder: Callable[[nnx.Rngs], nnx.Module], seed: int) -> nnx.Module:
  """``builder(nnx.Rngs(seed))`` with its initialisers compiled as one program (instead of one
  compile per distinct initialiser shape, run op by op), that program cached per builder
  with the seed an argument: rows that share a builder and differ in seed compile once. The
  same graph, variables, shapes and RNG streams as the eager call; values may differ from it
  in the last bit (compiled at a low optimisation level, see above), and are the same on
  every call."""
  if isinstance(jnp.zeros(()), jax.core.Tracer):
    return builder(nnx.Rngs(seed))  # inside a trace (jit, eval_shape): nothing runs op by op
  try:
    initialise, graphdef = _initialiser(builder)
  except TypeError:  # an unhashable builder (e.g. a method of an eq-comparable dataclass): this call only
    initialise, graphdef = _initialiser.__wrapped__(builder)
  key = jax.random.key(seed)  # nnx.Rngs(seed) makes this same key
  with _cheap_rng_draws(), concurrency.guard(initialise.lower(key)):  # e.g. an orthogonal init's QR
    state = jax.block_until_ready(initialise(key))
  return nnx.merge(graphdef[0], state)


def init_program(builder: Callable[[nnx.Rngs], nnx.Module], seed: int):
  """The jaxpr (``jax.make_jaxpr``) of ``nnx.state(builder(nnx.Rngs(seed)))``: the program
  :func:`init` compiles, traced and never run, with RNG draws at O(1) each."""
  with _cheap_rng_draws():
    return jax.make_jaxpr(lambda: nnx.state(builder(nnx.Rngs(seed))))()


@functools.lru_cache(maxsize=64)
def _initialiser(builder):
  """(jitted key → state of builder(nnx.Rngs(key)), [graphdef once traced])."""
  graphdef = []

  def initialise(key):
    graph, state = nnx.split(builder(nnx.Rngs(key)))
    graphdef[:] = [graph]
    return state

  return jax.jit(initialise, compiler_options=_INIT_COMPILER_OPTIONS), graphdef
