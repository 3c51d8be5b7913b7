"""timm's maxxvit.py as data: CoAtNet, MaxViT, MaxxViT and MaxxViT-V2 (zoo.architectures.maxxvit).

``MAXXVIT_CONFIGS`` is timm 1.0.31's ``model_cfgs`` table (``timm/models/maxxvit.py``): each entry's
MaxxVitCfg fields, with the ``_rw_coat_cfg`` / ``_rw_max_cfg`` / ``_next_cfg`` / ``_tf_cfg`` helpers
written out as the conv / transformer field overrides they return (and MaxxVitConvCfg's
``__post_init__`` defaults resolved). An architecture's config is its name less the last ``_``
part (timm's ``_create_maxxvit`` rule; the part is the fixed input size); ``MAXXVIT_VARIANTS``
lists the architectures whose blocks the nnx family models (not timm's experimental parallel
``PM`` block, maxvit_tiny_pm_256, which has no pretrained weights).
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures.maxxvit import MaxxVit, MaxxVitConfig, MaxxVitConvConfig, MaxxVitTransformerConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square


def _rw_coat(stride_mode="pool", pool_type="avg2", conv_output_bias=False, conv_attn_early=False,
             conv_attn_act_layer="relu", transformer_shortcut_bias=True, transformer_norm_layer="layernorm2d",
             init_values=None, rel_pos_type="bias", rel_pos_dim=512) -> dict:
  """timm's _rw_coat_cfg: pre-norm act, expansion from the input width, SiLU MBConv, ReLU SE."""
  return dict(
      # downsample_pool_type keeps its 'avg2' default (MaxxVitConvCfg only falls back to pool_type when empty)
      conv=dict(stride_mode=stride_mode, pool_type=pool_type, pre_norm_act=True,
                expand_output=False, output_bias=conv_output_bias, attn_early=conv_attn_early,
                attn_act_layer=conv_attn_act_layer, act_layer="silu"),
      transformer=dict(expand_first=False, shortcut_bias=transformer_shortcut_bias, pool_type=pool_type,
                       init_values=init_values, norm_layer=transformer_norm_layer, rel_pos_type=rel_pos_type,
                       rel_pos_dim=rel_pos_dim))


def _rw_max(stride_mode="dw", conv_output_bias=False, conv_attn_ratio=1 / 16, init_values=None,
            rel_pos_type="bias", rel_pos_dim=512) -> dict:
  """timm's _rw_max_cfg: expansion from the input width, SiLU MBConv, SE ratio 1/16."""
  return dict(
      conv=dict(stride_mode=stride_mode, expand_output=False, output_bias=conv_output_bias,
                attn_ratio=conv_attn_ratio, act_layer="silu"),
      transformer=dict(expand_first=False, init_values=init_values, rel_pos_type=rel_pos_type,
                       rel_pos_dim=rel_pos_dim))


def _next(no_block_attn=False, init_values=(1e-6, 1e-6), rel_pos_type="mlp") -> dict:
  """timm's _next_cfg: ConvNeXt conv blocks (LayerNorm ε 1e-6), MLP relative positions."""
  return dict(
      conv=dict(block_type="convnext", expand_output=False, init_values=init_values[0], norm_layer="layernorm2d",
                norm_eps=1e-6),
      transformer=dict(expand_first=False, no_block_attn=no_block_attn, init_values=init_values[1],
                       rel_pos_type=rel_pos_type))


# timm's _tf_cfg: the TensorFlow MaxViT checkpoints (SAME padding, tanh GELU, q | k | v heads, TF bias table).
_TF = dict(conv=dict(norm_eps=1e-3, act_layer="gelu_tanh", padding="same"),
           transformer=dict(norm_eps=1e-5, act_layer="gelu_tanh", head_first=False, rel_pos_type="bias_tf"))
_COAT = ("C", "C", "T", "T")
_MAX = ("M",) * 4

