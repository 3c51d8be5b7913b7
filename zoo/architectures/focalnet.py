"""FocalNet (Yang et al. 2022, "Focal Modulation Networks"), the layout and semantics of timm's
``FocalNet`` (timm/models/focalnet.py; its small- and large-receptive-field ImageNet-1k models).

stem (4×4/4 conv → LayerNorm) → stages (i > 0: 2×2/2 conv → LayerNorm; width doubling) of blocks
x + modulation(LN(x)), x + mlp(LN(x)) → LayerNorm on the feature map → global mean (the
embedding) → Linear. Focal modulation: [q | ctx | gates] = 1×1 conv(x); per level l,
ctx ← GELU(depthwise conv_{window + 2l}(ctx)) and ctx_all += ctx · gate_l; then
ctx_all += GELU(mean over H, W of ctx) · gate_L; out = proj(q · h(ctx_all)) (h, proj 1×1 convs).
LayerNorms ε 1e-5 (timm's FocalNet default).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp

NORM_EPS = 1e-5
FOCAL_FACTOR = 2  # timm's FocalModulation: kernel size grows by 2 per level


@dataclasses.dataclass(frozen=True)
class FocalNetConfig:
  """Defaults: FocalNet-T (SRF). Stage widths are ``embed_dim`` · 2^i."""
  embed_dim: int = 96
  depths: tuple[int, ...] = (2, 2, 6, 2)
  focal_levels: tuple[int, ...] = (2, 2, 2, 2)
  focal_windows: tuple[int, ...] = (3, 3, 3, 3)
  mlp_ratio: float = 4.0
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    if not len(self.depths) == len(self.focal_levels) == len(self.focal_windows):
      raise ValueError(f"FocalNet depths {self.depths}, focal_levels {self.focal_levels} and focal_windows "
                       f"{self.focal_windows} must have one entry per stage.")

  @property
  def widths(self) -> tuple[int, ...]:
    return tuple(self.embed_dim * 2 ** i for i in range(len(self.depths)))


def _norm(width: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
  return nnx.LayerNorm(width, epsilon=NORM_EPS, rngs=rngs)


class FocalModulation(nnx.Module):
  """proj(q · h(Σ_l gate_l · ctx_l + gate_L · GELU(mean ctx_{L-1}))), ctx_l the hierarchical
  depthwise-conv contexts (timm's FocalModulation without post-norm or normaliser)."""

  def __init__(self, width: int, focal_level: int, focal_window: int, *, rngs: nnx.Rngs):
    self.focal_level = focal_level
    self.f = nnx.Linear(width, 2 * width + focal_level + 1, rngs=rngs)
    self.h = nnx.Linear(width, width, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)
    self.focal_layers = nnx.List([
        layers.conv(width, width, FOCAL_FACTOR * level + focal_window, groups=width, rngs=rngs)
        for level in range(focal_level)])

  def __call__(self, x):
    gelu = layers.activation("gelu")
    width = self.h.in_features
    q, ctx, gates = jnp.split(self.f(x), (width, 2 * width), axis=-1)
    ctx_all = 0
    for level, conv in enumerate(self.focal_layers):
      ctx = gelu(conv(ctx))
      ctx_all = ctx_all + ctx * gates[..., level:level + 1]
    ctx_global = gelu(jnp.mean(ctx, axis=(1, 2), keepdims=True))
    ctx_all = ctx_all + ctx_global * gates[..., self.focal_level:]
    return self.proj(q * self.h(ctx_all))


class FocalNetBlock(nnx.Module):
  """x + modulation(norm1(x)), then + mlp(norm2(·))."""

  def __init__(self, config: FocalNetConfig, width: int, stage: int, *, rngs: nnx.Rngs):
    self.norm1 = _norm(width, rngs)
    self.modulation = FocalModulation(width, config.focal_levels[stage], config.focal_windows[stage], rngs=rngs)
    self.norm2 = _norm(width, rngs)
    self.mlp = Mlp(width, int(width * config.mlp_ratio), "gelu", rngs=rngs)

  def __call__(self, x):
    x = x + self.modulation(self.norm1(x))
    return x + self.mlp(self.norm2(x))


class FocalNetStage(nnx.Module):
  """[2×2/2 conv → LayerNorm] (stages after the first), then the blocks."""

  def __init__(self, config: FocalNetConfig, stage: int, *, rngs: nnx.Rngs):
    in_width, width = config.widths[max(stage - 1, 0)], config.widths[stage]
    self.downsample = (layers.conv(in_width, width, 2, stride=2, padding="VALID", bias=True, rngs=rngs)
                       if stage else None)
    self.downsample_norm = _norm(width, rngs) if stage else None
    self.blocks = nnx.List([FocalNetBlock(config, width, stage, rngs=rngs) for _ in range(config.depths[stage])])

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample_norm(self.downsample(x))
    for block in self.blocks:
      x = block(x)
    return x


class FocalNet(nnx.Module):
  """The embedding is the mean over H, W of LayerNorm(last stage) (timm's ``norm`` before the
  ClassifierHead's pooling)."""

  def __init__(self, config: FocalNetConfig, *, rngs: nnx.Rngs):
    widths = config.widths
    self.stem = layers.conv(config.num_channels, widths[0], 4, stride=4, padding="VALID", bias=True, rngs=rngs)
    self.stem_norm = _norm(widths[0], rngs)
    self.stages = nnx.List([FocalNetStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    self.norm = _norm(widths[-1], rngs)
    self.head = nnx.Linear(widths[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map after the final LayerNorm."""
    x = self.stem_norm(self.stem(images))
    for stage in self.stages:
      x = stage(x)
    return self.norm(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
