"""CoaT and CoaT-Lite (Xu et al. 2021, "Co-Scale Conv-Attentional Image Transformers"), the layout
and semantics of timm's ``CoaT`` (timm/models/coat.py).

4 serial stages, each: patch embedding (p×p/p conv, p = ``patch_size`` then 2 → LayerNorm ε 1e-5)
→ a class token prepended → blocks, each x ← cpe(x); x + attn(LN(x)); x + mlp(LN(x)) (LayerNorm
ε 1e-6, GELU MLP) → the class token dropped, the tokens reshaped to the next stage's map. The
stage's cpe (x + dwconv₃ₓ₃(x) on the image tokens, the class token passed through) and crpe are
shared by its blocks. CoaT-Lite's head (``parallel_depth`` 0): LayerNorm ε 1e-6 of the last stage →
its class token (the embedding) → Linear.

CoaT adds ``parallel_depth`` parallel blocks over stages 2-4 (each stage's cpe first): per stage
a_i = attn_i(LN(x_i)) (the stage's crpe), then x_i + a_i + Σ_j resize(a_j) over the other two stages
(PyTorch's bilinear F.interpolate, align_corners False, on the image tokens; the class tokens added
as they are), then x_i + mlp(LN(x_i)) with one MLP shared by the three stages. Head: LayerNorm of
stages 2-4 → their class tokens [B, 3, C] → ``aggregate`` (Conv1d 3 → 1, kernel 1: the embedding)
→ Linear.

Factorized attention with convolutional relative position encoding, per head (q, k, v: N × d):
  out = d^-½ · q (softmax_N(k)ᵀ v) + [0; q_img ⊙ dwconv(v_img)],
the depthwise conv over the image tokens' map with window w on each group of heads of
``crpe_window`` (timm's default {3: 2, 5: 3, 7: 3}), the class token's row zero.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.pvt_v2 import BLOCK_NORM_EPS
from zoo.architectures.transformer import Mlp
from zoo.architectures.twins import PatchEmbed, PosConv


@dataclasses.dataclass(frozen=True)
class CoatConfig:
  """Defaults: CoaT-Lite Small. ``crpe_window``: (window, heads) pairs, the heads summing to num_heads."""
  patch_size: int = 4
  embed_dims: tuple[int, ...] = (64, 128, 320, 512)
  serial_depths: tuple[int, ...] = (3, 4, 6, 3)
  mlp_ratios: tuple[float, ...] = (8.0, 8.0, 4.0, 4.0)
  num_heads: int = 8
  qkv_bias: bool = True
  crpe_window: tuple[tuple[int, int], ...] = ((3, 2), (5, 3), (7, 3))
  parallel_depth: int = 0
  num_channels: int = 3
  num_classes: int = 1000

  def __post_init__(self):
    if len(self.embed_dims) != len(self.serial_depths) or len(self.mlp_ratios) != len(self.serial_depths):
      raise ValueError(f"CoaT embed_dims {self.embed_dims}, serial_depths {self.serial_depths} and mlp_ratios "
                       f"{self.mlp_ratios} need one entry per stage.")
    if sum(heads for _, heads in self.crpe_window) != self.num_heads:
      raise ValueError(f"CoaT crpe_window {self.crpe_window} must split all {self.num_heads} heads.")
    if self.parallel_depth and (len(self.embed_dims) != 4 or len(set(self.embed_dims[1:])) != 1
                                or len(set(self.mlp_ratios[1:])) != 1):
      raise ValueError(f"CoaT's parallel blocks need 4 stages with equal embed_dims {self.embed_dims[1:]} and "
                       f"mlp_ratios {self.mlp_ratios[1:]} over stages 2-4.")
    if any(width % self.num_heads for width in self.embed_dims):
      raise ValueError(f"CoaT embed_dims {self.embed_dims} must be divisible by num_heads {self.num_heads}.")


class ConvRelPosEnc(nnx.Module):
  """q_img ⊙ dwconv_w(v_img) per group of heads (timm's ConvRelPosEnc), a zero row for the class token."""

  def __init__(self, head_dim: int, windows: tuple[tuple[int, int], ...], *, rngs: nnx.Rngs):
    self.channel_splits = tuple(heads * head_dim for _, heads in windows)
    self.convs = nnx.List([layers.conv(channels, channels, window, groups=channels, bias=True, rngs=rngs)
                           for (window, _), channels in zip(windows, self.channel_splits)])

  def __call__(self, q, v, height: int, width: int):
    batch, tokens, heads, head_dim = v.shape  # [B, N, h, d]
    v_map = v[:, 1:].reshape(batch, height, width, heads * head_dim)  # channel = head · d + i, as timm's
    bounds = [sum(self.channel_splits[:i]) for i in range(1, len(self.channel_splits))]
    parts = jnp.split(v_map, bounds, axis=-1)
    conv_v = jnp.concatenate([conv(part) for conv, part in zip(self.convs, parts)], axis=-1)
    encoded = q[:, 1:] * conv_v.reshape(batch, height * width, heads, head_dim)
    return jnp.pad(encoded, ((0, 0), (1, 0), (0, 0), (0, 0)))


class FactorAttnConvRelPosEnc(nnx.Module):
  """proj(d^-½ · q (softmax_N(k)ᵀ v) + crpe(q, v)) over [B, 1 + H·W, C] tokens; ``qkv`` output [q | k | v]."""

  def __init__(self, width: int, num_heads: int, qkv_bias: bool, *, rngs: nnx.Rngs):
    self.num_heads = num_heads
    self.qkv = nnx.Linear(width, 3 * width, use_bias=qkv_bias, rngs=rngs)
    self.proj = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, x, crpe: ConvRelPosEnc, height: int, width: int):
    batch, tokens, channels = x.shape
    head_dim = channels // self.num_heads
    q, k, v = (y.reshape(batch, tokens, self.num_heads, head_dim) for y in jnp.split(self.qkv(x), 3, axis=-1))
    k_softmax = jax.nn.softmax(k.astype(jnp.float32), axis=1).astype(v.dtype)  # over tokens, per channel
    context = jnp.einsum("bnhd,bnhe->bhde", k_softmax, v)
    factor = jnp.einsum("bnhd,bhde->bnhe", q, context)
    attended = head_dim ** -0.5 * factor + crpe(q, v, height, width)
    return self.proj(attended.reshape(batch, tokens, channels))


