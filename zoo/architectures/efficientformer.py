"""EfficientFormer (Li et al. 2022, "EfficientFormer: Vision Transformers at MobileNet Speed"), the layout
and semantics of timm's ``EfficientFormer`` (timm/models/efficientformer.py).

stem (two 3×3/2 conv → BN → ReLU, biased convs) → four stages (stages 2-4 open with a 3×3/2 conv → BN)
of PoolFormer-style 4D blocks x + γ₁·(avgpool3×3(x) − x), x + γ₂·MLP(x) with MLP = BN(fc2(GELU(BN(fc1(x)))))
as 1×1 convs; the last ``num_vit`` blocks of the last stage run on the flattened tokens as 3D blocks
x + γ₁·Attn(LN(x)), x + γ₂·MLP(LN(x)) (Linear MLP), where Attn has 8 heads of key width 32, value width
128 and a learned bias per head and |Δrow|·7 + |Δcol| on the fixed 7×7 grid (so the input is fixed at
224 px) → LayerNorm → token mean (the embedding) → the mean of two Linear heads (class and distillation).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale
from zoo.architectures.levit import bias_indices
from zoo.architectures.metaformer import Pooling
from zoo.architectures.transformer import Mlp

ATTENTION_RESOLUTION = 7  # timm's Attention(resolution=7): the last stage's grid at 224 px
LAYER_NORM_EPS = 1e-5  # torch nn.LayerNorm's default (timm's norm_layer_cl)


@dataclasses.dataclass(frozen=True)
class EfficientFormerConfig:
  """Defaults: EfficientFormer-L1."""
  depths: tuple[int, ...] = (3, 2, 6, 4)
  widths: tuple[int, ...] = (48, 96, 224, 448)
  num_vit: int = 1
  mlp_ratio: float = 4.0
  num_channels: int = 3
  num_classes: int = 1000


class Attention(nnx.Module):
  """softmax(q kᵀ/√32 + bias[h, |Δrow|·7 + |Δcol|]) v over 8 heads (qkv: per head [q 32 | k 32 | v 128]),
  then proj."""

  def __init__(self, width: int, *, key_dim: int = 32, num_heads: int = 8, attn_ratio: float = 4.0,
               rngs: nnx.Rngs):
    self.num_heads, self.key_dim = num_heads, key_dim
    value_width = int(attn_ratio * key_dim) * num_heads
    self.qkv = nnx.Linear(width, 2 * key_dim * num_heads + value_width, rngs=rngs)
    self.proj = nnx.Linear(value_width, width, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, ATTENTION_RESOLUTION ** 2)))

  def __call__(self, x):
    batch, tokens, _ = x.shape
    if tokens != ATTENTION_RESOLUTION ** 2:
      raise ValueError(f"EfficientFormer attention needs a {ATTENTION_RESOLUTION}×{ATTENTION_RESOLUTION} grid "
                       f"(224 px input), got {tokens} tokens.")
    qkv = self.qkv(x).reshape(batch, tokens, self.num_heads, -1)
    q, k, v = jnp.split(qkv, [self.key_dim, 2 * self.key_dim], axis=-1)
    bias = self.attention_biases[...][:, bias_indices(ATTENTION_RESOLUTION, 1)]
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * self.key_dim ** -0.5 + bias[None]
    attended = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
    return self.proj(attended.reshape(batch, tokens, -1))


class ConvMlpWithNorm(nnx.Module):
  """BN(fc2(GELU(BN(fc1(x))))) with biased 1×1 convs."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(width, hidden, 1, bias=True, rngs=rngs)
    self.norm1 = layers.batch_norm(hidden, rngs=rngs)
    self.fc2 = layers.conv(hidden, width, 1, bias=True, rngs=rngs)
    self.norm2 = layers.batch_norm(width, rngs=rngs)

  def __call__(self, x):
    return self.norm2(self.fc2(layers.activation("gelu")(self.norm1(self.fc1(x)))))


