"""Layers shared by the architectures, with the exact semantics of their PyTorch originals.

Parameter names follow flax (``kernel`` HWIO / [in, out], ``scale``, ``bias``, ``mean``,
``var``, ``embedding``) so that one converter maps every family's PyTorch tensors.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def quick_gelu(x):
  """OpenAI CLIP's GELU approximation x·σ(1.702x)."""
  return x * jax.nn.sigmoid(1.702 * x)


# Activation names as in transformers configs (``hidden_act``).
ACTIVATIONS = {
    "relu": jax.nn.relu,
    "relu6": jax.nn.relu6,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_new": functools.partial(jax.nn.gelu, approximate=True),
    "gelu_pytorch_tanh": functools.partial(jax.nn.gelu, approximate=True),
    "quick_gelu": quick_gelu,
    "swish": jax.nn.silu,
    "silu": jax.nn.silu,
    "tanh": jnp.tanh,
}


def activation(name: str):
  """The activation function called ``name``; a clear error for unknown names."""
  if name not in ACTIVATIONS:
    raise ValueError(f"unsupported activation {name!r}; supported: {sorted(ACTIVATIONS)}.")
  return ACTIVATIONS[name]


def torch_padding(kernel_size: int, dilation: int = 1) -> tuple[tuple[int, int], tuple[int, int]]:
  """PyTorch's symmetric ``padding=kernel_size // 2`` as flax explicit padding pairs (a tuple:
  a module's static attributes must hash, so that one architecture compiles once)."""
  pad = dilation * (kernel_size - 1) // 2
  return ((pad, pad), (pad, pad))


