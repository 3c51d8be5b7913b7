"""Small flax.nnx architectures for the embedded Fashion-MNIST study.

Every model returns ``(logits, embedding)`` from one forward: the embedding is the
pre-logit representation (timm's ``forward_head(pre_logits=True)``).

Convolutions here are :class:`PatchConv`: the k×k taps gathered into channels (im2col)
and one matmul. On XLA:CPU that trains ~1.6× faster than ``nnx.Conv`` (whose backward
pass runs as convolutions XLA:CPU handles poorly) and vmaps into batched matmuls rather
than grouped convolutions (benchmarks/training.py).
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


def patches(images, kernel_size: int, stride: int = 1):
  """im2col: [B, H, W, C] → [B, H/stride, W/stride, k·k·C], zero padding k//2 on each side;
  channel index (i·k + j)·C + c holds input pixel (y·stride + i − k//2, x·stride + j − k//2)."""
  pad = kernel_size // 2
  height, width = images.shape[1:3]
  padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  return jnp.concatenate([padded[:, i:i + height:stride, j:j + width:stride]
                          for i in range(kernel_size) for j in range(kernel_size)], axis=-1)


class PatchConv(nnx.Module):
  """k×k convolution with ``k//2`` zero padding as ``patches(x) @ kernel``; kernel [k, k,
  C_in, C_out] (nnx.Conv's HWIO layout and LeCun-normal init), bias [C_out]. Equals
  ``lax.conv_general_dilated(x, kernel, stride, [(k//2, k//2)] * 2)`` + bias."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int = 3, *, stride: int = 1,
               use_bias: bool = True, rngs: nnx.Rngs):
    self.kernel_size, self.stride = kernel_size, stride
    self.kernel = nnx.Param(nnx.initializers.lecun_normal()(
        rngs.params(), (kernel_size, kernel_size, in_features, out_features)))
    self.bias = nnx.Param(jnp.zeros((out_features,))) if use_bias else None

  def __call__(self, x):
    kernel = self.kernel[...]
    out = patches(x, self.kernel_size, self.stride) @ kernel.reshape(-1, kernel.shape[-1])
    return out if self.bias is None else out + self.bias[...]


def max_pool2(x):
  """2×2 max-pool, stride 2 (odd trailing rows/columns dropped, as VALID pooling does), as
  a max over a reshape: its gradient is an elementwise mask, where ``nnx.max_pool``'s
  select-and-scatter backward runs ~4× slower on XLA:CPU (and dominated the step)."""
  batch, height, width, channels = x.shape
  x = x[:, :height // 2 * 2, :width // 2 * 2]
  return x.reshape(batch, height // 2, 2, width // 2, 2, channels).max(axis=(2, 4))


class SmallCNN(nnx.Module):
  """[PatchConv3×3 → ReLU → halve] × len(channels) → global mean → Linear: no dense layer
  over positions, so it sees no spatial layout beyond its receptive field. The first
  layer halves by 2×2 max-pool, the others by stride 2."""

  def __init__(self, in_channels: int, num_classes: int, *, channels=(32, 64), dropout: float = 0.0,
               rngs: nnx.Rngs):
    sizes = [in_channels, *channels]
    self.convs = nnx.List([PatchConv(a, b, 3, stride=1 if i == 0 else 2, rngs=rngs)
                           for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))])
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(sizes[-1], num_classes, rngs=rngs)

  def __call__(self, images):
    x = max_pool2(jax.nn.relu(self.convs[0](images)))
    for conv in self.convs[1:]:
      x = jax.nn.relu(conv(x))
    embedding = self.dropout(jnp.mean(x, axis=(1, 2)))
    return self.head(embedding), embedding


class ConvNet(nnx.Module):
  """[PatchConv3×3 → (BatchNorm) → ReLU → halve] per entry of ``channels`` → flatten →
  Linear → ReLU → Dropout (the embedding) → Linear. The Fashion-MNIST study's base
  architecture. ``downsample[i]`` halves layer i's output side: "pool" (2×2 max-pool
  after it) or "stride" (the conv itself at stride 2: 4× fewer FLOPs than pooling).
  :meth:`features` is the flattened conv output (what transfer rows retrain on)."""

  def __init__(self, in_channels: int, num_classes: int, *, image_size: int = 28, channels=(32, 32),
               downsample=("pool", "stride"), hidden: int = 128, dropout: float = 0.0, batch_norm: bool = False,
               rngs: nnx.Rngs):
    if len(downsample) != len(channels) or set(downsample) - {"pool", "stride"}:
      raise ValueError(f"ConvNet downsample must give 'pool' or 'stride' per layer of channels={channels}; "
                       f"got {downsample}.")
    sizes = [in_channels, *channels]
    self.downsample = tuple(downsample)
    # No conv bias before BatchNorm: BN removes it, and Adam would turn its zero gradient's
    # rounding noise into lr-sized random steps.
    self.convs = nnx.List([PatchConv(a, b, 3, stride=2 if d == "stride" else 1, use_bias=not batch_norm, rngs=rngs)
                           for a, b, d in zip(sizes[:-1], sizes[1:], downsample)])
    self.norms = nnx.List([nnx.BatchNorm(b, momentum=0.9, rngs=rngs) if batch_norm else None for b in channels])
    side = image_size // 2 ** len(channels)
    self.feature_size = side * side * sizes[-1]
    self.dense = nnx.Linear(self.feature_size, hidden, rngs=rngs)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(hidden, num_classes, rngs=rngs)

  def features(self, images):
    x = images
    for conv, norm, down in zip(self.convs, self.norms, self.downsample):
      x = conv(x)
      x = jax.nn.relu(norm(x) if norm is not None else x)
      if down == "pool":
        x = max_pool2(x)
    return x.reshape(x.shape[0], -1)

  def __call__(self, images):
    embedding = self.dropout(jax.nn.relu(self.dense(self.features(images))))
    return self.head(embedding), embedding


class ConvAutoencoder(nnx.Module):
  """A ConvNet encoder (its ``features``-wide output is the embedding) and an MLP decoder
  back to the image; ``model(images)`` → (reconstruction, embedding)."""

  def __init__(self, in_channels: int, *, image_size: int = 28, features: int = 128, channels=(32, 32),
               rngs: nnx.Rngs):
    self.encoder = ConvNet(in_channels, features, image_size=image_size, channels=channels, hidden=256, rngs=rngs)
    self.decoder = nnx.Sequential(nnx.Linear(features, 512, rngs=rngs), jax.nn.relu,
                                  nnx.Linear(512, image_size * image_size * in_channels, rngs=rngs))
    self.image_shape = (image_size, image_size, in_channels)
    self.feature_size = self.encoder.feature_size

  def features(self, images):
    """The encoder's flattened conv output (what small.Retrained reads)."""
    return self.encoder.features(images)

  def __call__(self, images):
    embedding = self.encoder(images)[0]
    return self.decoder(embedding).reshape(images.shape[0], *self.image_shape), embedding


