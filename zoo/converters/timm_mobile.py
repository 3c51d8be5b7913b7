"""timm's mobile families, each a table of variants in timm 1.0.31's own arguments.

On the EfficientNet builder (zoo.architectures.efficientnet.MBConvNet, from timm's arch strings,
in timm's tensor names, no renames): from ``mobilenetv3.py`` MobileNetV4 conv / hybrid
(``mobilenetv4_*``: universal inverted residuals, multi-query attention with layer scale, the head
conv normed after pooling; ``conv_aa`` / ``conv_blur`` anti-alias their stride-2 convs), FBNetV3
(``fbnetv3_{b,d,g}``) and ``mobilenetv3_rw``; HardCoRe-NAS (``hardcorenas.py``); from
``efficientnet.py`` MobileNetV1 (``mobilenetv1_*``), CondConv EfficientNet
(``tf_efficientnet_cc_*``), MobileNet-EdgeTPU-v2-M, ``gc_efficientnetv2_rw_t`` (GlobalContext
attention), EfficientNet-X / -H (``efficientnet_{x,h}_b5``, space-to-depth) and
``test_efficientnet`` (batch, group or layer norms).

Their own modules: MobileViT v1 / v2 (``mobilevit.py``, zoo.architectures.mobilevit), ReXNet
(``rexnet.py``, zoo.architectures.rexnet), GhostNet V1 / V2 / V3 (``ghostnet.py``) and RepGhostNet
(``repghost.py``) (zoo.architectures.ghostnet), PP-LCNetV2 (``lcnetv2.py``, zoo.architectures.lcnetv2).

``ENTRIES`` maps a regex that fully matches timm architecture names to
``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

import dataclasses
import re

from flax import nnx

from zoo.architectures.efficientnet import MBConvNet, SERule
from zoo.architectures.ghostnet import GhostNet, GhostNetConfig
from zoo.architectures.lcnetv2 import LCNetV2, LCNetV2Config
from zoo.architectures.mobilevit import MobileViT, MobileViTConfig, MobileViTStage
from zoo.architectures.rexnet import RexNet, RexNetConfig
from zoo.converters.timm_efficientnets import EFFICIENTNET_ARCHS, BuilderArch, BuilderVariant, builder_config
from zoo.converters.timm_families import _arguments, _check_pool, _mbconv_options

# timm 1.0.31's _gen_mobilenet_v4 arch_def tables (mobilenetv3.py): stem unscaled
# below width 1.0, head 1280 unscaled after pooling: 1×1 conv (no bias) → BN → act.
_MNV4 = dict(scale_head=False, fix_stem_below=1.0, head="pool_conv_bn", act="relu")
_MNV4_MEDIUM_START = ("er_r1_k3_s2_e4_c48", ("uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"))
_MNV4_LARGE_START = ("er_r1_k3_s2_e4_c48", ("uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"))
_MNV4_HEAD = "cn_r1_k1_s1_c960"
MOBILENET_V4_ARCHS = {
    "conv_small": BuilderArch((("cn_r1_k3_s2_e1_c32", "cn_r1_k1_s1_e1_c32"), ("cn_r1_k3_s2_e1_c96", "cn_r1_k1_s1_e1_c64"),
                               ("uir_r1_a5_k5_s2_e3_c96", "uir_r4_a0_k3_s1_e2_c96", "uir_r1_a3_k0_s1_e4_c96"),
                               ("uir_r1_a3_k3_s2_e6_c128", "uir_r1_a5_k5_s1_e4_c128", "uir_r1_a0_k5_s1_e4_c128",
                                "uir_r1_a0_k5_s1_e3_c128", "uir_r2_a0_k3_s1_e4_c128"), _MNV4_HEAD),
                              32, 1280, **_MNV4),
    "conv_medium": BuilderArch((*_MNV4_MEDIUM_START,
                                ("uir_r1_a3_k5_s2_e6_c160", "uir_r2_a3_k3_s1_e4_c160", "uir_r1_a3_k5_s1_e4_c160",
                                 "uir_r1_a3_k3_s1_e4_c160", "uir_r1_a3_k0_s1_e4_c160", "uir_r1_a0_k0_s1_e2_c160",
                                 "uir_r1_a3_k0_s1_e4_c160"),
                                ("uir_r1_a5_k5_s2_e6_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a3_k5_s1_e4_c256",
                                 "uir_r1_a0_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256", "uir_r1_a3_k5_s1_e2_c256",
                                 "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a0_k0_s1_e4_c256", "uir_r1_a5_k0_s1_e2_c256"),
                                _MNV4_HEAD), 32, 1280, **_MNV4),
    "conv_large": BuilderArch((*_MNV4_LARGE_START,
                               ("uir_r1_a3_k5_s2_e4_c192", "uir_r3_a3_k3_s1_e4_c192", "uir_r1_a3_k5_s1_e4_c192",
                                "uir_r5_a5_k3_s1_e4_c192", "uir_r1_a3_k0_s1_e4_c192"),
                               ("uir_r4_a5_k5_s2_e4_c512", "uir_r1_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512",
                                "uir_r2_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512", "uir_r1_a5_k5_s1_e4_c512",
                                "uir_r3_a5_k0_s1_e4_c512"), _MNV4_HEAD), 24, 1280, **_MNV4),
    "hybrid_medium": BuilderArch((*_MNV4_MEDIUM_START,
                                  ("uir_r1_a3_k5_s2_e6_c160", "uir_r1_a0_k0_s1_e2_c160", "uir_r1_a3_k3_s1_e4_c160",
                                   "uir_r1_a3_k5_s1_e4_c160", "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k3_s1_e4_c160",
                                   "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k0_s1_e4_c160",
                                   "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k3_s1_e4_c160",
                                   "mqa_r1_k3_h4_s1_v2_d64_c160", "uir_r1_a3_k0_s1_e4_c160"),
                                  ("uir_r1_a5_k5_s2_e6_c256", "uir_r1_a5_k5_s1_e4_c256", "uir_r2_a3_k5_s1_e4_c256",
                                   "uir_r1_a0_k0_s1_e2_c256", "uir_r1_a3_k5_s1_e2_c256", "uir_r1_a0_k0_s1_e2_c256",
                                   "uir_r1_a0_k0_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256", "uir_r1_a3_k0_s1_e4_c256",
                                   "mqa_r1_k3_h4_s1_d64_c256", "uir_r1_a5_k5_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256",
                                   "uir_r1_a5_k0_s1_e4_c256", "mqa_r1_k3_h4_s1_d64_c256", "uir_r1_a5_k0_s1_e4_c256"),
                                  _MNV4_HEAD), 32, 1280, layer_scale=True, **_MNV4),
    "hybrid_large": BuilderArch((*_MNV4_LARGE_START,
                                 ("uir_r1_a3_k5_s2_e4_c192", "uir_r3_a3_k3_s1_e4_c192", "uir_r1_a3_k5_s1_e4_c192",
                                  "uir_r2_a5_k3_s1_e4_c192", "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192",
                                  "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192",
                                  "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a5_k3_s1_e4_c192",
                                  "mqa_r1_k3_h8_s1_v2_d48_c192", "uir_r1_a3_k0_s1_e4_c192"),
                                 ("uir_r4_a5_k5_s2_e4_c512", "uir_r1_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512",
                                  "uir_r2_a5_k0_s1_e4_c512", "uir_r1_a5_k3_s1_e4_c512", "uir_r1_a5_k5_s1_e4_c512",
                                  "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512", "mqa_r1_k3_h8_s1_d64_c512",
                                  "uir_r1_a5_k0_s1_e4_c512", "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512",
                                  "mqa_r1_k3_h8_s1_d64_c512", "uir_r1_a5_k0_s1_e4_c512"),
                                 _MNV4_HEAD), 24, 1280, layer_scale=True, **{**_MNV4, "act": "gelu"}),
}
# timm 1.0.31's mobilenetv4_* entry points (width multiplier; aa_layer of the conv_aa / conv_blur ones).
MOBILENET_V4_CONV_VARIANTS = {
    "mobilenetv4_conv_small_035": BuilderVariant("conv_small", 0.35),
    "mobilenetv4_conv_small_050": BuilderVariant("conv_small", 0.5),
    "mobilenetv4_conv_small": BuilderVariant("conv_small"), "mobilenetv4_conv_medium": BuilderVariant("conv_medium"),
    "mobilenetv4_conv_large": BuilderVariant("conv_large"),
    "mobilenetv4_conv_aa_medium": BuilderVariant("conv_medium", anti_alias="avg"),
    "mobilenetv4_conv_blur_medium": BuilderVariant("conv_medium", anti_alias="blurpc"),
    "mobilenetv4_conv_aa_large": BuilderVariant("conv_large", anti_alias="avg"),
}
MOBILENET_V4_HYBRID_VARIANTS = {
    "mobilenetv4_hybrid_medium": BuilderVariant("hybrid_medium"), "mobilenetv4_hybrid_large": BuilderVariant("hybrid_large"),
    "mobilenetv4_hybrid_medium_075": BuilderVariant("hybrid_medium", 0.75),
    "mobilenetv4_hybrid_large_075": BuilderVariant("hybrid_large", 0.75),
}

# timm 1.0.31's _gen_fbnetv3 (channels and SE widths make_divisible(·, round_limit 0.95), SE from the
# block input: ratio / expansion, with the block's activation and a hard-sigmoid gate; head 1984 without
# bias), _gen_mobilenet_v3_rw (SE round(mid/4) with the block's activation; head without bias) and
# _gen_hardcorenas (MobileNetV3's SE: ReLU inside, make_divisible(mid/4); stem 32).
_FBNET_V3 = dict(scale_head=False, round_limit=0.95, act="hard_swish", head="pool_conv", head_bias=False,
                 se_rule=SERule(make_divisible=True, round_limit=0.95), se_gate="hard_sigmoid")
_HARDCORENAS = dict(scale_head=False, act="hard_swish", head="pool_conv", se_gate="hard_sigmoid", se_act="relu",
                    se_rule=SERule(from_expansion=True, make_divisible=True))
MOBILENET_V3_MORE_ARCHS = {
    "fbnetv3_b": BuilderArch(("ds_r2_k3_s1_e1_c16", ("ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"),
                              ("ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"),
                              ("ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"),
                              ("ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"),
                              ("ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25"),
                              "cn_r1_k1_s1_c1344"), 16, 1984, **_FBNET_V3),
    "fbnetv3_d": BuilderArch(("ds_r2_k3_s1_e1_c16", ("ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24"),
                              ("ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25"),
                              ("ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72"),
                              ("ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25"),
                              ("ir_r1_k3_s2_e6_c208_se0.25", "ir_r5_k5_s1_e5_c208_se0.25", "ir_r1_k5_s1_e6_c240_se0.25"),
                              "cn_r1_k1_s1_c1440"), 24, 1984, **_FBNET_V3),
    "fbnetv3_g": BuilderArch(("ds_r3_k3_s1_e1_c24", ("ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40"),
                              ("ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25"),
                              ("ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104"),
                              ("ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25"),
                              ("ir_r1_k3_s2_e6_c264_se0.25", "ir_r6_k5_s1_e5_c264_se0.25", "ir_r2_k5_s1_e6_c288_se0.25"),
                              "cn_r1_k1_s1_c1728"), 32, 1984, **_FBNET_V3),
    "mobilenetv3_rw": BuilderArch(("ds_r1_k3_s1_e1_c16_nre_noskip", ("ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"),
                                   "ir_r3_k5_s2_e3_c40_se0.25_nre",
                                   ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
                                   "ir_r2_k3_s1_e6_c112_se0.25", "ir_r3_k5_s2_e6_c160_se0.25", "cn_r1_k1_s1_c960"),
                                  16, 1280, scale_head=False, act="hard_swish", head="pool_conv", head_bias=False,
                                  se_rule=SERule(from_expansion=True), se_gate="hard_sigmoid"),
}
MOBILENET_V3_MORE_VARIANTS = {name: BuilderVariant(name) for name in MOBILENET_V3_MORE_ARCHS}

# timm 1.0.31's hardcorenas_{a..f} arch_def tables (hardcorenas.py).
_HARDCORENAS_HEAD = ("ds_r1_k3_s1_e1_c16_nre",)
HARDCORENAS_ARCHS = {f"hardcorenas_{letter}": BuilderArch(_HARDCORENAS_HEAD + stages + ("cn_r1_k1_s1_c960",), 32, 1280,
                                                          **_HARDCORENAS) for letter, stages in {
    "a": (("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
          ("ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e6_c40_nre_se0.25"),
          ("ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25"),
          ("ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25")),
    "b": (("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25", "ir_r1_k3_s1_e3_c24_nre"),
          ("ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre"),
          ("ir_r1_k5_s2_e3_c80", "ir_r1_k5_s1_e3_c80", "ir_r1_k3_s1_e3_c80", "ir_r1_k3_s1_e3_c80"),
          ("ir_r1_k5_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k3_s1_e3_c192_se0.25")),
    "c": (("ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
          ("ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre", "ir_r1_k5_s1_e3_c40_nre"),
          ("ir_r1_k5_s2_e4_c80", "ir_r1_k5_s1_e6_c80_se0.25", "ir_r1_k3_s1_e3_c80", "ir_r1_k3_s1_e3_c80"),
          ("ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112", "ir_r1_k3_s1_e3_c112"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k3_s1_e3_c192_se0.25")),
    "d": (("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
          ("ir_r1_k5_s2_e3_c40_nre_se0.25", "ir_r1_k5_s1_e4_c40_nre_se0.25", "ir_r1_k3_s1_e3_c40_nre_se0.25"),
          ("ir_r1_k5_s2_e4_c80_se0.25", "ir_r1_k3_s1_e3_c80_se0.25", "ir_r1_k3_s1_e3_c80_se0.25",
           "ir_r1_k3_s1_e3_c80_se0.25"),
          ("ir_r1_k3_s1_e4_c112_se0.25", "ir_r1_k5_s1_e4_c112_se0.25", "ir_r1_k3_s1_e3_c112_se0.25",
           "ir_r1_k5_s1_e3_c112_se0.25"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25",
           "ir_r1_k3_s1_e6_c192_se0.25")),
    "e": (("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
          ("ir_r1_k5_s2_e6_c40_nre_se0.25", "ir_r1_k5_s1_e4_c40_nre_se0.25", "ir_r1_k5_s1_e4_c40_nre_se0.25",
           "ir_r1_k3_s1_e3_c40_nre_se0.25"),
          ("ir_r1_k5_s2_e4_c80_se0.25", "ir_r1_k3_s1_e6_c80_se0.25"),
          ("ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25",
           "ir_r1_k5_s1_e3_c112_se0.25"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25",
           "ir_r1_k3_s1_e6_c192_se0.25")),
    "f": (("ir_r1_k5_s2_e3_c24_nre_se0.25", "ir_r1_k5_s1_e3_c24_nre_se0.25"),
          ("ir_r1_k5_s2_e6_c40_nre_se0.25", "ir_r1_k5_s1_e6_c40_nre_se0.25"),
          ("ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25", "ir_r1_k3_s1_e3_c80_se0.25",
           "ir_r1_k3_s1_e3_c80_se0.25"),
          ("ir_r1_k3_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25",
           "ir_r1_k3_s1_e3_c112_se0.25"),
          ("ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25", "ir_r1_k3_s1_e6_c192_se0.25",
           "ir_r1_k3_s1_e6_c192_se0.25")),
}.items()}
HARDCORENAS_VARIANTS = {name: BuilderVariant(name) for name in HARDCORENAS_ARCHS}

# timm 1.0.31's _gen_mobilenet_v1 (efficientnet.py): "dsa" blocks, ReLU6, stem 32 scaled, no head conv
# (the pooled last stage is the embedding) unless head_conv (``mobilenetv1_100h``: 1×1 conv → BN → act,
# max(1024, scaled 1024) channels).
_MOBILENET_V1_STAGES = ("dsa_r1_k3_s1_c64", "dsa_r2_k3_s2_c128", "dsa_r2_k3_s2_c256", "dsa_r6_k3_s2_c512",
                        "dsa_r2_k3_s2_c1024")
MOBILENET_V1_ARCHS = {
    "mobilenetv1": BuilderArch(_MOBILENET_V1_STAGES, 32, 0, scale_head=False, act="relu6", head="none"),
    "mobilenetv1_head": BuilderArch(_MOBILENET_V1_STAGES, 32, 1024, act="relu6", head_min=1024),
}
MOBILENET_V1_VARIANTS = {"mobilenetv1_100": BuilderVariant("mobilenetv1"),
                         "mobilenetv1_100h": BuilderVariant("mobilenetv1_head"),
                         "mobilenetv1_125": BuilderVariant("mobilenetv1", 1.25)}

def _edgetpu_v2(channels: tuple[int, ...], head: int, stem: int = 64, stem_kernel: int = 5,
                group_size: int = 64) -> BuilderArch:
  """timm 1.0.31's _gen_mobilenet_edgetpu for MobileNet-EdgeTPU-v2: fused "er" stages (some with
  grouped expansions, gs), then "ir" stages; ReLU; stem 64 with a 5×5 kernel (xs: 32, 3×3)."""
  c, gs = channels, group_size
  return BuilderArch((f"cn_r1_k1_s1_c{c[0]}", (f"er_r1_k3_s2_e8_c{c[1]}", f"er_r1_k3_s1_e4_gs{gs}_c{c[1]}"),
                      (f"er_r1_k3_s2_e8_c{c[2]}", f"er_r1_k3_s1_e4_gs{gs}_c{c[2]}", f"er_r1_k3_s1_e4_c{c[2]}",
                       f"er_r1_k3_s1_e4_gs{gs}_c{c[2]}"),
                      (f"er_r1_k3_s2_e8_c{c[3]}", f"ir_r3_k3_s1_e4_c{c[3]}"),
                      (f"ir_r1_k3_s1_e8_c{c[4]}", f"ir_r3_k3_s1_e4_c{c[4]}"),
                      (f"ir_r1_k3_s2_e8_c{c[5]}", f"ir_r3_k3_s1_e4_c{c[5]}"), f"ir_r1_k3_s1_e8_c{c[6]}"),
                     stem, head, scale_head=False, act="relu", stem_kernel=stem_kernel)


# timm 1.0.31's _gen_efficientnet_condconv (EfficientNet-B0's stages, CondConv with 4 experts · the
# variant's experts_multiplier in the last three; tf_ ports: TF padding, BN ε 1e-3) and
# _gen_test_efficientnet (a 5-stage test net, channels rounded with round_limit 0, head 256); MobileNet-EdgeTPU-v2-M;
# gc_efficientnetv2_rw_t.
EFFICIENTNET_MORE_ARCHS = {
    "condconv": BuilderArch(("ds_r1_k3_s1_e1_c16_se0.25", "ir_r2_k3_s2_e6_c24_se0.25", "ir_r2_k5_s2_e6_c40_se0.25",
                             "ir_r3_k3_s2_e6_c80_se0.25", "ir_r3_k5_s1_e6_c112_se0.25_cc4",
                             "ir_r4_k5_s2_e6_c192_se0.25_cc4", "ir_r1_k3_s1_e6_c320_se0.25_cc4"), 32, 1280),
    "test_efficientnet": BuilderArch(("cn_r1_k3_s1_e1_c16_skip", "er_r1_k3_s2_e4_c24", "er_r1_k3_s2_e4_c32",
                                      "ir_r1_k3_s2_e4_c48_se0.25", "ir_r1_k3_s2_e4_c64_se0.25"), 24, 256,
                                     round_limit=0.0),
    "edgetpu_v2_m": _edgetpu_v2((32, 64, 80, 160, 192, 240, 320), 1344),
    # _gen_efficientnet_x version 1 / 2 (EfficientNet-X / -H): a space-to-depth first stage (d1), ReLU "er" stages
    "efficientnet_x": BuilderArch(("ds_r1_k3_s1_e1_c16_se0.25_d1", "er_r2_k3_s2_e6_c24_se0.25_nre",
                                   "er_r2_k5_s2_e6_c40_se0.25_nre", "ir_r3_k3_s2_e6_c80_se0.25",
                                   "ir_r3_k5_s1_e6_c112_se0.25", "ir_r4_k5_s2_e6_c192_se0.25",
                                   "ir_r1_k3_s1_e6_c320_se0.25"), 32, 1280),
    "efficientnet_h": BuilderArch(("ds_r1_k3_s1_e1_c16_se0.25_d1", "er_r2_k3_s2_e4_c24_se0.25_nre",
                                   "er_r2_k5_s2_e4_c40_se0.25_nre", "ir_r3_k3_s2_e4_c80_se0.25",
                                   "ir_r3_k5_s1_e6_c112_se0.25", "ir_r4_k5_s2_e6_c192_se0.25",
                                   "ir_r1_k3_s1_e6_c320_se0.25"), 32, 1280),
    # _gen_efficientnetv2_s with se_layer='gc': GlobalContext, make_divisible(mid · ratio / e, 1, round_limit 0)
    "s_gc": dataclasses.replace(EFFICIENTNET_ARCHS["s"], se_layer="gc",
                                se_rule=SERule(make_divisible=True, round_limit=0.0, divisor=1)),
}
CONDCONV_VARIANTS = {
    "tf_efficientnet_cc_b0_4e": BuilderVariant("condconv", tf=True),
    "tf_efficientnet_cc_b0_8e": BuilderVariant("condconv", tf=True, experts_multiplier=2),
    "tf_efficientnet_cc_b1_8e": BuilderVariant("condconv", 1.0, 1.1, tf=True, experts_multiplier=2),
}
TEST_EFFICIENTNET_VARIANTS = {"test_efficientnet": BuilderVariant("test_efficientnet"),
                              "test_efficientnet_gn": BuilderVariant("test_efficientnet", norm="group"),
                              "test_efficientnet_ln": BuilderVariant("test_efficientnet", norm="layer")}
EDGETPU_V2_VARIANTS = {"mobilenet_edgetpu_v2_m": BuilderVariant("edgetpu_v2_m")}
GC_EFFICIENTNET_V2_VARIANTS = {"gc_efficientnetv2_rw_t": BuilderVariant("s_gc", 0.8, 0.9)}
EFFICIENTNET_X_VARIANTS = {"efficientnet_x_b3": BuilderVariant("efficientnet_x", 1.2, 1.4),
                           "efficientnet_x_b5": BuilderVariant("efficientnet_x", 1.6, 2.2),
                           "efficientnet_h_b5": BuilderVariant("efficientnet_h", 1.92, 2.2)}

ARCHS = {**MOBILENET_V4_ARCHS, **MOBILENET_V3_MORE_ARCHS, **HARDCORENAS_ARCHS, **MOBILENET_V1_ARCHS,
         **EFFICIENTNET_MORE_ARCHS}
VARIANTS = {**MOBILENET_V4_CONV_VARIANTS, **MOBILENET_V4_HYBRID_VARIANTS, **MOBILENET_V3_MORE_VARIANTS,
            **HARDCORENAS_VARIANTS, **MOBILENET_V1_VARIANTS, **CONDCONV_VARIANTS, **TEST_EFFICIENTNET_VARIANTS,
            **EDGETPU_V2_VARIANTS, **GC_EFFICIENTNET_V2_VARIANTS, **EFFICIENTNET_X_VARIANTS}


# Entry points that set BN ε 1e-3 without TF padding (timm's kwargs.setdefault('bn_eps', BN_EPS_TF_DEFAULT)).
_TF_BN_EPS = {"mobilenetv3_rw": 1e-3}


def build_mobile_variant(name: str, config: dict) -> nnx.Module:
  """timm's ``mobilenetv4_*`` / ``fbnetv3_*`` / ``mobilenetv3_rw`` / ``hardcorenas_*`` / ``mobilenetv1_*``: the VARIANTS
  row through zoo.converters.timm_efficientnets.builder_config; ``model_args`` bn_eps, pad_type,
  global_pool ("avg")."""
  variant = VARIANTS[name]
  options = _mbconv_options(name, config, variant.tf)
  if name in _TF_BN_EPS and "bn_eps" not in (config.get("model_args") or {}):
    options["batch_norm_eps"] = _TF_BN_EPS[name]
  return MBConvNet(builder_config(variant, ARCHS, **options), rngs=nnx.Rngs(0))


# --- MobileViT (mobilevit.py) ----------------------------------------------------------------

def _mobilevit_v1(stem: int, channels: tuple[int, ...], widths: tuple[int, ...], num_features: int,
                  ratio: float = 4.0) -> MobileViTConfig:
  """timm's mobilevit_{xxs,xs,s} model_cfgs: inverted bottlenecks (1, 3 deep) then three stages of
  one bottleneck + a MobileViT block (transformer depths 2, 4, 3 at ``widths``, patch 2)."""
  stages = (MobileViTStage(1, channels[0], 1, ratio), MobileViTStage(3, channels[1], 2, ratio),
            *(MobileViTStage(1, c, 2, ratio, depth, width) for c, width, depth in zip(channels[2:], widths, (2, 4, 3))))
  return MobileViTConfig(1, stem, stages, num_features)


def _mobilevit_v2(multiplier: float) -> MobileViTConfig:
  """timm's _mobilevitv2_cfg: channels int(c · multiplier) of (64, 128, 256, 384, 512), stem
  int(32 · multiplier), bottleneck ratio 2, transformer depths 2, 4, 3 (patch 2), no final conv."""
  c = [int(width * multiplier) for width in (64, 128, 256, 384, 512)]
  stages = (MobileViTStage(1, c[0], 1, 2.0), MobileViTStage(2, c[1], 2, 2.0),
            *(MobileViTStage(1, width, 2, 2.0, depth) for width, depth in zip(c[2:], (2, 4, 3))))
  return MobileViTConfig(2, int(32 * multiplier), stages)


MOBILEVIT_VARIANTS = {
    "mobilevit_xxs": _mobilevit_v1(16, (16, 24, 48, 64, 80), (64, 80, 96), 320, ratio=2.0),
    "mobilevit_xs": _mobilevit_v1(16, (32, 48, 64, 80, 96), (96, 120, 144), 384),
    "mobilevit_s": _mobilevit_v1(16, (32, 64, 96, 128, 160), (144, 192, 240), 640),
    **{f"mobilevitv2_{width}": _mobilevit_v2(int(width) / 100)
       for width in ("050", "075", "100", "125", "150", "175", "200")},
}


def build_mobilevit(name: str, config: dict) -> nnx.Module:
  """``mobilevit_{xxs,xs,s}`` / ``mobilevitv2_*``: timm's ByobNet with the MOBILEVIT_VARIANTS row;
  ``model_args`` global_pool ("avg")."""
  arguments = _arguments(name, config, {"global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  return MobileViT(dataclasses.replace(MOBILEVIT_VARIANTS[name], num_classes=arguments["num_classes"],
                                       num_channels=arguments["in_chans"]), rngs=nnx.Rngs(0))


# --- ReXNet (rexnet.py) ----------------------------------------------------------------------

# timm 1.0.31's rexnet_* / rexnetr_* entry points: width_mult, ch_div.
REXNET_VARIANTS = {
    **{f"rexnet_{width}": RexNetConfig(int(width) / 100) for width in ("100", "130", "150", "200", "300")},
    **{f"rexnetr_{width}": RexNetConfig(int(width) / 100, ch_div=8) for width in ("100", "130", "150", "200")},
    "rexnetr_300": RexNetConfig(3.0, ch_div=16),
}


def build_rexnet(name: str, config: dict) -> nnx.Module:
  """``rexnet_*`` / ``rexnetr_*``: timm's RexNet with the REXNET_VARIANTS row; ``model_args``
  global_pool ("avg")."""
  arguments = _arguments(name, config, {"global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  return RexNet(dataclasses.replace(REXNET_VARIANTS[name], num_classes=arguments["num_classes"],
                                    num_channels=arguments["in_chans"]), rngs=nnx.Rngs(0))


# --- GhostNet V1 / V2 (ghostnet.py), RepGhostNet (repghost.py) ---------------------------------

# timm 1.0.31's ghostnet_* / ghostnetv2_* / repghostnet_* entry points: width (and version).
GHOSTNET_VARIANTS = {f"ghostnet_{width}": GhostNetConfig("v1", int(width) / 100) for width in ("050", "100", "130")}
GHOSTNET_V2_VARIANTS = {f"ghostnetv2_{width}": GhostNetConfig("v2", int(width) / 100) for width in ("100", "130", "160")}
GHOSTNET_V3_VARIANTS = {f"ghostnetv3_{width}": GhostNetConfig("v3", int(width) / 100)
                        for width in ("050", "100", "130", "160")}
REPGHOST_VARIANTS = {f"repghostnet_{width}": GhostNetConfig("rep", int(width) / 100)
                     for width in ("050", "058", "080", "100", "111", "130", "150", "200")}
_GHOST_TABLES = {**GHOSTNET_VARIANTS, **GHOSTNET_V2_VARIANTS, **GHOSTNET_V3_VARIANTS, **REPGHOST_VARIANTS}


def build_ghostnet(name: str, config: dict) -> nnx.Module:
  """``ghostnet_*`` / ``ghostnetv2_*`` / ``ghostnetv3_*`` / ``repghostnet_*``: timm's GhostNet / RepGhostNet with the
  table's row; ``model_args`` global_pool ("avg")."""
  arguments = _arguments(name, config, {"global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  return GhostNet(dataclasses.replace(_GHOST_TABLES[name], num_classes=arguments["num_classes"],
                                      num_channels=arguments["in_chans"]), rngs=nnx.Rngs(0))