MAXXVIT_CONFIGS: dict[str, dict] = {
    "coatnet_pico_rw": dict(embed_dim=(64, 128, 256, 512), depths=(2, 3, 5, 2), stem_width=(32, 64),
                            **_rw_max(conv_output_bias=True, conv_attn_ratio=0.25)),
    "coatnet_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(3, 4, 6, 3), stem_width=(32, 64),
                            **_rw_max(stride_mode="pool", conv_output_bias=True, conv_attn_ratio=0.25)),
    "coatnet_0_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 3, 7, 2), stem_width=(32, 64),
                         **_rw_coat(conv_attn_early=True, transformer_shortcut_bias=False)),
    "coatnet_1_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 6, 14, 2), stem_width=(32, 64),
                         **_rw_coat(stride_mode="dw", conv_attn_early=True, transformer_shortcut_bias=False)),
    "coatnet_2_rw": dict(embed_dim=(128, 256, 512, 1024), depths=(2, 6, 14, 2), stem_width=(64, 128),
                         **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu")),
    "coatnet_3_rw": dict(embed_dim=(192, 384, 768, 1536), depths=(2, 6, 14, 2), stem_width=(96, 192),
                         **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6)),
    "coatnet_bn_0_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 3, 7, 2), stem_width=(32, 64),
                            **_rw_coat(stride_mode="dw", conv_attn_early=True, transformer_shortcut_bias=False,
                                       transformer_norm_layer="batchnorm2d")),
    "coatnet_rmlp_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(3, 4, 6, 3), stem_width=(32, 64),
                                 **_rw_max(conv_output_bias=True, conv_attn_ratio=0.25, rel_pos_type="mlp",
                                           rel_pos_dim=384)),
    "coatnet_rmlp_0_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 3, 7, 2), stem_width=(32, 64),
                              **_rw_coat(stride_mode="dw", rel_pos_type="mlp")),
    "coatnet_rmlp_1_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 6, 14, 2), stem_width=(32, 64),
                              **_rw_coat(pool_type="max", conv_attn_early=True, transformer_shortcut_bias=False,
                                         rel_pos_type="mlp", rel_pos_dim=384)),
    "coatnet_rmlp_1_rw2": dict(embed_dim=(96, 192, 384, 768), depths=(2, 6, 14, 2), stem_width=(32, 64),
                               **_rw_coat(stride_mode="dw", rel_pos_type="mlp", rel_pos_dim=512)),
    "coatnet_rmlp_2_rw": dict(embed_dim=(128, 256, 512, 1024), depths=(2, 6, 14, 2), stem_width=(64, 128),
                              **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6,
                                         rel_pos_type="mlp")),
    "coatnet_rmlp_3_rw": dict(embed_dim=(192, 384, 768, 1536), depths=(2, 6, 14, 2), stem_width=(96, 192),
                              **_rw_coat(stride_mode="dw", conv_attn_act_layer="silu", init_values=1e-6,
                                         rel_pos_type="mlp")),
    "coatnet_nano_cc": dict(embed_dim=(64, 128, 256, 512), depths=(3, 4, 6, 3), stem_width=(32, 64),
                            block_type=("C", "C", ("C", "T"), ("C", "T")), **_rw_coat()),
    "coatnext_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(3, 4, 6, 3), stem_width=(32, 64),
                             **_next(rel_pos_type="bias", init_values=(1e-5, None))),
    # the CoAtNet paper's configs (MaxxVitCfg defaults: GELU MBConv, BatchNorm, tanh MLP head)
    **{f"coatnet_{size}": dict(embed_dim=dims, depths=depths, stem_width=(stem, stem), head_hidden_size=dims[-1])
       for size, dims, depths, stem in (
           ("0", (96, 192, 384, 768), (2, 3, 5, 2), 64), ("1", (96, 192, 384, 768), (2, 6, 14, 2), 64),
           ("2", (128, 256, 512, 1024), (2, 6, 14, 2), 128), ("3", (192, 384, 768, 1536), (2, 6, 14, 2), 192),
           ("4", (192, 384, 768, 1536), (2, 12, 28, 2), 192), ("5", (256, 512, 1280, 2048), (2, 12, 28, 2), 192))},
    "maxvit_pico_rw": dict(embed_dim=(32, 64, 128, 256), depths=(2, 2, 5, 2), block_type=_MAX, stem_width=(24, 32),
                           **_rw_max()),
    "maxvit_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(1, 2, 3, 1), block_type=_MAX, stem_width=(32, 64),
                           **_rw_max()),
    "maxvit_tiny_rw": dict(embed_dim=(64, 128, 256, 512), depths=(2, 2, 5, 2), block_type=_MAX, stem_width=(32, 64),
                           **_rw_max()),
    "maxvit_rmlp_pico_rw": dict(embed_dim=(32, 64, 128, 256), depths=(2, 2, 5, 2), block_type=_MAX,
                                stem_width=(24, 32), **_rw_max(rel_pos_type="mlp")),
    "maxvit_rmlp_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(1, 2, 3, 1), block_type=_MAX,
                                stem_width=(32, 64), **_rw_max(rel_pos_type="mlp")),
    "maxvit_rmlp_tiny_rw": dict(embed_dim=(64, 128, 256, 512), depths=(2, 2, 5, 2), block_type=_MAX,
                                stem_width=(32, 64), **_rw_max(rel_pos_type="mlp")),
    "maxvit_rmlp_small_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 2, 5, 2), block_type=_MAX,
                                 stem_width=(32, 64), **_rw_max(rel_pos_type="mlp", init_values=1e-6)),
    "maxvit_rmlp_base_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 6, 14, 2), block_type=_MAX,
                                stem_width=(32, 64), head_hidden_size=768, **_rw_max(rel_pos_type="mlp")),
    "maxxvit_rmlp_nano_rw": dict(embed_dim=(64, 128, 256, 512), depths=(1, 2, 3, 1), block_type=_MAX,
                                 stem_width=(32, 64), **_next()),
    "maxxvit_rmlp_tiny_rw": dict(embed_dim=(64, 128, 256, 512), depths=(2, 2, 5, 2), block_type=_MAX,
                                 stem_width=(32, 64), **_next()),
    "maxxvit_rmlp_small_rw": dict(embed_dim=(96, 192, 384, 768), depths=(2, 2, 5, 2), block_type=_MAX,
                                  stem_width=(48, 96), **_next()),
    "maxxvitv2_nano_rw": dict(embed_dim=(96, 192, 384, 768), depths=(1, 2, 3, 1), block_type=_MAX,
                              stem_width=(48, 96), **_next(no_block_attn=True, rel_pos_type="bias")),
    "maxxvitv2_rmlp_base_rw": dict(embed_dim=(128, 256, 512, 1024), depths=(2, 6, 12, 2), block_type=_MAX,
                                   stem_width=(64, 128), **_next(no_block_attn=True)),
    "maxxvitv2_rmlp_large_rw": dict(embed_dim=(160, 320, 640, 1280), depths=(2, 6, 16, 2), block_type=_MAX,
                                    stem_width=(80, 160), head_hidden_size=1280, **_next(no_block_attn=True)),
    **{f"maxvit_{size}_tf": dict(embed_dim=dims, depths=depths, block_type=_MAX, stem_width=(stem, stem),
                                 stem_bias=True, head_hidden_size=dims[-1], **_TF)
       for size, dims, depths, stem in (
           ("tiny", (64, 128, 256, 512), (2, 2, 5, 2), 64), ("small", (96, 192, 384, 768), (2, 2, 5, 2), 64),
           ("base", (96, 192, 384, 768), (2, 6, 14, 2), 64), ("large", (128, 256, 512, 1024), (2, 6, 14, 2), 128),
           ("xlarge", (192, 384, 768, 1536), (2, 6, 14, 2), 192))},
}

