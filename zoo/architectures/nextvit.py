"""Next-ViT (Li et al. 2022, "Next-ViT: Next Generation Vision Transformer for Efficient Deployment"),
the layout and semantics of timm's ``NextViT`` (timm/models/nextvit.py).

stem (four 3×3 conv → BN → ReLU, strides 2, 1, 1, 2) → four stages of blocks → BN → global mean (the
embedding) → Linear. Blocks (each opens with a "patch embed": 2×2 average pool (ceil mode, padding not
counted) when strided, then 1×1 conv → BN when the width changes):

* NextConvBlock (NCB): x + MHCA(x), then x + MLP(BN(x)); MHCA = 1×1 conv(ReLU(BN(grouped 3×3 conv(x))))
  with one group per ``head_dim`` channels; MLP = 1×1 conv → ReLU → 1×1 conv (biases).
* NextTransformerBlock (NTB): x + E-MHSA(BN(x)) on c₁ = make_divisible(0.75·c, 32) channels, where
  E-MHSA's keys and values see the tokens average-pooled in runs of sr² (row-major order, the
  remainder dropped, then BN1d); then y = proj(x) (1×1 conv → BN to the other c - c₁ channels),
  y + MHCA(y) is concatenated to x, and x + MLP(BN(x)).

Stage widths and block kinds are timm's fixed table (``stage_widths``): stage 3 repeats
(NCB×4, NTB) ``depths[2] // 5`` times.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.resnet import ConvNormAct


@dataclasses.dataclass(frozen=True)
class NextVitConfig:
  """Defaults: Next-ViT-S (timm's NextViT class defaults)."""
  depths: tuple[int, ...] = (3, 4, 10, 3)
  stem_widths: tuple[int, ...] = (64, 32, 64)
  strides: tuple[int, ...] = (1, 2, 2, 2)
  sr_ratios: tuple[int, ...] = (8, 4, 2, 1)
  head_dim: int = 32
  mix_block_ratio: float = 0.75
  num_channels: int = 3
  num_classes: int = 1000


def stage_blocks(depths: tuple[int, ...]) -> list[list[tuple[str, int]]]:
  """(kind, output width) of every block per stage: timm's ``stage_out_chs`` / ``stage_block_types``."""
  last_transformer = lambda depth, width, final: [("conv", width)] * (depth - 1) + [("transformer", final)]
  return [
      [("conv", 96)] * depths[0],
      last_transformer(depths[1], 192, 256),
      [kind for _ in range(depths[2] // 5) for kind in [("conv", 384)] * 4 + [("transformer", 512)]],
      last_transformer(depths[3], 768, 1024),
  ]


class PatchEmbed(nnx.Module):
  """timm's nextvit PatchEmbed: stride 2 → avg-pool 2×2 (ceil, padding uncounted) → 1×1 conv → BN;
  stride 1 with a width change → 1×1 conv → BN; otherwise the identity."""

  def __init__(self, in_width: int, out_width: int, stride: int, *, rngs: nnx.Rngs):
    self.pool = stride == 2
    projects = stride == 2 or in_width != out_width
    self.conv = layers.conv(in_width, out_width, 1, rngs=rngs) if projects else None
    self.norm = layers.batch_norm(out_width, rngs=rngs) if projects else None

  def __call__(self, x):
    if self.pool:
      x = layers.avg_pool_torch(x, 2, 2, ceil_mode=True, count_include_pad=False)
    return self.norm(self.conv(x)) if self.conv is not None else x


class ConvAttention(nnx.Module):
  """Multi-head convolutional attention: projection(ReLU(BN(grouped 3×3 conv(x)))), groups = width / head_dim."""

  def __init__(self, width: int, head_dim: int, *, rngs: nnx.Rngs):
    self.group_conv3x3 = layers.conv(width, width, 3, groups=width // head_dim, rngs=rngs)
    self.norm = layers.batch_norm(width, rngs=rngs)
    self.projection = layers.conv(width, width, 1, rngs=rngs)

  def __call__(self, x):
    return self.projection(jax.nn.relu(self.norm(self.group_conv3x3(x))))


class ConvMlp(nnx.Module):
  """fc2(ReLU(fc1(x))) with 1×1 convs and biases (timm's ConvMlp)."""

  def __init__(self, width: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(width, hidden, 1, bias=True, rngs=rngs)
    self.fc2 = layers.conv(hidden, width, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return self.fc2(jax.nn.relu(self.fc1(x)))


class NextConvBlock(nnx.Module):
  """x = embed(x); x + MHCA(x); x + MLP(BN(x)) (MLP ratio 3)."""

  def __init__(self, in_width: int, width: int, stride: int, head_dim: int, *, rngs: nnx.Rngs):
    self.patch_embed = PatchEmbed(in_width, width, stride, rngs=rngs)
    self.mhca = ConvAttention(width, head_dim, rngs=rngs)
    self.norm = layers.batch_norm(width, rngs=rngs)
    self.mlp = ConvMlp(width, int(width * 3.0), rngs=rngs)

  def __call__(self, x):
    x = self.patch_embed(x)
    x = x + self.mhca(x)
    return x + self.mlp(self.norm(x))


class EfficientAttention(nnx.Module):
  """softmax(q kᵀ/√d) v per head, q from every token, k and v from the tokens average-pooled in
  runs of sr² (then BN1d) when sr > 1; then proj."""

  def __init__(self, width: int, head_dim: int, sr_ratio: int, *, rngs: nnx.Rngs):
    self.num_heads, self.pool = width // head_dim, sr_ratio ** 2
    self.q = nnx.Linear(width, width, rngs=rngs)
    self.k = nnx.Linear(width, width, rngs=rngs)
    self.v = nnx.Linear(width, width, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)
    self.norm = layers.batch_norm(width, rngs=rngs) if sr_ratio > 1 else None

  def __call__(self, tokens):
    """tokens [B, N, C] (row-major pixels) → [B, N, C]."""
    batch, count, width = tokens.shape
    split = lambda y: y.reshape(batch, y.shape[1], self.num_heads, width // self.num_heads)
    q, context = split(self.q(tokens)), tokens
    if self.norm is not None:  # PyTorch AvgPool1d(sr², sr²): floor mode drops the trailing remainder
      kept = count // self.pool
      if not kept:  # timm's AvgPool1d refuses a window longer than the sequence
        raise ValueError(f"Next-ViT attention: {count} tokens are fewer than its key pooling window {self.pool}; "
                         "the input image is too small.")
      context = self.norm(tokens[:, :kept * self.pool].reshape(batch, kept, self.pool, width).mean(axis=2))
    k, v = split(self.k(context)), split(self.v(context))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) * (width // self.num_heads) ** -0.5
    attended = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
    return self.proj(attended.reshape(batch, count, width))


class NextTransformerBlock(nnx.Module):
  """x = embed(x) (c₁ channels); x + E-MHSA(BN(x)); y = proj(x); x = [x, y + MHCA(y)]; x + MLP(BN(x))
  (MLP ratio 2)."""

  def __init__(self, in_width: int, width: int, stride: int, config: NextVitConfig, sr_ratio: int, *,
               rngs: nnx.Rngs):
    attention_width = layers.make_divisible(int(width * config.mix_block_ratio), 32)
    conv_width = width - attention_width
    self.patch_embed = PatchEmbed(in_width, attention_width, stride, rngs=rngs)
    self.norm1 = layers.batch_norm(attention_width, rngs=rngs)
    self.e_mhsa = EfficientAttention(attention_width, config.head_dim, sr_ratio, rngs=rngs)
    self.projection = PatchEmbed(attention_width, conv_width, 1, rngs=rngs)
    self.mhca = ConvAttention(conv_width, config.head_dim, rngs=rngs)
    self.norm2 = layers.batch_norm(width, rngs=rngs)
    self.mlp = ConvMlp(width, int(width * 2), rngs=rngs)

  def __call__(self, x):
    x = self.patch_embed(x)
    batch, height, width, channels = x.shape
    tokens = self.norm1(x).reshape(batch, height * width, channels)
    x = x + self.e_mhsa(tokens).reshape(x.shape)
    y = self.projection(x)
    x = jnp.concatenate([x, y + self.mhca(y)], axis=-1)
    return x + self.mlp(self.norm2(x))


class NextStage(nnx.Module):
  """The stage's blocks; the first one carries the stride."""

  def __init__(self, config: NextVitConfig, in_width: int, stage: int, *, rngs: nnx.Rngs):
    blocks = []
    for index, (kind, width) in enumerate(stage_blocks(config.depths)[stage]):
      stride = config.strides[stage] if index == 0 else 1
      blocks.append(NextConvBlock(in_width, width, stride, config.head_dim, rngs=rngs) if kind == "conv" else
                    NextTransformerBlock(in_width, width, stride, config, config.sr_ratios[stage], rngs=rngs))
      in_width = width
    self.blocks = nnx.List(blocks)

  def __call__(self, x):
    for block in self.blocks:
      x = block(x)
    return x


class NextVit(nnx.Module):
  """The embedding is the mean over H, W of BN(last stage) (timm's pre-logits)."""

  def __init__(self, config: NextVitConfig, *, rngs: nnx.Rngs):
    stem_in = (config.num_channels, *config.stem_widths)
    stem_out = (*config.stem_widths, config.stem_widths[-1])
    self.stem = nnx.List([ConvNormAct(i, o, 3, stride=s, rngs=rngs)
                          for i, o, s in zip(stem_in, stem_out, (2, 1, 1, 2))])
    widths = [config.stem_widths[-1]] + [blocks[-1][1] for blocks in stage_blocks(config.depths)]
    self.stages = nnx.List([NextStage(config, widths[i], i, rngs=rngs) for i in range(len(config.depths))])
    self.norm = layers.batch_norm(widths[-1], rngs=rngs)
    self.head = nnx.Linear(widths[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map after the final batch norm."""
    x = images
    for conv in self.stem:
      x = conv(x)
    for stage in self.stages:
      x = stage(x)
    return self.norm(x)

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
