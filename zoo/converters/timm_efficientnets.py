"""More of timm's EfficientNet-builder families (``timm/models/efficientnet.py``), each variant
from its arch strings: EfficientNetV2 (``efficientnetv2_*``, ``tf_efficientnetv2_*``,
``efficientnetv2_rw_*``; fused-MBConv "er" and conv "cn" blocks), EfficientNet-EdgeTPU
(``(tf_)efficientnet_{es,em,el}``, ReLU, "er" blocks), EfficientNet-Lite
(``(tf_)efficientnet_lite0-4``, ReLU6, no SE, fixed stem/head), MobileNetV3
(``(tf_)mobilenetv3_{large,small}_*``: hard-swish, hard-sigmoid SE, head conv after pooling),
MnasNet / SemNASNet / SPNASNet / FBNet-C, TinyNet and MixNet (``(tf_)mixnet_*``: mixed depthwise
kernels, grouped 1×1 convs) and PP-LCNet (``lcnet_*``), served by
:class:`zoo.architectures.efficientnet.MBConvNet` in timm's own tensor names (no renames).

``ENTRIES`` maps a regex that fully matches timm architecture names to
``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

import dataclasses
import re

from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import (MBConvNet, MBConvNetConfig, SERule, StageRow, decode_stage,
                                            timm_builder_stages)
from zoo.converters.timm_families import _mbconv_options


@dataclasses.dataclass(frozen=True)
class BuilderArch:
  """One timm ``_gen_*`` function: its arch strings (one per stage), stem and head channels,
  whether they scale with the width multiplier (timm's fix_stem), the channel rounding limit,
  the activation, and whether the first and last stage keep their depth (fix_first_last)."""
  arch: tuple[str | tuple[str, ...], ...]  # one arch string per stage, or several (a stage of several rows)
  stem_dim: int
  head_dim: int
  scale_head: bool = True
  round_limit: float = 0.9
  act: str = "swish"
  scale_stem: bool = True
  fix_first_last: bool = False
  fix_stem_below: float = 0.0  # MobileNetV3: stem unscaled when the width multiplier is below this
  se_rule: SERule = SERule()
  se_gate: str = "sigmoid"
  se_act: str | None = None
  head: str = "conv_bn"
  depth_trunc: str = "ceil"
  head_min: int = 0  # tinynet: head max(head_min, scaled head)
  head_bias: bool = True  # head "pool_conv": timm's head_bias
  layer_scale: bool = False  # MobileNetV4 hybrid: LayerScale2d on the "uir"/"mqa" branches
  stem_kernel: int = 3
  se_layer: str = "se"  # "gc": GlobalContext (gc_efficientnetv2)


# timm 1.0.31's _gen_efficientnetv2_{base,s,m,l,xl}, _gen_efficientnet_edge and _gen_efficientnet_lite
# arch_def tables (efficientnet.py).
_V2_S = ("cn_r2_k3_s1_e1_c24_skip", "er_r4_k3_s2_e4_c48", "er_r4_k3_s2_e4_c64", "ir_r6_k3_s2_e4_c128_se0.25",
         "ir_r9_k3_s1_e6_c160_se0.25", "ir_r15_k3_s2_e6_c256_se0.25")
EFFICIENTNET_ARCHS = {
    "base": BuilderArch(("cn_r1_k3_s1_e1_c16_skip", "er_r2_k3_s2_e4_c32", "er_r2_k3_s2_e4_c48",
                         "ir_r3_k3_s2_e4_c96_se0.25", "ir_r5_k3_s1_e6_c112_se0.25", "ir_r8_k3_s2_e6_c192_se0.25"),
                        32, 1280, round_limit=0.0),
    "s": BuilderArch(_V2_S, 24, 1280),
    # rw=True: timm's pre-release small model (er first stage, 272 last, 1792 head)
    "s_rw": BuilderArch(("er_r2_k3_s1_e1_c24",) + _V2_S[1:-1] + ("ir_r15_k3_s2_e6_c272_se0.25",), 24, 1792),
    "m": BuilderArch(("cn_r3_k3_s1_e1_c24_skip", "er_r5_k3_s2_e4_c48", "er_r5_k3_s2_e4_c80",
                      "ir_r7_k3_s2_e4_c160_se0.25", "ir_r14_k3_s1_e6_c176_se0.25", "ir_r18_k3_s2_e6_c304_se0.25",
                      "ir_r5_k3_s1_e6_c512_se0.25"), 24, 1280, scale_head=False),
    "l": BuilderArch(("cn_r4_k3_s1_e1_c32_skip", "er_r7_k3_s2_e4_c64", "er_r7_k3_s2_e4_c96",
                      "ir_r10_k3_s2_e4_c192_se0.25", "ir_r19_k3_s1_e6_c224_se0.25", "ir_r25_k3_s2_e6_c384_se0.25",
                      "ir_r7_k3_s1_e6_c640_se0.25"), 32, 1280, scale_head=False),
    # _gen_efficientnet_edge (EfficientNet-EdgeTPU S/M/L) and _gen_efficientnet_lite
    "edge": BuilderArch(("er_r1_k3_s1_e4_c24_fc24_noskip", "er_r2_k3_s2_e8_c32", "er_r4_k3_s2_e8_c48",
                         "ir_r5_k5_s2_e8_c96", "ir_r4_k5_s1_e8_c144", "ir_r2_k5_s2_e8_c192"), 32, 1280, act="relu"),
    "lite": BuilderArch(("ds_r1_k3_s1_e1_c16", "ir_r2_k3_s2_e6_c24", "ir_r2_k5_s2_e6_c40", "ir_r3_k3_s2_e6_c80",
                         "ir_r3_k5_s1_e6_c112", "ir_r4_k5_s2_e6_c192", "ir_r1_k3_s1_e6_c320"), 32, 1280,
                        scale_head=False, act="relu6", scale_stem=False, fix_first_last=True),
    "xl": BuilderArch(("cn_r4_k3_s1_e1_c32_skip", "er_r8_k3_s2_e4_c64", "er_r8_k3_s2_e4_c96",
                       "ir_r16_k3_s2_e4_c192_se0.25", "ir_r24_k3_s1_e6_c256_se0.25", "ir_r32_k3_s2_e6_c512_se0.25",
                       "ir_r8_k3_s1_e6_c640_se0.25"), 32, 1280, scale_head=False),
}


@dataclasses.dataclass(frozen=True)
class BuilderVariant:
  """One timm entry point: its ``_gen_*`` arch, width and depth multipliers (depth: one per
  stage allowed) and whether it is a ``tf_`` port (TF "SAME" padding, BN ε 1e-3)."""
  arch: str
  channel_multiplier: float = 1.0
  depth_multiplier: float | tuple[float, ...] = 1.0
  tf: bool = False
  anti_alias: str | None = None  # timm's aa_layer ("avg", "blurpc"; MobileNetV4 conv_aa / conv_blur)
  experts_multiplier: int = 1  # CondConv: the arch strings' cc experts times this (timm's experts_multiplier)
  norm: str = "batch"  # timm's norm_layer: "batch", "group" (GroupNormAct, 8 channels a group), "layer"


# timm 1.0.31's efficientnetv2_* / tf_efficientnetv2_* entry points.
EFFICIENTNET_V2_VARIANTS = {
    "efficientnetv2_rw_t": BuilderVariant("s", 0.8, 0.9),
    "efficientnetv2_rw_s": BuilderVariant("s_rw"),
    "efficientnetv2_rw_m": BuilderVariant("s_rw", 1.2, (1.2,) * 4 + (1.6,) * 2),
    **{f"efficientnetv2_{size}": BuilderVariant(size) for size in ("s", "m", "l", "xl")},
    **{f"tf_efficientnetv2_{size}": BuilderVariant(size, tf=True) for size in ("s", "m", "l", "xl")},
    "tf_efficientnetv2_b0": BuilderVariant("base", tf=True),
    "tf_efficientnetv2_b1": BuilderVariant("base", 1.0, 1.1, tf=True),
    "tf_efficientnetv2_b2": BuilderVariant("base", 1.1, 1.2, tf=True),
    "tf_efficientnetv2_b3": BuilderVariant("base", 1.2, 1.4, tf=True),
}
# (channel multiplier, depth multiplier) of timm's EdgeTPU and Lite entry points.
_EDGE_SCALES = {"es": (1.0, 1.0), "es_pruned": (1.0, 1.0), "em": (1.0, 1.1), "el": (1.2, 1.4), "el_pruned": (1.2, 1.4)}
_LITE_SCALES = {f"lite{i}": scale for i, scale in enumerate(((1.0, 1.0), (1.0, 1.1), (1.1, 1.2), (1.2, 1.4),
                                                               (1.4, 1.8)))}
EFFICIENTNET_EDGE_LITE_VARIANTS = {
    **{f"{prefix}efficientnet_{size}": BuilderVariant("edge", *scale, tf=bool(prefix))
       for size, scale in _EDGE_SCALES.items() for prefix in ("", "tf_") if not (prefix and "pruned" in size)},
    **{f"{prefix}efficientnet_{size}": BuilderVariant("lite", *scale, tf=bool(prefix))
       for size, scale in _LITE_SCALES.items() for prefix in ("", "tf_")},
}


def _scale_experts(row: StageRow, multiplier: int) -> StageRow:
  return dataclasses.replace(row, num_experts=row.num_experts * multiplier) if row.num_experts else row


def builder_config(variant: BuilderVariant, archs: dict[str, BuilderArch], **options) -> MBConvNetConfig:
  """timm's ``_gen_*`` + ``EfficientNet``: stages decoded from the arch strings and scaled
  (timm_builder_stages), stem round_channels(stem) (timm's fix_stem=False), head
  round_channels(head) when the generator scales it. ``options``: padding, batch_norm_eps,
  num_classes, num_channels."""
  arch = archs[variant.arch]
  round_channels = lambda c: layers.make_divisible(c * variant.channel_multiplier, round_limit=arch.round_limit)
  scale_stem = arch.scale_stem and variant.channel_multiplier >= arch.fix_stem_below
  stem = round_channels(arch.stem_dim) if scale_stem else arch.stem_dim
  decode = lambda text: _scale_experts(decode_stage(text), variant.experts_multiplier)
  rows = tuple(decode(stage) if isinstance(stage, str) else tuple(map(decode, stage)) for stage in arch.arch)
  stages = timm_builder_stages(rows, stem, channel_multiplier=variant.channel_multiplier,
                               depth_multiplier=variant.depth_multiplier, fix_first_last=arch.fix_first_last,
                               depth_trunc=arch.depth_trunc, round_limit=arch.round_limit, se_rule=arch.se_rule)
  head = max(arch.head_min, round_channels(arch.head_dim)) if arch.scale_head else arch.head_dim
  return MBConvNetConfig(stem, stages, head, act=arch.act, se_gate=arch.se_gate, se_act=arch.se_act,
                         head=arch.head, head_bias=arch.head_bias, anti_alias=variant.anti_alias,
                         layer_scale=arch.layer_scale, stem_kernel=arch.stem_kernel,
                         se_layer=arch.se_layer, norm=variant.norm, **options)


# timm 1.0.31's _gen_mobilenet_v3 (mobilenetv3.py): hard-swish ("nre" stages ReLU; "minimal": ReLU
# throughout), SE with a ReLU inside, a hard-sigmoid gate and make_divisible(mid/4) channels,
# stem 16 unscaled below width 0.75, the head conv after pooling (1280 / 1024, unscaled).
_MOBILENET_V3 = dict(scale_head=False, fix_stem_below=0.75, se_rule=SERule(from_expansion=True, make_divisible=True),
                     se_gate="hard_sigmoid", se_act="relu", head="pool_conv")
MOBILENET_V3_ARCHS = {
    "large": BuilderArch(("ds_r1_k3_s1_e1_c16_nre", ("ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"),
                          "ir_r3_k5_s2_e3_c40_se0.25_nre",
                          ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
                          "ir_r2_k3_s1_e6_c112_se0.25", "ir_r3_k5_s2_e6_c160_se0.25", "cn_r1_k1_s1_c960"),
                         16, 1280, act="hard_swish", **_MOBILENET_V3),
    "large_minimal": BuilderArch(("ds_r1_k3_s1_e1_c16", ("ir_r1_k3_s2_e4_c24", "ir_r1_k3_s1_e3_c24"),
                                  "ir_r3_k3_s2_e3_c40",
                                  ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
                                  "ir_r2_k3_s1_e6_c112", "ir_r3_k3_s2_e6_c160", "cn_r1_k1_s1_c960"),
                                 16, 1280, act="relu", **_MOBILENET_V3),
    "small": BuilderArch(("ds_r1_k3_s2_e1_c16_se0.25_nre", ("ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"),
                          ("ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"), "ir_r2_k5_s1_e3_c48_se0.25",
                          "ir_r3_k5_s2_e6_c96_se0.25", "cn_r1_k1_s1_c576"),
                         16, 1024, act="hard_swish", **_MOBILENET_V3),
    "small_minimal": BuilderArch(("ds_r1_k3_s2_e1_c16", ("ir_r1_k3_s2_e4.5_c24", "ir_r1_k3_s1_e3.67_c24"),
                                  ("ir_r1_k3_s2_e4_c40", "ir_r2_k3_s1_e6_c40"), "ir_r2_k3_s1_e3_c48",
                                  "ir_r3_k3_s2_e6_c96", "cn_r1_k1_s1_c576"),
                                 16, 1024, act="relu", **_MOBILENET_V3),
}
# timm 1.0.31's mobilenetv3_* / tf_mobilenetv3_* entry points (not mobilenetv3_rw: its own _gen).
MOBILENET_V3_VARIANTS = {
    "mobilenetv3_large_075": BuilderVariant("large", 0.75), "mobilenetv3_large_100": BuilderVariant("large"),
    "mobilenetv3_large_150d": BuilderVariant("large", 1.5, 1.2),
    "mobilenetv3_small_050": BuilderVariant("small", 0.5), "mobilenetv3_small_075": BuilderVariant("small", 0.75),
    "mobilenetv3_small_100": BuilderVariant("small"),
    "tf_mobilenetv3_large_075": BuilderVariant("large", 0.75, tf=True),
    "tf_mobilenetv3_large_100": BuilderVariant("large", tf=True),
    "tf_mobilenetv3_large_minimal_100": BuilderVariant("large_minimal", tf=True),
    "tf_mobilenetv3_small_075": BuilderVariant("small", 0.75, tf=True),
    "tf_mobilenetv3_small_100": BuilderVariant("small", tf=True),
    "tf_mobilenetv3_small_minimal_100": BuilderVariant("small_minimal", tf=True),
}

# timm 1.0.31's _gen_mnasnet_{a1,b1,small}, _gen_fbnetc, _gen_spnasnet (ReLU, head 1280 unscaled)
# and _gen_tinynet (EfficientNet-B0's stages, "round" depth, stem 32 fixed, head ≥ 1280).
NAS_ARCHS = {
    "mnasnet_a1": BuilderArch(("ds_r1_k3_s1_e1_c16_noskip", "ir_r2_k3_s2_e6_c24", "ir_r3_k5_s2_e3_c40_se0.25",
                               "ir_r4_k3_s2_e6_c80", "ir_r2_k3_s1_e6_c112_se0.25", "ir_r3_k5_s2_e6_c160_se0.25",
                               "ir_r1_k3_s1_e6_c320"), 32, 1280, scale_head=False, act="relu"),
    "mnasnet_b1": BuilderArch(("ds_r1_k3_s1_c16_noskip", "ir_r3_k3_s2_e3_c24", "ir_r3_k5_s2_e3_c40",
                               "ir_r3_k5_s2_e6_c80", "ir_r2_k3_s1_e6_c96", "ir_r4_k5_s2_e6_c192",
                               "ir_r1_k3_s1_e6_c320_noskip"), 32, 1280, scale_head=False, act="relu"),
    "mnasnet_small": BuilderArch(("ds_r1_k3_s1_c8", "ir_r1_k3_s2_e3_c16", "ir_r2_k3_s2_e6_c16",
                                  "ir_r4_k5_s2_e6_c32_se0.25", "ir_r3_k3_s1_e6_c32_se0.25", "ir_r3_k5_s2_e6_c88_se0.25",
                                  "ir_r1_k3_s1_e6_c144"), 8, 1280, scale_head=False, act="relu"),
    "fbnetc": BuilderArch(("ir_r1_k3_s1_e1_c16", ("ir_r1_k3_s2_e6_c24", "ir_r2_k3_s1_e1_c24"),
                           ("ir_r1_k5_s2_e6_c32", "ir_r1_k5_s1_e3_c32", "ir_r1_k5_s1_e6_c32", "ir_r1_k3_s1_e6_c32"),
                           ("ir_r1_k5_s2_e6_c64", "ir_r1_k5_s1_e3_c64", "ir_r2_k5_s1_e6_c64"),
                           ("ir_r3_k5_s1_e6_c112", "ir_r1_k5_s1_e3_c112"), "ir_r4_k5_s2_e6_c184", "ir_r1_k3_s1_e6_c352"),
                          16, 1984, scale_head=False, act="relu"),
    "spnasnet": BuilderArch(("ds_r1_k3_s1_c16_noskip", "ir_r3_k3_s2_e3_c24", ("ir_r1_k5_s2_e6_c40", "ir_r3_k3_s1_e3_c40"),
                             ("ir_r1_k5_s2_e6_c80", "ir_r3_k3_s1_e3_c80"), ("ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96"),
                             "ir_r4_k5_s2_e6_c192", "ir_r1_k3_s1_e6_c320_noskip"), 32, 1280, scale_head=False,
                            act="relu"),
    "tinynet": BuilderArch(("ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", "ir_r2_k5_s2_e6_c40_se0.25",
                            "ir_r3_k3_s2_e6_c80_se0.25", "ir_r3_k5_s1_e6_c112_se0.25", "ir_r4_k5_s2_e6_c192_se0.25",
                            "ir_r1_k3_s1_e6_c320_se0.25"), 32, 1280, scale_stem=False, depth_trunc="round", head_min=1280),
}
NAS_VARIANTS = {
    **{f"mnasnet_{width}": BuilderVariant("mnasnet_b1", int(width) / 100) for width in ("050", "075", "100", "140")},
    **{f"semnasnet_{width}": BuilderVariant("mnasnet_a1", int(width) / 100) for width in ("050", "075", "100", "140")},
    "mnasnet_small": BuilderVariant("mnasnet_small"), "fbnetc_100": BuilderVariant("fbnetc"),
    "spnasnet_100": BuilderVariant("spnasnet"),
    "tinynet_a": BuilderVariant("tinynet", 1.0, 1.2), "tinynet_b": BuilderVariant("tinynet", 0.75, 1.1),
    "tinynet_c": BuilderVariant("tinynet", 0.54, 0.85), "tinynet_d": BuilderVariant("tinynet", 0.54, 0.695),
    "tinynet_e": BuilderVariant("tinynet", 0.51, 0.6),
}

# timm 1.0.31's _gen_mixnet_{s,m}: mixed depthwise kernels (k3.5.7), grouped 1×1 convs (a1.1 / p1.1),
# ReLU with swish ("nsw") stages, head 1536 unscaled.
MIXNET_ARCHS = {
    "mixnet_s": BuilderArch(("ds_r1_k3_s1_e1_c16",
                             ("ir_r1_k3_a1.1_p1.1_s2_e6_c24", "ir_r1_k3_a1.1_p1.1_s1_e3_c24"),
                             ("ir_r1_k3.5.7_s2_e6_c40_se0.5_nsw", "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw"),
                             ("ir_r1_k3.5.7_p1.1_s2_e6_c80_se0.25_nsw", "ir_r2_k3.5_p1.1_s1_e6_c80_se0.25_nsw"),
                             ("ir_r1_k3.5.7_a1.1_p1.1_s1_e6_c120_se0.5_nsw",
                              "ir_r2_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw"),
                             ("ir_r1_k3.5.7.9.11_s2_e6_c200_se0.5_nsw", "ir_r2_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw")),
                            16, 1536, scale_head=False, act="relu"),
    "mixnet_m": BuilderArch(("ds_r1_k3_s1_e1_c24",
                             ("ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c32", "ir_r1_k3_a1.1_p1.1_s1_e3_c32"),
                             ("ir_r1_k3.5.7.9_s2_e6_c40_se0.5_nsw", "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw"),
                             ("ir_r1_k3.5.7_s2_e6_c80_se0.25_nsw", "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e6_c80_se0.25_nsw"),
                             ("ir_r1_k3_s1_e6_c120_se0.5_nsw", "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw"),
                             ("ir_r1_k3.5.7.9_s2_e6_c200_se0.5_nsw", "ir_r3_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw")),
                            24, 1536, scale_head=False, act="relu", depth_trunc="round"),
}
MIXNET_VARIANTS = {
    "mixnet_s": BuilderVariant("mixnet_s"), "mixnet_m": BuilderVariant("mixnet_m"),
    "mixnet_l": BuilderVariant("mixnet_m", 1.3), "mixnet_xl": BuilderVariant("mixnet_m", 1.6, 1.2),
    "mixnet_xxl": BuilderVariant("mixnet_m", 2.4, 1.3),
    "tf_mixnet_s": BuilderVariant("mixnet_s", tf=True), "tf_mixnet_m": BuilderVariant("mixnet_m", tf=True),
    "tf_mixnet_l": BuilderVariant("mixnet_m", 1.3, tf=True),
}

# timm 1.0.31's _gen_lcnet (mobilenetv3.py, PP-LCNet): "dsa" blocks, hard-swish, SE with a ReLU inside,
# a hard-sigmoid gate and round(in/4) channels, MobileNetV3's head conv after pooling (1280, unscaled).
LCNET_ARCHS = {
    "lcnet": BuilderArch(("dsa_r1_k3_s1_c32", "dsa_r2_k3_s2_c64", "dsa_r2_k3_s2_c128",
                          ("dsa_r1_k3_s2_c256", "dsa_r1_k5_s1_c256"), "dsa_r4_k5_s1_c256", "dsa_r2_k5_s2_c512_se0.25"),
                         16, 1280, scale_head=False, act="hard_swish", se_rule=SERule(from_expansion=True),
                         se_gate="hard_sigmoid", se_act="relu", head="pool_conv"),
}
LCNET_VARIANTS = {f"lcnet_{width}": BuilderVariant("lcnet", int(width) / 100)
                  for width in ("035", "050", "075", "100", "150")}

ARCHS = {**EFFICIENTNET_ARCHS, **MOBILENET_V3_ARCHS, **NAS_ARCHS, **MIXNET_ARCHS, **LCNET_ARCHS}
VARIANTS = {**EFFICIENTNET_V2_VARIANTS, **EFFICIENTNET_EDGE_LITE_VARIANTS, **MOBILENET_V3_VARIANTS, **NAS_VARIANTS,
            **MIXNET_VARIANTS, **LCNET_VARIANTS}


def build_builder_variant(name: str, config: dict) -> nnx.Module:
  """timm's ``efficientnetv2_*`` / ``tf_efficientnetv2_*`` / ``(tf_)efficientnet_{es,em,el,lite*}`` /
  ``(tf_)mobilenetv3_*``:
  the VARIANTS row through :func:`builder_config`; ``model_args`` bn_eps, pad_type, global_pool ("avg")."""
  variant = VARIANTS[name]
  return MBConvNet(builder_config(variant, ARCHS, **_mbconv_options(name, config, variant.tf)),
                   rngs=nnx.Rngs(0))


ENTRIES: dict[str, dict] = {
    "|".join(map(re.escape, VARIANTS)): dict(build=build_builder_variant, renames=()),
}
