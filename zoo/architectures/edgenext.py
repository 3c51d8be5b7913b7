"""EdgeNeXt (Maaz et al. 2022, "EdgeNeXt: Efficiently Amalgamated CNN-Transformer Architecture for
Mobile Vision Applications"), the layout and semantics of timm's ``EdgeNeXt`` (timm/models/edgenext.py).

stem (4×4/4 conv, or 9×9/4 with "overlap" → LayerNorm) → stages (i > 0: LayerNorm → 2×2/2 conv,
or with ``downsample_block`` a stride-2 first block instead) of conv blocks (depthwise k×k conv →
LayerNorm → MLP 4× GELU → layer scale, residual) and, last in a stage, split-transpose blocks
(Res2Net-style cascade of depthwise 3×3 convs over channel chunks, [+ Fourier positions], residual
cross-covariance attention (XCiT's XCA) with a layer scale, then LayerNorm → MLP → layer scale,
residual to the block's input) → global mean → LayerNorm (the embedding) → Linear. LayerNorms ε 1e-6.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp
from zoo.architectures.xcit import CrossCovarianceAttention, fourier_features

NORM_EPS = 1e-6  # timm's EdgeNeXt: every LayerNorm (channels last and LayerNorm2d)
FOURIER_CHANNELS = 64  # timm's PositionalEncodingFourier(hidden_dim=32): sin/cos features of rows and columns


@dataclasses.dataclass(frozen=True)
class EdgeNextConfig:
  """Defaults: timm's ``EdgeNeXt`` class (EdgeNeXt-XXS widths with 8 heads). Per stage:
  ``global_blocks`` (how many of the last blocks are split-transpose blocks), ``kernel_sizes`` of
  the conv blocks, ``heads`` and channel-chunk counts ``scales`` of the split-transpose blocks,
  ``pos_embeddings`` (Fourier positions in them)."""
  depths: tuple[int, ...] = (3, 3, 9, 3)
  dims: tuple[int, ...] = (24, 48, 88, 168)
  global_blocks: tuple[int, ...] = (0, 1, 1, 1)
  kernel_sizes: tuple[int, ...] = (3, 5, 7, 9)
  heads: tuple[int, ...] = (8, 8, 8, 8)
  scales: tuple[int, ...] = (2, 2, 3, 4)
  pos_embeddings: tuple[bool, ...] = (False, True, False, False)
  expand_ratio: float = 4.0
  downsample_block: bool = False
  conv_bias: bool = True
  stem: str = "patch"  # or "overlap" (9×9 stride-4 conv, padding 4)
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    for name in ("dims", "global_blocks", "kernel_sizes", "heads", "scales", "pos_embeddings"):
      if len(getattr(self, name)) != len(self.depths):
        raise ValueError(f"EdgeNeXt {name} {getattr(self, name)} has not one entry per stage ({len(self.depths)}).")
    if self.stem not in ("patch", "overlap"):
      raise ValueError(f"EdgeNeXt stem must be 'patch' or 'overlap'; got {self.stem!r}.")


def _norm(width: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
  return nnx.LayerNorm(width, epsilon=NORM_EPS, rngs=rngs)


class ConvBlock(nnx.Module):
  """shortcut + γ · mlp(LayerNorm(dwconv(x))); the shortcut is the conv's output when it strides
  or widens (depthwise with a channel multiplier), x otherwise."""

  def __init__(self, config: EdgeNextConfig, in_width: int, width: int, kernel_size: int, stride: int, *,
               rngs: nnx.Rngs):
    self.conv_dw = layers.conv(in_width, width, kernel_size, stride=stride, groups=in_width, bias=config.conv_bias,
                               rngs=rngs)
    self.shortcut_after_dw = stride > 1 or in_width != width
    self.norm = _norm(width, rngs)
    self.mlp = Mlp(width, int(config.expand_ratio * width), "gelu", rngs=rngs)
    self.gamma = nnx.Param(jnp.ones((width,)))

  def __call__(self, x):
    y = self.conv_dw(x)
    shortcut = y if self.shortcut_after_dw else x
    return shortcut + self.gamma[...] * self.mlp(self.norm(y))


class SplitTransposeBlock(nnx.Module):
  """Channel chunks c₀ … c_{s−1} (timm's ``chunk``: ⌈C/s⌉ channels each, the last the rest):
  y₀ = conv₀(c₀), y_i = conv_i(y_{i−1} + c_i), the last chunk kept; [+ Fourier positions];
  t = y + γ_xca · XCA(LayerNorm(y)); out = x + γ · mlp(LayerNorm(t))."""

  def __init__(self, config: EdgeNextConfig, width: int, stage: int, *, rngs: nnx.Rngs):
    scales = config.scales[stage]
    chunk = math.ceil(width / scales)
    if scales < 2 or (scales - 1) * chunk >= width:
      raise ValueError(f"EdgeNeXt split-transpose block: {width} channels in {scales} chunks is not supported.")
    self.starts = tuple(chunk * i for i in range(1, scales))
    self.convs = nnx.List([layers.conv(chunk, chunk, 3, groups=chunk, bias=config.conv_bias, rngs=rngs)
                           for _ in range(scales - 1)])
    self.pos_projection = (layers.conv(FOURIER_CHANNELS, width, 1, bias=True, rngs=rngs)
                           if config.pos_embeddings[stage] else None)
    self.norm_xca = _norm(width, rngs)
    self.gamma_xca = nnx.Param(jnp.ones((width,)))
    self.xca = CrossCovarianceAttention(width, config.heads[stage], qkv_bias=True, rngs=rngs)
    self.norm = _norm(width, rngs)
    self.mlp = Mlp(width, int(config.expand_ratio * width), "gelu", rngs=rngs)
    self.gamma = nnx.Param(jnp.ones((width,)))

  def _cascade(self, x):
    chunks = jnp.split(x, self.starts, axis=-1)
    outputs, y = [], None
    for i, conv in enumerate(self.convs):
      y = conv(chunks[i] if y is None else y + chunks[i])
      outputs.append(y)
    return jnp.concatenate([*outputs, chunks[-1]], axis=-1)

  def __call__(self, x):
    batch, height, width, channels = x.shape
    y = self._cascade(x)
    if self.pos_projection is not None:
      y = y + self.pos_projection(jnp.asarray(fourier_features(height, width), y.dtype)[None])
    tokens = y.reshape(batch, height * width, channels)
    tokens = tokens + self.gamma_xca[...] * self.xca(self.norm_xca(tokens))
    y = tokens.reshape(x.shape)
    return x + self.gamma[...] * self.mlp(self.norm(y))


class EdgeNextStage(nnx.Module):
  """[LayerNorm → 2×2/2 conv] (stages after the first, without ``downsample_block``), then conv
  blocks and the stage's split-transpose blocks last."""

  def __init__(self, config: EdgeNextConfig, stage: int, *, rngs: nnx.Rngs):
    in_width, width = config.dims[max(stage - 1, 0)], config.dims[stage]
    downsample = stage > 0 and not config.downsample_block
    self.downsample_norm = _norm(in_width, rngs) if downsample else None
    self.downsample = (layers.conv(in_width, width, 2, stride=2, padding="VALID", bias=config.conv_bias, rngs=rngs)
                       if downsample else None)
    in_width = width if downsample else in_width
    blocks = []
    for i in range(config.depths[stage]):
      if i < config.depths[stage] - config.global_blocks[stage]:
        stride = 2 if stage > 0 and config.downsample_block and i == 0 else 1
        blocks.append(ConvBlock(config, in_width, width, config.kernel_sizes[stage], stride, rngs=rngs))
      else:
        blocks.append(SplitTransposeBlock(config, width, stage, rngs=rngs))
      in_width = width
    self.blocks = nnx.List(blocks)

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(self.downsample_norm(x))
    for block in self.blocks:
      x = block(x)
    return x


class EdgeNext(nnx.Module):
  """The embedding is LayerNorm(mean over H, W of the last stage) (timm's NormMlpClassifierHead
  without hidden layer: its pre-logits)."""

  def __init__(self, config: EdgeNextConfig, *, rngs: nnx.Rngs):
    if config.stem == "patch":
      self.stem = layers.conv(config.num_channels, config.dims[0], 4, stride=4, padding="VALID",
                              bias=config.conv_bias, rngs=rngs)
    else:
      self.stem = layers.conv(config.num_channels, config.dims[0], 9, stride=4, bias=config.conv_bias, rngs=rngs)
    self.stem_norm = _norm(config.dims[0], rngs)
    self.stages = nnx.List([EdgeNextStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    self.head_norm = _norm(config.dims[-1], rngs)
    self.head = nnx.Linear(config.dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map of the last stage."""
    x = self.stem_norm(self.stem(images))
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    embedding = self.head_norm(jnp.mean(self.forward_features(images), axis=(1, 2)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
