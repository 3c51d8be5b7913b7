"""Inception-v3 (Szegedy et al. 2016, "Rethinking the Inception Architecture"), in
torchvision's / timm's layout and names (``Conv2d_1a_3x3`` … ``Mixed_7c``).

Every convolution is conv (no bias) → BatchNorm (eps 1e-3) → ReLU. A mixed block runs
its branches on the same input and concatenates them on the channel axis; a branch may
start with a 3×3 pool (average, stride 1, padding counted; or max, stride 2) and may end
in a fork of two convolutions whose outputs are concatenated (blocks E). Converted from
timm's ``inception_v3`` (tv_in1k, tf_in1k, tf_adv_in1k, gluon_in1k weights) by
:mod:`zoo.converters.timm`.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


class ConvBN(nnx.Module):
  """relu(BN(conv(x))) with a (kh, kw) kernel and PyTorch's symmetric (ph, pw) padding."""

  def __init__(self, in_features: int, out_features: int, kernel=1, stride: int = 1, padding=0, *,
               rngs: nnx.Rngs):
    kernel = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    padding = padding if isinstance(padding, tuple) else (padding, padding)
    self.conv = nnx.Conv(in_features, out_features, kernel, strides=stride,
                         padding=((padding[0], padding[0]), (padding[1], padding[1])), use_bias=False, rngs=rngs)
    self.bn = layers.batch_norm(out_features, epsilon=1e-3, rngs=rngs)

  def __call__(self, x):
    return nnx.relu(self.bn(self.conv(x)))


def _block_a(c, pool_features):
  return (("", (("branch1x1", c, 64),), ()),
          ("", (("branch5x5_1", c, 48), ("branch5x5_2", 48, 64, 5, 1, 2)), ()),
          ("", (("branch3x3dbl_1", c, 64), ("branch3x3dbl_2", 64, 96, 3, 1, 1), ("branch3x3dbl_3", 96, 96, 3, 1, 1)), ()),
          ("avg", (("branch_pool", c, pool_features),), ()))


def _block_b(c):
  return (("", (("branch3x3", c, 384, 3, 2),), ()),
          ("", (("branch3x3dbl_1", c, 64), ("branch3x3dbl_2", 64, 96, 3, 1, 1), ("branch3x3dbl_3", 96, 96, 3, 2)), ()),
          ("max", (), ()))


def _block_c(c, c7):
  row, column = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
  return (("", (("branch1x1", c, 192),), ()),
          ("", (("branch7x7_1", c, c7), ("branch7x7_2", c7, c7, *row), ("branch7x7_3", c7, 192, *column)), ()),
          ("", (("branch7x7dbl_1", c, c7), ("branch7x7dbl_2", c7, c7, *column), ("branch7x7dbl_3", c7, c7, *row),
                ("branch7x7dbl_4", c7, c7, *column), ("branch7x7dbl_5", c7, 192, *row)), ()),
          ("avg", (("branch_pool", c, 192),), ()))


def _block_d(c):
  return (("", (("branch3x3_1", c, 192), ("branch3x3_2", 192, 320, 3, 2)), ()),
          ("", (("branch7x7x3_1", c, 192), ("branch7x7x3_2", 192, 192, (1, 7), 1, (0, 3)),
                ("branch7x7x3_3", 192, 192, (7, 1), 1, (3, 0)), ("branch7x7x3_4", 192, 192, 3, 2)), ()),
          ("max", (), ()))


def _block_e(c):
  def fork(prefix, features):
    return ((f"{prefix}a", features, 384, (1, 3), 1, (0, 1)), (f"{prefix}b", features, 384, (3, 1), 1, (1, 0)))
  return (("", (("branch1x1", c, 320),), ()),
          ("", (("branch3x3_1", c, 384),), fork("branch3x3_2", 384)),
          ("", (("branch3x3dbl_1", c, 448), ("branch3x3dbl_2", 448, 384, 3, 1, 1)), fork("branch3x3dbl_3", 384)),
          ("avg", (("branch_pool", c, 192),), ()))


