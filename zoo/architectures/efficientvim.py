"""EfficientViM (Lee et al., CVPR 2025: Vision Mamba with a Hidden State Mixer based State Space
Duality) in timm's layout (``timm/models/efficientvim.py``), channels-last.

stem (four 3×3 stride-2 conv-BN, ReLU between: reduction 16) → three stages of blocks (a
PatchMerging after each but the last) → a fused head. A block updates x through four gated
branches, x ← x + σ(α_k) · (branch_k(x) − x): depthwise conv-BN, the HSM-SSD mixer of the
LayerNorm'd map, depthwise conv-BN, a conv-BN FFN. HSM-SSD mixes tokens through S hidden
states: [B, C, dt] = dwconv(Linear(x)); a = softmax over the L tokens of dt + A; the hidden state
h = Σ_l x_l (a·B)_l ([S, C]); h ← out_proj(h·silu(z) + h·D) with [h, z] = hz_proj(h); y_l = Σ_s C_ls h_s.
The head pools each stage's LayerNorm'd last hidden state (over the S states) and the
LayerNorm'd final map (over positions): the embedding is their concatenation, the logits
Σ_i softmax(weights)_i · heads_i(pooled_i) (the ``distilled`` models average a second such sum).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import SqueezeExcite


@dataclasses.dataclass(frozen=True)
class EfficientVimConfig:
  """timm's EfficientViM / EfficientViMDistilled arguments."""
  embed_dims: tuple[int, ...] = (128, 256, 512)
  depths: tuple[int, ...] = (2, 2, 2)
  state_dims: tuple[int, ...] = (49, 25, 9)
  mlp_ratio: float = 4.0
  ssd_expand: float = 1.0
  distilled: bool = False
  num_channels: int = 3
  num_classes: int = 1000


class ConvNorm(nnx.Module):
  """timm efficientvim's ConvLayer2d: [relu](norm(conv(x))), a bias-free k×k conv (padding
  (k − 1) / 2), BN unless ``norm`` is False."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int, *, stride: int = 1, groups: int = 1,
               norm: bool = True, relu: bool = False, rngs: nnx.Rngs):
    self.conv = layers.conv(in_dim, out_dim, kernel_size, stride=stride, groups=groups, rngs=rngs)
    self.norm = layers.batch_norm(out_dim, rngs=rngs) if norm else None
    self.relu = relu

  def __call__(self, x):
    x = self.conv(x)
    x = self.norm(x) if self.norm is not None else x
    return jax.nn.relu(x) if self.relu else x


class Pointwise1d(nnx.Module):
  """timm's bias-free kernel-1 Conv1d over the channel axis; ``weight`` kept in PyTorch's
  [out, in] layout (its [out, in, 1] tensor loads by dropping the unit axis)."""

  def __init__(self, in_dim: int, out_dim: int):
    self.weight = nnx.Param(jnp.zeros((out_dim, in_dim)))

  def __call__(self, x):
    return jnp.einsum("...i,oi->...o", x, self.weight[...])


class HsmSsd(nnx.Module):
  """The Hidden State Mixer based SSD over [B, H, W, C] → (y [B, H, W, C], hidden states [B, S, C])."""

  def __init__(self, dim: int, state_dim: int, ssd_expand: float, *, rngs: nnx.Rngs):
    self.state_dim, self.inner = state_dim, int(ssd_expand * dim)
    self.BCdt_proj = Pointwise1d(dim, 3 * state_dim)
    self.dw = ConvNorm(3 * state_dim, 3 * state_dim, 3, groups=3 * state_dim, norm=False, rngs=rngs)
    self.hz_proj = Pointwise1d(dim, 2 * self.inner)
    self.out_proj = Pointwise1d(self.inner, dim)
    self.A = nnx.Param(jnp.zeros((state_dim,)))
    self.D = nnx.Param(jnp.ones((1,)))

  def __call__(self, x):
    batch, height, width, channels = x.shape
    tokens = x.reshape(batch, height * width, channels)
    bcdt = self.dw(self.BCdt_proj(x)).reshape(batch, height * width, 3 * self.state_dim)
    b, c, dt = jnp.split(bcdt, 3, axis=-1)
    a = jax.nn.softmax(dt + self.A[...], axis=1)  # over the tokens, per state
    h = jnp.einsum("blc,bls->bsc", tokens, a * b)
    h, z = jnp.split(self.hz_proj(h), 2, axis=-1)
    h = self.out_proj(h * jax.nn.silu(z) + h * self.D[...])
    y = jnp.einsum("bsc,bls->blc", h, c)
    return y.reshape(batch, height, width, channels), h


class Ffn(nnx.Module):
  """fc2(fc1(x)): 1×1 conv-BN-ReLU then 1×1 conv-BN."""

  def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = ConvNorm(dim, hidden, 1, relu=True, rngs=rngs)
    self.fc2 = ConvNorm(hidden, dim, 1, rngs=rngs)

  def __call__(self, x):
    return self.fc2(self.fc1(x))


class Block(nnx.Module):
  """timm's EfficientViMBlock: four gated branches x ← x + σ(α_k)(branch_k(x) − x); returns (x, h)."""

  def __init__(self, dim: int, state_dim: int, config: EfficientVimConfig, *, rngs: nnx.Rngs):
    self.mixer = HsmSsd(dim, state_dim, config.ssd_expand, rngs=rngs)
    self.norm = nnx.LayerNorm(dim, epsilon=1e-5, rngs=rngs)
    self.dwconv1 = ConvNorm(dim, dim, 3, groups=dim, rngs=rngs)
    self.dwconv2 = ConvNorm(dim, dim, 3, groups=dim, rngs=rngs)
    self.ffn = Ffn(dim, int(dim * config.mlp_ratio), rngs=rngs)
    self.alpha = nnx.Param(jnp.zeros((4, dim)))

  def __call__(self, x):
    gates = jax.nn.sigmoid(self.alpha[...])
    x = x + gates[0] * (self.dwconv1(x) - x)
    y, h = self.mixer(self.norm(x))
    x = x + gates[1] * (y - x)
    x = x + gates[2] * (self.dwconv2(x) - x)
    return x + gates[3] * (self.ffn(x) - x), h