class _EmbeddingClassifier(nnx.Module):
  """A backbone's embedding (``backbone(x)[1]``) under a linear classifier; the
  subclasses differ in how zoo.fitting trains them."""

  def __init__(self, backbone: nnx.Module, features: int, num_classes: int, *, rngs: nnx.Rngs):
    self.backbone = backbone
    self.classifier = nnx.Linear(features, num_classes, rngs=rngs)

  def __call__(self, images):
    embedding = self.backbone(images)[1]
    return self.classifier(embedding), embedding


class LinearProbed(_EmbeddingClassifier):
  """A frozen backbone's embedding with a linear classifier fitted on top
  (zoo.training.fit_probed_classifier): how self-supervised and other-data models classify."""


class Retrained(nnx.Module):
  """A backbone pretrained elsewhere, its conv features frozen (``backbone.features``),
  under a fresh dense layer + ReLU + Dropout (the embedding) and head trained on the
  target data: transfer by retraining the top, as BiT was fine-tuned (here only the
  layers above the convolutions; zoo.fitting trains ``top`` on precomputed features)."""

  def __init__(self, backbone: nnx.Module, num_classes: int, *, hidden: int = 128, dropout: float = 0.0,
               rngs: nnx.Rngs):
    self.backbone = backbone
    self.top = Top(backbone.feature_size, num_classes, hidden=hidden, dropout=dropout, rngs=rngs)

  def __call__(self, images):
    return self.top(self.backbone.features(images))


class Top(nnx.Module):
  """Linear → ReLU → Dropout (the embedding) → Linear, on feature vectors."""

  def __init__(self, in_features: int, num_classes: int, *, hidden: int = 128, dropout: float = 0.0,
               rngs: nnx.Rngs):
    self.dense = nnx.Linear(in_features, hidden, rngs=rngs)
    self.dropout = nnx.Dropout(dropout, rngs=rngs)
    self.head = nnx.Linear(hidden, num_classes, rngs=rngs)

  def __call__(self, features):
    embedding = self.dropout(jax.nn.relu(self.dense(features)))
    return self.head(embedding), embedding


class FineTuned(_EmbeddingClassifier):
  """A backbone pretrained elsewhere with a fresh classifier on its embedding, every layer
  then fine-tuned on the target data: transfer as BiT was fine-tuned (zoo.fitting trains
  the backbone on its own data, then the whole model)."""
