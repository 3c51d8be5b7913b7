"""timm families as data: PP-HGNet / PP-HGNetV2 (zoo.architectures.hgnet), NFNet / NF-ResNet /
NF-RegNet (zoo.architectures.nfnet), HRNet (zoo.architectures.hrnet), VOLO (zoo.architectures.volo), CrossViT (zoo.architectures.crossvit),
TResNet (zoo.architectures.tresnet).

Each family is a table of architectures (``*_VARIANTS``): each name's configuration as timm
1.0.31's model function passes it to the model class (``timm/models/hgnet.py``: ``model_cfgs``
and the ``use_lab`` keyword; ``nfnet.py``: ``model_cfgs``; ``hrnet.py``: ``cfg_cls``;
``volo.py`` / ``crossvit.py`` / ``tresnet.py``: the model functions' ``model_args``); a checkpoint's ``model_args`` (its config.json) override the
keywords. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.crossvit import CrossVit, CrossVitConfig
from zoo.architectures.hgnet import HgNet, HgNetConfig, HgStage
from zoo.architectures.hrnet import HrNet, HrNetConfig, HrStage
from zoo.architectures.nfnet import NfNetConfig, NormFreeNet
from zoo.architectures.tresnet import TResNet, TResNetConfig
from zoo.architectures.volo import Volo, VoloConfig
from zoo.converters.mapping import ATTENTION_PROJECTIONS, ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square


# --- PP-HGNet / PP-HGNetV2 (timm's hgnet.py) ---------------------------------------------------

def _stages(*rows) -> tuple[HgStage, ...]:
  return tuple(HgStage(*row) for row in rows)


# timm's model_cfgs: stem type, stem widths, stages (in, mid, out, blocks, downsample, light, kernel, layers);
# the hgnetv2_b0..b3 model functions pass use_lab=True.
HGNET_VARIANTS: dict[str, dict] = {
    "hgnet_tiny": dict(stem_type="v1", stem_channels=(48, 48, 96), use_lab=False, stages=_stages(
        (96, 96, 224, 1, False, False, 3, 5), (224, 128, 448, 1, True, False, 3, 5),
        (448, 160, 512, 2, True, False, 3, 5), (512, 192, 768, 1, True, False, 3, 5))),
    "hgnet_small": dict(stem_type="v1", stem_channels=(64, 64, 128), use_lab=False, stages=_stages(
        (128, 128, 256, 1, False, False, 3, 6), (256, 160, 512, 1, True, False, 3, 6),
        (512, 192, 768, 2, True, False, 3, 6), (768, 224, 1024, 1, True, False, 3, 6))),
    "hgnet_base": dict(stem_type="v1", stem_channels=(96, 96, 160), use_lab=False, stages=_stages(
        (160, 192, 320, 1, False, False, 3, 7), (320, 224, 640, 2, True, False, 3, 7),
        (640, 256, 960, 3, True, False, 3, 7), (960, 288, 1280, 2, True, False, 3, 7))),
    "hgnetv2_b0": dict(stem_type="v2", stem_channels=(16, 16), use_lab=True, stages=_stages(
        (16, 16, 64, 1, False, False, 3, 3), (64, 32, 256, 1, True, False, 3, 3),
        (256, 64, 512, 2, True, True, 5, 3), (512, 128, 1024, 1, True, True, 5, 3))),
    "hgnetv2_b1": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 64, 1, False, False, 3, 3), (64, 48, 256, 1, True, False, 3, 3),
        (256, 96, 512, 2, True, True, 5, 3), (512, 192, 1024, 1, True, True, 5, 3))),
    "hgnetv2_b2": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 96, 1, False, False, 3, 4), (96, 64, 384, 1, True, False, 3, 4),
        (384, 128, 768, 3, True, True, 5, 4), (768, 256, 1536, 1, True, True, 5, 4))),
    "hgnetv2_b3": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 128, 1, False, False, 3, 5), (128, 64, 512, 1, True, False, 3, 5),
        (512, 128, 1024, 3, True, True, 5, 5), (1024, 256, 2048, 1, True, True, 5, 5))),
    "hgnetv2_b4": dict(stem_type="v2", stem_channels=(32, 48), use_lab=False, stages=_stages(
        (48, 48, 128, 1, False, False, 3, 6), (128, 96, 512, 1, True, False, 3, 6),
        (512, 192, 1024, 3, True, True, 5, 6), (1024, 384, 2048, 1, True, True, 5, 6))),
    "hgnetv2_b5": dict(stem_type="v2", stem_channels=(32, 64), use_lab=False, stages=_stages(
        (64, 64, 128, 1, False, False, 3, 6), (128, 128, 512, 2, True, False, 3, 6),
        (512, 256, 1024, 5, True, True, 5, 6), (1024, 512, 2048, 2, True, True, 5, 6))),
    "hgnetv2_b6": dict(stem_type="v2", stem_channels=(48, 96), use_lab=False, stages=_stages(
        (96, 96, 192, 2, False, False, 3, 6), (192, 192, 512, 3, True, False, 3, 6),
        (512, 384, 1024, 6, True, True, 5, 6), (1024, 768, 2048, 3, True, True, 5, 6))),
}
_HGNET_ARGS = {"global_pool", "head_hidden_size", "use_lab"}


def build_hgnet(name: str, config: dict) -> nnx.Module:
  """timm's HighPerfGpuNet: the variant's model_cfg, ``use_lab`` and ``head_hidden_size`` (2048
  unless model_args say otherwise; None = no conv after pooling)."""
  arguments = _arguments(name, config, _HGNET_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  variant = HGNET_VARIANTS[name]
  hidden = arguments.get("head_hidden_size", 2048)
  if hidden is not None and (not isinstance(hidden, int) or hidden <= 0):
    raise ConversionError(f"timm model {name!r}: head_hidden_size {hidden!r} is not supported (a positive int or "
                          "None).")
  return HgNet(HgNetConfig(
      stem_type=variant["stem_type"], stem_channels=variant["stem_channels"], stages=variant["stages"],
      use_lab=bool(arguments.get("use_lab", variant["use_lab"])), head_hidden_size=hidden or 0,
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


HGNET_RENAMES = (
    (r"^head\.last_conv\.0\.", "head.last_conv."),  # Sequential(conv, ReLU, LearnableAffineBlock)
    (r"^head\.last_conv\.2\.", "head.lab."),
)


# --- NFNet / NF-ResNet / NF-RegNet (timm's nfnet.py) -------------------------------------------

def _dm_nfnet(depths) -> dict:
  """timm's _dm_nfnet_cfg: DeepMind's NFNet-F (γ in the activations, TF padding, skipinit)."""
  return dict(depths=depths, channels=(256, 512, 1536, 1536), stem_type="deep_quad", stem_chs=128, group_size=128,
              bottle_ratio=0.5, extra_conv=True, gamma_in_act=True, same_padding=True, skipinit=True,
              num_features=3072, act="gelu", attention="se", attn_rd_ratio=0.5)


def _nfnet_light(depths, feat_mult: float, attention: str, **attn) -> dict:
  """timm's _nfnet_cfg as the nfnet_l0 / eca_nfnet_l* / test_nfnet rows call it (SiLU, group 64,
  bottle ratio 0.25)."""
  return dict(depths=depths, channels=(256, 512, 1536, 1536), stem_type="deep_quad", stem_chs=128, group_size=64,
              bottle_ratio=0.25, extra_conv=True, num_features=int(1536 * feat_mult), act="silu",
              attention=attention, **attn)


# timm's model_cfgs (the architectures with 1,000-class pretrained tags).
NFNET_VARIANTS: dict[str, dict] = {
    **{f"dm_nfnet_f{i}": _dm_nfnet(tuple(d * (i + 1) for d in (1, 2, 6, 3))) for i in range(7)},
    "nfnet_l0": _nfnet_light((1, 2, 6, 3), 1.5, "se", attn_rd_ratio=0.25, attn_rd_divisor=8),
    "eca_nfnet_l0": _nfnet_light((1, 2, 6, 3), 1.5, "eca"),
    "eca_nfnet_l1": _nfnet_light((2, 4, 12, 6), 2.0, "eca"),
    "eca_nfnet_l2": _nfnet_light((3, 6, 18, 9), 2.0, "eca"),
    "test_nfnet": dict(_nfnet_light((1, 1, 1, 1), 1.5, "se", attn_rd_ratio=0.25, attn_rd_divisor=8),
                       channels=(32, 64, 96, 128), group_size=8, num_features=int(128 * 1.5)),
    # _nfreg_cfg: 3×3 stem, group 8, width 0.75, bottle ratio 2.25, final conv 1280·c₄/440, SE mid-block
    "nf_regnet_b1": dict(depths=(2, 4, 7, 7), channels=(48, 104, 208, 440), stem_type="3x3", stem_chs=None,
                         group_size=8, width_factor=0.75, bottle_ratio=2.25, num_features=1280, reg=True,
                         attention="se", attn_rd_ratio=0.5, act="silu"),
    # _nfres_cfg: 7×7 stem + max pool, pre-activation ResNet bottlenecks, ReLU, no final conv
    "nf_resnet50": dict(depths=(3, 4, 6, 3), channels=(256, 512, 1024, 2048), stem_type="7x7_pool", stem_chs=64,
                        group_size=None, bottle_ratio=0.25, num_features=0, act="relu", attention=None),
}


def build_nfnet(name: str, config: dict) -> nnx.Module:
  """timm's NormFreeNet with the variant's NfCfg (model_args that would change it are refused)."""
  arguments = _arguments(name, config, {"global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  return NormFreeNet(NfNetConfig(**NFNET_VARIANTS[name], num_channels=arguments["in_chans"],
                                 num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


NFNET_RENAMES = ((r"^head\.fc\.", "head."),)


# --- HRNet (timm's hrnet.py) ------------------------------------------------------------------

def _hrnet_w(width: int) -> dict:
  """timm's cfg_cls hrnet_w{width}: layer1 4 bottlenecks of 64, then modules (1, 4, 3) of 4 basic
  blocks per branch, branch widths width·(1, 2, 4, 8)."""
  return dict(stages=(HrStage(1, "bottleneck", (4,), (64,)), HrStage(1, "basic", (4, 4), (width, 2 * width)),
                      HrStage(4, "basic", (4,) * 3, tuple(width * m for m in (1, 2, 4))),
                      HrStage(3, "basic", (4,) * 4, tuple(width * m for m in (1, 2, 4, 8)))))


HRNET_VARIANTS: dict[str, dict] = {
    "hrnet_w18_small": dict(stages=(HrStage(1, "bottleneck", (1,), (32,)), HrStage(1, "basic", (2, 2), (16, 32)),
                                    HrStage(1, "basic", (2, 2, 2), (16, 32, 64)),
                                    HrStage(1, "basic", (2, 2, 2, 2), (16, 32, 64, 128)))),
    "hrnet_w18_small_v2": dict(stages=(HrStage(1, "bottleneck", (2,), (64,)), HrStage(1, "basic", (2, 2), (18, 36)),
                                       HrStage(3, "basic", (2, 2, 2), (18, 36, 72)),
                                       HrStage(2, "basic", (2, 2, 2, 2), (18, 36, 72, 144)))),
    **{f"hrnet_w{width}": _hrnet_w(width) for width in (18, 30, 32, 40, 44, 48, 64)},
    # hrnet_w18_ssld / hrnet_w48_ssld: the w18 / w48 cfg with head_conv_bias=False (their model functions)
    "hrnet_w18_ssld": dict(_hrnet_w(18), head_conv_bias=False),
    "hrnet_w48_ssld": dict(_hrnet_w(48), head_conv_bias=False),
}


def build_hrnet(name: str, config: dict) -> nnx.Module:
  """timm's HighResolutionNet with the classification head (``head_conv_bias`` may be overridden)."""
  arguments = _arguments(name, config, {"global_pool", "head_conv_bias"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  variant = HRNET_VARIANTS[name]
  return HrNet(HrNetConfig(
      stages=variant["stages"], head_conv_bias=bool(arguments.get("head_conv_bias",
                                                                  variant.get("head_conv_bias", True))),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


def _conv_or_bn(index: str) -> str:
  return "conv" if index == "0" else "bn"


HRNET_RENAMES = (
    (r"^(conv|bn)([12])\.", lambda m: f"stem.{int(m[2]) - 1}.{m[1]}."),
    (r"^layer1\.", "layer1."),
    # nested Sequential(Sequential(conv, bn[, relu]), …) first (four indices), then Sequential(conv, bn[, …])
    (r"^transition(\d)\.(\d+)\.(\d+)\.([01])\.",
     lambda m: f"transitions.{int(m[1]) - 1}.{m[2]}.{m[3]}.{_conv_or_bn(m[4])}."),
    (r"^transition(\d)\.(\d+)\.([01])\.", lambda m: f"transitions.{int(m[1]) - 1}.{m[2]}.0.{_conv_or_bn(m[3])}."),
    (r"^stage(\d)\.", lambda m: f"stages.{int(m[1]) - 2}."),
    (r"\.fuse_layers\.(\d+)\.(\d+)\.(\d+)\.([01])\.", lambda m: f".fuse.{m[1]}.{m[2]}.{m[3]}.{_conv_or_bn(m[4])}."),
    (r"\.fuse_layers\.(\d+)\.(\d+)\.([01])\.", lambda m: f".fuse.{m[1]}.{m[2]}.{_conv_or_bn(m[3])}."),
    (r"^incre_modules\.(\d+)\.0\.", r"incre.\1."),
    (r"^downsamp_modules\.(\d+)\.([01])\.", lambda m: f"downsamp.{m[1]}.{_conv_or_bn(m[2])}."),
    (r"^final_layer\.([01])\.", lambda m: f"final_layer.{_conv_or_bn(m[1])}."),
    # ResNet blocks: conv{k} / bn{k} → layers.{k-1}.conv / .bn; downsample → shortcut
    (r"\.(conv|bn)([123])\.", lambda m: f".layers.{int(m[2]) - 1}.{m[1]}."),
    (r"\.downsample\.", ".shortcut."),
    (r"^classifier\.", "head."),
)


# --- VOLO (timm's volo.py) ----------------------------------------------------------------------

_VOLO_SIZES = {  # the volo_d* model functions' model_args (D5: mlp_ratio 4, stem_hidden_dim 128)
    "d1": dict(layers=(4, 4, 8, 2), embed_dims=(192, 384, 384, 384), num_heads=(6, 12, 12, 12)),
    "d2": dict(layers=(6, 4, 10, 4), embed_dims=(256, 512, 512, 512), num_heads=(8, 16, 16, 16)),
    "d3": dict(layers=(8, 8, 16, 4), embed_dims=(256, 512, 512, 512), num_heads=(8, 16, 16, 16)),
    "d4": dict(layers=(8, 8, 16, 4), embed_dims=(384, 768, 768, 768), num_heads=(12, 16, 16, 16)),
    "d5": dict(layers=(12, 12, 20, 4), embed_dims=(384, 768, 768, 768), num_heads=(12, 16, 16, 16), mlp_ratio=4.0,
               stem_hidden_dim=128),
}
# volo_d4_448, volo_d5_448 and volo_d5_512's tags have crop_pct 1.15 (resize below the crop, zero-pad: see
# zoo.preprocessing).
_VOLO_RESOLUTIONS = {"d1": (224, 384), "d2": (224, 384), "d3": (224, 448), "d4": (224, 448), "d5": (224, 448, 512)}
VOLO_VARIANTS: dict[str, dict] = {f"volo_{size}_{resolution}": dict(_VOLO_SIZES[size], img_size=resolution)
                                  for size, resolutions in _VOLO_RESOLUTIONS.items() for resolution in resolutions}
_VOLO_ARGS = {"img_size", "layers", "embed_dims", "num_heads", "mlp_ratio", "stem_hidden_dim", "global_pool",
              "patch_size", "qkv_bias", "post_layers", "use_aux_head", "pooling_scale", "downsamples",
              "outlook_attention"}


def build_volo(name: str, config: dict) -> nnx.Module:
  """timm's VOLO (class-token pooling, token-labelling aux head) at its fixed input size."""
  arguments = _arguments(name, config, _VOLO_ARGS)
  arguments = {**VOLO_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"token"})
  for key, value in (("patch_size", 8), ("qkv_bias", False), ("post_layers", ("ca", "ca")), ("use_aux_head", True),
                     ("pooling_scale", 2), ("downsamples", (True, False, False, False)),
                     ("outlook_attention", (True, False, False, False))):
    given = arguments.get(key, value)
    if (tuple(given) if isinstance(given, list) else given) != value:
      raise ConversionError(f"timm model {name!r}: {key}={given!r} is not supported ({value!r} only).")
  return Volo(VoloConfig(
      image_size=_square(name, arguments["img_size"]), layers=tuple(arguments["layers"]),
      embed_dims=tuple(arguments["embed_dims"]), num_heads=tuple(arguments["num_heads"]),
      mlp_ratio=float(arguments.get("mlp_ratio", 3.0)), stem_hidden_dim=arguments.get("stem_hidden_dim", 64),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


VOLO_RENAMES = (
    (r"^patch_embed\.conv\.(\d)\.", lambda m: f"stem.{int(m[1]) // 3}.{_conv_or_bn(str(int(m[1]) % 3))}."),
    (r"^patch_embed\.proj\.", "patch_proj."),
    (r"^network\.0\.", "outlookers."),
    (r"^network\.1\.proj\.", "downsample."),
    (r"^network\.(\d+)\.(\d+)\.attn\.proj\.", lambda m: f"stages.{int(m[1]) - 2}.{m[2]}.attn.out."),
    (r"^network\.(\d+)\.", lambda m: f"stages.{int(m[1]) - 2}."),
    (r"^post_network\.", "post."),
)


# --- CrossViT (timm's crossvit.py) ---------------------------------------------------------------

_CROSSVIT_SIZES = {  # the crossvit_* model functions' model_args: embed_dim, branch depth, num_heads, mlp_ratio
    "tiny": ((96, 192), 4, (3, 3), (4, 4, 1)), "small": ((192, 384), 4, (6, 6), (4, 4, 1)),
    "base": ((384, 768), 4, (12, 12), (4, 4, 1)), "9": ((128, 256), 3, (4, 4), (3, 3, 1)),
    "15": ((192, 384), 5, (6, 6), (3, 3, 1)), "18": ((224, 448), 6, (7, 7), (3, 3, 1)),
}


def _crossvit(size: str, resolution: int, multi_conv: bool) -> dict:
  dims, depth, heads, ratios = _CROSSVIT_SIZES[size]
  base = {240: 224, 408: 384}[resolution]  # img_scale=(1.0, base / resolution)
  return dict(img_size=resolution, img_scale=(1.0, base / resolution), patch_size=(12, 16), embed_dim=dims,
              depth=((1, depth, 0),) * 3, num_heads=heads, mlp_ratio=ratios, multi_conv=multi_conv)


CROSSVIT_VARIANTS: dict[str, dict] = {
    **{f"crossvit_{size}_240": _crossvit(size, 240, False) for size in _CROSSVIT_SIZES},
    **{f"crossvit_{size}_dagger_240": _crossvit(size, 240, True) for size in ("9", "15", "18")},
    **{f"crossvit_{size}_dagger_408": _crossvit(size, 408, True) for size in ("15", "18")},
}
_CROSSVIT_ARGS = {"img_size", "img_scale", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "multi_conv",
                  "crop_scale", "qkv_bias", "global_pool"}


def _tuples(value):
  return tuple(_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def build_crossvit(name: str, config: dict) -> nnx.Module:
  """timm's CrossVit (class-token pooling, bicubic rescaling of the second branch) at its fixed size."""
  arguments = _arguments(name, config, _CROSSVIT_ARGS)
  arguments = {**CROSSVIT_VARIANTS[name], **{k: _tuples(v) for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"token"})
  for key, value in (("crop_scale", False), ("qkv_bias", True)):
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  if any(depth[-1] != 0 for depth in arguments["depth"]) or set(arguments["patch_size"]) - {12, 16}:
    raise ConversionError(f"timm model {name!r}: depth {arguments['depth']} / patch_size {arguments['patch_size']} "
                          "are not supported (fusion depth 0, patches 12 and 16, as timm's models).")
  size = _square(name, arguments["img_size"])
  return CrossVit(CrossVitConfig(
      image_size=size, branch_sizes=tuple(int(size * scale) for scale in arguments["img_scale"]),  # timm's int(s·i)
      patch_sizes=arguments["patch_size"], embed_dims=arguments["embed_dim"], depths=arguments["depth"],
      num_heads=arguments["num_heads"], mlp_ratios=tuple(float(r) for r in arguments["mlp_ratio"]),
      multi_conv=bool(arguments["multi_conv"]), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


CROSSVIT_RENAMES = (
    (r"^(patch_embed\.\d+)\.proj\.(weight|bias)$", r"\1.proj.0.\2"),  # the single patch conv
    (r"\.(projs|revert_projs)\.(\d+)\.0\.", r".\1.\2.norm."),
    (r"\.(projs|revert_projs)\.(\d+)\.2\.", r".\1.\2.fc."),
    (r"\.blocks\.(\d+)\.(\d+)\.attn\.proj\.", r".blocks.\1.\2.attn.out."),
    (r"\.fusion\.(\d+)\.attn\.w([qkv])\.", lambda m: f".fusion.{m[1]}.attn.{ATTENTION_PROJECTIONS[m[2]]}."),
    (r"\.fusion\.(\d+)\.attn\.proj\.", r".fusion.\1.attn.out."),
)


# --- TResNet (timm's tresnet.py) -----------------------------------------------------------------

TRESNET_VARIANTS: dict[str, dict] = {  # the tresnet_* model functions' model_args
    "tresnet_m": dict(layers=(3, 4, 11, 3)),
    "tresnet_l": dict(layers=(4, 5, 18, 3), width_factor=1.2),
    "tresnet_xl": dict(layers=(4, 5, 24, 3), width_factor=1.3),
    "tresnet_v2_l": dict(layers=(3, 4, 23, 3), width_factor=1.0, v2=True),
}


def build_tresnet(name: str, config: dict) -> nnx.Module:
  """timm's TResNet ('fast' global pooling = the spatial mean)."""
  arguments = _arguments(name, config, {"layers", "width_factor", "v2", "global_pool"})
  _check_pool(name, arguments.pop("global_pool"), {"fast", "avg"})
  arguments = {**TRESNET_VARIANTS[name], **{k: _tuples(v) for k, v in arguments.items() if v is not None}}
  return TResNet(TResNetConfig(
      layers=tuple(arguments["layers"]), width_factor=float(arguments.get("width_factor", 1.0)),
      v2=bool(arguments.get("v2", False)), num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


TRESNET_RENAMES = (
    (r"^body\.conv1\.", "conv1."),
    (r"^body\.layer(\d)\.", lambda m: f"stages.{int(m[1]) - 1}."),
    (r"^head\.fc\.", "head."),
)


ENTRIES: dict[str, dict] = {
    _names(HGNET_VARIANTS): dict(build=build_hgnet, renames=HGNET_RENAMES),
    _names(NFNET_VARIANTS): dict(build=build_nfnet, renames=NFNET_RENAMES),
    _names(HRNET_VARIANTS): dict(build=build_hrnet, renames=HRNET_RENAMES),
    _names(VOLO_VARIANTS): dict(build=build_volo, renames=VOLO_RENAMES),
    _names(CROSSVIT_VARIANTS): dict(build=build_crossvit, renames=CROSSVIT_RENAMES),
    _names(TRESNET_VARIANTS): dict(build=build_tresnet, renames=TRESNET_RENAMES),
}
