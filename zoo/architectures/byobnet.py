"""timm's "bring your own blocks" network (ByobNet, timm/models/byobnet.py) as data.

One module builds every ByobNet whose blocks are residual conv blocks or re-parameterisable
branches: a stem, stages of blocks described by :class:`ByoBlock` rows, an optional 1×1
conv+BN+act to ``num_features``, global mean (the embedding) and a Linear. Block kinds, as timm
names them (the attention ``attn`` sits after the middle conv, or after the last conv when
``attn_last``; every block but ``rep`` / ``one`` adds a shortcut and ends with act unless
``linear_out``):

* ``basic``: k×k (stride) → k×k (groups, no act); attn_last by default.
* ``bottle``: 1×1 → k×k (stride, groups) [→ k×k ``extra_conv``] → 1×1 (no act); the middle width is
  ``make_divisible((in if bottle_in else out) · bottle_ratio)``.
* ``dark``: 1×1 → k×k (stride, groups, no act); attn_last by default.
* ``edge``: k×k (stride, groups) → 1×1 (no act).
* ``rep`` (RepVGG, Ding et al. 2021): act(attn(BN(x) [same shape only] + conv_bn_k×k(x) + conv_bn_1×1(x))).
* ``one`` (MobileOne, Vasu et al. 2023): act(attn(BN(x) [same shape only] + Σ_branches conv_bn_k×k(x)
  + conv_bn_1×1(x) [k > 1])).

The shortcut is identity at equal shape, else a 1×1 conv+BN (``conv1x1``, strided), 2×2 average
pool then 1×1 conv+BN (``avg``), or absent (``""``: RegNetZ). Channel attentions: squeeze-excite
``se`` (Hu et al. 2018), ``eca`` (Wang et al. 2020), ``gca`` (GCNet's context added, Cao et al. 2019)
and ``bat`` (bilinear attention transform). Norm: batch norm, or EvoNorm-S0a (the ``*_evos`` RegNetZs).
``self_attn`` blocks (timm's byoanet.py) hold a bottleneck (BoTNet), halo (HaloNet) or lambda layer.
The training-time multi-branch form is kept (timm's checkpoints hold it; reparameterising is a
deployment step), so the tensors map one to one.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import ConvMlpNorm
from zoo.architectures.resnet import ConvNormAct, EfficientChannelAttention, SqueezeExcite

BLOCK_KINDS = ("basic", "bottle", "dark", "edge", "rep", "one", "self_attn")
STEM_TYPES = ("3x3", "tiered", "deep", "quad", "quad2", "rep", "one")


@dataclasses.dataclass(frozen=True)
class Attention:
  """A channel attention (timm's ``get_attn`` name and the kwargs timm's table passes): ``se``
  (reduction ``rd_ratio`` 1/16, rounded to ``rd_divisor`` 8), ``eca``, ``gca`` (1/8, divisor 1) or
  ``bat`` (bilinear attention transform, Zheng et al. 2020; 1/4, divisor 8);
  ``kind=""`` disables the model's attention for a block."""
  kind: str
  rd_ratio: float | None = None
  rd_divisor: int | None = None
  block_size: int = 7  # bat: the bilinear transform's block


NO_ATTENTION = Attention("")


@dataclasses.dataclass(frozen=True)
class BlockOptions:
  """timm's ``block_kwargs`` (a block's options replace the model's as a whole, as in timm)."""
  kernel_size: int = 3
  extra_conv: bool = False
  bottle_in: bool = False
  linear_out: bool = False
  num_conv_branches: int = 1
  attn_last: bool | None = None  # None: the block kind's default (basic, dark: True)


@dataclasses.dataclass(frozen=True)
class ByoBlock:
  """timm's ``ByoBlockCfg``: ``depth`` blocks of ``kind`` with ``channels`` outputs (× width_factor),
  the first with ``stride``; ``group_size`` channels per group (0: dense, 1: depthwise);
  ``alternate_groups`` > 0: blocks at odd positions of the stage use ``channels // alternate_groups``
  as group size (RepVGG-g4). ``attn`` / ``options`` None: the model's."""
  kind: str
  depth: int
  channels: float
  stride: int = 2
  group_size: int = 0
  bottle_ratio: float = 1.0
  alternate_groups: int = 0
  attn: Attention | None = None
  options: BlockOptions | None = None
  self_attn: SelfAttention | None = None  # a self_attn block's layer (None: the model's)


@dataclasses.dataclass(frozen=True)
class ByobConfig:
  """timm's ``ByoModelCfg`` (the fields its ImageNet models use) plus the head's size."""
  stages: tuple[tuple[ByoBlock, ...], ...]
  stem_type: str = "3x3"
  stem_pool: str = ""  # "" or "maxpool" (3×3/2, padding 1)
  stem_channels: int = 32
  width_factor: float = 1.0
  num_features: int = 0  # a final 1×1 conv+BN+act to this width when > 0
  downsample: str = "conv1x1"  # or "avg", "" (no shortcut when the shape changes)
  act: str = "relu"
  norm: str = "batchnorm"  # or "evonorm_s0a": timm's EvoNorm2dS0a(group_size=16) in every conv+norm+act
  attn: Attention | None = None
  options: BlockOptions = BlockOptions()
  self_attn: SelfAttention | None = None
  image_size: int | None = None  # the fixed input side that bottleneck / relative lambda layers need
  num_channels: int = 3
  num_classes: int = 1000


