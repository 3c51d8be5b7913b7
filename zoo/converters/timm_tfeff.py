"""timm's efficient hybrid families as data: EfficientViT-MIT (zoo.architectures.efficientvit), RepViT
(zoo.architectures.repvit), FastViT (zoo.architectures.fastvit),
EfficientViT-MSRA (zoo.architectures.efficientvit_msra), MambaOut (zoo.architectures.mambaout),
SHViT (zoo.architectures.shvit), TinyViT (zoo.architectures.tiny_vit).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class (``timm/models/efficientvit_mit.py``, ...);
a checkpoint's ``model_args`` (its config.json) override them. ``ENTRIES`` maps a regex that fully
matches the architecture names to ``dict(build=..., renames=...)``; zoo.converters.timm wraps each
in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.efficientvit import EfficientVit, EfficientVitConfig
from zoo.architectures.efficientvit_msra import EfficientVitMsra, EfficientVitMsraConfig
from zoo.architectures.fastvit import FastVit, FastVitConfig
from zoo.architectures.mambaout import MambaOut, MambaOutConfig
from zoo.architectures.repvit import RepVit, RepVitConfig
from zoo.architectures.shvit import Shvit, ShvitConfig
from zoo.architectures.tiny_vit import TinyVit, TinyVitConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square
from zoo.converters.timm_more import _check_fixed


def _merged(name: str, config: dict, variants: dict, supported: set[str]) -> dict:
  """The variant's model-function arguments overridden by the export's ``model_args`` (an explicit
  None too: e.g. ``ls_init_value=None`` removes the layer scales)."""
  arguments = _arguments(name, config, supported)
  explicit = config.get("model_args") or {}
  return {**variants[name], **{k: v for k, v in arguments.items() if v is not None or k in explicit}}


# --- EfficientViT-MIT (timm's efficientvit_mit.py: EfficientVit "b*", EfficientVitLarge "l*") ----------

# large=True: timm builds EfficientVitLarge (the l* model functions) instead of EfficientVit.
EFFICIENTVIT_MIT_VARIANTS: dict[str, dict] = {
    "efficientvit_b0": dict(widths=(8, 16, 32, 64, 128), depths=(1, 2, 2, 2, 2), head_dim=16, head_widths=(1024, 1280)),
    "efficientvit_b1": dict(widths=(16, 32, 64, 128, 256), depths=(1, 2, 3, 3, 4), head_dim=16,
                            head_widths=(1536, 1600)),
    "efficientvit_b2": dict(widths=(24, 48, 96, 192, 384), depths=(1, 3, 4, 4, 6), head_dim=32,
                            head_widths=(2304, 2560)),
    "efficientvit_b3": dict(widths=(32, 64, 128, 256, 512), depths=(1, 4, 6, 6, 9), head_dim=32,
                            head_widths=(2304, 2560)),
    "efficientvit_l1": dict(widths=(32, 64, 128, 256, 512), depths=(1, 1, 1, 6, 6), head_dim=32,
                            head_widths=(3072, 3200), large=True),
    "efficientvit_l2": dict(widths=(32, 64, 128, 256, 512), depths=(1, 2, 2, 8, 8), head_dim=32,
                            head_widths=(3072, 3200), large=True),
    "efficientvit_l3": dict(widths=(64, 128, 256, 512, 1024), depths=(1, 2, 2, 8, 8), head_dim=32,
                            head_widths=(6144, 6400), large=True),
}
_EFFICIENTVIT_MIT_ARGS = {"widths", "depths", "head_dim", "head_widths", "expand_ratio", "norm_eps", "global_pool",
                          "norm_layer", "act_layer"}


def build_efficientvit_mit(name: str, config: dict) -> nnx.Module:
  """timm's EfficientVit ("B": hard-swish, expand ratio 4, ε 1e-5) or EfficientVitLarge ("L": tanh
  GELU, ε 1e-7, fused MBConvs in the first stages)."""
  arguments = _merged(name, config, EFFICIENTVIT_MIT_VARIANTS, _EFFICIENTVIT_MIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"norm_layer": None, "act_layer": None})
  large = arguments.get("large", False)
  if large and "expand_ratio" in arguments:
    raise ConversionError(f"timm model {name!r}: EfficientVitLarge takes no expand_ratio (its ratios are fixed).")
  if not large and "norm_eps" in arguments:
    raise ConversionError(f"timm model {name!r}: EfficientVit (B) takes no norm_eps (PyTorch's defaults).")
  return EfficientVit(EfficientVitConfig(
      widths=tuple(arguments["widths"]), depths=tuple(arguments["depths"]), head_dim=arguments["head_dim"],
      head_widths=tuple(arguments["head_widths"]), large=large, expand_ratio=float(arguments.get("expand_ratio", 4)),
      activation="gelu_pytorch_tanh" if large else "hard_swish",
      norm_eps=float(arguments.get("norm_eps", 1e-7 if large else 1e-5)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


EFFICIENTVIT_MIT_RENAMES = (
    (r"^stem\.in_conv\.", "stem_conv."),
    (r"^stem\.res(\d+)\.main\.", r"stem_blocks.\1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.context_module\.main\.", r"stages.\1.\2.context."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.local_module\.main\.", r"stages.\1.\2.local."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.main\.", r"stages.\1.\2."),
    (r"^head\.in_conv\.", "head_conv."),
    (r"^head\.classifier\.0\.", "head_linear."),
    (r"^head\.classifier\.1\.", "head_norm."),
    (r"^head\.classifier\.4\.", "head."),
    (r"\.norm\.", ".bn."),
)


# --- RepViT (timm's repvit.py) -------------------------------------------------------------------

REPVIT_VARIANTS: dict[str, dict] = {
    "repvit_m1": dict(embed_dim=(48, 96, 192, 384), depth=(2, 2, 14, 2), legacy=True),
    "repvit_m2": dict(embed_dim=(64, 128, 256, 512), depth=(2, 2, 12, 2), legacy=True),
    "repvit_m3": dict(embed_dim=(64, 128, 256, 512), depth=(4, 4, 18, 2), legacy=True),
    "repvit_m0_9": dict(embed_dim=(48, 96, 192, 384), depth=(2, 2, 14, 2)),
    "repvit_m1_0": dict(embed_dim=(56, 112, 224, 448), depth=(2, 2, 14, 2)),
    "repvit_m1_1": dict(embed_dim=(64, 128, 256, 512), depth=(2, 2, 12, 2)),
    "repvit_m1_5": dict(embed_dim=(64, 128, 256, 512), depth=(4, 4, 24, 4)),
    "repvit_m2_3": dict(embed_dim=(80, 160, 320, 640), depth=(6, 6, 34, 2)),
}
_REPVIT_ARGS = {"img_size", "embed_dim", "depth", "mlp_ratio", "global_pool", "kernel_size", "act_layer",
                "distillation", "legacy"}


def build_repvit(name: str, config: dict) -> nnx.Module:
  """timm's RepVit in its unfused form, distilled head (the mean of both heads at inference);
  ``img_size`` only sizes timm's bookkeeping."""
  arguments = _merged(name, config, REPVIT_VARIANTS, _REPVIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"act_layer": None})
  if arguments.get("kernel_size", 3) % 2 == 0:
    raise ConversionError(f"timm model {name!r}: kernel_size {arguments['kernel_size']} is not supported (odd only).")
  return RepVit(RepVitConfig(
      embed_dims=tuple(arguments["embed_dim"]), depths=tuple(arguments["depth"]),
      mlp_ratio=float(arguments.get("mlp_ratio", 2)), kernel_size=arguments.get("kernel_size", 3),
      legacy=bool(arguments.get("legacy", False)), distillation=bool(arguments.get("distillation", True)),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


REPVIT_RENAMES = (
    (r"^stem\.conv([12])\.", lambda m: f"stem.{int(m[1]) - 1}."),
    (r"^head\.head\.", "head."),
    (r"^head\.head_dist\.", "head_dist."),
    (r"\.c\.", ".conv."),
    (r"\.l\.", ".linear."),
)


# --- FastViT (timm's fastvit.py; the MobileCLIP "mci" image towers are not 1,000-class classifiers) ------

# pos_embs: "RepConditionalPosEnc" stands for timm's partial(RepConditionalPosEnc, spatial_shape=(7, 7))
_SA = dict(pos_embs=(None, None, None, "RepConditionalPosEnc"), token_mixers=("repmixer",) * 3 + ("attention",))
_REPMIXER = dict(token_mixers=("repmixer",) * 4)
FASTVIT_VARIANTS: dict[str, dict] = {
    "fastvit_t8": dict(layers=(2, 2, 4, 2), embed_dims=(48, 96, 192, 384), mlp_ratios=(3,) * 4, **_REPMIXER),
    "fastvit_t12": dict(layers=(2, 2, 6, 2), embed_dims=(64, 128, 256, 512), mlp_ratios=(3,) * 4, **_REPMIXER),
    "fastvit_s12": dict(layers=(2, 2, 6, 2), embed_dims=(64, 128, 256, 512), mlp_ratios=(4,) * 4, **_REPMIXER),
    "fastvit_sa12": dict(layers=(2, 2, 6, 2), embed_dims=(64, 128, 256, 512), mlp_ratios=(4,) * 4, **_SA),
    "fastvit_sa24": dict(layers=(4, 4, 12, 4), embed_dims=(64, 128, 256, 512), mlp_ratios=(4,) * 4, **_SA),
    "fastvit_sa36": dict(layers=(6, 6, 18, 6), embed_dims=(64, 128, 256, 512), mlp_ratios=(4,) * 4, **_SA),
    "fastvit_ma36": dict(layers=(6, 6, 18, 6), embed_dims=(76, 152, 304, 608), mlp_ratios=(4,) * 4, **_SA),
}
_FASTVIT_ARGS = {"layers", "embed_dims", "mlp_ratios", "token_mixers", "downsamples", "se_downsamples",
                 "repmixer_kernel_size", "down_patch_size", "down_stride", "layer_scale_init_value", "lkc_use_act",
                 "stem_use_scale_branch", "fork_feat", "cls_ratio", "global_pool", "norm_layer", "act_layer",
                 "inference_mode"}
# Options the nnx family models only at timm's defaults (the pretrained 1,000-class FastViTs use them).
_FASTVIT_FIXED = {"down_stride": 2, "lkc_use_act": False, "stem_use_scale_branch": True, "fork_feat": False,
                  "norm_layer": None, "act_layer": None, "inference_mode": False}


def build_fastvit(name: str, config: dict) -> nnx.Module:
  """timm's FastVit (unfused RepMixer / MobileOne branches, attention stages, 7×7 conditional
  position encodings); ``layer_scale_init_value`` only initialises the layer scales (None: no layer
  scale, not supported)."""
  arguments = _merged(name, config, FASTVIT_VARIANTS, _FASTVIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, _FASTVIT_FIXED)
  stages = len(arguments["layers"])
  if "layer_scale_init_value" in arguments and arguments["layer_scale_init_value"] is None:
    raise ConversionError(f"timm model {name!r}: layer_scale_init_value=None (no layer scales) is not supported.")
  if any(arguments.get("se_downsamples", ())) or tuple(arguments.get("downsamples", (False,) + (True,) * (stages - 1))
                                                       ) != (False,) + (True,) * (stages - 1):
    raise ConversionError(f"timm model {name!r}: downsamples / se_downsamples other than timm's defaults are not "
                          "supported.")
  pos_embs = tuple(arguments.get("pos_embs") or (None,) * stages)  # only the table's (a module is no JSON)
  return FastVit(FastVitConfig(
      depths=tuple(arguments["layers"]), embed_dims=tuple(arguments["embed_dims"]),
      mlp_ratios=tuple(float(r) for r in arguments["mlp_ratios"]), token_mixers=tuple(arguments["token_mixers"]),
      pos_embs=tuple(p is not None for p in pos_embs), repmixer_kernel_size=arguments.get("repmixer_kernel_size", 3),
      down_patch_size=arguments.get("down_patch_size", 7), cls_ratio=float(arguments.get("cls_ratio", 2.0)),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


FASTVIT_RENAMES = (
    (r"\.downsample\.proj\.0\.", ".downsample."),
    (r"\.downsample\.proj\.1\.", ".downsample.mobile_one."),
    (r"\.pos_emb\.pos_enc\.", ".pos_emb."),
    (r"\.token_mixer\.layer_scale\.", ".mixer_scale."),
    (r"\.token_mixer\.(norm|mixer)\.", r".\1."),
    (r"\.token_mixer\.qkv\.", ".attn.qkv."),
    (r"\.token_mixer\.proj\.", ".attn.out."),
    (r"^head\.fc\.", "head."),
)


# --- EfficientViT-MSRA (timm's efficientvit_msra.py) ---------------------------------------------------

EFFICIENTVIT_MSRA_VARIANTS: dict[str, dict] = {
    "efficientvit_m0": dict(embed_dim=(64, 128, 192), depth=(1, 2, 3), num_heads=(4, 4, 4), kernels=(5, 5, 5, 5)),
    "efficientvit_m1": dict(embed_dim=(128, 144, 192), depth=(1, 2, 3), num_heads=(2, 3, 3), kernels=(7, 5, 3, 3)),
    "efficientvit_m2": dict(embed_dim=(128, 192, 224), depth=(1, 2, 3), num_heads=(4, 3, 2), kernels=(7, 5, 3, 3)),
    "efficientvit_m3": dict(embed_dim=(128, 240, 320), depth=(1, 2, 3), num_heads=(4, 3, 4), kernels=(5, 5, 5, 5)),
    "efficientvit_m4": dict(embed_dim=(128, 256, 384), depth=(1, 2, 3), num_heads=(4, 4, 4), kernels=(7, 5, 3, 3)),
    "efficientvit_m5": dict(embed_dim=(192, 288, 384), depth=(1, 3, 4), num_heads=(3, 3, 4), kernels=(7, 5, 3, 3)),
}
_EFFICIENTVIT_MSRA_ARGS = {"img_size", "embed_dim", "key_dim", "depth", "num_heads", "window_size", "kernels",
                           "down_ops", "global_pool"}


def build_efficientvit_msra(name: str, config: dict) -> nnx.Module:
  """timm's EfficientVitMsra (img_size 224 and window 7 unless model_args say otherwise: they size
  the attention-bias tables; the model then runs at any input size)."""
  arguments = _merged(name, config, EFFICIENTVIT_MSRA_VARIANTS, _EFFICIENTVIT_MSRA_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  stages = len(arguments["embed_dim"])
  down_ops = [list(op) for op in arguments.get("down_ops", [("", 1)] + [("subsample", 2)] * (stages - 1))]
  if down_ops != [["", 1]] + [["subsample", 2]] * (stages - 1):
    raise ConversionError(f"timm model {name!r}: down_ops {arguments['down_ops']} are not supported (timm's "
                          "default: no subsample in the first stage, ('subsample', 2) after).")
  key_dims = tuple(arguments.get("key_dim", (16,) * stages))
  heads = tuple(arguments["num_heads"])
  if any(dim % (k * h) for dim, k, h in zip(arguments["embed_dim"], key_dims, heads)):
    raise ConversionError(f"timm model {name!r}: embed_dim must be a multiple of key_dim · num_heads per stage "
                          "(timm's attn_ratio would not be an integer).")
  return EfficientVitMsra(EfficientVitMsraConfig(
      image_size=_square(name, arguments.get("img_size", 224)), embed_dims=tuple(arguments["embed_dim"]),
      key_dims=key_dims, depths=tuple(arguments["depth"]), num_heads=heads,
      window_sizes=tuple(arguments.get("window_size", (7,) * stages)), kernels=tuple(arguments["kernels"]),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


EFFICIENTVIT_MSRA_RENAMES = (
    (r"^patch_embed\.conv(\d)\.", lambda m: f"patch_embed.{int(m[1]) - 1}."),
    (r"\.downsample\.res1\.0\.m\.", ".downsample.0.dw."),
    (r"\.downsample\.res1\.1\.m\.", ".downsample.0.ffn."),
    (r"\.downsample\.patchmerge\.", ".downsample.1."),
    (r"\.downsample\.res2\.0\.m\.", ".downsample.2.dw."),
    (r"\.downsample\.res2\.1\.m\.", ".downsample.2.ffn."),
    (r"\.(dw0|ffn0|dw1|ffn1)\.m\.", r".\1."),
    (r"\.mixer\.m\.attn\.", ".mixer.attn."),
    (r"\.proj\.1\.", ".proj."),
)


# --- MambaOut (timm's mambaout.py) ----------------------------------------------------------------

_MAMBAOUT_RW = dict(stem_mid_norm=False, downsample="conv_nf", ls_init_value=1e-6, head_fn="norm_mlp")
MAMBAOUT_VARIANTS: dict[str, dict] = {
    "mambaout_femto": dict(depths=(3, 3, 9, 3), dims=(48, 96, 192, 288)),
    "mambaout_kobe": dict(depths=(3, 3, 15, 3), dims=(48, 96, 192, 288)),
    "mambaout_tiny": dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 576)),
    "mambaout_small": dict(depths=(3, 4, 27, 3), dims=(96, 192, 384, 576)),
    "mambaout_base": dict(depths=(3, 4, 27, 3), dims=(128, 256, 512, 768)),
    "mambaout_small_rw": dict(depths=(3, 4, 27, 3), dims=(96, 192, 384, 576), **_MAMBAOUT_RW),
    "mambaout_base_short_rw": dict(depths=(3, 3, 25, 3), dims=(128, 256, 512, 768), expansion_ratio=3.0,
                                   conv_ratio=1.25, **_MAMBAOUT_RW),
    "mambaout_base_tall_rw": dict(depths=(3, 4, 30, 3), dims=(128, 256, 512, 768), expansion_ratio=2.5,
                                  conv_ratio=1.25, **_MAMBAOUT_RW),
    "mambaout_base_wide_rw": dict(depths=(3, 4, 27, 3), dims=(128, 256, 512, 768), expansion_ratio=3.0,
                                  conv_ratio=1.5, act_layer="silu", **_MAMBAOUT_RW),
    "mambaout_base_plus_rw": dict(depths=(3, 4, 30, 3), dims=(128, 256, 512, 768), expansion_ratio=3.0,
                                  conv_ratio=1.5, act_layer="silu", **_MAMBAOUT_RW),
}
_MAMBAOUT_ARGS = {"depths", "dims", "norm_layer", "act_layer", "conv_ratio", "expansion_ratio", "kernel_size",
                  "stem_mid_norm", "ls_init_value", "downsample", "head_fn", "global_pool"}


def build_mambaout(name: str, config: dict) -> nnx.Module:
  """timm's MambaOut; ``ls_init_value`` (not None) only initialises the layer scales."""
  arguments = _merged(name, config, MAMBAOUT_VARIANTS, _MAMBAOUT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"norm_layer": None})
  activation = arguments.get("act_layer", "gelu")
  if activation not in ("gelu", "silu"):
    raise ConversionError(f"timm model {name!r}: act_layer {activation!r} is not supported ('gelu' or 'silu').")
  downsample, head = arguments.get("downsample", "conv"), arguments.get("head_fn", "default")
  if downsample not in ("conv", "conv_nf") or head not in ("default", "norm_mlp"):
    raise ConversionError(f"timm model {name!r}: downsample {downsample!r} / head_fn {head!r} are not supported "
                          "(downsample 'conv' or 'conv_nf', head_fn 'default' or 'norm_mlp').")
  return MambaOut(MambaOutConfig(
      depths=tuple(arguments["depths"]), dims=tuple(arguments["dims"]),
      expansion_ratio=float(arguments.get("expansion_ratio", 8 / 3)),
      conv_ratio=float(arguments.get("conv_ratio", 1.0)),
      kernel_size=arguments.get("kernel_size", 7), stem_mid_norm=bool(arguments.get("stem_mid_norm", True)),
      layer_scale=arguments.get("ls_init_value") is not None, downsample=downsample, head=head,
      activation=activation, num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]),
      rngs=nnx.Rngs(0))


# --- SHViT (timm's shvit.py) ------------------------------------------------------------------------

SHVIT_VARIANTS: dict[str, dict] = {
    "shvit_s1": dict(embed_dim=(128, 224, 320), depth=(2, 4, 5), partial_dim=(32, 48, 68), types=("i", "s", "s")),
    "shvit_s2": dict(embed_dim=(128, 308, 448), depth=(2, 4, 5), partial_dim=(32, 66, 96), types=("i", "s", "s")),
    "shvit_s3": dict(embed_dim=(192, 352, 448), depth=(3, 5, 5), partial_dim=(48, 75, 96), types=("i", "s", "s")),
    "shvit_s4": dict(embed_dim=(224, 336, 448), depth=(4, 7, 6), partial_dim=(48, 72, 96), types=("i", "s", "s")),
}
_SHVIT_ARGS = {"embed_dim", "partial_dim", "qk_dim", "depth", "types", "global_pool", "norm_layer", "act_layer"}


def build_shvit(name: str, config: dict) -> nnx.Module:
  """timm's SHViT (GroupNorm₁ before the attention, ReLU)."""
  arguments = _merged(name, config, SHVIT_VARIANTS, _SHVIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"norm_layer": None, "act_layer": None})
  stages = len(arguments["embed_dim"])
  if any(t not in ("i", "s") for t in arguments["types"]):
    raise ConversionError(f"timm model {name!r}: block types {arguments['types']} are not supported ('i' or 's').")
  return Shvit(ShvitConfig(
      embed_dims=tuple(arguments["embed_dim"]), partial_dims=tuple(arguments["partial_dim"]),
      qk_dims=tuple(arguments.get("qk_dim", (16,) * stages)), depths=tuple(arguments["depth"]),
      types=tuple(arguments["types"]), num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]),
      rngs=nnx.Rngs(0))


# timm's downsample Sequential: Residual(dw), Residual(FFN), PatchMerging, Residual(dw), Residual(FFN)
_SHVIT_DOWNSAMPLE = {"0": "0.dw", "1": "0.ffn", "2": "1", "3": "2.dw", "4": "2.ffn"}
SHVIT_RENAMES = (
    (r"^patch_embed\.(\d)\.", lambda m: f"patch_embed.{int(m[1]) // 2}."),
    (r"\.downsample\.(\d)\.(?:m\.)?", lambda m: f".downsample.{_SHVIT_DOWNSAMPLE[m[1]]}."),
    (r"\.(conv|mixer|ffn)\.m\.", r".\1."),
    (r"\.proj\.1\.", ".proj."),
    (r"^head\.l\.", "head.linear."),
    (r"\.c\.", ".conv."),
)


# --- TinyViT (timm's tiny_vit.py) ---------------------------------------------------------------------

_TINY_VIT_DEPTHS = (2, 2, 6, 2)
TINY_VIT_VARIANTS: dict[str, dict] = {
    "tiny_vit_5m_224": dict(embed_dims=(64, 128, 160, 320), depths=_TINY_VIT_DEPTHS, num_heads=(2, 4, 5, 10),
                            window_sizes=(7, 7, 14, 7)),
    "tiny_vit_11m_224": dict(embed_dims=(64, 128, 256, 448), depths=_TINY_VIT_DEPTHS, num_heads=(2, 4, 8, 14),
                             window_sizes=(7, 7, 14, 7)),
    "tiny_vit_21m_224": dict(embed_dims=(96, 192, 384, 576), depths=_TINY_VIT_DEPTHS, num_heads=(3, 6, 12, 18),
                             window_sizes=(7, 7, 14, 7)),
    "tiny_vit_21m_384": dict(embed_dims=(96, 192, 384, 576), depths=_TINY_VIT_DEPTHS, num_heads=(3, 6, 12, 18),
                             window_sizes=(12, 12, 24, 12)),
    "tiny_vit_21m_512": dict(embed_dims=(96, 192, 384, 576), depths=_TINY_VIT_DEPTHS, num_heads=(3, 6, 12, 18),
                             window_sizes=(16, 16, 32, 16)),
}
_TINY_VIT_ARGS = {"embed_dims", "depths", "num_heads", "window_sizes", "mlp_ratio", "mbconv_expand_ratio",
                  "local_conv_size", "use_checkpoint", "act_layer", "global_pool"}


def build_tiny_vit(name: str, config: dict) -> nnx.Module:
  """timm's TinyVit (window sizes fix the attention-bias tables; the model runs at any input size)."""
  arguments = _merged(name, config, TINY_VIT_VARIANTS, _TINY_VIT_ARGS)
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  _check_fixed(name, arguments, {"act_layer": None})
  return TinyVit(TinyVitConfig(
      embed_dims=tuple(arguments["embed_dims"]), depths=tuple(arguments["depths"]),
      num_heads=tuple(arguments["num_heads"]), window_sizes=tuple(arguments["window_sizes"]),
      mlp_ratio=float(arguments.get("mlp_ratio", 4.0)),
      mbconv_expand_ratio=float(arguments.get("mbconv_expand_ratio", 4.0)),
      local_conv_size=arguments.get("local_conv_size", 3), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


ENTRIES: dict[str, dict] = {
    _names(EFFICIENTVIT_MIT_VARIANTS): dict(build=build_efficientvit_mit, renames=EFFICIENTVIT_MIT_RENAMES),
    _names(EFFICIENTVIT_MSRA_VARIANTS): dict(build=build_efficientvit_msra, renames=EFFICIENTVIT_MSRA_RENAMES),
    _names(MAMBAOUT_VARIANTS): dict(build=build_mambaout, renames=()),
    _names(FASTVIT_VARIANTS): dict(build=build_fastvit, renames=FASTVIT_RENAMES),
    _names(REPVIT_VARIANTS): dict(build=build_repvit, renames=REPVIT_RENAMES),
    _names(SHVIT_VARIANTS): dict(build=build_shvit, renames=SHVIT_RENAMES),
    _names(TINY_VIT_VARIANTS): dict(build=build_tiny_vit, renames=()),
}