class Mixed(nnx.Module):
  """Parallel branches concatenated on channels; ``branches`` = ((pool, convs, fork), ...)
  with conv specs (name, in, out[, kernel, stride, padding]); pool "avg" (3×3/1, padding
  counted), "avg_valid" (3×3/1, padding not counted: Inception-v4), "max" (3×3/2) or ""."""

  def __init__(self, branches, *, rngs: nnx.Rngs):
    self.branches = tuple((pool, tuple(s[0] for s in convs), tuple(s[0] for s in fork))
                          for pool, convs, fork in branches)
    for _, convs, fork in branches:
      for name, *spec in (*convs, *fork):
        setattr(self, name, ConvBN(*spec, rngs=rngs))

  def __call__(self, x):
    outputs = []
    for pool, convs, fork in self.branches:
      y = x
      if pool in ("avg", "avg_valid"):
        y = layers.avg_pool_torch(y, 3, 1, 1, count_include_pad=pool == "avg")
      elif pool == "max":
        y = layers.max_pool_torch(y, 3, 2, 0)
      for name in convs:
        y = getattr(self, name)(y)
      if fork:
        y = jnp.concatenate([getattr(self, name)(y) for name in fork], axis=-1)
      outputs.append(y)
    return jnp.concatenate(outputs, axis=-1)


class InceptionV3(nnx.Module):
  """stem convs + 2 max-pools → Mixed_5b…7c → global mean (2048-d embedding) → Linear.
  Inputs of at least 75×75 pixels."""

  def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, rngs: nnx.Rngs):
    self.Conv2d_1a_3x3 = ConvBN(in_channels, 32, 3, 2, rngs=rngs)
    self.Conv2d_2a_3x3 = ConvBN(32, 32, 3, rngs=rngs)
    self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, 1, 1, rngs=rngs)
    self.Conv2d_3b_1x1 = ConvBN(64, 80, 1, rngs=rngs)
    self.Conv2d_4a_3x3 = ConvBN(80, 192, 3, rngs=rngs)
    self.Mixed_5b = Mixed(_block_a(192, 32), rngs=rngs)
    self.Mixed_5c = Mixed(_block_a(256, 64), rngs=rngs)
    self.Mixed_5d = Mixed(_block_a(288, 64), rngs=rngs)
    self.Mixed_6a = Mixed(_block_b(288), rngs=rngs)
    self.Mixed_6b = Mixed(_block_c(768, 128), rngs=rngs)
    self.Mixed_6c = Mixed(_block_c(768, 160), rngs=rngs)
    self.Mixed_6d = Mixed(_block_c(768, 160), rngs=rngs)
    self.Mixed_6e = Mixed(_block_c(768, 192), rngs=rngs)
    self.Mixed_7a = Mixed(_block_d(768), rngs=rngs)
    self.Mixed_7b = Mixed(_block_e(1280), rngs=rngs)
    self.Mixed_7c = Mixed(_block_e(2048), rngs=rngs)
    self.head = nnx.Linear(2048, num_classes, rngs=rngs) if num_classes else None

  def forward_features(self, images):
    x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(images)))
    x = layers.max_pool_torch(x, 3, 2, 0)
    x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
    x = layers.max_pool_torch(x, 3, 2, 0)
    for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
      x = block(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)


# --- Inception-v4 (Szegedy et al. 2017, "Inception-v4, Inception-ResNet and the Impact of Residual
# Connections on Learning"), timm's inception_v4.py: branch Sequentials are named branch<i>_<j> here.

def _v4_stem_mixed():
  mixed3a = (("max", (), ()), ("", (("conv", 64, 96, 3, 2),), ()))
  row, column = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
  mixed4a = (("", (("branch0_0", 160, 64), ("branch0_1", 64, 96, 3)), ()),
             ("", (("branch1_0", 160, 64), ("branch1_1", 64, 64, *row), ("branch1_2", 64, 64, *column),
                   ("branch1_3", 64, 96, 3)), ()))
  mixed5a = (("", (("conv", 192, 192, 3, 2),), ()), ("max", (), ()))
  return mixed3a, mixed4a, mixed5a


def _v4_a():
  return (("", (("branch0", 384, 96),), ()),
          ("", (("branch1_0", 384, 64), ("branch1_1", 64, 96, 3, 1, 1)), ()),
          ("", (("branch2_0", 384, 64), ("branch2_1", 64, 96, 3, 1, 1), ("branch2_2", 96, 96, 3, 1, 1)), ()),
          ("avg_valid", (("branch3_1", 384, 96),), ()))


