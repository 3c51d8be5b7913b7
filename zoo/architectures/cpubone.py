"""CPUBone (Nottebaum, Dunnhofer & Micheloni, CVPR Findings 2026) in timm's layout
(``timm/models/cpubone.py``), channels-last, for the released configuration: fused (FusedMBConv)
local blocks and downsampling, 2×2 kernels in the attention stages, nearest-neighbour upsampling.

stem (3×3 stride-2 conv-BN-hardswish, then residual FusedMBConvs) → two conv stages (a stride-2
FusedMBConv, then residual ones) → two attention stages (a stride-2 FusedMBConv, then CPUBone
blocks) → head. A CPUBone block: x ← x + attn(GN(x)); x ← x + mlp(GN(x)); x ← x + local(x), GN a
one-group GroupNorm. attn: a depthwise 2×2 conv-BN of stride s (2 in stage 3, 1 in stage 4), a
1×1 conv to [q, k, v] per head, softmax(q kᵀ / √d) v over the reduced map, a 1×1 conv (bias) and
s× nearest upsampling, cropped to the input size. The head: 1×1 conv-BN-hardswish, global mean,
Linear-LayerNorm-hardswish (the embedding), Linear (the logits).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers

# local_mbconv_norm: BN after (expand, depthwise, project) of an unfused block-local MBConv.
LOCAL_MBCONV_NORMS = {"proj": (False, False, True), "depth_proj": (False, True, True), "all": (True, True, True)}


@dataclasses.dataclass(frozen=True)
class CpuBoneConfig:
  """timm's CPUBone arguments (the released fused / small-kernel / nearest configuration)."""
  width_list: tuple[int, ...] = (16, 32, 64, 128, 256)
  depth_list: tuple[int, ...] = (0, 1, 1, 3, 4)
  head_widths: tuple[int, int] = (1536, 1600)
  expand_ratio: float = 4.0
  stem_expand_ratio: float = 2.0
  downsample_expand_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0)
  attn_mlp_ratio: int = 4
  expand_groups: int = 1
  local_mbconv_norm: str = "proj"
  num_channels: int = 3
  num_classes: int = 1000


