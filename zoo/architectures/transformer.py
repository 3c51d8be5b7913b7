"""Pre-norm transformer encoder blocks shared by ViT, DeiT, CLIP (image and text) towers, and the
multihead attention pooling head of SigLIP / timm's ``global_pool="map"``."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


class MultiHeadAttention(nnx.Module):
  """softmax(Q Kᵀ / √d_head + mask) V over ``num_heads`` heads, then an output projection."""

  def __init__(self, width: int, num_heads: int, *, qkv_bias: bool = True, key_bias: bool | None = None,
               fused_qkv: bool = False, talking_heads: bool = False, scale_norm_eps: float | None = None,
               cosine: bool = False, rngs: nnx.Rngs):
    if width % num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads {num_heads}.")
    self.num_heads = num_heads
    # Swin V2's cosine attention: cos(q, k) · exp(min(logit_scale, log 100)), a learned temperature per head
    self.logit_scale = nnx.Param(jnp.full((num_heads, 1, 1), math.log(10.0))) if cosine else None
    if fused_qkv:  # timm: one ``qkv`` Linear whose output is [q | k | v]
      # timm's BEiT / EVA: a bias-free qkv with learned q_bias and v_bias (the key has none)
      separate = qkv_bias and key_bias is False
      self.qkv = nnx.Linear(width, 3 * width, use_bias=qkv_bias and not separate, rngs=rngs)
      self.q_bias = nnx.Param(jnp.zeros((width,))) if separate else None
      self.v_bias = nnx.Param(jnp.zeros((width,))) if separate else None
    else:
      self.query = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
      # BEiT / data2vec-vision: biased query and value, bias-free key.
      self.key = nnx.Linear(width, width, use_bias=qkv_bias if key_bias is None else key_bias, rngs=rngs)
      self.value = nnx.Linear(width, width, use_bias=qkv_bias, rngs=rngs)
    self.fused_qkv = fused_qkv
    # CaiT's talking heads: the scores mixed across heads (Linear heads → heads) before and after the softmax
    self.proj_l = nnx.Linear(num_heads, num_heads, rngs=rngs) if talking_heads else None
    self.proj_w = nnx.Linear(num_heads, num_heads, rngs=rngs) if talking_heads else None
    # timm's scale_attn_norm (BEiT-3): a LayerNorm on the attended values before the output projection
    self.norm = nnx.LayerNorm(width, epsilon=scale_norm_eps, rngs=rngs) if scale_norm_eps else None
    self.out = nnx.Linear(width, width, rngs=rngs)

  def _project(self, x):
    if not self.fused_qkv:
      return self.query(x), self.key(x), self.value(x)
    q, k, v = jnp.split(self.qkv(x), 3, axis=-1)
    if self.q_bias is not None:
      q, v = q + self.q_bias[...].astype(q.dtype), v + self.v_bias[...].astype(v.dtype)
    return q, k, v

  def __call__(self, x, mask=None, bias=None, num_queries: int | None = None, rotary=None):
    """x [B, T, D]; mask broadcastable to [B, heads, T, T], True = may attend; bias (same
    broadcast) is added to the scaled scores (relative position biases). ``num_queries``: only
    the first tokens query (CaiT's class attention); the output is then [B, num_queries, D].
    ``rotary``: (sin, cos) [T, heads or 1, d_head] rotating queries and keys (:func:`rotate_pairs`;
    sin 0, cos 1 on tokens without a position)."""
    batch, tokens, width = x.shape
    split = lambda y: y.reshape(batch, y.shape[1], self.num_heads, width // self.num_heads)
    q, k, v = self._project(x)
    q, k, v = split(q), split(k), split(v)
    if rotary is not None:
      q, k = rotate_pairs(q, rotary), rotate_pairs(k, rotary)
    q = q[:, :num_queries]
    if self.logit_scale is not None:
      unit = lambda y: y / jnp.maximum(jnp.linalg.norm(y, axis=-1, keepdims=True), 1e-12)  # torch F.normalize
      scale = jnp.exp(jnp.minimum(self.logit_scale[...], math.log(100.0))).astype(q.dtype)
      scores = jnp.einsum("bqhd,bkhd->bhqk", unit(q), unit(k)) * scale[None]
    else:
      scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (width // self.num_heads) ** -0.5
    if bias is not None:
      scores = scores + bias.astype(scores.dtype)
    if mask is not None:
      scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
    if self.proj_l is not None:
      scores = self._mix_heads(self.proj_l, scores)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    if self.proj_w is not None:
      weights = self._mix_heads(self.proj_w, weights)
    attended = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, q.shape[1], width)
    return self.out(self.norm(attended) if self.norm is not None else attended)

  @staticmethod
  def _mix_heads(linear, scores):
    """[B, heads, Q, K] → the Linear over the heads axis."""
    return jnp.moveaxis(linear(jnp.moveaxis(scores, 1, -1)), -1, 1)


class Mlp(nnx.Module):
  """fc2(act(fc1(x))); with ``scale_norm_eps`` fc2(norm(act(fc1(x)))) (timm's scale_mlp_norm, BEiT-3)."""

  def __init__(self, width: int, hidden: int, act: str, *, scale_norm_eps: float | None = None, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, hidden, rngs=rngs)
    self.norm = nnx.LayerNorm(hidden, epsilon=scale_norm_eps, rngs=rngs) if scale_norm_eps else None
    self.fc2 = nnx.Linear(hidden, width, rngs=rngs)
    self.act = layers.activation(act)

  def __call__(self, x):
    x = self.act(self.fc1(x))
    return self.fc2(self.norm(x) if self.norm is not None else x)


class SwiGLU(nnx.Module):
  """fc2(norm(silu(gate) · up)), timm's names: ``packed`` (DINOv2-giant, timm's GluMlp) [gate, up] =
  fc1(x) split in halves; otherwise gate = fc1_g(x), up = fc1_x(x) (timm's SwiGLU, EVA-02's
  feed-forward). The norm (sub-LN, timm's scale_mlp) exists only with ``scale_norm_eps``."""

  def __init__(self, width: int, hidden: int, *, packed: bool = True, scale_norm_eps: float | None = None,
               rngs: nnx.Rngs):
    if packed:
      self.fc1 = nnx.Linear(width, 2 * hidden, rngs=rngs)
    else:
      self.fc1_g = nnx.Linear(width, hidden, rngs=rngs)
      self.fc1_x = nnx.Linear(width, hidden, rngs=rngs)
    self.packed = packed
    self.norm = nnx.LayerNorm(hidden, epsilon=scale_norm_eps, rngs=rngs) if scale_norm_eps else None
    self.fc2 = nnx.Linear(hidden, width, rngs=rngs)

  def __call__(self, x):
    gate, up = jnp.split(self.fc1(x), 2, axis=-1) if self.packed else (self.fc1_g(x), self.fc1_x(x))
    x = jax.nn.silu(gate) * up
    return self.fc2(self.norm(x) if self.norm is not None else x)


def rotate_pairs(x, rotary):
  """Rotary position embedding, interleaved layout (timm's ``apply_rot_embed(half=False)``): each
  channel pair (2i, 2i+1) rotated by its angle, x·cos + [−x₁, x₀, −x₃, x₂, …]·sin; ``rotary`` =
  (sin, cos), each broadcastable to x [B, T, heads, d_head] with every value repeated per pair."""
  sin, cos = rotary
  pairs = x.reshape(*x.shape[:-1], -1, 2)
  rotated = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x.shape)
  return (x * cos + rotated * sin).astype(x.dtype)


class EncoderBlock(nnx.Module):
  """x + ls1·attn(norm1(x)), then + ls2·mlp(norm2(·)) (pre-norm residual block); the
  per-channel layer scales ls1, ls2 exist only with ``layer_scale`` (DINOv2, BEiT, CaiT), the
  feed-forward is SwiGLU with ``swiglu`` (packed, or split with ``swiglu_packed=False``; with an
  inner norm by ``scale_norms`` or ``scale_mlp_norm``), the attention mixes heads with ``talking_heads``; with
  ``post_norm`` the norms follow the branches instead (timm's ResPostBlock)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, act: str, epsilon: float,
               qkv_bias: bool = True, key_bias: bool | None = None, layer_scale: bool = False,
               swiglu: bool = False, fused_qkv: bool = False, talking_heads: bool = False,
               scale_norms: bool = False, post_norm: bool = False, scale_mlp_norm: bool = False,
               swiglu_packed: bool = True, rngs: nnx.Rngs):
    self.post_norm = post_norm  # timm's ResPostBlock: x + norm1(attn(x)), then + norm2(mlp(·))
    self.norm1 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    scale_norm_eps = epsilon if scale_norms else None  # BEiT-3: inner norms in attention and feed-forward
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=qkv_bias, key_bias=key_bias, fused_qkv=fused_qkv,
                                   talking_heads=talking_heads, scale_norm_eps=scale_norm_eps, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    # timm's scale_mlp alone (EVA-02): the feed-forward's inner norm without the attention's
    mlp_norm_eps = epsilon if scale_norms or scale_mlp_norm else None
    self.mlp = (SwiGLU(width, mlp_hidden, packed=swiglu_packed, scale_norm_eps=mlp_norm_eps, rngs=rngs) if swiglu
                else Mlp(width, mlp_hidden, act, scale_norm_eps=mlp_norm_eps, rngs=rngs))
    self.ls1 = nnx.Param(jnp.ones((width,))) if layer_scale else None
    self.ls2 = nnx.Param(jnp.ones((width,))) if layer_scale else None

  def __call__(self, x, mask=None, bias=None, num_queries: int | None = None, rotary=None):
    """``num_queries``: only the first tokens are updated (and returned), attending over all of
    ``x`` (CaiT's class-attention blocks on [class, patches]); ``rotary``: the attention's rotary
    position embedding (see :class:`MultiHeadAttention`)."""
    if self.post_norm:
      x = x[:, :num_queries] + self.norm1(self.attn(x, mask, bias, num_queries, rotary))
      return x + self.norm2(self.mlp(x))
    y = self.attn(self.norm1(x), mask, bias, num_queries, rotary)
    x = x[:, :num_queries] + (y * self.ls1[...] if self.ls1 is not None else y)
    y = self.mlp(self.norm2(x))
    return x + (y * self.ls2[...] if self.ls2 is not None else y)


class AttentionPoolingHead(nnx.Module):
  """MAP: one learned probe query attends over all tokens, then y + mlp(norm(y)); returns y [B, width].

  ``packed_projection``: the q|k|v projection is one ``in_proj`` Linear (PyTorch
  ``nn.MultiheadAttention``, transformers' SigLIP); otherwise a ``q`` Linear and a k|v ``kv``
  Linear (timm's ``AttentionPoolLatent``, the probe stored as ``latent``)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, act: str, epsilon: float,
               packed_projection: bool = True, rngs: nnx.Rngs):
    self.num_heads = num_heads
    self.probe = nnx.Param(nnx.initializers.normal(1.0)(rngs.params(), (1, 1, width)))
    if packed_projection:
      self.in_proj = nnx.Linear(width, 3 * width, rngs=rngs)
    else:
      self.q = nnx.Linear(width, width, rngs=rngs)
      self.kv = nnx.Linear(width, 2 * width, rngs=rngs)
    self.packed_projection = packed_projection
    self.out = nnx.Linear(width, width, rngs=rngs)
    self.norm = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.mlp = Mlp(width, mlp_hidden, act, rngs=rngs)

  def _projections(self, probe, x):
    if not self.packed_projection:
      return (self.q(probe), *jnp.split(self.kv(x), 2, axis=-1))
    kernel_q, kernel_k, kernel_v = jnp.split(self.in_proj.kernel[...], 3, axis=1)
    bias_q, bias_k, bias_v = jnp.split(self.in_proj.bias[...], 3)
    return probe @ kernel_q + bias_q, x @ kernel_k + bias_k, x @ kernel_v + bias_v

  def __call__(self, x):
    batch, tokens, width = x.shape
    query, key, value = self._projections(self.probe[...].astype(x.dtype), x)
    heads = lambda y: y.reshape(y.shape[0], y.shape[1], self.num_heads, width // self.num_heads)
    query, key, value = heads(query), heads(key), heads(value)
    pooled = jax.nn.dot_product_attention(jnp.broadcast_to(query, (batch, *query.shape[1:])), key, value)
    pooled = self.out(pooled.reshape(batch, 1, width))
    return (pooled + self.mlp(self.norm(pooled)))[:, 0]
