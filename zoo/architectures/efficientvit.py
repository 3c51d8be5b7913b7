"""EfficientViT of MIT Han Lab (Cai et al. 2023, "EfficientViT: Multi-Scale Linear Attention for
High-Resolution Dense Prediction"), timm's layout (``timm/models/efficientvit_mit.py``: EfficientVit
"B" models and EfficientVitLarge "L" models).

stem (3×3/2 conv-BN-act, then residual depthwise-separable blocks: "B"; or residual two-3×3-conv
blocks: "L") → 4 stages, each opened by a stride-2 block without shortcut (MBConv, or "L"'s fused
MBConv in its first two stages) then residual local blocks, or, in the attention stages,
EfficientViT blocks x += LiteMLA(x); x += MBConv(x) → head: 1×1 conv-BN-act, global mean,
Linear (no bias) → LayerNorm → act (the embedding) → Linear.

LiteMLA (multi-scale linear attention): qkv by a 1×1 conv, plus per scale a depthwise k×k conv and a
grouped 1×1 conv of it; per head group of 3·dim channels, q = relu(q), k = relu(k) and
out = (q (kᵀ [v, 1]))[:dim] / ((q (kᵀ [v, 1]))[dim] + ε), then a 1×1 conv-BN projection.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class EfficientVitConfig:
  """Defaults: timm's efficientvit_b0. ``large`` selects EfficientVitLarge's block layout."""
  widths: tuple[int, ...] = (8, 16, 32, 64, 128)
  depths: tuple[int, ...] = (1, 2, 2, 2, 2)
  head_dim: int = 16
  head_widths: tuple[int, int] = (1024, 1280)
  large: bool = False
  expand_ratio: float = 4.0  # "B" only; "L" uses timm's fixed 4 / 6 / 16 / 24
  activation: str = "hard_swish"  # "L": "gelu_pytorch_tanh" (timm's GELUTanh)
  norm_eps: float = 1e-5  # batch norms of the trunk and the head's LayerNorm ("L": 1e-7)
  num_channels: int = 3
  num_classes: int = 1000


class ConvChain(nnx.Module):
  """timm's DSConv / ConvBlock / MBConv / FusedMBConv: ConvNormAct layers applied in order, held
  under timm's attribute names (``depth_conv``, ``point_conv``, ...)."""

  def __init__(self, convs: list[tuple[str, ConvNormAct]], residual: bool):
    self.names = tuple(name for name, _ in convs)
    for name, module in convs:
      setattr(self, name, module)
    self.residual = residual

  def __call__(self, x):
    out = x
    for name in self.names:
      out = getattr(self, name)(out)
    return x + out if self.residual else out


def local_block(config: EfficientVitConfig, in_dim: int, out_dim: int, *, stride: int, expand_ratio: float,
                fewer_norm: bool, fused: bool, residual: bool, rngs: nnx.Rngs) -> ConvChain:
  """timm's build_local_block: expand 1 → depthwise-separable (or two 3×3 convs when ``fused``), else
  MBConv (or FusedMBConv when ``fused``); ``fewer_norm``: biases instead of the inner BNs; the
  activation after every conv but the last."""
  act, eps = layers.activation(config.activation), config.norm_eps
  inner = dict(act=act, epsilon=eps, bias=fewer_norm, norm=not fewer_norm, rngs=rngs)
  last = dict(act=None, epsilon=eps, rngs=rngs)
  mid = round(in_dim * expand_ratio)
  if expand_ratio == 1 and not fused:
    convs = [("depth_conv", ConvNormAct(in_dim, in_dim, 3, stride=stride, groups=in_dim, **inner)),
             ("point_conv", ConvNormAct(in_dim, out_dim, 1, **last))]
  elif expand_ratio == 1:
    convs = [("conv1", ConvNormAct(in_dim, mid, 3, stride=stride, **inner)),
             ("conv2", ConvNormAct(mid, out_dim, 3, **last))]
  elif fused:
    convs = [("spatial_conv", ConvNormAct(in_dim, mid, 3, stride=stride, **inner)),
             ("point_conv", ConvNormAct(mid, out_dim, 1, **last))]
  else:
    convs = [("inverted_conv", ConvNormAct(in_dim, mid, 1, **inner)),
             ("depth_conv", ConvNormAct(mid, mid, 3, stride=stride, groups=mid, **inner)),
             ("point_conv", ConvNormAct(mid, out_dim, 1, **last))]
  return ConvChain(convs, residual)


