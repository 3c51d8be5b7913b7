"""A row checked against its Hub repo without downloading weights: the revision resolves, the
files its converter reads are there, and every tensor of the safetensors header maps onto the
module with the right shape.

Reads a few KB per repo: the repo's listing at the revision (``model_info``), its config.json,
and the safetensors header (``get_safetensors_metadata`` / ``parse_safetensors_file_metadata``:
HTTP Range requests). The module is built abstractly (:func:`zoo.abstract.eval_shape`) and
the converter's own name mapping (:func:`zoo.converters.mapping.match_tensors`) runs on
zero-stride arrays of the header's shapes. The row's builder is compared with the module the
converter builds from the published config, so a row whose hand-written architecture
disagrees with its checkpoint is named too.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json

from pathlib import Path

import numpy as np

from zoo.abstract import eval_shape
from zoo.registry import ModelEntry


@dataclasses.dataclass(frozen=True)
class RowCheck:
  """One row's verdict: ``ready``, the ``commit`` its revision resolved to, and ``message``
  (what was checked, or what is missing and the fix)."""
  name: str
  ready: bool
  message: str
  commit: str | None = None

  def line(self) -> str:
    return f"{self.name}: {'ready' if self.ready else 'NOT READY'}: {self.message}"


def _shapes_from_header(metadata) -> dict[str, tuple[int, ...]]:
  shapes = {}
  for file_metadata in metadata.files_metadata.values():
    shapes.update({name: tuple(info.shape) for name, info in file_metadata.tensors.items()})
  return shapes


def _views(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
  """Zero-stride float32 arrays of the given shapes: no memory, shapes only."""
  zero = np.zeros((), np.float32)
  return {name: np.broadcast_to(zero, shape) for name, shape in shapes.items()}


def _param_shapes(module) -> dict[str, tuple[int, ...]]:
  from flax import nnx
  from zoo.converters.mapping import flatten
  return {path: tuple(leaf.shape) for path, leaf in flatten(nnx.to_pure_dict(nnx.state(module))).items()}


def _converter_plan(entry: ModelEntry, config: dict | None, shapes: dict[str, tuple[int, ...]]):
  """(abstract module, renames, ignore) the row's converter uses for this checkpoint."""
  kind, location = entry.weights.kind, entry.weights.location
  if kind == "huggingface":
    from zoo.converters import huggingface as hf
    family = hf.FAMILIES.get(config.get("model_type"))
    if family is None:
      raise ValueError(f"model_type {config.get('model_type')!r} has no converter (zoo.converters.huggingface.FAMILIES)")
    return eval_shape(lambda: family.build(config)), family.renames, hf._ALWAYS_IGNORED + family.ignore
  if kind == "timm":
    from zoo.converters import timm
    family = timm.family_of(config.get("architecture"), location)
    return (eval_shape(lambda: family.build(config["architecture"], config)), family.renames,
            timm._ALWAYS_IGNORED + family.ignore)
  from flax import nnx
  from zoo.architectures.clip import CLIP
  from zoo.architectures.clip_resnet import ClipResNetConfig
  from zoo.converters import openai_clip
  vision, text = openai_clip.clip_configs(shapes)
  resnet = isinstance(vision, ClipResNetConfig)
  renames = ((r"^visual\.stem_conv1\.", "vision.conv1."),) + openai_clip.RENAMES if resnet else openai_clip.RENAMES
  return eval_shape(lambda: CLIP(vision, text, rngs=nnx.Rngs(0))), renames, (r"^attn_mask$",)


