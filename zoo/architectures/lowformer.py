"""LowFormer (Nottebaum, Dunnhofer & Micheloni, WACV 2025; E-variants IJCV 2026) in timm's layout
(``timm/models/lowformer.py``), channels-last, with fused (FusedMBConv) local blocks.

CPUBone's predecessor (zoo.architectures.cpubone, whose layers it reuses): the same stem, conv
stages and head, 3×3 kernels throughout. A LowFormer block: x ← x + attn(GN(x)); x ← x + mlp(GN(x));
x ← x + local(x) (the ``attn`` / ``attn_mlp`` flags drop the first two: the E-variants). attn: a
depthwise conv-BN (5×5 stride 2 in stage 3, 3×3 stride 1 in stage 4), a 1×1 conv to [q, k, v] per
head, softmax(q kᵀ / √d) v, then a learned ConvTranspose2d back to the input's size (kernel 2s,
padding s / 2; 3×3 at stride 1), cropped. local: a FusedMBConv below 256 channels, an MBConv
(biased expand and depthwise convs, BN only after the projection) from 256 on.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.cpubone import ClsHead, ConvLayer, FusedMbConv, MbConv, Residual, forward


@dataclasses.dataclass(frozen=True)
class LowFormerConfig:
  """timm's LowFormer arguments (fused_conv True, expand_groups 1)."""
  width_list: tuple[int, ...] = (16, 32, 64, 128, 256)
  depth_list: tuple[int, ...] = (0, 1, 1, 3, 4)
  head_widths: tuple[int, int] = (1536, 1600)
  expand_ratio: float = 4.0
  stem_expand_ratio: float = 2.0
  downsample_expand_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0)
  attn: bool = True
  attn_mlp: bool = True
  attn_mlp_ratio: int = 4
  num_channels: int = 3
  num_classes: int = 1000


class ConvAttention(nnx.Module):
  """timm lowformer's ConvAttention with the output projection fused into the upsampling:
  max(1, ⌊dim / 2 / 30⌋) heads of ⌊dim / heads⌋ / 2 channels over a stride-``stride`` map."""

  def __init__(self, dim: int, *, stride: int, rngs: nnx.Rngs):
    self.num_heads = int(max(1, (dim * 0.5) // 30))
    self.head_dim = int((dim // self.num_heads) * 0.5)
    inner = self.num_heads * self.head_dim
    self.conv_proj = ConvLayer(dim, dim, 5 if stride > 1 else 3, stride=stride, groups=dim, act=False, rngs=rngs)
    self.pwise = layers.conv(dim, 3 * inner, 1, rngs=rngs)
    up_kernel, up_padding = (2 * stride, stride // 2) if stride > 1 else (3, 1)
    self.upsampling = layers.TorchConvTranspose(inner, dim, up_kernel, stride=stride, padding=up_padding, rngs=rngs)

  def __call__(self, x):
    batch, height, width, _ = x.shape
    qkv = self.pwise(self.conv_proj(x))
    _, h, w, _ = qkv.shape
    # timm's channel order: head-major, then (q, k, v), then the head's channels.
    qkv = qkv.reshape(batch, h * w, self.num_heads, 3, self.head_dim)
    query, key, value = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
    logits = jnp.einsum("bqhd,bkhd->bhqk", query, key) * self.head_dim ** -0.5
    values = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), value)
    out = self.upsampling(values.reshape(batch, h, w, self.num_heads * self.head_dim))
    return out[:, :height, :width]


class LowFormerBlock(nnx.Module):
  """timm's LowFormerBlock: residual attention (after a GroupNorm when ``attn_mlp``), residual
  GroupNorm-MLP, residual local conv; ``attn`` / ``mlp`` None when the flags drop them."""

  def __init__(self, dim: int, *, stride: int, config: LowFormerConfig, rngs: nnx.Rngs):
    group_norm = lambda: nnx.GroupNorm(dim, num_groups=1, epsilon=1e-5, rngs=rngs)
    attention = ConvAttention(dim, stride=stride, rngs=rngs) if config.attn else None
    if attention is not None and config.attn_mlp:
      attention = nnx.List([group_norm(), attention])
    self.attn = Residual(attention) if attention is not None else None
    hidden = dim * config.attn_mlp_ratio
    self.mlp = Residual(nnx.List([group_norm(), layers.conv(dim, hidden, 1, bias=True, rngs=rngs),
                                  layers.Activation("gelu"), layers.conv(hidden, dim, 1, bias=True, rngs=rngs)])
                        ) if config.attn_mlp else None
    if dim < 256:  # timm: fused local conv below 256 channels, an MBConv from 256 on
      local = FusedMbConv(dim, dim, kernel_size=3, stride=1, ratio=config.expand_ratio, groups=1, first_bias=True,
                          rngs=rngs)
    else:
      local = MbConv(dim, ratio=config.expand_ratio, groups=1, norms=(False, False, True), kernel_size=3, rngs=rngs)
    self.local = Residual(local)

  def __call__(self, x):
    x = self.attn(x) if self.attn is not None else x
    x = self.mlp(x) if self.mlp is not None else x
    return self.local(x)


def _stage(config: LowFormerConfig, index: int, in_dim: int, rngs: nnx.Rngs) -> nnx.List:
  """Stage ``index`` (1-4): conv stages 1-2 = ``depth`` FusedMBConvs (the first stride 2, residual-free);
  attention stages 3-4 = a stride-2 FusedMBConv, then ``depth`` LowFormer blocks (attention stride 2, 1)."""
  width, depth = config.width_list[index], config.depth_list[index]
  fused = lambda cin, stride, ratio: FusedMbConv(cin, width, kernel_size=3, stride=stride, ratio=ratio, groups=1,
                                                 rngs=rngs)
  if index < 3 and depth == 0:
    return nnx.List([])
  blocks = [Residual(fused(in_dim, 2, config.downsample_expand_ratios[index - 1]), shortcut=False)]
  if index >= 3:
    blocks += [LowFormerBlock(width, stride=2 if index == 3 else 1, config=config, rngs=rngs) for _ in range(depth)]
  else:
    blocks += [Residual(fused(width, 1, config.expand_ratio)) for _ in range(depth - 1)]
  return nnx.List(blocks)


class LowFormer(nnx.Module):
  """timm's LowFormer: NHWC pixels → (logits, embedding); the head is CPUBone's (its
  ``pre_classifier`` Linear-LayerNorm-hardswish output the embedding); num_classes 0 = no
  classifier (the embedding twice)."""

  def __init__(self, config: LowFormerConfig, *, rngs: nnx.Rngs):
    self.config = config
    stem_width = config.width_list[0]
    self.stem = nnx.List([ConvLayer(config.num_channels, stem_width, 3, stride=2, rngs=rngs)] + [
        Residual(FusedMbConv(stem_width, stem_width, kernel_size=3, stride=1, ratio=config.stem_expand_ratio,
                             groups=1, rngs=rngs)) for _ in range(config.depth_list[0])])
    self.stages, in_dim = nnx.List([]), stem_width
    for index in range(1, len(config.width_list)):
      self.stages.append(_stage(config, index, in_dim, rngs))
      in_dim = config.width_list[index] if len(self.stages[-1]) else in_dim
    self.head = ClsHead(config, rngs)

  def __call__(self, pixel_values):
    return forward(self, pixel_values)