def _v4_reduction_a():
  return (("", (("branch0", 384, 384, 3, 2),), ()),
          ("", (("branch1_0", 384, 192), ("branch1_1", 192, 224, 3, 1, 1), ("branch1_2", 224, 256, 3, 2)), ()),
          ("max", (), ()))


def _v4_b():
  row, column = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
  return (("", (("branch0", 1024, 384),), ()),
          ("", (("branch1_0", 1024, 192), ("branch1_1", 192, 224, *row), ("branch1_2", 224, 256, *column)), ()),
          ("", (("branch2_0", 1024, 192), ("branch2_1", 192, 192, *column), ("branch2_2", 192, 224, *row),
                ("branch2_3", 224, 224, *column), ("branch2_4", 224, 256, *row)), ()),
          ("avg_valid", (("branch3_1", 1024, 128),), ()))


def _v4_reduction_b():
  row, column = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
  return (("", (("branch0_0", 1024, 192), ("branch0_1", 192, 192, 3, 2)), ()),
          ("", (("branch1_0", 1024, 256), ("branch1_1", 256, 256, *row), ("branch1_2", 256, 320, *column),
                ("branch1_3", 320, 320, 3, 2)), ()),
          ("max", (), ()))


def _v4_c():
  def fork(prefix, features):
    return ((f"{prefix}a", features, 256, (1, 3), 1, (0, 1)), (f"{prefix}b", features, 256, (3, 1), 1, (1, 0)))
  return (("", (("branch0", 1536, 256),), ()),
          ("", (("branch1_0", 1536, 384),), fork("branch1_1", 384)),
          ("", (("branch2_0", 1536, 384), ("branch2_1", 384, 448, (3, 1), 1, (1, 0)),
                ("branch2_2", 448, 512, (1, 3), 1, (0, 1))), fork("branch2_3", 512)),
          ("avg_valid", (("branch3_1", 1536, 256),), ()))


class InceptionV4(nnx.Module):
  """3 stem convs → Mixed 3a/4a/5a → 4 × A → reduction A → 7 × B → reduction B → 3 × C →
  global mean (1536-d embedding) → Linear. Inputs of at least 107×107 pixels."""

  def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, rngs: nnx.Rngs):
    stem = [ConvBN(in_channels, 32, 3, 2, rngs=rngs), ConvBN(32, 32, 3, rngs=rngs), ConvBN(32, 64, 3, 1, 1, rngs=rngs)]
    blocks = [*_v4_stem_mixed(), *[_v4_a()] * 4, _v4_reduction_a(), *[_v4_b()] * 7, _v4_reduction_b(), *[_v4_c()] * 3]
    self.features = nnx.List(stem + [Mixed(block, rngs=rngs) for block in blocks])
    self.head = nnx.Linear(1536, num_classes, rngs=rngs) if num_classes else None

  def __call__(self, images):
    x = images
    for layer in self.features:
      x = layer(x)
    return layers.pool_and_classify(x, self.head)


# --- Inception-ResNet-v2 (the same paper), timm's inception_resnet_v2.py --------------------------------

class ResidualMixed(Mixed):
  """x + scale · conv2d(Mixed(x)) (conv2d: 1×1 with bias), then ReLU unless ``relu`` is False."""

  def __init__(self, branches, in_features: int, mixed_features: int, scale: float, relu: bool = True, *,
               rngs: nnx.Rngs):
    super().__init__(branches, rngs=rngs)
    self.conv2d = layers.conv(mixed_features, in_features, 1, bias=True, rngs=rngs)
    self.scale, self.relu = scale, relu

  def __call__(self, x):
    y = x + self.scale * self.conv2d(super().__call__(x))
    return nnx.relu(y) if self.relu else y


