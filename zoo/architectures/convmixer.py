"""ConvMixer (Trockman & Kolter 2022, "Patches Are All You Need?"), timm's layout
(``timm/models/convmixer.py``).

patches (a stride-p p×p conv) → act → BN → [x + BN(act(depthwise k×k conv(x))), then
BN(act(pointwise conv(·)))] × depth → global mean (the embedding) → Linear."""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ConvMixerConfig:
  """Defaults: timm's convmixer_1536_20."""
  hidden_size: int = 1536
  depth: int = 20
  kernel_size: int = 9
  patch_size: int = 7
  activation: str = "gelu"
  num_channels: int = 3
  num_classes: int = 1000


class ConvMixerBlock(nnx.Module):
  """x + norm(act(depthwise(x))), then norm(act(pointwise(·))): timm's Sequential(Residual(...), conv, act, BN)."""

  def __init__(self, config: ConvMixerConfig, *, rngs: nnx.Rngs):
    width = config.hidden_size
    # PyTorch's padding="same" with an odd kernel: (k - 1) / 2 on every side, PyTorch's default.
    self.depthwise = layers.conv(width, width, config.kernel_size, groups=width, bias=True, rngs=rngs)
    self.depthwise_norm = layers.batch_norm(width, rngs=rngs)
    self.pointwise = layers.conv(width, width, 1, bias=True, rngs=rngs)
    self.pointwise_norm = layers.batch_norm(width, rngs=rngs)
    self.act = layers.activation(config.activation)

  def __call__(self, x):
    x = x + self.depthwise_norm(self.act(self.depthwise(x)))
    return self.pointwise_norm(self.act(self.pointwise(x)))


class ConvMixer(nnx.Module):
  def __init__(self, config: ConvMixerConfig, *, rngs: nnx.Rngs):
    if config.kernel_size % 2 == 0:
      raise ValueError(f"ConvMixer: kernel_size {config.kernel_size} is even; PyTorch's padding='same' pads it "
                       "asymmetrically, which this module does not model (odd kernels only).")
    self.config = config
    self.stem_conv = layers.conv(config.num_channels, config.hidden_size, config.patch_size,
                                 stride=config.patch_size, padding="VALID", bias=True, rngs=rngs)
    self.stem_norm = layers.batch_norm(config.hidden_size, rngs=rngs)
    self.blocks = nnx.List([ConvMixerBlock(config, rngs=rngs) for _ in range(config.depth)])
    self.head = nnx.Linear(config.hidden_size, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem_norm(layers.activation(self.config.activation)(self.stem_conv(images)))
    for block in self.blocks:
      x = block(x)
    return layers.pool_and_classify(x, self.head)
