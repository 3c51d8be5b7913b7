"""DaViT (Ding et al. 2022, "DaViT: Dual Attention Vision Transformers"), the layout and semantics of
timm's ``DaVit`` (timm/models/davit.py) with its ImageNet defaults (spatial then channel attention,
feed-forward in every block, no CPE activation, 2×2/2 downsampling).

Stem: map zero-padded at the bottom / right to multiples of 4 → conv₇ₓ₇/4 (padding 3) → LayerNorm.
4 stages, each (but the first) opening with LayerNorm → conv₂ₓ₂/2 (map zero-padded to even sides),
then ``depth`` dual blocks = spatial block → channel block, each block:
x ← x + dwconv₃ₓ₃(x) (cpe1); x ← x + attn(LN(x)); x ← x + dwconv₃ₓ₃(x) (cpe2); x ← x + mlp(LN(x)).
Spatial attention is multi-head attention in non-overlapping ws×ws windows (Twins' locally grouped
attention: same padding, same scale). Channel attention, per head (d = head width, N tokens):
A = softmax_j(Σₙ k[n, i]·d^-½ · v[n, j]) (a d×d map), out[n, i] = Σⱼ A[i, j] · q[n, j] (timm's
ChannelAttention; q and v swap roles against token attention). All LayerNorms ε 1e-5.
Head: the embedding is LayerNorm(mean over H, W) (timm's NormMlpClassifierHead pre-logits) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp
from zoo.architectures.twins import LocallyGroupedAttention

NORM_EPS = 1e-5  # timm's DaVit norm_eps, for both LayerNorm2d and LayerNorm
STEM_STRIDE = 4  # timm's Stem asserts stride 4
DOWN_KERNEL = 2  # timm's down_kernel_size default (an even kernel: stride 2, padding 0)


@dataclasses.dataclass(frozen=True)
class DaVitConfig:
  """Defaults: DaViT-T."""
  depths: tuple[int, ...] = (1, 1, 3, 1)
  embed_dims: tuple[int, ...] = (96, 192, 384, 768)
  num_heads: tuple[int, ...] = (3, 6, 12, 24)
  window_size: int = 7
  mlp_ratio: float = 4.0
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    if not len(self.depths) == len(self.embed_dims) == len(self.num_heads):
      raise ValueError(f"DaViT depths {self.depths}, embed_dims {self.embed_dims} and num_heads {self.num_heads} "
                       "need one entry per stage.")


def _norm(width: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
  return nnx.LayerNorm(width, epsilon=NORM_EPS, rngs=rngs)


def _pad_to_multiple(x, multiple: int):
  """Zero-pads an NHWC map at the bottom / right to multiples of ``multiple`` (timm's F.pad)."""
  return layers.pad_hw(x, 0, -x.shape[1] % multiple, 0, -x.shape[2] % multiple)


class ConvPosEnc(nnx.Module):
  """x + dwconv₃ₓ₃(x) (timm's ConvPosEnc without activation)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.proj = layers.conv(width, width, 3, groups=width, bias=True, rngs=rngs)

  def __call__(self, x):
    return x + self.proj(x)


class ChannelAttention(nnx.Module):
  """Per-head d×d attention over channels (module docstring's formula); ``qkv`` output [q | k | v]."""

  def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
    if width % num_heads:
      raise ValueError(f"width {width} is not divisible by num_heads {num_heads}.")
    self.num_heads = num_heads
    self.qkv = nnx.Linear(width, 3 * width, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x):
    *lead, channels = x.shape
    head_dim = channels // self.num_heads
    heads = lambda y: y.reshape(*lead, self.num_heads, head_dim)
    q, k, v = (heads(y) for y in jnp.split(self.qkv(x), 3, axis=-1))
    # Tokens are the flattened H, W axes (any order: the channel map sums over all of them).
    scores = jnp.einsum("bhwni,bhwnj->bnij", k * head_dim ** -0.5, v)
    weights = jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(q.dtype)
    return self.proj(jnp.einsum("bnij,bhwnj->bhwni", weights, q).reshape(*lead, channels))


class DualBlock(nnx.Module):
  """cpe1 → + attn(norm1) → cpe2 → + mlp(norm2); ``attn`` windowed spatial or channel attention."""

  def __init__(self, config: DaVitConfig, width: int, num_heads: int, spatial: bool, *, rngs: nnx.Rngs):
    self.cpe1 = ConvPosEnc(width, rngs=rngs)
    self.norm1 = _norm(width, rngs)
    self.attn = (LocallyGroupedAttention(width, num_heads, config.window_size, rngs=rngs) if spatial
                 else ChannelAttention(width, num_heads, rngs=rngs))
    self.cpe2 = ConvPosEnc(width, rngs=rngs)
    self.norm2 = _norm(width, rngs)
    self.mlp = Mlp(width, int(width * config.mlp_ratio), "gelu", rngs=rngs)

  def __call__(self, x):
    x = self.cpe1(x)
    x = self.cpe2(x + self.attn(self.norm1(x)))
    return x + self.mlp(self.norm2(x))


class Downsample(nnx.Module):
  """conv₂ₓ₂/2(LayerNorm(x)) with the map zero-padded to even sides after the norm (timm's order)."""

  def __init__(self, in_width: int, width: int, *, rngs: nnx.Rngs):
    self.norm = _norm(in_width, rngs)
    self.conv = layers.conv(in_width, width, DOWN_KERNEL, stride=2, padding="VALID", bias=True, rngs=rngs)

  def __call__(self, x):
    return self.conv(_pad_to_multiple(self.norm(x), DOWN_KERNEL))


class Stem(nnx.Module):
  """LayerNorm(conv₇ₓ₇/4(x zero-padded to multiples of 4))."""

  def __init__(self, in_width: int, width: int, *, rngs: nnx.Rngs):
    self.conv = layers.conv(in_width, width, 7, stride=STEM_STRIDE, padding=((3, 3), (3, 3)), bias=True, rngs=rngs)
    self.norm = _norm(width, rngs)

  def __call__(self, x):
    return self.norm(self.conv(_pad_to_multiple(x, STEM_STRIDE)))


class DaVitStage(nnx.Module):
  """Optional downsample, then ``depth`` [spatial block, channel block] pairs (timm's blocks.i.0 / .1)."""

  def __init__(self, config: DaVitConfig, stage: int, *, rngs: nnx.Rngs):
    width, heads = config.embed_dims[stage], config.num_heads[stage]
    self.downsample = Downsample(config.embed_dims[stage - 1], width, rngs=rngs) if stage else None
    self.blocks = nnx.List([
        nnx.List([DualBlock(config, width, heads, spatial, rngs=rngs) for spatial in (True, False)])
        for _ in range(config.depths[stage])])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    for pair in self.blocks:
      for block in pair:
        x = block(x)
    return x


class DaVit(nnx.Module):
  """The embedding is LayerNorm(mean over H, W of the last stage), what timm's head.fc consumes."""

  def __init__(self, config: DaVitConfig, *, rngs: nnx.Rngs):
    dims = config.embed_dims
    self.stem = Stem(config.num_channels, dims[0], rngs=rngs)
    self.stages = nnx.List([DaVitStage(config, stage, rngs=rngs) for stage in range(len(dims))])
    self.head_norm = _norm(dims[-1], rngs)
    self.head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC map of the last stage."""
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    embedding = self.head_norm(jnp.mean(self.forward_features(images), axis=(1, 2)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
