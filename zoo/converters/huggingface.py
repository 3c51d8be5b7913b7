"""transformers checkpoints (Hub repo id or a local ``save_pretrained`` directory) → nnx models.

``load_pretrained(source)`` reads ``config.json`` and the safetensors weights (never
pickle), builds the family's nnx module from the config, maps every tensor with
:func:`zoo.converters.mapping.load_into`, and caches the converted state as an orbax
checkpoint keyed by the source and the sha256 of its files, so a second load does not
convert again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
from typing import Any, Callable

import numpy as np
from etils import epath
from flax import nnx

from zoo.abstract import eval_shape
from zoo.architectures.beit import Beit, BeitConfig
from zoo.architectures.bit import BiT, BitConfig
from zoo.architectures.clip import CLIP, TextConfig
from zoo.architectures.convnext import ConvNext, ConvNextConfig
from zoo.architectures.efficientnet import EfficientNet, EfficientNetConfig
from zoo.architectures.mobilenet import MobileNetV2, STAGE_REPEATS, transformers_mobilenet_v2_config
from zoo.architectures.regnet import RegNet, RegNetConfig
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.swin import Swin, SwinConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.converters.mapping import ConversionError, block_attention, load_into
from zoo.preprocessing import Preprocessing

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
_ALWAYS_IGNORED = (r"num_batches_tracked$", r"position_ids$")


@dataclasses.dataclass(frozen=True)
class Family:
  """How one transformers ``model_type`` becomes an nnx module: ``build(config) → module``
  (called under zoo.abstract.eval_shape), tensor-name ``renames`` and names to ``ignore``."""
  build: Callable[[dict], nnx.Module]
  renames: tuple[tuple[str, str], ...]
  ignore: tuple[str, ...] = ()


def _num_classes(config: dict) -> int:
  architectures = config.get("architectures") or []
  if not any(a.endswith(("ForImageClassification", "ForImageClassificationWithTeacher")) for a in architectures):
    return 0
  return len(config.get("id2label") or {}) or config.get("num_labels", 2)


def _fields(config: dict, cls, **overrides):
  """The dataclass ``cls`` from the config's keys of the same names (tuples for lists)."""
  names = {f.name for f in dataclasses.fields(cls)}
  values = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k in names}
  return cls(**{**values, **overrides})


