"""StarNet (Ma et al. 2024, "Rewrite the Stars"), the layout and semantics of timm's ``StarNet``
(timm/models/starnet.py).

stem (3×3/2 conv → BN → ReLU6, 32 channels) → stages (3×3/2 conv → BN, width base·2^i; then blocks
x + dwconv7×7₂(BN(g(ReLU6(f1(y)) · f2(y)))) with y = BN(dwconv7×7(x)): the "star" product of two
1×1 expansions) → BN → global mean (the embedding) → Linear. Every conv has a bias (timm's ConvBN).
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers

STEM_WIDTH = 32  # timm's StarNet stem_chs


@dataclasses.dataclass(frozen=True)
class StarNetConfig:
  """Defaults: StarNet-S4."""
  base_dim: int = 32
  depths: tuple[int, ...] = (3, 3, 12, 5)
  mlp_ratio: int = 4
  num_channels: int = 3
  num_classes: int = 1000


def _conv(in_features: int, out_features: int, kernel_size: int, rngs: nnx.Rngs, *, stride: int = 1,
          groups: int = 1) -> nnx.Conv:
  return layers.conv(in_features, out_features, kernel_size, stride=stride, groups=groups, bias=True, rngs=rngs)


class StarBlock(nnx.Module):
  """x + dwconv2(BN(g(relu6(f1(y)) · f2(y)))), y = BN(dwconv(x))."""

  def __init__(self, width: int, mlp_ratio: int, *, rngs: nnx.Rngs):
    hidden = mlp_ratio * width
    self.dwconv = _conv(width, width, 7, rngs, groups=width)
    self.dwconv_bn = layers.batch_norm(width, rngs=rngs)
    self.f1 = _conv(width, hidden, 1, rngs)
    self.f2 = _conv(width, hidden, 1, rngs)
    self.g = _conv(hidden, width, 1, rngs)
    self.g_bn = layers.batch_norm(width, rngs=rngs)
    self.dwconv2 = _conv(width, width, 7, rngs, groups=width)

  def __call__(self, x):
    y = self.dwconv_bn(self.dwconv(x))
    y = layers.activation("relu6")(self.f1(y)) * self.f2(y)
    return x + self.dwconv2(self.g_bn(self.g(y)))


class StarStage(nnx.Module):
  """3×3/2 conv → BN, then the blocks."""

  def __init__(self, config: StarNetConfig, in_width: int, stage: int, *, rngs: nnx.Rngs):
    width = config.base_dim * 2 ** stage
    self.downsample = _conv(in_width, width, 3, rngs, stride=2)
    self.downsample_bn = layers.batch_norm(width, rngs=rngs)
    self.blocks = nnx.List([StarBlock(width, config.mlp_ratio, rngs=rngs) for _ in range(config.depths[stage])])

  def __call__(self, x):
    x = self.downsample_bn(self.downsample(x))
    for block in self.blocks:
      x = block(x)
    return x


class StarNet(nnx.Module):
  """The embedding is the mean over H, W of BN(last stage) (timm's pre-logits)."""

  def __init__(self, config: StarNetConfig, *, rngs: nnx.Rngs):
    self.stem = _conv(config.num_channels, STEM_WIDTH, 3, rngs, stride=2)
    self.stem_bn = layers.batch_norm(STEM_WIDTH, rngs=rngs)
    widths = [STEM_WIDTH] + [config.base_dim * 2 ** i for i in range(len(config.depths))]
    self.stages = nnx.List([StarStage(config, widths[i], i, rngs=rngs) for i in range(len(config.depths))])
    self.norm = layers.batch_norm(widths[-1], rngs=rngs)
    self.head = nnx.Linear(widths[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map after the final batch norm."""
    x = layers.activation("relu6")(self.stem_bn(self.stem(images)))
    for stage in self.stages:
      x = stage(x)
    return self.norm(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
