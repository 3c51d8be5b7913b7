"""A headless backbone with a fitted linear classifier (rows whose head is "linear-probe")."""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx


class LinearProbeHead(nnx.Module):
  """``backbone`` (images → (_, embedding)) with a linear head W [features, classes], b [classes]:
  logits = embedding @ W + b; the embedding is the backbone's, unchanged."""

  def __init__(self, backbone, weights, bias):
    weights, bias = jnp.asarray(weights, jnp.float32), jnp.asarray(bias, jnp.float32)
    if weights.ndim != 2 or bias.shape != (weights.shape[1],):
      raise ValueError(f"LinearProbeHead needs weights [features, classes] and bias [classes]; got "
                       f"{weights.shape} and {bias.shape}.")
    self.backbone = backbone
    self.weights = nnx.Param(weights)
    self.bias = nnx.Param(bias)

  def __call__(self, images):
    embedding = self.backbone(images)[1]
    return embedding @ self.weights[...] + self.bias[...], embedding
