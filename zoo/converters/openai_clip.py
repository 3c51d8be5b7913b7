"""OpenAI-format CLIP checkpoints (openai/CLIP's state dict, as open_clip publishes them in
``open_clip_model.safetensors``) → :class:`zoo.architectures.clip.CLIP`.

This is the only public format of CLIP's modified-ResNet towers (RN50, RN101, RN50x4, …);
ViT CLIPs load from it too. The architecture is read off the tensor shapes, as
openai/CLIP's ``build_model`` does.
"""

from __future__ import annotations

import json
import re

import numpy as np
from etils import epath
from flax import nnx

from zoo.abstract import eval_shape
from zoo.architectures.clip import CLIP, TextConfig
from zoo.architectures.clip_resnet import ClipResNetConfig
from zoo.architectures.vit import ViTConfig
from zoo.converters.huggingface import TOKENIZER_FILES, _resolve, cached_conversion, missing_file_error, read_safetensors
from zoo.converters.mapping import ATTENTION_PROJECTIONS, ConversionError, block_attention, load_into

WEIGHT_FILE = "open_clip_model.safetensors"
# What the converter and its tokenizer read from a Hub repo when a row names no files: the
# OpenAI-format weights only (these repos also hold transformers' or timm's copy, as large).
OPENAI_CLIP_FILES = ("config.json", "open_clip_config.json", WEIGHT_FILE, *TOKENIZER_FILES)
_BLOCK_RENAMES = (
    (r"transformer\.resblocks\.(\d+)\.attn\.(q|k|v)_proj\.", block_attention),
    (r"transformer\.resblocks\.(\d+)\.attn\.out_proj\.", r"blocks.\1.attn.out."),
    (r"transformer\.resblocks\.(\d+)\.ln_(\d)\.", r"blocks.\1.norm\2."),
    (r"transformer\.resblocks\.(\d+)\.mlp\.c_fc\.", r"blocks.\1.mlp.fc1."),
    (r"transformer\.resblocks\.(\d+)\.mlp\.c_proj\.", r"blocks.\1.mlp.fc2."),
)
RENAMES = (
    (r"^visual\.conv1\.weight$", "vision.patch_embed.weight"),  # ViT tower (the ResNet's conv1 is renamed back below)
    (r"^visual\.class_embedding$", "vision.cls_token"),
    (r"^visual\.positional_embedding$", "vision.pos_embed"),
    (r"^visual\.ln_pre\.", "vision.norm_pre."), (r"^visual\.ln_post\.", "vision.norm."),
    (r"^visual\.proj\.", "vision.projection."),
    (r"^visual\.layer(\d)\.(\d+)\.downsample\.0\.", lambda m: f"vision.stages.{int(m[1]) - 1}.{m[2]}.downsample_conv."),
    (r"^visual\.layer(\d)\.(\d+)\.downsample\.1\.", lambda m: f"vision.stages.{int(m[1]) - 1}.{m[2]}.downsample_bn."),
    (r"^visual\.layer(\d)\.(\d+)\.", lambda m: f"vision.stages.{int(m[1]) - 1}.{m[2]}."),
    (r"^visual\.attnpool\.positional_embedding$", "vision.attnpool.pos_embed"),
    (r"^visual\.attnpool\.(q|k|v|c)_proj\.", lambda m: f"vision.attnpool.{ATTENTION_PROJECTIONS[m[1]]}."),
    (r"^visual\.", "vision."),
    (r"^token_embedding\.", "text.token_embedding."),
    (r"^positional_embedding$", "text.pos_embed"),
    (r"^ln_final\.", "text.norm."),
    (r"^text_projection\.", "text.projection."),
    (r"^transformer\.", "text.transformer."),
    *_BLOCK_RENAMES,
)


def _as_torch_layout(tensors: dict[str, np.ndarray], resnet: bool) -> dict[str, np.ndarray]:
  """Splits fused attention ``in_proj`` tensors into q/k/v and turns the raw ``x @ proj``
  matrices into Linear-style weights, so the shared mapping applies."""
  out = {}
  for name, tensor in tensors.items():
    if name.endswith(".attn.in_proj_weight") or name.endswith(".attn.in_proj_bias"):
      prefix, kind = name.rsplit(".in_proj_", 1)
      for part, piece in zip("qkv", np.split(tensor, 3, axis=0)):
        out[f"{prefix}.{part}_proj.{kind}"] = piece
    elif name in ("visual.proj", "text_projection"):
      out[f"{name}.weight"] = tensor.T
    elif resnet and name == "visual.conv1.weight":
      out["visual.stem_conv1.weight"] = tensor
    else:
      out[name] = tensor
  return out


def _count(names, pattern) -> int:
  return len({m[1] for m in (re.match(pattern, n) for n in names) if m})


