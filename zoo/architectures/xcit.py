"""XCiT (El-Nouby et al. 2021, "XCiT: Cross-Covariance Image Transformers"), timm's layout
(``timm/models/xcit.py``).

conv patch embedding (3×3 stride-2 convs + batch norm, GELU between; 3 convs for 8-px patches,
4 for 16-px) + Fourier position encoding (a 1×1 conv of sin/cos features of the normalised
row / column) → XCA blocks (cross-covariance attention over channels with a learned
temperature per head, local patch interaction: depthwise 3×3 conv, GELU, batch norm, depthwise
3×3 conv; a layer scale per branch) → the class token joins: class-attention blocks → LayerNorm
→ class token (or mean patch token) → head. The model is resolution-free (no learned positions).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp, MultiHeadAttention

_FOURIER_FEATURES = 32  # timm's PositionalEncodingFourier hidden_dim (per axis)
_FOURIER_TEMPERATURE = 10000.0
_GELU = "gelu"  # timm's default act_layer nn.GELU (exact)


@dataclasses.dataclass(frozen=True)
class XcitConfig:
  """Defaults: timm's ``Xcit`` class (the entry points set width, depth, heads, eta, tokens_norm)."""
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  mlp_ratio: float = 4.0
  qkv_bias: bool = True
  num_class_layers: int = 2  # timm's cls_attn_layers
  tokens_norm: bool = False  # class-attention blocks' norm2 on every token (True) or the class token only
  use_pos_embed: bool = True
  layer_norm_eps: float = 1e-6
  pooling: str = "cls"  # "cls" or "avg" (mean patch token)
  num_classes: int = 1000


def fourier_features(height: int, width: int) -> np.ndarray:
  """[H, W, 64] of timm's PositionalEncodingFourier before its projection: with
  y = 2π·i / (H + 1e-6), x = 2π·j / (W + 1e-6) (i, j from 1) and t_k = 10000^(2⌊k/2⌋/32),
  channels [sin(y/t_0), cos(y/t_1), sin(y/t_2), …, sin(x/t_0), cos(x/t_1), …] (float32 as timm)."""
  f32 = np.float32
  scale = f32(2 * math.pi)
  rows = np.arange(1, height + 1, dtype=f32) / (f32(height) + f32(1e-6)) * scale
  cols = np.arange(1, width + 1, dtype=f32) / (f32(width) + f32(1e-6)) * scale
  index = np.arange(_FOURIER_FEATURES, dtype=f32)
  periods = (f32(_FOURIER_TEMPERATURE) ** (2 * np.floor(index / 2) / f32(_FOURIER_FEATURES))).astype(f32)

  def encode(values):  # [n] → [n, 32]: sin on even channels, cos on odd ones
    angles = (values[:, None] / periods).astype(f32)
    return np.where(np.arange(_FOURIER_FEATURES) % 2 == 0, np.sin(angles), np.cos(angles)).astype(f32)

  y = np.broadcast_to(encode(rows)[:, None, :], (height, width, _FOURIER_FEATURES))
  x = np.broadcast_to(encode(cols)[None, :, :], (height, width, _FOURIER_FEATURES))
  return np.concatenate([y, x], axis=-1)


class ConvBn(nnx.Module):
  """3×3 stride-2 conv (no bias, padding 1) + batch norm: timm's xcit ``conv3x3``."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, 3, stride=2, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)

  def __call__(self, x):
    return self.bn(self.conv(x))


class CrossCovarianceAttention(nnx.Module):
  """XCA: per head, softmax(τ_h · q̂ᵀ k̂) over the d_head × d_head channel covariance (q̂, k̂
  the L2-normalised columns over tokens), applied to v's channels; then the output projection."""

  def __init__(self, width: int, num_heads: int, *, qkv_bias: bool, rngs: nnx.Rngs):
    self.num_heads = num_heads
    self.temperature = nnx.Param(jnp.ones((num_heads, 1, 1)))
    self.qkv = nnx.Linear(width, 3 * width, use_bias=qkv_bias, rngs=rngs)
    self.out = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x):
    batch, tokens, width = x.shape
    # [B, N, 3, heads, d] → three [B, heads, d, N] (timm's permute(2, 0, 3, 4, 1))
    q, k, v = jnp.moveaxis(self.qkv(x).reshape(batch, tokens, 3, self.num_heads, -1), (2, 1), (0, -1))
    unit = lambda y: y / jnp.maximum(jnp.linalg.norm(y, axis=-1, keepdims=True), 1e-12)  # torch F.normalize
    scores = jnp.einsum("bhcn,bhdn->bhcd", unit(q), unit(k)) * self.temperature[...].astype(x.dtype)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    attended = jnp.einsum("bhcd,bhdn->bnhc", weights, v).reshape(batch, tokens, width)
    return self.out(attended)


