"""timm's CSPNets (timm/models/cspnet.py), in timm's tensor naming: ``Cs3Net``, the cross-stage-3 models
(``_cs3_cfg``: CS3-DarkNet, CS3-SE-DarkNet, CS3-EdgeNet; Wang et al. 2020, YOLOv5-style), described here, and
``CspNet``, the original CSPResNet(X)-50 / CSPDarkNet-53 and DarkNet-53 (see the section at the end).

Stem: 3×3 conv+BN+act (stride 2) and a 3×3 one, or one 6×6 "focus" conv (stride 2, padding 2). Each
stage: a strided 3×3 conv+BN+act (``conv_down``), a 1×1 expansion (``conv_exp``) whose channels split in
two halves; the first runs through residual ``dark`` (1×1 → [SE] → 3×3) or ``edge`` (3×3 → [SE] → 1×1)
blocks (every conv with BN+act, the sum without act), then both halves, concatenated, through a 1×1
``conv_transition``. Global mean (the embedding) → Linear.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import SqueezeExcite
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class Cs3Config:
  """timm's ``_cs3_cfg`` after its width / depth multipliers (widths already make_divisible'd)."""
  stem_widths: tuple[int, ...] = (32, 64)
  focus: bool = False  # one 6×6/2 stem conv (padding 2) of stem_widths[-1] channels
  widths: tuple[int, ...] = (128, 256, 512, 1024)
  depths: tuple[int, ...] = (3, 6, 9, 3)
  block: str = "dark"  # or "edge"
  bottle_ratio: float = 1.0
  se_ratio: float = 0.0  # squeeze-excite (act = the model's) reduction when > 0
  act: str = "silu"
  num_channels: int = 3
  num_classes: int = 1000


class Cs3Block(nnx.Module):
  """timm's DarkBlock (1×1 → 3×3) or EdgeBlock (3×3 → 1×1): x + conv2(attn(conv1(x))), ``mid`` =
  round(features · bottle_ratio) channels inside."""

  def __init__(self, features: int, *, bottle_ratio: float, block: str = "dark", act="silu", se_ratio: float = 0.0,
               rngs: nnx.Rngs):
    mid = int(round(features * bottle_ratio))
    first, second = (1, 3) if block == "dark" else (3, 1)
    self.conv1 = ConvNormAct(features, mid, first, act=act, rngs=rngs)
    hidden = layers.make_divisible(mid * se_ratio, 8, round_limit=0.0)
    self.attn = (SqueezeExcite(mid, hidden, layers.activation(act), rngs=rngs) if se_ratio else None)
    self.conv2 = ConvNormAct(mid, features, second, act=act, rngs=rngs)

  def __call__(self, x):
    y = self.conv1(x)
    return x + self.conv2(self.attn(y) if self.attn is not None else y)


class CrossStage3(nnx.Module):
  """timm's CrossStage3 (expand ratio 1, block ratio 1/2, no down growth, stride 2)."""

  def __init__(self, config: Cs3Config, in_features: int, out_features: int, depth: int, *, rngs: nnx.Rngs):
    self.conv_down = ConvNormAct(in_features, in_features, 3, stride=2, act=config.act, rngs=rngs)
    self.conv_exp = ConvNormAct(in_features, out_features, 1, act=config.act, rngs=rngs)
    self.blocks = nnx.List([Cs3Block(out_features // 2, bottle_ratio=config.bottle_ratio, block=config.block,
                                     act=config.act, se_ratio=config.se_ratio, rngs=rngs) for _ in range(depth)])
    self.conv_transition = ConvNormAct(out_features, out_features, 1, act=config.act, rngs=rngs)

  def __call__(self, x):
    first, second = jnp.split(self.conv_exp(self.conv_down(x)), 2, axis=-1)
    for block in self.blocks:
      first = block(first)
    return self.conv_transition(jnp.concatenate([first, second], axis=-1))