# --- PP-LCNetV2 (lcnetv2.py) ------------------------------------------------------------------

# timm 1.0.31's lcnetv2_* entry points: scale, depths.
LCNETV2_VARIANTS = {"lcnetv2_small": LCNetV2Config(0.75, (2, 2, 4, 2)), "lcnetv2_base": LCNetV2Config(1.0, (2, 2, 6, 2)),
                    "lcnetv2_large": LCNetV2Config(1.25, (2, 2, 8, 2))}


def build_lcnetv2(name: str, config: dict) -> nnx.Module:
  """``lcnetv2_*``: timm's LCNetV2 with the LCNETV2_VARIANTS row; ``model_args`` global_pool ("avg")."""
  arguments = _arguments(name, config, {"global_pool"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  return LCNetV2(dataclasses.replace(LCNETV2_VARIANTS[name], num_classes=arguments["num_classes"],
                                     num_channels=arguments["in_chans"]), rngs=nnx.Rngs(0))


def _pattern(variants: dict) -> str:
  return "|".join(map(re.escape, variants))


# One pattern per timm model file (tests/test_timm_family_parity.py checks each pattern's smallest
# variant in CI; benchmarks/timm_coverage.py checks every variant).
ENTRIES: dict[str, dict] = {
    _pattern({**MOBILENET_V4_CONV_VARIANTS, **MOBILENET_V4_HYBRID_VARIANTS, **MOBILENET_V3_MORE_VARIANTS}):
        dict(build=build_mobile_variant, renames=()),  # mobilenetv3.py
    _pattern(HARDCORENAS_VARIANTS): dict(build=build_mobile_variant, renames=()),
    _pattern({**MOBILENET_V1_VARIANTS, **CONDCONV_VARIANTS, **EDGETPU_V2_VARIANTS, **GC_EFFICIENTNET_V2_VARIANTS,
              **EFFICIENTNET_X_VARIANTS, **TEST_EFFICIENTNET_VARIANTS}):
        dict(build=build_mobile_variant, renames=()),  # efficientnet.py
    _pattern(MOBILEVIT_VARIANTS): dict(build=build_mobilevit, renames=(
        (r"^head\.fc\.", "head."), (r"\.attn\.proj\.", ".attn.out."))),
    _pattern(REXNET_VARIANTS): dict(build=build_rexnet, renames=((r"^head\.fc\.", "head."),)),
    _pattern({**GHOSTNET_VARIANTS, **GHOSTNET_V2_VARIANTS, **GHOSTNET_V3_VARIANTS}): dict(build=build_ghostnet,
                                                                                           renames=()),
    _pattern(REPGHOST_VARIANTS): dict(build=build_ghostnet, renames=()),
    _pattern(LCNETV2_VARIANTS): dict(build=build_lcnetv2, renames=()),
}
