"""CrossViT (Chen et al. 2021, "CrossViT: Cross-Attention Multi-Scale Vision Transformer for Image
Classification"), timm's layout (``timm/models/crossvit.py``, class ``CrossVit``).

Two branches see the image at their own scale (the second resized bicubically, PyTorch's
``interpolate`` without antialias, e.g. 240 → 224 px) and patch size (12 / 16; a linear patch
conv, or three convs with ReLUs in the "dagger" models), each with a class token and learned
positions (a fixed grid: the model runs at its own input size only). Each multi-scale block
runs every branch's ViT blocks, then fuses: branch i's class token, projected (LayerNorm, GELU,
Linear) to the other branch's width, cross-attends over [itself, the other branch's patch
tokens] (x₀ + attention(norm(x)), no MLP), is projected back and replaces branch i's class
token. Output: LayerNorm per branch; logits = mean of the branch heads on the class tokens;
the embedding is the concatenated class tokens.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import EncoderBlock, MultiHeadAttention

_EPS = 1e-6  # timm's partial(nn.LayerNorm, eps=1e-6)


@dataclasses.dataclass(frozen=True)
class CrossVitConfig:
  """Defaults: timm's crossvit_9_240."""
  image_size: int = 240
  branch_sizes: tuple[int, ...] = (240, 224)  # int(image_size · img_scale) per branch
  patch_sizes: tuple[int, ...] = (12, 16)
  embed_dims: tuple[int, ...] = (128, 256)
  depths: tuple[tuple[int, ...], ...] = ((1, 3, 0),) * 3  # per multi-scale block: branch depths, then fusion 0
  num_heads: tuple[int, ...] = (4, 4)
  mlp_ratios: tuple[float, ...] = (3.0, 3.0, 1.0)
  multi_conv: bool = False
  num_channels: int = 3
  num_classes: int = 1000


