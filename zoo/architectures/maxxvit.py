"""CoAtNet (Dai et al. 2021), MaxViT (Tu et al. 2022) and timm's MaxxViT / MaxxViT-V2 hybrids, in
timm's layout (``timm/models/maxxvit.py``), channels-last throughout.

stem (3×3 stride-2 conv, norm-act, 3×3 conv) → four stride-2 stages of blocks → final norm →
mean over positions → head. A stage's blocks are

* ``C``: a pre-norm MBConv (1×1 expand, k×k depthwise, squeeze-excite, 1×1 project; pooled
  shortcut when striding) or a ConvNeXt block (7×7 depthwise, norm, MLP, layer scale);
* ``T``: pre-norm multi-head self-attention over the whole feature map with a relative position
  bias (CoAtNet), then an MLP;
* ``M``: a conv block, then attention within non-overlapping windows ("block") and attention
  across a strided grid ("grid"), each followed by an MLP (MaxViT).

The relative position bias is a learned table indexed by query−key offset (``bias``, timm's
RelPosBias), a ReLU MLP on log-scaled offsets (``mlp``, timm's RelPosMlp 'cr' mode) or the
TensorFlow MaxViT table indexed by key−query offset (``bias_tf``). 1×1 convolutions are Linear
layers over the channel axis (the same arithmetic in NHWC). Windows and the CoAtNet bias span
fixed sizes derived from ``image_size`` (timm's models have a fixed input size).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.efficientnet import LayerScale, SqueezeExcite
from zoo.architectures.swin import partition, merge, window_relative_index
from zoo.architectures.transformer import Mlp

# timm activation names → zoo.architectures.layers.ACTIVATIONS names.
_ACTIVATIONS = {"gelu": "gelu", "gelu_tanh": "gelu_pytorch_tanh", "silu": "silu", "swish": "silu", "relu": "relu",
                "tanh": "tanh"}


@dataclasses.dataclass(frozen=True)
class MaxxVitConvConfig:
  """timm's MaxxVitConvCfg, with its ``__post_init__`` defaults resolved by the caller."""
  block_type: str = "mbconv"  # or "convnext"
  expand_ratio: float = 4.0
  expand_output: bool = True  # expansion channels from the output (else the input) width
  kernel_size: int = 3
  group_size: int = 1  # 1 = depthwise
  pre_norm_act: bool = False
  output_bias: bool = True
  stride_mode: str = "dw"  # "pool", "1x1" or "dw"
  pool_type: str = "avg2"
  downsample_pool_type: str = "avg2"
  padding: str = ""  # "" (PyTorch symmetric) or "same" (TensorFlow)
  attn_early: bool = False  # squeeze-excite before norm2
  attn_act_layer: str = "silu"
  attn_ratio: float = 0.25
  init_values: float | None = 1e-6  # ConvNeXt layer scale (none when None)
  act_layer: str = "gelu"
  norm_layer: str = "batchnorm2d"
  norm_eps: float = 1e-5


@dataclasses.dataclass(frozen=True)
class MaxxVitTransformerConfig:
  """timm's MaxxVitTransformerCfg (attention blocks)."""
  dim_head: int = 32
  head_first: bool = True  # q, k, v interleaved per head in the qkv channels (else q | k | v)
  expand_ratio: float = 4.0
  expand_first: bool = True
  shortcut_bias: bool = True
  attn_bias: bool = True
  pool_type: str = "avg2"
  rel_pos_type: str = "bias"  # "bias", "mlp", "bias_tf" or "none"
  rel_pos_dim: int = 512
  partition_ratio: int = 32
  window_size: int = 0  # 0: image_size // partition_ratio
  grid_size: int = 0  # 0: the window size
  no_block_attn: bool = False
  init_values: float | None = None
  act_layer: str = "gelu"
  norm_layer: str = "layernorm2d"
  norm_layer_cl: str = "layernorm"
  norm_eps: float = 1e-6


