"""Pre-norm transformer encoder blocks shared by ViT, DeiT, CLIP (image and text) towers, and the
multihead attention pooling head of SigLIP / timm's ``global_pool="map"``; differential attention
(Ye et al. 2024, timm's DiffAttention) and the parallel attention + MLP block (Dehghani et al. 2023,
timm's ParallelScalingBlock / DiffParallelScalingBlock)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


class DifferentialAttention(nnx.Module):
  """timm's differential attention core on projected q, k, v [B, T, D]: each of the H heads splits
  into two query / key halves of width d = D / 2H (heads 2h and 2h+1 of the 2H-head split), A =
  softmax(Q₁K₁ᵀ/√d) − λ·softmax(Q₂K₂ᵀ/√d), out = RMSNorm(A V) · (1 − λ_init) with V in H heads of
  width 2d; λ = exp(λ_q1·λ_k1) − exp(λ_q2·λ_k2) + λ_init, λ_init = 0.8 − 0.6·exp(−0.3·depth)
  (``depth``: the block's index)."""

  def __init__(self, width: int, num_heads: int, depth: int, *, rngs: nnx.Rngs):
    half = width // num_heads // 2
    normal = nnx.initializers.normal(0.1)  # timm's reset_parameters
    self.lambda_q1, self.lambda_k1, self.lambda_q2, self.lambda_k2 = (
        nnx.Param(normal(rngs.params(), (half,))) for _ in range(4))
    self.sub_norm = nnx.RMSNorm(2 * half, epsilon=1e-5, rngs=rngs)
    self.num_heads, self.lambda_init = num_heads, 0.8 - 0.6 * math.exp(-0.3 * depth)

  def __call__(self, q, k, v):
    batch, tokens, width = q.shape
    heads, half = self.num_heads, width // self.num_heads // 2
    q, k = q.reshape(batch, tokens, 2 * heads, half), k.reshape(batch, tokens, 2 * heads, half)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * half ** -0.5
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    weights = weights.reshape(batch, heads, 2, tokens, tokens)
    dot = lambda a, b: jnp.sum(a[...] * b[...])
    lam = jnp.exp(dot(self.lambda_q1, self.lambda_k1)) - jnp.exp(dot(self.lambda_q2, self.lambda_k2)) + self.lambda_init
    attention = weights[:, :, 0] - lam.astype(v.dtype) * weights[:, :, 1]
    attended = jnp.einsum("bhqk,bkhd->bqhd", attention, v.reshape(batch, tokens, heads, 2 * half))
    return (self.sub_norm(attended) * (1 - self.lambda_init)).reshape(batch, tokens, width)


class MultiHeadAttention(nnx.Module):
  """softmax(Q Kᵀ / √d_head + mask) V over ``num_heads`` heads, then an output projection."""

  def __init__(self, width: int, num_heads: int, *, qkv_bias: bool = True, key_bias: bool | None = None,
               fused_qkv: bool = False, talking_heads: bool = False, scale_norm_eps: float | None = None,
               cosine: bool = False, out_bias: bool = True, differential_depth: int | None = None,
               rngs: nnx.Rngs):
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
    # timm's attn_layer="diff": differential attention (its λ from the block index)
    self.differential = (DifferentialAttention(width, num_heads, differential_depth, rngs=rngs)
                         if differential_depth is not None else None)
    # timm's scale_attn_norm (BEiT-3): a LayerNorm on the attended values before the output projection
    self.norm = nnx.LayerNorm(width, epsilon=scale_norm_eps, rngs=rngs) if scale_norm_eps else None
    self.out = nnx.Linear(width, width, use_bias=out_bias, rngs=rngs)  # out_bias False: MetaFormer's CAFormer

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
    if self.differential is not None:
      if mask is not None or bias is not None or num_queries is not None or rotary is not None:
        raise ValueError("differential attention takes no mask, bias, query subset or rotary embedding.")
      return self.out(self.differential(q, k, v))
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
  """fc2(act(fc1(x))); with ``scale_norm_eps`` fc2(norm(act(fc1(x)))) (timm's scale_mlp_norm, BEiT-3).
  ``act``: an activation name, or a module (a learned activation such as MetaFormer's StarReLU,
  whose parameters then live under ``act``); ``bias`` False: bias-free fc1 and fc2."""

  def __init__(self, width: int, hidden: int, act: str | nnx.Module, *, scale_norm_eps: float | None = None,
               bias: bool = True, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, hidden, use_bias=bias, rngs=rngs)
    self.norm = nnx.LayerNorm(hidden, epsilon=scale_norm_eps, rngs=rngs) if scale_norm_eps else None
    self.fc2 = nnx.Linear(hidden, width, use_bias=bias, rngs=rngs)
    self.act = layers.activation(act) if isinstance(act, str) else act

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
               swiglu_packed: bool = True, differential_depth: int | None = None, rngs: nnx.Rngs):
    self.post_norm = post_norm  # timm's ResPostBlock: x + norm1(attn(x)), then + norm2(mlp(·))
    self.norm1 = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    scale_norm_eps = epsilon if scale_norms else None  # BEiT-3: inner norms in attention and feed-forward
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=qkv_bias, key_bias=key_bias, fused_qkv=fused_qkv,
                                   talking_heads=talking_heads, scale_norm_eps=scale_norm_eps,
                                   differential_depth=differential_depth, rngs=rngs)
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