def _groups(group_size: int, channels: int) -> int:
  """timm's num_groups: 1 for group_size 0, else channels / group_size (1 → depthwise)."""
  return channels // group_size if group_size else 1


class EvoNormS0a(nnx.Module):
  """timm's EvoNorm2dS0a (Liu et al. 2020), ε 1e-3: x·σ(v·x) (with act) / group_std(x) · scale + bias, the
  standard deviation (biased, + ε) over each group of ``group_size`` channels and the map."""

  def __init__(self, features: int, group_size: int, apply_act: bool, *, epsilon: float = 1e-3):
    self.scale, self.bias = nnx.Param(jnp.ones((features,))), nnx.Param(jnp.zeros((features,)))
    self.v = nnx.Param(jnp.ones((features,))) if apply_act else None
    self.groups, self.epsilon = features // group_size, epsilon

  def __call__(self, x):
    grouped = x.reshape(*x.shape[:3], self.groups, -1)
    std = jnp.sqrt(jnp.var(grouped, axis=(1, 2, 4), keepdims=True) + self.epsilon)
    gated = x * jax.nn.sigmoid(x * self.v[...]) if self.v is not None else x
    return (gated.reshape(grouped.shape) / std).reshape(x.shape) * self.scale[...] + self.bias[...]


class ConvEvoNorm(nnx.Module):
  """Conv (no bias) → EvoNormS0a (its own activation when ``act``; timm ignores the model's act_layer there)."""

  def __init__(self, in_features, out_features, kernel_size, *, stride=1, groups=1, act: str | None, rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, kernel_size, stride=stride, groups=groups, rngs=rngs)
    self.bn = EvoNormS0a(out_features, 16, act is not None)

  def __call__(self, x):
    return self.bn(self.conv(x))


NORMS = ("batchnorm", "evonorm_s0a")


def conv_norm_act(norm: str, in_features: int, out_features: int, kernel_size: int, *, stride: int = 1,
                  groups: int = 1, act: str | None, rngs: nnx.Rngs) -> nnx.Module:
  """timm's ConvNormAct with the model's norm layer (NORMS)."""
  if norm == "batchnorm":
    return ConvNormAct(in_features, out_features, kernel_size, stride=stride, groups=groups, act=act, rngs=rngs)
  if norm == "evonorm_s0a":
    return ConvEvoNorm(in_features, out_features, kernel_size, stride=stride, groups=groups, act=act, rngs=rngs)
  raise ValueError(f"ByobNet norm must be one of {NORMS}; got {norm!r}.")


class GlobalContextAdd(nnx.Module):
  """timm's GlobalContext with fuse_add (``gca``): x + mlp_add(Σ_hw softmax_hw(conv_attn x) · x)."""

  def __init__(self, dim: int, reduced: int, act, *, rngs: nnx.Rngs):
    self.conv_attn = layers.conv(dim, 1, 1, bias=True, rngs=rngs)
    self.mlp_add = ConvMlpNorm(dim, reduced, act, rngs=rngs)

  def __call__(self, x):
    batch, channels = x.shape[0], x.shape[-1]
    weights = jax.nn.softmax(self.conv_attn(x).reshape(batch, -1, 1), axis=1)
    context = jnp.sum(x.reshape(batch, -1, channels) * weights, axis=1).reshape(batch, 1, 1, channels)
    return x + self.mlp_add(context)


