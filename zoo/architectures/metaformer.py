"""MetaFormer (Yu et al. 2022, "MetaFormer Is Actually What You Need for Vision"; Yu et al. 2023,
"MetaFormer Baselines for Vision"): PoolFormer v1/v2, ConvFormer and CAFormer as one module whose
token mixers are data, with the layout and semantics of timm's ``MetaFormer`` (timm/models/metaformer.py).

stem (7×7/4 conv [→ norm]) → stages (i > 0: [norm →] 3×3/2 conv; then blocks of
x·r₁ + s₁·mixer(norm₁(x)), x·r₂ + s₂·mlp(norm₂(x)), with optional per-channel res scales r and
layer scales s) → global mean → LayerNorm (the embedding) → Linear, or MlpHead (Linear 4× →
SquaredReLU → LayerNorm → Linear). Token mixers per stage: "pooling" (avgpool3×3 − x, PoolFormer),
"sepconv" (1×1 → StarReLU → 7×7 depthwise → 1×1, ConvFormer), "attention" (bias-free multi-head
self-attention over the flattened tokens, head width 32, CAFormer). Channels last throughout: timm's
channels-first and token layouts normalise the same axis.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp, MultiHeadAttention

TOKEN_MIXERS = ("pooling", "sepconv", "attention")
ATTENTION_HEAD_DIM = 32  # timm's metaformer Attention default (head_dim=32, num_heads = dim // 32)
HEAD_NORM_EPS = 1e-6  # timm's LayerNorm2d (output norm) and LayerNorm (MlpHead) default


@dataclasses.dataclass(frozen=True)
class MetaFormerConfig:
  """Defaults: PoolFormer v2-S12. ``norm``: the blocks' norm, "group" (GroupNorm with one group:
  statistics over all positions and channels of a sample) or "layer" (over channels), with
  ``norm_bias`` and ``norm_eps``; ``downsample_norm``: a bias-free LayerNorm (ε 1e-6) before the
  stem's output and each downsampling conv; ``layer_scale`` / ``res_scale``: per stage, whether the
  block has the learned per-channel branch / residual scales; ``mlp_act``: "starrelu" (learned
  s·relu(x)² + b) or "gelu"."""
  depths: tuple[int, ...] = (2, 2, 6, 2)
  dims: tuple[int, ...] = (64, 128, 320, 512)
  token_mixers: tuple[str, ...] = ("pooling",) * 4
  norm: str = "group"
  norm_bias: bool = False
  norm_eps: float = 1e-6
  downsample_norm: bool = True
  layer_scale: tuple[bool, ...] = (False,) * 4
  res_scale: tuple[bool, ...] = (False, False, True, True)
  mlp_act: str = "starrelu"
  mlp_bias: bool = False
  mlp_head: bool = False
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    stages = len(self.depths)
    for name in ("dims", "token_mixers", "layer_scale", "res_scale"):
      if len(getattr(self, name)) != stages:
        raise ValueError(f"MetaFormer {name} {getattr(self, name)} has not one entry per stage ({stages}).")
    unknown = set(self.token_mixers) - set(TOKEN_MIXERS)
    if unknown:
      raise ValueError(f"MetaFormer token mixers {sorted(unknown)} are not supported ({TOKEN_MIXERS}).")
    if self.norm not in ("group", "layer") or self.mlp_act not in ("starrelu", "gelu"):
      raise ValueError(f"MetaFormer norm {self.norm!r} / mlp_act {self.mlp_act!r}: supported 'group' or 'layer' "
                       "/ 'starrelu' or 'gelu'.")


class StarReLU(nnx.Module):
  """s · relu(x)² + b with learned scalars s and b (timm's StarReLU)."""

  def __init__(self):
    self.scale = nnx.Param(jnp.ones((1,)))
    self.bias = nnx.Param(jnp.zeros((1,)))

  def __call__(self, x):
    return self.scale[...] * jnp.square(jax.nn.relu(x)) + self.bias[...]


def _block_norm(config: MetaFormerConfig, width: int, rngs: nnx.Rngs) -> nnx.Module:
  if config.norm == "group":
    return nnx.GroupNorm(width, num_groups=1, epsilon=config.norm_eps, use_bias=config.norm_bias, rngs=rngs)
  return nnx.LayerNorm(width, epsilon=config.norm_eps, use_bias=config.norm_bias, rngs=rngs)


def _downsample_norm(config: MetaFormerConfig, width: int, rngs: nnx.Rngs) -> nnx.Module | None:
  """timm's LayerNorm2dNoBias (ε 1e-6) where the config has a downsampling norm."""
  return nnx.LayerNorm(width, epsilon=1e-6, use_bias=False, rngs=rngs) if config.downsample_norm else None


class Pooling(nnx.Module):
  """avgpool3×3(x) − x, the average over the window's pixels inside the image (PoolFormer)."""

  def __call__(self, x):
    return layers.avg_pool_torch(x, 3, 1, 1, count_include_pad=False) - x


class SepConv(nnx.Module):
  """pwconv2(dwconv7×7(StarReLU(pwconv1(x)))), bias-free, 2× expansion (ConvFormer's mixer)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    hidden = 2 * width
    self.pwconv1 = nnx.Linear(width, hidden, use_bias=False, rngs=rngs)
    self.act1 = StarReLU()
    self.dwconv = layers.conv(hidden, hidden, 7, groups=hidden, rngs=rngs)
    self.pwconv2 = nnx.Linear(hidden, width, use_bias=False, rngs=rngs)

  def __call__(self, x):
    return self.pwconv2(self.dwconv(self.act1(self.pwconv1(x))))


class TokenAttention(nnx.Module):
  """Multi-head self-attention over the H·W tokens of an NHWC map (CAFormer's mixer)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.attention = MultiHeadAttention(width, max(width // ATTENTION_HEAD_DIM, 1), qkv_bias=False, fused_qkv=True,
                                        out_bias=False, rngs=rngs)

  def __call__(self, x):
    batch, height, width, channels = x.shape
    return self.attention(x.reshape(batch, height * width, channels)).reshape(x.shape)


def _token_mixer(kind: str, width: int, rngs: nnx.Rngs) -> nnx.Module:
  if kind == "pooling":
    return Pooling()
  return SepConv(width, rngs=rngs) if kind == "sepconv" else TokenAttention(width, rngs=rngs)


class MetaFormerBlock(nnx.Module):
  """x·r₁ + s₁·mixer(norm₁(x)), then x·r₂ + s₂·mlp(norm₂(x)) (r, s: per-channel scales where enabled)."""

  def __init__(self, config: MetaFormerConfig, stage: int, *, rngs: nnx.Rngs):
    width = config.dims[stage]
    scale = lambda enabled: nnx.Param(jnp.ones((width,))) if enabled else None
    self.norm1 = _block_norm(config, width, rngs)
    self.token_mixer = _token_mixer(config.token_mixers[stage], width, rngs)
    self.layer_scale1, self.res_scale1 = scale(config.layer_scale[stage]), scale(config.res_scale[stage])
    self.norm2 = _block_norm(config, width, rngs)
    act = StarReLU() if config.mlp_act == "starrelu" else "gelu"
    self.mlp = Mlp(width, 4 * width, act, bias=config.mlp_bias, rngs=rngs)
    self.layer_scale2, self.res_scale2 = scale(config.layer_scale[stage]), scale(config.res_scale[stage])

  @staticmethod
  def _scaled(x, scale):
    return x if scale is None else x * scale[...]

  def __call__(self, x):
    x = self._scaled(x, self.res_scale1) + self._scaled(self.token_mixer(self.norm1(x)), self.layer_scale1)
    return self._scaled(x, self.res_scale2) + self._scaled(self.mlp(self.norm2(x)), self.layer_scale2)


class MetaFormerStage(nnx.Module):
  """[norm →] 3×3/2 conv when the width changes (every stage but the first), then the blocks."""

  def __init__(self, config: MetaFormerConfig, stage: int, *, rngs: nnx.Rngs):
    in_width, width = config.dims[max(stage - 1, 0)], config.dims[stage]
    self.downsample_norm = _downsample_norm(config, in_width, rngs) if in_width != width else None
    self.downsample = layers.conv(in_width, width, 3, stride=2, bias=True, rngs=rngs) if in_width != width else None
    self.blocks = nnx.List([MetaFormerBlock(config, stage, rngs=rngs) for _ in range(config.depths[stage])])

  def __call__(self, x):
    if self.downsample is not None:
      x = self.downsample(self.downsample_norm(x) if self.downsample_norm is not None else x)
    for block in self.blocks:
      x = block(x)
    return x


class MlpHead(nnx.Module):
  """fc2(LayerNorm(SquaredReLU(fc1(x)))) with 4× hidden width (timm's metaformer MlpHead)."""

  def __init__(self, width: int, num_classes: int, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, 4 * width, rngs=rngs)
    self.norm = nnx.LayerNorm(4 * width, epsilon=HEAD_NORM_EPS, rngs=rngs)
    self.fc2 = nnx.Linear(4 * width, num_classes, rngs=rngs)

  def __call__(self, x):
    return self.fc2(self.norm(jnp.square(jax.nn.relu(self.fc1(x)))))


class MetaFormer(nnx.Module):
  """The embedding is LayerNorm(mean over H, W of the last stage) (timm's pre-logits); the head
  is a Linear or the MlpHead."""

  def __init__(self, config: MetaFormerConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = layers.conv(config.num_channels, config.dims[0], 7, stride=4, padding=((2, 2), (2, 2)), bias=True,
                            rngs=rngs)
    self.stem_norm = _downsample_norm(config, config.dims[0], rngs)
    self.stages = nnx.List([MetaFormerStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    width = config.dims[-1]
    self.norm = nnx.LayerNorm(width, epsilon=HEAD_NORM_EPS, rngs=rngs)
    if not config.num_classes:
      self.head = None
    else:
      self.head = (MlpHead(width, config.num_classes, rngs=rngs) if config.mlp_head
                   else nnx.Linear(width, config.num_classes, rngs=rngs))

  def forward_features(self, images):
    """NHWC feature map of the last stage."""
    x = self.stem(images)
    if self.stem_norm is not None:
      x = self.stem_norm(x)
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    embedding = self.norm(jnp.mean(self.forward_features(images), axis=(1, 2)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
