"""MobileViT (Mehta & Rastegari 2022) and MobileViT-v2 (Mehta & Rastegari 2022, separable
self-attention) as timm builds them on its ByobNet (``timm/models/mobilevit.py``), in timm's
tensor names (``stem``, ``stages.{i}.{j}``, ``final_conv``; the head's ``fc`` renamed by the converter).

Both: stem conv 3×3/2 → stages of inverted bottlenecks (1×1 expand → depthwise 3×3 → linear 1×1,
identity shortcut when shape-preserving), the last three stages ending in a MobileViT block:
local conv k×k → 1×1 to the transformer width → unfold into p×p patches (one sequence per pixel
offset in the patch, over the patches) → transformer → fold back → 1×1 projection (v1: then a
k×k fusion conv over [input, projection]) → [v1: 1×1 final conv] → global mean → Linear.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct
from zoo.architectures.transformer import EncoderBlock

_ACT = "swish"  # timm's mobilevit configs: act_layer='silu'


@dataclasses.dataclass(frozen=True)
class MobileViTStage:
  """One stage: ``depth`` inverted bottlenecks to ``channels`` (the first at ``stride``,
  expansion ``bottle_ratio`` of its input), then a MobileViT block when ``transformer_depth``
  (width ``transformer_dim``; v2: 0 = make_divisible(transformer_ratio · channels))."""
  depth: int
  channels: int
  stride: int
  bottle_ratio: float = 4.0
  transformer_depth: int = 0
  transformer_dim: int = 0
  patch_size: int = 2


@dataclasses.dataclass(frozen=True)
class MobileViTConfig:
  """``version`` 1: MobileVitBlock (multi-head self-attention, 4 heads, LayerNorm, fusion conv),
  final 1×1 conv to ``num_features``; 2: MobileVitV2Block (separable linear attention, GroupNorm
  over all channels and pixels, depthwise local conv, no fusion), no final conv."""
  version: int
  stem_dim: int
  stages: tuple[MobileViTStage, ...]
  num_features: int = 0
  transformer_ratio: float = 0.5  # v2: transformer width / channels
  mlp_ratio: float = 2.0
  num_heads: int = 4  # v1
  num_channels: int = 3
  num_classes: int = 1000


class InvertedBottleneck(nnx.Module):
  """timm's ByobNet ``bottle`` block with bottle_in and linear_out: conv3_1x1(conv2_kxk(conv1_1x1 x))
  (+ x when stride 1 and in = out); the middle conv depthwise 3×3 at the stride."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, ratio: float, *, rngs: nnx.Rngs):
    mid = layers.make_divisible(in_dim * ratio)
    self.conv1_1x1 = ConvNormAct(in_dim, mid, 1, act=_ACT, rngs=rngs)
    self.conv2_kxk = ConvNormAct(mid, mid, 3, stride=stride, groups=mid, act=_ACT, rngs=rngs)
    self.conv3_1x1 = ConvNormAct(mid, out_dim, 1, act=None, rngs=rngs)
    self.skip = stride == 1 and in_dim == out_dim

  def __call__(self, inputs):
    x = self.conv3_1x1(self.conv2_kxk(self.conv1_1x1(inputs)))
    return x + inputs if self.skip else x