class PatchEmbed(nnx.Module):
  """A patch-sized strided conv, or (``multi_conv``) 7×7/4 conv, ReLU, 3×3 conv (stride 3 for 12 px
  patches, 2 for 16 px, padding 1 except the 12 px one), ReLU, 3×3 conv, as timm's ``proj`` list."""

  def __init__(self, in_features: int, width: int, patch: int, multi_conv: bool, *, rngs: nnx.Rngs):
    if not multi_conv:
      self.proj = nnx.List([nnx.Conv(in_features, width, (patch, patch), strides=patch, padding="VALID", rngs=rngs)])
      return
    second_stride, second_pad, third_stride = {12: (3, 0, 1), 16: (2, 1, 2)}[patch]
    conv = lambda i, o, k, s, p: layers.conv(i, o, k, stride=s, padding=((p, p), (p, p)), bias=True, rngs=rngs)
    self.proj = nnx.List([conv(in_features, width // 4, 7, 4, 3), layers.Activation("relu"),
                          conv(width // 4, width // 2, 3, second_stride, second_pad), layers.Activation("relu"),
                          conv(width // 2, width, 3, third_stride, 1)])

  def __call__(self, x):
    for layer in self.proj:
      x = layer(x)
    return x.reshape(x.shape[0], -1, x.shape[-1])


class Projection(nnx.Module):
  """LayerNorm → GELU → Linear (timm's projs / revert_projs entries)."""

  def __init__(self, in_features: int, out_features: int, *, rngs: nnx.Rngs):
    self.norm = nnx.LayerNorm(in_features, epsilon=_EPS, rngs=rngs)
    self.fc = nnx.Linear(in_features, out_features, rngs=rngs)

  def __call__(self, x):
    return self.fc(layers.activation("gelu")(self.norm(x)))


class CrossAttentionBlock(nnx.Module):
  """x₀ + attention of the first token over norm1(x) (timm's CrossAttentionBlock: no MLP)."""

  def __init__(self, width: int, num_heads: int, *, rngs: nnx.Rngs):
    self.norm1 = nnx.LayerNorm(width, epsilon=_EPS, rngs=rngs)
    self.attn = MultiHeadAttention(width, num_heads, qkv_bias=True, rngs=rngs)

  def __call__(self, x):
    return x[:, :1] + self.attn(self.norm1(x), num_queries=1)


class MultiScaleBlock(nnx.Module):
  def __init__(self, config: CrossVitConfig, depth: tuple[int, ...], *, rngs: nnx.Rngs):
    dims, heads, branches = config.embed_dims, config.num_heads, len(config.embed_dims)
    if depth[-1] != 0:
      raise ValueError(f"CrossViT fusion depth {depth[-1]} is not supported (timm's models use 0: one block).")
    self.blocks = nnx.List([
        nnx.List([EncoderBlock(dims[d], heads[d], int(dims[d] * config.mlp_ratios[d]), act="gelu", epsilon=_EPS,
                               fused_qkv=True, rngs=rngs) for _ in range(depth[d])]) for d in range(branches)])
    other = lambda d: (d + 1) % branches
    self.projs = nnx.List([Projection(dims[d], dims[other(d)], rngs=rngs) for d in range(branches)])
    self.fusion = nnx.List([CrossAttentionBlock(dims[other(d)], heads[other(d)], rngs=rngs) for d in range(branches)])
    self.revert_projs = nnx.List([Projection(dims[other(d)], dims[d], rngs=rngs) for d in range(branches)])

  def __call__(self, xs: list):
    outs = []
    for x, blocks in zip(xs, self.blocks):
      for block in blocks:
        x = block(x)
      outs.append(x)
    fused = []
    for i, (proj, fusion, revert) in enumerate(zip(self.projs, self.fusion, self.revert_projs)):
      other = outs[(i + 1) % len(outs)]
      cls = fusion(jnp.concatenate([proj(outs[i][:, :1]), other[:, 1:]], axis=1))
      fused.append(jnp.concatenate([revert(cls), outs[i][:, 1:]], axis=1))
    return fused


class CrossVit(nnx.Module):
  def __init__(self, config: CrossVitConfig, *, rngs: nnx.Rngs):
    self.config = config
    dims = config.embed_dims
    self.patch_embed = nnx.List([PatchEmbed(config.num_channels, d, p, config.multi_conv, rngs=rngs)
                                 for d, p in zip(dims, config.patch_sizes)])
    for i, (size, patch, width) in enumerate(zip(config.branch_sizes, config.patch_sizes, dims)):
      setattr(self, f"pos_embed_{i}", nnx.Param(jnp.zeros((1, 1 + (size // patch) ** 2, width))))
      setattr(self, f"cls_token_{i}", nnx.Param(jnp.zeros((1, 1, width))))
    self.blocks = nnx.List([MultiScaleBlock(config, depth, rngs=rngs) for depth in config.depths])
    self.norm = nnx.List([nnx.LayerNorm(d, epsilon=_EPS, rngs=rngs) for d in dims])
    self.head = nnx.List([nnx.Linear(d, config.num_classes, rngs=rngs) for d in dims]) if config.num_classes else None

  def _embed(self, images, index: int):
    size = self.config.branch_sizes[index]
    if images.shape[1:3] != (self.config.image_size, self.config.image_size):
      raise ValueError(f"CrossViT has fixed position grids for {self.config.image_size} px inputs; got "
                       f"{images.shape[1]}×{images.shape[2]} (resize images to the model's input size).")
    if size != images.shape[1]:  # timm's scale_image: F.interpolate(bicubic, align_corners=False)
      resize = jnp.asarray(layers.torch_resize_matrix(images.shape[1], size, "bicubic"))
      images = jnp.einsum("ih,bhwc,jw->bijc", resize, images, resize, precision=jax.lax.Precision.HIGHEST)
    x = self.patch_embed[index](images)
    cls = jnp.broadcast_to(getattr(self, f"cls_token_{index}")[...], (x.shape[0], 1, x.shape[-1]))
    return jnp.concatenate([cls, x], axis=1) + getattr(self, f"pos_embed_{index}")[...]

  def __call__(self, images):
    xs = [self._embed(images, i) for i in range(len(self.patch_embed))]
    for block in self.blocks:
      xs = block(xs)
    tokens = [norm(x)[:, 0] for norm, x in zip(self.norm, xs)]
    embedding = jnp.concatenate(tokens, axis=-1)
    if self.head is None:
      return embedding, embedding
    return jnp.mean(jnp.stack([head(t) for head, t in zip(self.head, tokens)]), axis=0), embedding
