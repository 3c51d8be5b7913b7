"""EfficientViT of Microsoft Research (Liu et al. 2023, "EfficientViT: Memory Efficient Vision
Transformer with Cascaded Group Attention"), timm's layout (``timm/models/efficientvit_msra.py``).

stem: four 3×3/2 conv-BNs with ReLUs between → stages (from the second opened by a subsample: residual
dw3×3 conv-BN and FFN, patch merging 1×1 → ReLU → dw3×3/2 → ReLU → SE → 1×1, residual dw conv and
FFN again) of blocks x += dw0(x); x += ffn0(x); x += attention(x); x += dw1(x); x += ffn1(x)
(ffn = 1×1 conv-BN → ReLU → 1×1 conv-BN) → global mean (the embedding) → BN + Linear.

The attention runs in windows (zero-padded to a multiple of the window, then cropped): cascaded
group attention, where head h reads its channel chunk plus head h − 1's output, projects q, k, v by a
1×1 conv-BN, convolves q depthwise (k_h × k_h conv-BN), adds a learned bias indexed by
(|Δy|, |Δx|) to the scores, and the concatenated heads pass ReLU → 1×1 conv-BN. A stage's window is
min(window_size, its feature resolution at the model's ``img_size``), which fixes the bias tables.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.levit import NormLinear
from zoo.architectures.resnet import ConvNormAct, SqueezeExcite


@dataclasses.dataclass(frozen=True)
class EfficientVitMsraConfig:
  """Defaults: timm's efficientvit_m0."""
  image_size: int = 224
  embed_dims: tuple[int, ...] = (64, 128, 192)
  key_dims: tuple[int, ...] = (16, 16, 16)
  depths: tuple[int, ...] = (1, 2, 3)
  num_heads: tuple[int, ...] = (4, 4, 4)
  window_sizes: tuple[int, ...] = (7, 7, 7)
  kernels: tuple[int, ...] = (5, 5, 5, 5)
  num_channels: int = 3
  num_classes: int = 1000


def _conv_norm(in_dim: int, out_dim: int, kernel_size: int = 1, *, stride: int = 1, groups: int = 1, act=None,
               rngs: nnx.Rngs) -> ConvNormAct:
  return ConvNormAct(in_dim, out_dim, kernel_size, stride=stride, groups=groups, act=act, rngs=rngs)


class ConvMlp(nnx.Module):
  """pw2(ReLU(pw1(x))), 1×1 conv-BNs."""

  def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
    self.pw1 = _conv_norm(dim, hidden, act="relu", rngs=rngs)
    self.pw2 = _conv_norm(hidden, dim, rngs=rngs)

  def __call__(self, x):
    return self.pw2(self.pw1(x))


def window_bias_index(window: int) -> np.ndarray:
  """[N, N] index of timm's attention_biases for N = window² positions: |Δy| · window + |Δx| (the
  order in which timm first meets each offset, scanning from position (0, 0))."""
  rows, cols = np.divmod(np.arange(window * window), window)
  return np.abs(rows[:, None] - rows[None]) * window + np.abs(cols[:, None] - cols[None])