@dataclasses.dataclass(frozen=True)
class MaxxVitConfig:
  """timm's MaxxVitCfg plus the input: ``block_types`` holds one letter per block of each stage."""
  embed_dim: tuple[int, ...] = (96, 192, 384, 768)
  depths: tuple[int, ...] = (2, 3, 5, 2)
  block_types: tuple[tuple[str, ...], ...] = (("C",) * 2, ("C",) * 3, ("T",) * 5, ("T",) * 2)
  stem_width: tuple[int, int] = (64, 64)
  stem_bias: bool = False
  conv: MaxxVitConvConfig = MaxxVitConvConfig()
  transformer: MaxxVitTransformerConfig = MaxxVitTransformerConfig()
  head_hidden_size: int = 0  # >0: timm's NormMlpClassifierHead (pool, norm, Linear + tanh, Linear)
  image_size: int = 224
  num_channels: int = 3
  num_classes: int = 1000

  @property
  def window(self) -> int:
    return self.transformer.window_size or self.image_size // self.transformer.partition_ratio

  @property
  def grid(self) -> int:
    return self.transformer.grid_size or self.window


def _act(name: str):
  return layers.activation(_ACTIVATIONS.get(name, name))


def _norm(kind: str, dim: int, epsilon: float, rngs: nnx.Rngs):
  """timm's layernorm / layernorm2d (channels last: the same) or batchnorm2d."""
  if kind in ("layernorm", "layernorm2d"):
    return nnx.LayerNorm(dim, epsilon=epsilon, rngs=rngs)
  if kind == "batchnorm2d":
    return layers.batch_norm(dim, epsilon=epsilon, rngs=rngs)
  raise ValueError(f"MaxxViT: norm layer {kind!r} is not supported (layernorm, layernorm2d, batchnorm2d).")


def _pool(x, pool_type: str, padding: str):
  """timm's Downsample2d pooling: 'avg2' / 'max2' (2×2 stride 2), 'avg' / 'max' (3×3 stride 2 pad 1,
  the average excluding the padding); ``padding='same'`` pads 2×2 windows TensorFlow's way (zeros
  counted in the average, as timm's AvgPool2dSame)."""
  if padding == "same":
    if pool_type not in ("avg2", "max2"):
      raise ValueError(f"MaxxViT: pool_type {pool_type!r} with padding 'same' is not supported.")
    pads = [layers.tf_same_padding(n, 2, 2) for n in x.shape[1:3]]
    x = layers.pad_hw(x, *pads[0], *pads[1], value=0.0 if pool_type == "avg2" else -jnp.inf)
  if pool_type == "avg2":
    return layers.avg_pool_torch(x, 2, 2)
  if pool_type == "max2":
    return layers.max_pool_torch(x, 2, 2, 0)
  if pool_type == "avg":
    return layers.avg_pool_torch(x, 3, 2, 1, count_include_pad=False)
  if pool_type == "max":
    return layers.max_pool_torch(x, 3, 2, 1)
  raise ValueError(f"MaxxViT: pool_type {pool_type!r} is not supported (avg2, max2, avg, max).")