class MetaBlock2d(nnx.Module):
  """x + γ₁·(avgpool3×3(x) − x), then x + γ₂·MLP(x) on NHWC maps."""

  def __init__(self, width: int, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.token_mixer = Pooling()
    self.ls1 = LayerScale(width)
    self.mlp = ConvMlpWithNorm(width, int(width * mlp_ratio), rngs=rngs)
    self.ls2 = LayerScale(width)

  def __call__(self, x):
    x = x + self.ls1(self.token_mixer(x))
    return x + self.ls2(self.mlp(x))


class MetaBlock1d(nnx.Module):
  """x + γ₁·Attn(LN(x)), then x + γ₂·MLP(LN(x)) on [B, N, C] tokens."""

  def __init__(self, width: int, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=LAYER_NORM_EPS, rngs=rngs)
    self.token_mixer = Attention(width, rngs=rngs)
    self.ls1 = LayerScale(width)
    self.norm2 = nnx.LayerNorm(width, epsilon=LAYER_NORM_EPS, rngs=rngs)
    self.mlp = Mlp(width, int(width * mlp_ratio), "gelu", rngs=rngs)
    self.ls2 = LayerScale(width)

  def __call__(self, x):
    x = x + self.ls1(self.token_mixer(self.norm1(x)))
    return x + self.ls2(self.mlp(self.norm2(x)))


class Flat(nnx.Module):
  """NHWC → [B, H·W, C] (row-major tokens); parameter-free, it holds its index in timm's block list."""

  def __call__(self, x):
    return x.reshape(x.shape[0], -1, x.shape[-1])


def stage_layout(depth: int, num_vit: int) -> list[str]:
  """The kinds ("2d", "flat", "1d") of a stage's block list in timm's order: the last ``num_vit``
  blocks are 3D, preceded by the Flat that timm places in the same Sequential."""
  kinds = ["flat"] if num_vit >= depth else []
  for index in range(depth):
    remaining = depth - index - 1
    kinds.append("1d" if num_vit > remaining else "2d")
    if num_vit and num_vit == remaining:
      kinds.append("flat")
  return kinds


class Downsample(nnx.Module):
  """3×3/2 biased conv → BN."""

  def __init__(self, in_width: int, out_width: int, *, rngs: nnx.Rngs):
    self.conv = layers.conv(in_width, out_width, 3, stride=2, bias=True, rngs=rngs)
    self.norm = layers.batch_norm(out_width, rngs=rngs)

  def __call__(self, x):
    return self.norm(self.conv(x))


class EfficientFormerStage(nnx.Module):
  """Optional downsample, then the blocks (3D ones on the flattened tokens)."""

  def __init__(self, config: EfficientFormerConfig, in_width: int, stage: int, *, rngs: nnx.Rngs):
    width = config.widths[stage]
    self.downsample = Downsample(in_width, width, rngs=rngs) if stage > 0 else None
    num_vit = config.num_vit if stage == len(config.depths) - 1 else 0
    build = {"2d": lambda: MetaBlock2d(width, config.mlp_ratio, rngs=rngs), "flat": Flat,
             "1d": lambda: MetaBlock1d(width, config.mlp_ratio, rngs=rngs)}
    self.blocks = nnx.List([build[kind]() for kind in stage_layout(config.depths[stage], num_vit)])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class Stem(nnx.Module):
  """Two 3×3/2 biased conv → BN → ReLU (timm's Stem4)."""

  def __init__(self, in_width: int, width: int, *, rngs: nnx.Rngs):
    self.conv1 = layers.conv(in_width, width // 2, 3, stride=2, bias=True, rngs=rngs)
    self.norm1 = layers.batch_norm(width // 2, rngs=rngs)
    self.conv2 = layers.conv(width // 2, width, 3, stride=2, bias=True, rngs=rngs)
    self.norm2 = layers.batch_norm(width, rngs=rngs)

  def __call__(self, x):
    return jax.nn.relu(self.norm2(self.conv2(jax.nn.relu(self.norm1(self.conv1(x))))))


class EfficientFormer(nnx.Module):
  """The embedding is the token mean after the final LayerNorm; the logits average the class and
  distillation heads (timm's inference)."""

  def __init__(self, config: EfficientFormerConfig, *, rngs: nnx.Rngs):
    if config.num_vit < 1:
      raise ValueError("EfficientFormer with num_vit=0 is not supported (timm's final LayerNorm then normalises "
                       "an NCHW map's width axis).")
    self.stem = Stem(config.num_channels, config.widths[0], rngs=rngs)
    inputs = (config.widths[0], *config.widths[:-1])
    self.stages = nnx.List([EfficientFormerStage(config, inputs[i], i, rngs=rngs)
                            for i in range(len(config.depths))])
    last = config.widths[-1]
    self.norm = nnx.LayerNorm(last, epsilon=LAYER_NORM_EPS, rngs=rngs)
    self.head = nnx.Linear(last, config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = nnx.Linear(last, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    embedding = jnp.mean(self.norm(x), axis=1)
    if self.head is None:
      return embedding, embedding
    return (self.head(embedding) + self.head_dist(embedding)) / 2, embedding
