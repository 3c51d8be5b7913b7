"""The one mapping from a flat dict of foreign tensors onto an nnx module's parameters.

Every family's converter is data: regex renames from the checkpoint's tensor names to
the module's dotted state paths, plus names to ignore. Layouts are fixed here once:
PyTorch conv ``weight`` [out, in, *spatial] → flax ``kernel`` [*spatial, in, out]; Linear
``weight`` [out, in] → ``kernel`` [in, out]; norm ``weight`` → ``scale``;
``running_mean/var`` → ``mean/var``; ``nn.Embedding.weight`` → ``embedding``.
"""

from __future__ import annotations

import math
import re
from typing import Mapping, Sequence

import jax
import numpy as np
from flax import nnx


class ConversionError(ValueError):
  """A checkpoint does not fit the module: names the model, the tensor and the fix."""


_TORCH_LEAF = {"running_mean": ("mean",), "running_var": ("var",), "weight": ("kernel", "scale", "embedding")}


# PyTorch attention projections (q_proj, k_proj, …) → the nnx attention's submodules.
ATTENTION_PROJECTIONS = {"q": "query", "k": "key", "v": "value", "c": "out"}


def block_attention(match: re.Match) -> str:
  """Rename target for a ``(block index)…(q|k|v)_proj.`` match: ``blocks.{i}.attn.{query|key|value}.``."""
  return f"blocks.{match[1]}.attn.{ATTENTION_PROJECTIONS[match[2]]}."


def flatten(tree, prefix: str = "") -> dict[str, object]:
  """Nested dict (nnx pure dict) → {"a.b.0.kernel": leaf}."""
  flat = {}
  for key, value in tree.items():
    path = f"{prefix}{key}"
    if isinstance(value, Mapping):
      flat.update(flatten(value, path + "."))
    else:
      flat[path] = value
  return flat


def unflatten(flat: Mapping[str, object], like) -> dict:
  """Inverse of :func:`flatten` on the key structure of ``like`` (keeps int list keys)."""
  out = {}
  for key, value in like.items():
    if isinstance(value, Mapping):
      out[key] = unflatten({k[len(str(key)) + 1:]: v for k, v in flat.items() if k.startswith(f"{key}.")}, value)
    else:
      out[key] = flat[str(key)]
  return out


def _target_key(name: str, renames: Sequence[tuple[str, str]], targets: Mapping[str, object]) -> str:
  for pattern, replacement in renames:
    name = re.sub(pattern, replacement, name)
  prefix, _, leaf = name.rpartition(".")
  for candidate in _TORCH_LEAF.get(leaf, ()):
    if f"{prefix}.{candidate}" in targets:
      return f"{prefix}.{candidate}"
  return name


def _to_layout(tensor: np.ndarray, key: str, target_shape: tuple[int, ...], layout: str) -> np.ndarray:
  if key.endswith(".kernel") and layout == "torch":
    # PyTorch keeps [out, in, *spatial] (Linear: [out, in]); flax [*spatial, in, out]. Every rank is
    # moved, Conv1d's [out, in, k] too: left as it is, a square [C, C, 1] would pass the unit-axis
    # reshape below as a [C, C] kernel, silently transposed.
    tensor = tensor.transpose(*range(2, tensor.ndim), 1, 0) if tensor.ndim >= 2 else tensor
  if tensor.shape != target_shape and [d for d in tensor.shape if d != 1] == [d for d in target_shape if d != 1]:
    tensor = tensor.reshape(target_shape)  # only unit axes differ (e.g. CLIP's class_embedding [D] vs [1, 1, D])
  if layout == "flax" and tensor.shape != target_shape and tensor.size == math.prod(target_shape) and (
      tensor.ndim != len(target_shape)):
    tensor = tensor.reshape(target_shape)  # flax attention kernels [D, heads, head_dim] ↔ [D, D]
  return tensor


def match_tensors(targets: Mapping[str, object], tensors: Mapping[str, np.ndarray], *, model_name: str,
                  renames: Sequence[tuple[str, str]] = (), ignore: Sequence[str] = (), layout: str = "torch",
                  source: str = "") -> dict[str, np.ndarray]:
  """Every tensor in its target's layout, keyed by the module path it maps to (``targets``:
  path → anything with ``.shape``, e.g. ShapeDtypeStructs). ConversionError when a tensor maps
  nowhere, has the wrong shape or shares a target, or a target gets no tensor. Tensors may
  be zero-stride views (``np.broadcast_to``): only their shapes are read here."""
  values = {}
  for name, tensor in tensors.items():
    if any(re.search(pattern, name) for pattern in ignore):
      continue
    key = _target_key(name, renames, targets)
    if key not in targets:
      raise ConversionError(
          f"model {model_name!r}: tensor {name!r} of {source or 'the checkpoint'} maps to {key!r}, which the nnx "
          "module does not have (an unconverted or unexpected parameter; is the config the checkpoint's?).")
    target_shape = tuple(targets[key].shape)
    converted = _to_layout(np.asarray(tensor), key, target_shape, layout)
    if converted.shape != target_shape:
      raise ConversionError(
          f"model {model_name!r}: tensor {name!r} has shape {tuple(np.shape(tensor))} but {key!r} needs "
          f"{target_shape} ({source or 'checkpoint'}); the config does not match the weights.")
    if key in values:
      sources = [other for other in tensors if _target_key(other, renames, targets) == key]
      raise ConversionError(f"model {model_name!r}: tensors {sources} all map to {key!r}.")
    values[key] = converted
  missing = sorted(set(targets) - set(values))
  if missing:
    raise ConversionError(f"model {model_name!r}: {len(missing)} parameter(s) have no tensor in "
                          f"{source or 'the checkpoint'}, e.g. {missing[:5]} (truncated or different model?).")
  return values


def load_into(model: nnx.Module, tensors: Mapping[str, np.ndarray], *, model_name: str,
              renames: Sequence[tuple[str, str]] = (), ignore: Sequence[str] = (), layout: str = "torch",
              source: str = "") -> nnx.Module:
  """Fills every parameter and batch statistic of ``model`` from ``tensors``.

  Raises ConversionError, before anything is modified, when a module parameter has no
  tensor, a tensor is left unused (unless it matches an ``ignore`` regex), or shapes
  differ after the layout change; the message names the model, the tensor and the source
  (:func:`match_tensors`).
  """
  graphdef, state = nnx.split(model)
  targets = flatten(nnx.to_pure_dict(state))
  values = match_tensors(targets, tensors, model_name=model_name, renames=renames, ignore=ignore, layout=layout,
                         source=source)
  values = {key: value.astype(targets[key].dtype) for key, value in values.items()}
  # One transfer for the whole tree: an asarray per tensor dispatches a jitted conversion each
  # (about 1 ms apiece, a second for a model of a thousand tensors).
  nnx.replace_by_pure_dict(state, unflatten(jax.device_put(values),
                                            nnx.to_pure_dict(state)))
  return nnx.merge(graphdef, state)