def _conv(in_dim: int, out_dim: int, kernel: int, padding: str, *, stride: int = 1, groups: int = 1,
          bias: bool = False, rngs: nnx.Rngs):
  """timm's create_conv2d: symmetric ((s−1) + (k−1)) // 2 padding, or TF 'SAME' for ``padding='same'``."""
  pad = "SAME" if padding == "same" else (((stride - 1) + (kernel - 1)) // 2,) * 2
  pad = pad if isinstance(pad, str) else (pad, pad)
  return layers.conv(in_dim, out_dim, kernel, stride=stride, padding=pad, groups=groups, bias=bias, rngs=rngs)


class Downsample(nnx.Module):
  """timm's Downsample2d: pool, then a 1×1 ``expand`` when the width changes."""

  def __init__(self, dim: int, out_dim: int, pool_type: str, padding: str = "", *, bias: bool = True,
               rngs: nnx.Rngs):
    self.pool_type, self.padding = pool_type, padding
    self.expand = nnx.Linear(dim, out_dim, use_bias=bias, rngs=rngs) if dim != out_dim else None

  def __call__(self, x):
    x = _pool(x, self.pool_type, self.padding)
    return self.expand(x) if self.expand is not None else x


class MbConvBlock(nnx.Module):
  """Pre-norm MBConv: shortcut + conv3(se(norm2(conv2(norm1(conv1(down(pre_norm(x))))))));
  the stride sits in the pool (``stride_mode='pool'``), the 1×1 expansion or the depthwise conv."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, cfg: MaxxVitConvConfig, *, rngs: nnx.Rngs):
    mid = layers.make_divisible((out_dim if cfg.expand_output else in_dim) * cfg.expand_ratio)
    self.shortcut = (Downsample(in_dim, out_dim, cfg.pool_type, cfg.padding, bias=cfg.output_bias, rngs=rngs)
                     if stride == 2 else None)
    self.pre_norm = _norm(cfg.norm_layer, in_dim, cfg.norm_eps, rngs)
    self.down_pool = cfg.downsample_pool_type if cfg.stride_mode == "pool" and stride == 2 else None
    self.stride_1x1 = stride if cfg.stride_mode == "1x1" else 1
    self.conv1_1x1 = nnx.Linear(in_dim, mid, use_bias=False, rngs=rngs)
    self.norm1 = _norm(cfg.norm_layer, mid, cfg.norm_eps, rngs)
    self.conv2_kxk = _conv(mid, mid, cfg.kernel_size, cfg.padding, stride=stride if cfg.stride_mode == "dw" else 1,
                           groups=mid // cfg.group_size if cfg.group_size else 1, rngs=rngs)
    se = SqueezeExcite(mid, int(cfg.attn_ratio * (out_dim if cfg.expand_output else mid)),
                       _act(cfg.attn_act_layer), rngs=rngs)
    self.se_early, self.se = (se, None) if cfg.attn_early else (None, se)
    self.norm2 = _norm(cfg.norm_layer, mid, cfg.norm_eps, rngs)
    self.conv3_1x1 = nnx.Linear(mid, out_dim, use_bias=cfg.output_bias, rngs=rngs)
    self.act, self.pre_norm_act, self.padding = _act(cfg.act_layer), cfg.pre_norm_act, cfg.padding

  def __call__(self, x):
    shortcut = self.shortcut(x) if self.shortcut is not None else x
    x = self.pre_norm(x)
    x = self.act(x) if self.pre_norm_act else x
    x = _pool(x, self.down_pool, self.padding) if self.down_pool else x
    x = self.act(self.norm1(self.conv1_1x1(x[:, ::self.stride_1x1, ::self.stride_1x1])))
    x = self.conv2_kxk(x)
    x = self.se_early(x) if self.se_early is not None else x
    x = self.act(self.norm2(x))
    x = self.se(x) if self.se is not None else x
    return self.conv3_1x1(x) + shortcut


class ConvNeXtBlock(nnx.Module):
  """timm maxxvit's ConvNeXt block: shortcut + ls(mlp(norm(conv_dw(down(x))))) with a 7×7 depthwise
  conv (widening by whole multiples where the stage widens) and an MLP of 1×1 convs."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, cfg: MaxxVitConvConfig, *, rngs: nnx.Rngs):
    if stride == 2:
      self.shortcut = Downsample(in_dim, out_dim, "avg2", rngs=rngs)  # timm: Downsample2d's defaults
    else:
      self.shortcut = nnx.Linear(in_dim, out_dim, use_bias=cfg.output_bias, rngs=rngs) if in_dim != out_dim else None
    self.down_pool = cfg.downsample_pool_type if cfg.stride_mode == "pool" and stride == 2 else None
    self.conv_dw = _conv(in_dim, out_dim, 7, "", stride=stride if cfg.stride_mode == "dw" else 1, groups=in_dim,
                         bias=cfg.output_bias, rngs=rngs)
    self.norm = _norm(cfg.norm_layer, out_dim, cfg.norm_eps, rngs)
    self.mlp = Mlp(out_dim, int(cfg.expand_ratio * out_dim), _ACTIVATIONS[cfg.act_layer], rngs=rngs)
    self.ls = LayerScale(out_dim) if cfg.init_values else None

  def __call__(self, x):
    shortcut = self.shortcut(x) if self.shortcut is not None else x
    x = _pool(x, self.down_pool, "") if self.down_pool else x
    x = self.mlp(self.norm(self.conv_dw(x)))
    return (self.ls(x) if self.ls is not None else x) + shortcut


def _cr_log_offsets(window: int) -> np.ndarray:
  """[(2w−1)², 2] timm RelPosMlp 'cr' inputs: offsets −(w−1)…w−1 as sign · ln(1 + |x|), row major."""
  offsets = np.arange(-(window - 1), window, dtype=np.float32)
  grid = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
  return (np.sign(grid) * np.log1p(np.abs(grid))).astype(np.float32)


class RelPosMlpNet(nnx.Module):
  """timm's RelPosMlp MLP: fc2(relu(fc1(offsets)))."""

  def __init__(self, hidden: int, heads: int, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(2, hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, heads, rngs=rngs)

  def __call__(self, x):
    return self.fc2(jax.nn.relu(self.fc1(x)))


class RelativePosition(nnx.Module):
  """[heads, w², w²] attention bias of a w×w window (``kind``: 'bias', 'mlp' or 'bias_tf')."""

  def __init__(self, kind: str, window: int, heads: int, hidden: int, *, rngs: nnx.Rngs):
    self.kind, self.window, self.heads = kind, window, heads
    table = (2 * window - 1) ** 2
    if kind == "bias":
      self.relative_position_bias_table = nnx.Param(jnp.zeros((table, heads)))
    elif kind == "bias_tf":
      self.relative_position_bias_table = nnx.Param(jnp.zeros((heads, 2 * window - 1, 2 * window - 1)))
    elif kind == "mlp":
      self.mlp = RelPosMlpNet(hidden, heads, rngs=rngs)
    else:
      raise ValueError(f"MaxxViT: rel_pos_type {kind!r} is not supported (bias, mlp, bias_tf).")

  def __call__(self):
    index = window_relative_index(self.window)  # query − key offsets
    if self.kind == "bias_tf":  # the TF table is indexed by key − query: the mirrored index
      table = self.relative_position_bias_table[...].reshape(self.heads, -1)
      return table[:, (2 * self.window - 1) ** 2 - 1 - index]
    table = (self.relative_position_bias_table[...] if self.kind == "bias"
             else self.mlp(jnp.asarray(_cr_log_offsets(self.window))))
    return jnp.moveaxis(table[index], -1, 0)


class Attention(nnx.Module):
  """Multi-head attention over [B, N, C] tokens with a relative position bias: fused qkv
  (``head_first``: q, k, v interleaved per head, else q | k | v), softmax(q·kᵀ/√d + bias)·v, proj."""

  def __init__(self, dim: int, attn_dim: int, out_dim: int, window: int, cfg: MaxxVitTransformerConfig, *,
               rngs: nnx.Rngs):
    self.heads, self.head_dim, self.head_first = attn_dim // cfg.dim_head, cfg.dim_head, cfg.head_first
    self.qkv = nnx.Linear(dim, 3 * attn_dim, use_bias=cfg.attn_bias, rngs=rngs)
    self.rel_pos = (RelativePosition(cfg.rel_pos_type, window, self.heads, cfg.rel_pos_dim, rngs=rngs)
                    if cfg.rel_pos_type != "none" else None)
    self.proj = nnx.Linear(attn_dim, out_dim, use_bias=cfg.attn_bias, rngs=rngs)

  def __call__(self, x):
    batch, tokens, _ = x.shape
    qkv = self.qkv(x)
    if self.head_first:
      q, k, v = jnp.split(qkv.reshape(batch, tokens, self.heads, 3 * self.head_dim), 3, axis=-1)
    else:
      q, k, v = jnp.moveaxis(qkv.reshape(batch, tokens, 3, self.heads, self.head_dim), 2, 0)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q * self.head_dim ** -0.5, k)
    if self.rel_pos is not None:
      scores = scores + self.rel_pos()[None]
    out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
    return self.proj(out.reshape(batch, tokens, -1))


def grid_partition(x, grid: int):
  """[B, H, W, C] → [B·(H/g)·(W/g), g², C]: window (i, j) holds pixels (a·H/g + i, b·W/g + j)."""
  batch, height, width, channels = x.shape
  x = x.reshape(batch, grid, height // grid, grid, width // grid, channels).transpose(0, 2, 4, 1, 3, 5)
  return x.reshape(-1, grid * grid, channels)


def grid_merge(windows, grid: int, batch: int, height: int, width: int):
  """Inverse of :func:`grid_partition`."""
  x = windows.reshape(batch, height // grid, width // grid, grid, grid, -1).transpose(0, 3, 1, 4, 2, 5)
  return x.reshape(batch, height, width, -1)


def _check_divisible(x, size: int, what: str):
  if x.shape[1] % size or x.shape[2] % size:
    raise ValueError(f"MaxxViT: a {x.shape[1]}×{x.shape[2]} feature map does not divide into {what} of {size} "
                     "(the model's image_size fixes the partition; feed images of that size).")


class PartitionAttention(nnx.Module):
  """x + ls1(attn within windows ('block') or across the grid ('grid') of norm1(x)), then
  + ls2(mlp(norm2(·))) (timm's PartitionAttentionCl)."""

  def __init__(self, dim: int, kind: str, size: int, cfg: MaxxVitTransformerConfig, *, rngs: nnx.Rngs):
    self.kind, self.size = kind, size
    self.norm1 = _norm(cfg.norm_layer_cl, dim, cfg.norm_eps, rngs)
    self.attn = Attention(dim, dim, dim, size, cfg, rngs=rngs)
    self.ls1 = LayerScale(dim) if cfg.init_values else None
    self.norm2 = _norm(cfg.norm_layer_cl, dim, cfg.norm_eps, rngs)
    self.mlp = Mlp(dim, int(dim * cfg.expand_ratio), _ACTIVATIONS[cfg.act_layer], rngs=rngs)
    self.ls2 = LayerScale(dim) if cfg.init_values else None

  def _attend(self, x):
    batch, height, width, _ = x.shape
    _check_divisible(x, self.size, f"{self.kind} partitions")
    if self.kind == "block":
      return merge(self.attn(partition(x, self.size)), self.size, batch, height, width)
    return grid_merge(self.attn(grid_partition(x, self.size)), self.size, batch, height, width)

  def __call__(self, x):
    y = self._attend(self.norm1(x))
    x = x + (self.ls1(y) if self.ls1 is not None else y)
    y = self.mlp(self.norm2(x))
    return x + (self.ls2(y) if self.ls2 is not None else y)


class TransformerBlock(nnx.Module):
  """CoAtNet's attention block (timm's TransformerBlock2d): shortcut(x) + ls1(attn(norm1(x))) over the
  whole map (pooled first when striding), then + ls2(mlp(norm2(·)))."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, feature_size: int, cfg: MaxxVitTransformerConfig, *,
               rngs: nnx.Rngs):
    self.shortcut = (Downsample(in_dim, out_dim, cfg.pool_type, bias=cfg.shortcut_bias, rngs=rngs)
                     if stride == 2 else None)
    self.down_pool = cfg.pool_type if stride == 2 else None
    self.norm1 = _norm(cfg.norm_layer, in_dim, cfg.norm_eps, rngs)
    attn_dim = out_dim if cfg.expand_first else in_dim
    self.attn = Attention(in_dim, attn_dim, out_dim, feature_size, cfg, rngs=rngs)
    self.ls1 = LayerScale(out_dim) if cfg.init_values else None
    self.norm2 = _norm(cfg.norm_layer, out_dim, cfg.norm_eps, rngs)
    self.mlp = Mlp(out_dim, int(out_dim * cfg.expand_ratio), _ACTIVATIONS[cfg.act_layer], rngs=rngs)
    self.ls2 = LayerScale(out_dim) if cfg.init_values else None

  def __call__(self, x):
    shortcut = self.shortcut(x) if self.shortcut is not None else x
    y = self.norm1(x)
    y = _pool(y, self.down_pool, "") if self.down_pool else y
    batch, height, width, channels = y.shape
    window = self.attn.rel_pos.window if self.attn.rel_pos is not None else height
    if (height, width) != (window, window):
      raise ValueError(f"MaxxViT: an attention block's position bias spans {window}² positions, "
                       f"the feature map is {height}×{width} (feed images of the model's image_size).")
    y = self.attn(y.reshape(batch, height * width, channels)).reshape(batch, height, width, -1)
    x = shortcut + (self.ls1(y) if self.ls1 is not None else y)
    y = self.mlp(self.norm2(x))
    return x + (self.ls2(y) if self.ls2 is not None else y)


class MaxxVitBlock(nnx.Module):
  """MaxViT's block: conv block, block (window) attention unless ``no_block_attn``, grid attention."""

  def __init__(self, in_dim: int, out_dim: int, stride: int, config: MaxxVitConfig, *, rngs: nnx.Rngs):
    conv_block = ConvNeXtBlock if config.conv.block_type == "convnext" else MbConvBlock
    self.conv = conv_block(in_dim, out_dim, stride, config.conv, rngs=rngs)
    self.attn_block = (None if config.transformer.no_block_attn
                       else PartitionAttention(out_dim, "block", config.window, config.transformer, rngs=rngs))
    self.attn_grid = PartitionAttention(out_dim, "grid", config.grid, config.transformer, rngs=rngs)

  def __call__(self, x):
    x = self.conv(x)
    x = self.attn_block(x) if self.attn_block is not None else x
    return self.attn_grid(x)


class MaxxVitStage(nnx.Module):
  def __init__(self, in_dim: int, out_dim: int, block_types: tuple[str, ...], feature_size: int,
               config: MaxxVitConfig, *, rngs: nnx.Rngs):
    blocks = []
    for index, kind in enumerate(block_types):
      stride = 2 if index == 0 else 1
      if kind == "C":
        conv_block = ConvNeXtBlock if config.conv.block_type == "convnext" else MbConvBlock
        blocks.append(conv_block(in_dim, out_dim, stride, config.conv, rngs=rngs))
      elif kind == "T":
        blocks.append(TransformerBlock(in_dim, out_dim, stride, feature_size, config.transformer, rngs=rngs))
      elif kind == "M":
        blocks.append(MaxxVitBlock(in_dim, out_dim, stride, config, rngs=rngs))
      else:
        raise ValueError(f"MaxxViT: block type {kind!r} is not supported (C, T, M).")
      in_dim = out_dim
    self.blocks = nnx.List(blocks)

  def __call__(self, x):
    for block in self.blocks:
      x = block(x)
    return x


class Stem(nnx.Module):
  """conv2(act(norm1(conv1(x)))), conv1 3×3 stride 2."""

  def __init__(self, config: MaxxVitConfig, *, rngs: nnx.Rngs):
    cfg, (width1, width2) = config.conv, config.stem_width
    self.conv1 = _conv(config.num_channels, width1, 3, cfg.padding, stride=2, bias=config.stem_bias, rngs=rngs)
    self.norm1 = _norm(cfg.norm_layer, width1, cfg.norm_eps, rngs)
    self.conv2 = _conv(width1, width2, 3, cfg.padding, bias=config.stem_bias, rngs=rngs)
    self.act = _act(cfg.act_layer)

  def __call__(self, x):
    return self.conv2(self.act(self.norm1(self.conv1(x))))


class MaxxVit(nnx.Module):
  """timm's MaxxVit on NHWC images of ``config.image_size``: returns (logits, embedding), the
  embedding being timm's ``forward_head(..., pre_logits=True)``."""

  def __init__(self, config: MaxxVitConfig, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = Stem(config, rngs=rngs)
    size = (config.image_size - 1) // 2 + 1
    stages, in_dim = [], config.stem_width[1]
    for out_dim, block_types in zip(config.embed_dim, config.block_types):
      size = (size - 1) // 2 + 1
      stages.append(MaxxVitStage(in_dim, out_dim, block_types, size, config, rngs=rngs))
      in_dim = out_dim
    self.stages = nnx.List(stages)
    cfg, hidden = config.transformer, config.head_hidden_size
    # timm's ClassifierHead after the final norm, or (head_hidden_size) its NormMlpClassifierHead:
    # mean over positions, norm, tanh(Linear) (the embedding), Linear
    self.norm = None if hidden else _norm(cfg.norm_layer, in_dim, cfg.norm_eps, rngs)
    self.head_norm = _norm(cfg.norm_layer, in_dim, cfg.norm_eps, rngs) if hidden else None
    self.head_pre_logits = nnx.Linear(in_dim, hidden, rngs=rngs) if hidden else None
    self.head_fc = nnx.Linear(hidden or in_dim, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    x = self.stem(images)
    for stage in self.stages:
      x = stage(x)
    embedding = jnp.mean(self.norm(x) if self.norm is not None else x, axis=(1, 2))
    if self.head_norm is not None:
      embedding = jnp.tanh(self.head_pre_logits(self.head_norm(embedding)))
    return (self.head_fc(embedding) if self.head_fc is not None else embedding), embedding