class LocalPatchInteraction(nnx.Module):
  """depthwise 3×3 conv → GELU → batch norm → depthwise 3×3 conv on the token grid (timm's LPI)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.conv1 = layers.conv(width, width, 3, groups=width, bias=True, rngs=rngs)
    self.bn = layers.batch_norm(width, rngs=rngs)
    self.conv2 = layers.conv(width, width, 3, groups=width, bias=True, rngs=rngs)

  def __call__(self, x, height: int, width: int):
    grid = x.reshape(x.shape[0], height, width, x.shape[-1])
    grid = self.conv2(self.bn(layers.activation(_GELU)(self.conv1(grid))))
    return grid.reshape(x.shape)


class XcaBlock(nnx.Module):
  """x + γ1·XCA(norm1(x)), + γ3·LPI(norm3(·)), + γ2·MLP(norm2(·))."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, qkv_bias: bool, epsilon: float,
               rngs: nnx.Rngs):
    norm = lambda: nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.norm1, self.norm2, self.norm3 = norm(), norm(), norm()
    self.attn = CrossCovarianceAttention(width, num_heads, qkv_bias=qkv_bias, rngs=rngs)
    self.local_mp = LocalPatchInteraction(width, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, _GELU, rngs=rngs)
    self.gamma1, self.gamma2, self.gamma3 = (nnx.Param(jnp.ones((width,))) for _ in range(3))

  def __call__(self, x, height: int, width: int):
    x = x + self.gamma1[...] * self.attn(self.norm1(x))
    x = x + self.gamma3[...] * self.local_mp(self.norm3(x), height, width)
    return x + self.gamma2[...] * self.mlp(self.norm2(x))


class ClassAttentionBlock(nnx.Module):
  """timm's xcit ClassAttentionBlock on [class, patches]: n = norm1(x); x + γ1·[CA(n), n_patches]
  (the patch tokens also get their normalised selves added, as timm does); then norm2 on every
  token (``tokens_norm``) or the class token only; then timm's ``x_res + [γ2·MLP(class), patches]``:
  the class token gains γ2·MLP(class) and the patch tokens are doubled (timm's arithmetic, which
  the next block's γ1·n_patches term and mean pooling see)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, qkv_bias: bool, epsilon: float,
               tokens_norm: bool, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=qkv_bias, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, _GELU, rngs=rngs)
    self.gamma1, self.gamma2 = nnx.Param(jnp.ones((width,))), nnx.Param(jnp.ones((width,)))
    self.tokens_norm = tokens_norm

  def __call__(self, x):
    normed = self.norm1(x)
    x = x + self.gamma1[...] * jnp.concatenate([self.attn(normed, num_queries=1), normed[:, 1:]], axis=1)
    x = self.norm2(x) if self.tokens_norm else jnp.concatenate([self.norm2(x[:, :1]), x[:, 1:]], axis=1)
    return jnp.concatenate([x[:, :1] + self.gamma2[...] * self.mlp(x[:, :1]), 2 * x[:, 1:]], axis=1)


class Xcit(nnx.Module):
  """The embedding is the class token after the final LayerNorm (timm's pre-logits; the mean
  patch token with pooling "avg")."""

  def __init__(self, config: XcitConfig, *, rngs: nnx.Rngs):
    if config.pooling not in ("cls", "avg"):
      raise ValueError(f"XCiT pooling must be 'cls' or 'avg'; got {config.pooling!r}.")
    if config.patch_size not in (8, 16):
      raise ValueError(f"XCiT's conv patch embedding has patch size 8 or 16; got {config.patch_size}.")
    self.config = config
    width, heads = config.hidden_size, config.num_attention_heads
    convs = int(math.log2(config.patch_size))  # 3 stride-2 convs for 8 px, 4 for 16 px
    channels = [config.num_channels] + [width // 2 ** (convs - 1 - i) for i in range(convs)]
    self.patch_convs = nnx.List([ConvBn(channels[i], channels[i + 1], rngs=rngs) for i in range(convs)])
    self.pos_projection = (layers.conv(2 * _FOURIER_FEATURES, width, 1, bias=True, rngs=rngs)
                           if config.use_pos_embed else None)
    self.cls_token = nnx.Param(jnp.zeros((1, 1, width)))
    mlp_hidden = int(width * config.mlp_ratio)
    options = dict(qkv_bias=config.qkv_bias, epsilon=config.layer_norm_eps, rngs=rngs)
    self.blocks = nnx.List([XcaBlock(width, heads, mlp_hidden, **options) for _ in range(config.num_hidden_layers)])
    self.class_blocks = nnx.List([ClassAttentionBlock(width, heads, mlp_hidden, tokens_norm=config.tokens_norm,
                                                      **options) for _ in range(config.num_class_layers)])
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """[B, 1 + patches, width]: the class token and the patch tokens after the final LayerNorm."""
    x = images
    for index, conv_bn in enumerate(self.patch_convs):
      x = conv_bn(x if index == 0 else layers.activation(_GELU)(x))
    batch, height, width, channels = x.shape
    if self.pos_projection is not None:
      x = x + self.pos_projection(jnp.asarray(fourier_features(height, width), x.dtype)[None])
    x = x.reshape(batch, height * width, channels)
    for block in self.blocks:
      x = block(x, height, width)
    x = jnp.concatenate([jnp.broadcast_to(self.cls_token[...].astype(x.dtype), (batch, 1, channels)), x], axis=1)
    for block in self.class_blocks:
      x = block(x)
    return self.norm(x)

  def __call__(self, images):
    x = self.forward_features(images)
    embedding = jnp.mean(x[:, 1:], axis=1) if self.config.pooling == "avg" else x[:, 0]
    return (self.head(embedding) if self.head is not None else embedding), embedding