class ConvLayer(nnx.Module):
  """timm cpubone's ConvLayer: [act](BN(conv(x))); odd kernels padded k // 2, a 2×2 kernel
  unpadded at stride 2 and padded one pixel top/left at stride 1 (timm's ZeroPad2d((1, 0, 1, 0)))."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int, *, stride: int = 1, groups: int = 1,
               bias: bool = False, norm: bool = True, act: bool = True, rngs: nnx.Rngs):
    self.pad_top_left = kernel_size == 2 and stride == 1
    padding = "VALID" if kernel_size == 2 else "torch"
    self.conv = layers.conv(in_dim, out_dim, kernel_size, stride=stride, padding=padding, groups=groups,
                            bias=bias, rngs=rngs)
    self.norm = layers.batch_norm(out_dim, rngs=rngs) if norm else None
    self.act = act

  def __call__(self, x):
    x = layers.pad_hw(x, 1, 0, 1, 0) if self.pad_top_left else x
    x = self.conv(x)
    x = self.norm(x) if self.norm is not None else x
    return jax.nn.hard_swish(x) if self.act else x


class FusedMbConv(nnx.Module):
  """k×k conv-BN-hardswish to round(in · ratio) channels (``groups`` groups), 1×1 conv-BN."""

  def __init__(self, in_dim: int, out_dim: int, *, kernel_size: int, stride: int, ratio: float, groups: int,
               first_bias: bool = False, rngs: nnx.Rngs):
    mid = round(in_dim * ratio)
    self.spatial_conv = ConvLayer(in_dim, mid, kernel_size, stride=stride, groups=groups, bias=first_bias,
                                  rngs=rngs)
    self.point_conv = ConvLayer(mid, out_dim, 1, act=False, rngs=rngs)

  def __call__(self, x):
    return self.point_conv(self.spatial_conv(x))


class MbConv(nnx.Module):
  """1×1 expand (``groups`` groups)-hardswish, depthwise k×k (2×2)-hardswish, 1×1 project; BN where
  ``norms`` says, a conv bias where it does not (timm's CPUBoneBlock local MBConv)."""

  def __init__(self, dim: int, *, ratio: float, groups: int, norms: tuple[bool, bool, bool], kernel_size: int = 2,
               rngs: nnx.Rngs):
    mid = round(dim * ratio)
    expand, depthwise, project = norms
    self.inverted_conv = ConvLayer(dim, mid, 1, groups=groups, bias=not expand, norm=expand, rngs=rngs)
    self.depth_conv = ConvLayer(mid, mid, kernel_size, groups=mid, bias=not depthwise, norm=depthwise, rngs=rngs)
    self.point_conv = ConvLayer(mid, dim, 1, bias=not project, norm=project, act=False, rngs=rngs)

  def __call__(self, x):
    return self.point_conv(self.depth_conv(self.inverted_conv(x)))


class Residual(nnx.Module):
  """timm's ResidualBlock: main(x) + x, or main(x) alone when ``shortcut`` is False; ``main``
  a module or a list applied in order (an ``nn.Sequential``)."""

  def __init__(self, main, *, shortcut: bool = True):
    self.main, self.shortcut = main, shortcut

  def __call__(self, x):
    y = x
    for layer in (self.main if isinstance(self.main, nnx.List) else [self.main]):
      y = layer(y)
    return y + x if self.shortcut else y


class ConvAttention(nnx.Module):
  """timm's ConvAttention with small kernels, a fused output projection and nearest upsampling:
  max(1, ⌊dim / 2 / 30⌋) heads of ⌊dim / heads⌋ / 2 channels over a stride-``stride`` map."""

  def __init__(self, dim: int, *, stride: int, rngs: nnx.Rngs):
    self.num_heads = int(max(1, (dim * 0.5) // 30))
    self.head_dim = int((dim // self.num_heads) * 0.5)
    self.stride = stride
    self.conv_proj = ConvLayer(dim, dim, 2, stride=stride, groups=dim, act=False, rngs=rngs)
    self.pwise = layers.conv(dim, 3 * self.num_heads * self.head_dim, 1, rngs=rngs)
    self.upsampling = nnx.List([layers.conv(self.num_heads * self.head_dim, dim, 1, bias=True, rngs=rngs)])

  def __call__(self, x):
    batch, height, width, _ = x.shape
    # timm pads bottom/right to a multiple of the stride so that the upsampled map covers x.
    x = layers.pad_hw(x, 0, (-height) % self.stride, 0, (-width) % self.stride)
    qkv = self.pwise(self.conv_proj(x))
    _, h, w, _ = qkv.shape
    # timm's channel order: head-major, then (q, k, v), then the head's channels.
    qkv = qkv.reshape(batch, h * w, self.num_heads, 3, self.head_dim)
    query, key, value = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
    logits = jnp.einsum("bqhd,bkhd->bhqk", query, key) * self.head_dim ** -0.5
    values = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), value)
    out = self.upsampling[0](values.reshape(batch, h, w, self.num_heads * self.head_dim))
    out = jnp.repeat(jnp.repeat(out, self.stride, axis=1), self.stride, axis=2)
    return out[:, :height, :width]


class CpuBoneBlock(nnx.Module):
  """timm's CPUBoneBlock: ``total`` = [[attention, mlp], local], each a residual."""

  def __init__(self, dim: int, *, stride: int, config: CpuBoneConfig, rngs: nnx.Rngs):
    group_norm = lambda: nnx.GroupNorm(dim, num_groups=1, epsilon=1e-5, rngs=rngs)
    hidden = dim * config.attn_mlp_ratio
    attention = Residual(nnx.List([group_norm(), ConvAttention(dim, stride=stride, rngs=rngs)]))
    mlp = Residual(nnx.List([group_norm(), layers.conv(dim, hidden, 1, bias=True, rngs=rngs),
                             layers.Activation("gelu"), layers.conv(hidden, dim, 1, bias=True, rngs=rngs)]))
    if dim < 256:  # timm: fused local conv below 256 channels, an MBConv from 256 on
      local = FusedMbConv(dim, dim, kernel_size=2, stride=1, ratio=config.expand_ratio, groups=config.expand_groups,
                          first_bias=True, rngs=rngs)
    else:
      local = MbConv(dim, ratio=config.expand_ratio, groups=config.expand_groups,
                     norms=LOCAL_MBCONV_NORMS[config.local_mbconv_norm], rngs=rngs)
    self.total = nnx.List([nnx.List([attention, mlp]), Residual(local)])

  def __call__(self, x):
    for layer in (*self.total[0], self.total[1]):
      x = layer(x)
    return x


def _stage(config: CpuBoneConfig, index: int, in_dim: int, rngs: nnx.Rngs) -> nnx.List:
  """Stage ``index`` (1-4): a stride-2 FusedMBConv (residual-free), then conv blocks (stages 1-2)
  or CPUBone blocks (3-4, attention stride 2 then 1)."""
  width, depth = config.width_list[index], config.depth_list[index]
  fused = lambda cin, stride, ratio: FusedMbConv(cin, width, kernel_size=3, stride=stride, ratio=ratio,
                                                 groups=config.expand_groups, rngs=rngs)
  blocks = [Residual(fused(in_dim, 2, config.downsample_expand_ratios[index - 1]), shortcut=False)]
  if index >= 3:
    blocks += [CpuBoneBlock(width, stride=2 if index == 3 else 1, config=config, rngs=rngs) for _ in range(depth)]
  else:
    blocks += [Residual(fused(width, 1, config.expand_ratio)) for _ in range(depth - 1)]
  return nnx.List(blocks)


class ClsHead(nnx.Module):
  """timm cpubone's ClsHead: 1×1 conv-BN-hardswish, mean, Linear-LayerNorm-hardswish, Linear."""

  def __init__(self, config: CpuBoneConfig, rngs: nnx.Rngs):
    conv_width, hidden = config.head_widths
    self.in_conv = ConvLayer(config.width_list[-1], conv_width, 1, rngs=rngs)
    self.pre_classifier = nnx.Linear(conv_width, hidden, use_bias=False, rngs=rngs)
    self.pre_norm = nnx.LayerNorm(hidden, epsilon=1e-5, rngs=rngs)
    self.classifier = nnx.Linear(hidden, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, x):
    pooled = jnp.mean(self.in_conv(x), axis=(1, 2))
    embedding = jax.nn.hard_swish(self.pre_norm(self.pre_classifier(pooled)))
    return (self.classifier(embedding) if self.classifier is not None else embedding), embedding


class CpuBone(nnx.Module):
  """timm's CPUBone: NHWC pixels → (logits, embedding); num_classes 0 = no classifier (the
  embedding twice)."""

  def __init__(self, config: CpuBoneConfig, *, rngs: nnx.Rngs):
    self.config = config
    stem_width = config.width_list[0]
    self.stem = nnx.List([ConvLayer(config.num_channels, stem_width, 3, stride=2, rngs=rngs)] + [
        Residual(FusedMbConv(stem_width, stem_width, kernel_size=3, stride=1, ratio=config.stem_expand_ratio,
                             groups=config.expand_groups, rngs=rngs)) for _ in range(config.depth_list[0])])
    widths = config.width_list
    self.stages = nnx.List([_stage(config, index, widths[index - 1], rngs) for index in range(1, len(widths))])
    self.head = ClsHead(config, rngs)

  def __call__(self, pixel_values):
    return forward(self, pixel_values)


def forward(model: nnx.Module, pixel_values):
  """(logits, embedding) of a CPUBone-shaped model (CPUBone, LowFormer): its ``stem`` layers, each
  block of each of its ``stages``, then its ``head``."""
  x = pixel_values
  for layer in model.stem:
    x = layer(x)
  for stage in model.stages:
    for block in stage:
      x = block(x)
  return model.head(x)
