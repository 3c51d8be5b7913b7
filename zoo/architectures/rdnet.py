"""RDNet (Kim et al., ECCV 2024: DenseNets Reloaded: Paradigm Shift Beyond ResNets and ViTs)
in timm's layout (``timm/models/rdnet.py``), channels-last.

patch stem (k×k stride-k conv → LayerNorm) → stages; every stage but the first opens with a
transition (LayerNorm → conv, 2×2 stride 2 where the stage downsamples, else 1×1) that
compresses the channels to ⌊C · ratio / 8⌋ · 8. A stage's dense blocks each read the
concatenation of the stage input and every earlier block's output and append
γ · f(concat) (``growth_rate`` channels) with f = dwconv7×7 → LayerNorm → 1×1 conv (width
⌊C_in · bottleneck / 8⌋ · 8) → GELU → 1×1 conv [→ EffectiveSE]; the stage returns the whole
concatenation. Head (timm's NormMlpClassifierHead): the embedding is LayerNorm(mean over H, W)
of the last map, then Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.vovnet import EffectiveSE


@dataclasses.dataclass(frozen=True)
class RdNetConfig:
  """timm's RDNet arguments (patch stem, GELU, LayerNorm2d, pool → norm → fc head)."""
  growth_rates: tuple[int, ...] = (64, 104, 128, 128, 128, 128, 224)
  num_blocks: tuple[int, ...] = (3,) * 7
  effective_se: tuple[bool, ...] = (False, False, True, True, True, True, True)  # timm block_type "BlockESE"
  downsample: tuple[bool, ...] = (False, True, True, False, False, False, True)  # stage 0: never
  bottleneck_width_ratio: float = 4.0
  transition_compression_ratio: float = 0.5
  patch_size: int = 4
  num_init_features: int = 64
  norm_eps: float = 1e-6  # timm's LayerNorm2d default
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    stages = len(self.growth_rates)
    if not len(self.num_blocks) == len(self.effective_se) == len(self.downsample) == stages:
      raise ValueError(f"RDNet needs one num_blocks / block type / downsample flag per stage ({stages}).")


class DenseBlock(nnx.Module):
  """γ · f(x) over the concatenated stage features x (f as in the module docstring)."""

  def __init__(self, config: RdNetConfig, in_features: int, growth_rate: int, effective_se: bool, *,
               rngs: nnx.Rngs):
    inner = int(in_features * config.bottleneck_width_ratio / 8) * 8
    self.conv_dw = layers.conv(in_features, in_features, 7, groups=in_features, bias=True, rngs=rngs)
    self.norm = nnx.LayerNorm(in_features, epsilon=config.norm_eps, rngs=rngs)
    self.conv_pw1 = layers.conv(in_features, inner, 1, bias=True, rngs=rngs)
    self.conv_pw2 = layers.conv(inner, growth_rate, 1, bias=True, rngs=rngs)
    self.se = EffectiveSE(growth_rate, rngs=rngs) if effective_se else None
    self.gamma = nnx.Param(jnp.full((growth_rate,), 1e-6))

  def __call__(self, x):
    x = self.conv_pw2(layers.activation("gelu")(self.conv_pw1(self.norm(self.conv_dw(x)))))
    x = self.se(x) if self.se is not None else x
    return x * self.gamma[...]


class RdNetStage(nnx.Module):
  """[transition →] dense blocks; the output concatenates the input and every block's output."""

  def __init__(self, config: RdNetConfig, index: int, in_features: int, *, rngs: nnx.Rngs):
    self.transition_norm = self.transition = None
    if index:  # a transition opens every stage but the first
      compressed = int(in_features * config.transition_compression_ratio / 8) * 8
      kernel = 2 if config.downsample[index] else 1
      self.transition_norm = nnx.data(nnx.LayerNorm(in_features, epsilon=config.norm_eps, rngs=rngs))
      self.transition = nnx.data(layers.conv(in_features, compressed, kernel, stride=kernel, padding="VALID",
                                             bias=True, rngs=rngs))
      in_features = compressed
    growth = config.growth_rates[index]
    self.blocks = nnx.List([
        DenseBlock(config, in_features + block * growth, growth, config.effective_se[index], rngs=rngs)
        for block in range(config.num_blocks[index])])
    self.out_features = in_features + config.num_blocks[index] * growth

  def __call__(self, x):
    if self.transition is not None:
      x = self.transition(self.transition_norm(x))
    for block in self.blocks:
      x = jnp.concatenate([x, block(x)], axis=-1)  # the concat of all earlier features, grown by one block
    return x


class RdNet(nnx.Module):
  """Returns (logits, embedding); the embedding is the head's LayerNorm of the pooled last map."""

  def __init__(self, config: RdNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    width = config.num_init_features
    self.stem = layers.conv(config.num_channels, width, config.patch_size, stride=config.patch_size,
                            padding="VALID", bias=True, rngs=rngs)
    self.stem_norm = nnx.LayerNorm(width, epsilon=config.norm_eps, rngs=rngs)
    stages = []
    for index in range(len(config.growth_rates)):
      stages.append(RdNetStage(config, index, width, rngs=rngs))
      width = stages[-1].out_features
    self.stages = nnx.List(stages)
    self.norm = nnx.LayerNorm(width, epsilon=config.norm_eps, rngs=rngs)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem_norm(self.stem(images))
    for stage in self.stages:
      x = stage(x)
    embedding = self.norm(jnp.mean(x, axis=(1, 2)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