def _resnet(config):
  return ResNet(_fields(config, ResNetConfig, num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


def _bit(config):
  if config.get("output_stride", 32) != 32:
    raise ConversionError(f"BiT with output_stride {config['output_stride']} (dilated stages) is not supported.")
  return BiT(_fields(config, BitConfig, num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


def _efficientnet(config):
  return EfficientNet(_fields(config, EfficientNetConfig, num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


def _mobilenet_v2(config):
  for name, supported in (("output_stride", 32), ("first_layer_is_expansion", True)):
    if config.get(name, supported) != supported:
      raise ConversionError(f"MobileNetV2 with {name}={config[name]!r} is not supported (only {supported!r}).")
  fields = ("depth_multiplier", "depth_divisible_by", "min_depth", "expand_ratio", "finegrained_output", "tf_padding",
            "hidden_act", "layer_norm_eps", "num_channels")
  return MobileNetV2(transformers_mobilenet_v2_config(**{k: config[k] for k in fields if k in config},
                                                      num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


def _mobilenet_v2_layer(match: re.Match) -> str:
  """``layer.{i}.{expand_1x1|conv_3x3|reduce_1x1}.{convolution|normalization}`` (16 inverted
  residuals in a row) → ``blocks.{stage}.{j}.{conv_pw/bn1 | conv_dw/bn2 | conv_pwl/bn3}``."""
  index, stage = int(match[1]), 1
  while index >= STAGE_REPEATS[stage - 1]:
    index, stage = index - STAGE_REPEATS[stage - 1], stage + 1
  conv, norm = {"expand_1x1": ("conv_pw", "bn1"), "conv_3x3": ("conv_dw", "bn2"), "reduce_1x1": ("conv_pwl", "bn3")}[
      match[2]]
  return f"blocks.{stage}.{index}.{conv if match[3] == 'convolution' else norm}."


def _vit_config(config, **overrides):
  return _fields(config, ViTConfig, num_classes=_num_classes(config), **overrides)


def _vit(config):
  return VisionTransformer(_vit_config(config), rngs=nnx.Rngs(0))


def _deit(config):
  teacher = any(a.endswith("WithTeacher") for a in config.get("architectures") or [])
  return VisionTransformer(_vit_config(config, distillation_token=True, distilled_head=teacher), rngs=nnx.Rngs(0))


def _clip(config):
  vision = dict(config["vision_config"])
  text = dict(config["text_config"])
  projection = config.get("projection_dim", 512)
  for tower in (vision, text):
    tower.setdefault("hidden_act", "quick_gelu")
    tower.setdefault("layer_norm_eps", 1e-5)
  text.setdefault("eos_token_id", 2)
  vision_config = _fields(vision, ViTConfig, num_classes=0, pre_norm=True, patch_bias=False,
                          projection_dim=projection)
  return CLIP(vision_config, _fields(text, TextConfig, projection_dim=projection), rngs=nnx.Rngs(0))


_VIT_RENAMES = (
    (r"^(vit|deit)\.", ""),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.distillation_token$", "dist_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.", r"blocks.\1.attn.\2."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.out."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^layernorm\.", "norm."),
    (r"^(classifier|cls_classifier)\.", "head."),
    (r"^distillation_classifier\.", "head_dist."),
)
_CLIP_TOWER_RENAMES = (
    (r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v)_proj\.", block_attention),
    (r"encoder\.layers\.(\d+)\.self_attn\.out_proj\.", r"blocks.\1.attn.out."),
    (r"encoder\.layers\.(\d+)\.layer_norm(\d)\.", r"blocks.\1.norm\2."),
    (r"encoder\.layers\.(\d+)\.mlp\.", r"blocks.\1.mlp."),
)
FAMILIES: dict[str, Family] = {
    "resnet": Family(_resnet, (
        (r"^resnet\.", ""),
        (r"^embedder\.embedder\.", "stem."),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer\.(\d+)\.", r"stages.\1.\2.layers.\3."),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.shortcut\.", r"stages.\1.\2.shortcut."),
        (r"\.convolution\.", ".conv."), (r"\.normalization\.", ".bn."),
        (r"^classifier\.1\.", "head."))),
    "bit": Family(_bit, (
        (r"^bit\.", ""),
        (r"^embedder\.convolution\.", "stem_conv."),
        (r"^embedder\.norm\.", "stem_norm."),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.downsample\.(conv|norm)\.", r"stages.\1.\2.downsample_\3."),
        (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.", r"stages.\1.\2."),
        (r"(norm\d?|downsample_norm)\.(weight|bias)$", r"\1.norm.\2"),
        (r"^classifier\.1\.", "head.")), ignore=(r"^(bit\.)?pooler\.",)),
    "efficientnet": Family(_efficientnet, (
        (r"^efficientnet\.", ""),
        (r"^embeddings\.convolution\.", "stem_conv."), (r"^embeddings\.batchnorm\.", "stem_bn."),
        (r"^encoder\.blocks\.(\d+)\.expansion\.expand_(conv|bn)\.", r"blocks.\1.expand_\2."),
        (r"^encoder\.blocks\.(\d+)\.depthwise_conv\.depthwise_conv\.", r"blocks.\1.depthwise_conv."),
        (r"^encoder\.blocks\.(\d+)\.depthwise_conv\.depthwise_norm\.", r"blocks.\1.depthwise_bn."),
        (r"^encoder\.blocks\.(\d+)\.squeeze_excite\.(reduce|expand)\.", r"blocks.\1.se_\2."),
        (r"^encoder\.blocks\.(\d+)\.projection\.project_(conv|bn)\.", r"blocks.\1.project_\2."),
        (r"^encoder\.top_(conv|bn)\.", r"head_\1."),
        (r"^classifier\.", "head."))),
    "mobilenet_v2": Family(_mobilenet_v2, (
        (r"^mobilenet_v2\.", ""),
        (r"^conv_stem\.first_conv\.convolution\.", "conv_stem."), (r"^conv_stem\.first_conv\.normalization\.", "bn1."),
        (r"^conv_stem\.conv_3x3\.convolution\.", "blocks.0.0.conv_dw."),
        (r"^conv_stem\.conv_3x3\.normalization\.", "blocks.0.0.bn1."),
        (r"^conv_stem\.reduce_1x1\.convolution\.", "blocks.0.0.conv_pw."),
        (r"^conv_stem\.reduce_1x1\.normalization\.", "blocks.0.0.bn2."),
        (r"^layer\.(\d+)\.(expand_1x1|conv_3x3|reduce_1x1)\.(convolution|normalization)\.", _mobilenet_v2_layer),
        (r"^conv_1x1\.convolution\.", "conv_head."), (r"^conv_1x1\.normalization\.", "bn2."))),
    "vit": Family(_vit, _VIT_RENAMES, ignore=(r"^(vit\.)?pooler\.",)),
    "deit": Family(_deit, _VIT_RENAMES, ignore=(r"^(deit\.)?pooler\.",)),
    "clip": Family(_clip, (
        (r"^vision_model\.embeddings\.class_embedding$", "vision.cls_token"),
        (r"^vision_model\.embeddings\.patch_embedding\.", "vision.patch_embed."),
        (r"^vision_model\.embeddings\.position_embedding\.weight$", "vision.pos_embed"),
        (r"^vision_model\.pre_layrnorm\.", "vision.norm_pre."),
        (r"^vision_model\.post_layernorm\.", "vision.norm."),
        (r"^visual_projection\.", "vision.projection."),
        (r"^vision_model\.", "vision."),
        (r"^text_model\.embeddings\.token_embedding\.", "text.token_embedding."),
        (r"^text_model\.embeddings\.position_embedding\.weight$", "text.pos_embed"),
        (r"^text_model\.final_layer_norm\.", "text.norm."),
        (r"^text_projection\.", "text.projection."),
        (r"^text_model\.", "text."),
        *_CLIP_TOWER_RENAMES)),
}


# --- Issue 12 vision families: ConvNeXt V1/V2, DINOv2 (± registers), BEiT, data2vec-vision,
# Swin, ViT-MAE encoder, RegNet. ---------------------------------------------------------------


def _convnext(config, **overrides):
  return ConvNext(_fields(config, ConvNextConfig, num_classes=_num_classes(config), **overrides), rngs=nnx.Rngs(0))


def _convnext_renames(prefix):
  return (
      (rf"^{prefix}\.", ""),
      (r"^embeddings\.patch_embeddings\.", "patch_embed."),
      (r"^embeddings\.layernorm\.", "stem_norm."),
      (r"^encoder\.stages\.(\d+)\.downsampling_layer\.0\.", r"stages.\1.downsample_norm."),
      (r"^encoder\.stages\.(\d+)\.downsampling_layer\.1\.", r"stages.\1.downsample_conv."),
      (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layernorm\.", r"stages.\1.blocks.\2.norm."),
      (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.layer_scale_parameter$", r"stages.\1.blocks.\2.layer_scale"),
      (r"^encoder\.stages\.(\d+)\.layers\.(\d+)\.", r"stages.\1.blocks.\2."),
      (r"^layernorm\.", "norm."),
      (r"^classifier\.", "head."))


def _dinov2(config):
  """DINOv2: CLS after the final norm for the bare model; its classifier's input,
  [CLS, mean patch token], for ``*ForImageClassification``."""
  width = config.get("hidden_size", 768)
  hidden = int(width * config.get("mlp_ratio", 4))
  swiglu = config.get("use_swiglu_ffn", False)
  if swiglu:  # transformers' Dinov2SwiGLUFFN: 2/3 of the width, rounded up to a multiple of 8
    hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
  registers = config.get("num_register_tokens", 0) if config.get("model_type") == "dinov2_with_registers" else 0
  classifier = _num_classes(config) > 0
  vit_config = _vit_config(
      {"layer_norm_eps": 1e-6, "patch_size": 14, **config}, intermediate_size=hidden, layer_scale=True,
      swiglu=swiglu, num_register_tokens=registers,
      position_interpolation="bicubic_antialias" if registers else "bicubic",
      pooling="cls_mean_patch" if classifier else "cls")
  return VisionTransformer(vit_config, rngs=nnx.Rngs(0))


def _dinov2_renames(prefix):
  layer = r"^encoder\.layer\.(\d+)\."
  return (
      (rf"^{prefix}\.", ""),
      (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
      (r"^embeddings\.cls_token$", "cls_token"),
      (r"^embeddings\.register_tokens$", "reg_token"),
      (r"^embeddings\.position_embeddings$", "pos_embed"),
      (layer + r"attention\.attention\.(query|key|value)\.", r"blocks.\1.attn.\2."),
      (layer + r"attention\.output\.dense\.", r"blocks.\1.attn.out."),
      (layer + r"layer_scale(\d)\.lambda1$", r"blocks.\1.ls\2"),
      (layer + r"mlp\.weights_(in|out)\.", lambda m: f"blocks.{m[1]}.mlp.fc{1 if m[2] == 'in' else 2}."),  # SwiGLU
      (layer, r"blocks.\1."),  # norm1, norm2, mlp.fc1/fc2
      (r"^layernorm\.", "norm."),
      (r"^classifier\.", "head."))


def _beit(config):
  """BEiT / data2vec-vision; the pooler is in the checkpoint for classifiers and BeitModel
  (transformers' defaults), not for Data2VecVisionModel or masked-image-modelling heads."""
  architectures = config.get("architectures") or []
  pooler = any(a.endswith("ForImageClassification") or a == "BeitModel" for a in architectures)
  return Beit(_fields(config, BeitConfig, num_classes=_num_classes(config), pooler=pooler), rngs=nnx.Rngs(0))


def _beit_renames(prefix):
  layer = r"^encoder\.layer\.(\d+)\."
  return (
      (rf"^{prefix}\.", ""),
      (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
      (r"^embeddings\.cls_token$", "cls_token"),
      (r"^embeddings\.position_embeddings$", "pos_embed"),
      (r"^encoder\.relative_position_bias\.relative_position_bias_table$", "shared_relative_position_bias.table"),
      (layer + r"attention\.attention\.relative_position_bias\.relative_position_bias_table$",
       r"relative_position_bias.\1.table"),
      (layer + r"attention\.attention\.(query|key|value)\.", r"blocks.\1.attn.\2."),
      (layer + r"attention\.output\.dense\.", r"blocks.\1.attn.out."),
      (layer + r"intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
      (layer + r"output\.dense\.", r"blocks.\1.mlp.fc2."),
      (layer + r"layernorm_before\.", r"blocks.\1.norm1."),
      (layer + r"layernorm_after\.", r"blocks.\1.norm2."),
      (layer + r"lambda_(\d)$", r"blocks.\1.ls\2"),
      (r"^layernorm\.", "norm."),
      (r"^pooler\.layernorm\.", "pooler_norm."),
      (r"^classifier\.", "head."))


# Masked-image-modelling checkpoints: the mask token, the visual-token head and its norm
# (top-level ``layernorm``) serve pre-training only.
_BEIT_IGNORE = (r"embeddings\.mask_token$", r"relative_position_index$", r"^lm_head\.", r"^layernorm\.")

def _swin(config):
  return Swin(_fields(config, SwinConfig, num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


_SWIN_BLOCK = r"^encoder\.layers\.(\d+)\.blocks\.(\d+)\."
_SWIN_RENAMES = (
    (r"^swin\.", ""),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
    (r"^embeddings\.norm\.", "patch_norm."),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (_SWIN_BLOCK + r"attention\.self\.(query|key|value)\.", r"stages.\1.blocks.\2.attn.\3."),
    (_SWIN_BLOCK + r"attention\.self\.relative_position_bias_table$",
     r"stages.\1.blocks.\2.relative_position_bias_table"),
    (_SWIN_BLOCK + r"attention\.output\.dense\.", r"stages.\1.blocks.\2.attn.out."),
    (_SWIN_BLOCK + r"intermediate\.dense\.", r"stages.\1.blocks.\2.mlp.fc1."),
    (_SWIN_BLOCK + r"output\.dense\.", r"stages.\1.blocks.\2.mlp.fc2."),
    (_SWIN_BLOCK + r"layernorm_before\.", r"stages.\1.blocks.\2.norm1."),
    (_SWIN_BLOCK + r"layernorm_after\.", r"stages.\1.blocks.\2.norm2."),
    (r"^encoder\.layers\.(\d+)\.downsample\.", r"stages.\1.downsample."),
    (r"^layernorm\.", "norm."),
    (r"^classifier\.", "head."))

def _regnet(config):
  return RegNet(_fields(config, RegNetConfig, num_classes=_num_classes(config)), rngs=nnx.Rngs(0))


_REGNET_LAYER = r"^encoder\.stages\.(\d+)\.layers\.(\d+)\."
_REGNET_RENAMES = (
    (r"^regnet\.", ""),
    (r"^embedder\.embedder\.", "stem."),
    (_REGNET_LAYER + r"layer\.0\.", r"stages.\1.\2.conv1."),
    (_REGNET_LAYER + r"layer\.1\.", r"stages.\1.\2.conv2."),
    (_REGNET_LAYER + r"layer\.2\.attention\.0\.", r"stages.\1.\2.se.reduce."),  # Y: layer.2 is the SE
    (_REGNET_LAYER + r"layer\.2\.attention\.2\.", r"stages.\1.\2.se.expand."),
    (_REGNET_LAYER + r"layer\.(2|3)\.", r"stages.\1.\2.conv3."),  # X: layer.2, Y: layer.3
    (_REGNET_LAYER + r"shortcut\.", r"stages.\1.\2.shortcut."),
    (r"\.convolution\.", ".conv."), (r"\.normalization\.", ".bn."),
    (r"^classifier\.1\.", "head."))

FAMILIES.update({
    "convnext": Family(_convnext, _convnext_renames("convnext")),
    "convnextv2": Family(lambda c: _convnext(c, global_response_norm=True), _convnext_renames("convnextv2")),
    # mask_token: used only for masked pre-training inputs.
    "dinov2": Family(_dinov2, _dinov2_renames("dinov2"), ignore=(r"embeddings\.mask_token$",)),
    "dinov2_with_registers": Family(_dinov2, _dinov2_renames("dinov2_with_registers"),
                                    ignore=(r"embeddings\.mask_token$",)),
    "beit": Family(_beit, _beit_renames("beit"), ignore=_BEIT_IGNORE),
    "data2vec-vision": Family(_beit, _beit_renames("data2vec_vision"), ignore=_BEIT_IGNORE),
    # ViT-MAE encoder: the full sequence (no random masking at inference); the embedding is the
    # class token after the final LayerNorm. The pixel decoder serves pre-training only.
    # Other input sizes: positions resized as ViTMAEModel(..., interpolate_pos_encoding=True) does.
    "vit_mae": Family(lambda c: VisionTransformer(_vit_config(c, position_interpolation="bicubic"), rngs=nnx.Rngs(0)),
                      _VIT_RENAMES, ignore=(r"^decoder\.",)),
    "regnet": Family(_regnet, _REGNET_RENAMES),
    "swin": Family(_swin, _SWIN_RENAMES, ignore=(r"embeddings\.mask_token$", r"relative_position_index$")),
})


# --- Image–text families beyond CLIP (zero-shot heads: zoo.architectures.zero_shot) ---------------

def _square_image_size(vision: dict, model: str) -> dict:
  size = vision.get("image_size")
  if isinstance(size, (list, tuple)):
    if len(set(size)) != 1:
      raise ConversionError(f"{model} with non-square image_size {size} is not supported.")
    vision = {**vision, "image_size": size[0]}
  return vision


def _siglip(config):
  from zoo.architectures.siglip import SigLIP, SiglipVisionConfig, siglip_text_config
  vision = _square_image_size(dict(config.get("vision_config") or {}), "SigLIP")
  text = dict(config.get("text_config") or {})
  if not vision.get("vision_use_head", True):
    raise ConversionError("SigLIP without the attention-pooling head (vision_use_head=false) has no image "
                          "embedding to compare with text; only full SigLIP image–text checkpoints are supported.")
  names = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
           "max_position_embeddings", "hidden_act", "layer_norm_eps")
  text_fields = {name: text[name] for name in names if name in text}
  if text.get("projection_size"):
    text_fields["projection_dim"] = text["projection_size"]
  return SigLIP(_fields(vision, SiglipVisionConfig), siglip_text_config(**text_fields), rngs=nnx.Rngs(0))


FAMILIES["siglip"] = Family(_siglip, (
    (r"^vision_model\.embeddings\.patch_embedding\.", "vision.patch_embed."),
    (r"^vision_model\.embeddings\.position_embedding\.weight$", "vision.pos_embed"),
    (r"^vision_model\.post_layernorm\.", "vision.norm."),
    (r"^vision_model\.head\.attention\.in_proj_(weight|bias)$", r"vision.head.in_proj.\1"),
    (r"^vision_model\.head\.attention\.out_proj\.", "vision.head.out."),
    (r"^vision_model\.head\.layernorm\.", "vision.head.norm."),
    (r"^vision_model\.", "vision."),
    (r"^text_model\.embeddings\.token_embedding\.", "text.token_embedding."),
    (r"^text_model\.embeddings\.position_embedding\.weight$", "text.pos_embed"),
    (r"^text_model\.final_layer_norm\.", "text.norm."),
    (r"^text_model\.head\.", "text.projection."),
    (r"^text_model\.", "text."),
    *_CLIP_TOWER_RENAMES))


def _align(config):
  from zoo.architectures.align import ALIGN, BertConfig
  # transformers' AlignVisionConfig defaults (EfficientNet-B7 widths and depths) where config.json omits them.
  vision = {"width_coefficient": 2.0, "depth_coefficient": 3.1, "hidden_dim": 2560, **(config.get("vision_config") or {})}
  return ALIGN(_fields(vision, EfficientNetConfig, num_classes=0), _fields(config.get("text_config") or {}, BertConfig),
               config.get("projection_dim", 640), pooling=vision.get("pooling_type", "mean"), rngs=nnx.Rngs(0))


_BERT_LAYER = r"^text_model\.encoder\.layer\.(\d+)\."
FAMILIES["align"] = Family(_align, (
    # The image tower is transformers' EfficientNet under vision_model: its renames, then under "vision.".
    (r"^vision_model\.", ""), *FAMILIES["efficientnet"].renames, (r"^(stem_conv|stem_bn|blocks)\.", r"vision.\1."),
    (r"^text_model\.embeddings\.word_embeddings\.", "text.token_embedding."),
    (r"^text_model\.embeddings\.position_embeddings\.weight$", "text.pos_embed"),
    (r"^text_model\.embeddings\.token_type_embeddings\.", "text.type_embedding."),
    (r"^text_model\.embeddings\.LayerNorm\.", "text.norm_embed."),
    (_BERT_LAYER + r"attention\.self\.(query|key|value)\.", r"text.blocks.\1.attn.\2."),
    (_BERT_LAYER + r"attention\.output\.dense\.", r"text.blocks.\1.attn.out."),
    (_BERT_LAYER + r"attention\.output\.LayerNorm\.", r"text.blocks.\1.norm1."),
    (_BERT_LAYER + r"intermediate\.dense\.", r"text.blocks.\1.mlp.fc1."),
    (_BERT_LAYER + r"output\.dense\.", r"text.blocks.\1.mlp.fc2."),
    (_BERT_LAYER + r"output\.LayerNorm\.", r"text.blocks.\1.norm2."),
    (r"^text_projection\.", "text.projection.")),
    # BERT's tanh pooler is not part of ALIGN's text embedding (the [CLS] state is projected).
    ignore=(r"^text_model\.pooler\.", r"token_type_ids$"))


# The text tokenizer of each image–text family: module, class and default context length
# (the length the text tower was trained with; SigLIP pools the last position, so it pads to 64).
_TOKENIZERS = {
    "clip": ("zoo.architectures.clip_tokenizer", "ClipTokenizer", 77),
    "siglip": ("zoo.architectures.siglip_tokenizer", "SiglipTokenizer", 64),
    "align": ("zoo.architectures.bert_tokenizer", "BertTokenizer", 64),
}


def load_tokenizer(source: str, *, context_length: int | None = None, revision: str | None = None, hub_cache=None):
  """The text tokenizer of an image–text checkpoint (CLIP, SigLIP, ALIGN), read from its own
  files (vocab.json + merges.txt, spiece.model, vocab.txt): a callable texts → int32 ids
  [N, context_length] for :func:`zoo.architectures.zero_shot.zero_shot_classifier`.
  An export without a transformers ``model_type`` (timm's and open_clip's CLIP repos, e.g.
  ``timm/resnet50_clip.openai``) that holds CLIP's vocab.json and merges.txt gets CLIP's
  tokenizer (open_clip's CLIPs all use it). A Hub repo's config and tokenizer files only are
  downloaded, at ``revision``."""
  import importlib
  directory = _resolve(source, revision=revision, hub_cache=hub_cache, default_files=("config.json", *TOKENIZER_FILES))
  # open_clip's repos may hold no config.json at all (open_clip_config.json instead).
  model_type = _read_config(directory, source).get("model_type") if (directory / "config.json").exists() else None
  if model_type is None and all((directory / name).exists() for name in ("vocab.json", "merges.txt")):
    model_type = "clip"
  if model_type not in _TOKENIZERS:
    raise ValueError(f"{source!r}: model_type {model_type!r} has no text tokenizer here (supported: "
                     f"{sorted(_TOKENIZERS)}; or CLIP's vocab.json + merges.txt beside the weights).")
  module, name, default_length = _TOKENIZERS[model_type]
  return getattr(importlib.import_module(module), name).from_directory(directory, context_length or default_length)


# The repo files a converter reads when its row names none (WeightSource.files): the Hub
# download is these, never a repo's every *.safetensors (CLIP repos hold the same weights
# in two formats). Tokenizer files are small and read only by image–text rows.
TOKENIZER_FILES = ("vocab.json", "merges.txt", "vocab.txt", "spiece.model", "tokenizer_config.json",
                   "special_tokens_map.json")
TRANSFORMERS_FILES = ("config.json", "preprocessor_config.json", "model.safetensors", "model.safetensors.index.json",
                      "model-*-of-*.safetensors", *TOKENIZER_FILES)


class HubError(FileNotFoundError):
  """A Hub repo, revision or file cannot be had: names the repo, the revision and the fix."""


def is_hub_id(source: str) -> bool:
  """True for ``org/name`` (a Hub repo id), False for a local path."""
  return not (epath.Path(os.path.expanduser(source)).exists() or source.startswith((".", "/", "~")))


def fetch(source: str, *, revision: str | None = None, files: tuple[str, ...] = (), hub_cache=None,
          default_files: tuple[str, ...] = TRANSFORMERS_FILES) -> tuple[epath.Path, str | None]:
  """(directory, commit) of a checkpoint: a local directory as is (commit None); a Hub repo id
  downloaded at ``revision`` (a branch, tag, ``refs/pr/N`` or commit; None: the Hub's default
  branch) into ``hub_cache`` (None: huggingface_hub's own), only the files matching ``files``
  (glob patterns; empty: ``default_files``), with the commit the revision resolved to."""
  path = epath.Path(os.path.expanduser(source))
  if path.is_dir():
    return path, None
  if not is_hub_id(source):
    raise FileNotFoundError(f"{source!r} is not a directory with config.json and model.safetensors.")
  from huggingface_hub import snapshot_download
  from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
  at = f" at revision {revision!r}" if revision else ""
  try:
    directory = snapshot_download(source, revision=revision, cache_dir=hub_cache,
                                  allow_patterns=list(files or default_files))
  except RevisionNotFoundError:
    raise HubError(f"Hugging Face repo {source!r} has no revision {revision!r}: set the row's WeightSource.revision "
                   "to a branch, tag, refs/pr/N or commit the repo has (its 'Files and versions' page).") from None
  except RepositoryNotFoundError:
    raise HubError(f"Hugging Face repo {source!r} does not exist or is private/gated (log in with `hf auth login` "
                   "if it is gated).") from None
  except Exception as error:  # offline, firewall, Hub down: the same advice
    raise HubError(
        f"could not fetch Hugging Face repo {source!r}{at} ({type(error).__name__}: {error}). Offline or behind a "
        f"firewall? On a machine with access run `hf download {source}"
        f"{f' --revision {revision}' if revision else ''} --include {' '.join(repr(f) for f in files or default_files)}` "
        "and pass the local directory instead.") from None
  directory = epath.Path(directory)
  return directory, directory.name  # huggingface_hub's snapshot folder is named by the commit


def _resolve(source: str, *, revision: str | None = None, files: tuple[str, ...] = (), hub_cache=None,
             default_files: tuple[str, ...] = TRANSFORMERS_FILES) -> epath.Path:
  """A local directory as is; otherwise a Hub repo id, downloaded (:func:`fetch`)."""
  return fetch(source, revision=revision, files=files, hub_cache=hub_cache, default_files=default_files)[0]


def _weight_files(directory: epath.Path, source: str = "", revision: str | None = None) -> list[epath.Path]:
  index = directory / "model.safetensors.index.json"
  if index.exists():
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    return [directory / shard for shard in shards]
  single = directory / "model.safetensors"
  if not single.exists():
    raise missing_file_error(directory, "model.safetensors", source, revision)
  return [single]


def missing_file_error(directory: epath.Path, name: str, source: str = "", revision: str | None = None) -> HubError:
  """The error for a checkpoint without the file its converter reads: for a Hub repo, names
  the revision and the fix (a revision that has the file, e.g. a Hub PR ``refs/pr/N``)."""
  present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
  pickles = [p for p in present if p.endswith((".bin", ".pt", ".pth", ".ckpt"))]
  hint = f"; pickled weights are not read ({pickles}): re-save with safe_serialization" if pickles else ""
  if source and is_hub_id(source):
    return HubError(f"Hugging Face repo {source!r} at revision {revision or 'main'!r} (commit {directory.name}) has "
                    f"no {name} among the files downloaded ({present}){hint}. Pick a revision that has it (a Hub pull "
                    "request refs/pr/N often adds safetensors) in the row's WeightSource.revision, or list the "
                    "repo's file in WeightSource.files.")
  return HubError(f"no {name} in {directory}{hint}.")


def read_safetensors(path: epath.Path, model_name: str) -> dict[str, np.ndarray]:
  """All tensors of one safetensors file as numpy (bfloat16 kept via ml_dtypes). Read with
  safetensors' numpy API: its flax API builds a JAX array per tensor first (~5× slower)."""
  from safetensors import safe_open
  try:
    with safe_open(str(path), framework="numpy") as handle:
      return {name: handle.get_tensor(name) for name in handle.keys()}
  except Exception as error:  # SafetensorError for truncated/garbled files
    raise ConversionError(f"model {model_name!r}: cannot read {path} ({type(error).__name__}: {error}); the file "
                          "is truncated or not safetensors: download it again.") from None


def _digest(files: list[epath.Path]) -> str:
  digest = hashlib.sha256()
  for file in files:
    with open(file, "rb") as handle:
      for block in iter(lambda: handle.read(1 << 24), b""):
        digest.update(block)
  return digest.hexdigest()


def _read_config(directory: epath.Path, source: str) -> dict[str, Any]:
  config_file = directory / "config.json"
  if not config_file.exists():
    raise FileNotFoundError(f"no config.json in {directory} (source {source!r}).")
  return json.loads(config_file.read_text())


def read_config(source: str, *, revision: str | None = None, files: tuple[str, ...] = (),
                hub_cache=None) -> dict[str, Any]:
  """The checkpoint's config.json as a dict."""
  return _read_config(_resolve(source, revision=revision, files=files, hub_cache=hub_cache), source)


def load_pretrained(source: str, *, cache_dir=None, revision: str | None = None, files: tuple[str, ...] = (),
                    hub_cache=None) -> nnx.Module:
  """The nnx model of a transformers checkpoint, with its converted weights.

  ``source``: a Hugging Face repo id or a local ``save_pretrained`` directory (config.json +
  model.safetensors or a sharded index). Supported ``model_type``s: see ``FAMILIES``.
  Image classifiers return ``(logits, embedding)`` from ``model(images)`` on preprocessed
  float32 NHWC images; CLIP returns a :class:`zoo.architectures.clip.CLIP`.
  The converted state is cached under ``cache_dir`` (None: converted every call, nothing written),
  keyed by the source and the sha256 of config and weights. A Hub repo is downloaded at
  ``revision``, only ``files`` (default :data:`TRANSFORMERS_FILES`), into ``hub_cache``
  (:func:`fetch`).
  """
  directory = _resolve(source, revision=revision, files=files, hub_cache=hub_cache)
  config = _read_config(directory, source)
  model_type = config.get("model_type")
  if model_type not in FAMILIES:
    raise ConversionError(f"{source!r}: model_type {model_type!r} is not supported (supported: "
                          f"{sorted(FAMILIES)}); add a Family to zoo.converters.huggingface.FAMILIES.")
  family = FAMILIES[model_type]
  weights = _weight_files(directory, source, revision)
  return cached_conversion(
      source, [directory / "config.json", *weights], eval_shape(lambda: family.build(config)),
      lambda abstract: load_into(abstract, _read_all(weights, source), model_name=source, renames=family.renames,
                                 ignore=_ALWAYS_IGNORED + family.ignore, source=", ".join(str(f) for f in weights)),
      cache_dir)


def _read_all(files: list[epath.Path], model_name: str) -> dict[str, np.ndarray]:
  tensors = {}
  for file in files:
    tensors.update(read_safetensors(file, model_name))
  return tensors


def cached_conversion(source: str, files: list[epath.Path], abstract: nnx.Module,
                      convert: Callable[[nnx.Module], nnx.Module], cache_dir=None) -> nnx.Module:
  """``convert(abstract)`` once per (source, sha256 of ``files``) under ``cache_dir``: later
  calls restore the orbax checkpoint written after the first (a damaged one is converted
  again). ``cache_dir`` None converts every call and writes nothing (the library reads no
  default location; launch/ passes ``$OVERLAP_CACHE/converted``, launch.caches)."""
  if cache_dir is None:
    return convert(abstract)
  key = _digest(files)[:20]
  entry = epath.Path(cache_dir) / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', source)[-80:]}-{key}"
  cached = _restore(abstract, entry)
  if cached is not None:
    return cached
  model = convert(abstract)
  _save(model, entry)
  return model


def _restore(abstract: nnx.Module, entry: epath.Path) -> nnx.Module | None:
  """The cached converted model, or None when absent or unreadable (then it is rebuilt)."""
  if not (entry / "state").exists():
    return None
  import orbax.checkpoint as ocp
  graphdef, state = nnx.split(abstract)
  try:
    nnx.replace_by_pure_dict(state, ocp.StandardCheckpointer().restore((entry / "state").resolve(),
                                                                       nnx.to_pure_dict(state)))
  except Exception:  # damaged cache entry: convert again rather than trust it
    shutil.rmtree(entry, ignore_errors=True)
    return None
  return nnx.merge(graphdef, state)


def _save(model: nnx.Module, entry: epath.Path) -> None:
  import orbax.checkpoint as ocp
  entry.mkdir(parents=True, exist_ok=True)
  checkpointer = ocp.StandardCheckpointer()
  checkpointer.save((entry / "state").resolve(), nnx.to_pure_dict(nnx.state(model)), force=True)
  checkpointer.wait_until_finished()


def _side(size) -> int | None:
  """The output side of a transformers ``size`` / ``crop_size`` field (int or dict)."""
  if isinstance(size, (int, float)):
    return int(size)
  size = size or {}
  if "height" in size:
    return int(min(size["height"], size.get("width", size["height"])))
  return int(size["shortest_edge"]) if "shortest_edge" in size else None


def preprocessing_from_config(config: dict) -> Preprocessing:
  """A :class:`Preprocessing` from a transformers image-processor config (the dict of
  preprocessor_config.json), with the processor's sizes (``transformers_sizes``: long side
  truncated, crop offsets floored) and its resize rule:

  - ConvNeXt-style (``crop_pct`` with ``size.shortest_edge`` s; ConvNeXt, RegNet, ResNet):
    resize the short side to s / crop_pct, crop s² (s < 384), else resize to s² (squash);
  - ``do_center_crop`` with ``crop_size`` c (DINOv2's, CLIP's, DeiT's): resize to ``size`` r
    (the short side for ``shortest_edge``, both sides for height × width: squash), crop c² →
    crop fraction c / r;
  - otherwise resize to ``size`` height × width (ViT, Swin, BEiT, MAE, SigLIP): squash, crop
    fraction 1.
  """
  size, crop_size = config.get("size"), config.get("crop_size")
  shortest = size.get("shortest_edge") if isinstance(size, dict) else None
  square = not shortest  # an int size or height × width: both sides are resized to it
  if config.get("crop_pct") and shortest:
    resolution = int(shortest)
    crop = float(config["crop_pct"]) if shortest < 384 else 1.0
    square = shortest >= 384
  elif config.get("do_center_crop") and _side(crop_size):
    resolution = _side(crop_size)
    resized = _side(size)
    crop = resolution / resized if resized else 0.875
  else:
    resolution = _side(size) or _side(crop_size) or 224
    crop = float(config.get("crop_pct") or 1.0)
  mean, std = config.get("image_mean", (0.5,) * 3), config.get("image_std", (0.5,) * 3)
  interpolation = {2: "bilinear", 3: "bicubic", 0: "nearest"}.get(config.get("resample", 2), "bilinear")
  return Preprocessing(resolution=int(resolution), crop_fraction=min(float(crop), 1.0), interpolation=interpolation,
                       mean=tuple(mean), std=tuple(std), channels=3, crop_mode="squash" if square else "center",
                       transformers_sizes=True)


def pretrained_preprocessing(source: str, *, revision: str | None = None, hub_cache=None) -> Preprocessing | None:
  """The checkpoint's preprocessing from its preprocessor_config.json (None if absent);
  see :func:`preprocessing_from_config`."""
  file = _resolve(source, revision=revision, hub_cache=hub_cache) / "preprocessor_config.json"
  if not file.exists():
    return None
  return preprocessing_from_config(json.loads(file.read_text()))