class Cs3Net(nnx.Module):
  """stem → four cross-stage-3 stages → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: Cs3Config, *, rngs: nnx.Rngs):
    if config.block not in ("dark", "edge"):
      raise ValueError(f"Cs3Net block must be 'dark' or 'edge'; got {config.block!r}.")
    if config.focus:
      stem = [ConvNormAct(config.num_channels, config.stem_widths[-1], 6, stride=2, act=config.act,
                          padding=((2, 2), (2, 2)), rngs=rngs)]
    else:
      widths = (config.num_channels, *config.stem_widths)
      stem = [ConvNormAct(widths[i], widths[i + 1], 3, stride=2 if i == 0 else 1, act=config.act, rngs=rngs)
              for i in range(len(config.stem_widths))]
    self.stem = nnx.List(stem)
    previous, stages = config.stem_widths[-1], []
    for width, depth in zip(config.widths, config.depths):
      stages.append(CrossStage3(config, previous, width, depth, rngs=rngs))
      previous = width
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(previous, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = images
    for layer in [*self.stem, *self.stages]:
      x = layer(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)


# --- The original CSPNets (timm's cspnet.py ``model_cfgs`` cspresnet50 / cspresnext50 / cspdarknet53 and
# darknet53 / darknetaa53: Wang et al. 2020, Redmon & Farhadi 2018): cross or dark stages, leaky ReLU -----------

LEAKY_SLOPE = 0.01  # timm's create_act_layer('leaky_relu') = torch.nn.LeakyReLU() (negative_slope 0.01)


def leaky_relu(x):
  """PyTorch's LeakyReLU(): max(x, 0) + 0.01 · min(x, 0)."""
  return jax.nn.leaky_relu(x, LEAKY_SLOPE)


@dataclasses.dataclass(frozen=True)
class CspStage:
  """One row of timm's ``CspStagesCfg`` (one stage's values): a ``csp`` CrossStage or a ``dark`` DarkStage
  of ``depth`` ``bottle`` (ResNet bottleneck) or ``dark`` blocks."""
  kind: str  # "csp" or "dark"
  depth: int
  width: int
  stride: int = 2
  block: str = "bottle"  # or "dark"
  groups: int = 1
  expand_ratio: float = 1.0
  bottle_ratio: float = 1.0
  block_ratio: float = 1.0
  down_growth: bool = False  # conv_down widens to ``width`` (else keeps the input width)
  cross_linear: bool = False  # conv_exp without its activation
  avg_down: bool = False  # conv_down = 2×2 average pool + 1×1 conv (instead of a strided 3×3 conv)


@dataclasses.dataclass(frozen=True)
class CspConfig:
  """timm's CspModelCfg of the original CSPNets: a stem conv (with a 3×3/2 max-pool when ``stem_pool``)."""
  stages: tuple[CspStage, ...]
  stem_width: int = 32
  stem_kernel: int = 3
  stem_stride: int = 1
  stem_pool: bool = False
  num_channels: int = 3
  num_classes: int = 1000


class CspBottleneck(nnx.Module):
  """timm's cspnet BottleneckBlock: leaky(x + conv3(conv2(conv1 x))), conv3 without activation."""

  def __init__(self, features: int, bottle_ratio: float, groups: int, *, rngs: nnx.Rngs):
    mid = int(round(features * bottle_ratio))
    self.conv1 = ConvNormAct(features, mid, 1, act=leaky_relu, rngs=rngs)
    self.conv2 = ConvNormAct(mid, mid, 3, groups=groups, act=leaky_relu, rngs=rngs)
    self.conv3 = ConvNormAct(mid, features, 1, act=None, rngs=rngs)

  def __call__(self, x):
    return leaky_relu(x + self.conv3(self.conv2(self.conv1(x))))


def _down_conv(in_features: int, out_features: int, stage: CspStage, *, rngs: nnx.Rngs) -> ConvNormAct:
  """A stage's downsampling conv: a strided 3×3 conv+BN+act, or (``avg_down``) the 1×1 one after a 2×2
  average pool (timm's ``conv_down.1``; the stage applies the pool, see :func:`_down`)."""
  kernel_size, stride = (1, 1) if stage.avg_down else (3, stage.stride)
  return ConvNormAct(in_features, out_features, kernel_size, stride=stride, groups=stage.groups, act=leaky_relu,
                     rngs=rngs)


