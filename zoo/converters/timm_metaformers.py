"""timm's MetaFormer-style families as data: PoolFormer v1/v2, ConvFormer and CAFormer
(timm/models/metaformer.py, one nnx module: zoo.architectures.metaformer), InceptionNeXt
(timm/models/inception_next.py: zoo.architectures.inception_next), EdgeNeXt
(timm/models/edgenext.py: zoo.architectures.edgenext), FocalNet (timm/models/focalnet.py:
zoo.architectures.focalnet) and StarNet (timm/models/starnet.py: zoo.architectures.starnet).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class, with timm's layer classes written as
names; a checkpoint's ``model_args`` (its config.json) may add only what the module models.
``ENTRIES`` maps a regex that fully matches the architecture names to ``dict(build=...,
renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``. This module does not import
zoo.converters.timm (no import cycle).
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.edgenext import EdgeNext, EdgeNextConfig
from zoo.architectures.focalnet import FocalNet, FocalNetConfig
from zoo.architectures.inception_next import InceptionNext, InceptionNextConfig
from zoo.architectures.metaformer import MetaFormer, MetaFormerConfig
from zoo.architectures.starnet import StarNet, StarNetConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names
from zoo.converters.timm_more import _check_fixed

# --- MetaFormer (timm's metaformer.py) -----------------------------------------------------------

# timm's MetaFormer class defaults (what an entry point leaves out), then its model_kwargs per entry point
_METAFORMER_DEFAULTS = dict(token_mixers=("pooling",) * 4, mlp_act="starrelu", mlp_bias=False,
                            layer_scale_init_values=None, res_scale_init_values=(None, None, 1.0, 1.0),
                            downsample_norm="layernorm2d_nobias", use_mlp_head=True)
_POOLFORMER_V1 = dict(downsample_norm=None, mlp_act="gelu", mlp_bias=True, norm_layers="groupnorm1",
                      res_scale_init_values=None, use_mlp_head=False)
_POOLFORMER_V2 = dict(norm_layers="groupnorm1_nobias", use_mlp_head=False)
_CONVFORMER = dict(token_mixers=("sepconv",) * 4, norm_layers="layernorm_nobias")
_CAFORMER = dict(token_mixers=("sepconv", "sepconv", "attention", "attention"), norm_layers="layernorm_nobias")
_S12, _S24, _S36 = ((2, 2, 6, 2), (4, 4, 12, 4), (6, 6, 18, 6))
_POOL_SMALL, _POOL_MEDIUM = (64, 128, 320, 512), (96, 192, 384, 768)
_CONV_DEPTHS18, _CONV_DEPTHS36 = (3, 3, 9, 3), (3, 12, 18, 3)
METAFORMER_VARIANTS: dict[str, dict] = {
    "poolformer_s12": dict(depths=_S12, dims=_POOL_SMALL, layer_scale_init_values=1e-5, **_POOLFORMER_V1),
    "poolformer_s24": dict(depths=_S24, dims=_POOL_SMALL, layer_scale_init_values=1e-5, **_POOLFORMER_V1),
    "poolformer_s36": dict(depths=_S36, dims=_POOL_SMALL, layer_scale_init_values=1e-6, **_POOLFORMER_V1),
    "poolformer_m36": dict(depths=_S36, dims=_POOL_MEDIUM, layer_scale_init_values=1e-6, **_POOLFORMER_V1),
    "poolformer_m48": dict(depths=(8, 8, 24, 8), dims=_POOL_MEDIUM, layer_scale_init_values=1e-6,
                           **_POOLFORMER_V1),
    "poolformerv2_s12": dict(depths=_S12, dims=_POOL_SMALL, **_POOLFORMER_V2),
    "poolformerv2_s24": dict(depths=_S24, dims=_POOL_SMALL, **_POOLFORMER_V2),
    "poolformerv2_s36": dict(depths=_S36, dims=_POOL_SMALL, **_POOLFORMER_V2),
    "poolformerv2_m36": dict(depths=_S36, dims=_POOL_MEDIUM, **_POOLFORMER_V2),
    "poolformerv2_m48": dict(depths=(8, 8, 24, 8), dims=_POOL_MEDIUM, **_POOLFORMER_V2),
    **{f"{kind}_{size}": dict(depths=depths, dims=dims, **mixers)
       for kind, mixers in (("convformer", _CONVFORMER), ("caformer", _CAFORMER))
       for size, depths, dims in (("s18", _CONV_DEPTHS18, (64, 128, 320, 512)),
                                  ("s36", _CONV_DEPTHS36, (64, 128, 320, 512)),
                                  ("m36", _CONV_DEPTHS36, (96, 192, 384, 576)),
                                  ("b36", _CONV_DEPTHS36, (128, 256, 512, 768)))},
}
# timm norm class → (norm kind, bias, ε): GroupNorm1 is torch's GroupNorm (ε 1e-5); the NoBias
# classes of metaformer.py set ε 1e-6 (LayerNormNoBias and LayerNorm2dNoBias: the same norm here).
_METAFORMER_NORMS = {"groupnorm1": ("group", True, 1e-5), "groupnorm1_nobias": ("group", False, 1e-6),
                     "layernorm_nobias": ("layer", False, 1e-6)}
_METAFORMER_ARGS = {"global_pool"}


def build_metaformer(name: str, config: dict) -> nnx.Module:
  """timm's MetaFormer of entry point ``name`` (METAFORMER_VARIANTS); the model function fixes
  every architecture argument, so a checkpoint's ``model_args`` may set only num_classes,
  in_chans and the (average) global pooling."""
  arguments = _arguments(name, config, _METAFORMER_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  variant = {**_METAFORMER_DEFAULTS, **METAFORMER_VARIANTS[name]}
  norm, norm_bias, norm_eps = _METAFORMER_NORMS[variant["norm_layers"]]
  # timm: one value (or None) for every stage, or one per stage; an init value (not None) means the scales
  # exist, its value only initialises them
  per_stage = lambda value: tuple(value) if isinstance(value, (list, tuple)) else (value,) * len(variant["depths"])
  return MetaFormer(MetaFormerConfig(
      depths=variant["depths"], dims=variant["dims"], token_mixers=variant["token_mixers"],
      norm=norm, norm_bias=norm_bias, norm_eps=norm_eps, downsample_norm=variant["downsample_norm"] is not None,
      layer_scale=tuple(v is not None for v in per_stage(variant["layer_scale_init_values"])),
      res_scale=tuple(v is not None for v in per_stage(variant["res_scale_init_values"])),
      mlp_act=variant["mlp_act"], mlp_bias=variant["mlp_bias"], mlp_head=variant["use_mlp_head"],
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


METAFORMER_RENAMES = (
    (r"^stem\.conv\.", "stem."), (r"^stem\.norm\.", "stem_norm."),
    (r"^stages\.(\d+)\.downsample\.norm\.", r"stages.\1.downsample_norm."),
    (r"^stages\.(\d+)\.downsample\.conv\.", r"stages.\1.downsample."),
    (r"\.(layer|res)_scale(\d)\.scale$", r".\1_scale\2"),
    (r"\.token_mixer\.qkv\.", ".token_mixer.attention.qkv."),
    (r"\.token_mixer\.proj\.", ".token_mixer.attention.out."),
    (r"^head\.norm\.", "norm."), (r"^head\.fc\.", "head."),
)


# --- InceptionNeXt (timm's inception_next.py) ------------------------------------------------------

# timm's model_args per entry point (token_mixers: InceptionDWConv2d with these arguments)
INCEPTION_NEXT_VARIANTS: dict[str, dict] = {
    "inception_next_atto": dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), band_kernel_size=9, branch_ratio=0.25),
    "inception_next_tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    "inception_next_small": dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    "inception_next_base": dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
}
_INCEPTION_NEXT_ARGS = {"depths", "dims", "mlp_ratios", "ls_init_value", "output_stride", "global_pool"}


def build_inception_next(name: str, config: dict) -> nnx.Module:
  """timm's MetaNeXt of entry point ``name``; ``model_args`` may override depths, dims, mlp_ratios
  and ls_init_value (a value: the layer scale γ exists; 0 or None: it does not)."""
  arguments = _arguments(name, config, _INCEPTION_NEXT_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"output_stride": 32})
  arguments = {**INCEPTION_NEXT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  ratios = arguments.get("mlp_ratios", (4, 4, 4, 3))
  stages = len(arguments["depths"])
  return InceptionNext(InceptionNextConfig(
      depths=tuple(arguments["depths"]), dims=tuple(arguments["dims"]),
      mlp_ratios=tuple(ratios) if isinstance(ratios, (list, tuple)) else (ratios,) * stages,
      band_kernel_size=arguments.get("band_kernel_size", 11), branch_ratio=arguments.get("branch_ratio", 0.125),
      layer_scale=bool((config.get("model_args") or {}).get("ls_init_value", 1e-6)),  # timm: gamma if ls_init_value
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


INCEPTION_NEXT_RENAMES = (
    (r"^stem\.0\.", "stem."), (r"^stem\.1\.", "stem_norm."),
    (r"^stages\.(\d+)\.downsample\.0\.", r"stages.\1.downsample_norm."),
    (r"^stages\.(\d+)\.downsample\.1\.", r"stages.\1.downsample."),
    (r"^head\.fc1\.", "head_fc."), (r"^head\.norm\.", "head_norm."), (r"^head\.fc2\.", "head."),
)


# --- EdgeNeXt (timm's edgenext.py) -----------------------------------------------------------------

# timm's model_args per entry point; the EdgeNeXt class's defaults for the rest
EDGENEXT_VARIANTS: dict[str, dict] = {
    "edgenext_xx_small": dict(depths=(2, 2, 6, 2), dims=(24, 48, 88, 168), heads=(4, 4, 4, 4)),
    "edgenext_x_small": dict(depths=(3, 3, 9, 3), dims=(32, 64, 100, 192), heads=(4, 4, 4, 4)),
    "edgenext_small": dict(depths=(3, 3, 9, 3), dims=(48, 96, 160, 304)),
    "edgenext_base": dict(depths=(3, 3, 9, 3), dims=(80, 160, 288, 584)),
    "edgenext_small_rw": dict(depths=(3, 3, 9, 3), dims=(48, 96, 192, 384), downsample_block=True, conv_bias=False,
                              stem_type="overlap"),
}
# timm argument → EdgeNextConfig field (per-stage tuples)
_EDGENEXT_FIELDS = {"depths": "depths", "dims": "dims", "global_block_counts": "global_blocks",
                    "kernel_sizes": "kernel_sizes", "heads": "heads", "d2_scales": "scales",
                    "use_pos_emb": "pos_embeddings"}
_EDGENEXT_ARGS = {*_EDGENEXT_FIELDS, "ls_init_value", "expand_ratio", "downsample_block", "conv_bias", "stem_type",
                  "head_norm_first", "head_init_scale", "act_layer", "global_pool"}


def build_edgenext(name: str, config: dict) -> nnx.Module:
  """timm's EdgeNeXt of entry point ``name``; ``model_args`` may override its arguments except
  those only timm's defaults are modelled for (GELU, the pooled-norm head, a layer scale: timm's
  split-transpose block needs one)."""
  arguments = _arguments(name, config, _EDGENEXT_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  arguments.pop("head_init_scale", None)  # only initialises the head
  _check_fixed(name, arguments, {"head_norm_first": False, "act_layer": "gelu"})
  if not arguments.get("ls_init_value", 1e-6):
    raise ConversionError(f"timm model {name!r}: ls_init_value={arguments['ls_init_value']!r} is not supported "
                          "(timm's split-transpose block needs the layer scale: a value > 0).")
  arguments = {**EDGENEXT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  fields = {field: tuple(arguments[key]) for key, field in _EDGENEXT_FIELDS.items() if key in arguments}
  return EdgeNext(EdgeNextConfig(
      **fields, expand_ratio=arguments.get("expand_ratio", 4.0),
      downsample_block=arguments.get("downsample_block", False), conv_bias=arguments.get("conv_bias", True),
      stem=arguments.get("stem_type", "patch"), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


EDGENEXT_RENAMES = (
    (r"^stem\.0\.", "stem."), (r"^stem\.1\.", "stem_norm."),
    (r"^stages\.(\d+)\.downsample\.0\.", r"stages.\1.downsample_norm."),
    (r"^stages\.(\d+)\.downsample\.1\.", r"stages.\1.downsample."),
    (r"\.pos_embd\.token_projection\.", ".pos_projection."),
    (r"\.xca\.proj\.", ".xca.out."),
    (r"^head\.norm\.", "head_norm."), (r"^head\.fc\.", "head."),
)


# --- FocalNet (timm's focalnet.py: the ImageNet-1k small / large receptive field models) ----------

# timm's model_kwargs per entry point (the FocalNet class's defaults: focal_levels (2, 2, 2, 2),
# focal_windows (3, 3, 3, 3), no post-norms, no layer scale, plain patch downsampling)
FOCALNET_VARIANTS: dict[str, dict] = {
    f"focalnet_{size}_{field}": dict(depths=depths, embed_dim=width, **({"focal_levels": (3, 3, 3, 3)} if field == "lrf"
                                                                         else {}))
    for size, depths, width in (("tiny", (2, 2, 6, 2), 96), ("small", (2, 2, 18, 2), 96), ("base", (2, 2, 18, 2), 128))
    for field in ("srf", "lrf")}
_FOCALNET_ARGS = {"depths", "embed_dim", "focal_levels", "focal_windows", "mlp_ratio", "use_overlap_down",
                  "use_post_norm", "use_post_norm_in_modulation", "normalize_modulator", "head_hidden_size",
                  "layerscale_value", "head_init_scale", "global_pool"}


def build_focalnet(name: str, config: dict) -> nnx.Module:
  """timm's FocalNet of entry point ``name``; ``model_args`` may override depths, embed_dim,
  focal_levels, focal_windows and mlp_ratio; the options of the ImageNet-22k large models
  (post-norms, overlapping downsampling, layer scale, MLP head) only at timm's defaults."""
  arguments = _arguments(name, config, _FOCALNET_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  arguments.pop("head_init_scale", None)  # only initialises the head
  _check_fixed(name, arguments, {"use_overlap_down": False, "use_post_norm": False,
                                 "use_post_norm_in_modulation": False, "normalize_modulator": False,
                                 "head_hidden_size": None, "layerscale_value": None})
  arguments = {**FOCALNET_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  stages = len(arguments["depths"])
  return FocalNet(FocalNetConfig(
      embed_dim=arguments["embed_dim"], depths=tuple(arguments["depths"]),
      focal_levels=tuple(arguments.get("focal_levels", (2,) * stages)),
      focal_windows=tuple(arguments.get("focal_windows", (3,) * stages)), mlp_ratio=arguments.get("mlp_ratio", 4.0),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


FOCALNET_RENAMES = (
    (r"^stem\.proj\.", "stem."), (r"^stem\.norm\.", "stem_norm."),
    (r"^layers\.(\d+)\.downsample\.proj\.", r"stages.\1.downsample."),
    (r"^layers\.(\d+)\.downsample\.norm\.", r"stages.\1.downsample_norm."),
    (r"^layers\.(\d+)\.blocks\.", r"stages.\1.blocks."),
    (r"\.focal_layers\.(\d+)\.0\.", r".focal_layers.\1."),
    (r"^head\.fc\.", "head."),
)


# --- StarNet (timm's starnet.py) ---------------------------------------------------------------------

# timm's model_args per entry point (mlp_ratio: the StarNet class's default 4)
STARNET_VARIANTS: dict[str, dict] = {
    "starnet_s1": dict(base_dim=24, depths=(2, 2, 8, 3)),
    "starnet_s2": dict(base_dim=32, depths=(1, 2, 6, 2)),
    "starnet_s3": dict(base_dim=32, depths=(2, 2, 8, 4)),
    "starnet_s4": dict(base_dim=32, depths=(3, 3, 12, 5)),
}
_STARNET_ARGS = {"base_dim", "depths", "mlp_ratio", "act_layer", "output_stride", "global_pool"}


def build_starnet(name: str, config: dict) -> nnx.Module:
  """timm's StarNet of entry point ``name``; ``model_args`` may override base_dim, depths and mlp_ratio."""
  arguments = _arguments(name, config, _STARNET_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  _check_fixed(name, arguments, {"act_layer": "relu6", "output_stride": 32})
  arguments = {**STARNET_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  return StarNet(StarNetConfig(
      base_dim=arguments["base_dim"], depths=tuple(arguments["depths"]), mlp_ratio=arguments.get("mlp_ratio", 4),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


STARNET_RENAMES = (
    (r"^stem\.0\.conv\.", "stem."), (r"^stem\.0\.bn\.", "stem_bn."),
    (r"^stages\.(\d+)\.0\.conv\.", r"stages.\1.downsample."),
    (r"^stages\.(\d+)\.0\.bn\.", r"stages.\1.downsample_bn."),
    (r"^stages\.(\d+)\.(\d+)\.", lambda m: f"stages.{m[1]}.blocks.{int(m[2]) - 1}."),  # timm: [downsampler, *blocks]
    (r"\.(dwconv|g)\.bn\.", r".\1_bn."),
    (r"\.(dwconv|f1|f2|g|dwconv2)\.conv\.", r".\1."),
)


ENTRIES: dict[str, dict] = {
    _names(METAFORMER_VARIANTS): dict(build=build_metaformer, renames=METAFORMER_RENAMES),
    _names(INCEPTION_NEXT_VARIANTS): dict(build=build_inception_next, renames=INCEPTION_NEXT_RENAMES),
    _names(EDGENEXT_VARIANTS): dict(build=build_edgenext, renames=EDGENEXT_RENAMES),
    _names(FOCALNET_VARIANTS): dict(build=build_focalnet, renames=FOCALNET_RENAMES),
    _names(STARNET_VARIANTS): dict(build=build_starnet, renames=STARNET_RENAMES),
}
