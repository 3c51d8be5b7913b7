"""VGG (Simonyan & Zisserman 2015) as timm builds it.

``features``: 3×3 convs (bias) [→ BN] → ReLU, with 2×2/2 max-pools at the 'M' entries of the
layer list; held as one list whose indices are those of timm's ``nn.Sequential`` (ReLU
and pool entries carry no parameters). timm's head is a ConvMlp, not torchvision's
Linear stack: inputs below 7×7 are first adaptive-average-pooled up to 7 (per axis), then
relu(fc2(relu(fc1(x)))) with fc1 a 7×7 valid conv to int(4096·mlp_ratio) channels and fc2
a 1×1 conv to 4096; the embedding is its global mean, the logits a Linear of it.
Converted from timm's ``vgg11…vgg19[_bn]`` by :mod:`zoo.converters.timm`.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers

LAYERS = {
    "vgg11": (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg13": (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


@dataclasses.dataclass(frozen=True)
class VGGConfig:
  """``layers``: channels per conv, "M" for a max-pool; ``batch_norm`` after every conv."""
  layers: tuple = LAYERS["vgg19"]
  batch_norm: bool = True
  mlp_ratio: float = 1.0
  hidden_size: int = 4096
  num_channels: int = 3
  num_classes: int = 1000


class ReLU(nnx.Module):
  def __call__(self, x):
    return nnx.relu(x)


class MaxPool(nnx.Module):
  def __call__(self, x):
    return layers.max_pool_torch(x, 2, 2, 0)


class ConvMlp(nnx.Module):
  """timm's VGG pre-logits: relu(fc2(relu(fc1(x)))), fc1 a 7×7 valid conv."""

  def __init__(self, in_features: int, hidden: int, out_features: int, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Conv(in_features, hidden, (7, 7), padding="VALID", rngs=rngs)
    self.fc2 = nnx.Conv(hidden, out_features, (1, 1), rngs=rngs)

  def __call__(self, x):
    height, width = x.shape[1:3]
    if height < 7 or width < 7:  # timm: adaptive average pool up to the kernel size
      x = layers.adaptive_avg_pool(x, (max(7, height), max(7, width)))
    return nnx.relu(self.fc2(nnx.relu(self.fc1(x))))


class VGG(nnx.Module):
  """features → ConvMlp → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: VGGConfig, *, rngs: nnx.Rngs):
    modules, features = [], config.num_channels
    for entry in config.layers:
      if entry == "M":
        modules.append(MaxPool())
        continue
      modules.append(layers.conv(features, entry, 3, bias=True, rngs=rngs))
      if config.batch_norm:
        modules.append(layers.batch_norm(entry, rngs=rngs))
      modules.append(ReLU())
      features = entry
    self.features = nnx.List(modules)
    self.pre_logits = ConvMlp(features, int(config.hidden_size * config.mlp_ratio), config.hidden_size, rngs=rngs)
    self.head = nnx.Linear(config.hidden_size, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = images
    for module in self.features:
      x = module(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.pre_logits(self.forward_features(images)), self.head)
