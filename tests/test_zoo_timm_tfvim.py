"""Parity of zoo.load_timm with timm's own PyTorch modules for the families of
zoo.converters.timm_tfvim beyond what tests/test_timm_family_parity.py checks (its smallest
variants: gcvit_xxtiny, efficientvim_m1): EfficientViMDistilled's second head (the ``*_dist``
models average two softmax-weighted fusions of four heads), the EfficientViM variants' tensor
names and shapes, and the converter's refusals.

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every norm and batch-norm statistic moved from its default, exported with timm's
``save_for_hf``), at reduced width / depth (timm's keyword arguments, which the converter
honours); logits and pre-logits must agree to 1e-4 in float32. Every EfficientViM architecture
is checked tensor by tensor (name and shape) against the state dict of timm's model, built on
the meta device (the GCViTs' mappings are exercised by the family parity test and the coverage
benchmark at full size).
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters import timm_tfvim
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness


CASES = [
    # EfficientViM-M1 distilled, narrow: 4×4 → 2×2 → 1×1 maps at 64 px, both fused heads
    dict(name="efficientvim_m1_dist_narrow", architecture="efficientvim_m1_dist", resolution=64,
         kwargs=dict(embed_dim=(32, 48, 64), depths=(1, 1, 1), state_dim=(9, 4, 1), num_classes=5)),
]
for case in CASES:
  case.setdefault("batch", 2)
  case.setdefault("calibration", 8)  # batch-norm statistics over a few more images
SHAPES = [dict(name=name, architecture=name, kwargs=dict(num_classes=1000))
          for name in timm_tfvim.EFFICIENTVIM_VARIANTS]


timm_exports = timm_parity.exports_fixture("timm_tfvim_families", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_tfvim_families_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


def test_every_variant_maps_timm_state_dict(timm_exports):
  """Every tensor of timm's model of each variant (name and shape on the meta device) maps onto a
  parameter of the variant's abstract nnx module with that shape, and every parameter gets one."""
  timm_parity.assert_every_variant_maps(timm_exports, SHAPES)


@pytest.mark.parametrize("architecture, model_args, message", [
    ("gcvit_xxtiny", {"act_layer": "silu"}, "act_layer='silu'"),
    ("gcvit_xxtiny", {"global_pool": "max"}, "global_pool 'max'"),
    ("gcvit_xxtiny", {"img_size": 64, "window_size": 5}, "does not divide into 5² windows"),
    ("gcvit_xxtiny", {"img_size": (224, 192)}, "non-square img_size"),
    ("efficientvim_m1", {"depths": (2, 2)}, "one value per stage"),
    ("efficientvim_m1", {"global_pool": ""}, "global_pool ''"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
