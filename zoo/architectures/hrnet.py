"""HRNet classification networks (Wang et al. 2020, "Deep High-Resolution Representation
Learning for Visual Recognition"), timm's layout (``timm/models/hrnet.py``, ``HighResolutionNet``).

Stem (two 3×3/2 conv-BN-ReLU) → layer1 (ResNet blocks at 1/4) → three stages, each adding a
branch at half the resolution (transition: 3×3/2 conv-BN-ReLU of the lowest-resolution branch)
and made of modules: every branch runs its ResNet basic blocks, then each output i sums all
branches j resampled to i's resolution (j > i: 1×1 conv-BN, nearest upsampling by 2^(j−i);
j < i: i−j 3×3/2 conv-BNs, ReLU between) and applies ReLU. The classification head lifts
branch i to 128·2^i channels with one bottleneck, sums them from high to low resolution
(3×3/2 conv-BN-ReLU between), 1×1 conv-BN-ReLU to 2048, global mean (the embedding), Linear.
The ResNet blocks are :class:`zoo.architectures.resnet.ResidualBlock` (timm's BasicBlock /
Bottleneck).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct, ResidualBlock, ResNetConfig

_EXPANSION = {"basic": 1, "bottleneck": 4}
HEAD_CHANNELS = (32, 64, 128, 256)  # timm's _make_head: bottleneck planes per branch (×4 channels)
HEAD_FEATURES = 2048


@dataclasses.dataclass(frozen=True)
class HrStage:
  """One of timm's ``stageN`` dicts: modules, block type ("basic" | "bottleneck"), blocks and
  channels (planes) per branch (the branch count is their length)."""
  modules: int
  block: str
  blocks: tuple[int, ...]
  channels: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class HrNetConfig:
  """Defaults: timm's hrnet_w18_small; ``stages[0]`` is layer1 (one branch, one module)."""
  stem_width: int = 64
  stages: tuple[HrStage, ...] = (HrStage(1, "bottleneck", (1,), (32,)), HrStage(1, "basic", (2, 2), (16, 32)),
                                 HrStage(1, "basic", (2, 2, 2), (16, 32, 64)),
                                 HrStage(1, "basic", (2, 2, 2, 2), (16, 32, 64, 128)))
  head_conv_bias: bool = True
  num_channels: int = 3
  num_classes: int = 1000


def _blocks(block: str, in_features: int, planes: int, count: int, rngs: nnx.Rngs) -> nnx.List:
  """timm's _make_layer: ``count`` ResNet blocks (the first projects the shortcut when widths differ)."""
  config = ResNetConfig(layer_type=block, indexed_shortcut=True)
  out = planes * _EXPANSION[block]
  return nnx.List([ResidualBlock(config, in_features if i == 0 else out, out, 1, rngs=rngs) for i in range(count)])


def _run(sequence, x):
  for layer in sequence:
    x = layer(x)
  return x


class BiasConvNormAct(nnx.Module):
  """Conv (bias optional, PyTorch padding) → BN → ReLU: the head's downsampling and final layers."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, stride: int = 1, bias: bool,
               rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, kernel_size, stride=stride, bias=bias, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return jax.nn.relu(self.bn(self.conv(x)))


def _upsample(x, factor: int):
  """Nearest-neighbour upsampling by an integer factor (PyTorch ``Upsample(scale_factor, 'nearest')``)."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


