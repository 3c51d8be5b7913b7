"""Dual Path Networks (Chen et al. 2017), timm's layout (``timm/models/dpn.py``).

stem conv-BN-ReLU (7×7/2, 3×3/2 in the small models) → 3×3/2 max pool → 4 stages of dual path
blocks: the input's first ``c`` channels are a residual path and the rest a densely
growing path; each block computes BN-ReLU-conv 1×1 → grouped 3×3 → 1×1 (pre-activation, BN
ε 1e-3), adds its first ``c`` outputs to the residual path and appends the other ``inc``
to the dense path (a stage's first block projects the input first) → BN-ReLU → global mean
(the embedding) → 1×1 conv classifier."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class DpnConfig:
  """Defaults: timm's dpn92."""
  stage_depths: tuple[int, ...] = (3, 4, 20, 3)  # timm's k_sec
  stage_increments: tuple[int, ...] = (16, 32, 24, 128)  # inc_sec
  k_r: int = 96
  groups: int = 32
  small: bool = False
  num_init_features: int = 64
  b: bool = False  # DPN-b: the last 1×1 split into two convs after a BN-ReLU
  activation: str = "relu"
  num_channels: int = 3
  num_classes: int = 1000


def _batch_norm(features: int, rngs: nnx.Rngs):
  return layers.batch_norm(features, epsilon=1e-3, rngs=rngs)


class BnAct(nnx.Module):
  def __init__(self, features: int, act, *, rngs: nnx.Rngs):
    self.bn = _batch_norm(features, rngs)
    self.act = act

  def __call__(self, x):
    return self.act(self.bn(x))


class BnActConv(nnx.Module):
  """conv(act(BN(x))), the conv without bias."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, stride: int, act, groups: int = 1, *,
               rngs: nnx.Rngs):
    self.bn = _batch_norm(in_features, rngs)
    self.conv = layers.conv(in_features, out_features, kernel_size, stride=stride, groups=groups, rngs=rngs)
    self.act = act

  def __call__(self, x):
    return self.conv(self.act(self.bn(x)))


class DualPathBlock(nnx.Module):
  def __init__(self, in_features: int, r: int, c: int, inc: int, groups: int, kind: str, b: bool, act, *,
               rngs: nnx.Rngs):
    self.c = c
    stride = 2 if kind == "down" else 1
    projection = BnActConv(in_features, c + 2 * inc, 1, stride, act, rngs=rngs) if kind != "normal" else None
    # timm names the projection by its stride
    self.c1x1_w_s1 = projection if stride == 1 else None
    self.c1x1_w_s2 = projection if stride == 2 else None
    self.c1x1_a = BnActConv(in_features, r, 1, 1, act, rngs=rngs)
    self.c3x3_b = BnActConv(r, r, 3, stride, act, groups=groups, rngs=rngs)
    if b:
      self.c1x1_c = BnAct(r, act, rngs=rngs)
      self.c1x1_c1 = layers.conv(r, c, 1, rngs=rngs)
      self.c1x1_c2 = layers.conv(r, inc, 1, rngs=rngs)
    else:
      self.c1x1_c = BnActConv(r, c + inc, 1, 1, act, rngs=rngs)
      self.c1x1_c1 = self.c1x1_c2 = None

  def __call__(self, x):
    projection = self.c1x1_w_s1 or self.c1x1_w_s2
    shortcut = projection(x) if projection is not None else x
    y = self.c1x1_c(self.c3x3_b(self.c1x1_a(x)))
    residual, dense = ((self.c1x1_c1(y), self.c1x1_c2(y)) if self.c1x1_c1 is not None
                       else (y[..., :self.c], y[..., self.c:]))
    return jnp.concatenate([shortcut[..., :self.c] + residual, shortcut[..., self.c:], dense], axis=-1)


class DpnFeatures(nnx.Module):
  """timm's ``features`` OrderedDict: conv1_1, conv2_1 … conv5_k, conv5_bn_ac (as attributes)."""

  def __init__(self, config: DpnConfig, *, rngs: nnx.Rngs):
    act = layers.activation(config.activation)
    kernel = 3 if config.small else 7
    self.conv1_1 = ConvNormAct(config.num_channels, config.num_init_features, kernel, stride=2, act=config.activation,
                               epsilon=1e-3, rngs=rngs)
    self.order = ["conv1_1"]
    width, factor = config.num_init_features, 1 if config.small else 4
    for i, (base, depth, inc) in enumerate(zip((64, 128, 256, 512), config.stage_depths, config.stage_increments)):
      c, r = base * factor, config.k_r * base // 64
      for j in range(1, depth + 1):
        kind = ("proj" if i == 0 else "down") if j == 1 else "normal"
        setattr(self, f"conv{i + 2}_{j}", DualPathBlock(width, r, c, inc, config.groups, kind, config.b, act,
                                                         rngs=rngs))
        self.order.append(f"conv{i + 2}_{j}")
        width = c + 3 * inc if j == 1 else width + inc
    # timm 1.0.31 passes fc_act_layer='elu', but get_norm_act_layer keeps the act of the norm partial it is
    # given, so its module applies ReLU there (measured against timm's own outputs): ReLU, as timm computes.
    self.conv5_bn_ac = BnAct(width, act, rngs=rngs)
    self.width = width

  def __call__(self, x):
    x = self.conv1_1(x)
    x = layers.max_pool_torch(x, 3, 2, 1)
    for name in self.order[1:]:
      x = getattr(self, name)(x)
    return self.conv5_bn_ac(x)


class DPN(nnx.Module):
  def __init__(self, config: DpnConfig, *, rngs: nnx.Rngs):
    self.features = DpnFeatures(config, rngs=rngs)
    self.classifier = (layers.conv(self.features.width, config.num_classes, 1, bias=True, rngs=rngs)
                       if config.num_classes else None)

  def __call__(self, images):
    embedding = jnp.mean(self.features(images), axis=(1, 2))
    if self.classifier is None:
      return embedding, embedding
    return self.classifier(embedding[:, None, None, :])[:, 0, 0], embedding
