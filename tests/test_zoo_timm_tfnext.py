"""zoo.converters.timm_tfnext beyond tests/test_timm_family_parity.py (which checks Next-ViT-S,
EfficientFormer-L1 and EfficientFormerV2-S0 against timm's modules; benchmarks/timm_coverage.py every
variant): each builder refuses the model_args it does not model, naming the model and the argument,
instead of building a silently different network.
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters.mapping import ConversionError


@pytest.mark.parametrize("architecture, model_args, message", [
    ("nextvit_small", {"depths": [3, 4, 11, 3]}, r"depths \(3, 4, 11, 3\)"),  # timm's stage table repeats 5 blocks
    ("nextvit_small", {"act_layer": "gelu"}, "act_layer='gelu'"),
    ("nextvit_small", {"global_pool": "max"}, "global_pool 'max'"),
    ("efficientformer_l1", {"num_vit": 0}, "num_vit 0"),
    ("efficientformer_l1", {"img_size": 256}, "img_size 256"),  # the 7×7 attention bias grid
    ("efficientformer_l1", {"pool_size": 5}, "pool_size=5"),
    ("efficientformerv2_s0", {"distillation": False}, "distillation=False"),
    ("efficientformerv2_s0", {"mlp_ratios": [4, 4, 4]}, "mlp_ratios"),
    ("efficientformerv2_s0", {"layer_scale_init_value": None}, "layer_scale_init_value=None"),
    ("efficientformerv2_s0", {"img_size": [224, 256]}, "non-square img_size"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