class HighResolutionModule(nnx.Module):
  """Branches of ResNet blocks, then the all-to-all fusion of the module docstring."""

  def __init__(self, stage: HrStage, in_features: tuple[int, ...], *, rngs: nnx.Rngs):
    widths = tuple(c * _EXPANSION[stage.block] for c in stage.channels)
    self.branches = nnx.List([_blocks(stage.block, in_features[b], stage.channels[b], stage.blocks[b], rngs)
                              for b in range(len(widths))])
    self.fuse = nnx.List([nnx.List([self._fuse_layer(widths, i, j, rngs) for j in range(len(widths))])
                          for i in range(len(widths))]) if len(widths) > 1 else None
    self.out_features = widths

  @staticmethod
  def _fuse_layer(widths, i: int, j: int, rngs: nnx.Rngs):
    if j > i:
      return ConvNormAct(widths[j], widths[i], 1, act=None, rngs=rngs)
    if j == i:
      return None
    return nnx.List([ConvNormAct(widths[j], widths[i] if k == i - j - 1 else widths[j], 3, stride=2,
                                 act=None if k == i - j - 1 else "relu", rngs=rngs) for k in range(i - j)])

  def __call__(self, xs: list):
    xs = [_run(branch, x) for branch, x in zip(self.branches, xs)]
    if self.fuse is None:
      return xs
    fused = []
    for i, row in enumerate(self.fuse):
      total = None
      for j, layer in enumerate(row):
        if j > i:
          y = _upsample(layer(xs[j]), 2 ** (j - i))
        else:
          y = xs[j] if layer is None else _run(layer, xs[j])
        total = y if total is None else total + y
      fused.append(jax.nn.relu(total))
    return fused


def _transition(previous: tuple[int, ...], current: tuple[int, ...], rngs: nnx.Rngs) -> nnx.List:
  """timm's _make_transition_layer: per new-stage branch, None (same width), a 3×3 conv-BN-ReLU
  (width change), or 3×3/2 conv-BN-ReLUs from the lowest-resolution branch (a new branch)."""
  branches = []
  for i, width in enumerate(current):
    if i < len(previous):
      branches.append(None if width == previous[i] else
                      nnx.List([ConvNormAct(previous[i], width, 3, rngs=rngs)]))
      continue
    steps = i + 1 - len(previous)
    branches.append(nnx.List([ConvNormAct(previous[-1], width if k == steps - 1 else previous[-1], 3, stride=2,
                                          rngs=rngs) for k in range(steps)]))
  return nnx.List(branches)


class HrNet(nnx.Module):
  def __init__(self, config: HrNetConfig, *, rngs: nnx.Rngs):
    self.stem = nnx.List([ConvNormAct(config.num_channels, config.stem_width, 3, stride=2, rngs=rngs),
                          ConvNormAct(config.stem_width, 64, 3, stride=2, rngs=rngs)])
    first = config.stages[0]
    self.layer1 = _blocks(first.block, 64, first.channels[0], first.blocks[0], rngs)
    widths = (first.channels[0] * _EXPANSION[first.block],)
    transitions, stages = [], []
    for stage in config.stages[1:]:
      current = tuple(c * _EXPANSION[stage.block] for c in stage.channels)
      transitions.append(_transition(widths, current, rngs))
      modules = []
      for _ in range(stage.modules):
        modules.append(HighResolutionModule(stage, current, rngs=rngs))
        current = modules[-1].out_features
      stages.append(nnx.List(modules))
      widths = current
    self.transitions, self.stages = nnx.List(transitions), nnx.List(stages)
    self.incre = nnx.List([_blocks("bottleneck", widths[i], HEAD_CHANNELS[i], 1, rngs)[0]
                           for i in range(len(widths))])
    self.downsamp = nnx.List([BiasConvNormAct(HEAD_CHANNELS[i] * 4, HEAD_CHANNELS[i + 1] * 4, 3, stride=2,
                                              bias=config.head_conv_bias, rngs=rngs)
                              for i in range(len(widths) - 1)])
    self.final_layer = BiasConvNormAct(HEAD_CHANNELS[len(widths) - 1] * 4, HEAD_FEATURES, 1,
                                       bias=config.head_conv_bias, rngs=rngs)
    self.head = nnx.Linear(HEAD_FEATURES, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    xs = [_run(self.layer1, _run(self.stem, images))]
    for index, (transition, stage) in enumerate(zip(self.transitions, self.stages)):
      # timm: transition1 reads the single input; later ones read the lowest resolution for new branches
      source = (lambda i: xs[0]) if index == 0 else (lambda i: xs[-1])
      xs = [xs[i] if layer is None else _run(layer, source(i)) for i, layer in enumerate(transition)]
      for module in stage:
        xs = module(xs)
    y = None
    for i, block in enumerate(self.incre):
      y = block(xs[i]) if y is None else block(xs[i]) + self.downsamp[i - 1](y)
    return layers.pool_and_classify(self.final_layer(y), self.head)