# timm 1.0.31's registered maxxvit.py architectures (timm.list_models(module="maxxvit")) but the PM one.
MAXXVIT_VARIANTS: dict[str, str] = {
    name: name.rpartition("_")[0] for name in (
        "coatnet_0_224", "coatnet_0_rw_224", "coatnet_1_224", "coatnet_1_rw_224", "coatnet_2_224", "coatnet_2_rw_224",
        "coatnet_3_224", "coatnet_3_rw_224", "coatnet_4_224", "coatnet_5_224", "coatnet_bn_0_rw_224",
        "coatnet_nano_cc_224", "coatnet_nano_rw_224", "coatnet_pico_rw_224", "coatnet_rmlp_0_rw_224",
        "coatnet_rmlp_1_rw2_224", "coatnet_rmlp_1_rw_224", "coatnet_rmlp_2_rw_224", "coatnet_rmlp_2_rw_384",
        "coatnet_rmlp_3_rw_224", "coatnet_rmlp_nano_rw_224", "coatnext_nano_rw_224", "maxvit_base_tf_224",
        "maxvit_base_tf_384", "maxvit_base_tf_512", "maxvit_large_tf_224", "maxvit_large_tf_384", "maxvit_large_tf_512",
        "maxvit_nano_rw_256", "maxvit_pico_rw_256", "maxvit_rmlp_base_rw_224", "maxvit_rmlp_base_rw_384",
        "maxvit_rmlp_nano_rw_256", "maxvit_rmlp_pico_rw_256", "maxvit_rmlp_small_rw_224", "maxvit_rmlp_small_rw_256",
        "maxvit_rmlp_tiny_rw_256", "maxvit_small_tf_224", "maxvit_small_tf_384", "maxvit_small_tf_512",
        "maxvit_tiny_rw_224", "maxvit_tiny_rw_256", "maxvit_tiny_tf_224", "maxvit_tiny_tf_384", "maxvit_tiny_tf_512",
        "maxvit_xlarge_tf_224", "maxvit_xlarge_tf_384", "maxvit_xlarge_tf_512", "maxxvit_rmlp_nano_rw_256",
        "maxxvit_rmlp_small_rw_256", "maxxvit_rmlp_tiny_rw_256", "maxxvitv2_nano_rw_256", "maxxvitv2_rmlp_base_rw_224",
        "maxxvitv2_rmlp_base_rw_384", "maxxvitv2_rmlp_large_rw_224")}
