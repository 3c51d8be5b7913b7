"""PP-HGNet and PP-HGNetV2 (PaddleClas' "High Performance GPU Net"), timm's layout
(``timm/models/hgnet.py``, class ``HighPerfGpuNet``).

stem (V1: 3×3/2, 3×3, 3×3 conv-BN-ReLU, 3×3/2 max pool; V2: 3×3/2 conv, then a 2×2-conv branch
and a 2×2/1 max-pool branch on the right/bottom zero-padded map, concatenated, 3×3/2 and 1×1
convs) → 4 stages (a depthwise 3×3/2 conv-BN first, except stage 1) of aggregation blocks:
[x, c₁, …, c_L] concatenated (c_i = conv(c_{i-1}), a 1×1 + depthwise k×k pair in "light"
stages) → V1: 1×1 conv-BN-ReLU and ESE (x · σ(conv1×1(mean_hw)))), V2: two 1×1 conv-BN-ReLU
(squeeze to half, excite) → + x from a stage's second block on → global mean → 1×1 conv
(no bias) → ReLU (the embedding) → Linear. With ``use_lab`` (HGNetV2 B0–B3) every activated
conv is followed by a learnable affine y = a·x + b with scalar a, b.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class HgStage:
  """One row of timm's model_cfgs ``stageN``: in_chs, mid_chs, out_chs, blocks, downsample,
  light_block, kernel_size, layer_num."""
  in_channels: int
  mid_channels: int
  out_channels: int
  blocks: int
  downsample: bool
  light: bool
  kernel_size: int
  layers: int


@dataclasses.dataclass(frozen=True)
class HgNetConfig:
  """Defaults: timm's hgnetv2_b0 (``use_lab=True``)."""
  stem_type: str = "v2"  # "v1" (PP-HGNet, ESE aggregation) or "v2" (PP-HGNetV2, squeeze-excite convs)
  stem_channels: tuple[int, ...] = (16, 16)  # V1: the three convs' widths; V2: (mid, out)
  stages: tuple[HgStage, ...] = (HgStage(16, 16, 64, 1, False, False, 3, 3),
                                 HgStage(64, 32, 256, 1, True, False, 3, 3),
                                 HgStage(256, 64, 512, 2, True, True, 5, 3),
                                 HgStage(512, 128, 1024, 1, True, True, 5, 3))
  use_lab: bool = True
  head_hidden_size: int = 2048  # 0: no 1×1 conv after pooling
  num_channels: int = 3
  num_classes: int = 1000


class LearnableAffine(nnx.Module):
  """y = scale · x + bias with scalar (shape [1]) parameters (timm's LearnableAffineBlock)."""

  def __init__(self):
    self.scale = nnx.Param(jnp.ones((1,)))
    self.bias = nnx.Param(jnp.zeros((1,)))

  def __call__(self, x):
    return self.scale[...] * x + self.bias[...]


class HgConvNormAct(ConvNormAct):
  """timm's hgnet ConvBNAct: conv → BN → ReLU (``act``) → learnable affine (``lab``, activated
  convs of use_lab models only)."""

  def __init__(self, in_features, out_features, kernel_size, *, stride=1, groups=1, act=True, lab=False,
               rngs: nnx.Rngs):
    super().__init__(in_features, out_features, kernel_size, stride=stride, groups=groups,
                     act="relu" if act else None, rngs=rngs)
    self.lab = LearnableAffine() if act and lab else None

  def __call__(self, x):
    x = super().__call__(x)
    return self.lab(x) if self.lab is not None else x


class LightConvNormAct(nnx.Module):
  """1×1 conv-BN (no activation) → depthwise k×k conv-BN-ReLU (timm's LightConvBNAct)."""

  def __init__(self, in_features, out_features, kernel_size, *, lab: bool, rngs: nnx.Rngs):
    self.conv1 = HgConvNormAct(in_features, out_features, 1, act=False, lab=lab, rngs=rngs)
    self.conv2 = HgConvNormAct(out_features, out_features, kernel_size, groups=out_features, lab=lab, rngs=rngs)

  def __call__(self, x):
    return self.conv2(self.conv1(x))


