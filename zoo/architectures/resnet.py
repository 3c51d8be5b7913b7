"""ResNet v1.5 (He et al. 2016, torchvision/transformers layout: stride in the 3×3 conv) and
its variants as timm names them (Bag of Tricks, He et al. 2019; SENet, Hu et al. 2018;
ECA-Net, Wang et al. 2020; ResNeXt, Xie et al. 2017).

One module serves ImageNet ResNets (7×7/2 stem + max-pool), the small Fashion-MNIST
ResNet (3×3/1 stem, no pool), ResNet-C/D/S/T (deep 3×3 stems, average-pool shortcuts),
SE and ResNeXt blocks (grouped 3×3 conv of ``floor(planes·base_width/64)·cardinality``
channels) and Caffe-style v1 blocks (stride in the first 1×1 conv, ceil-mode stem pool:
timm's legacy SENet). Converted from transformers' ``ResNetForImageClassification`` by
:mod:`zoo.converters.huggingface` and from timm by :mod:`zoo.converters.timm`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers


@dataclasses.dataclass(frozen=True)
class ResNetConfig:
  """Field names and defaults follow transformers' ``ResNetConfig`` (ResNet-50)."""
  depths: tuple[int, ...] = (3, 4, 6, 3)
  hidden_sizes: tuple[int, ...] = (256, 512, 1024, 2048)
  embedding_size: int = 64
  layer_type: str = "bottleneck"  # or "basic", "res2net" (Gao et al. 2019; timm's Bottle2neck), "resnest"
  res2net_scale: int = 4  # Res2Net: width groups of the hierarchical 3×3 convs
  radix: int = 2  # ResNeSt ("resnest", Zhang et al. 2020): split-attention branches per cardinal group
  avd_first: bool = False  # ResNeSt: strided blocks pool 3×3/2 before (True) or after the split attention
  hidden_act: str = "relu"
  downsample_in_first_stage: bool = False
  downsample_in_bottleneck: bool = False  # True = v1 (stride in the first 1×1 conv)
  num_channels: int = 3
  num_classes: int = 1000
  stem: str = "imagenet"  # or "small": 3×3 stride-1 conv, no max-pool (for 28×28 inputs); "deep",
  # "deep_tiered": three 3×3 convs (stem_width, stem_width | 3/4·stem_width, stem_width; then embedding_size)
  stem_width: int = 32
  stem_pool_ceil: bool = False  # max-pool 3/2 without padding in ceil mode (Caffe, timm's legacy SENet)
  avg_down: bool = False  # shortcut = 2×2 average pool (ceil mode, valid pixels only) → 1×1 conv → BN
  cardinality: int = 1  # groups of the 3×3 conv (ResNeXt)
  base_width: int = 64  # bottleneck width = floor(planes · base_width / 64) · cardinality
  se_reduction: int = 0  # squeeze-excitation after the last BN when > 0: channels / se_reduction hidden units
  se_divisor: int = 8  # hidden units rounded to a multiple of this (timm's make_divisible, round_limit 0)
  indexed_shortcut: bool = False  # shortcut layers held as a list (timm's nn.Sequential indices) not conv/bn
  stem_pool: str = "max"  # after an imagenet/deep stem: 3×3/2 max-pool; "avg": 2×2/2 average pool (timm's
  # aa_layer=nn.AvgPool2d); "blur": 3×3/1 max-pool, then blur pool; "conv": 3×3/2 conv+BN+act (replace_stem_pool)
  aa_pool: str = ""  # "avg" | "blur": strided blocks run the strided conv at stride 1, then this 2× downsampling
  # (timm's aa_layer: nn.AvgPool2d 2×2/2, or BlurPool2d, Zhang 2019)
  eca: bool = False  # ECA channel attention (Wang et al. 2020) after the last BN instead of SE (timm's ecaresnet*)
  act_before_se: bool = False  # activation after the last BN, before SE (timm's legacy SEResNetBlock, basic)
  # Selective kernel blocks ("sk_basic" / "sk_bottleneck": Li et al. 2019, timm's sknet.py): the 3×3 conv
  # becomes two paths (3×3, 3×3 dilated 2) mixed by a softmax attention with this reduction.
  sk_rd_ratio: float = 1 / 16
  sk_rd_divisor: int = 8
  sk_split_input: bool = True  # each path convolves its own half of the input channels


