"""GhostNet (Han et al. 2020), GhostNetV2 (Tang et al. 2022, DFC attention), GhostNetV3 (Liu et al.
2024, re-parameterisable branches; :class:`GhostModuleV3`) and RepGhostNet
(Chen et al. 2022, re-parameterisable ghost modules) as timm builds them
(``timm/models/ghostnet.py``, ``repghost.py``; not the re-parameterised deploy form), in timm's
tensor names (``nn.Sequential`` indices as list indices).

stem conv 3×3/2 → BN → ReLU → stages of ghost bottlenecks (ghost module → [depthwise k×k/2 → BN]
→ [SE: hard-sigmoid gate, make_divisible(c·r, 4) channels] → ghost module, + the input or a
depthwise k×k/s → BN → 1×1 → BN shortcut) → 1×1 conv → BN → ReLU → global mean → 1×1 conv (bias)
→ ReLU (the embedding) → Linear.

A ghost module: x₁ = ReLU(BN(1×1 conv x)), x₂ = BN(depthwise 3×3 x₁) (ReLU); v1 / v2: [x₁, x₂]
cut to the output width (v2 "attn" mode: times σ of a DFC attention map computed at half
resolution and upsampled, nearest); RepGhost: x₂ + BN(x₁), then ReLU.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import SqueezeExcite

# (kernel, expansion, channels, SE ratio, stride) per bottleneck, per stage: timm's _create_ghostnet
# and _create_repghostnet cfgs (the same shape; RepGhost narrower expansions).
GHOST_STAGES = (
    ((3, 16, 16, 0, 1),), ((3, 48, 24, 0, 2),), ((3, 72, 24, 0, 1),), ((5, 72, 40, 0.25, 2),),
    ((5, 120, 40, 0.25, 1),), ((3, 240, 80, 0, 2),),
    ((3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1), (3, 672, 112, 0.25, 1)),
    ((5, 672, 160, 0.25, 2),),
    ((5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1)))
REPGHOST_STAGES = (
    ((3, 8, 16, 0, 1),), ((3, 24, 24, 0, 2),), ((3, 36, 24, 0, 1),), ((5, 36, 40, 0.25, 2),),
    ((5, 60, 40, 0.25, 1),), ((3, 120, 80, 0, 2),),
    ((3, 100, 80, 0, 1), (3, 120, 80, 0, 1), (3, 120, 80, 0, 1), (3, 240, 112, 0.25, 1), (3, 336, 112, 0.25, 1)),
    ((5, 336, 160, 0.25, 2),),
    ((5, 480, 160, 0, 1), (5, 480, 160, 0.25, 1), (5, 480, 160, 0, 1), (5, 480, 160, 0.25, 1)))


@dataclasses.dataclass(frozen=True)
class GhostNetConfig:
  """``version`` "v1", "v2" (DFC attention in the first ghost module of every bottleneck after
  the second), "v3" (GhostNetV3's multi-branch training form, DFC attention as v2) or "rep" (RepGhost); channels make_divisible(c · ``width``, 4); the final conv
  make_divisible(last expansion · width · (2 for RepGhost), 4); head 1280."""
  version: str = "v1"
  width: float = 1.0
  head_dim: int = 1280
  num_channels: int = 3
  num_classes: int = 1000


def _div4(value: float) -> int:
  return layers.make_divisible(value, 4)


def _conv_bn(in_dim: int, out_dim: int, kernel_size: int, *, stride: int = 1, groups: int = 1, rngs: nnx.Rngs):
  """[conv, BN] as timm's nn.Sequential (tensors ``.0.weight``, ``.1.*``)."""
  return nnx.List([layers.conv(in_dim, out_dim, kernel_size, stride=stride, groups=groups, rngs=rngs),
                   layers.batch_norm(out_dim, rngs=rngs)])


def _run(sequence, x):
  for module in sequence:
    x = module(x)
  return x


class DfcAttention(nnx.List):
  """GhostModuleV2's short_conv: 1×1 conv → BN → depthwise 1×5 → BN → depthwise 5×1 → BN."""

  def __init__(self, in_dim: int, out_dim: int, *, rngs: nnx.Rngs):
    depthwise = lambda kernel, padding: nnx.Conv(out_dim, out_dim, kernel, padding=padding, feature_group_count=out_dim,
                                                 use_bias=False, rngs=rngs)
    super().__init__([layers.conv(in_dim, out_dim, 1, rngs=rngs), layers.batch_norm(out_dim, rngs=rngs),
                      depthwise((1, 5), ((0, 0), (2, 2))), layers.batch_norm(out_dim, rngs=rngs),
                      depthwise((5, 1), ((2, 2), (0, 0))), layers.batch_norm(out_dim, rngs=rngs)])

  def __call__(self, x):
    """σ(short_conv(avg_pool 2×2/2 of x)), upsampled (nearest) back to x's size."""
    height, width = x.shape[1:3]
    gate = jax.nn.sigmoid(_run(self, layers.avg_pool_torch(x, 2, 2)))
    rows = jnp.arange(height) * gate.shape[1] // height  # PyTorch nearest: ⌊i · in / out⌋
    cols = jnp.arange(width) * gate.shape[2] // width
    return gate[:, rows][:, :, cols]


class GhostModule(nnx.Module):
  """timm's GhostModule / GhostModuleV2 / RepGhostModule (see the module docstring)."""

  def __init__(self, in_dim: int, out_dim: int, *, relu: bool, kind: str = "v1", rngs: nnx.Rngs):
    self.out_dim, self.relu, self.kind = out_dim, relu, kind
    init = out_dim if kind == "rep" else math.ceil(out_dim / 2)
    self.primary_conv = _conv_bn(in_dim, init, 1, rngs=rngs)
    self.cheap_operation = _conv_bn(init, init, 3, groups=init, rngs=rngs)
    self.fusion_bn = nnx.List([layers.batch_norm(init, rngs=rngs)]) if kind == "rep" else None
    self.short_conv = DfcAttention(in_dim, out_dim, rngs=rngs) if kind == "attn" else None

  def __call__(self, x):
    act = jax.nn.relu if self.relu else (lambda y: y)
    x1 = act(_run(self.primary_conv, x))
    x2 = _run(self.cheap_operation, x1)
    if self.kind == "rep":
      return act(x2 + self.fusion_bn[0](x1))
    out = jnp.concatenate([x1, act(x2)], axis=-1)[..., :self.out_dim]
    return out if self.short_conv is None else out * self.short_conv(x)


class GhostBottleneck(nnx.Module):
  """timm's GhostBottleneck / RepGhostBottleneck (see the module docstring)."""

  def __init__(self, in_dim: int, mid: int, out_dim: int, kernel_size: int, stride: int, se_ratio: float, *,
               kind: str, rngs: nnx.Rngs):
    self.ghost1 = GhostModule(in_dim, mid, relu=True, kind=kind, rngs=rngs)
    self.conv_dw = (layers.conv(mid, mid, kernel_size, stride=stride, groups=mid, rngs=rngs) if stride > 1 else None)
    self.bn_dw = layers.batch_norm(mid, rngs=rngs) if stride > 1 else None
    self.se = (SqueezeExcite(mid, _div4(mid * se_ratio), jax.nn.relu, gate=jax.nn.hard_sigmoid, rngs=rngs)
               if se_ratio else None)
    self.ghost2 = GhostModule(mid, out_dim, relu=False, kind="rep" if kind == "rep" else "v1", rngs=rngs)
    self.shortcut = (None if in_dim == out_dim and stride == 1 else
                     nnx.List([*_conv_bn(in_dim, in_dim, kernel_size, stride=stride, groups=in_dim, rngs=rngs),
                               *_conv_bn(in_dim, out_dim, 1, rngs=rngs)]))

  def __call__(self, inputs):
    x = self.ghost1(inputs)
    if self.conv_dw is not None:
      x = self.bn_dw(self.conv_dw(x))
    if self.se is not None:
      x = self.se(x)
    x = self.ghost2(x)
    return x + (inputs if self.shortcut is None else _run(self.shortcut, inputs))


class ConvBnAct(nnx.Module):
  """timm's ConvBnAct: [ReLU](bn1(conv x)) (k×k, the stride, groups)."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 1, *, stride: int = 1, groups: int = 1,
               relu: bool = True, rngs: nnx.Rngs):
    self.conv = layers.conv(in_dim, out_dim, kernel_size, stride=stride, groups=groups, rngs=rngs)
    self.bn1 = layers.batch_norm(out_dim, rngs=rngs)
    self.relu = relu

  def __call__(self, x):
    x = self.bn1(self.conv(x))
    return jax.nn.relu(x) if self.relu else x


_BRANCHES = 3  # GhostNetV3's parallel conv branches (timm's num_conv_branches)


class GhostModuleV3(nnx.Module):
  """timm's GhostModuleV3 (training form): x₁ = act(Σ₃ BN(1×1 conv x)); x₂ = act(BN(dw 1×1 x₁) +
  BN(x₁) + Σ₃ BN(dw 3×3 x₁)); [x₁, x₂] (mode "shortcut": cut to the output width, times the
  DFC attention gate as in GhostModuleV2)."""

  def __init__(self, in_dim: int, out_dim: int, *, relu: bool, shortcut: bool, rngs: nnx.Rngs):
    init = math.ceil(out_dim / 2)
    self.out_dim, self.relu = out_dim, relu
    self.primary_rpr_conv = nnx.List([ConvBnAct(in_dim, init, relu=False, rngs=rngs) for _ in range(_BRANCHES)])
    self.cheap_rpr_skip = layers.batch_norm(init, rngs=rngs)
    self.cheap_rpr_conv = nnx.List([ConvBnAct(init, init, 3, groups=init, relu=False, rngs=rngs)
                                    for _ in range(_BRANCHES)])
    self.cheap_rpr_scale = ConvBnAct(init, init, 1, groups=init, relu=False, rngs=rngs)
    self.short_conv = DfcAttention(in_dim, out_dim, rngs=rngs) if shortcut else None

  def __call__(self, x):
    act = jax.nn.relu if self.relu else (lambda y: y)
    x1 = act(sum(branch(x) for branch in self.primary_rpr_conv))
    x2 = self.cheap_rpr_scale(x1) + self.cheap_rpr_skip(x1) + sum(branch(x1) for branch in self.cheap_rpr_conv)
    out = jnp.concatenate([x1, act(x2)], axis=-1)
    return out if self.short_conv is None else out[..., :self.out_dim] * self.short_conv(x)


class GhostBottleneckV3(nnx.Module):
  """timm's GhostBottleneckV3 (training form): GhostBottleneck with GhostModuleV3s and, at stride 2,
  the depthwise conv as BN(dw 1×1/2) + Σ₃ BN(dw k×k/2)."""

  def __init__(self, in_dim: int, mid: int, out_dim: int, kernel_size: int, stride: int, se_ratio: float, *,
               shortcut: bool, rngs: nnx.Rngs):
    self.ghost1 = GhostModuleV3(in_dim, mid, relu=True, shortcut=shortcut, rngs=rngs)
    strided = stride > 1
    self.dw_rpr_conv = (nnx.List([ConvBnAct(mid, mid, kernel_size, stride=stride, groups=mid, relu=False, rngs=rngs)
                                  for _ in range(_BRANCHES)]) if strided else None)
    self.dw_rpr_scale = ConvBnAct(mid, mid, 1, stride=2, groups=mid, relu=False, rngs=rngs) if strided else None
    self.se = (SqueezeExcite(mid, _div4(mid * se_ratio), jax.nn.relu, gate=jax.nn.hard_sigmoid, rngs=rngs)
               if se_ratio else None)
    self.ghost2 = GhostModuleV3(mid, out_dim, relu=False, shortcut=False, rngs=rngs)
    self.shortcut = (None if in_dim == out_dim and stride == 1 else
                     nnx.List([*_conv_bn(in_dim, in_dim, kernel_size, stride=stride, groups=in_dim, rngs=rngs),
                               *_conv_bn(in_dim, out_dim, 1, rngs=rngs)]))

  def __call__(self, inputs):
    x = self.ghost1(inputs)
    if self.dw_rpr_conv is not None:
      x = self.dw_rpr_scale(x) + sum(branch(x) for branch in self.dw_rpr_conv)
    if self.se is not None:
      x = self.se(x)
    x = self.ghost2(x)
    return x + (inputs if self.shortcut is None else _run(self.shortcut, inputs))


class GhostNet(nnx.Module):
  """conv_stem → bn1 → ReLU → blocks → mean → conv_head → ReLU (the embedding) → classifier."""

  def __init__(self, config: GhostNetConfig, *, rngs: nnx.Rngs):
    if config.version not in ("v1", "v2", "v3", "rep"):
      raise ValueError(f"GhostNet version must be 'v1', 'v2', 'v3' or 'rep', got {config.version!r}.")
    self.config = config
    dim = _div4(16 * config.width)
    self.conv_stem = layers.conv(config.num_channels, dim, 3, stride=2, rngs=rngs)
    self.bn1 = layers.batch_norm(dim, rngs=rngs)
    stages, index = [], 0
    for stage in (REPGHOST_STAGES if config.version == "rep" else GHOST_STAGES):
      blocks = []
      for kernel_size, expansion, channels, se_ratio, stride in stage:
        out_dim, mid = _div4(channels * config.width), _div4(expansion * config.width)
        if config.version == "v3":  # DFC attention from the third bottleneck on, as v2
          blocks.append(GhostBottleneckV3(dim, mid, out_dim, kernel_size, stride, se_ratio, shortcut=index > 1,
                                          rngs=rngs))
        else:
          kind = "rep" if config.version == "rep" else ("attn" if config.version == "v2" and index > 1 else "v1")
          blocks.append(GhostBottleneck(dim, mid, out_dim, kernel_size, stride, se_ratio, kind=kind, rngs=rngs))
        dim, index = out_dim, index + 1
      stages.append(nnx.List(blocks))
    final = _div4(expansion * config.width * (2 if config.version == "rep" else 1))
    stages.append(nnx.List([ConvBnAct(dim, final, rngs=rngs)]))
    self.blocks = nnx.List(stages)
    self.conv_head = layers.conv(final, config.head_dim, 1, bias=True, rngs=rngs)
    self.classifier = nnx.Linear(config.head_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = jax.nn.relu(self.bn1(self.conv_stem(images)))
    for stage in self.blocks:
      x = _run(stage, x)
    embedding = jax.nn.relu(self.conv_head(jnp.mean(x, axis=(1, 2), keepdims=True)))[:, 0, 0]
    return (self.classifier(embedding) if self.classifier is not None else embedding), embedding
