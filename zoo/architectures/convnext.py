"""ConvNeXt (Liu et al. 2022) and ConvNeXt V2 (Woo et al. 2023), transformers' layout, with
the options of timm's ``ConvNeXt`` (timm/models/convnext.py) as config fields.

stem (patch conv + LayerNorm; or timm's overlapping 3×3/2 conv pair) → stages (LayerNorm +
2×2/2 conv downsampling, then blocks of 7×7 depthwise conv → LayerNorm → Linear 4× → GELU
[→ GRN, V2] → Linear → layer scale [V1] + residual) → global mean → LayerNorm [→ Linear →
GELU: timm's ``head_hidden_size``] (the embedding) → Linear (logits). timm's
``head_norm_first`` normalises the feature map before the mean instead.
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
  # timm's ConvNeXt options (defaults: transformers' layout)
  norm_eps: float = 1e-6  # every norm but the final pooled one
  norm: str = "layernorm"  # or "simplenorm" (timm's SimpleNorm: no centring, no bias)
  stem: str = "patch"  # or timm's "overlap", "overlap_tiered" (half-width first conv), "overlap_act" (GELU between)
  head_norm_first: bool = False  # norm on the feature map before the mean (timm's norm_pre)
  head_hidden_size: int = 0  # > 0: Linear + GELU after the pooled norm (timm's NormMlpClassifierHead pre_logits)

  def __post_init__(self):
    if self.norm not in ("layernorm", "simplenorm"):
      raise ValueError(f"ConvNeXt norm must be 'layernorm' or 'simplenorm'; got {self.norm!r}.")
    if self.stem not in ("patch", "overlap", "overlap_tiered", "overlap_act"):
      raise ValueError(f"ConvNeXt stem must be 'patch', 'overlap', 'overlap_tiered' or 'overlap_act'; got {self.stem!r}.")
    if self.head_norm_first and self.head_hidden_size:
      raise ValueError("ConvNeXt head_norm_first excludes head_hidden_size (as in timm).")


def norm_layer(config: ConvNextConfig, features: int, epsilon: float | None = None, *, rngs: nnx.Rngs):
  """The config's channels-last norm (LayerNorm or SimpleNorm), ε = config.norm_eps unless given."""
  epsilon = config.norm_eps if epsilon is None else epsilon
  if config.norm == "simplenorm":
    return layers.SimpleNorm(features, epsilon=epsilon)
  return nnx.LayerNorm(features, epsilon=epsilon, rngs=rngs)


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
    self.norm = norm_layer(config, width, rngs=rngs)
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
    self.downsample_norm = norm_layer(config, in_features, rngs=rngs) if downsample else None
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
  """The embedding is LayerNorm(mean over H, W of the last stage), what the head consumes
  (mean of the normalised map with ``head_norm_first``; after Linear + GELU with
  ``head_hidden_size``)."""

  def __init__(self, config: ConvNextConfig, *, rngs: nnx.Rngs):
    if len(config.depths) != len(config.hidden_sizes):
      raise ValueError(f"ConvNeXt depths {config.depths} and hidden_sizes {config.hidden_sizes} differ in length.")
    self.config = config
    sizes = config.hidden_sizes
    if config.stem == "patch":
      self.patch_embed = layers.conv(config.num_channels, sizes[0], config.patch_size, stride=config.patch_size,
                                     padding="VALID", bias=True, rngs=rngs)
      self.stem_norm = norm_layer(config, sizes[0], rngs=rngs)
    else:
      self.stem_layers = _overlap_stem(config, rngs=rngs)
    # transformers downsamples a stage whenever it is not the first (stride 2) or widens.
    self.stages = nnx.List([
        ConvNextStage(config, sizes[max(i - 1, 0)], sizes[i], depth, downsample=i > 0, rngs=rngs)
        for i, depth in enumerate(config.depths)])
    self.norm = norm_layer(config, sizes[-1], config.layer_norm_eps, rngs=rngs)
    width = config.head_hidden_size or sizes[-1]
    self.head_hidden = nnx.Linear(sizes[-1], width, rngs=rngs) if config.head_hidden_size else None
    self.head = nnx.Linear(width, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    """NHWC feature map of the last stage."""
    if self.config.stem == "patch":
      x = self.stem_norm(self.patch_embed(images))
    else:
      x = images
      for layer in self.stem_layers:
        x = layer(x)
    for stage in self.stages:
      x = stage(x)
    return x

  def __call__(self, images):
    features = self.forward_features(images)
    if self.config.head_norm_first:
      embedding = jnp.mean(self.norm(features), axis=(1, 2))
    else:
      embedding = self.norm(jnp.mean(features, axis=(1, 2)))
    if self.head_hidden is not None:
      embedding = layers.activation("gelu")(self.head_hidden(embedding))  # timm's head: GELU always
    return (self.head(embedding) if self.head is not None else embedding), embedding


def _overlap_stem(config: ConvNextConfig, *, rngs: nnx.Rngs) -> nnx.List:
  """timm's overlapping stem as its nn.Sequential: 3×3/2 conv [→ GELU] → 3×3/2 conv → norm
  (the first conv half as wide, rounded to 8, for "overlap_tiered")."""
  width = config.hidden_sizes[0]
  middle = layers.make_divisible(width // 2) if config.stem == "overlap_tiered" else width
  conv = lambda i, o: layers.conv(i, o, 3, stride=2, bias=True, rngs=rngs)
  act = [layers.Activation(config.hidden_act)] if config.stem == "overlap_act" else []
  return nnx.List([conv(config.num_channels, middle), *act, conv(middle, width), norm_layer(config, width, rngs=rngs)])
