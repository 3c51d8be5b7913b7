"""Parity of zoo.load_timm with timm's own PyTorch modules for the families of
zoo.converters.timm_efficientnets: EfficientNetV2 (``tf_efficientnetv2_*`` with TF "SAME"
padding and BN ε 1e-3; ``efficientnetv2_rw_*`` with PyTorch padding; conv "cn" and fused-MBConv
"er" blocks, SE inverted residuals), EfficientNet-EdgeTPU, EfficientNet-Lite and MobileNetV3
(hard-swish, hard-sigmoid SE, the head conv after pooling), MnasNet / SemNASNet / SPNASNet /
FBNet-C, TinyNet, MixNet and PP-LCNet, every variant decoded from timm's arch strings.

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every batch-norm statistic moved from its default, exported with timm's
``save_for_hf``). Each case is a smallest variant at full width and depth on a 32-px image;
logits and pre-logits must agree to 1e-4 relative to the reference's largest magnitude (and
the harness's absolute tolerance). Every variant of the tables is checked tensor by tensor
(name and shape) against the state dict of timm's model, built on the meta device.
"""

from __future__ import annotations

import re

import pytest

from zoo.architectures.efficientnet import decode_stage
from zoo.converters import timm as timm_converter
from zoo.converters import timm_efficientnets
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness


CASES = [
    # EfficientNetV2-B0, TF port: SAME padding, ε 1e-3, round_limit 0 channels, cn block with skip
    dict(name="tf_efficientnetv2_b0", architecture="tf_efficientnetv2_b0", kwargs=dict(num_classes=5)),
    # EfficientNetV2-T (rw): PyTorch padding, width 0.8 / depth 0.9 scaling, scaled head
    dict(name="efficientnetv2_rw_t", architecture="efficientnetv2_rw_t", kwargs=dict(num_classes=5)),
    # EfficientNet-EdgeTPU-S: ReLU, "er" blocks with a forced expansion input (fc24) and noskip
    dict(name="efficientnet_es", architecture="efficientnet_es", kwargs=dict(num_classes=5)),
    # EfficientNet-Lite0, TF port: ReLU6, no SE, fixed stem and head
    dict(name="tf_efficientnet_lite0", architecture="tf_efficientnet_lite0", kwargs=dict(num_classes=5)),
    # MobileNetV3-Small at width 0.5: hard-swish, ReLU ("nre") stages, hard-sigmoid SE, several rows per
    # stage, unscaled stem, head conv after pooling
    dict(name="mobilenetv3_small_050", architecture="mobilenetv3_small_050", kwargs=dict(num_classes=5)),
    # MobileNetV3-Large-Minimal, TF port: ReLU throughout, no SE, SAME padding
    dict(name="tf_mobilenetv3_large_minimal_100", architecture="tf_mobilenetv3_large_minimal_100",
         kwargs=dict(num_classes=5)),
    # MnasNet-Small: ReLU, stem 8, SE on ReLU inverted residuals
    dict(name="mnasnet_small", architecture="mnasnet_small", kwargs=dict(num_classes=5)),
    # TinyNet-E: EfficientNet-B0 stages at width 0.51, "round" depth 0.6, fixed stem, head ≥ 1280
    dict(name="tinynet_e", architecture="tinynet_e", kwargs=dict(num_classes=5)),
    # MixNet-S, TF port: mixed depthwise kernels (3…11, SAME per split), grouped 1×1 convs, swish stages
    dict(name="tf_mixnet_s", architecture="tf_mixnet_s", kwargs=dict(num_classes=5)),
    # PP-LCNet at width 0.5: "dsa" blocks (act after the 1×1, no skip), ReLU/hard-sigmoid SE, pooled head
    dict(name="lcnet_050", architecture="lcnet_050", kwargs=dict(num_classes=5)),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
  case.setdefault("calibration", 8)  # batch-norm statistics over a few more images
SHAPES = [dict(name=name, architecture=name, kwargs=dict(num_classes=1000))
          for name in timm_efficientnets.VARIANTS]
RELATIVE_TOLERANCE = 1e-4


timm_exports = timm_parity.exports_fixture("timm_efficientnets", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_efficientnets_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


def test_every_variant_maps_timm_state_dict(timm_exports):
  """Every tensor of timm's model of each variant (name and shape on the meta device, no
weights) maps onto a parameter of the variant's abstract nnx module (eval_shape, no FLOPs) with
that shape after the layout change, and every parameter gets one."""
  timm_parity.assert_every_variant_maps(timm_exports, SHAPES)


@pytest.mark.parametrize("architecture, model_args, message", [
    ("tf_efficientnetv2_b0", {"global_pool": "max"}, "global_pool 'max'"),
    ("tf_efficientnetv2_b0", {"pad_type": "valid"}, "pad_type 'valid'"),
    ("efficientnetv2_rw_t", {"act_layer": "relu"}, r"\['act_layer'\]"),
    ("efficientnetv2_rw_t", {"channel_multiplier": 2.0}, r"\['channel_multiplier'\]"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)


@pytest.mark.parametrize("text, message", [
    ("mha_r1_h4_c32", "block type 'mha'"),  # timm's multi-head attention block (MobileNetV4-hybrid has mqa only)
    ("ir_r1_k3_s1_e4_c32_x2", "option 'x2'"),
    ("ir_r1_k3_s1.5_e4_c32", "option 's1.5'"),
    ("ir_r1_k3_s1_e4_c32_a1.3", "option 'a1.3'"),
    ("er_r1_k3_s2_e4", "no output channels"),
])
def test_arch_string_decoder_rejects_unsupported_options(text, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    decode_stage(text)


def test_arch_string_decoder_reads_timm_notation():
  row = decode_stage("ir_r15_k3_s2_e6_c272_se0.25")
  assert (row.kind, row.repeats, row.kernel_size, row.stride, row.expansion, row.channels, row.se_ratio, row.skip) == (
      "ir", 15, 3, 2, 6.0, 272, 0.25, None)
  assert decode_stage("cn_r2_k3_s1_e1_c24_skip").skip is True
  assert decode_stage("ds_r1_k3_s1_c16_noskip").skip is False
  assert decode_stage("er_r1_k3_s1_e4_c24_fc24_noskip").force_in == 24
  assert decode_stage("ir_r1_k3_s2_e4.5_c24_nre").act == "relu"
  mixed = decode_stage("ir_r2_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw")
  assert (mixed.kernel_size, mixed.expand_groups, mixed.project_groups, mixed.act) == ((3, 5, 7, 9), 2, 2, "swish")