_MAXXVIT_ARGS = {"img_size", "global_pool"}


def _block_types(entry: dict) -> tuple[tuple[str, ...], ...]:
  """timm's extend_tuple: a stage's letter (or tuple, its last letter repeated) per block."""
  stages = []
  for kinds, depth in zip(entry.get("block_type", _COAT), entry["depths"]):
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    stages.append(kinds[:depth] + (kinds[-1],) * (depth - len(kinds)))
  return tuple(stages)


def _image_size(name: str, arguments: dict, config: dict) -> int:
  """timm builds fixed-input-size models at ``img_size`` (the pretrained_cfg's input_size by
  default); without either, the size in the architecture's name."""
  size = arguments.get("img_size") or ((config.get("pretrained_cfg") or {}).get("input_size") or [None])[-1]
  return _square(name, size) if size else int(name.rpartition("_")[2])


def maxxvit_config(name: str, config: dict) -> MaxxVitConfig:
  """The nnx MaxxVitConfig of a maxxvit.py architecture and a checkpoint's config.json."""
  arguments = _arguments(name, config, _MAXXVIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  entry = MAXXVIT_CONFIGS[MAXXVIT_VARIANTS[name]]
  conv = dict(entry.get("conv", {}))
  if conv.get("block_type", "mbconv") == "mbconv":
    conv.setdefault("norm_layer", "batchnorm2d")
  return MaxxVitConfig(
      embed_dim=tuple(entry["embed_dim"]), depths=tuple(entry["depths"]), block_types=_block_types(entry),
      stem_width=tuple(entry["stem_width"]), stem_bias=entry.get("stem_bias", False),
      conv=dataclasses.replace(MaxxVitConvConfig(), **conv),
      transformer=dataclasses.replace(MaxxVitTransformerConfig(), **entry.get("transformer", {})),
      head_hidden_size=entry.get("head_hidden_size") or 0, image_size=_image_size(name, arguments, config),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"])


def build_maxxvit(name: str, config: dict) -> nnx.Module:
  """timm's MaxxVit (CoAtNet / MaxViT / MaxxViT) at the checkpoint's fixed input size."""
  model_config = maxxvit_config(name, config)
  if model_config.image_size % model_config.transformer.partition_ratio:
    raise ConversionError(f"timm model {name!r}: img_size {model_config.image_size} is not a multiple of the "
                          f"partition ratio {model_config.transformer.partition_ratio}.")
  return MaxxVit(model_config, rngs=nnx.Rngs(0))


MAXXVIT_RENAMES = (
    (r"\.norm1\.norm\.", ".norm1."),  # a striding attention block's norm1 = Sequential(norm, down)
    (r"\.(se|se_early)\.fc1\.", r".\1.conv_reduce."),
    (r"\.(se|se_early)\.fc2\.", r".\1.conv_expand."),
    (r"^head\.(norm|fc)\.", r"head_\1."),
    (r"^head\.pre_logits\.fc\.", "head_pre_logits."),
)

ENTRIES: dict[str, dict] = {
    _names(MAXXVIT_VARIANTS): dict(build=build_maxxvit, renames=MAXXVIT_RENAMES),
}