class CascadedGroupAttention(nnx.Module):
  """timm's CascadedGroupAttention on [B, window, window, C] windows."""

  def __init__(self, dim: int, key_dim: int, num_heads: int, window: int, kernels, *, rngs: nnx.Rngs):
    self.key_dim, self.value_dim, self.window = key_dim, dim // num_heads, window
    self.qkvs = nnx.List([_conv_norm(dim // num_heads, 2 * key_dim + self.value_dim, rngs=rngs)
                          for _ in range(num_heads)])
    self.dws = nnx.List([_conv_norm(key_dim, key_dim, kernels[h], groups=key_dim, rngs=rngs)
                         for h in range(num_heads)])
    self.proj = _conv_norm(self.value_dim * num_heads, dim, rngs=rngs)
    self.attention_biases = nnx.Param(jnp.zeros((num_heads, window * window)))

  def __call__(self, x):
    batch, height, width, _ = x.shape
    chunks = jnp.split(x, len(self.qkvs), axis=-1)
    biases = self.attention_biases[...][:, window_bias_index(self.window)]
    outputs, feature = [], chunks[0]
    for head, (qkv, dw) in enumerate(zip(self.qkvs, self.dws)):
      feature = qkv(feature if head == 0 else feature + chunks[head])
      q, k, v = jnp.split(feature, [self.key_dim, 2 * self.key_dim], axis=-1)
      flat = lambda y: y.reshape(batch, height * width, -1)
      scores = jnp.einsum("bnd,bmd->bnm", flat(dw(q)) * self.key_dim ** -0.5, flat(k)) + biases[head]
      feature = jnp.einsum("bnm,bmd->bnd", jax.nn.softmax(scores, axis=-1), flat(v)).reshape(
          batch, height, width, self.value_dim)
      outputs.append(feature)
    return self.proj(jax.nn.relu(jnp.concatenate(outputs, axis=-1)))


class LocalWindowAttention(nnx.Module):
  """The attention over non-overlapping windows of the zero-padded map (timm pads even a map
  smaller than one window, and the padding takes part in the attention), cropped back."""

  def __init__(self, dim: int, key_dim: int, num_heads: int, window: int, kernels, *, rngs: nnx.Rngs):
    self.window = window
    self.attn = CascadedGroupAttention(dim, key_dim, num_heads, window, kernels, rngs=rngs)

  def __call__(self, x):
    return in_windows(x, self.window, self.attn)


def in_windows(x, window: int, function):
  """``function`` applied to each window × window tile of the NHWC map zero-padded at the bottom / right
  to a multiple of the window ([tiles, window, window, C] in, same out), cropped back (timm's
  EfficientViT-MSRA / TinyViT windowing: the padding takes part)."""
  batch, height, width, dim = x.shape
  padded = layers.pad_hw(x, 0, (window - height % window) % window, 0, (window - width % window) % window)
  rows, cols = padded.shape[1] // window, padded.shape[2] // window
  tiles = padded.reshape(batch, rows, window, cols, window, dim).transpose(0, 1, 3, 2, 4, 5)
  out = function(tiles.reshape(-1, window, window, dim))
  out = out.reshape(batch, rows, cols, window, window, -1).transpose(0, 1, 3, 2, 4, 5)
  return out.reshape(batch, rows * window, cols * window, -1)[:, :height, :width]


class ResidualPair(nnx.Module):
  """x += dw3×3 conv-BN(x); x += ffn(x) (timm's res1 / res2 of a subsample)."""

  def __init__(self, dim: int, *, rngs: nnx.Rngs):
    self.dw = _conv_norm(dim, dim, 3, groups=dim, rngs=rngs)
    self.ffn = ConvMlp(dim, 2 * dim, rngs=rngs)

  def __call__(self, x):
    x = x + self.dw(x)
    return x + self.ffn(x)


class PatchMerging(nnx.Module):
  """conv3(SE(ReLU(conv2(ReLU(conv1 x))))): 1×1 to 4·dim, dw 3×3/2, SE (ratio 1/4), 1×1 to out."""

  def __init__(self, dim: int, out_dim: int, *, rngs: nnx.Rngs):
    hidden = 4 * dim
    self.conv1 = _conv_norm(dim, hidden, act="relu", rngs=rngs)
    self.conv2 = _conv_norm(hidden, hidden, 3, stride=2, groups=hidden, act="relu", rngs=rngs)
    self.se = SqueezeExcite(hidden, layers.make_divisible(hidden * 0.25, 8, round_limit=0.0), rngs=rngs)
    self.conv3 = _conv_norm(hidden, out_dim, rngs=rngs)

  def __call__(self, x):
    return self.conv3(self.se(self.conv2(self.conv1(x))))


class EfficientVitMsraBlock(nnx.Module):
  def __init__(self, dim: int, key_dim: int, num_heads: int, window: int, kernels, *, rngs: nnx.Rngs):
    self.dw0 = _conv_norm(dim, dim, 3, groups=dim, rngs=rngs)
    self.ffn0 = ConvMlp(dim, 2 * dim, rngs=rngs)
    self.mixer = LocalWindowAttention(dim, key_dim, num_heads, window, kernels, rngs=rngs)
    self.dw1 = _conv_norm(dim, dim, 3, groups=dim, rngs=rngs)
    self.ffn1 = ConvMlp(dim, 2 * dim, rngs=rngs)

  def __call__(self, x):
    for layer in (self.dw0, self.ffn0, self.mixer, self.dw1, self.ffn1):
      x = x + layer(x)
    return x


class EfficientVitMsraStage(nnx.Module):
  def __init__(self, config: EfficientVitMsraConfig, index: int, resolution: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    if index:
      previous = config.embed_dims[index - 1]
      self.downsample = nnx.List([ResidualPair(previous, rngs=rngs), PatchMerging(previous, dim, rngs=rngs),
                                  ResidualPair(dim, rngs=rngs)])
    else:
      self.downsample = None
    window = min(config.window_sizes[index], resolution)
    self.blocks = nnx.List([
        EfficientVitMsraBlock(dim, config.key_dims[index], config.num_heads[index], window, config.kernels, rngs=rngs)
        for _ in range(config.depths[index])])

  def __call__(self, x):
    for layer in (self.downsample or ()):
      x = layer(x)
    for block in self.blocks:
      x = block(x)
    return x


class EfficientVitMsra(nnx.Module):
  def __init__(self, config: EfficientVitMsraConfig, *, rngs: nnx.Rngs):
    dim = config.embed_dims[0]
    widths = (config.num_channels, dim // 8, dim // 4, dim // 2, dim)
    self.patch_embed = nnx.List([_conv_norm(widths[i], widths[i + 1], 3, stride=2, act="relu" if i < 3 else None,
                                            rngs=rngs) for i in range(4)])
    stages, resolution = [], config.image_size // 16
    for index in range(len(config.embed_dims)):
      resolution = (resolution - 1) // 2 + 1 if index else resolution  # timm's ('subsample', 2) from stage 2
      stages.append(EfficientVitMsraStage(config, index, resolution, rngs=rngs))
    self.stages = nnx.List(stages)
    self.head = NormLinear(config.embed_dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for conv in self.patch_embed:
      x = conv(x)
    for stage in self.stages:
      x = stage(x)
    return layers.pool_and_classify(x, self.head)
