"""SwiftFormer (Shaker et al. 2023, "SwiftFormer: Efficient Additive Attention for Transformer-based
Real-time Mobile Vision Applications"), the layout and semantics of timm's ``SwiftFormer``
(timm/models/swiftformer.py).

Stem: two 3×3/2 biased conv → BN → ReLU (EfficientFormer's stem). 4 stages, stages 2-4 opening with
a 3×3/2 biased conv → BN; each stage is depth − 1 conv encoders then one SwiftFormer block:
conv encoder x + γ · pw₂(GELU(pw₁(BN(dwconv₃ₓ₃(x))))) (hidden width mlp_ratio · C; the block's
local representation is the same with hidden width C), SwiftFormer block
x ← local(x); x ← x + γ₁ · additive_attention(x); x ← x + γ₂ · fc₂(GELU(fc₁(BN(x)))) (1×1 convs).
Efficient additive attention over the N tokens (n̂(·) = L2 normalisation, max(‖·‖, 1e-12)):
q = n̂(W_q x), k = n̂(W_k x), α = n̂_over_tokens(q · w_g · D^-½), g = Σₙ αₙ qₙ,
out = final(proj(g ⊙ k) + q).
Head: BN → mean over H, W (the embedding) → the mean of two Linear heads (class and distillation).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientformer import Downsample, Stem
from zoo.architectures.efficientnet import LayerScale

NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize's default eps


@dataclasses.dataclass(frozen=True)
class SwiftFormerConfig:
  """Defaults: SwiftFormer-XS."""
  depths: tuple[int, ...] = (3, 3, 6, 4)
  embed_dims: tuple[int, ...] = (48, 56, 112, 220)
  mlp_ratio: float = 4.0
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    if len(self.depths) != len(self.embed_dims) or min(self.depths) < 1:
      raise ValueError(f"SwiftFormer depths {self.depths} and embed_dims {self.embed_dims} need one entry per "
                       "stage, each depth ≥ 1 (the stage ends with a SwiftFormer block).")


def _l2_normalize(x, axis: int):
  """torch.nn.functional.normalize: x / max(‖x‖₂, eps) along ``axis``."""
  return x / jnp.maximum(jnp.linalg.norm(x, axis=axis, keepdims=True), NORMALIZE_EPS)


class ConvEncoder(nnx.Module):
  """x + γ · pwconv2(GELU(pwconv1(BN(dwconv₃ₓ₃(x))))) (timm's ConvEncoder / LocalRepresentation)."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.dwconv = layers.conv(width, width, 3, groups=width, bias=True, rngs=rngs)
    self.norm = layers.batch_norm(width, rngs=rngs)
    self.pwconv1 = layers.conv(width, hidden, 1, bias=True, rngs=rngs)
    self.pwconv2 = layers.conv(hidden, width, 1, bias=True, rngs=rngs)
    self.layer_scale = LayerScale(width)

  def __call__(self, x):
    branch = self.pwconv1(self.norm(self.dwconv(x)))
    return x + self.layer_scale(self.pwconv2(layers.activation("gelu")(branch)))


class AdditiveAttention(nnx.Module):
  """Efficient additive attention (module docstring's formula) on an NHWC map, one head."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.to_query = nnx.Linear(width, width, rngs=rngs)
    self.to_key = nnx.Linear(width, width, rngs=rngs)
    self.w_g = nnx.Param(jax.random.normal(rngs.params(), (width, 1)))
    self.proj = nnx.Linear(width, width, rngs=rngs)
    self.final = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x):
    batch, height, width, channels = x.shape
    tokens = x.reshape(batch, height * width, channels)
    query = _l2_normalize(self.to_query(tokens), axis=-1)
    key = _l2_normalize(self.to_key(tokens), axis=-1)
    weights = _l2_normalize(query @ self.w_g[...] * channels ** -0.5, axis=1)  # [B, N, 1], over tokens
    global_query = jnp.sum(weights * query, axis=1, keepdims=True)
    out = self.final(self.proj(global_query * key) + query)
    return out.reshape(batch, height, width, channels)


class ConvMlp(nnx.Module):
  """fc2(GELU(fc1(BN(x)))) with 1×1 convs (timm's SwiftFormer Mlp)."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.norm1 = layers.batch_norm(width, rngs=rngs)
    self.fc1 = layers.conv(width, hidden, 1, bias=True, rngs=rngs)
    self.fc2 = layers.conv(hidden, width, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return self.fc2(layers.activation("gelu")(self.fc1(self.norm1(x))))


class SwiftFormerBlock(nnx.Module):
  """local_representation → + γ₁ · attn → + γ₂ · linear (timm's Block)."""

  def __init__(self, width: int, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.local_representation = ConvEncoder(width, width, rngs=rngs)
    self.attn = AdditiveAttention(width, rngs=rngs)
    self.linear = ConvMlp(width, int(width * mlp_ratio), rngs=rngs)
    self.layer_scale_1 = LayerScale(width)
    self.layer_scale_2 = LayerScale(width)

  def __call__(self, x):
    x = self.local_representation(x)
    x = x + self.layer_scale_1(self.attn(x))
    return x + self.layer_scale_2(self.linear(x))


class SwiftFormerStage(nnx.Module):
  """Optional downsample, depth − 1 conv encoders, one SwiftFormer block."""

  def __init__(self, config: SwiftFormerConfig, stage: int, *, rngs: nnx.Rngs):
    width, depth = config.embed_dims[stage], config.depths[stage]
    self.downsample = Downsample(config.embed_dims[stage - 1], width, rngs=rngs) if stage else None
    hidden = int(width * config.mlp_ratio)
    self.blocks = nnx.List([ConvEncoder(width, hidden, rngs=rngs) for _ in range(depth - 1)]
                           + [SwiftFormerBlock(width, config.mlp_ratio, rngs=rngs)])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class SwiftFormer(nnx.Module):
  """The embedding is the mean over H, W after the final BN; the logits average the class and
  distillation heads (timm's inference forward)."""

  def __init__(self, config: SwiftFormerConfig, *, rngs: nnx.Rngs):
    dims = config.embed_dims
    self.stem = Stem(config.num_channels, dims[0], rngs=rngs)
    self.stages = nnx.List([SwiftFormerStage(config, stage, rngs=rngs) for stage in range(len(dims))])
    self.norm = layers.batch_norm(dims[-1], rngs=rngs)
    self.head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC map of the last stage after the final BN."""
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    return self.norm(x)

  def __call__(self, images):
    embedding = jnp.mean(self.forward_features(images), axis=(1, 2))
    if self.head is None:
      return embedding, embedding
    return (self.head(embedding) + self.head_dist(embedding)) / 2, embedding