class ConvNormAct(nnx.Module):
  """Conv (PyTorch padding; a bias only with ``bias``) → BatchNorm (unless ``norm`` is False) → optional
  activation (a name of layers.ACTIVATIONS or a function)."""

  def __init__(self, in_features, out_features, kernel_size, *, stride=1, act="relu", groups=1,
               dilation: int = 1, epsilon: float = 1e-5, padding="torch", bias: bool = False, norm: bool = True,
               rngs: nnx.Rngs):
    self.conv = layers.conv(in_features, out_features, kernel_size, stride=stride, groups=groups, dilation=dilation,
                            padding=padding, bias=bias, rngs=rngs)
    self.bn = layers.batch_norm(out_features, epsilon=epsilon, rngs=rngs) if norm else None
    self.act = layers.activation(act) if isinstance(act, str) else act

  def __call__(self, x):
    x = self.conv(x)
    x = self.bn(x) if self.bn is not None else x
    return self.act(x) if self.act else x


class SqueezeExcite(nnx.Module):
  """x · σ(fc2(relu(fc1(mean_hw(x))))) with 1×1 convs (biases) as fc1 / fc2 (Hu et al. 2018)."""

  def __init__(self, features: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc1 = layers.conv(features, hidden, 1, bias=True, rngs=rngs)
    self.fc2 = layers.conv(hidden, features, 1, bias=True, rngs=rngs)

  def __call__(self, x):
    squeezed = jnp.mean(x, axis=(1, 2), keepdims=True)
    return x * jax.nn.sigmoid(self.fc2(jax.nn.relu(self.fc1(squeezed))))


class EfficientChannelAttention(nnx.Module):
  """x · σ(conv1d_k(mean_hw(x))) over the channel axis, zero padding, no bias (Wang et al. 2020, ECA-Net;
  timm's ``EcaModule``): k = t or t + 1 (odd, at least 3) with t = int(|log2(channels) + 1| / 2)."""

  def __init__(self, features: int, *, rngs: nnx.Rngs):
    t = int(abs(math.log(features, 2) + 1) / 2)
    kernel_size = max(t if t % 2 else t + 1, 3)
    padding = (kernel_size - 1) // 2
    self.conv = nnx.Conv(1, 1, (kernel_size,), padding=[(padding, padding)], use_bias=False, rngs=rngs)

  def __call__(self, x):
    squeezed = jnp.mean(x, axis=(1, 2))[..., None]  # (batch, channels, 1): channels as the 1-D conv's length
    return x * jax.nn.sigmoid(self.conv(squeezed))[:, None, None, :, 0]


def blur_pool(x):
  """Stride-2 depthwise blur with the 3×3 binomial filter [1, 2, 1]ᵀ[1, 2, 1] / 16 after a reflect
  pad of 1 (Zhang 2019; timm's ``BlurPool2d``, filt_size 3), on NHWC."""
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
  height, width = (x.shape[1] - 1) // 2 + 1, (x.shape[2] - 1) // 2 + 1
  taps = (1.0, 2.0, 1.0)
  return sum(taps[i] * taps[j] / 16 * padded[:, i:i + 2 * height - 1:2, j:j + 2 * width - 1:2]
             for i in range(3) for j in range(3))


class AvgPoolDown(nnx.Module):
  """The parameter-free first layer of an average-pool shortcut: 2×2/2 mean in ceil mode over
  valid pixels (PyTorch ``AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)``)."""

  def __call__(self, x):
    return layers.avg_pool_torch(x, 2, 2, ceil_mode=True, count_include_pad=False)


def _shortcut(config: ResNetConfig, in_features: int, out_features: int, stride: int, rngs: nnx.Rngs):
  if config.avg_down:  # (pool, conv, bn) as timm's nn.Sequential; no pool at stride 1
    pool = AvgPoolDown() if stride != 1 else layers.Identity()
    return nnx.List([pool, layers.conv(in_features, out_features, 1, rngs=rngs),
                     layers.batch_norm(out_features, rngs=rngs)])
  if config.indexed_shortcut:
    return nnx.List([layers.conv(in_features, out_features, 1, stride=stride, rngs=rngs),
                     layers.batch_norm(out_features, rngs=rngs)])
  return ConvNormAct(in_features, out_features, 1, stride=stride, act=None, rngs=rngs)


def _run_shortcut(shortcut, x):
  """The shortcut branch: identity (None), one module, or a list of layers in order."""
  if isinstance(shortcut, nnx.List):
    for layer in shortcut:
      x = layer(x)
    return x
  return x if shortcut is None else shortcut(x)


class ResidualBlock(nnx.Module):
  """act(se(layers(x)) + shortcut(x)) (the last layer ends with act too when ``act_before_se`` in a
  basic block); a 1×1 conv+BN shortcut (after a 2×2 average pool with
  ``avg_down``) when shape changes."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs):
    act = config.hidden_act
    if config.layer_type == "bottleneck":
      mid = int(out_features // 4 * config.base_width / 64) * config.cardinality
      first_stride, mid_stride = (stride, 1) if config.downsample_in_bottleneck else (1, stride)
      specs = [(in_features, mid, 1, first_stride, act, 1), (mid, mid, 3, mid_stride, act, config.cardinality),
               (mid, out_features, 1, 1, None, 1)]
    elif config.layer_type == "basic":
      if config.cardinality != 1 or config.base_width != 64:
        raise ValueError("basic ResNet blocks support only cardinality 1 and base_width 64; got "
                         f"{config.cardinality}, {config.base_width}.")
      last_act = act if config.act_before_se else None
      specs = [(in_features, out_features, 3, stride, act, 1), (out_features, out_features, 3, 1, last_act, 1)]
    else:
      raise ValueError(f"ResNet layer_type must be 'bottleneck' or 'basic'; got {config.layer_type!r}.")
    strided = 0 if config.layer_type == "basic" or config.downsample_in_bottleneck else 1
    self.aa_after = strided if config.aa_pool and stride != 1 else None  # layer index the pool follows
    self.aa_blur = config.aa_pool == "blur"
    if self.aa_after is not None:
      specs[strided] = specs[strided][:3] + (1,) + specs[strided][4:]
    self.layers = nnx.List([ConvNormAct(i, o, k, stride=s, act=a, groups=g, rngs=rngs) for i, o, k, s, a, g in specs])
    if config.eca:
      self.se = EfficientChannelAttention(out_features, rngs=rngs)
    elif config.se_reduction:
      self.se = SqueezeExcite(out_features, layers.make_divisible(out_features / config.se_reduction, config.se_divisor,
                                                                  round_limit=0.0), rngs=rngs)
    else:
      self.se = None
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = _shortcut(config, in_features, out_features, stride, rngs) if needs_projection else None
    self.act = layers.activation(act)

  def __call__(self, x):
    residual = _run_shortcut(self.shortcut, x)
    for index, layer in enumerate(self.layers):
      x = layer(x)
      if index == self.aa_after:
        x = blur_pool(x) if self.aa_blur else layers.avg_pool_torch(x, 2, 2)
    if self.se is not None:
      x = self.se(x)
    return self.act(x + residual)


class Res2NetBlock(nnx.Module):
  """Res2Net bottleneck (Gao et al. 2019, timm's ``Bottle2neck``): 1×1 conv+BN+act to ``scale``
  groups of ``width`` channels; group i (i < scale − 1) goes through its own 3×3 conv+BN+act after
  adding the previous group's output (not in a stage's first block, where each group is separate);
  the last group passes through (3×3/stride average pool in a first block); concatenated →
  1×1 conv+BN → + shortcut → act."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs):
    act, scale = config.hidden_act, config.res2net_scale
    width = int(out_features // 4 * config.base_width / 64) * config.cardinality
    self.reduce = ConvNormAct(in_features, width * scale, 1, act=act, rngs=rngs)
    self.scales = nnx.List([ConvNormAct(width, width, 3, stride=stride, act=act, groups=config.cardinality, rngs=rngs)
                            for _ in range(max(1, scale - 1))])
    self.expand = ConvNormAct(width * scale, out_features, 1, act=None, rngs=rngs)
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = _shortcut(config, in_features, out_features, stride, rngs) if needs_projection else None
    self.is_first = stride > 1 or needs_projection
    self.stride, self.scale = stride, scale
    self.act = layers.activation(act)

  def __call__(self, x):
    residual = _run_shortcut(self.shortcut, x)
    groups = jnp.split(self.reduce(x), self.scale, axis=-1)
    outputs, y = [], None
    for index, layer in enumerate(self.scales):
      y = layer(groups[index] if index == 0 or self.is_first else y + groups[index])
      outputs.append(y)
    if self.scale > 1:
      last = groups[-1]
      outputs.append(layers.avg_pool_torch(last, 3, self.stride, 1) if self.is_first else last)
    return self.act(self.expand(jnp.concatenate(outputs, axis=-1)) + residual)


class SplitAttention(nnx.Module):
  """ResNeSt split attention (timm's ``SplitAttn``): a grouped 3×3 conv+BN+ReLU to ``radix`` branches of
  ``features`` channels; weights = softmax over the branches (σ when radix is 1) of
  fc2(relu(bn1(fc1(mean_hw(Σ branches))))) per cardinal group; output = Σ weight · branch."""

  def __init__(self, features: int, *, cardinality: int, radix: int, rngs: nnx.Rngs):
    hidden = layers.make_divisible(features * radix * 0.25, 8, min_value=32)  # timm: rd_ratio 1/4, min 32
    self.conv = layers.conv(features, features * radix, 3, groups=cardinality * radix, rngs=rngs)
    self.bn0 = layers.batch_norm(features * radix, rngs=rngs)
    self.fc1 = layers.conv(features, hidden, 1, groups=cardinality, bias=True, rngs=rngs)
    self.bn1 = layers.batch_norm(hidden, rngs=rngs)
    self.fc2 = layers.conv(hidden, features * radix, 1, groups=cardinality, bias=True, rngs=rngs)
    self.cardinality, self.radix = cardinality, radix

  def __call__(self, x):
    x = jax.nn.relu(self.bn0(self.conv(x)))
    batch, features = x.shape[0], x.shape[-1] // self.radix
    branches = x.reshape(*x.shape[:3], self.radix, features)
    squeezed = jnp.mean(jnp.sum(branches, axis=3), axis=(1, 2), keepdims=True)
    logits = self.fc2(jax.nn.relu(self.bn1(self.fc1(squeezed))))  # channels ordered (group, branch, feature)
    if self.radix > 1:
      weights = jax.nn.softmax(logits.reshape(batch, self.cardinality, self.radix, -1), axis=2)
      weights = weights.transpose(0, 2, 1, 3)
    else:
      weights = jax.nn.sigmoid(logits)
    return jnp.sum(branches * weights.reshape(batch, 1, 1, self.radix, features), axis=3)


class ResNeStBlock(nnx.Module):
  """ResNeSt bottleneck (timm's ``ResNestBottleneck`` with avd): 1×1 conv+BN+act → split attention
  (stride 1) → 1×1 conv+BN → + shortcut → act; a strided block average-pools 3×3/2 (padding 1)
  before or after the split attention (``avd_first``)."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs):
    width = int(out_features // 4 * config.base_width / 64) * config.cardinality
    self.reduce = ConvNormAct(in_features, width, 1, act=config.hidden_act, rngs=rngs)
    self.split_attention = SplitAttention(width, cardinality=config.cardinality, radix=config.radix, rngs=rngs)
    self.expand = ConvNormAct(width, out_features, 1, act=None, rngs=rngs)
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = _shortcut(config, in_features, out_features, stride, rngs) if needs_projection else None
    self.stride, self.avd_first = stride, config.avd_first
    self.act = layers.activation(config.hidden_act)

  def __call__(self, x):
    residual = _run_shortcut(self.shortcut, x)
    x = self.reduce(x)
    if self.stride > 1 and self.avd_first:
      x = layers.avg_pool_torch(x, 3, self.stride, 1)
    x = self.split_attention(x)
    if self.stride > 1 and not self.avd_first:
      x = layers.avg_pool_torch(x, 3, self.stride, 1)
    return self.act(self.expand(x) + residual)


class SelectiveKernelAttention(nnx.Module):
  """softmax over paths of fc_select(relu(bn(fc_reduce(mean_hw(Σ paths))))) (1×1 convs, no bias)."""

  def __init__(self, features: int, paths: int, hidden: int, *, rngs: nnx.Rngs):
    self.fc_reduce = layers.conv(features, hidden, 1, rngs=rngs)
    self.bn = layers.batch_norm(hidden, rngs=rngs)
    self.fc_select = layers.conv(hidden, features * paths, 1, rngs=rngs)
    self.paths = paths

  def __call__(self, stacked):
    """stacked [B, H, W, paths, C] → weights [B, 1, 1, paths, C]."""
    squeezed = jnp.mean(jnp.sum(stacked, axis=3), axis=(1, 2), keepdims=True)
    logits = self.fc_select(jax.nn.relu(self.bn(self.fc_reduce(squeezed))))  # channels ordered (path, feature)
    return jax.nn.softmax(logits.reshape(*logits.shape[:3], self.paths, -1), axis=3)


class SelectiveKernel(nnx.Module):
  """timm's SelectiveKernel with its defaults (kernels 3 and 5 as 3×3 with dilation 1 and 2):
  Σ_p attention_p · path_p(x_p), x_p the p-th channel half of x (``split_input``) or x itself."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, groups: int, *,
               rngs: nnx.Rngs):
    self.split_input = config.sk_split_input
    inputs = in_features // 2 if self.split_input else in_features
    # Each path: 3×3 conv (dilation 1 or 2) → BN → ReLU, timm's ConvNormAct.
    self.paths = nnx.List([ConvNormAct(inputs, out_features, 3, stride=stride, dilation=dilation,
                                       groups=min(out_features, groups), rngs=rngs) for dilation in (1, 2)])
    hidden = layers.make_divisible(out_features * config.sk_rd_ratio, config.sk_rd_divisor)
    self.attn = SelectiveKernelAttention(out_features, 2, hidden, rngs=rngs)

  def __call__(self, x):
    inputs = jnp.split(x, 2, axis=-1) if self.split_input else (x, x)
    stacked = jnp.stack([path(part) for path, part in zip(self.paths, inputs)], axis=3)
    return jnp.sum(stacked * self.attn(stacked), axis=3)


class SelectiveKernelBlock(nnx.Module):
  """timm's SelectiveKernelBasic (conv1 = selective kernel, conv2 = 3×3 conv+BN) or
  SelectiveKernelBottleneck (1×1 conv+BN+act, selective kernel, 1×1 conv+BN); + shortcut → act."""

  def __init__(self, config: ResNetConfig, in_features: int, out_features: int, stride: int, *, rngs: nnx.Rngs):
    if config.layer_type == "sk_basic":
      self.conv1 = SelectiveKernel(config, in_features, out_features, stride, 1, rngs=rngs)
      self.conv2 = ConvNormAct(out_features, out_features, 3, act=None, rngs=rngs)
      self.conv3 = None
    else:
      width = int(out_features // 4 * config.base_width / 64) * config.cardinality
      self.conv1 = ConvNormAct(in_features, width, 1, act=config.hidden_act, rngs=rngs)
      self.conv2 = SelectiveKernel(config, width, width, stride, config.cardinality, rngs=rngs)
      self.conv3 = ConvNormAct(width, out_features, 1, act=None, rngs=rngs)
    needs_projection = in_features != out_features or stride != 1
    self.shortcut = _shortcut(config, in_features, out_features, stride, rngs) if needs_projection else None
    self.act = layers.activation(config.hidden_act)

  def __call__(self, x):
    residual = _run_shortcut(self.shortcut, x)
    x = self.conv2(self.conv1(x))
    if self.conv3 is not None:
      x = self.conv3(x)
    return self.act(x + residual)


class DeepStem(nnx.Module):
  """Three 3×3 conv+BN+act layers, the first with stride 2 (ResNet-C/D/S/T): ``layers`` hold the
  first two, ``conv``/``bn`` the last (timm's ``conv1.6`` / ``bn1``)."""

  def __init__(self, config: ResNetConfig, *, rngs: nnx.Rngs):
    width = config.stem_width
    first = 3 * (width // 4) if config.stem == "deep_tiered" else width
    act = config.hidden_act
    self.layers = nnx.List([ConvNormAct(config.num_channels, first, 3, stride=2, act=act, rngs=rngs),
                            ConvNormAct(first, width, 3, act=act, rngs=rngs)])
    self.conv = layers.conv(width, config.embedding_size, 3, rngs=rngs)
    self.bn = layers.batch_norm(config.embedding_size, rngs=rngs)
    self.act = layers.activation(act)

  def __call__(self, x):
    for layer in self.layers:
      x = layer(x)
    return self.act(self.bn(self.conv(x)))


class ResNet(nnx.Module):
  """stem → stages of residual blocks → global mean (embedding) → Linear (logits)."""

  def __init__(self, config: ResNetConfig, *, rngs: nnx.Rngs):
    self.config = config
    if config.stem == "imagenet":
      self.stem = ConvNormAct(config.num_channels, config.embedding_size, 7, stride=2, act=config.hidden_act,
                              rngs=rngs)
    elif config.stem == "small":
      self.stem = ConvNormAct(config.num_channels, config.embedding_size, 3, act=config.hidden_act, rngs=rngs)
    elif config.stem in ("deep", "deep_tiered"):
      self.stem = DeepStem(config, rngs=rngs)
    else:
      raise ValueError(f"ResNet stem must be 'imagenet', 'small', 'deep' or 'deep_tiered'; got {config.stem!r}.")
    stages, in_features = [], config.embedding_size
    for index, (depth, out_features) in enumerate(zip(config.depths, config.hidden_sizes)):
      stride = 2 if index > 0 or config.downsample_in_first_stage else 1
      block = {"res2net": Res2NetBlock, "resnest": ResNeStBlock, "sk_basic": SelectiveKernelBlock,
               "sk_bottleneck": SelectiveKernelBlock}.get(config.layer_type, ResidualBlock)
      blocks = [block(config, in_features if j == 0 else out_features, out_features,
                      stride if j == 0 else 1, rngs=rngs) for j in range(depth)]
      stages.append(nnx.List(blocks))
      in_features = out_features
    self.stages = nnx.List(stages)
    if config.stem_pool == "conv":
      self.stem_pool = ConvNormAct(config.embedding_size, config.embedding_size, 3, stride=2, act=config.hidden_act,
                                   rngs=rngs)
    elif config.stem_pool not in ("max", "avg", "blur"):
      raise ValueError(f"ResNet stem_pool must be 'max', 'avg', 'blur' or 'conv'; got {config.stem_pool!r}.")
    self.head = nnx.Linear(in_features, config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images):
    x = self.stem(images)
    if self.config.stem_pool_ceil:
      x = layers.max_pool_torch(x, 3, 2, 0, ceil_mode=True)
    elif self.config.stem_pool == "conv":
      x = self.stem_pool(x)
    elif self.config.stem_pool == "avg":
      x = layers.avg_pool_torch(x, 2, 2)
    elif self.config.stem_pool == "blur":
      x = blur_pool(layers.max_pool_torch(x, 3, 1, 1))
    elif self.config.stem != "small":
      x = layers.max_pool_torch(x, 3, 2, 1)
    for stage in self.stages:
      for block in stage:
        x = block(x)
    return x

  def __call__(self, images):
    return layers.pool_and_classify(self.forward_features(images), self.head)