class LiteMLA(nnx.Module):
  """timm's LiteMLA (scales (5,), heads = width / dim, ReLU kernel, ε 1e-5), residual: x + attention(x)."""

  def __init__(self, dim: int, head_dim: int, norm_eps: float, *, scales=(5,), rngs: nnx.Rngs):
    total = dim // head_dim * head_dim
    self.head_dim = head_dim
    self.qkv = ConvNormAct(dim, 3 * total, 1, act=None, norm=False, rngs=rngs)
    self.aggreg = nnx.List([
        nnx.List([layers.conv(3 * total, 3 * total, scale, groups=3 * total, rngs=rngs),
                  layers.conv(3 * total, 3 * total, 1, groups=3 * (total // head_dim), rngs=rngs)])
        for scale in scales])
    self.proj = ConvNormAct(total * (1 + len(scales)), dim, 1, act=None, epsilon=norm_eps, rngs=rngs)

  def __call__(self, x):
    batch, height, width, _ = x.shape
    qkv = self.qkv(x)
    multi_scale = jnp.concatenate([qkv, *[point(depth(qkv)) for depth, point in self.aggreg]], axis=-1)
    # channel c = group·3·dim + j (torch's reshape(B, -1, 3·dim, HW)): [B, groups, HW, 3·dim]
    groups = multi_scale.reshape(batch, height * width, -1, 3 * self.head_dim).transpose(0, 2, 1, 3)
    q, k, v = jnp.split(groups, 3, axis=-1)
    q, k = jax.nn.relu(q), jax.nn.relu(k)
    v = jnp.pad(v, ((0, 0), (0, 0), (0, 0), (0, 1)), constant_values=1.0)
    out = q @ (jnp.swapaxes(k, -1, -2) @ v)
    out = out[..., :-1] / (out[..., -1:] + 1e-5)
    out = out.transpose(0, 2, 1, 3).reshape(batch, height, width, -1)
    return x + self.proj(out)


class EfficientVitBlock(nnx.Module):
  """timm's EfficientVitBlock: x += LiteMLA(x) (context_module); x += MBConv(x) with biases in
  its first two convs (local_module)."""

  def __init__(self, config: EfficientVitConfig, dim: int, expand_ratio: float, *, rngs: nnx.Rngs):
    self.context = LiteMLA(dim, config.head_dim, config.norm_eps, rngs=rngs)
    self.local = local_block(config, dim, dim, stride=1, expand_ratio=expand_ratio, fewer_norm=True, fused=False,
                             residual=True, rngs=rngs)

  def __call__(self, x):
    return self.local(self.context(x))


def _stage(config: EfficientVitConfig, index: int, in_dim: int, out_dim: int, rngs: nnx.Rngs) -> nnx.List:
  """timm's EfficientVitStage ("B": attention from the third stage) or EfficientVitLargeStage ("L":
  fused convs in the first two stages, attention in the fourth)."""
  depth = config.depths[index + 1]
  if config.large:
    attention, fewer_norm = index >= 3, index >= 2
    first_ratio, local_ratio, attention_ratio, local_depth = (24 if attention else 16), 4, 6, depth
  else:
    attention = fewer_norm = index >= 2
    first_ratio = local_ratio = attention_ratio = config.expand_ratio
    local_depth = depth - 1
  fused = config.large and not fewer_norm
  blocks = [local_block(config, in_dim, out_dim, stride=2, expand_ratio=first_ratio, fewer_norm=fewer_norm,
                        fused=fused, residual=False, rngs=rngs)]
  if attention:
    blocks += [EfficientVitBlock(config, out_dim, attention_ratio, rngs=rngs) for _ in range(depth)]
  else:
    blocks += [local_block(config, out_dim, out_dim, stride=1, expand_ratio=local_ratio, fewer_norm=fewer_norm,
                           fused=fused, residual=True, rngs=rngs) for _ in range(local_depth)]
  return nnx.List(blocks)


class EfficientVit(nnx.Module):
  def __init__(self, config: EfficientVitConfig, *, rngs: nnx.Rngs):
    self.config = config
    act, eps, stem_dim = layers.activation(config.activation), config.norm_eps, config.widths[0]
    self.stem_conv = ConvNormAct(config.num_channels, stem_dim, 3, stride=2, act=act, epsilon=eps, rngs=rngs)
    self.stem_blocks = nnx.List([
        local_block(config, stem_dim, stem_dim, stride=1, expand_ratio=1, fewer_norm=False, fused=config.large,
                    residual=True, rngs=rngs) for _ in range(config.depths[0])])
    widths = config.widths
    self.stages = nnx.List([_stage(config, i, widths[i], widths[i + 1], rngs) for i in range(len(widths) - 1)])
    hidden, embedding_dim = config.head_widths
    # timm's ClassifierHead keeps its own BatchNorm2d default (ε 1e-5) for in_conv, also in "L"
    self.head_conv = ConvNormAct(widths[-1], hidden, 1, act=act, rngs=rngs)
    self.head_linear = nnx.Linear(hidden, embedding_dim, use_bias=False, rngs=rngs)
    self.head_norm = nnx.LayerNorm(embedding_dim, epsilon=eps, rngs=rngs)
    self.head = nnx.Linear(embedding_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem_conv(images)
    for block in self.stem_blocks:
      x = block(x)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    pooled = jnp.mean(self.head_conv(x), axis=(1, 2))
    embedding = layers.activation(self.config.activation)(self.head_norm(self.head_linear(pooled)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