def _down(conv_down: ConvNormAct, avg_pool: bool, x):
  return conv_down(layers.avg_pool_torch(x, 2, 2) if avg_pool else x)


def _csp_blocks(stage: CspStage, features: int, *, rngs: nnx.Rngs) -> nnx.List:
  """``stage.depth`` blocks of ``features`` channels (timm's block_out_chs, equal to their input here)."""
  if stage.block == "dark":
    return nnx.List([Cs3Block(features, bottle_ratio=stage.bottle_ratio, act=leaky_relu, rngs=rngs)
                     for _ in range(stage.depth)])
  return nnx.List([CspBottleneck(features, stage.bottle_ratio, stage.groups, rngs=rngs) for _ in range(stage.depth)])


class CrossStage(nnx.Module):
  """timm's CrossStage: conv_exp(conv_down x) split in halves (cross, main); the main half through the blocks
  and ``conv_transition_b``; both, concatenated (cross first), through ``conv_transition``."""

  def __init__(self, stage: CspStage, in_features: int, *, rngs: nnx.Rngs):
    down = stage.width if stage.down_growth else in_features
    self.conv_down = _down_conv(in_features, down, stage, rngs=rngs) if stage.stride != 1 else None
    self.avg_pool = stage.avg_down and stage.stride == 2
    expanded = int(round(stage.width * stage.expand_ratio))
    block_features = int(round(stage.width * stage.block_ratio))
    if block_features != expanded // 2:
      raise ValueError(f"CrossStage: block width {block_features} must equal half the expansion {expanded}.")
    self.conv_exp = ConvNormAct(down if self.conv_down else in_features, expanded, 1,
                                act=None if stage.cross_linear else leaky_relu, rngs=rngs)
    self.blocks = _csp_blocks(stage, block_features, rngs=rngs)
    self.conv_transition_b = ConvNormAct(block_features, expanded // 2, 1, act=leaky_relu, rngs=rngs)
    self.conv_transition = ConvNormAct(expanded, stage.width, 1, act=leaky_relu, rngs=rngs)

  def __call__(self, x):
    x = _down(self.conv_down, self.avg_pool, x) if self.conv_down is not None else x
    cross, main = jnp.split(self.conv_exp(x), 2, axis=-1)
    for block in self.blocks:
      main = block(main)
    return self.conv_transition(jnp.concatenate([cross, self.conv_transition_b(main)], axis=-1))


class DarkStage(nnx.Module):
  """timm's DarkStage: conv_down (to the stage width) then the blocks."""

  def __init__(self, stage: CspStage, in_features: int, *, rngs: nnx.Rngs):
    if int(round(stage.width * stage.block_ratio)) != stage.width:
      raise ValueError(f"DarkStage: block_ratio {stage.block_ratio} must be 1.")
    self.conv_down = _down_conv(in_features, stage.width, stage, rngs=rngs)
    self.avg_pool = stage.avg_down and stage.stride == 2
    self.blocks = _csp_blocks(stage, stage.width, rngs=rngs)

  def __call__(self, x):
    x = _down(self.conv_down, self.avg_pool, x)
    for block in self.blocks:
      x = block(x)
    return x


class CspNet(nnx.Module):
  """stem conv [→ max-pool 3×3/2] → cross / dark stages → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: CspConfig, *, rngs: nnx.Rngs):
    self.stem = nnx.List([ConvNormAct(config.num_channels, config.stem_width, config.stem_kernel,
                                      stride=config.stem_stride, act=leaky_relu, rngs=rngs)])
    self.stem_pool = config.stem_pool
    previous, stages = config.stem_width, []
    for stage in config.stages:
      if stage.kind not in ("csp", "dark") or stage.block not in ("bottle", "dark"):
        raise ValueError(f"CspNet: unsupported stage {stage}.")
      stages.append((CrossStage if stage.kind == "csp" else DarkStage)(stage, previous, rngs=rngs))
      previous = stage.width
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(previous, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem[0](images)
    x = layers.max_pool_torch(x, 3, 2, 1) if self.stem_pool else x
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
