"""FastViT (Vasu et al. 2023, "FastViT: A Fast Hybrid Vision Transformer using Structural
Reparameterization"), timm's layout (``timm/models/fastvit.py``) in its unfused training-time form.

stem: three MobileOne blocks (3×3/2, depthwise 3×3/2, 1×1) → stages, from the second opened by a
patch embedding (depthwise-grouped 7×7/2 conv-BN + 3×3/2 conv-BN, then a 1×1 MobileOne block), an
optional conditional position encoding x + dw7×7(x), and blocks: RepMixer blocks
x = x + γ₁(mixer(x) − BN(x)); x + γ₂·mlp(x), or attention blocks x + γ₁·MHSA(BN(x)); x + γ₂·mlp(x),
mlp = dw7×7 conv-BN → 1×1 → GELU → 1×1 → final MobileOne block (grouped 3×3, SE) → global mean (the
embedding) → Linear.

A MobileOne block sums its branches (BN of the input when shapes allow, k×k conv-BNs, a 1×1 conv-BN
"scale" branch when k > 1), then applies SE and GELU when configured.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale
from zoo.architectures.resnet import ConvNormAct, SqueezeExcite
from zoo.architectures.transformer import MultiHeadAttention

_GELU = layers.activation("gelu")  # PyTorch's nn.GELU (exact)


@dataclasses.dataclass(frozen=True)
class FastVitConfig:
  """Defaults: timm's fastvit_sa12."""
  depths: tuple[int, ...] = (2, 2, 6, 2)
  embed_dims: tuple[int, ...] = (64, 128, 256, 512)
  mlp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0)
  token_mixers: tuple[str, ...] = ("repmixer", "repmixer", "repmixer", "attention")
  pos_embs: tuple[bool, ...] = (False, False, False, True)  # RepConditionalPosEnc (7×7) per stage
  repmixer_kernel_size: int = 3
  down_patch_size: int = 7
  cls_ratio: float = 2.0
  attention_head_dim: int = 32
  num_channels: int = 3
  num_classes: int = 1000


class MobileOneBlock(nnx.Module):
  """act(se(BN(x) + Σ conv-BN_k(x) + conv-BN_1(x))), each branch where timm builds it."""

  def __init__(self, in_dim: int, out_dim: int, kernel_size: int, *, stride: int = 1, depthwise: bool = False,
               use_se: bool = False, use_act: bool = True, scale_branch: bool = True, conv_branches: int = 1,
               rngs: nnx.Rngs):
    groups = in_dim if depthwise else 1
    self.identity = layers.batch_norm(in_dim, rngs=rngs) if in_dim == out_dim and stride == 1 else None
    self.conv_kxk = nnx.List([ConvNormAct(in_dim, out_dim, kernel_size, stride=stride, groups=groups, act=None,
                                          rngs=rngs) for _ in range(conv_branches)])
    self.conv_scale = (ConvNormAct(in_dim, out_dim, 1, stride=stride, groups=groups, act=None, rngs=rngs)
                       if kernel_size > 1 and scale_branch else None)
    # timm: SqueezeExcite(out, rd_divisor=1), rd_ratio 1/16
    self.se = SqueezeExcite(out_dim, layers.make_divisible(out_dim / 16, 1, round_limit=0.0), rngs=rngs) \
        if use_se else None
    self.use_act = use_act

  def __call__(self, x):
    out = self.identity(x) if self.identity is not None else 0.0
    if self.conv_scale is not None:
      out = out + self.conv_scale(x)
    for branch in self.conv_kxk:
      out = out + branch(x)
    out = self.se(out) if self.se is not None else out
    return _GELU(out) if self.use_act else out


class PatchEmbed(nnx.Module):
  """timm's PatchEmbed: ReparamLargeKernelConv (k×k/2 conv-BN + 3×3/2 conv-BN, groups = in channels,
  no activation) → 1×1 MobileOne block."""

  def __init__(self, in_dim: int, out_dim: int, patch_size: int, *, rngs: nnx.Rngs):
    self.large_conv = ConvNormAct(in_dim, out_dim, patch_size, stride=2, groups=in_dim, act=None, rngs=rngs)
    self.small_conv = ConvNormAct(in_dim, out_dim, 3, stride=2, groups=in_dim, act=None, rngs=rngs)
    self.mobile_one = MobileOneBlock(out_dim, out_dim, 1, rngs=rngs)

  def __call__(self, x):
    return self.mobile_one(self.large_conv(x) + self.small_conv(x))


