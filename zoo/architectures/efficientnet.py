"""EfficientNet (Tan & Le 2019) with the padding of the TF originals as transformers ports
them: stride-2 convs pad asymmetrically (more after) then run VALID; stride-1 convs pad
symmetrically. Width/depth scaling from the compound coefficients (B0–B7).

:class:`MBConvNet` is timm's EfficientNet builder in timm's tensor naming (timm's
``efficientnet_*`` with PyTorch padding, ``tf_efficientnet_*`` with TF "SAME" padding, and
MobileNetV2, see zoo.architectures.mobilenet), built from decoded block specs."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class EfficientNetConfig:
  """Field names follow transformers' ``EfficientNetConfig``; defaults are B0."""
  width_coefficient: float = 1.0
  depth_coefficient: float = 1.0
  depth_divisor: int = 8
  kernel_sizes: tuple[int, ...] = (3, 3, 5, 3, 5, 5, 3)
  in_channels: tuple[int, ...] = (32, 16, 24, 40, 80, 112, 192)
  out_channels: tuple[int, ...] = (16, 24, 40, 80, 112, 192, 320)
  depthwise_padding: tuple[int, ...] = ()  # blocks whose stride-2 padding is symmetric
  strides: tuple[int, ...] = (1, 2, 2, 2, 1, 2, 1)
  num_block_repeats: tuple[int, ...] = (1, 2, 2, 3, 3, 4, 1)
  expand_ratios: tuple[int, ...] = (1, 6, 6, 6, 6, 6, 6)
  squeeze_expansion_ratio: float = 0.25
  hidden_act: str = "swish"
  hidden_dim: int = 1280
  batch_norm_eps: float = 1e-3
  num_channels: int = 3
  num_classes: int = 1000

  def round_filters(self, channels: int) -> int:
    """Channels × width coefficient, rounded to the divisor (never below 90 %)."""
    return layers.make_divisible(channels * self.width_coefficient, self.depth_divisor)


class MBConvBlock(nnx.Module):
  """[1×1 expand] → depthwise k×k → squeeze-excite → 1×1 project (+ input when not first of a stage)."""

  def __init__(self, config: EfficientNetConfig, in_dim, out_dim, stride, expand_ratio, kernel_size, *,
               first_in_stage: bool, symmetric_padding: bool, rngs: nnx.Rngs):
    eps, mid = config.batch_norm_eps, in_dim * expand_ratio
    self.stride, self.kernel_size, self.symmetric_padding = stride, kernel_size, symmetric_padding
    self.residual = stride == 1 and not first_in_stage
    self.act = layers.activation(config.hidden_act)
    if expand_ratio != 1:
      self.expand_conv = layers.conv(in_dim, mid, 1, rngs=rngs)
      self.expand_bn = layers.batch_norm(mid, epsilon=eps, rngs=rngs)
    else:
      self.expand_conv = self.expand_bn = None
    padding = "torch" if stride == 1 else "VALID"
    self.depthwise_conv = layers.conv(mid, mid, kernel_size, stride=stride, groups=mid, padding=padding, rngs=rngs)
    self.depthwise_bn = layers.batch_norm(mid, epsilon=eps, rngs=rngs)
    squeezed = max(1, int(in_dim * config.squeeze_expansion_ratio))
    self.se_reduce = layers.conv(mid, squeezed, 1, bias=True, rngs=rngs)
    self.se_expand = layers.conv(squeezed, mid, 1, bias=True, rngs=rngs)
    self.project_conv = layers.conv(mid, out_dim, 1, rngs=rngs)
    self.project_bn = layers.batch_norm(out_dim, epsilon=eps, rngs=rngs)

  def __call__(self, inputs):
    x = inputs
    if self.expand_conv is not None:
      x = self.act(self.expand_bn(self.expand_conv(x)))
    if self.stride == 2:
      half = self.kernel_size // 2
      before = half if self.symmetric_padding else half - 1
      x = layers.pad_hw(x, before, half, before, half)
    x = self.act(self.depthwise_bn(self.depthwise_conv(x)))
    gate = jnp.mean(x, axis=(1, 2), keepdims=True)
    x = x * jax.nn.sigmoid(self.se_expand(self.act(self.se_reduce(gate))))
    x = self.project_bn(self.project_conv(x))
    return x + inputs if self.residual else x