def cpe_tokens(cpe: PosConv, x, height: int, width: int):
  """timm's ConvPosEnc on [class token; image tokens]: the image tokens' map through ``cpe``."""
  image = cpe(x[:, 1:].reshape(x.shape[0], height, width, x.shape[-1]))
  return jnp.concatenate([x[:, :1], image.reshape(x.shape[0], height * width, -1)], axis=1)


class SerialBlock(nnx.Module):
  """x ← cpe(x); x + attn(norm1(x)); x + mlp(norm2(x)), the stage's shared cpe and crpe passed in."""

  def __init__(self, config: CoatConfig, stage: int, *, rngs: nnx.Rngs):
    width = config.embed_dims[stage]
    self.norm1 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.factoratt_crpe = FactorAttnConvRelPosEnc(width, config.num_heads, config.qkv_bias, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.mlp = Mlp(width, int(width * config.mlp_ratios[stage]), "gelu", rngs=rngs)

  def __call__(self, x, cpe: PosConv, crpe: ConvRelPosEnc, height: int, width: int):
    x = cpe_tokens(cpe, x, height, width)
    x = x + self.factoratt_crpe(self.norm1(x), crpe, height, width)
    return x + self.mlp(self.norm2(x))


class CoatStage(nnx.Module):
  """patch_embed → [class token; tokens] → serial blocks sharing ``cpe`` and ``crpe``."""

  def __init__(self, config: CoatConfig, stage: int, *, rngs: nnx.Rngs):
    width = config.embed_dims[stage]
    in_width = config.embed_dims[stage - 1] if stage else config.num_channels
    self.patch_embed = PatchEmbed(in_width, width, config.patch_size if stage == 0 else 2, rngs=rngs)
    self.cls_token = nnx.Param(jnp.zeros((1, 1, width)))
    self.cpe = PosConv(width, rngs=rngs)
    self.crpe = ConvRelPosEnc(width // config.num_heads, config.crpe_window, rngs=rngs)
    self.blocks = nnx.List([SerialBlock(config, stage, rngs=rngs) for _ in range(config.serial_depths[stage])])

  def __call__(self, feature_map):
    """NHWC map → (tokens [B, 1 + H·W, C], H, W)."""
    x = self.patch_embed(feature_map)
    batch, height, width, channels = x.shape
    cls_token = jnp.broadcast_to(self.cls_token[...].astype(x.dtype), (batch, 1, channels))
    x = jnp.concatenate([cls_token, x.reshape(batch, height * width, channels)], axis=1)
    for block in self.blocks:
      x = block(x, self.cpe, self.crpe, height, width)
    return x, height, width

  def cpe_tokens(self, x, height: int, width: int):
    return cpe_tokens(self.cpe, x, height, width)


def resize_tokens(x, from_hw: tuple[int, int], to_hw: tuple[int, int]):
  """[class token; image tokens] with the image tokens' map resized from ``from_hw`` to ``to_hw`` as
  timm's ParallelBlock.interpolate: bilinear F.interpolate (align_corners False) by a power-of-two
  factor, which equals the size-based resize only when the sizes are exact multiples (else ValueError)."""
  (height, width), (out_height, out_width) = from_hw, to_hw
  if not (out_height * width == out_width * height and max(height, out_height) % min(height, out_height) == 0):
    raise ValueError(f"CoaT's parallel blocks need stage maps that halve exactly; got {from_hw} → {to_hw} "
                     "(the input side must be a multiple of 8 × patch_size, e.g. 32 for patch 4).")
  rows = jnp.asarray(layers.torch_resize_matrix(height, out_height, "bilinear"))
  cols = jnp.asarray(layers.torch_resize_matrix(width, out_width, "bilinear"))
  image = x[:, 1:].reshape(x.shape[0], height, width, x.shape[-1])
  resized = jnp.einsum("ih,bhwc,jw->bijc", rows, image.astype(jnp.float32), cols,
                       precision=jax.lax.Precision.HIGHEST).astype(x.dtype)
  return jnp.concatenate([x[:, :1], resized.reshape(x.shape[0], out_height * out_width, -1)], axis=1)


class ParallelBlock(nnx.Module):
  """One co-scale step over stages 2-4 (timm's ParallelBlock; its norm1<s>, factoratt_crpe<s>, norm2<s>
  as lists over s = 2, 3, 4): attention per stage, each stage adding the others' resized attention
  outputs, then one MLP shared by the three stages."""

  def __init__(self, config: CoatConfig, *, rngs: nnx.Rngs):
    width = config.embed_dims[1]
    norm = lambda: nnx.LayerNorm(width, epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.norms1 = nnx.List([norm() for _ in range(3)])
    self.attns = nnx.List([FactorAttnConvRelPosEnc(width, config.num_heads, config.qkv_bias, rngs=rngs)
                           for _ in range(3)])
    self.norms2 = nnx.List([norm() for _ in range(3)])
    self.mlp = Mlp(width, int(width * config.mlp_ratios[1]), "gelu", rngs=rngs)

  def __call__(self, xs: list, crpes: list, sizes: list) -> list:
    """``xs``, ``crpes``, ``sizes``: stages 2-4's tokens, shared crpe and (H, W)."""
    attended = [attn(norm(x), crpe, *size)
                for attn, norm, x, crpe, size in zip(self.attns, self.norms1, xs, crpes, sizes)]
    mixed = [sum((attended[j] if j == i else resize_tokens(attended[j], sizes[j], sizes[i]) for j in range(3)),
                 start=0.0) for i in range(3)]
    xs = [x + m for x, m in zip(xs, mixed)]
    return [x + self.mlp(norm(x)) for x, norm in zip(xs, self.norms2)]


class CoaT(nnx.Module):
  """CoaT-Lite: the embedding is the class token of norm4(last stage); CoaT: ``aggregate`` of the class
  tokens of norm2-4(stages 2-4) (timm's forward_head, global_pool 'token')."""

  def __init__(self, config: CoatConfig, *, rngs: nnx.Rngs):
    dims = config.embed_dims
    self.stages = nnx.List([CoatStage(config, stage, rngs=rngs) for stage in range(len(dims))])
    self.parallel_blocks = nnx.List([ParallelBlock(config, rngs=rngs) for _ in range(config.parallel_depth)])
    self.norm2 = nnx.LayerNorm(dims[1], epsilon=BLOCK_NORM_EPS, rngs=rngs) if config.parallel_depth else None
    self.norm3 = nnx.LayerNorm(dims[2], epsilon=BLOCK_NORM_EPS, rngs=rngs) if config.parallel_depth else None
    self.norm4 = nnx.LayerNorm(dims[-1], epsilon=BLOCK_NORM_EPS, rngs=rngs)
    self.aggregate = nnx.Linear(3, 1, rngs=rngs) if config.parallel_depth else None  # timm's Conv1d(3, 1, 1)
    self.head = nnx.Linear(dims[-1], config.num_classes, rngs=rngs) if config.num_classes else None

  def forward_features(self, images) -> list:
    """Each stage's [B, 1 + H·W, C] tokens and (H, W), after the parallel blocks (none for CoaT-Lite)."""
    feature_map, outputs = images, []
    for stage in self.stages:
      x, height, width = stage(feature_map)
      outputs.append((x, (height, width)))
      feature_map = x[:, 1:].reshape(x.shape[0], height, width, x.shape[-1])
    if not self.parallel_blocks:
      return outputs
    xs, sizes = [x for x, _ in outputs[1:]], [size for _, size in outputs[1:]]
    crpes = [stage.crpe for stage in self.stages[1:]]
    for block in self.parallel_blocks:
      xs = [stage.cpe_tokens(x, *size) for stage, x, size in zip(self.stages[1:], xs, sizes)]
      xs = block(xs, crpes, sizes)
    return outputs[:1] + list(zip(xs, sizes))

  def embed(self, images):
    """The pre-logits embedding [B, C]."""
    outputs = self.forward_features(images)
    if self.aggregate is None:
      return self.norm4(outputs[-1][0][:, 0])
    tokens = jnp.stack([norm(x[:, 0]) for norm, (x, _) in zip((self.norm2, self.norm3, self.norm4), outputs[1:])],
                       axis=-1)  # [B, C, 3]
    return self.aggregate(tokens)[..., 0]

  def __call__(self, images):
    """(logits, embedding); without a head the embedding twice."""
    embedding = self.embed(images)
    return (self.head(embedding) if self.head is not None else embedding), embedding