def _openai_layout_shapes(shapes: dict[str, tuple[int, ...]], resnet: bool) -> dict[str, tuple[int, ...]]:
  """The shapes openai_clip._as_torch_layout gives (fused in_proj split in three, raw
  projections transposed)."""
  out = {}
  for name, shape in shapes.items():
    if name.endswith((".attn.in_proj_weight", ".attn.in_proj_bias")):
      prefix, kind = name.rsplit(".in_proj_", 1)
      for part in "qkv":
        out[f"{prefix}.{part}_proj.{kind}"] = (shape[0] // 3, *shape[1:])
    elif name in ("visual.proj", "text_projection"):
      out[f"{name}.weight"] = tuple(reversed(shape))
    elif resnet and name == "visual.conv1.weight":
      out["visual.stem_conv1.weight"] = shape
    else:
      out[name] = shape
  return out


def check_row(entry: ModelEntry, *, revision: str | None = None, endpoint: str | None = None,
              hub_cache=None) -> RowCheck:
  """Checks a Hub row (kinds huggingface, timm, openai_clip with a repo id) at ``revision``
  (default: the row's own) on the Hub at ``endpoint`` (None: huggingface_hub's), its
  config.json cached in ``hub_cache`` (None: huggingface_hub's cache). Any failure is
  returned as a not-ready RowCheck whose message says what and the fix."""
  from huggingface_hub import HfApi
  from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
  from zoo.converters import huggingface as hf
  from zoo.converters.mapping import ConversionError, match_tensors
  name, weights = entry.name, entry.weights
  revision = revision or weights.revision
  api = HfApi(endpoint=endpoint)
  repo = weights.location
  try:
    info = api.model_info(repo, revision=revision)
  except RevisionNotFoundError:
    return RowCheck(name, False, f"{repo} has no revision {revision!r}: set WeightSource.revision to one it has.")
  except RepositoryNotFoundError:
    return RowCheck(name, False, f"{repo} does not exist or is gated/private (gated: `hf auth login`).")
  except Exception as error:  # network
    return RowCheck(name, False, f"cannot reach the Hub for {repo} ({type(error).__name__}: {error}).")
  commit = info.sha
  listing = [sibling.rfilename for sibling in info.siblings or ()]
  from zoo.converters.openai_clip import OPENAI_CLIP_FILES, WEIGHT_FILE
  from zoo.converters.timm import TIMM_FILES
  patterns = weights.files or {"huggingface": hf.TRANSFORMERS_FILES, "timm": TIMM_FILES,
                               "openai_clip": OPENAI_CLIP_FILES}[weights.kind]
  needed = [WEIGHT_FILE] if weights.kind == "openai_clip" else ["config.json"]
  if weights.kind != "openai_clip":
    needed.append("model.safetensors.index.json" if "model.safetensors.index.json" in listing else "model.safetensors")
  at = f"{repo}@{revision or 'main'} (commit {commit[:12]})"
  missing = [f for f in needed if f not in listing or not any(fnmatch.fnmatchcase(f, p) for p in patterns)]
  if missing:
    pickles = [f for f in listing if f.endswith((".bin", ".pt", ".pth"))]
    return RowCheck(name, False, f"{at} lacks {missing} (has {sorted(listing)}); fix: pin a revision that has "
                    f"{missing[0]} (a Hub PR refs/pr/N, or timm's re-hosted safetensors)"
                    + (f"; its {pickles} are pickles, never read" if pickles else "")
                    + " and list it in WeightSource.files.", commit)
  try:
    config = None
    if weights.kind != "openai_clip":
      config = json.loads(open(api.hf_hub_download(repo, "config.json", revision=commit, cache_dir=hub_cache)).read())
    if weights.kind == "openai_clip":
      header = api.parse_safetensors_file_metadata(repo, WEIGHT_FILE, revision=commit)
      shapes = {n: tuple(i.shape) for n, i in header.tensors.items()}
    else:
      shapes = _shapes_from_header(api.get_safetensors_metadata(repo, revision=commit))
    module, renames, ignore = _converter_plan(entry, config, shapes)
    if weights.kind == "openai_clip":
      from zoo.architectures.clip_resnet import ClipResNetConfig
      from zoo.converters import openai_clip
      shapes = _openai_layout_shapes(shapes, isinstance(openai_clip.clip_configs(shapes)[0], ClipResNetConfig))
    targets = _param_shapes(module)
    match_tensors({k: _Shape(v) for k, v in targets.items()}, _views(shapes),
                  model_name=name, renames=renames, ignore=ignore, source=f"{at} safetensors header")
  except ConversionError as error:
    return RowCheck(name, False, f"{error} Fix the converter's family or the row.", commit)
  except Exception as error:  # a header, config or build failure: say which
    return RowCheck(name, False, f"{at}: {type(error).__name__}: {error}", commit)
  differing = _builder_differences(entry, targets)
  if weights.kind == "openai_clip" and not differing:
    differing = _activation_difference(entry, api, repo, commit, listing, hub_cache)
  if differing:
    return RowCheck(name, False, f"{at}: the weights map onto the converter's module, but the row's builder differs "
                    f"from the published config: {differing[:3]}; fix the row's builder (zoo/catalogs).", commit)
  return RowCheck(name, True, f"{at}: {len(shapes)} tensors map onto the module "
                  f"({sum(int(np.prod(s)) for s in targets.values()) / 1e6:.1f} M values)", commit)


def _activation_difference(entry: ModelEntry, api, repo: str, commit: str, listing: list[str], hub_cache) -> list[str]:
  """An open_clip row's MLP activation against its ``open_clip_config.json`` (a few hundred bytes):
  quick_gelu and gelu weights have the same shapes, so only the published config tells them apart."""
  from zoo.converters.openai_clip import OPEN_CLIP_CONFIG, published_activation
  from zoo.loading import abstract_build
  if OPEN_CLIP_CONFIG not in listing:
    return []
  published = published_activation(Path(api.hf_hub_download(repo, OPEN_CLIP_CONFIG, revision=commit,
                                                            cache_dir=hub_cache)).parent)
  built = abstract_build(entry).text.config.hidden_act
  return [] if built == published else [f"activation: builder {built!r} vs {OPEN_CLIP_CONFIG} {published!r}"]


@dataclasses.dataclass(frozen=True)
class _Shape:
  shape: tuple[int, ...]


def _builder_differences(entry: ModelEntry, targets: dict[str, tuple[int, ...]]) -> list[str]:
  """Parameters whose shape differs between the row's builder and the converter's module
  (the builder's own head and statistics included); empty when the builder cannot be built
  abstractly (nothing to compare)."""
  from flax import nnx
  from zoo.loading import abstract_build
  try:
    module = abstract_build(entry)
    if not isinstance(module, nnx.Module):  # a placeholder builder: nothing to compare
      return []
    built = _param_shapes(module)
  except Exception:  # a builder that needs files (e.g. a timm row's own config): nothing to compare
    return []
  keys = set(built) | set(targets)
  return [f"{k}: builder {built.get(k)} vs checkpoint {targets.get(k)}" for k in sorted(keys)
          if built.get(k) != targets.get(k)]