def clip_configs(shapes: dict[str, tuple[int, ...]], act: str = "quick_gelu"):
  """(vision config, text config) read off the tensor shapes."""
  embed = shapes["text_projection"][1]
  if "visual.proj" in shapes:
    width, _, patch, _ = shapes["visual.conv1.weight"]
    grid = round((shapes["visual.positional_embedding"][0] - 1) ** 0.5)
    vision = ViTConfig(image_size=grid * patch, patch_size=patch, hidden_size=width,
                       num_hidden_layers=_count(shapes, r"^visual\.transformer\.resblocks\.(\d+)\."),
                       num_attention_heads=width // 64, intermediate_size=4 * width, hidden_act=act,
                       layer_norm_eps=1e-5, patch_bias=False, pre_norm=True, projection_dim=embed, num_classes=0)
  elif "visual.attnpool.positional_embedding" in shapes:
    grid = round((shapes["visual.attnpool.positional_embedding"][0] - 1) ** 0.5)
    vision = ClipResNetConfig(layers=tuple(_count(shapes, rf"^visual\.layer{i}\.(\d+)\.") for i in range(1, 5)),
                              width=shapes["visual.layer1.0.conv1.weight"][0], image_size=grid * 32,
                              projection_dim=embed)
  else:
    raise ConversionError("not an OpenAI-format CLIP: no visual.proj (ViT) or visual.attnpool (ResNet) tensor.")
  width = shapes["ln_final.weight"][0]
  text = TextConfig(vocab_size=shapes["token_embedding.weight"][0], hidden_size=width, intermediate_size=4 * width,
                    num_hidden_layers=_count(shapes, r"^transformer\.resblocks\.(\d+)\."),
                    num_attention_heads=width // 64, max_position_embeddings=shapes["positional_embedding"][0],
                    hidden_act=act, eos_token_id=2, projection_dim=embed)  # eos 2: end token found by argmax
  return vision, text


def _weight_file(source: str, revision=None, files=(), hub_cache=None) -> epath.Path:
  path = epath.Path(source).expanduser()
  if path.is_file():
    return path
  directory = _resolve(source, revision=revision, files=files, hub_cache=hub_cache, default_files=OPENAI_CLIP_FILES)
  if not (directory / WEIGHT_FILE).exists():
    raise missing_file_error(directory, f"{WEIGHT_FILE} (an OpenAI-format CLIP as open_clip publishes it; "
                             "transformers-format CLIPs load with zoo.load_pretrained)", source, revision)
  return directory / WEIGHT_FILE


OPEN_CLIP_CONFIG = "open_clip_config.json"


def published_activation(directory) -> str | None:
  """The MLP activation open_clip's own config beside the weights says the model was trained
  with: ``"quick_gelu"`` when ``model_cfg.quick_gelu`` is true (OpenAI's models and open_clip's
  ``-quickgelu`` ones), ``"gelu"`` otherwise (open_clip's default ``nn.GELU``: e.g. the LAION-2B
  ViT-B/32); None when there is no ``open_clip_config.json`` (OpenAI's bare weight files)."""
  path = epath.Path(directory) / OPEN_CLIP_CONFIG
  if not path.exists():
    return None
  try:
    model_cfg = json.loads(path.read_text())["model_cfg"]
  except (ValueError, KeyError, TypeError) as error:
    raise ConversionError(f"{path}: not open_clip's config (no model_cfg: {type(error).__name__}: {error}); "
                          "download it again.") from None
  return "quick_gelu" if model_cfg.get("quick_gelu", False) else "gelu"


def load_openai_clip(source: str, *, act: str | None = None, cache_dir=None, revision: str | None = None,
                     files: tuple[str, ...] = (), hub_cache=None) -> CLIP:
  """A CLIP from an OpenAI-format safetensors file, a directory holding
  ``open_clip_model.safetensors``, or a Hub repo id (e.g. ``timm/resnet50_clip.openai``).

  ``act`` (the MLP activation) defaults to what ``open_clip_config.json`` beside the weights
  says (:func:`published_activation`), else OpenAI's quick_gelu; an ``act`` that contradicts that
  config is a ConversionError (the wrong activation loads without error and is silently wrong).
  A Hub repo is downloaded at ``revision``, only ``files`` (default :data:`OPENAI_CLIP_FILES`)."""
  file = _weight_file(source, revision, files, hub_cache)
  published = published_activation(file.parent)
  if act is not None and published is not None and act != published:
    raise ConversionError(f"model {source!r}: asked for activation {act!r}, but {file.parent / OPEN_CLIP_CONFIG} "
                          f"says the weights were trained with {published!r}; fix the row's builder (hidden_act).")
  act = act or published or "quick_gelu"
  from safetensors import safe_open
  try:
    with safe_open(str(file), framework="numpy") as handle:
      shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
  except Exception as error:
    raise ConversionError(f"model {source!r}: cannot read {file} ({type(error).__name__}: {error}); the file is "
                          "truncated or not safetensors: download it again.") from None
  vision, text = clip_configs(shapes, act)
  resnet = isinstance(vision, ClipResNetConfig)
  renames = ((r"^visual\.stem_conv1\.", "vision.conv1."),) + RENAMES if resnet else RENAMES
  return cached_conversion(
      f"{source}:{act}", [file], eval_shape(lambda: CLIP(vision, text, rngs=nnx.Rngs(0))),
      lambda abstract: load_into(abstract, _as_torch_layout(read_safetensors(file, source), resnet),
                                 model_name=source, renames=renames, ignore=(r"^attn_mask$",), source=str(file)),
      cache_dir)
