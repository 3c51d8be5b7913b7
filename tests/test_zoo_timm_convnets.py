"""Parity of zoo.load_timm with timm's own PyTorch modules for the convolutional families of
zoo.converters.timm_convnets (ConvNeXt V1/V2, RegNet X/Y, ResNetV2 BiT), through tests/timm_reference.py
in the timm environment (random weights, every norm scale, bias and running statistic moved
from its default; see tests/test_zoo_timm.py).

Per family its smallest pretrained variant at full size (64 px, batch 2) and reduced configs
(timm keyword arguments) for each option the variant table uses; logits and embeddings
(timm's ``forward_head(x, pre_logits=True)``) must agree to 1e-4 in float32. Every variant
of the tables is checked tensor by tensor against timm's state dict (built on the meta
device: names and shapes, no weights, no FLOPs).
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters import timm_convnets
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness


_SMALL_CONVNEXT = dict(depths=[1, 1, 2, 1], dims=[16, 24, 32, 40], num_classes=5)
CASES = [
    # ConvNeXt: the smallest pretrained V1 and V2 in full, reduced configs for every other option
    dict(name="convnext_zepto_rms_ols", architecture="convnext_zepto_rms_ols", kwargs={}, resolution=64),  # SimpleNorm, GELU stem
    dict(name="convnextv2_atto", architecture="convnextv2_atto", kwargs={}, resolution=64),  # GRN, 1×1-conv MLP
    dict(name="convnext_tiny_reduced", architecture="convnext_tiny", kwargs=_SMALL_CONVNEXT, resolution=64),  # Linear MLP
    dict(name="convnextv2_tiny_reduced", architecture="convnextv2_tiny", kwargs=_SMALL_CONVNEXT, resolution=64),
    dict(name="convnext_atto_ols_reduced", architecture="convnext_atto_ols", kwargs=_SMALL_CONVNEXT, resolution=64),
    dict(name="convnext_tiny_hnf_reduced", architecture="convnext_tiny_hnf", kwargs=_SMALL_CONVNEXT, resolution=64),
    dict(name="convnext_large_mlp_reduced", architecture="convnext_large_mlp",
         kwargs=dict(_SMALL_CONVNEXT, head_hidden_size=24), resolution=64),
    dict(name="convnext_xxlarge_reduced", architecture="convnext_xxlarge", kwargs=_SMALL_CONVNEXT, resolution=64),  # ε 1e-5
    # RegNet: the smallest X and Y in full; torchvision's width rounding (group_min_ratio) reduced
    dict(name="regnetx_002", architecture="regnetx_002", kwargs={}, resolution=64, calibration=8),
    dict(name="regnety_002", architecture="regnety_002", kwargs={}, resolution=64, calibration=8),
    dict(name="regnety_008_tv_reduced", architecture="regnety_008_tv", kwargs=dict(w0=16, wa=20, wm=1.8, depth=6, group_size=12, num_classes=5),
         resolution=64, calibration=8),
    # ResNetV2 BiT: the smallest in full; a widened one with narrow stages (its entry point fixes the depths)
    dict(name="resnetv2_50x1_bit", architecture="resnetv2_50x1_bit", kwargs={}, resolution=64),
    dict(name="resnetv2_50x3_bit_reduced", architecture="resnetv2_50x3_bit",
         kwargs=dict(channels=[128, 128, 128, 128], num_classes=5), resolution=33),
]
for case in CASES:
  case.setdefault("batch", 2)
SHAPES = sorted({*timm_convnets.CONVNEXT_VARIANTS, *timm_convnets.REGNET_VARIANTS, *timm_convnets.BIT_VARIANTS})


timm_exports = timm_parity.exports_fixture("timm_convnets", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_timm_convnets_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


@pytest.mark.parametrize("architecture", SHAPES)
def test_every_variant_maps_timm_state_dict(architecture, timm_exports):
  """Each variant builds abstractly (no memory, no FLOPs) and every tensor of timm's model maps,
  through the family's renames and the layout rules, onto a distinct parameter of the same
  shape, filling all of them (timm_parity.mapping_failures)."""
  timm_parity.assert_every_variant_maps(timm_exports, [architecture])


@pytest.mark.parametrize("architecture, model_args, message", [
    ("convnext_tiny", {"norm_layer": "rmsnorm2d"}, r"convnext_tiny.*norm_layer='rmsnorm2d'"),
    ("convnext_tiny", {"kernel_sizes": 5}, r"kernel_sizes=5"),
    ("convnextv2_tiny", {"ls_init_value": 1.0}, r"use_grn with a layer scale"),
    ("regnety_002", {"preact": True}, r"regnety_002.*preact=True"),
    ("regnetx_002", {"stem_type": "deep"}, r"model_args \['stem_type'\]"),
    ("resnetv2_50x1_bit", {"stem_type": "same"}, r"resnetv2_50x1_bit.*stem_type='same'"),
])
def test_timm_convnets_reject_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=message):
    timm_converter.family_of(architecture).build(architecture, config)