def _resnet_v2_blocks():
  row, column = ((1, 7), 1, (0, 3)), ((7, 1), 1, (3, 0))
  mixed_5b = (("", (("branch0", 192, 96),), ()),
              ("", (("branch1_0", 192, 48), ("branch1_1", 48, 64, 5, 1, 2)), ()),
              ("", (("branch2_0", 192, 64), ("branch2_1", 64, 96, 3, 1, 1), ("branch2_2", 96, 96, 3, 1, 1)), ()),
              ("avg_valid", (("branch3_1", 192, 64),), ()))
  block35 = (("", (("branch0", 320, 32),), ()),
             ("", (("branch1_0", 320, 32), ("branch1_1", 32, 32, 3, 1, 1)), ()),
             ("", (("branch2_0", 320, 32), ("branch2_1", 32, 48, 3, 1, 1), ("branch2_2", 48, 64, 3, 1, 1)), ()))
  mixed_6a = (("", (("branch0", 320, 384, 3, 2),), ()),
              ("", (("branch1_0", 320, 256), ("branch1_1", 256, 256, 3, 1, 1), ("branch1_2", 256, 384, 3, 2)), ()),
              ("max", (), ()))
  block17 = (("", (("branch0", 1088, 192),), ()),
             ("", (("branch1_0", 1088, 128), ("branch1_1", 128, 160, *row), ("branch1_2", 160, 192, *column)), ()))
  mixed_7a = (("", (("branch0_0", 1088, 256), ("branch0_1", 256, 384, 3, 2)), ()),
              ("", (("branch1_0", 1088, 256), ("branch1_1", 256, 288, 3, 2)), ()),
              ("", (("branch2_0", 1088, 256), ("branch2_1", 256, 288, 3, 1, 1), ("branch2_2", 288, 320, 3, 2)), ()),
              ("max", (), ()))
  block8 = (("", (("branch0", 2080, 192),), ()),
            ("", (("branch1_0", 2080, 192), ("branch1_1", 192, 224, (1, 3), 1, (0, 1)),
                  ("branch1_2", 224, 256, (3, 1), 1, (1, 0))), ()))
  return mixed_5b, block35, mixed_6a, block17, mixed_7a, block8


class InceptionResNetV2(nnx.Module):
  """stem (as Inception-v3's) → Mixed 5b → 10 × block35 (scale 0.17) → Mixed 6a → 20 × block17
  (0.10) → Mixed 7a → 9 × block8 (0.20) → block8 (scale 1, no ReLU) → 1×1 conv to 1536 →
  global mean (the embedding) → Linear. Names as timm's (Sequentials' members branch<i>_<j>)."""

  def __init__(self, num_classes: int = 1000, in_channels: int = 3, *, rngs: nnx.Rngs):
    mixed_5b, block35, mixed_6a, block17, mixed_7a, block8 = _resnet_v2_blocks()
    self.conv2d_1a = ConvBN(in_channels, 32, 3, 2, rngs=rngs)
    self.conv2d_2a = ConvBN(32, 32, 3, rngs=rngs)
    self.conv2d_2b = ConvBN(32, 64, 3, 1, 1, rngs=rngs)
    self.conv2d_3b = ConvBN(64, 80, 1, rngs=rngs)
    self.conv2d_4a = ConvBN(80, 192, 3, rngs=rngs)
    self.mixed_5b = Mixed(mixed_5b, rngs=rngs)
    self.repeat = nnx.List([ResidualMixed(block35, 320, 128, 0.17, rngs=rngs) for _ in range(10)])
    self.mixed_6a = Mixed(mixed_6a, rngs=rngs)
    self.repeat_1 = nnx.List([ResidualMixed(block17, 1088, 384, 0.10, rngs=rngs) for _ in range(20)])
    self.mixed_7a = Mixed(mixed_7a, rngs=rngs)
    self.repeat_2 = nnx.List([ResidualMixed(block8, 2080, 448, 0.20, rngs=rngs) for _ in range(9)])
    self.block8 = ResidualMixed(block8, 2080, 448, 1.0, relu=False, rngs=rngs)
    self.conv2d_7b = ConvBN(2080, 1536, 1, rngs=rngs)
    self.head = nnx.Linear(1536, num_classes, rngs=rngs) if num_classes else None

  def __call__(self, images):
    x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(images)))
    x = self.conv2d_4a(self.conv2d_3b(layers.max_pool_torch(x, 3, 2, 0)))
    x = self.mixed_5b(layers.max_pool_torch(x, 3, 2, 0))
    for block in self.repeat:
      x = block(x)
    x = self.mixed_6a(x)
    for block in self.repeat_1:
      x = block(x)
    x = self.mixed_7a(x)
    for block in self.repeat_2:
      x = block(x)
    return layers.pool_and_classify(self.conv2d_7b(self.block8(x)), self.head)
