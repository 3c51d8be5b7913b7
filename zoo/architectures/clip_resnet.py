"""CLIP's modified ResNet image tower (Radford et al. 2021, RN50/RN101/RN50x4…):
a 3-conv stem with average pooling, anti-aliased strides (average pool before the strided
1×1 convs instead of strided convs) and attention pooling instead of the global mean."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ClipResNetConfig:
  """Defaults: CLIP RN50 (OpenAI's ``build_model`` reads these off the weights)."""
  layers: tuple[int, ...] = (3, 4, 6, 3)
  width: int = 64
  image_size: int = 224
  projection_dim: int = 1024

  @property
  def num_heads(self) -> int:
    return self.width * 32 // 64


def _avg_pool(x, size: int):
  return x if size == 1 else nnx.avg_pool(x, (size, size), strides=(size, size))


class AntiAliasedBottleneck(nnx.Module):
  """relu(bn3(conv3(pool(relu(bn2(conv2(relu(bn1(conv1 x)))))))) + shortcut); the shortcut
  average-pools before its 1×1 conv when the block strides."""

  def __init__(self, in_features: int, planes: int, stride: int, *, rngs: nnx.Rngs):
    out_features = planes * 4
    self.stride = stride
    self.conv1, self.bn1 = layers.conv(in_features, planes, 1, rngs=rngs), layers.batch_norm(planes, rngs=rngs)
    self.conv2, self.bn2 = layers.conv(planes, planes, 3, rngs=rngs), layers.batch_norm(planes, rngs=rngs)
    self.conv3 = layers.conv(planes, out_features, 1, rngs=rngs)
    self.bn3 = layers.batch_norm(out_features, rngs=rngs)
    needs_projection = stride > 1 or in_features != out_features
    self.downsample_conv = layers.conv(in_features, out_features, 1, rngs=rngs) if needs_projection else None
    self.downsample_bn = layers.batch_norm(out_features, rngs=rngs) if needs_projection else None

  def __call__(self, x):
    out = jax.nn.relu(self.bn1(self.conv1(x)))
    out = _avg_pool(jax.nn.relu(self.bn2(self.conv2(out))), self.stride)
    out = self.bn3(self.conv3(out))
    shortcut = x if self.downsample_conv is None else self.downsample_bn(
        self.downsample_conv(_avg_pool(x, self.stride)))
    return jax.nn.relu(out + shortcut)


class AttentionPool(nnx.Module):
  """One query, the mean token, attends over [mean; positions] with multi-head attention;
  its output projection gives the image features."""

  def __init__(self, tokens: int, width: int, num_heads: int, out_features: int, *, rngs: nnx.Rngs):
    self.num_heads = num_heads
    self.pos_embed = nnx.Param(nnx.initializers.normal(width ** -0.5)(rngs.params(), (tokens + 1, width)))
    self.query, self.key = nnx.Linear(width, width, rngs=rngs), nnx.Linear(width, width, rngs=rngs)
    self.value, self.out = nnx.Linear(width, width, rngs=rngs), nnx.Linear(width, out_features, rngs=rngs)

  def __call__(self, features):
    batch, width = features.shape[0], features.shape[-1]
    x = features.reshape(batch, -1, width)
    x = jnp.concatenate([x.mean(axis=1, keepdims=True), x], axis=1) + self.pos_embed[...]
    heads = lambda y: y.reshape(batch, y.shape[1], self.num_heads, width // self.num_heads)
    q, k, v = heads(self.query(x[:, :1])), heads(self.key(x)), heads(self.value(x))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (width // self.num_heads) ** -0.5
    pooled = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v).reshape(batch, width)
    return self.out(pooled)


class ClipResNet(nnx.Module):
  """``model(images)`` → (features, features): the attention-pooled, projected image
  features (CLIP has no classes until a head is attached)."""

  def __init__(self, config: ClipResNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    half, width = config.width // 2, config.width
    self.conv1, self.bn1 = layers.conv(3, half, 3, stride=2, rngs=rngs), layers.batch_norm(half, rngs=rngs)
    self.conv2, self.bn2 = layers.conv(half, half, 3, rngs=rngs), layers.batch_norm(half, rngs=rngs)
    self.conv3, self.bn3 = layers.conv(half, width, 3, rngs=rngs), layers.batch_norm(width, rngs=rngs)
    stages, in_features = [], width
    for index, depth in enumerate(config.layers):
      planes = width * 2 ** index
      stages.append(nnx.List([AntiAliasedBottleneck(in_features if j == 0 else planes * 4, planes,
                                                    2 if index > 0 and j == 0 else 1, rngs=rngs)
                              for j in range(depth)]))
      in_features = planes * 4
    self.stages = nnx.List(stages)
    self.attnpool = AttentionPool((config.image_size // 32) ** 2, in_features, config.num_heads,
                                  config.projection_dim, rngs=rngs)

  def __call__(self, images):
    x = images
    for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
      x = jax.nn.relu(bn(conv(x)))
    x = _avg_pool(x, 2)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    features = self.attnpool(x)
    return features, features
