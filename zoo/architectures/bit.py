"""BiT: ResNet-V2 with GroupNorm and weight-standardised convolutions (Kolesnikov et al.
2020), as transformers' ``BitForImageClassification`` (pre-activation bottlenecks, TF
"SAME" padding when ``global_padding="SAME"``)."""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class BitConfig:
  """Field names follow transformers' ``BitConfig``; defaults are BiT-M R50x1."""
  embedding_size: int = 64
  hidden_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
  depths: tuple[int, ...] = (3, 4, 6, 3)
  layer_type: str = "preactivation"  # or "bottleneck" (post-activation, as in ViT hybrids)
  hidden_act: str = "relu"
  global_padding: str | None = "SAME"
  num_groups: int = 32
  embedding_dynamic_padding: bool = True
  width_factor: int = 1
  num_channels: int = 3
  num_classes: int = 1000


def _padding(config: BitConfig, kernel_size: int, stride: int):
  """transformers' rule: SAME → static symmetric when stride 1 and odd kernel, else TF dynamic."""
  if config.global_padding is not None and config.global_padding.upper() == "SAME":
    return (kernel_size - 1) // 2 if stride == 1 and kernel_size % 2 else "SAME"
  return (stride - 1 + kernel_size - 1) // 2


class GroupNormAct(nnx.Module):
  def __init__(self, config: BitConfig, channels: int, *, act: bool = True, rngs: nnx.Rngs):
    self.norm = nnx.GroupNorm(channels, num_groups=config.num_groups, epsilon=1e-5, rngs=rngs)
    self.act = layers.activation(config.hidden_act) if act else None

  def __call__(self, x):
    x = self.norm(x)
    return self.act(x) if self.act else x


class BitBlock(nnx.Module):
  """Pre-activation bottleneck: x + conv3(gn3(conv2(gn2(conv1(gn1(x)))))), projection on gn1(x)
  in the first block of a stage; the post-activation variant adds the norms after the convs."""

  def __init__(self, config: BitConfig, in_dim, out_dim, stride, *, first: bool, rngs: nnx.Rngs):
    self.preact = config.layer_type == "preactivation"
    mid = layers.make_divisible(out_dim * 0.25)
    ws = lambda i, o, k, s=1: layers.WeightStandardizedConv(i, o, k, stride=s, padding=_padding(config, k, s),
                                                            rngs=rngs)
    self.downsample_conv = ws(in_dim, out_dim, 1, stride) if first else None
    self.downsample_norm = (GroupNormAct(config, out_dim, act=False, rngs=rngs)
                            if first and not self.preact else None)
    norm_dims = (in_dim, mid, mid) if self.preact else (mid, mid, out_dim)
    self.norm1, self.norm2 = (GroupNormAct(config, d, rngs=rngs) for d in norm_dims[:2])
    self.norm3 = GroupNormAct(config, norm_dims[2], act=self.preact, rngs=rngs)
    self.conv1, self.conv2, self.conv3 = ws(in_dim, mid, 1), ws(mid, mid, 3, stride), ws(mid, out_dim, 1)
    self.act = layers.activation(config.hidden_act)

  def __call__(self, x):
    if self.preact:
      pre = self.norm1(x)
      shortcut = self.downsample_conv(pre) if self.downsample_conv is not None else x
      x = self.conv3(self.norm3(self.conv2(self.norm2(self.conv1(pre)))))
      return x + shortcut
    shortcut = x
    if self.downsample_conv is not None:
      shortcut = self.downsample_norm(self.downsample_conv(x))
    x = self.norm3(self.conv3(self.norm2(self.conv2(self.norm1(self.conv1(x))))))
    return self.act(x + shortcut)


class BiT(nnx.Module):
  """WS-conv 7×7/2 stem → max-pool 3×3/2 → stages → (GN+act for pre-activation) → mean → Linear."""

  def __init__(self, config: BitConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.stem_conv = layers.WeightStandardizedConv(config.num_channels, config.embedding_size, 7, stride=2,
                                                   padding=_padding(config, 7, 2), rngs=rngs)
    preact = config.layer_type == "preactivation"
    self.stem_norm = None if preact else GroupNormAct(config, config.embedding_size, rngs=rngs)
    stages, in_dim = [], config.embedding_size
    for index, (depth, hidden) in enumerate(zip(config.depths, config.hidden_sizes)):
      out_dim = layers.make_divisible(hidden * config.width_factor)
      stride = 1 if index == 0 else 2
      stages.append(nnx.List([BitBlock(config, in_dim if j == 0 else out_dim, out_dim, stride if j == 0 else 1,
                                       first=j == 0, rngs=rngs) for j in range(depth)]))
      in_dim = out_dim
    self.stages = nnx.List(stages)
    self.norm = GroupNormAct(config, in_dim, rngs=rngs) if preact else None  # the widened last stage
    self.head = nnx.Linear(in_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    config = self.config
    x = self.stem_conv(images)
    same = config.global_padding is not None and config.global_padding.upper() == "SAME"
    if not same:
      x = layers.pad_hw(x, 1, 1, 1, 1)
    if self.stem_norm is not None:
      x = self.stem_norm(x)
    if config.embedding_dynamic_padding:
      (top, bottom), (left, right) = (layers.tf_same_padding(n, 3, 2) for n in x.shape[1:3])
      x = layers.pad_hw(x, top, bottom, left, right)  # zeros, as transformers' DynamicPad2d
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return self.norm(x) if self.norm is not None else x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