class EfficientNet(nnx.Module):
  """stem (pad right/bottom, 3×3/2) → MBConv blocks → 1×1 head conv → global mean → Linear."""

  def __init__(self, config: EfficientNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    eps = config.batch_norm_eps
    stem = config.round_filters(32)
    self.act = layers.activation(config.hidden_act)
    self.stem_conv = layers.conv(config.num_channels, stem, 3, stride=2, padding="VALID", rngs=rngs)
    self.stem_bn = layers.batch_norm(stem, epsilon=eps, rngs=rngs)
    blocks = []
    for stage in range(len(config.in_channels)):
      in_dim, out_dim = config.round_filters(config.in_channels[stage]), config.round_filters(config.out_channels[stage])
      for j in range(int(math.ceil(config.depth_coefficient * config.num_block_repeats[stage]))):
        blocks.append(MBConvBlock(
            config, in_dim if j == 0 else out_dim, out_dim, config.strides[stage] if j == 0 else 1,
            config.expand_ratios[stage], config.kernel_sizes[stage], first_in_stage=j == 0,
            symmetric_padding=len(blocks) in config.depthwise_padding, rngs=rngs))
    self.blocks = nnx.List(blocks)
    head = config.round_filters(1280)
    if head != config.hidden_dim:
      raise ValueError(f"EfficientNet hidden_dim {config.hidden_dim} ≠ round_filters(1280) = {head}.")
    self.head_conv = layers.conv(out_dim, head, 1, rngs=rngs)
    self.head_bn = layers.batch_norm(head, epsilon=eps, rngs=rngs)
    self.head = nnx.Linear(head, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.act(self.stem_bn(self.stem_conv(layers.pad_hw(images, 0, 1, 0, 1))))
    for block in self.blocks:
      x = block(x)
    return self.act(self.head_bn(self.head_conv(x)))

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)


# timm's EfficientNet builder (EfficientNet, MobileNetV2, ...) in timm's tensor naming.


@dataclasses.dataclass(frozen=True)
class MBConvBlockSpec:
  """One block of timm's EfficientNet builder, channels already rounded.

  ``kind`` "ds": depthwise-separable, dw k×k → [SE] → 1×1 (``mid_dim`` = ``in_dim``);
  "ir": inverted residual, 1×1 expand to ``mid_dim`` → dw k×k → [SE] → 1×1 project;
  "er": edge residual (fused MBConv), k×k expand to ``mid_dim`` → [SE] → 1×1 project;
  "cn": conv k×k → batch norm → act (``mid_dim`` = ``out_dim``); "dsa": "ds" with an activation
  after the 1×1 and no skip; "uir": MobileNetV4's universal inverted residual, [dw start] → 1×1
  expand → [dw mid] → 1×1 project → [dw end]; "mqa": MobileNetV4's multi-query attention.
  ``se_dim`` 0 = no squeeze-excite; ``skip``: add the block input to its output.
  """
  kind: str
  in_dim: int
  out_dim: int
  kernel_size: int | tuple[int, ...]  # several: a mixed depthwise conv (MixNet), channels split among them
  stride: int
  mid_dim: int
  se_dim: int = 0
  skip: bool = False
  act: str | None = None  # the block's activation when not the network's (timm's "nre": ReLU)
  expand_groups: int = 1  # 1×1 expansion split into this many channel groups (timm's "a1.1")
  project_groups: int = 1  # 1×1 projection split likewise (timm's "p1.1")
  start_kernel: int = 0  # "uir": depthwise k×k before the expansion (0 = none; ``kernel_size`` 0 = no middle one)
  end_kernel: int = 0  # "uir": depthwise k×k after the projection (0 = none)
  num_heads: int = 0  # "mqa": query heads
  key_dim: int = 0  # "mqa": the width of each head's query, the shared key and the shared value
  kv_stride: int = 1  # "mqa": keys and values from a depthwise k×k/stride conv + BN of the input
  num_experts: int = 0  # "ir": CondConv, every conv a per-sample mix of this many expert kernels
  group_size: int = 0  # "er": grouped expansion conv, mid_dim / group_size groups (MobileNet-EdgeTPU-v2)
  s2d: int = 0  # "ds": 1 = 2×2/2 space-to-depth conv (4× channels) first, depthwise kernel ⌈k/2⌉; 2 = inside the region


@dataclasses.dataclass(frozen=True)
class MBConvNetConfig:
  """stem conv 3×3/2 (``stem_dim``) → ``stages`` of blocks → 1×1 head conv (``head_dim``).
  ``padding`` "torch" = symmetric k//2 (timm's default), "SAME" = TF dynamic padding
  (timm's ``tf_`` models, transformers' MobileNetV2 ``tf_padding``)."""
  stem_dim: int
  stages: tuple[tuple[MBConvBlockSpec, ...], ...]
  head_dim: int
  act: str = "swish"
  padding: str = "torch"
  batch_norm_eps: float = 1e-5
  num_channels: int = 3
  num_classes: int = 1000
  se_gate: str = "sigmoid"  # MobileNetV3: "hard_sigmoid"
  se_act: str | None = None  # the SE's inner activation; None = the block's (MobileNetV3: "relu")
  head: str = "conv_bn"  # "conv_bn": 1×1 conv → BN → act, then mean; "pool_conv": mean, then 1×1 conv → act;
  # "pool_conv_bn" (MobileNetV4): mean, then 1×1 conv (no bias) → BN → act; "none" (MobileNetV1): mean only
  head_bias: bool = True  # "pool_conv": the head conv's bias (timm's head_bias)
  anti_alias: str | None = None  # stride-2 convs of "cn"/"er"/"uir" run at stride 1, then "avg" (2×2 mean) or
  # "blurpc" (binomial 3×3 blur, zero padding 1, stride 2): timm's aa_layer
  layer_scale: bool = False  # "uir"/"mqa": a learned per-channel scale on the branch (timm's LayerScale2d)
  stem_kernel: int = 3  # MobileNet-EdgeTPU-v2: 5
  se_layer: str = "se"  # "gc": timm's GlobalContext in place of squeeze-excite (gc_efficientnetv2)
  norm: str = "batch"  # every norm: "batch", "group" (timm's GroupNormAct, groups of 8 channels) or "layer"
  # (LayerNormAct2d, over channels); ε batch_norm_eps (timm's test_efficientnet_gn / _ln)


@dataclasses.dataclass(frozen=True)
class StageRow:
  """One stage of a timm ``arch_def`` (e.g. ``ir_r2_k3_s2_e6_c24_se0.25``): block kind,
  repeats, depthwise kernel, first stride, expansion ratio, output channels, SE ratio."""
  kind: str
  repeats: int
  kernel_size: int | tuple[int, ...]
  stride: int
  expansion: float
  channels: int
  se_ratio: float = 0.0
  skip: bool | None = None  # None: skip when stride 1 and in = out ("ir"/"ds"/"er"); "_skip" True, "_noskip" False
  force_in: int = 0  # "fc": expansion from these (width-scaled) channels instead of the block input's ("er")
  act: str | None = None  # "nre": ReLU, "nsw": swish instead of the network's activation
  expand_groups: int = 1
  project_groups: int = 1
  start_kernel: int = 0  # "uir" a: depthwise conv before the expansion
  end_kernel: int = 0  # "uir" p: depthwise conv after the projection
  num_heads: int = 0  # "mqa" h
  key_dim: int = 0  # "mqa" d
  kv_stride: int = 1  # "mqa" v
  num_experts: int = 0  # "ir" cc: CondConv experts (timm's CondConvResidual)
  group_size: int = 0  # "er" gs: the expansion conv in groups of this many output channels (0 = one group)
  s2d: int = 0  # d1: a space-to-depth region starts here (EfficientNet-X; "ds" blocks only)


_BLOCK_KINDS = ("ds", "dsa", "ir", "er", "cn", "uir", "mqa")  # the block classes of MBConvNet (_BLOCKS below)
# Options whose letter means something else per block type (timm's _decode_block_str): "uir" a / p are
# the start / end depthwise kernels (0 = none), "mqa" h / d / v heads, key width, key-value stride.
_KIND_KEYS = {"uir": {"a": "start_kernel", "p": "end_kernel"},
              "mqa": {"h": "num_heads", "d": "key_dim", "v": "kv_stride"}}
_ACT_FLAGS = {"nre": "relu", "nsw": "swish"}
_ARCH_KEYS = {"cc": ("num_experts", int), "gs": ("group_size", int), "d": ("s2d", int),
              "r": ("repeats", int), "k": ("kernel_size", int), "s": ("stride", int), "e": ("expansion", float),
              "c": ("channels", int), "se": ("se_ratio", float), "fc": ("force_in", int)}


def decode_stage(text: str) -> StageRow:
  """One stage of timm's arch-string notation (``_efficientnet_builder._decode_block_str``),
  e.g. ``"er_r4_k3_s2_e4_c48"`` or ``"cn_r2_k3_s1_e1_c24_skip"``: block type, then options
  r (repeats), k (kernel), s (stride), e (expansion), c (channels), se (SE ratio), fc (forced
  expansion input channels), cc (CondConv experts), "uir"'s a / p (start / end depthwise kernels), "mqa"'s h / d / v
  (heads, key width, key-value stride) and the flags
  ``skip`` / ``noskip`` / ``nre`` (ReLU) / ``nsw`` (swish); MixNet's k3.5.7 (mixed depthwise
  kernels) and a1.1 / p1.1 (grouped 1×1 expansion / projection). Options this decoder does not
  model are a ValueError naming them."""
  kind, *options = text.split("_")
  if kind not in _BLOCK_KINDS:
    raise ValueError(f"arch string {text!r}: block type {kind!r} is not supported (supported: {sorted(_BLOCK_KINDS)}).")
  fields = dict(kind=kind, repeats=1, kernel_size=3, stride=1, expansion=1.0)
  for option in options:
    if option in ("skip", "noskip"):
      fields["skip"] = option == "skip"
      continue
    if option in _ACT_FLAGS:
      fields["act"] = _ACT_FLAGS[option]
      continue
    kind_key = re.fullmatch(r"([a-z])(\d+)", option)
    if kind_key is not None and kind_key[1] in _KIND_KEYS.get(kind, {}):
      fields[_KIND_KEYS[kind][kind_key[1]]] = int(kind_key[2])
      continue
    mixed = re.fullmatch(r"([kap])(\d+(?:\.\d+)+)", option)  # k3.5.7: mixed kernels; a1.1 / p1.1: grouped 1×1
    if mixed is not None and (mixed[1] == "k" or set(mixed[2].split(".")) == {"1"}):
      sizes = tuple(int(k) for k in mixed[2].split("."))
      fields.update({"k": {"kernel_size": sizes}, "a": {"expand_groups": len(sizes)},
                     "p": {"project_groups": len(sizes)}}[mixed[1]])
      continue
    match = re.fullmatch(r"(se|fc|cc|gs|[a-z])(\d+|\d*\.\d+)", option)
    if match is None or match[1] not in _ARCH_KEYS or ("." in match[2] and _ARCH_KEYS[match[1]][1] is int):
      raise ValueError(f"arch string {text!r}: option {option!r} is not supported "
                       f"(supported: {sorted(_ARCH_KEYS)}, skip, noskip).")
    name, cast = _ARCH_KEYS[match[1]]
    fields[name] = cast(match[2])
  if "channels" not in fields:
    raise ValueError(f"arch string {text!r} has no output channels (c...).")
  return StageRow(**fields)


# timm's _gen_efficientnet and _gen_mobilenet_v2 arch_def tables.
EFFICIENTNET_STAGES = (
    StageRow("ds", 1, 3, 1, 1, 16, 0.25), StageRow("ir", 2, 3, 2, 6, 24, 0.25),
    StageRow("ir", 2, 5, 2, 6, 40, 0.25), StageRow("ir", 3, 3, 2, 6, 80, 0.25),
    StageRow("ir", 3, 5, 1, 6, 112, 0.25), StageRow("ir", 4, 5, 2, 6, 192, 0.25),
    StageRow("ir", 1, 3, 1, 6, 320, 0.25))
MOBILENET_V2_STAGES = (
    StageRow("ds", 1, 3, 1, 1, 16), StageRow("ir", 2, 3, 2, 6, 24), StageRow("ir", 3, 3, 2, 6, 32),
    StageRow("ir", 4, 3, 2, 6, 64), StageRow("ir", 3, 3, 1, 6, 96), StageRow("ir", 3, 3, 2, 6, 160),
    StageRow("ir", 1, 3, 1, 6, 320))


def _scale_stage(repeats: list[int], multiplier: float, depth_trunc: str) -> list[int]:
  """timm's _scale_stage_depth: the stage's total r → ⌈r·depth⌉ ("ceil") or max(1, round(r·depth))
  ("round"), shared among its rows from the last backwards, each max(1, round(rᵢ/r · left))."""
  total = sum(repeats)
  scaled = max(1, round(total * multiplier)) if depth_trunc == "round" else int(math.ceil(total * multiplier))
  out = []
  for r in reversed(repeats):
    share = max(1, round(r / total * scaled))
    out.append(share)
    total, scaled = total - r, scaled - share
  return out[::-1]


def _stage_rows(stage) -> tuple[StageRow, ...]:
  return (stage,) if isinstance(stage, StageRow) else tuple(stage)


def _stage_repeats(rows, depth_multiplier, depth_trunc: str, fix_first_last: bool) -> list[list[int]]:
  """Repeats of each row of each stage (:func:`_scale_stage`); ``depth_multiplier`` one number
  or one per stage (timm's efficientnetv2_rw_m); first and last stage unscaled when ``fix_first_last``."""
  multipliers = (tuple(depth_multiplier) if isinstance(depth_multiplier, (tuple, list))
                 else (depth_multiplier,) * len(rows))
  if len(multipliers) != len(rows):
    raise ValueError(f"{len(multipliers)} depth multipliers for {len(rows)} stages.")
  return [_scale_stage([row.repeats for row in _stage_rows(stage)],
                       1.0 if fix_first_last and index in (0, len(rows) - 1) else multiplier, depth_trunc)
          for index, (stage, multiplier) in enumerate(zip(rows, multipliers))]


@dataclasses.dataclass(frozen=True)
class SERule:
  """timm's SE width: reduced = round(c · r) (``make_divisible`` False) or make_divisible(c · r)
  (MobileNetV3's rd_round_fn), with c the block's SE input channels and r the stage's ratio,
  divided by the expansion unless ``from_expansion`` (timm's se_from_exp)."""
  from_expansion: bool = False
  make_divisible: bool = False
  round_limit: float = 0.9  # make_divisible's (FBNetV3: 0.95)
  divisor: int = 8  # make_divisible's (GlobalContext: 1)


def _block_spec(row: StageRow, in_dim: int, out_dim: int, stride: int, force_in: int = 0,
                se_rule: SERule = SERule(), s2d: int = 0) -> MBConvBlockSpec:
  """timm's block channels: expansion make_divisible((force_in or in)·e) ("ir"/"er"), SE
  channels by ``se_rule``, skip when stride 1 and in = out unless "noskip" ("cn": only with "skip");
  in a space-to-depth region (``s2d``) 4× the output channels (the first block: 4× the depthwise
  channels, SE ratio / 4, depthwise kernel ⌈k/2⌉)."""
  kernel_size = (row.kernel_size + 1) // 2 if s2d == 1 else row.kernel_size
  mid = ({"ds": in_dim * (4 if s2d == 1 else 1), "dsa": in_dim, "cn": out_dim, "mqa": in_dim}.get(row.kind)
         or layers.make_divisible((force_in or in_dim) * row.expansion))
  out_dim = out_dim * 4 if s2d else out_dim
  ratio = row.se_ratio / (1.0 if row.kind in ("ds", "dsa", "cn") or se_rule.from_expansion else row.expansion)
  ratio = ratio / 4 if s2d == 1 else ratio
  se_dim = ((layers.make_divisible(mid * ratio, se_rule.divisor, round_limit=se_rule.round_limit) if se_rule.make_divisible
             else round(mid * ratio)) if row.se_ratio else 0)
  plain = stride == 1 and in_dim == out_dim
  skip = plain and (row.skip is True if row.kind == "cn" else row.kind != "dsa" and row.skip is not False)
  return MBConvBlockSpec(row.kind, in_dim, out_dim, kernel_size, stride, mid, se_dim=se_dim, skip=skip,
                         act=row.act, expand_groups=row.expand_groups, project_groups=row.project_groups,
                        start_kernel=row.start_kernel, end_kernel=row.end_kernel, num_heads=row.num_heads,
                        key_dim=row.key_dim, kv_stride=row.kv_stride, num_experts=row.num_experts,
                        group_size=row.group_size, s2d=s2d)


def timm_builder_stages(rows, stem_dim: int, *, channel_multiplier: float = 1.0, depth_multiplier=1.0,
                        depth_trunc: str = "ceil", fix_first_last: bool = False, round_limit: float = 0.9,
                        se_rule: SERule = SERule()) -> tuple:
  """timm's decode_arch_def + EfficientNetBuilder: ``rows`` one :class:`StageRow` (or a tuple of
  them) per stage; repeats by :func:`_stage_repeats`; channels → make_divisible(c·width, 8,
  round_limit) (timm's round_channels); block channels by :func:`_block_spec`. A space-to-depth
  region (d1) runs from its block to the next stride-2 block, which drops its stride and divides
  its expansion by 4 (timm's builder). Returns the stages of :class:`MBConvBlockSpec`."""
  round_channels = lambda c: (layers.make_divisible(c * channel_multiplier, round_limit=round_limit)
                              if channel_multiplier else c)
  stages, in_dim, space2depth = [], stem_dim, 0
  for stage, stage_repeats in zip(rows, _stage_repeats(rows, depth_multiplier, depth_trunc, fix_first_last)):
    blocks = []
    for row, repeats in zip(_stage_rows(stage), stage_repeats):
      out_dim, force_in = round_channels(row.channels), round_channels(row.force_in) if row.force_in else 0
      for j in range(repeats):
        block_row, stride = row, row.stride if j == 0 else 1
        space2depth = space2depth or (1 if row.s2d else 0)
        if space2depth == 2 and stride == 2:  # the region ends: no stride, expansion relative to the 4× input
          block_row, stride, space2depth = dataclasses.replace(row, expansion=row.expansion / 4), 1, 0
        blocks.append(_block_spec(block_row, in_dim, out_dim, stride, force_in, se_rule, space2depth))
        in_dim, space2depth = blocks[-1].out_dim, 2 if space2depth == 1 else space2depth
    stages.append(tuple(blocks))
  return tuple(stages)


# Activations and SE gates of timm's builder beyond layers.ACTIVATIONS (PyTorch's hardswish /
# hardsigmoid: x·relu6(x+3)/6, relu6(x+3)/6).
_BUILDER_ACTIVATIONS = {"sigmoid": jax.nn.sigmoid, "hard_swish": jax.nn.hard_swish, "hard_sigmoid": jax.nn.hard_sigmoid}


def _norm(dim: int, config: MBConvNetConfig, rngs: nnx.Rngs):
  """The builder's norm layer (timm's norm_layer) over ``dim`` channels, by ``config.norm``."""
  if config.norm == "group":
    return nnx.GroupNorm(dim, num_groups=dim // 8, epsilon=config.batch_norm_eps, rngs=rngs)
  if config.norm == "layer":
    return nnx.LayerNorm(dim, epsilon=config.batch_norm_eps, rngs=rngs)
  return layers.batch_norm(dim, epsilon=config.batch_norm_eps, rngs=rngs)


def _activation(name: str):
  return _BUILDER_ACTIVATIONS.get(name) or layers.activation(name)


class SqueezeExcite(nnx.Module):
  """x · gate(conv_expand(act(conv_reduce(mean_hw(x))))), gate σ unless given; ``bias`` False:
  bias-free 1×1 convs (timm's SEModule(bias=False), GCViT)."""

  def __init__(self, dim: int, reduced: int, act, *, gate=jax.nn.sigmoid, bias: bool = True, rngs: nnx.Rngs):
    self.conv_reduce = layers.conv(dim, reduced, 1, bias=bias, rngs=rngs)
    self.conv_expand = layers.conv(reduced, dim, 1, bias=bias, rngs=rngs)
    self.act, self.gate = act, gate

  def __call__(self, x):
    gate = jnp.mean(x, axis=(1, 2), keepdims=True)
    return x * self.gate(self.conv_expand(self.act(self.conv_reduce(gate))))


def _squeeze_excite(dim: int, spec: MBConvBlockSpec, config: MBConvNetConfig, block_act, rngs: nnx.Rngs):
  """The block's SE (None without one): inner activation config.se_act or the block's, gate config.se_gate."""
  if not spec.se_dim:
    return None
  inner = _activation(config.se_act) if config.se_act else block_act
  if config.se_layer == "gc":
    return GlobalContext(dim, spec.se_dim, inner, rngs=rngs)
  return SqueezeExcite(dim, spec.se_dim, inner, gate=_activation(config.se_gate), rngs=rngs)


class ConvMlpNorm(nnx.Module):
  """timm's ConvMlp with LayerNorm2d: fc2(act(norm(fc1 x))) with 1×1 convs (biases), LayerNorm ε 1e-6
  over channels."""

  def __init__(self, dim: int, hidden: int, act, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(dim, hidden, 1, bias=True, rngs=rngs)
    self.norm = nnx.LayerNorm(hidden, epsilon=1e-6, rngs=rngs)
    self.fc2 = layers.conv(hidden, dim, 1, bias=True, rngs=rngs)
    self.act = act

  def __call__(self, x):
    return self.fc2(self.act(self.norm(self.fc1(x))))


class GlobalContext(nnx.Module):
  """timm's GlobalContext (GCNet) as the builder's se_layer 'gc' (fuse_scale only): context =
  Σ_hw softmax_hw(conv_attn x) · x; x · σ(mlp_scale(context))."""

  def __init__(self, dim: int, reduced: int, act, *, rngs: nnx.Rngs):
    self.conv_attn = layers.conv(dim, 1, 1, bias=True, rngs=rngs)
    self.mlp_scale = ConvMlpNorm(dim, reduced, act, rngs=rngs)

  def __call__(self, x):
    batch, channels = x.shape[0], x.shape[-1]
    weights = jax.nn.softmax(self.conv_attn(x).reshape(batch, -1, 1), axis=1)
    context = jnp.sum(x.reshape(batch, -1, channels) * weights, axis=1).reshape(batch, 1, 1, channels)
    return x * jax.nn.sigmoid(self.mlp_scale(context))


def _split_channels(channels: int, parts: int) -> list[int]:
  """timm's _split_channels: equal parts, the remainder to the first."""
  sizes = [channels // parts] * parts
  sizes[0] += channels - sum(sizes)
  return sizes


class MixedConv(nnx.List):
  """timm's MixedConv2d: the channels split (:func:`_split_channels`), each part through its own
  conv (its own kernel size), the outputs concatenated; tensors ``name.{i}.weight``."""

  def __call__(self, x):
    bounds = list(itertools.accumulate(conv.in_features for conv in self))[:-1]
    return jnp.concatenate([conv(part) for conv, part in zip(self, jnp.split(x, bounds, axis=-1))], axis=-1)


def _mixed_conv(in_dim: int, out_dim: int, kernel_sizes, config: MBConvNetConfig, *, stride: int = 1,
                depthwise: bool = False, rngs: nnx.Rngs):
  """One conv (one kernel size) or a :class:`MixedConv` (several), timm's create_conv2d."""
  kernel_sizes = (kernel_sizes,) if isinstance(kernel_sizes, int) else tuple(kernel_sizes)
  if len(kernel_sizes) == 1:
    return layers.conv(in_dim, out_dim, kernel_sizes[0], stride=stride, groups=in_dim if depthwise else 1,
                       padding=config.padding, rngs=rngs)
  parts = zip(_split_channels(in_dim, len(kernel_sizes)), _split_channels(out_dim, len(kernel_sizes)), kernel_sizes)
  return MixedConv([layers.conv(i, o, k, stride=stride, groups=i if depthwise else 1, padding=config.padding, rngs=rngs)
                    for i, o, k in parts])


class DepthwiseSeparable(nnx.Module):
  """timm's DepthwiseSeparableConv: act(bn1(conv_dw x)) → [se] → bn2(conv_pw ·) (+ x); kind "dsa"
  (PP-LCNet): act after bn2, never a skip."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    self.skip, self.act = spec.skip, _activation(spec.act or config.act)
    self.pw_act, mid = spec.kind == "dsa", spec.mid_dim
    s2d = spec.s2d == 1  # space to depth: 2×2/2 conv (TF "SAME") → BN → act, then the depthwise conv on 4× channels
    self.conv_s2d = layers.conv(spec.in_dim, mid, 2, stride=2, padding="SAME", rngs=rngs) if s2d else None
    self.bn_s2d = _norm(mid, config, rngs) if s2d else None
    self.conv_dw = (layers.conv(mid, mid, spec.kernel_size, groups=mid, rngs=rngs,
                                padding="SAME" if spec.kernel_size == 2 else config.padding) if s2d else
                    _mixed_conv(mid, mid, spec.kernel_size, config, stride=spec.stride, depthwise=True, rngs=rngs))
    self.bn1 = _norm(mid, config, rngs)
    self.se = _squeeze_excite(mid, spec, config, self.act, rngs)
    self.conv_pw = _mixed_conv(mid, spec.out_dim, (1,) * spec.project_groups, config, rngs=rngs)
    self.bn2 = _norm(spec.out_dim, config, rngs)

  def __call__(self, inputs):
    x = inputs if self.conv_s2d is None else self.act(self.bn_s2d(self.conv_s2d(inputs)))
    x = self.act(self.bn1(self.conv_dw(x)))
    if self.se is not None:
      x = self.se(x)
    x = self.bn2(self.conv_pw(x))
    if self.pw_act:
      x = self.act(x)
    return x + inputs if self.skip else x


class InvertedResidual(nnx.Module):
  """timm's InvertedResidual (MBConv): act(bn1(conv_pw x)) → act(bn2(conv_dw ·)) → [se] →
  bn3(conv_pwl ·) (+ x)."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    mid, self.skip, self.act = spec.mid_dim, spec.skip, _activation(spec.act or config.act)
    self.conv_pw = _mixed_conv(spec.in_dim, mid, (1,) * spec.expand_groups, config, rngs=rngs)
    self.bn1 = _norm(mid, config, rngs)
    self.conv_dw = _mixed_conv(mid, mid, spec.kernel_size, config, stride=spec.stride, depthwise=True, rngs=rngs)
    self.bn2 = _norm(mid, config, rngs)
    self.se = _squeeze_excite(mid, spec, config, self.act, rngs)
    self.conv_pwl = _mixed_conv(mid, spec.out_dim, (1,) * spec.project_groups, config, rngs=rngs)
    self.bn3 = _norm(spec.out_dim, config, rngs)

  def __call__(self, inputs):
    x = self.act(self.bn1(self.conv_pw(inputs)))
    x = self.act(self.bn2(self.conv_dw(x)))
    if self.se is not None:
      x = self.se(x)
    x = self.bn3(self.conv_pwl(x))
    return x + inputs if self.skip else x


class EdgeResidual(nnx.Module):
  """timm's EdgeResidual (fused MBConv): act(bn1(conv_exp x)) (k×k, the stride) → [se] →
  bn2(conv_pwl ·) (+ x)."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    mid, self.skip, self.act = spec.mid_dim, spec.skip, _activation(spec.act or config.act)
    self.aa = _anti_alias(config, spec.stride)
    self.conv_exp = layers.conv(spec.in_dim, mid, spec.kernel_size, stride=1 if self.aa else spec.stride,
                                groups=mid // spec.group_size if spec.group_size else 1, padding=config.padding,
                                rngs=rngs)
    self.bn1 = _norm(mid, config, rngs)
    self.se = _squeeze_excite(mid, spec, config, self.act, rngs)
    self.conv_pwl = layers.conv(mid, spec.out_dim, 1, padding=config.padding, rngs=rngs)
    self.bn2 = _norm(spec.out_dim, config, rngs)

  def __call__(self, inputs):
    x = self.act(self.bn1(self.conv_exp(inputs)))
    if self.aa is not None:
      x = self.aa(x)
    if self.se is not None:
      x = self.se(x)
    x = self.bn2(self.conv_pwl(x))
    return x + inputs if self.skip else x


class ConvBnAct(nnx.Module):
  """timm's ConvBnAct block: act(bn1(conv x)) (k×k, the stride) (+ x)."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    self.skip, self.act = spec.skip, _activation(spec.act or config.act)
    self.aa = _anti_alias(config, spec.stride)
    self.conv = layers.conv(spec.in_dim, spec.out_dim, spec.kernel_size, stride=1 if self.aa else spec.stride,
                            padding=config.padding, rngs=rngs)
    self.bn1 = _norm(spec.out_dim, config, rngs)

  def __call__(self, inputs):
    x = self.act(self.bn1(self.conv(inputs)))
    if self.aa is not None:
      x = self.aa(x)
    return x + inputs if self.skip else x


class CondConv(nnx.Module):
  """timm's CondConv2d: per sample, the kernel Σₑ rₑ · Wₑ of ``experts`` kernels (tensor ``weight``
  [experts, out·in/groups·k·k], PyTorch's [out, in/groups, k, k] flattened), no bias."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int, experts: int, config: MBConvNetConfig, *,
               stride: int = 1, groups: int = 1):
    self.shape = (out_dim, in_dim // groups, kernel_size, kernel_size)
    self.weight = nnx.Param(jnp.zeros((experts, math.prod(self.shape))))
    self.stride, self.groups = stride, groups
    self.padding = "SAME" if config.padding == "SAME" else [(kernel_size // 2, kernel_size // 2)] * 2

  def __call__(self, x, routing):
    kernels = (routing @ self.weight[...]).reshape(-1, *self.shape).transpose(0, 3, 4, 2, 1)  # [B, k, k, in/g, out]

    def one(image, kernel):
      return jax.lax.conv_general_dilated(image[None], kernel, (self.stride, self.stride), self.padding,
                                          dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                          feature_group_count=self.groups)[0]
    return jax.vmap(one)(x, kernels)


class CondConvResidual(nnx.Module):
  """timm's CondConvResidual: InvertedResidual whose three convs are :class:`CondConv` mixed by
  r = σ(routing_fn(mean_hw x))."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    mid, self.skip, self.act = spec.mid_dim, spec.skip, _activation(spec.act or config.act)
    experts = spec.num_experts
    self.conv_pw = CondConv(spec.in_dim, mid, 1, experts, config)
    self.bn1 = _norm(mid, config, rngs)
    self.conv_dw = CondConv(mid, mid, spec.kernel_size, experts, config, stride=spec.stride, groups=mid)
    self.bn2 = _norm(mid, config, rngs)
    self.se = _squeeze_excite(mid, spec, config, self.act, rngs)
    self.conv_pwl = CondConv(mid, spec.out_dim, 1, experts, config)
    self.bn3 = _norm(spec.out_dim, config, rngs)
    self.routing_fn = nnx.Linear(spec.in_dim, experts, rngs=rngs)

  def __call__(self, inputs):
    routing = jax.nn.sigmoid(self.routing_fn(jnp.mean(inputs, axis=(1, 2))))
    x = self.act(self.bn1(self.conv_pw(inputs, routing)))
    x = self.act(self.bn2(self.conv_dw(x, routing)))
    if self.se is not None:
      x = self.se(x)
    x = self.bn3(self.conv_pwl(x, routing))
    return x + inputs if self.skip else x


# MobileNetV4's blocks (timm's UniversalInvertedResidual and MobileAttention) and their parts.


class AntiAlias(nnx.Module):
  """timm's aa_layer after a conv run at stride 1: "avg" = ``nn.AvgPool2d(2)`` (2×2 mean,
  stride 2); "blurpc" = ``BlurPool2d(pad_mode='constant')`` (zero padding 1, per-channel 3×3
  binomial filter [1,2,1]ᵀ[1,2,1]/16, stride 2)."""

  def __init__(self, kind: str):
    if kind not in ("avg", "blurpc"):
      raise ValueError(f"anti-aliasing {kind!r} is not supported ('avg' or 'blurpc').")
    self.kind = kind

  def __call__(self, x):
    if self.kind == "avg":
      return layers.avg_pool_torch(x, 2, 2)
    taps = jnp.array([1.0, 2.0, 1.0], x.dtype) / 4
    kernel = jnp.tile((taps[:, None] * taps[None, :])[:, :, None, None], (1, 1, 1, x.shape[-1]))
    return jax.lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=x.shape[-1])


def _anti_alias(config: MBConvNetConfig, stride: int) -> AntiAlias | None:
  """timm's create_aa(enable=stride > 1): the config's anti-aliasing on stride-2 convs only."""
  return AntiAlias(config.anti_alias) if config.anti_alias and stride > 1 else None


class ConvNorm(nnx.Module):
  """timm's ConvNormAct: conv k×k (the stride; stride 1 then anti-aliasing when configured) →
  BN → [act] → [anti-aliasing]; tensors ``conv.*``, ``bn.*``."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int, config: MBConvNetConfig, *, stride: int = 1,
               groups: int = 1, act=None, rngs: nnx.Rngs):
    self.aa = _anti_alias(config, stride)
    self.conv = layers.conv(in_dim, out_dim, kernel_size, stride=1 if self.aa else stride, groups=groups,
                            padding=config.padding, rngs=rngs)
    self.bn = _norm(out_dim, config, rngs)
    self.act = act

  def __call__(self, x):
    x = self.bn(self.conv(x))
    if self.act is not None:
      x = self.act(x)
    return x if self.aa is None else self.aa(x)


class LayerScale(nnx.Module):
  """timm's LayerScale2d: x · γ per channel (tensor ``gamma``)."""

  def __init__(self, dim: int):
    self.gamma = nnx.Param(jnp.ones((dim,)))

  def __call__(self, x):
    return x * self.gamma[...]


class UniversalInvertedResidual(nnx.Module):
  """timm's UniversalInvertedResidual (MobileNetV4's UIB): [BN(dw_start)] → act(BN(pw_exp)) →
  [act(BN(dw_mid))] → [se] → BN(pw_proj) → [BN(dw_end)] → [γ ·] (+ x). The stride sits on the
  first depthwise conv present (mid if there is one, else start, else end)."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    act, mid, self.skip = _activation(spec.act or config.act), spec.mid_dim, spec.skip
    start, middle, end = spec.start_kernel, spec.kernel_size, spec.end_kernel
    self.dw_start = (ConvNorm(spec.in_dim, spec.in_dim, start, config, stride=1 if middle else spec.stride,
                              groups=spec.in_dim, rngs=rngs) if start else None)
    self.pw_exp = ConvNorm(spec.in_dim, mid, 1, config, act=act, rngs=rngs)
    self.dw_mid = (ConvNorm(mid, mid, middle, config, stride=spec.stride, groups=mid, act=act, rngs=rngs)
                   if middle else None)
    self.se = _squeeze_excite(mid, spec, config, act, rngs)
    self.pw_proj = ConvNorm(mid, spec.out_dim, 1, config, rngs=rngs)
    end_stride = spec.stride if not (start or middle) else 1
    self.dw_end = (ConvNorm(spec.out_dim, spec.out_dim, end, config, stride=end_stride, groups=spec.out_dim,
                            rngs=rngs) if end else None)
    self.layer_scale = LayerScale(spec.out_dim) if config.layer_scale else None

  def __call__(self, inputs):
    x = inputs if self.dw_start is None else self.dw_start(inputs)
    x = self.pw_exp(x)
    for part in (self.dw_mid, self.se):
      x = x if part is None else part(x)
    x = self.pw_proj(x)
    for part in (self.dw_end, self.layer_scale):
      x = x if part is None else part(x)
    return x + inputs if self.skip else x


class _Projection(nnx.Module):
  """One input of timm's MultiQueryAttention2d: [BN(depthwise k×k/kv_stride)] → 1×1 conv
  (no bias); tensors ``down_conv.*``, ``norm.*``, ``proj.*``."""

  def __init__(self, dim: int, out_dim: int, config: MBConvNetConfig, *, kernel_size: int = 3, stride: int = 1,
               rngs: nnx.Rngs):
    self.down_conv = (layers.conv(dim, dim, kernel_size, stride=stride, groups=dim, padding=config.padding, rngs=rngs)
                      if stride > 1 else None)
    self.norm = _norm(dim, config, rngs) if stride > 1 else None
    self.proj = layers.conv(dim, out_dim, 1, rngs=rngs)

  def __call__(self, x):
    if self.down_conv is not None:
      x = self.norm(self.down_conv(x))
    return self.proj(x)


class MultiQueryAttention2d(nnx.Module):
  """timm's MultiQueryAttention2d (query strides 1): h query heads of width d over one shared
  key and value (width d, from the input downsampled by kv_stride); softmax(q·kᵀ/√d)·v, heads
  concatenated (channel = head·d + i), then a 1×1 output conv."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    dim, self.heads, self.key_dim = spec.in_dim, spec.num_heads, spec.key_dim
    kv = dict(kernel_size=spec.kernel_size, stride=spec.kv_stride, rngs=rngs)
    self.query = _Projection(dim, self.heads * self.key_dim, config, rngs=rngs)
    self.key = _Projection(dim, self.key_dim, config, **kv)
    self.value = _Projection(dim, self.key_dim, config, **kv)
    self.output = _Projection(self.heads * self.key_dim, spec.out_dim, config, rngs=rngs)

  def __call__(self, x):
    batch, height, width, _ = x.shape
    q = self.query(x).reshape(batch, height * width, self.heads, self.key_dim)
    k = self.key(x).reshape(batch, -1, self.key_dim)
    v = self.value(x).reshape(batch, -1, self.key_dim)
    weights = jax.nn.softmax(jnp.einsum("blhd,bpd->blhp", q, k) * self.key_dim ** -0.5, axis=-1)
    out = jnp.einsum("blhp,bpd->blhd", weights, v).reshape(batch, height, width, self.heads * self.key_dim)
    return self.output(out)


class MobileAttention(nnx.Module):
  """timm's MobileAttention with multi-query attention (MobileNetV4 hybrid): x + [γ ·]
  attn(BN(x)); tensors ``norm.*``, ``attn.*``, ``layer_scale.gamma``."""

  def __init__(self, spec: MBConvBlockSpec, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    self.skip = spec.skip
    self.norm = _norm(spec.in_dim, config, rngs)
    self.attn = MultiQueryAttention2d(spec, config, rngs=rngs)
    self.layer_scale = LayerScale(spec.out_dim) if config.layer_scale else None

  def __call__(self, inputs):
    x = self.attn(self.norm(inputs))
    if self.layer_scale is not None:
      x = self.layer_scale(x)
    return x + inputs if self.skip else x


_BLOCKS = {"ds": DepthwiseSeparable, "dsa": DepthwiseSeparable, "ir": InvertedResidual, "er": EdgeResidual, "cn": ConvBnAct,
           "uir": UniversalInvertedResidual, "mqa": MobileAttention}


class MBConvNet(nnx.Module):
  """timm's ``EfficientNet`` class: act(bn1(conv_stem)) → blocks → act(bn2(conv_head)) →
  global mean (the embedding) → classifier; with ``head="pool_conv"`` timm's ``MobileNetV3``
  class: act(bn1(conv_stem)) → blocks → global mean → act(conv_head ·) (1×1 with bias, no norm:
  the embedding) → classifier (``head="pool_conv_bn"``, MobileNetV4: the head conv without bias,
  then BN → act). Serves timm's EfficientNet / ``tf_`` EfficientNet / MobileNetV2 /
  MobileNetV3 / MobileNetV4 and transformers' MobileNetV2 (see zoo.architectures.mobilenet)."""

  def __init__(self, config: MBConvNetConfig, *, rngs: nnx.Rngs):
    if config.padding not in ("torch", "SAME"):
      raise ValueError(f"MBConvNet padding must be 'torch' or 'SAME', got {config.padding!r}.")
    if config.norm not in ("batch", "group", "layer"):
      raise ValueError(f"MBConvNet norm must be 'batch', 'group' or 'layer', got {config.norm!r}.")
    if config.se_layer not in ("se", "gc"):
      raise ValueError(f"MBConvNet se_layer must be 'se' or 'gc', got {config.se_layer!r}.")
    if config.head not in ("conv_bn", "pool_conv", "pool_conv_bn", "none"):
      raise ValueError(f"MBConvNet head must be 'conv_bn', 'pool_conv', 'pool_conv_bn' or 'none', got {config.head!r}.")
    unknown = {spec.kind for stage in config.stages for spec in stage} - set(_BLOCKS)
    if any(spec.num_experts and (spec.kind != "ir" or not isinstance(spec.kernel_size, int)
                                 or spec.expand_groups * spec.project_groups > 1)
           for stage in config.stages for spec in stage):
      raise ValueError("MBConvNet: CondConv experts (cc) are supported on single-kernel 'ir' blocks only.")
    if any(spec.group_size and spec.kind != "er" for stage in config.stages for spec in stage):
      raise ValueError("MBConvNet: group sizes (gs) are supported on 'er' blocks only.")
    if any(spec.s2d and spec.kind != "ds" for stage in config.stages for spec in stage):
      raise ValueError("MBConvNet: space-to-depth (d1) regions of other than 'ds' blocks are not supported.")
    if unknown:
      raise ValueError(f"MBConvNet block kinds {sorted(unknown)} are not supported (supported: {sorted(_BLOCKS)}).")
    self.config = config
    self.act = _activation(config.act)
    self.conv_stem = layers.conv(config.num_channels, config.stem_dim, config.stem_kernel, stride=2,
                                 padding=config.padding, rngs=rngs)
    self.bn1 = _norm(config.stem_dim, config, rngs)
    block = lambda spec: CondConvResidual if spec.num_experts else _BLOCKS[spec.kind]
    self.blocks = nnx.List([nnx.List([block(spec)(spec, config, rngs=rngs) for spec in stage])
                            for stage in config.stages])
    last = config.stages[-1][-1].out_dim
    self.pooled_head = config.head.startswith("pool_")  # pool before the head conv
    self.conv_head = (layers.conv(last, config.head_dim, 1, padding=config.padding,
                                  bias=config.head == "pool_conv" and config.head_bias, rngs=rngs)
                      if config.head != "none" else None)
    self.bn2 = _norm(config.head_dim, config, rngs) if config.head == "conv_bn" else None
    self.norm_head = (_norm(config.head_dim, config, rngs) if config.head == "pool_conv_bn"
                      else None)
    width = last if config.head == "none" else config.head_dim
    self.classifier = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.act(self.bn1(self.conv_stem(images)))
    for stage in self.blocks:
      for block in stage:
        x = block(x)
    return x if self.bn2 is None else self.act(self.bn2(self.conv_head(x)))

  def __call__(self, images):
    features = self.forward_features(images)
    if not self.pooled_head:
      return layers.pool_and_classify(features, self.classifier)
    embedding = self.conv_head(jnp.mean(features, axis=(1, 2), keepdims=True))
    if self.norm_head is not None:
      embedding = self.norm_head(embedding)
    embedding = self.act(embedding)[:, 0, 0]
    return (self.classifier(embedding) if self.classifier is not None else embedding), embedding


def timm_efficientnet_config(channel_multiplier: float = 1.0, depth_multiplier: float = 1.0, *,
                             padding: str = "torch", batch_norm_eps: float = 1e-5, num_classes: int = 1000,
                             num_channels: int = 3) -> MBConvNetConfig:
  """timm's ``_gen_efficientnet``: B0's stages scaled by the width and depth multipliers,
  stem make_divisible(32·w), head make_divisible(1280·w), swish. timm's ``tf_`` models:
  ``padding="SAME"``, ``batch_norm_eps=1e-3``."""
  round_channels = lambda c: layers.make_divisible(c * channel_multiplier)
  stem = round_channels(32)
  stages = timm_builder_stages(EFFICIENTNET_STAGES, stem, channel_multiplier=channel_multiplier,
                               depth_multiplier=depth_multiplier)
  return MBConvNetConfig(stem, stages, round_channels(1280), act="swish", padding=padding,
                         batch_norm_eps=batch_norm_eps, num_classes=num_classes, num_channels=num_channels)