class BilinearTransform(nnx.Module):
  """timm's BilinearAttnTransform (2 groups): row / column max-pooled maps of a 1×1 conv+BN+ReLU give
  per-group block × block matrices P (rows normalised) and Q (columns normalised) after a sigmoid;
  each channel's map becomes conv2((P ⊗ I) · x · (Q ⊗ I)) (I: identity of size H / block)."""

  def __init__(self, channels: int, block_size: int, groups: int = 2, *, rngs: nnx.Rngs):
    self.conv1 = ConvNormAct(channels, groups, 1, rngs=rngs)
    self.conv_p = nnx.Conv(groups, block_size ** 2 * groups, (block_size, 1), padding="VALID", rngs=rngs)
    self.conv_q = nnx.Conv(groups, block_size ** 2 * groups, (1, block_size), padding="VALID", rngs=rngs)
    self.conv2 = ConvNormAct(channels, channels, 1, rngs=rngs)
    self.block, self.groups = block_size, groups

  def _matrix(self, conv, pooled, axis: int, repeat: int):
    """(B, channels, block·repeat, block·repeat): the group's normalised σ(conv(pooled)) ⊗ I_repeat."""
    batch, channels = pooled.shape[0], self.conv2.conv.in_features
    matrix = jax.nn.sigmoid(conv(pooled).reshape(batch, self.groups, self.block, self.block))
    matrix = jnp.repeat(matrix / jnp.sum(matrix, axis=axis, keepdims=True), channels // self.groups, axis=1)
    return jnp.kron(matrix, jnp.eye(repeat)) if repeat > 1 else matrix

  def __call__(self, x):
    batch, height, width, _ = x.shape
    if height % self.block or width % self.block:
      raise ValueError(f"BilinearTransform: the {height}×{width} map does not divide into {self.block}² blocks.")
    out = self.conv1(x)
    rows = jnp.max(out.reshape(batch, self.block, height // self.block, width, -1), axis=(2, 3))[:, :, None]
    cols = jnp.max(out.reshape(batch, height, self.block, width // self.block, -1), axis=(1, 3))[:, None]
    p = self._matrix(self.conv_p, rows, 3, height // self.block)
    q = self._matrix(self.conv_q, cols, 2, width // self.block)
    y = jnp.einsum("bcij,bjkc,bckl->bilc", p, x, q)
    return self.conv2(y)


class BilinearAttention(nnx.Module):
  """timm's BatNonLocalAttn: x + conv2(BilinearTransform(conv1(x))) with 1×1 conv+BN+ReLU in and out."""

  def __init__(self, channels: int, reduced: int, block_size: int, *, rngs: nnx.Rngs):
    self.conv1 = ConvNormAct(channels, reduced, 1, rngs=rngs)
    self.ba = BilinearTransform(reduced, block_size, rngs=rngs)
    self.conv2 = ConvNormAct(reduced, channels, 1, rngs=rngs)

  def __call__(self, x):
    return x + self.conv2(self.ba(self.conv1(x)))


def attention(spec: Attention | None, channels: int, *, rngs: nnx.Rngs):
  """The channel attention module of ``spec`` over ``channels`` (None when disabled)."""
  if spec is None or not spec.kind:
    return None
  if spec.kind == "eca":
    return EfficientChannelAttention(channels, rngs=rngs)
  if spec.kind == "bat":  # timm's make_divisible with its default round_limit here
    return BilinearAttention(channels, layers.make_divisible(channels * (spec.rd_ratio or 0.25), spec.rd_divisor or 8),
                             spec.block_size, rngs=rngs)
  ratio, divisor = {"se": (1 / 16, 8), "gca": (1 / 8, 1)}[spec.kind]
  hidden = layers.make_divisible(channels * (spec.rd_ratio or ratio), spec.rd_divisor or divisor, round_limit=0.0)
  if spec.kind == "se":
    return SqueezeExcite(channels, hidden, rngs=rngs)
  return GlobalContextAdd(channels, hidden, jax.nn.relu, rngs=rngs)


class AvgDownsample(nnx.Module):
  """timm's DownsampleAvg: 2×2/2 average pool (ceil mode, valid pixels; none at stride 1) → 1×1 conv+BN."""

  def __init__(self, in_features: int, out_features: int, stride: int, norm: str, *, rngs: nnx.Rngs):
    self.stride = stride
    self.conv = conv_norm_act(norm, in_features, out_features, 1, act=None, rngs=rngs)

  def __call__(self, x):
    if self.stride > 1:
      x = layers.avg_pool_torch(x, 2, self.stride, ceil_mode=True, count_include_pad=False)
    return self.conv(x)


@dataclasses.dataclass(frozen=True)
class _BlockArgs:
  """What timm's create_byob_stages passes one block: widths, stride, groups and the resolved options."""
  in_features: int
  out_features: int
  stride: int
  group_size: int
  bottle_ratio: float
  attn: Attention | None
  options: BlockOptions
  downsample: str
  act: str
  norm: str = "batchnorm"


def _shortcut(args: _BlockArgs, rngs: nnx.Rngs):
  """timm's create_shortcut: "identity" at equal shape, else the configured downsample (None: no shortcut)."""
  if args.in_features == args.out_features and args.stride == 1:
    return "identity"
  if args.downsample == "avg":
    return AvgDownsample(args.in_features, args.out_features, args.stride, args.norm, rngs=rngs)
  if args.downsample == "conv1x1":
    return conv_norm_act(args.norm, args.in_features, args.out_features, 1, stride=args.stride, act=None, rngs=rngs)
  return None


# Each residual block kind's convs in order: (timm's name, in, out, k×k (else 1×1), strided, grouped, act).
_LAYOUTS = {
    "basic": (("conv1_kxk", "in", "mid", True, True, False, True),
              ("conv2_kxk", "mid", "out", True, False, True, False)),
    "bottle": (("conv1_1x1", "in", "mid", False, False, False, True),
               ("conv2_kxk", "mid", "mid", True, True, True, True),
               ("conv2b_kxk", "mid", "mid", True, False, True, True),  # only with extra_conv
               ("conv3_1x1", "mid", "out", False, False, False, False)),
    "dark": (("conv1_1x1", "in", "mid", False, False, False, True),
             ("conv2_kxk", "mid", "out", True, True, True, False)),
    "edge": (("conv1_kxk", "in", "mid", True, True, True, True),
             ("conv2_1x1", "mid", "out", False, False, False, False)),
}


class ResidualBlock(nnx.Module):
  """timm's BasicBlock / BottleneckBlock / DarkBlock / EdgeBlock: ``convs`` in order (the attention
  after ``convs[attn_after]``), plus shortcut, then act (unless linear_out)."""

  def __init__(self, kind: str, args: _BlockArgs, *, rngs: nnx.Rngs):
    options = args.options
    base = args.in_features if options.bottle_in and kind == "bottle" else args.out_features
    mid = layers.make_divisible(base * args.bottle_ratio)
    groups = _groups(args.group_size, mid)
    widths = {"in": args.in_features, "mid": mid, "out": args.out_features}
    convs = [(name, conv_norm_act(args.norm, widths[cin], widths[cout], options.kernel_size if spatial else 1,
                                  stride=args.stride if strided else 1, groups=groups if grouped else 1,
                                  act=args.act if act else None, rngs=rngs))
             for name, cin, cout, spatial, strided, grouped, act in _LAYOUTS[kind]
             if name != "conv2b_kxk" or options.extra_conv]
    for name, module in convs:
      setattr(self, name, module)
    self.conv_names = tuple(name for name, _ in convs)
    attn_last = options.attn_last if options.attn_last is not None else kind in ("basic", "dark")
    self.attn_after = len(convs) - 1 if attn_last else len(convs) - 2
    self.attn = attention(args.attn, args.out_features if attn_last else mid, rngs=rngs)
    shortcut = _shortcut(args, rngs)
    self.identity_shortcut = isinstance(shortcut, str)
    self.shortcut = None if self.identity_shortcut else shortcut
    self.act = None if options.linear_out else layers.activation(args.act)

  def __call__(self, x):
    residual = x if self.identity_shortcut else (self.shortcut(x) if self.shortcut is not None else None)
    for index, name in enumerate(self.conv_names):
      x = getattr(self, name)(x)
      if index == self.attn_after and self.attn is not None:
        x = self.attn(x)
    if residual is not None:
      x = x + residual
    return self.act(x) if self.act else x


class RepBlock(nnx.Module):
  """timm's RepVggBlock (``rep``) and MobileOneBlock (``one``) before reparameterisation: the sum of
  an identity BN (same shape only), k×k conv+BN branches (``conv_kxk``: one module for rep, a list of
  num_conv_branches for one) and a 1×1 conv+BN (``conv_1x1`` for rep; ``conv_scale`` for one, k > 1),
  then attention and act. Groups from the input width."""

  def __init__(self, kind: str, args: _BlockArgs, *, rngs: nnx.Rngs):
    k, cin, cout, s = args.options.kernel_size, args.in_features, args.out_features, args.stride
    if args.norm != "batchnorm":
      raise ValueError(f"ByobNet {kind!r} blocks are built with batch norm only; got norm {args.norm!r}.")
    groups = _groups(args.group_size, cin)
    self.identity = layers.batch_norm(cout, rngs=rngs) if cin == cout and s == 1 else None

    def branch(size):
      return ConvNormAct(cin, cout, size, stride=s, groups=groups, act=None, rngs=rngs)
    if kind == "rep":
      self.conv_kxk, self.conv_1x1 = branch(k), branch(1)
    else:
      self.conv_kxk = nnx.List([branch(k) for _ in range(args.options.num_conv_branches)])
      self.conv_scale = branch(1) if k > 1 else None
    self.attn = attention(args.attn, cout, rngs=rngs)
    self.act = layers.activation(args.act)

  def __call__(self, x):
    if isinstance(self.conv_kxk, nnx.List):
      out = sum(conv(x) for conv in self.conv_kxk)
      out = out + self.conv_scale(x) if self.conv_scale is not None else out
    else:
      out = self.conv_kxk(x) + self.conv_1x1(x)
    if self.identity is not None:
      out = out + self.identity(x)
    return self.act(self.attn(out) if self.attn is not None else out)


def _block(kind: str, args: _BlockArgs, spec, feat_size: int | None, rngs: nnx.Rngs) -> nnx.Module:
  if kind not in BLOCK_KINDS:
    raise ValueError(f"ByobNet block kind must be one of {BLOCK_KINDS}; got {kind!r}.")
  if kind == "self_attn":
    if spec is None:
      raise ValueError("ByobNet: a self_attn block needs a SelfAttention (the block's or the model's).")
    return SelfAttentionBlock(args, spec, feat_size, rngs=rngs)
  return (RepBlock if kind in ("rep", "one") else ResidualBlock)(kind, args, rngs=rngs)


class Stem(nnx.Module):
  """timm's Stem: 3×3 convs (``convs``; the first ``plain`` ones without BN+act), the first with
  stride 2 and, without a pool, the last too; then an optional 3×3/2 max pool."""

  def __init__(self, in_features: int, widths: tuple[int, ...], pool: str, act: str, *, plain: int = 0,
               norm: str = "batchnorm", rngs: nnx.Rngs):
    strides = [2] + [1] * (len(widths) - 1)
    if not pool:
      strides[-1] = 2
    convs, previous = [], in_features
    for index, (width, stride) in enumerate(zip(widths, strides)):
      convs.append(layers.conv(previous, width, 3, stride=stride, rngs=rngs) if index < plain
                   else conv_norm_act(norm, previous, width, 3, stride=stride, act=act, rngs=rngs))
      previous = width
    self.convs = nnx.List(convs)
    self.pool = pool

  def __call__(self, x):
    for conv in self.convs:
      x = conv(x)
    return layers.max_pool_torch(x, 3, 2, 1) if self.pool else x


def _stem(config: ByobConfig, rngs: nnx.Rngs):
  """timm's create_byob_stem for ``config.stem_type`` (STEM_TYPES)."""
  width, kind, pool, act = (int(round(config.stem_channels * config.width_factor)), config.stem_type,
                            config.stem_pool, config.act)
  stem = functools.partial(Stem, config.num_channels, pool=pool, act=act, norm=config.norm, rngs=rngs)
  if pool not in ("", "maxpool"):
    raise ValueError(f"ByobNet stem_pool must be '' or 'maxpool'; got {pool!r}.")
  if kind in ("quad", "quad2"):
    return stem(tuple(round(width * 0.5 ** i) for i in range(4))[::-1], plain=2 if kind == "quad2" else 0)
  if kind == "tiered":
    return stem((3 * width // 8, width // 2, width))
  if kind == "deep":
    return stem((width,) * 3)
  if kind in ("rep", "one"):
    args = _BlockArgs(config.num_channels, width, 2, 0, 1.0, config.attn, BlockOptions(), "", act, config.norm)
    return RepBlock(kind, args, rngs=rngs)
  if kind == "3x3":
    return (stem((width,)) if pool
            else conv_norm_act(config.norm, config.num_channels, width, 3, stride=2, act=act, rngs=rngs))
  raise ValueError(f"ByobNet stem_type must be one of {STEM_TYPES}; got {kind!r}.")


def _stem_reduction(config: ByobConfig) -> int:
  """The stem's output stride: 2 for a single conv (or rep / one block) without pool, else 4."""
  single = config.stem_type in ("rep", "one") or (config.stem_type == "3x3" and not config.stem_pool)
  return 2 if single else 4


def _stage_args(config: ByobConfig, in_features: int):
  """Each stage's blocks as (kind, _BlockArgs, self-attention spec, input map side) — timm's
  create_byob_stages at output stride 32 with its expand_blocks_cfg — and the final width."""
  stages = []
  feat_size = config.image_size // _stem_reduction(config) if config.image_size else None
  for stage in config.stages:
    rows = [row for spec in stage for row in [spec] * spec.depth]
    blocks = []
    for index, row in enumerate(rows):
      out = layers.make_divisible(row.channels * config.width_factor)
      group_size = out // row.alternate_groups if row.alternate_groups and index % 2 else row.group_size
      stride = stage[0].stride if index == 0 else 1
      blocks.append((row.kind, _BlockArgs(
          in_features, out, stride, group_size, row.bottle_ratio,
          row.attn if row.attn is not None else config.attn, row.options or config.options, config.downsample,
          config.act, config.norm), row.self_attn or config.self_attn, feat_size))
      in_features = out
      if feat_size and stride > 1:
        feat_size //= stride
    stages.append(blocks)
  return stages, in_features


class ByobNet(nnx.Module):
  """stem → stages → [final 1×1 conv+BN+act] → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: ByobConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = _stem(config, rngs)
    stem_width = int(round(config.stem_channels * config.width_factor))
    stage_args, features = _stage_args(config, stem_width)
    self.stages = nnx.List([nnx.List([_block(*block, rngs) for block in stage]) for stage in stage_args])
    num_features = int(round(config.num_features * config.width_factor))
    self.final_conv = (conv_norm_act(config.norm, features, num_features, 1, act=config.act, rngs=rngs)
                       if num_features else None)
    features = num_features or features
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return self.final_conv(x) if self.final_conv is not None else x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)


# --- self-attention blocks (timm's byoanet.py: BoTNet, HaloNet, LambdaNet) ------------------------------


@dataclasses.dataclass(frozen=True)
class SelfAttention:
  """A ``self_attn`` block's layer (timm's ``self_attn_layer`` and ``self_attn_kwargs``; None: the
  layer's default): ``bottleneck`` (BoTNet, Srinivas et al. 2021; 4 heads, needs the feature size),
  ``halo`` (HaloNet, Vaswani et al. 2021; 8 heads, block 8, halo 3) or ``lambda`` (Bello 2021; 4 heads,
  dim_head 16, local radius r 9, or r None: relative position embeddings over the feature size)."""
  kind: str
  num_heads: int | None = None
  dim_head: int | None = None
  qk_ratio: float = 1.0
  block_size: int = 8
  halo_size: int = 3
  r: int | None = 9


def relative_logits(q, height_rel, width_rel):
  """Relative-position logits (Bello et al. 2019, timm's rel_logits_1d in both axes): for queries
  q[..., i, j, :] of a qh × qw grid and keys of a wh × ww window (w = (len(rel) + 1) / 2),
  q[i, j]·height_rel[kh − i + wh − 1] + q[i, j]·width_rel[kw − j + ww − 1]; shape (..., qh·qw, wh·ww)."""
  *_, qh, qw, _ = q.shape
  wh, ww = (height_rel.shape[0] + 1) // 2, (width_rel.shape[0] + 1) // 2
  index_h = jnp.arange(wh)[None, :] - jnp.arange(qh)[:, None] + wh - 1
  index_w = jnp.arange(ww)[None, :] - jnp.arange(qw)[:, None] + ww - 1
  logits_h = jnp.einsum("...ijd,ikd->...ijk", q, height_rel[index_h])
  logits_w = jnp.einsum("...ijd,jkd->...ijk", q, width_rel[index_w])
  logits = logits_h[..., :, None] + logits_w[..., None, :]
  return logits.reshape(*q.shape[:-3], qh * qw, wh * ww)


class RelativePositions(nnx.Module):
  """timm's PosEmbedRel tables ``height_rel`` / ``width_rel``: (2·window − 1, dim_head) each."""

  def __init__(self, window_h: int, window_w: int, dim_head: int, *, rngs: nnx.Rngs):
    self.height_rel = nnx.Param(jax.random.normal(rngs.params(), (2 * window_h - 1, dim_head)) * dim_head ** -0.5)
    self.width_rel = nnx.Param(jax.random.normal(rngs.params(), (2 * window_w - 1, dim_head)) * dim_head ** -0.5)

  def __call__(self, q):
    return relative_logits(q, self.height_rel[...], self.width_rel[...])


def _qk_dim(spec: SelfAttention, dim: int, heads: int) -> int:
  return spec.dim_head or layers.make_divisible(dim * spec.qk_ratio) // heads


def _heads_last(x, heads: int):
  """(B, H, W, heads·d) → (B, heads, H, W, d): timm's channel order is head-major."""
  return jnp.moveaxis(x.reshape(*x.shape[:3], heads, -1), 3, 1)


def _merge_heads(x):
  """(B, heads, H, W, d) → (B, H, W, heads·d)."""
  return jnp.moveaxis(x, 1, 3).reshape(*x.shape[:1], *x.shape[2:4], -1)


def _avg_pool2(x):
  return layers.avg_pool_torch(x, 2, 2)


class BottleneckAttention(nnx.Module):
  """timm's BottleneckAttn: global multi-head attention over a fixed H × W map with 2-D relative
  logits, softmax(q·kᵀ·d^-½ + rel(q))·v, then a 2×2 average pool at stride 2."""

  def __init__(self, dim: int, spec: SelfAttention, stride: int, feat_size: int, *, rngs: nnx.Rngs):
    self.heads = spec.num_heads or 4
    self.dim_qk, self.dim_v = _qk_dim(spec, dim, self.heads), dim // self.heads
    self.qkv = layers.conv(dim, self.heads * (2 * self.dim_qk + self.dim_v), 1, rngs=rngs)
    self.pos_embed = RelativePositions(feat_size, feat_size, self.dim_qk, rngs=rngs)
    self.feat_size, self.stride = feat_size, stride

  def __call__(self, x):
    if x.shape[1:3] != (self.feat_size, self.feat_size):
      raise ValueError(f"BottleneckAttention holds positions for {self.feat_size}² maps; got {x.shape[1:3]} "
                       "(the model's fixed input size decides it).")
    q, k, v = jnp.split(self.qkv(x), [self.heads * self.dim_qk, 2 * self.heads * self.dim_qk], axis=-1)
    q, k, v = (_heads_last(t, self.heads) for t in (q, k, v))
    flat = lambda t: t.reshape(*t.shape[:2], -1, t.shape[-1])
    logits = jnp.einsum("bnqd,bnkd->bnqk", flat(q), flat(k)) * self.dim_qk ** -0.5 + self.pos_embed(q)
    out = jnp.einsum("bnqk,bnkd->bnqd", jax.nn.softmax(logits, axis=-1), flat(v)).reshape(v.shape)
    out = _merge_heads(out)
    return _avg_pool2(out) if self.stride == 2 else out


class HaloAttention(nnx.Module):
  """timm's HaloAttn: each block × block query tile (queries subsampled by the stride when the block
  divides by it, else a 2×2 average pool after) attends to its tile plus a ``halo`` ring of keys
  (zero-padded at the border, unmasked as in timm), with relative logits over the window."""

  def __init__(self, dim: int, spec: SelfAttention, stride: int, *, rngs: nnx.Rngs):
    self.heads = spec.num_heads or 8
    self.dim_qk, self.dim_v = _qk_dim(spec, dim, self.heads), dim // self.heads
    self.block, self.halo, self.window = spec.block_size, spec.halo_size, spec.block_size + 2 * spec.halo_size
    self.pool_after = stride > 1 and spec.block_size % stride != 0
    self.query_stride = stride if stride > 1 and not self.pool_after else 1
    self.q = layers.conv(dim, self.heads * self.dim_qk, 1, stride=self.query_stride, rngs=rngs)
    self.kv = layers.conv(dim, self.heads * (self.dim_qk + self.dim_v), 1, rngs=rngs)
    self.pos_embed = RelativePositions(self.window, self.window, self.dim_qk, rngs=rngs)

  def _windows(self, kv):
    """(B, H, W, C) → (B, heads, blocks, window², dim_qk + dim_v): the haloed tile of each block."""
    padded = layers.pad_hw(kv, self.halo, self.halo, self.halo, self.halo)
    rows = (jnp.arange(kv.shape[1] // self.block) * self.block)[:, None] + jnp.arange(self.window)[None, :]
    cols = (jnp.arange(kv.shape[2] // self.block) * self.block)[:, None] + jnp.arange(self.window)[None, :]
    tiles = padded[:, rows][:, :, :, cols]  # (B, nh, window, nw, window, C)
    blocks = rows.shape[0] * cols.shape[0]
    tiles = jnp.transpose(tiles, (0, 1, 3, 2, 4, 5)).reshape(kv.shape[0], blocks, self.window ** 2, self.heads, -1)
    return jnp.transpose(tiles, (0, 3, 1, 2, 4))

  def __call__(self, x):
    batch, height, width, _ = x.shape
    if height % self.block or width % self.block:
      raise ValueError(f"HaloAttention: the {height}×{width} map does not divide into {self.block}² blocks.")
    size, nh, nw = self.block // self.query_stride, height // self.block, width // self.block
    q = self.q(x).reshape(batch, nh, size, nw, size, self.heads, self.dim_qk)
    q = jnp.transpose(q, (0, 5, 1, 3, 2, 4, 6)).reshape(batch, self.heads, nh * nw, size, size, self.dim_qk)
    k, v = jnp.split(self._windows(self.kv(x)), [self.dim_qk], axis=-1)
    flat_q = q.reshape(*q.shape[:3], size * size, self.dim_qk)
    logits = jnp.einsum("bnpqd,bnpkd->bnpqk", flat_q, k) * self.dim_qk ** -0.5 + self.pos_embed(q)
    out = jnp.einsum("bnpqk,bnpkd->bnpqd", jax.nn.softmax(logits, axis=-1), v)
    out = out.reshape(batch, self.heads, nh, nw, size, size, self.dim_v)
    out = jnp.transpose(out, (0, 2, 4, 3, 5, 1, 6)).reshape(batch, nh * size, nw * size, -1)
    return _avg_pool2(out) if self.pool_after else out


class LambdaConv(nnx.Module):
  """timm's Conv3d(1, dim_qk, (r, r, 1)) over (H, W, value channel): an r × r conv of every value
  channel into dim_qk position lambdas (kernel kept in PyTorch's layout (dim_qk, 1, r, r, 1))."""

  def __init__(self, dim_qk: int, r: int, *, rngs: nnx.Rngs):
    self.kernel = nnx.Param(jax.random.normal(rngs.params(), (dim_qk, 1, r, r, 1)) * dim_qk ** -0.5)
    self.bias = nnx.Param(jnp.zeros((dim_qk,)))
    self.r = r

  def __call__(self, v):
    """v (B, H, W, dim_v) → (B, H·W, dim_qk, dim_v)."""
    batch, height, width, dim_v = v.shape
    images = jnp.moveaxis(v, 3, 1).reshape(batch * dim_v, height, width, 1)
    kernel = jnp.transpose(self.kernel[...][:, 0, :, :, 0], (1, 2, 0))[:, :, None, :]
    out = jax.lax.conv_general_dilated(images, kernel, (1, 1), layers.torch_padding(self.r),
                                       dimension_numbers=("NHWC", "HWIO", "NHWC")) + self.bias[...]
    return jnp.moveaxis(out.reshape(batch, dim_v, height * width, -1), 1, 3)


class LambdaLayer(nnx.Module):
  """timm's LambdaLayer (intra-depth 1): content lambda softmax_M(k)ᵀ·BN(v) and position lambdas (a
  local r × r conv of v, or relative embeddings E[n − m] over a fixed map when r is None) applied to
  the heads' BN(q); a 2×2 average pool at stride 2."""

  def __init__(self, dim: int, spec: SelfAttention, stride: int, feat_size: int | None, *, rngs: nnx.Rngs):
    self.heads = spec.num_heads or 4
    self.dim_qk = spec.dim_head if spec.dim_head is not None else 16
    self.dim_v, self.stride, self.feat_size = dim // self.heads, stride, feat_size
    self.qkv = layers.conv(dim, self.heads * self.dim_qk + self.dim_qk + self.dim_v, 1, rngs=rngs)
    self.norm_q = layers.batch_norm(self.heads * self.dim_qk, rngs=rngs)
    self.norm_v = layers.batch_norm(self.dim_v, rngs=rngs)
    self.conv_lambda = LambdaConv(self.dim_qk, spec.r, rngs=rngs) if spec.r else None
    self.pos_emb = None if spec.r else nnx.Param(
        jax.random.normal(rngs.params(), (2 * feat_size - 1, 2 * feat_size - 1, self.dim_qk)) * 0.02)

  def _position_lambdas(self, v):
    """(B, H·W, dim_qk, dim_v): the local conv, or Σ_n E[pos n − pos m] v_n over the fixed map."""
    if self.conv_lambda is not None:
      return self.conv_lambda(v)
    if v.shape[1:3] != (self.feat_size, self.feat_size):
      raise ValueError(f"LambdaLayer holds positions for {self.feat_size}² maps; got {v.shape[1:3]}.")
    grid = jnp.stack(jnp.meshgrid(jnp.arange(self.feat_size), jnp.arange(self.feat_size), indexing="ij")).reshape(2, -1)
    offsets = grid[:, None, :] - grid[:, :, None] + self.feat_size - 1  # [axis, m, n] = pos_n − pos_m
    embedding = self.pos_emb[...][offsets[0], offsets[1]]  # (M, M, dim_qk)
    return jnp.einsum("mnk,bnv->bmkv", embedding, v.reshape(v.shape[0], -1, v.shape[-1]))

  def __call__(self, x):
    batch, height, width, _ = x.shape
    q, k, v = jnp.split(self.qkv(x), [self.heads * self.dim_qk, (self.heads + 1) * self.dim_qk], axis=-1)
    q = self.norm_q(q).reshape(batch, height * width, self.heads, self.dim_qk)
    v = self.norm_v(v)
    flat_v = v.reshape(batch, height * width, self.dim_v)
    k = jax.nn.softmax(k.reshape(batch, height * width, self.dim_qk), axis=1)
    content = jnp.einsum("bmhk,bkv->bmhv", q, jnp.einsum("bmk,bmv->bkv", k, flat_v))
    position = jnp.einsum("bmhk,bmkv->bmhv", q, self._position_lambdas(v))
    out = (content + position).reshape(batch, height, width, -1)
    return _avg_pool2(out) if self.stride == 2 else out


def self_attention(spec: SelfAttention, dim: int, stride: int, feat_size: int | None, *, rngs: nnx.Rngs):
  """The self-attention layer of ``spec`` over ``dim`` channels (feat_size: the input map's side)."""
  if spec.kind == "bottleneck":
    if feat_size is None:
      raise ValueError("BottleneckAttention needs the model's fixed input size (ByobConfig.image_size).")
    return BottleneckAttention(dim, spec, stride, feat_size, rngs=rngs)
  if spec.kind == "halo":
    return HaloAttention(dim, spec, stride, rngs=rngs)
  if spec.kind == "lambda":
    if spec.r is None and feat_size is None:
      raise ValueError("LambdaLayer with r=None needs the model's fixed input size (ByobConfig.image_size).")
    return LambdaLayer(dim, spec, stride, feat_size, rngs=rngs)
  raise ValueError(f"ByobNet self-attention must be 'bottleneck', 'halo' or 'lambda'; got {spec.kind!r}.")


class SelfAttentionBlock(nnx.Module):
  """timm's SelfAttnBlock: 1×1 conv+BN+act [→ k×k conv+BN+act, extra_conv, which then strides] →
  self-attention (stride) → BN+act (``post_attn``) → 1×1 conv+BN; plus shortcut; act unless linear_out."""

  def __init__(self, args: _BlockArgs, spec: SelfAttention, feat_size: int | None, *, rngs: nnx.Rngs):
    options, stride = args.options, args.stride
    if args.norm != "batchnorm":
      raise ValueError(f"ByobNet self_attn blocks are built with batch norm only; got norm {args.norm!r}.")
    mid = layers.make_divisible((args.in_features if options.bottle_in else args.out_features) * args.bottle_ratio)
    self.conv1_1x1 = ConvNormAct(args.in_features, mid, 1, act=args.act, rngs=rngs)
    self.conv2_kxk = None
    if options.extra_conv:
      self.conv2_kxk = ConvNormAct(mid, mid, options.kernel_size, stride=stride,
                                   groups=_groups(args.group_size, mid), act=args.act, rngs=rngs)
      stride = 1
    self.self_attn = self_attention(spec, mid, stride, feat_size, rngs=rngs)
    self.post_attn = layers.batch_norm(mid, rngs=rngs)
    self.conv3_1x1 = ConvNormAct(mid, args.out_features, 1, act=None, rngs=rngs)
    shortcut = _shortcut(args, rngs)
    self.identity_shortcut = isinstance(shortcut, str)
    self.shortcut = None if self.identity_shortcut else shortcut
    self.block_act = layers.activation(args.act)
    self.act = None if options.linear_out else self.block_act

  def __call__(self, x):
    residual = x if self.identity_shortcut else (self.shortcut(x) if self.shortcut is not None else None)
    x = self.conv1_1x1(x)
    if self.conv2_kxk is not None:
      x = self.conv2_kxk(x)
    x = self.conv3_1x1(self.block_act(self.post_attn(self.self_attn(x))))
    if residual is not None:
      x = x + residual
    return self.act(x) if self.act else x