class EseGate(nnx.Module):
  """x · σ(conv1×1(mean_hw(x))), the 1×1 conv with bias (timm's hgnet EseModule: a sigmoid gate,
  unlike VoVNet's hard-sigmoid EffectiveSE)."""

  def __init__(self, features: int, *, rngs: nnx.Rngs):
    self.conv = layers.conv(features, features, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return x * jax.nn.sigmoid(self.conv(jnp.mean(x, axis=(1, 2), keepdims=True)))


class StemV1(nnx.Module):
  """Three 3×3 conv-BN-ReLU (the first stride 2), then a 3×3/2 max pool (padding 1)."""

  def __init__(self, widths: tuple[int, ...], *, rngs: nnx.Rngs):
    self.stem = nnx.List([HgConvNormAct(widths[i], widths[i + 1], 3, stride=2 if i == 0 else 1, rngs=rngs)
                          for i in range(len(widths) - 1)])

  def __call__(self, x):
    for conv in self.stem:
      x = conv(x)
    return layers.max_pool_torch(x, 3, 2, 1)


class StemV2(nnx.Module):
  """stem1 (3×3/2) → pad right/bottom by 1 → [2×2/1 max pool ‖ stem2a (2×2) → pad → stem2b (2×2)]
  → stem3 (3×3/2) → stem4 (1×1)."""

  def __init__(self, in_features: int, mid: int, out_features: int, *, lab: bool, rngs: nnx.Rngs):
    self.stem1 = HgConvNormAct(in_features, mid, 3, stride=2, lab=lab, rngs=rngs)
    self.stem2a = HgConvNormAct(mid, mid // 2, 2, lab=lab, rngs=rngs)
    self.stem2b = HgConvNormAct(mid // 2, mid, 2, lab=lab, rngs=rngs)
    self.stem3 = HgConvNormAct(mid * 2, mid, 3, stride=2, lab=lab, rngs=rngs)
    self.stem4 = HgConvNormAct(mid, out_features, 1, lab=lab, rngs=rngs)

  def __call__(self, x):
    x = layers.pad_hw(self.stem1(x), 0, 1, 0, 1)
    branch = self.stem2b(layers.pad_hw(self.stem2a(x), 0, 1, 0, 1))
    pooled = layers.max_pool_torch(x, 2, 1, 0)
    return self.stem4(self.stem3(jnp.concatenate([pooled, branch], axis=-1)))


class HgBlock(nnx.Module):
  """concat(x, c₁, …, c_L) → aggregation (V1: 1×1 conv + ESE; V2: 1×1 squeeze to out/2, 1×1
  excite) (+ x when ``residual``)."""

  def __init__(self, stage: HgStage, in_features: int, *, residual: bool, ese: bool, lab: bool, rngs: nnx.Rngs):
    self.residual = residual
    mid, out = stage.mid_channels, stage.out_channels

    def layer(width):
      if stage.light:
        return LightConvNormAct(width, mid, stage.kernel_size, lab=lab, rngs=rngs)
      return HgConvNormAct(width, mid, stage.kernel_size, lab=lab, rngs=rngs)

    self.layers = nnx.List([layer(in_features if i == 0 else mid) for i in range(stage.layers)])
    total = in_features + stage.layers * mid
    if ese:
      self.aggregation = nnx.List([HgConvNormAct(total, out, 1, lab=lab, rngs=rngs), EseGate(out, rngs=rngs)])
    else:
      self.aggregation = nnx.List([HgConvNormAct(total, out // 2, 1, lab=lab, rngs=rngs),
                                   HgConvNormAct(out // 2, out, 1, lab=lab, rngs=rngs)])

  def __call__(self, x):
    outputs = [x]
    y = x
    for layer in self.layers:
      y = layer(y)
      outputs.append(y)
    y = jnp.concatenate(outputs, axis=-1)
    for layer in self.aggregation:
      y = layer(y)
    return y + x if self.residual else y


class HgStageModule(nnx.Module):
  """Optional depthwise 3×3/2 conv-BN (no activation), then the blocks (the first without residual)."""

  def __init__(self, stage: HgStage, *, ese: bool, lab: bool, rngs: nnx.Rngs):
    width = stage.in_channels
    self.downsample = (HgConvNormAct(width, width, 3, stride=2, groups=width, act=False, lab=lab, rngs=rngs)
                       if stage.downsample else None)
    self.blocks = nnx.List([HgBlock(stage, width if i == 0 else stage.out_channels, residual=i > 0, ese=ese,
                                    lab=lab, rngs=rngs) for i in range(stage.blocks)])

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(x)
    for block in self.blocks:
      x = block(x)
    return x


class HgHead(nnx.Module):
  """Global mean → [1×1 conv (no bias) → ReLU (→ affine)] → Linear; returns (logits, embedding)."""

  def __init__(self, in_features: int, hidden: int, num_classes: int, *, lab: bool, rngs: nnx.Rngs):
    self.last_conv = nnx.Linear(in_features, hidden, use_bias=False, rngs=rngs) if hidden else None
    self.lab = LearnableAffine() if hidden and lab else None
    width = hidden or in_features
    self.fc = nnx.Linear(width, num_classes, rngs=rngs) if num_classes else None

  def __call__(self, features):
    x = jnp.mean(features, axis=(1, 2))
    if self.last_conv is not None:  # a 1×1 conv on the 1×1 pooled map is a Linear
      x = jax.nn.relu(self.last_conv(x))
    if self.lab is not None:
      x = self.lab(x)
    return (self.fc(x) if self.fc is not None else x), x


class HgNet(nnx.Module):
  def __init__(self, config: HgNetConfig, *, rngs: nnx.Rngs):
    lab = config.use_lab
    if config.stem_type == "v1":
      self.stem = StemV1((config.num_channels, *config.stem_channels), rngs=rngs)
    elif config.stem_type == "v2":
      mid, out = config.stem_channels
      self.stem = StemV2(config.num_channels, mid, out, lab=lab, rngs=rngs)
    else:
      raise ValueError(f"HgNetConfig.stem_type must be 'v1' or 'v2'; got {config.stem_type!r}.")
    self.stages = nnx.List([HgStageModule(stage, ese=config.stem_type == "v1", lab=lab, rngs=rngs)
                            for stage in config.stages])
    self.head = HgHead(config.stages[-1].out_channels, config.head_hidden_size, config.num_classes, lab=lab,
                       rngs=rngs)

  def __call__(self, images):
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    return self.head(x)
