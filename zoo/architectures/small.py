"""Small flax.nnx architectures for the embedded Fashion-MNIST study.

Every model returns ``(logits, embedding)`` from one forward: the embedding is the
pre-logit representation (timm's ``forward_head(pre_logits=True)``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class MLP(nnx.Module):
  """Flatten → [Linear → ReLU → Dropout] × depth → Linear."""

  def __init__(self, in_features: int, num_classes: int, *, width: int = 256, depth: int = 2, dropout: float = 0.0,
               rngs: nnx.Rngs):
    sizes = [in_features] + [width] * depth
    self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(width, num_classes, rngs=rngs)

  def __call__(self, images):
    x = images.reshape(images.shape[0], -1)
    for layer in self.layers:
      x = self.dropout(jax.nn.relu(layer(x)))
    return self.head(x), x


class SmallCNN(nnx.Module):
  """[Conv3×3 → ReLU → MaxPool2] × len(channels) → global mean → Linear."""

  def __init__(self, in_channels: int, num_classes: int, *, channels=(32, 64), dropout: float = 0.0,
               rngs: nnx.Rngs):
    sizes = [in_channels, *channels]
    self.convs = nnx.List([nnx.Conv(a, b, kernel_size=(3, 3), rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(sizes[-1], num_classes, rngs=rngs)

  def __call__(self, images):
    x = images
    for conv in self.convs:
      x = nnx.max_pool(jax.nn.relu(conv(x)), window_shape=(2, 2), strides=(2, 2))
    embedding = self.dropout(jnp.mean(x, axis=(1, 2)))
    return self.head(embedding), embedding


class ConvNet(nnx.Module):
  """[Conv3×3 → ReLU → MaxPool2] × len(channels) → flatten → Linear → ReLU → Dropout
  (the embedding) → Linear. The Fashion-MNIST study's base architecture."""

  def __init__(self, in_channels: int, num_classes: int, *, image_size: int = 28, channels=(32, 64),
               hidden: int = 128, dropout: float = 0.0, rngs: nnx.Rngs):
    sizes = [in_channels, *channels]
    self.convs = nnx.List([nnx.Conv(a, b, kernel_size=(3, 3), rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
    side = image_size // 2 ** len(channels)
    self.dense = nnx.Linear(side * side * sizes[-1], hidden, rngs=rngs)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(hidden, num_classes, rngs=rngs)

  def __call__(self, images):
    x = images
    for conv in self.convs:
      x = nnx.max_pool(jax.nn.relu(conv(x)), window_shape=(2, 2), strides=(2, 2))
    embedding = self.dropout(jax.nn.relu(self.dense(x.reshape(x.shape[0], -1))))
    return self.head(embedding), embedding


class ConvAutoencoder(nnx.Module):
  """A ConvNet encoder (its ``features``-wide output is the embedding) and an MLP decoder
  back to the image; ``model(images)`` → (reconstruction, embedding)."""

  def __init__(self, in_channels: int, *, image_size: int = 28, features: int = 128, rngs: nnx.Rngs):
    self.encoder = ConvNet(in_channels, features, image_size=image_size, hidden=256, rngs=rngs)
    self.decoder = nnx.Sequential(nnx.Linear(features, 512, rngs=rngs), jax.nn.relu,
                                  nnx.Linear(512, image_size * image_size * in_channels, rngs=rngs))
    self.image_shape = (image_size, image_size, in_channels)

  def __call__(self, images):
    embedding = self.encoder(images)[0]
    return self.decoder(embedding).reshape(images.shape[0], *self.image_shape), embedding


class LinearProbed(nnx.Module):
  """A frozen backbone's embedding (``backbone(x)[1]``) with a linear classifier fitted on
  top (zoo.training.fit_linear_head): how self-supervised and other-data models classify."""

  def __init__(self, backbone: nnx.Module, features: int, num_classes: int, *, rngs: nnx.Rngs):
    self.backbone = backbone
    self.classifier = nnx.Linear(features, num_classes, rngs=rngs)

  def __call__(self, images):
    embedding = self.backbone(images)[1]
    return self.classifier(embedding), embedding
