"""Parity of zoo.load_timm with timm's own PyTorch modules for the families of
zoo.converters.timm_more: XCiT (conv patch embedding with batch norm, Fourier positions,
cross-covariance attention with a temperature per head, local patch interaction with batch
norm, class-attention blocks with and without ``tokens_norm``, layer scales) and ResMLP (Affine
"norms", token-mixing Linear, layer scales) and LeViT (Linear + batch-norm projections, attention
biases, subsampling attention, two averaged heads; linear and conv layouts).

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every norm and batch-norm statistic moved from its default, exported with timm's
``save_for_hf``). Each case is a variant's own architecture with reduced width / depth / image
size (timm's keyword arguments, which the converter honours); logits and pre-logits must agree
to 1e-4 in float32. Every architecture of the variant tables is checked tensor by tensor (name
and shape) against the state dict of timm's model, built on the meta device.
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters import timm_more
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness


CASES = [
    # XCiT-nano (no tokens_norm) at 16-px patches: 4 conv+BN stem, 2×2 tokens at 32 px
    dict(name="xcit_nano_p16", architecture="xcit_nano_12_p16_224",
         kwargs=dict(embed_dim=32, depth=2, num_heads=4, num_classes=5)),
    # XCiT-tiny (tokens_norm) at 8-px patches, mean patch-token pooling: 3 conv+BN stem, 4×4 tokens
    dict(name="xcit_tiny_p8_avg", architecture="xcit_tiny_12_p8_224",
         kwargs=dict(embed_dim=32, depth=2, num_heads=4, num_classes=5, global_pool="avg")),
    # ResMLP-12 at full width and depth (timm's resmlp entry points fix them): 4 tokens at 32 px
    dict(name="resmlp_12", architecture="resmlp_12_224", kwargs=dict(img_size=32, num_classes=5)),
    # LeViT-128S at 64 px: token grids 4×4 → 2×2 → 1×1 (subsampling attention twice, asymmetric biases)
    dict(name="levit_128s", architecture="levit_128s", resolution=64,
         kwargs=dict(img_size=64, depth=(1, 1, 1), num_classes=5)),
    # the conv layout (1×1 ConvNorm weights) of the same network
    dict(name="levit_conv_128s", architecture="levit_conv_128s", resolution=64,
         kwargs=dict(img_size=64, depth=(1, 1, 1), num_classes=5)),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
  case.setdefault("calibration", 8)  # batch-norm statistics over a few more images
FAMILY_TABLES = {"xcit": timm_more.XCIT_VARIANTS, "resmlp": timm_more.RESMLP_VARIANTS,
                 "levit": timm_more.LEVIT_VARIANTS}
# Every variant with one block where timm allows it (the names, widths, heads and stems of the table at a fraction of the cost)
SHALLOW = {"xcit": dict(depth=1), "resmlp": {}, "levit": dict(depth=(1, 1, 1))}  # timm's resmlp entry points take no depth override
SHAPES = [dict(name=name, architecture=name, kwargs=dict(SHALLOW[family], num_classes=1000))
          for family, table in FAMILY_TABLES.items() for name in table]


timm_exports = timm_parity.exports_fixture("timm_more_families", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_more_families_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


def test_every_variant_maps_timm_state_dict(timm_exports):
  """Every tensor of timm's model of each variant (name and shape on the meta device, no
weights) maps onto a parameter of the variant's abstract nnx module (eval_shape, no FLOPs) with
that shape after the layout change, and every parameter gets one."""
  timm_parity.assert_every_variant_maps(timm_exports, SHAPES)


@pytest.mark.parametrize("architecture, model_args, message", [
    ("xcit_nano_12_p16_224", {"global_pool": "max"}, "global_pool 'max'"),
    ("xcit_nano_12_p16_224", {"patch_size": 4}, "patch_size 4"),
    ("xcit_nano_12_p16_224", {"act_layer": "silu"}, "act_layer='silu'"),
    ("xcit_nano_12_p16_224", {"layer_norm": True}, r"\['layer_norm'\]"),
    ("resmlp_12_224", {"stem_norm": True}, "stem_norm=True"),
    ("resmlp_12_224", {"global_pool": "token"}, "global_pool 'token'"),
    ("levit_128s", {"stem_type": "s8"}, "stem_type='s8'"),
    ("levit_128s", {"down_op": "pool"}, "down_op='pool'"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
