"""ConvNeXt (Liu et al. 2022) and ConvNeXt V2 (Woo et al. 2023), transformers' layout.

stem (patch conv + LayerNorm) → stages (LayerNorm + 2×2/2 conv downsampling, then blocks
of 7×7 depthwise conv → LayerNorm → Linear 4× → GELU [→ GRN, V2] → Linear → layer
scale [V1] + residual) → global mean → LayerNorm (the embedding) → Linear (logits).
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ConvNextConfig:
  """Field names and defaults follow transformers' ``ConvNextConfig`` (ConvNeXt-T)."""
  hidden_sizes: tuple[int, ...] = (96, 192, 384, 768)
  depths: tuple[int, ...] = (3, 3, 9, 3)
  patch_size: int = 4
  num_channels: int = 3
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-12  # the final (pooled) LayerNorm; every other one uses 1e-6
  layer_scale_init_value: float = 1e-6  # > 0: a learned per-channel scale on each block's branch (V1)
  global_response_norm: bool = False  # V2: GRN after the activation, no layer scale
  num_classes: int = 1000


class GlobalResponseNorm(nnx.Module):
  """ConvNeXt V2's GRN on NHWC x: g = ‖x‖₂ over (H, W) per channel, n = g / (mean_c g + 1e-6),
  x + weight·(x·n) + bias."""

  def __init__(self, features: int):
    self.weight = nnx.Param(jnp.zeros((features,)))
    self.bias = nnx.Param(jnp.zeros((features,)))

  def __call__(self, x):
    norm = jnp.sqrt(jnp.sum(jnp.square(x), axis=(1, 2), keepdims=True))
    norm = norm / (jnp.mean(norm, axis=-1, keepdims=True) + 1e-6)
    return self.weight[...] * (x * norm) + self.bias[...] + x


class ConvNextBlock(nnx.Module):
  """x + scale · pwconv2(GRN?(act(pwconv1(LayerNorm(dwconv7×7(x))))))."""

  def __init__(self, config: ConvNextConfig, width: int, *, rngs: nnx.Rngs):
    self.dwconv = layers.conv(width, width, 7, groups=width, bias=True, rngs=rngs)
    self.norm = nnx.LayerNorm(width, epsilon=1e-6, rngs=rngs)
    self.pwconv1 = nnx.Linear(width, 4 * width, rngs=rngs)
    self.act = layers.activation(config.hidden_act)
    self.grn = GlobalResponseNorm(4 * width) if config.global_response_norm else None
    self.pwconv2 = nnx.Linear(4 * width, width, rngs=rngs)
    uses_scale = config.layer_scale_init_value > 0 and not config.global_response_norm
    self.layer_scale = nnx.Param(jnp.full((width,), config.layer_scale_init_value)) if uses_scale else None

  def __call__(self, x):
    y = self.act(self.pwconv1(self.norm(self.dwconv(x))))
    if self.grn is not None:
      y = self.grn(y)
    y = self.pwconv2(y)
    if self.layer_scale is not None:
      y = y * self.layer_scale[...]
    return x + y


class ConvNextStage(nnx.Module):
  """Optional downsampling (LayerNorm → 2×2 stride-2 conv) then blocks."""

  def __init__(self, config: ConvNextConfig, in_features: int, out_features: int, depth: int, downsample: bool,
               *, rngs: nnx.Rngs):
    self.downsample_norm = nnx.LayerNorm(in_features, epsilon=1e-6, rngs=rngs) if downsample else None
    self.downsample_conv = (layers.conv(in_features, out_features, 2, stride=2, padding="VALID", bias=True,
                                        rngs=rngs) if downsample else None)
    self.blocks = nnx.List([ConvNextBlock(config, out_features, rngs=rngs) for _ in range(depth)])

  def __call__(self, x):
    if self.downsample_conv is not None:
      x = self.downsample_conv(self.downsample_norm(x))
    for block in self.blocks:
      x = block(x)
    return x


class ConvNext(nnx.Module):
  """The embedding is LayerNorm(mean over H, W of the last stage), what the head consumes."""

  def __init__(self, config: ConvNextConfig, *, rngs: nnx.Rngs):
    if len(config.depths) != len(config.hidden_sizes):
      raise ValueError(f"ConvNeXt depths {config.depths} and hidden_sizes {config.hidden_sizes} differ in length.")
    self.config = config
    sizes = config.hidden_sizes
    self.patch_embed = layers.conv(config.num_channels, sizes[0], config.patch_size, stride=config.patch_size,
                                   padding="VALID", bias=True, rngs=rngs)
    self.stem_norm = nnx.LayerNorm(sizes[0], epsilon=1e-6, rngs=rngs)
    # transformers downsamples a stage whenever it is not the first (stride 2) or widens.
    self.stages = nnx.List([
        ConvNextStage(config, sizes[max(i - 1, 0)], sizes[i], depth, downsample=i > 0, rngs=rngs)
        for i, depth in enumerate(config.depths)])
    self.norm = nnx.LayerNorm(sizes[-1], epsilon=config.layer_norm_eps, rngs=rngs)
    self.head = nnx.Linear(sizes[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map of the last stage."""
    x = self.stem_norm(self.patch_embed(images))
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    embedding = self.norm(jnp.mean(self.forward_features(images), axis=(1, 2)))
    return (self.head(embedding) if self.head is not None else embedding), embedding