class ConvMlp(nnx.Module):
  """fc2(GELU(fc1(conv-BN dw7×7(x)))), 1×1 convs with biases."""

  def __init__(self, dim: int, hidden: int, *, rngs: nnx.Rngs):
    self.conv = ConvNormAct(dim, dim, 7, groups=dim, act=None, rngs=rngs)
    self.fc1 = layers.conv(dim, hidden, 1, bias=True, rngs=rngs)
    self.fc2 = layers.conv(hidden, dim, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    return self.fc2(_GELU(self.fc1(self.conv(x))))


class RepMixerBlock(nnx.Module):
  """x = x + γ_mixer · (mixer(x) − norm(x)); x + γ · mlp(x)."""

  def __init__(self, dim: int, config: FastVitConfig, mlp_ratio: float, *, rngs: nnx.Rngs):
    k = config.repmixer_kernel_size
    self.norm = MobileOneBlock(dim, dim, k, depthwise=True, use_act=False, scale_branch=False, conv_branches=0,
                               rngs=rngs)
    self.mixer = MobileOneBlock(dim, dim, k, depthwise=True, use_act=False, rngs=rngs)
    self.mixer_scale = LayerScale(dim)
    self.mlp = ConvMlp(dim, int(dim * mlp_ratio), rngs=rngs)
    self.layer_scale = LayerScale(dim)

  def __call__(self, x):
    x = x + self.mixer_scale(self.mixer(x) - self.norm(x))
    return x + self.layer_scale(self.mlp(x))


class AttentionBlock(nnx.Module):
  """x + γ₁ · MHSA(BN(x)) over the H·W tokens (head dim 32, bias-free qkv); x + γ₂ · mlp(x)."""

  def __init__(self, dim: int, config: FastVitConfig, mlp_ratio: float, *, rngs: nnx.Rngs):
    self.norm = layers.batch_norm(dim, rngs=rngs)
    self.attn = MultiHeadAttention(dim, dim // config.attention_head_dim, qkv_bias=False, fused_qkv=True, rngs=rngs)
    self.layer_scale_1 = LayerScale(dim)
    self.mlp = ConvMlp(dim, int(dim * mlp_ratio), rngs=rngs)
    self.layer_scale_2 = LayerScale(dim)

  def __call__(self, x):
    batch, height, width, dim = x.shape
    attended = self.attn(self.norm(x).reshape(batch, height * width, dim)).reshape(x.shape)
    x = x + self.layer_scale_1(attended)
    return x + self.layer_scale_2(self.mlp(x))


class FastVitStage(nnx.Module):
  def __init__(self, config: FastVitConfig, index: int, *, rngs: nnx.Rngs):
    dim = config.embed_dims[index]
    previous = config.embed_dims[max(index - 1, 0)]
    # timm: downsample = downsamples[i] (True from the second stage) or a width change
    self.downsample = PatchEmbed(previous, dim, config.down_patch_size, rngs=rngs) if index else None
    self.pos_emb = layers.conv(dim, dim, 7, groups=dim, bias=True, rngs=rngs) if config.pos_embs[index] else None
    block = {"repmixer": RepMixerBlock, "attention": AttentionBlock}[config.token_mixers[index]]
    self.blocks = nnx.List([block(dim, config, config.mlp_ratios[index], rngs=rngs)
                            for _ in range(config.depths[index])])

  def __call__(self, x):
    x = self.downsample(x) if self.downsample is not None else x
    x = x + self.pos_emb(x) if self.pos_emb is not None else x
    for block in self.blocks:
      x = block(x)
    return x


class FastVit(nnx.Module):
  def __init__(self, config: FastVitConfig, *, rngs: nnx.Rngs):
    dim = config.embed_dims[0]
    self.stem = nnx.List([MobileOneBlock(config.num_channels, dim, 3, stride=2, rngs=rngs),
                          MobileOneBlock(dim, dim, 3, stride=2, depthwise=True, rngs=rngs),
                          MobileOneBlock(dim, dim, 1, rngs=rngs)])
    self.stages = nnx.List([FastVitStage(config, i, rngs=rngs) for i in range(len(config.depths))])
    last = config.embed_dims[-1]
    features = int(last * config.cls_ratio)
    self.final_conv = MobileOneBlock(last, features, 3, depthwise=True, use_se=True, rngs=rngs)
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = images
    for block in self.stem:
      x = block(x)
    for stage in self.stages:
      x = stage(x)
    return layers.pool_and_classify(self.final_conv(x), self.head)