class ParallelBlock(nnx.Module):
  """x + ls·(attention ∥ MLP) of one LayerNorm (timm's ParallelScalingBlock): in_proj(norm(x)) =
  [mlp hidden | q | k | v] (a separate ``mlp_bias`` when the projection has none), then either
  attn_out_proj(attention) + mlp_out_proj(act(hidden)) or, ``fused_out``, out_proj of their
  concatenation; with ``differential_depth`` the attention is differential
  (DiffParallelScalingBlock, always fused)."""

  def __init__(self, width: int, num_heads: int, mlp_hidden: int, *, act: str, epsilon: float, qkv_bias: bool,
               layer_scale: bool, fused_out: bool = False, differential_depth: int | None = None, rngs: nnx.Rngs):
    self.in_norm = nnx.LayerNorm(width, epsilon=epsilon, rngs=rngs)
    self.in_proj = nnx.Linear(width, mlp_hidden + 3 * width, use_bias=qkv_bias, rngs=rngs)
    self.mlp_bias = None if qkv_bias else nnx.Param(jnp.zeros((mlp_hidden,)))
    self.differential = (DifferentialAttention(width, num_heads, differential_depth, rngs=rngs)
                         if differential_depth is not None else None)
    if fused_out:
      self.out_proj = nnx.Linear(width + mlp_hidden, width, rngs=rngs)
    else:
      self.attn_out_proj = nnx.Linear(width, width, rngs=rngs)
      self.mlp_out_proj = nnx.Linear(mlp_hidden, width, rngs=rngs)
    self.fused_out, self.num_heads, self.mlp_hidden = fused_out, num_heads, mlp_hidden
    self.act = layers.activation(act)
    self.ls = nnx.Param(jnp.ones((width,))) if layer_scale else None

  def _attend(self, q, k, v):
    if self.differential is not None:
      return self.differential(q, k, v)
    batch, tokens, width = q.shape
    heads = lambda y: y.reshape(batch, tokens, self.num_heads, width // self.num_heads)
    scores = jnp.einsum("bqhd,bkhd->bhqk", heads(q), heads(k)) * (width // self.num_heads) ** -0.5
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(v.dtype)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, heads(v)).reshape(batch, tokens, width)

  def __call__(self, x, mask=None, bias=None, num_queries: int | None = None, rotary=None):
    if mask is not None or bias is not None or num_queries is not None or rotary is not None:
      raise ValueError("the parallel block takes no mask, bias, query subset or rotary embedding.")
    projected = self.in_proj(self.in_norm(x))
    hidden = projected[..., :self.mlp_hidden]
    q, k, v = jnp.split(projected[..., self.mlp_hidden:], 3, axis=-1)
    hidden = self.act(hidden + self.mlp_bias[...] if self.mlp_bias is not None else hidden)
    attended = self._attend(q, k, v)
    if self.fused_out:
      y = self.out_proj(jnp.concatenate([attended, hidden], axis=-1))
    else:
      y = self.attn_out_proj(attended) + self.mlp_out_proj(hidden)
    return x + (y * self.ls[...] if self.ls is not None else y)


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