class PatchMerging(nnx.Module):
  """x + dwconv1(x) → 1×1 conv-BN-ReLU (width 4·out) → 3×3 stride-2 depthwise conv-BN-ReLU → SE
  (ReLU, reduction 1/4) → 1×1 conv-BN, then + dwconv2(·) (depthwise conv-BN bypasses)."""

  def __init__(self, in_dim: int, out_dim: int, *, rngs: nnx.Rngs):
    hidden = 4 * out_dim
    self.dwconv1 = ConvNorm(in_dim, in_dim, 3, groups=in_dim, rngs=rngs)
    self.conv = nnx.List([
        ConvNorm(in_dim, hidden, 1, relu=True, rngs=rngs),
        ConvNorm(hidden, hidden, 3, stride=2, groups=hidden, relu=True, rngs=rngs),
        SqueezeExcite(hidden, layers.make_divisible(hidden * 0.25, 8, round_limit=0.0), jax.nn.relu, rngs=rngs),
        ConvNorm(hidden, out_dim, 1, rngs=rngs)])
    self.dwconv2 = ConvNorm(out_dim, out_dim, 3, groups=out_dim, rngs=rngs)

  def __call__(self, x):
    x = x + self.dwconv1(x)
    for layer in self.conv:
      x = layer(x)
    return x + self.dwconv2(x)


class Stage(nnx.Module):
  """The blocks, then the PatchMerging (not after the last stage); returns (x, last block's h)."""

  def __init__(self, index: int, config: EfficientVimConfig, *, rngs: nnx.Rngs):
    dim, last = config.embed_dims[index], index == len(config.depths) - 1
    self.blocks = nnx.List([Block(dim, config.state_dims[index], config, rngs=rngs)
                            for _ in range(config.depths[index])])
    self.downsample = None if last else PatchMerging(dim, config.embed_dims[index + 1], rngs=rngs)

  def __call__(self, x):
    for block in self.blocks:
      x, h = block(x)
    return (self.downsample(x) if self.downsample is not None else x), h


class EfficientVim(nnx.Module):
  """timm's EfficientViM (``distilled``: EfficientViMDistilled at inference); ``__call__`` →
  (logits, embedding); num_classes 0 = no heads (the embedding twice)."""

  def __init__(self, config: EfficientVimConfig, *, rngs: nnx.Rngs):
    self.config, dims = config, config.embed_dims
    widths = (dims[0] // 8, dims[0] // 4, dims[0] // 2, dims[0])
    self.patch_embed = nnx.List([
        ConvNorm(w_in, w_out, 3, stride=2, relu=i < 3, rngs=rngs)
        for i, (w_in, w_out) in enumerate(zip((config.num_channels,) + widths[:3], widths))])
    self.stages = nnx.List([Stage(i, config, rngs=rngs) for i in range(len(config.depths))])
    self.norm = nnx.List([nnx.LayerNorm(d, epsilon=1e-5, rngs=rngs) for d in (*dims, dims[-1])])
    heads = lambda: nnx.List([nnx.Linear(d, config.num_classes, rngs=rngs) for d in (*dims, dims[-1])])
    branches = len(dims) + 1
    self.heads = heads() if config.num_classes else None
    self.weights = nnx.Param(jnp.ones((branches,)))
    self.heads_dist = heads() if config.num_classes and config.distilled else None
    self.weights_dist = nnx.Param(jnp.ones((branches,))) if config.distilled else None

  @staticmethod
  def _fuse(heads, weights, pooled):
    """Σ_i softmax(weights)_i · heads_i(pooled_i)."""
    shares = jax.nn.softmax(weights[...])
    return sum(shares[i] * head(p) for i, (head, p) in enumerate(zip(heads, pooled)))

  def __call__(self, pixel_values):
    x = pixel_values
    for layer in self.patch_embed:
      x = layer(x)
    pooled = []
    for stage, norm in zip(self.stages, self.norm):
      x, h = stage(x)
      pooled.append(jnp.mean(norm(h), axis=1))
    pooled.append(jnp.mean(self.norm[-1](x), axis=(1, 2)))
    embedding = jnp.concatenate(pooled, axis=-1)
    if self.heads is None:
      return embedding, embedding
    logits = self._fuse(self.heads, self.weights, pooled)
    if self.heads_dist is not None:
      logits = (logits + self._fuse(self.heads_dist, self.weights_dist, pooled)) / 2
    return logits, embedding
