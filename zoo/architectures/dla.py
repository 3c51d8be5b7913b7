"""Deep Layer Aggregation (Yu et al. 2018) as timm builds it (``dla34``, ``dla60``, ...):
hierarchical trees of residual blocks whose outputs a 1×1 "root" conv aggregates.

Parameter names follow timm's module tree (``level3.tree1.tree2.conv1``), except the
Sequential stems, which are ``base_conv``/``base_bn`` and ``level{0,1}.convs/bns``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class DLAConfig:
  """``levels``/``channels`` per level 0–5 as timm's ``DLA(levels, channels, block=...)``;
  defaults: DLA-34."""
  levels: tuple[int, ...] = (1, 1, 1, 2, 2, 1)
  channels: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
  block: str = "basic"  # "basic" (DlaBasic) or "bottleneck" (DlaBottleneck, expansion 2)
  cardinality: int = 1
  base_width: int = 64
  shortcut_root: bool = False
  num_channels: int = 3
  num_classes: int = 1000


def _conv_bn(in_dim, out_dim, kernel_size, stride=1, groups=1, *, rngs):
  return (layers.conv(in_dim, out_dim, kernel_size, stride=stride, groups=groups, rngs=rngs),
          layers.batch_norm(out_dim, rngs=rngs))


class BasicBlock(nnx.Module):
  """relu(bn2(conv2 relu(bn1(conv1 x))) + shortcut), 3×3 convs, stride on conv1."""

  def __init__(self, in_dim, out_dim, stride, config: DLAConfig, *, rngs: nnx.Rngs):
    self.conv1, self.bn1 = _conv_bn(in_dim, out_dim, 3, stride, rngs=rngs)
    self.conv2, self.bn2 = _conv_bn(out_dim, out_dim, 3, rngs=rngs)

  def __call__(self, x, shortcut=None):
    shortcut = x if shortcut is None else shortcut
    out = jax.nn.relu(self.bn1(self.conv1(x)))
    return jax.nn.relu(self.bn2(self.conv2(out)) + shortcut)


class Bottleneck(nnx.Module):
  """1×1 → 3×3 (stride, groups) → 1×1 with mid = ⌊out·base_width/64⌋·cardinality / 2."""

  def __init__(self, in_dim, out_dim, stride, config: DLAConfig, *, rngs: nnx.Rngs):
    mid = int(out_dim * (config.base_width / 64)) * config.cardinality // 2
    self.conv1, self.bn1 = _conv_bn(in_dim, mid, 1, rngs=rngs)
    self.conv2, self.bn2 = _conv_bn(mid, mid, 3, stride, config.cardinality, rngs=rngs)
    self.conv3, self.bn3 = _conv_bn(mid, out_dim, 1, rngs=rngs)

  def __call__(self, x, shortcut=None):
    shortcut = x if shortcut is None else shortcut
    out = jax.nn.relu(self.bn1(self.conv1(x)))
    out = jax.nn.relu(self.bn2(self.conv2(out)))
    return jax.nn.relu(self.bn3(self.conv3(out)) + shortcut)


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class Root(nnx.Module):
  """relu(bn(conv1×1(concat children)) [+ children[0]])."""

  def __init__(self, in_dim, out_dim, shortcut: bool, *, rngs: nnx.Rngs):
    self.conv, self.bn = _conv_bn(in_dim, out_dim, 1, rngs=rngs)
    self.shortcut = shortcut

  def __call__(self, children):
    x = self.bn(self.conv(jnp.concatenate(children, axis=-1)))
    return jax.nn.relu(x + children[0] if self.shortcut else x)


class Tree(nnx.Module):
  """timm's DlaTree: levels = 1 → two blocks and a root over [x2, x1, *children];
  levels > 1 → two sub-trees, the second aggregating the first's output. ``level_root``
  adds the (max-pooled) input to the aggregated children."""

  def __init__(self, levels, in_dim, out_dim, stride, config: DLAConfig, *, level_root=False, root_dim=0,
               rngs: nnx.Rngs):
    root_dim = (root_dim or 2 * out_dim) + (in_dim if level_root else 0)
    self.stride, self.level_root = stride, level_root
    block = _BLOCKS[config.block]
    if in_dim != out_dim and levels == 1:
      self.project_conv, self.project_bn = _conv_bn(in_dim, out_dim, 1, rngs=rngs)
    else:
      self.project_conv = self.project_bn = None
    if levels == 1:
      self.tree1 = block(in_dim, out_dim, stride, config, rngs=rngs)
      self.tree2 = block(out_dim, out_dim, 1, config, rngs=rngs)
      self.root = Root(root_dim, out_dim, config.shortcut_root, rngs=rngs)
    else:
      self.tree1 = Tree(levels - 1, in_dim, out_dim, stride, config, rngs=rngs)
      self.tree2 = Tree(levels - 1, out_dim, out_dim, 1, config, root_dim=root_dim + out_dim, rngs=rngs)
      self.root = None

  def __call__(self, x, shortcut=None, children=None):
    children = [] if children is None else children
    bottom = x if self.stride == 1 else nnx.max_pool(x, (self.stride,) * 2, strides=(self.stride,) * 2)
    shortcut = bottom if self.project_conv is None else self.project_bn(self.project_conv(bottom))
    if self.level_root:
      children.append(bottom)
    if self.root is not None:
      x1 = self.tree1(x, shortcut)
      return self.root([self.tree2(x1), x1] + children)
    x1 = self.tree1(x)  # a sub-tree recomputes its own shortcut
    children.append(x1)
    return self.tree2(x1, None, children)


class DLA(nnx.Module):
  """base 7×7 conv → level0 (stride 1), level1 (stride 2) conv stacks → level2–5 trees
  (stride 2 each) → global mean (the embedding) → fc (timm's 1×1 conv head)."""

  def __init__(self, config: DLAConfig, *, rngs: nnx.Rngs):
    if config.block not in _BLOCKS or len(config.levels) != 6 or len(config.channels) != 6:
      raise ValueError(f"DLA needs 6 levels and channels and a block in {sorted(_BLOCKS)}; got {config}.")
    self.config = config
    channels, levels = config.channels, config.levels
    self.base_conv, self.base_bn = _conv_bn(config.num_channels, channels[0], 7, rngs=rngs)
    self.level0 = self._conv_level(channels[0], channels[0], levels[0], 1, rngs)
    self.level1 = self._conv_level(channels[0], channels[1], levels[1], 2, rngs)
    self.level2 = Tree(levels[2], channels[1], channels[2], 2, config, rngs=rngs)
    self.level3 = Tree(levels[3], channels[2], channels[3], 2, config, level_root=True, rngs=rngs)
    self.level4 = Tree(levels[4], channels[3], channels[4], 2, config, level_root=True, rngs=rngs)
    self.level5 = Tree(levels[5], channels[4], channels[5], 2, config, level_root=True, rngs=rngs)
    self.fc = nnx.Linear(channels[5], config.num_classes, rngs=rngs) if config.num_classes else None

  @staticmethod
  def _conv_level(in_dim, out_dim, num_convs, stride, rngs):
    pairs = [_conv_bn(in_dim if i == 0 else out_dim, out_dim, 3, stride if i == 0 else 1, rngs=rngs)
             for i in range(num_convs)]
    return nnx.Dict(convs=nnx.List([c for c, _ in pairs]), bns=nnx.List([b for _, b in pairs]))

  def forward_features(self, images):
    x = jax.nn.relu(self.base_bn(self.base_conv(images)))
    for level in (self.level0, self.level1):
      for conv, bn in zip(level["convs"], level["bns"]):
        x = jax.nn.relu(bn(conv(x)))
    for tree in (self.level2, self.level3, self.level4, self.level5):
      x = tree(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.fc)
