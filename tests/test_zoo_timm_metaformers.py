"""zoo.converters.timm_metaformers beyond tests/test_timm_family_parity.py: that test checks each
family at its smallest variant (PoolFormer v2-S12 for timm's metaformer.py: pooling mixer, GroupNorm,
StarReLU MLP, linear head), so the MetaFormer module's other token mixers are checked here on
CAFormer-S18 (ConvFormer's separable-conv mixer in stages 1-2, bias-free attention in stages 3-4,
LayerNorm without bias, res scales, the MlpHead), against timm's own module (random weights, every
norm moved; timm's metaformer entry points fix depth and width, so the real variant at 64 px).
The remaining variants (PoolFormer v1, ConvFormer, every size) are proven by
benchmarks/timm_coverage.py. Also: every builder refuses what it does not model, naming it.
"""

from __future__ import annotations

import pytest

from zoo.converters import timm as timm_converter
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness

CASES = [dict(name="caformer_s18", architecture="caformer_s18", resolution=64, batch=2, kwargs=dict(num_classes=5))]

timm_exports = timm_parity.exports_fixture("timm_metaformers", CASES, [])


def test_caformer_matches_timm(timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / "caformer_s18", "caformer_s18", tmp_path)


@pytest.mark.parametrize("architecture, model_args, message", [
    ("poolformer_s12", {"depths": [1, 1, 1, 1]}, r"\['depths'\]"),  # timm's entry points fix the architecture
    ("caformer_s18", {"global_pool": "max"}, "global_pool 'max'"),
    ("inception_next_atto", {"output_stride": 16}, "output_stride=16"),
    ("edgenext_xx_small", {"head_norm_first": True}, "head_norm_first=True"),
    ("edgenext_xx_small", {"ls_init_value": 0.0}, "ls_init_value=0.0"),
    ("focalnet_tiny_srf", {"use_post_norm": True}, "use_post_norm=True"),
    ("focalnet_tiny_srf", {"layerscale_value": 1e-4}, "layerscale_value=0.0001"),
    ("starnet_s1", {"act_layer": "gelu"}, "act_layer='gelu'"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
