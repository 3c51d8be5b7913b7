"""What tests/test_timm_family_parity.py (the smallest ByobNet, ByoaNet, CS3 CSPNet vs timm) does not reach:
the relative-position logits of the bottleneck and halo attentions against a NumPy port of timm's
"pad and reshape" rel_logits_1d (timm/layers/halo_attn.py; bottleneck_attn.py is its window = query
case), and the clear errors for what the family does not build. No timm environment, no compile.
"""

from __future__ import annotations

import numpy as np
import pytest

from zoo.architectures.byobnet import relative_logits
from zoo.converters import timm as timm_converter
from zoo.converters.mapping import ConversionError


def _rel_logits_1d(q, rel_k, permute):
  """timm's rel_logits_1d, step for step: q (B, H, W, d), rel_k (2·window − 1, d) → permuted
  (B, H, window, W, window) logits."""
  batch, height, width, _ = q.shape
  rel_size = rel_k.shape[0]
  window = (rel_size + 1) // 2
  x = (q @ rel_k.T).reshape(-1, width, rel_size)
  x_pad = np.pad(x, ((0, 0), (0, 0), (0, 1))).reshape(x.shape[0], -1)
  x_pad = np.pad(x_pad, ((0, 0), (0, rel_size - width))).reshape(-1, width + 1, rel_size)
  x = x_pad[:, :width, window - 1:].reshape(batch, height, 1, width, window)
  return np.broadcast_to(x, (batch, height, window, width, window)).transpose(permute)


def _timm_pos_embed_rel(q, height_rel, width_rel):
  """timm's PosEmbedRel.forward on q (B, size, size, d): width then height logits, summed."""
  logits_w = _rel_logits_1d(q, width_rel, (0, 1, 3, 2, 4))
  logits_h = _rel_logits_1d(q.transpose(0, 2, 1, 3), height_rel, (0, 3, 1, 4, 2))
  size, window = q.shape[1], (width_rel.shape[0] + 1) // 2
  return (logits_h + logits_w).reshape(q.shape[0], size * size, window * window)


@pytest.mark.parametrize("size,window", [(4, 4), (4, 10), (8, 14)])  # bottleneck (window = map), halo tiles
def test_relative_logits_match_timms_pad_trick(size, window):
  rng = np.random.default_rng(size * window)
  q = rng.normal(size=(3, size, size, 5)).astype(np.float32)
  height_rel, width_rel = (rng.normal(size=(2 * window - 1, 5)).astype(np.float32) for _ in range(2))
  ours = np.asarray(relative_logits(q, height_rel, width_rel))
  np.testing.assert_allclose(ours, _timm_pos_embed_rel(q, height_rel, width_rel), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("architecture", ["resnet50_clip", "resnet50_mlp", "cspresnet50d", "sedarknet21"])
def test_unbuilt_byobnets_are_not_matched(architecture):
  """Attention-pool and MLP heads and the CSPNets without a pretrained tag (deep-stem CSPResNet, SE-DarkNet)
  are not modelled: named unsupported."""
  with pytest.raises(ConversionError, match="not supported"):
    timm_converter.family_of(architecture)


def test_dilated_or_unknown_arguments_are_refused():
  for architecture in ("resnet33ts", "cs3darknet_m", "darknet53", "cspresnet50", "xception41", "cspnext_tiny"):
    with pytest.raises(ConversionError, match="output_stride=16"):
      timm_converter.build_timm(architecture, output_stride=16)
  with pytest.raises(ConversionError, match="stem_type"):
    timm_converter.build_timm("resnet33ts", stem_type="7x7")