def _unfold(x, patch: int):
  """[B, H, W, C] → [B, p·p, N, C]: one sequence per pixel offset (i, j) in the p×p patch, over
  the N = (H/p)(W/p) patches (timm's reshape / permute, channels last)."""
  batch, height, width, channels = x.shape
  if height % patch or width % patch:
    raise ValueError(f"MobileViT: feature map {height}×{width} is not divisible by the patch size {patch}; "
                     "use an input size that is a multiple of 32·patch (timm would interpolate).")
  x = x.reshape(batch, height // patch, patch, width // patch, patch, channels).transpose(0, 2, 4, 1, 3, 5)
  return x.reshape(batch, patch * patch, -1, channels)


def _fold(x, patch: int, height: int, width: int):
  """Inverse of :func:`_unfold`."""
  batch, channels = x.shape[0], x.shape[-1]
  x = x.reshape(batch, patch, patch, height // patch, width // patch, channels).transpose(0, 3, 1, 4, 2, 5)
  return x.reshape(batch, height, width, channels)


class MobileVitBlock(nnx.Module):
  """timm's MobileVitBlock (v1): conv_kxk → conv_1x1 → unfold → transformer (timm ViT blocks,
  LayerNorm ε 1e-5, SiLU MLP) → norm → fold → conv_proj → conv_fusion([x, ·])."""

  def __init__(self, dim: int, stage: MobileViTStage, config: MobileViTConfig, *, rngs: nnx.Rngs):
    width, self.patch = stage.transformer_dim, stage.patch_size
    self.conv_kxk = ConvNormAct(dim, dim, 3, act=_ACT, rngs=rngs)
    self.conv_1x1 = layers.conv(dim, width, 1, rngs=rngs)
    self.transformer = nnx.List([
        EncoderBlock(width, config.num_heads, int(width * config.mlp_ratio), act=_ACT, epsilon=1e-5, fused_qkv=True,
                     rngs=rngs) for _ in range(stage.transformer_depth)])
    self.norm = nnx.LayerNorm(width, epsilon=1e-5, rngs=rngs)
    self.conv_proj = ConvNormAct(width, dim, 1, act=_ACT, rngs=rngs)
    self.conv_fusion = ConvNormAct(2 * dim, dim, 3, act=_ACT, rngs=rngs)

  def __call__(self, inputs):
    x = self.conv_1x1(self.conv_kxk(inputs))
    batch, height, width, channels = x.shape
    tokens = _unfold(x, self.patch)
    tokens = tokens.reshape(-1, *tokens.shape[2:])  # [B·p², N, C]: attention over the patches
    for block in self.transformer:
      tokens = block(tokens)
    tokens = self.norm(tokens).reshape(batch, self.patch * self.patch, -1, channels)
    x = self.conv_proj(_fold(tokens, self.patch, height, width))
    return self.conv_fusion(jnp.concatenate([inputs, x], axis=-1))


class LinearSelfAttention(nnx.Module):
  """timm's LinearSelfAttention on [B, P, N, C]: [q | k | v] = qkv_proj(x) (q one channel);
  context = Σₙ softmaxₙ(q) · k; out_proj(relu(v) · context)."""

  def __init__(self, width: int, *, rngs: nnx.Rngs):
    self.width = width
    self.qkv_proj = layers.conv(width, 1 + 2 * width, 1, bias=True, rngs=rngs)
    self.out_proj = layers.conv(width, width, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    qkv = self.qkv_proj(x)
    query, key, value = qkv[..., :1], qkv[..., 1:1 + self.width], qkv[..., 1 + self.width:]
    scores = nnx.softmax(query, axis=2)  # over the patches N
    context = jnp.sum(key * scores, axis=2, keepdims=True)
    return self.out_proj(nnx.relu(value) * context)


class ConvMlp(nnx.Module):
  """timm's ConvMlp: fc2(silu(fc1 x)) with 1×1 convs (biases)."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(width, hidden, 1, bias=True, rngs=rngs)
    self.fc2 = layers.conv(hidden, width, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return self.fc2(layers.activation(_ACT)(self.fc1(x)))


def _group_norm1(width: int, rngs: nnx.Rngs) -> nnx.GroupNorm:
  """timm's GroupNorm1: one group, statistics over all channels and positions of a sample."""
  return nnx.GroupNorm(width, num_groups=1, epsilon=1e-5, rngs=rngs)


class LinearTransformerBlock(nnx.Module):
  """timm's LinearTransformerBlock: x + attn(norm1 x), then + mlp(norm2 ·)."""

  def __init__(self, width: int, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.norm1 = _group_norm1(width, rngs)
    self.attn = LinearSelfAttention(width, rngs=rngs)
    self.norm2 = _group_norm1(width, rngs)
    self.mlp = ConvMlp(width, int(width * mlp_ratio), rngs=rngs)

  def __call__(self, x):
    x = x + self.attn(self.norm1(x))
    return x + self.mlp(self.norm2(x))


class MobileVitV2Block(nnx.Module):
  """timm's MobileVitV2Block: conv_kxk (depthwise) → conv_1x1 → unfold → linear transformer →
  norm → fold → conv_proj (no activation)."""

  def __init__(self, dim: int, stage: MobileViTStage, config: MobileViTConfig, *, rngs: nnx.Rngs):
    width, self.patch = layers.make_divisible(config.transformer_ratio * dim), stage.patch_size
    self.conv_kxk = ConvNormAct(dim, dim, 3, groups=dim, act=_ACT, rngs=rngs)
    self.conv_1x1 = layers.conv(dim, width, 1, rngs=rngs)
    self.transformer = nnx.List([LinearTransformerBlock(width, config.mlp_ratio, rngs=rngs)
                                 for _ in range(stage.transformer_depth)])
    self.norm = _group_norm1(width, rngs)
    self.conv_proj = ConvNormAct(width, dim, 1, act=None, rngs=rngs)

  def __call__(self, inputs):
    x = self.conv_1x1(self.conv_kxk(inputs))
    _, height, width, _ = x.shape
    tokens = _unfold(x, self.patch)
    for block in self.transformer:
      tokens = block(tokens)
    return self.conv_proj(_fold(self.norm(tokens), self.patch, height, width))


class MobileViT(nnx.Module):
  """stem → stages → [final_conv] → global mean (the embedding) → head (Linear)."""

  def __init__(self, config: MobileViTConfig, *, rngs: nnx.Rngs):
    if config.version not in (1, 2):
      raise ValueError(f"MobileViT version must be 1 or 2, got {config.version}.")
    self.config = config
    self.stem = ConvNormAct(config.num_channels, config.stem_dim, 3, stride=2, act=_ACT, rngs=rngs)
    block_class = MobileVitBlock if config.version == 1 else MobileVitV2Block
    stages, dim = [], config.stem_dim
    for stage in config.stages:
      blocks = []
      for index in range(stage.depth):
        blocks.append(InvertedBottleneck(dim, stage.channels, stage.stride if index == 0 else 1, stage.bottle_ratio,
                                         rngs=rngs))
        dim = stage.channels
      if stage.transformer_depth:
        blocks.append(block_class(dim, stage, config, rngs=rngs))
      stages.append(nnx.List(blocks))
    self.stages = nnx.List(stages)
    self.final_conv = ConvNormAct(dim, config.num_features, 1, act=_ACT, rngs=rngs) if config.num_features else None
    width = config.num_features or dim
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return x if self.final_conv is None else self.final_conv(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
