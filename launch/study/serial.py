"""One serialiser for the study's typed results: frozen dataclasses (each section's ``Result``,
``metrics.Interval``), numpy arrays, dicts, lists and plain values, to JSON text and back.

The round trip is exact: arrays keep their dtype and every value (floats are written as
Python's shortest repr, NaN included); tuples come back as lists (JSON has one sequence
type). A dataclass is written with its type's name and rebuilt only from the study's and
the metrics' modules (:data:`TRUSTED_MODULES`): a cache file names no code to import.
"""

from __future__ import annotations

import dataclasses
import importlib
import json

import numpy as np

TRUSTED_MODULES = ("launch.study.", "metrics.")


def encode(value):
  """JSON-ready form: arrays as {"__array__": values, "dtype": ...}, dataclasses as
  {"__dataclass__": "module:Name", "fields": {...}}, numpy scalars as Python ones, tuples as lists."""
  if isinstance(value, np.ndarray):
    return {"__array__": value.tolist(), "dtype": value.dtype.str}
  if isinstance(value, np.generic):
    return value.item()
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    kind = type(value)
    return {"__dataclass__": f"{kind.__module__}:{kind.__qualname__}",
            "fields": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
  if isinstance(value, dict):
    return {k: encode(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [encode(v) for v in value]
  return value


def decode(value):
  """Inverse of :func:`encode`."""
  if isinstance(value, dict):
    if "__array__" in value:
      return np.asarray(value["__array__"], np.dtype(value["dtype"]))
    if "__dataclass__" in value:
      return _dataclass(value["__dataclass__"])(**{k: decode(v) for k, v in value["fields"].items()})
    return {k: decode(v) for k, v in value.items()}
  if isinstance(value, list):
    return [decode(v) for v in value]
  return value


def dumps(value) -> str:
  return json.dumps(encode(value))


def loads(text: str):
  return decode(json.loads(text))


def _dataclass(name: str):
  module, _, qualname = name.partition(":")
  if not module.startswith(TRUSTED_MODULES):
    raise ValueError(f"serialised dataclass {name!r} is not one of the study's types (modules {TRUSTED_MODULES}).")
  kind = importlib.import_module(module)
  for part in qualname.split("."):
    kind = getattr(kind, part)
  if not dataclasses.is_dataclass(kind):
    raise ValueError(f"serialised type {name!r} is not a dataclass.")
  return kind