def tf_same_padding(size: int, kernel_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
  """TensorFlow "SAME" padding of one spatial axis: total = max((⌈n/s⌉-1)s + (k-1)d + 1 - n, 0),
  split with the odd pixel after (timm's / transformers' dynamic padding)."""
  total = max((math.ceil(size / stride) - 1) * stride + (kernel_size - 1) * dilation + 1 - size, 0)
  return total // 2, total - total // 2


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9, *, min_value: int | None = None) -> int:
  """Channels rounded to a multiple of ``divisor`` (at least ``min_value``, default ``divisor``),
  never below ``round_limit`` · ``value`` (the TF/timm rule behind EfficientNet's round_filters,
  BiT's make_div, MobileNetV2's depth multiplier and, with round_limit 0, timm's
  squeeze-excitation widths)."""
  rounded = max(divisor if min_value is None else min_value, int(value + divisor / 2) // divisor * divisor)
  return int(rounded + divisor if rounded < round_limit * value else rounded)


def pool_and_classify(features, head):
  """Global mean of NHWC ``features`` (the embedding), then ``head`` (identity when None):
  returns (logits, embedding)."""
  embedding = jnp.mean(features, axis=(1, 2))
  return (head(embedding) if head is not None else embedding), embedding


def pad_hw(x, top: int, bottom: int, left: int, right: int, value: float = 0.0):
  """Pads an NHWC array spatially (PyTorch ``ZeroPad2d((left, right, top, bottom))``)."""
  return jnp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def conv(in_features: int, out_features: int, kernel_size: int, *, stride: int = 1, padding="torch",
         groups: int = 1, bias: bool = False, dilation: int = 1, rngs: nnx.Rngs) -> nnx.Conv:
  """An ``nnx.Conv`` with PyTorch's default symmetric padding unless ``padding`` says
  otherwise ("SAME" = TF dynamic padding, "VALID", or explicit pairs).

  "SAME" is XLA's: per spatial axis of the actual input, total = max((⌈n/s⌉-1)s + (k-1)d + 1 - n, 0)
  with the odd pixel after (:func:`tf_same_padding`), i.e. timm's ``Conv2dSame`` / ``padding='same'``
  and transformers' ``tf_padding``, at any input size."""
  if padding == "torch":
    padding = torch_padding(kernel_size, dilation)
  return nnx.Conv(in_features, out_features, (kernel_size, kernel_size), strides=stride, padding=padding,
                  feature_group_count=groups, use_bias=bias, kernel_dilation=dilation, rngs=rngs)


def batch_norm(features: int, *, epsilon: float = 1e-5, rngs: nnx.Rngs) -> nnx.BatchNorm:
  """Batch norm in inference mode (running statistics; ``model.train()`` switches to batch
  statistics), PyTorch's default epsilon and momentum (running = 0.9 running + 0.1 batch)."""
  return nnx.BatchNorm(features, use_running_average=True, epsilon=epsilon, momentum=0.9, rngs=rngs)


def _pool_extra(size: int, kernel_size: int, stride: int, padding: int, ceil_mode: bool) -> int:
  """Pixels PyTorch's pooling reads past the bottom/right padding: in ceil mode the output has
  ⌈(n + 2p - k) / s⌉ + 1 positions, less the last one if it would start in the padding."""
  if not ceil_mode:
    return 0
  out = -(-(size + 2 * padding - kernel_size) // stride) + 1
  if (out - 1) * stride >= size + padding:
    out -= 1
  return max((out - 1) * stride + kernel_size - (size + 2 * padding), 0)


def _pool_padding(x, kernel_size, stride, padding, ceil_mode):
  return [(padding, padding + _pool_extra(n, kernel_size, stride, padding, ceil_mode)) for n in x.shape[1:3]]


def max_pool_torch(x, kernel_size: int, stride: int, padding: int, *, ceil_mode: bool = False):
  """PyTorch ``MaxPool2d(kernel, stride, padding, ceil_mode)``: padding never wins the max."""
  return nnx.max_pool(x, (kernel_size, kernel_size), strides=(stride, stride),
                      padding=_pool_padding(x, kernel_size, stride, padding, ceil_mode))


def avg_pool_torch(x, kernel_size: int, stride: int, padding: int = 0, *, ceil_mode: bool = False,
                   count_include_pad: bool = True):
  """PyTorch ``AvgPool2d`` on NHWC: window sums over zero padding divided by the window's
  pixels inside the padded image (``count_include_pad``) or inside the image itself; the
  ceil-mode overhang never counts."""
  pads = _pool_padding(x, kernel_size, stride, padding, ceil_mode)
  window, strides = (1, kernel_size, kernel_size, 1), (1, stride, stride, 1)
  spatial = [(0, 0), *pads, (0, 0)]
  sums = jax.lax.reduce_window(x, 0.0, jax.lax.add, window, strides, spatial)
  ones = jnp.ones((1, *x.shape[1:3], 1), x.dtype)
  if count_include_pad:  # the symmetric padding counts, the ceil-mode overhang does not
    ones = jnp.pad(ones, ((0, 0), (padding, padding), (padding, padding), (0, 0)), constant_values=1)
    spatial = [(0, 0), *[(0, high - padding) for _, high in pads], (0, 0)]
  counts = jax.lax.reduce_window(ones, 0.0, jax.lax.add, window, strides, spatial)
  return sums / counts


def adaptive_avg_pool(x, size: tuple[int, int]):
  """PyTorch ``adaptive_avg_pool2d`` on NHWC: output cell i averages input rows
  ⌊i·n/m⌋ … ⌈(i+1)·n/m⌉ - 1 (overlapping windows when upsampling)."""
  def averaging(n, m):
    matrix = np.zeros((m, n), np.float32)
    for i in range(m):
      start, end = (i * n) // m, -(-((i + 1) * n) // m)
      matrix[i, start:end] = 1.0 / (end - start)
    return jnp.asarray(matrix, x.dtype)
  return jnp.einsum("ih,jw,bhwc->bijc", averaging(x.shape[1], size[0]), averaging(x.shape[2], size[1]), x)


class Identity(nnx.Module):
  """A parameter-free placeholder that returns its input (PyTorch ``nn.Identity``), for
  module lists whose indices must match a checkpoint's ``nn.Sequential``."""

  def __call__(self, x):
    return x


class Activation(nnx.Module):
  """A parameter-free module applying the activation called ``name`` (an ``nn.Sequential``
  entry such as timm's stem ``GELU()``, so that the list's indices match the checkpoint's)."""

  def __init__(self, name: str):
    self.function = activation(name)

  def __call__(self, x):
    return self.function(x)


class SimpleNorm(nnx.Module):
  """timm's SimpleNorm (channels last): x · rsqrt(var(x) + ε) · scale, with the unbiased
  (n − 1) variance over the last axis and no centring or bias (timm.layers.fast_norm.simple_norm)."""

  def __init__(self, features: int, *, epsilon: float = 1e-6):
    self.scale = nnx.Param(jnp.ones((features,)))
    self.epsilon = epsilon

  def __call__(self, x):
    var = jnp.var(x, axis=-1, keepdims=True, ddof=1)
    return x * jax.lax.rsqrt(var + self.epsilon) * self.scale[...]


class WeightStandardizedConv(nnx.Module):
  """Conv whose kernel is standardised per output channel before use (BiT):
  W' = (W - mean(W)) / sqrt(var(W) + eps), moments over (H, W, in) with the biased variance.
  ``padding="SAME"`` is TF's dynamic padding, an int is symmetric padding."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, stride: int = 1,
               padding="SAME", epsilon: float = 1e-8, rngs: nnx.Rngs):
    init = nnx.initializers.lecun_normal()
    self.kernel = nnx.Param(init(rngs.params(), (kernel_size, kernel_size, in_features, out_features)))
    self.stride, self.epsilon = stride, epsilon
    self.padding = padding if isinstance(padding, str) else ((padding, padding), (padding, padding))

  def __call__(self, x):
    kernel = self.kernel[...]
    mean = jnp.mean(kernel, axis=(0, 1, 2), keepdims=True)
    var = jnp.var(kernel, axis=(0, 1, 2), keepdims=True)
    kernel = (kernel - mean) * jax.lax.rsqrt(var + self.epsilon)
    return jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (self.stride, self.stride), self.padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _cubic_weight(x, a: float):
  """Keys' cubic convolution kernel with parameter ``a`` at distances ``x``."""
  x = np.abs(x)
  near = ((a + 2) * x - (a + 3)) * x * x + 1
  far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
  return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def torch_resize_matrix(in_size: int, out_size: int, mode: str = "bicubic", antialias: bool = False) -> np.ndarray:
  """[out_size, in_size] matrix M with M @ v = PyTorch's
  ``F.interpolate(v, size=out_size, mode=mode, align_corners=False, antialias=antialias)``
  along one axis (mode "bicubic" or "bilinear"), so that a 2-D resize is M_h · X · M_wᵀ.

  Without antialias: source coordinate s = (i + ½)·in/out − ½ (clamped at 0 for bilinear),
  bicubic taps at ⌊s⌋−1…⌊s⌋+2 with a = −0.75 and edge indices clamped. With antialias
  (PIL's scheme): the kernel (bicubic a = −0.5, or the triangle) is widened by in/out when
  shrinking, truncated at the borders and renormalised.
  """
  if mode not in ("bicubic", "bilinear"):
    raise ValueError(f"resize mode must be 'bicubic' or 'bilinear'; got {mode!r}.")
  scale = in_size / out_size
  matrix = np.zeros((out_size, in_size), np.float64)
  if antialias:
    kernel = (lambda x: _cubic_weight(x, -0.5)) if mode == "bicubic" else (lambda x: np.maximum(0, 1 - np.abs(x)))
    support = (2.0 if mode == "bicubic" else 1.0) * max(scale, 1.0)
    inverse = 1.0 / max(scale, 1.0)
    for i in range(out_size):
      center = scale * (i + 0.5)
      start = max(int(center - support + 0.5), 0)
      stop = min(int(center + support + 0.5), in_size)
      taps = np.arange(start, stop)
      weights = kernel((taps - center + 0.5) * inverse)
      matrix[i, taps] = weights / weights.sum()
    return matrix.astype(np.float32)
  for i in range(out_size):
    source = scale * (i + 0.5) - 0.5
    if mode == "bilinear":
      source = max(source, 0.0)
      low = int(source)
      high = low + (1 if low < in_size - 1 else 0)
      frac = source - low
      matrix[i, low] += 1 - frac
      matrix[i, high] += frac
      continue
    low = int(np.floor(source))
    frac = source - low
    for offset, weight in zip((-1, 0, 1, 2), _cubic_weight(np.array([frac + 1, frac, 1 - frac, 2 - frac]), -0.75)):
      matrix[i, min(max(low + offset, 0), in_size - 1)] += weight
  return matrix.astype(np.float32)


def resize_grid(grid, out_hw: tuple[int, int], mode: str = "bicubic", antialias: bool = False):
  """A [H, W, C] table (position embeddings, bias tables) resized to ``out_hw`` exactly as
  PyTorch's ``F.interpolate`` on [1, C, H, W]; identity when the size already matches."""
  height, width = grid.shape[:2]
  if (height, width) == tuple(out_hw):
    return grid
  rows = jnp.asarray(torch_resize_matrix(height, out_hw[0], mode, antialias))
  cols = jnp.asarray(torch_resize_matrix(width, out_hw[1], mode, antialias))
  return jnp.einsum("ih,hwc,jw->ijc", rows, grid.astype(jnp.float32), cols,
                    precision=jax.lax.Precision.HIGHEST).astype(grid.dtype)


# --- added for timm's EfficientViT / RepViT / FastViT / MambaOut / SHViT families (zoo.converters.timm_tfeff) ---
# PyTorch's nn.Hardswish: x · relu6(x + 3) / 6 (setdefault: another family may register the same name).
ACTIVATIONS.setdefault("hard_swish", jax.nn.hard_swish)


# --- added for timm's LowFormer (zoo.architectures.lowformer) ---
class TorchConvTranspose(nnx.Module):
  """PyTorch's ``nn.ConvTranspose2d`` (groups 1) on NHWC: y = conv(x dilated by ``stride``,
  the spatially flipped kernel, padding k − 1 − ``padding`` each side) + bias, so the output side
  is (n − 1)·stride − 2·padding + k. ``kernel`` holds torch's [in, out, kh, kw] weight in the
  loader's [kh, kw, out, in] layout (mapping's conv transpose)."""

  def __init__(self, in_features: int, out_features: int, kernel_size: int, *, stride: int, padding: int,
               rngs: nnx.Rngs):
    shape = (kernel_size, kernel_size, out_features, in_features)
    self.kernel = nnx.Param(nnx.initializers.lecun_normal()(rngs.params(), shape))
    self.bias = nnx.Param(jnp.zeros((out_features,)))
    self.stride, self.padding, self.kernel_size = stride, padding, kernel_size

  def __call__(self, x):
    kernel = jnp.flip(self.kernel[...], (0, 1)).swapaxes(2, 3)  # → HWIO of the equivalent direct conv
    pad = self.kernel_size - 1 - self.padding
    y = jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (1, 1), ((pad, pad), (pad, pad)),
                                     lhs_dilation=(self.stride, self.stride),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + self.bias[...].astype(x.dtype)
