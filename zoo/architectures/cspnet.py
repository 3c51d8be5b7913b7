"""timm's CSPNet with cross-stage-3 stages (timm/models/cspnet.py's ``_cs3_cfg`` models: CS3-DarkNet,
CS3-SE-DarkNet, CS3-EdgeNet; Wang et al. 2020, YOLOv5-style), in timm's tensor naming.

Stem: 3×3 conv+BN+act (stride 2) and a 3×3 one, or one 6×6 "focus" conv (stride 2, padding 2). Each
stage: a strided 3×3 conv+BN+act (``conv_down``), a 1×1 expansion (``conv_exp``) whose channels split in
two halves; the first runs through residual ``dark`` (1×1 → [SE] → 3×3) or ``edge`` (3×3 → [SE] → 1×1)
blocks (every conv with BN+act, the sum without act), then both halves, concatenated, through a 1×1
``conv_transition``. Global mean (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import SqueezeExcite
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class Cs3Config:
  """timm's ``_cs3_cfg`` after its width / depth multipliers (widths already make_divisible'd)."""
  stem_widths: tuple[int, ...] = (32, 64)
  focus: bool = False  # one 6×6/2 stem conv (padding 2) of stem_widths[-1] channels
  widths: tuple[int, ...] = (128, 256, 512, 1024)
  depths: tuple[int, ...] = (3, 6, 9, 3)
  block: str = "dark"  # or "edge"
  bottle_ratio: float = 1.0
  se_ratio: float = 0.0  # squeeze-excite (act = the model's) reduction when > 0
  act: str = "silu"
  num_channels: int = 3
  num_classes: int = 1000


class Cs3Block(nnx.Module):
  """timm's DarkBlock (1×1 → 3×3) or EdgeBlock (3×3 → 1×1): x + conv2(attn(conv1(x)))."""

  def __init__(self, config: Cs3Config, features: int, *, rngs: nnx.Rngs):
    mid = int(round(features * config.bottle_ratio))
    first, second = (1, 3) if config.block == "dark" else (3, 1)
    self.conv1 = ConvNormAct(features, mid, first, act=config.act, rngs=rngs)
    hidden = layers.make_divisible(mid * config.se_ratio, 8, round_limit=0.0)
    self.attn = (SqueezeExcite(mid, hidden, layers.activation(config.act), rngs=rngs) if config.se_ratio
                 else None)
    self.conv2 = ConvNormAct(mid, features, second, act=config.act, rngs=rngs)

  def __call__(self, x):
    y = self.conv1(x)
    return x + self.conv2(self.attn(y) if self.attn is not None else y)


class CrossStage3(nnx.Module):
  """timm's CrossStage3 (expand ratio 1, block ratio 1/2, no down growth, stride 2)."""

  def __init__(self, config: Cs3Config, in_features: int, out_features: int, depth: int, *, rngs: nnx.Rngs):
    self.conv_down = ConvNormAct(in_features, in_features, 3, stride=2, act=config.act, rngs=rngs)
    self.conv_exp = ConvNormAct(in_features, out_features, 1, act=config.act, rngs=rngs)
    self.blocks = nnx.List([Cs3Block(config, out_features // 2, rngs=rngs) for _ in range(depth)])
    self.conv_transition = ConvNormAct(out_features, out_features, 1, act=config.act, rngs=rngs)

  def __call__(self, x):
    first, second = jnp.split(self.conv_exp(self.conv_down(x)), 2, axis=-1)
    for block in self.blocks:
      first = block(first)
    return self.conv_transition(jnp.concatenate([first, second], axis=-1))


class Cs3Net(nnx.Module):
  """stem → four cross-stage-3 stages → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: Cs3Config, *, rngs: nnx.Rngs):
    if config.block not in ("dark", "edge"):
      raise ValueError(f"Cs3Net block must be 'dark' or 'edge'; got {config.block!r}.")
    if config.focus:
      stem = [ConvNormAct(config.num_channels, config.stem_widths[-1], 6, stride=2, act=config.act,
                          padding=((2, 2), (2, 2)), rngs=rngs)]
    else:
      widths = (config.num_channels, *config.stem_widths)
      stem = [ConvNormAct(widths[i], widths[i + 1], 3, stride=2 if i == 0 else 1, act=config.act, rngs=rngs)
              for i in range(len(config.stem_widths))]
    self.stem = nnx.List(stem)
    previous, stages = config.stem_widths[-1], []
    for width, depth in zip(config.widths, config.depths):
      stages.append(CrossStage3(config, previous, width, depth, rngs=rngs))
      previous = width
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(previous, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = images
    for layer in [*self.stem, *self.stages]:
      x = layer(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
