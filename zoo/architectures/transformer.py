"""Pre-norm transformer encoder blocks shared by ViT, DeiT, CLIP (image and text) towers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


class MultiHeadAttention(nnx.Module):
  """softmax(Q Kᵀ / √d_head + mask) V over ``num_heads`` heads, then an output projection."""

  def __init__(self, width: int, num_heads: int, *, qkv_bias: bool = True, fused_qkv: bool = False,
               rngs: nnx.Rngs):
    if width % num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads {num_heads}.")
    self.num_heads = num_heads
    if fused_qkv:  # timm: one ``qkv`` Linear whose output is [q | k | v]
      self.qkv = nnx.Linear(width, 3 * width, use_bias=qkv_bias, rngs=rngs)
    else:
      self.query = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
      self.key = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
      self.value = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
    self.fused_qkv = fused_qkv
    self.out = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x, mask=None):
    """x [B, T, D]; mask broadcastable to [B, heads, T, T], True = may attend."""
    batch, tokens, width = x.shape
    split = lambda y: y.reshape(batch, tokens, self.num_heads, width // self.num_heads)
    q, k, v = jnp.split(self.qkv(x), 3, axis=-1) if self.fused_qkv else (self.query(x), self.key(x), self.value(x))
    q, k, v = split(q), split(k), split(v)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (width // self.num_heads) ** -0.5
    if mask is not None:
      scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    return self.out(jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, tokens, width))


class Mlp(nnx.Module):
  """fc2(act(fc1(x)))."""

  def __init__(self, width: int, hidden: int, act: str, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, width, rngs=rngs)
    self.act = layers.activation(act)

  def __call__(self, x):
    return self.fc2(self.act(self.fc1(x)))


class EncoderBlock(nnx.Module):
  """x + attn(norm1(x)), then + mlp(norm2(·)) (pre-norm residual block)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, act: str, epsilon: float,
               qkv_bias: bool = True, fused_qkv: bool = False, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=qkv_bias, fused_qkv=fused_qkv, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, act, rngs=rngs)

  def __call__(self, x, mask=None):
    x = x + self.attn(self.norm1(x), mask)
    return x + self.mlp(self.norm2(x))
