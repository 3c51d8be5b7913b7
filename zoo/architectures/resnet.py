"""ResNet v1.5 (He et al. 2016, torchvision/transformers layout: stride in the 3×3 conv).

One module serves ImageNet ResNets (7×7/2 stem + max-pool) and the small Fashion-MNIST
ResNet (3×3/1 stem, no pool). Converted from transformers' ``ResNetForImageClassification``
by :mod:`zoo.converters.huggingface`.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """Field names and defaults follow transformers' ``ResNetConfig`` (ResNet-50)."""
  depths: tuple[int, ...] = (3, 4, 6, 3)
  hidden_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
  embedding_size: int = 64
  layer_type: str = "bottleneck"  # or "basic"
  hidden_act: str = "relu"
  downsample_in_first_stage: bool = False
  downsample_in_bottleneck: bool = False  # True = v1 (stride in the first 1×1 conv)
  num_channels: int = 3
  num_classes: int = 1000
  stem: str = "imagenet"  # or "small": 3×3 stride-1 conv, no max-pool (for 28×28 inputs)


class ConvNormAct(nnx.Module):
  """Conv (no bias, PyTorch padding) → BatchNorm → optional activation."""

  def __init__(self, in_features, out_features, kernel_size, *, stride=1, act: str | None = "relu",
               groups: int = 1, rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, kernel_size, stride=stride, groups=groups, rngs=rngs)
    self.bn = layers.batch_norm(out_features, rngs=rngs)
    self.act = layers.activation(act) if act else None

  def __call__(self, x):
    x = self.bn(self.conv(x))
    return self.act(x) if self.act else x


class ResidualBlock(nnx.Module):
  """act(layers(x) + shortcut(x)); a 1×1 conv+BN shortcut when shape changes."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs):
    act = config.hidden_act
    if config.layer_type == "bottleneck":
      mid = out_features // 4
      first_stride, mid_stride = (stride, 1) if config.downsample_in_bottleneck else (1, stride)
      specs = [(in_features, mid, 1, first_stride, act), (mid, mid, 3, mid_stride, act),
               (mid, out_features, 1, 1, None)]
    elif config.layer_type == "basic":
      specs = [(in_features, out_features, 3, stride, act), (out_features, out_features, 3, 1, None)]
    else:
      raise ValueError(f"ResNet layer_type must be 'bottleneck' or 'basic'; got {config.layer_type!r}.")
    self.layers = nnx.List([ConvNormAct(i, o, k, stride=s, act=a, rngs=rngs) for i, o, k, s, a in specs])
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = (ConvNormAct(in_features, out_features, 1, stride=stride, act=None, rngs=rngs)
                     if needs_projection else None)
    self.act = layers.activation(act)

  def __call__(self, x):
    residual = x if self.shortcut is None else self.shortcut(x)
    for layer in self.layers:
      x = layer(x)
    return self.act(x + residual)


class ResNet(nnx.Module):
  """stem → stages of residual blocks → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: ResNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    if config.stem == "imagenet":
      self.stem = ConvNormAct(config.num_channels, config.embedding_size, 7, stride=2, act=config.hidden_act,
                              rngs=rngs)
    elif config.stem == "small":
      self.stem = ConvNormAct(config.num_channels, config.embedding_size, 3, act=config.hidden_act, rngs=rngs)
    else:
      raise ValueError(f"ResNet stem must be 'imagenet' or 'small'; got {config.stem!r}.")
    stages, in_features = [], config.embedding_size
    for index, (depth, out_features) in enumerate(zip(config.depths, config.hidden_sizes)):
      stride = 2 if index > 0 or config.downsample_in_first_stage else 1
      blocks = [ResidualBlock(config, in_features if j == 0 else out_features, out_features,
                              stride if j == 0 else 1, rngs=rngs) for j in range(depth)]
      stages.append(nnx.List(blocks))
      in_features = out_features
    self.stages = nnx.List(stages)
    self.head = nnx.Linear(in_features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    if self.config.stem == "imagenet":
      x = layers.max_pool_torch(x, 3, 2, 1)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
