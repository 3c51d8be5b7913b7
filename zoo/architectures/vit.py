"""Vision Transformer (Dosovitskiy et al. 2021) and its variants from one module:
ViT / AugReg (class token, optional tanh pre-logits), DeiT distilled (class + distillation
tokens, logits averaged), CLIP's image tower (pre-norm, no patch bias, projection),
DINOv2 (layer scale, register tokens, SwiGLU, position embeddings interpolated to the
input), the ViT-MAE encoder (the full, unmasked sequence) and timm's further options: no
class token, positions only on the patch tokens (DeiT III, FlexiViT, timm's register
models), mean-patch pooling with the final norm after the pool (timm's ``fc_norm``) and
multihead attention pooling (SigLIP's MAP head); and timm's eva.py options: rotary position
embeddings (EVA-02 and timm's SBB ViTs: fixed axial frequencies; Naver's RoPE-ViT: axial or
learned "mixed" frequencies per block and head), with or without the absolute table, q/v-only
attention biases, a split SwiGLU with its sub-LN (timm's scale_mlp); and vision_transformer_relpos.py's
relative position biases from an MLP over log-spaced offsets, per block or shared; and the hybrid
ViT (vision_transformer_hybrid.py): patches embedded from a BiT (ResNet-V2, GroupNorm + weight
standardisation) feature map instead of pixels; and timm's differential attention and parallel
(attention ∥ MLP) blocks."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.bit import BiT, BitConfig
from zoo.architectures.swin import window_relative_index
from zoo.architectures.transformer import AttentionPoolingHead, EncoderBlock, ParallelBlock

# Which prefix tokens (class, distillation, registers) have rows in the position table:
# "class": the class (and distillation) token, registers none (transformers' DINOv2);
# "all": every prefix token (timm's default); "none": only patches (timm's no_embed_class).
PREFIX_POSITIONS = ("class", "all", "none")
# "cls": class token; "cls_mean_patch": [class token, mean patch token] (DINOv2 head);
# "avg": mean of the patch tokens (timm's global_pool="avg"); "map": attention pooling.
POOLINGS = ("cls", "cls_mean_patch", "avg", "map")
# Rotary position embeddings on the patch tokens (timm's eva.py): "axial" = RotaryEmbeddingCat (fixed
# inverse-temperature frequencies per axis), "mixed" = RotaryEmbeddingMixed (learned per block and head).
ROTARY = ("axial", "mixed")


@dataclasses.dataclass(frozen=True)
class ViTConfig:
  """Defaults: ViT-B/16 at 224² as in transformers' ``ViTConfig``."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_hidden_layers: int = 12
  num_attention_heads: int = 12
  intermediate_size: int = 3072
  hidden_act: str = "gelu"
  layer_norm_eps: float = 1e-12
  qkv_bias: bool = True
  patch_bias: bool = True
  pre_norm: bool = False  # CLIP: LayerNorm on the embedded tokens before the blocks
  distillation_token: bool = False  # DeiT: a second learned token after the class token
  distilled_head: bool = False  # DeiT distilled: a head on that token, logits averaged with the class head
  representation_size: int | None = None  # AugReg/original ViT "pre_logits": Linear + tanh
  projection_dim: int | None = None  # CLIP: bias-free projection of the pooled token
  num_classes: int = 1000
  layer_scale: bool = False  # DINOv2: learned per-channel scales on both residual branches
  num_register_tokens: int = 0  # DINOv2 with registers: tokens after the class token, without positions
  swiglu: bool = False  # DINOv2-giant: SwiGLU feed-forward of width intermediate_size
  # None: inputs must be image_size²; "bicubic" / "bicubic_antialias": the patch position grid is
  # resized to the input's patch grid as transformers' interpolate_pos_encoding (DINOv2) does.
  position_interpolation: str | None = None
  pooling: str = "cls"  # one of POOLINGS
  fused_qkv: bool = False  # timm: one qkv projection per block
  class_token: bool = True  # timm's class_token=False: patch (and register) tokens only
  prefix_positions: str = "class"  # one of PREFIX_POSITIONS
  norm_after_pool: bool = False  # timm's fc_norm: the final LayerNorm on the pooled token, not the tokens
  scale_norms: bool = False  # timm's scale_attn_norm + scale_mlp_norm (BEiT-3): inner LayerNorms in each block
  post_norm: bool = False  # timm's ResPostBlock: each block's norms after its branches
  absolute_positions: bool = True  # False: no learned position table (timm's use_abs_pos_emb=False)
  key_bias: bool | None = None  # False: fused qkv without bias plus q_bias / v_bias (timm's EVA attention)
  scale_mlp_norm: bool = False  # timm's scale_mlp alone (EVA-02's sub-LN): the feed-forward's inner norm
  swiglu_packed: bool = True  # False: SwiGLU with separate gate / up projections (timm's SwiGLU)
  rotary: str | None = None  # one of ROTARY
  rotary_temperature: float = 10000.0
  rotary_xy: bool = False  # timm's rope_grid_indexing="xy": the (x, y) coordinate order instead of (y, x)
  rotary_reference_grid: int | None = None  # timm's ref_feat_shape: coordinates rescaled to this grid
  # timm's RelPosMlp ("cr" mode): the hidden width of an MLP from log-spaced patch offsets to per-head
  # attention biases, in each block or one shared by all (timm's shared_rel_pos)
  relative_position_mlp: int | None = None
  shared_relative_position: bool = False
  pool_prefix_tokens: bool = False  # timm's pool_include_prefix: "avg" / "map" over the prefix tokens too
  # the hybrid ViT: a BiT trunk (its stem and stages, no head) whose feature map the patch embedding
  # (patch_size on that map) turns into tokens
  backbone: BitConfig | None = None
  differential_attention: bool = False  # timm's attn_layer="diff" (λ_init from each block's index)
  parallel_blocks: bool = False  # timm's ParallelScalingBlock: attention and MLP from one norm, summed
  parallel_fused_out: bool = False  # one output projection of [attention, MLP] (DiffParallelScalingBlock)

  @property
  def backbone_stride(self) -> int:
    """Pixels per feature-map cell of the backbone: 4 after its stem, ×2 per stage after the first."""
    return 1 if self.backbone is None else 4 * 2 ** max(len(self.backbone.depths) - 1, 0)

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.backbone_stride // self.patch_size) ** 2


class VisionTransformer(nnx.Module):
  """patches + tokens + positions → blocks → LayerNorm → pooled token(s) → head.

  Token order: [class, distillation, registers, patches] (those present). The embedding is
  the pooled token after the final norm (and pre-logits / projection when the model has
  them): the mean of the class and distillation tokens for DeiT, the mean patch token
  (then the norm, with ``norm_after_pool``) for ``avg``, the attention-pooled token for ``map``.
  """

  def __init__(self, config: ViTConfig, *, rngs: nnx.Rngs):
    _check(config)
    self.config = config
    width = config.hidden_size
    normal = nnx.initializers.normal(0.02)
    token = lambda count: nnx.Param(normal(rngs.params(), (1, count, width)))
    self.backbone = (BiT(dataclasses.replace(config.backbone, num_classes=0), rngs=rngs)
                     if config.backbone is not None else None)
    self.patch_embed = layers.conv(_embedded_channels(config), width, config.patch_size, stride=config.patch_size,
                                   padding="VALID", bias=config.patch_bias, rngs=rngs)
    self.cls_token = token(1) if config.class_token else None
    self.dist_token = token(1) if config.distillation_token else None
    self.pos_embed = (token(config.num_patches + self._positioned_prefix())  # (creation order: the seeded init)
                      if config.absolute_positions else None)
    self.reg_token = token(config.num_register_tokens) if config.num_register_tokens else None
    self.norm_pre = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs) if config.pre_norm else None
    self.blocks = nnx.List([_block(config, index, rngs) for index in range(config.num_hidden_layers)])
    relative = lambda: RelativePositionMlp(config.relative_position_mlp, config.num_attention_heads, rngs=rngs)
    biased, shared = config.relative_position_mlp is not None, config.shared_relative_position
    self.rel_pos = nnx.List([relative() for _ in range(config.num_hidden_layers)]) if biased and not shared else None
    self.shared_rel_pos = relative() if biased and shared else None
    # timm's init_random_2d_freqs without the random rotation (a pretrained table replaces it)
    self.rope_freqs = (nnx.Param(jnp.asarray(np.broadcast_to(
        _mixed_frequencies(self._head_dim, config.rotary_temperature),
        (2, config.num_hidden_layers, config.num_attention_heads, self._head_dim // 2))))
                       if config.rotary == "mixed" else None)
    self.norm = nnx.LayerNorm(width, epsilon=config.layer_norm_eps, rngs=rngs)
    self.attn_pool = (AttentionPoolingHead(width, config.num_attention_heads, config.intermediate_size,
                                           act=config.hidden_act, epsilon=config.layer_norm_eps,
                                           packed_projection=False, rngs=rngs)
                      if config.pooling == "map" else None)
    self.pre_logits = (nnx.Linear(width, config.representation_size, rngs=rngs)
                       if config.representation_size else None)
    self.projection = (nnx.Linear(width, config.projection_dim, use_bias=False, rngs=rngs)
                       if config.projection_dim else None)
    features = config.representation_size or config.projection_dim or width
    features = 2 * width if config.pooling == "cls_mean_patch" else features
    self.head = nnx.Linear(features, config.num_classes, rngs=rngs) if config.num_classes else None
    self.head_dist = (nnx.Linear(width, config.num_classes, rngs=rngs)
                      if config.distilled_head and config.num_classes else None)

  def _class_tokens(self) -> list:
    return [t for t in (self.cls_token, self.dist_token) if t is not None]

  def _positioned_prefix(self) -> int:
    """Prefix tokens that have a row in the position table (see PREFIX_POSITIONS)."""
    classes = int(self.config.class_token) + int(self.config.distillation_token)
    return {"class": classes, "all": classes + self.config.num_register_tokens, "none": 0}[
        self.config.prefix_positions]

  def forward_features(self, images):
    """Token sequence [B, tokens, width] after the blocks and (unless ``norm_after_pool``) the
    final LayerNorm."""
    if images.shape[1:3] != (self.config.image_size,) * 2 and self.config.position_interpolation is None:
      raise ValueError(f"ViT expects {self.config.image_size}² images (its position embeddings); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    x = self.patch_embed(self.backbone.forward_features(images) if self.backbone is not None else images)
    batch, grid_h, grid_w, width = x.shape
    x = x.reshape(batch, -1, width)
    expand = lambda t: jnp.broadcast_to(t[...], (batch,) + t.shape[1:]).astype(x.dtype)
    classes = [expand(t) for t in self._class_tokens()]
    registers = [expand(self.reg_token)] if self.reg_token is not None else []
    mode = self.config.prefix_positions
    if self.pos_embed is None:
      x = jnp.concatenate(classes + registers + [x], axis=1)
    elif mode == "none":  # positions on the patches, then the prefix tokens (timm's no_embed_class)
      x = jnp.concatenate(classes + registers + [x + self._positions(grid_h, grid_w, 0).astype(x.dtype)], axis=1)
    elif mode == "all":
      x = jnp.concatenate(classes + registers + [x], axis=1) + self._positions(
          grid_h, grid_w, self._positioned_prefix()).astype(x.dtype)
    else:  # registers carry no position (transformers' DINOv2 adds them after)
      x = jnp.concatenate(classes + [x], axis=1) + self._positions(grid_h, grid_w, len(classes)).astype(x.dtype)
      x = jnp.concatenate([x[:, :len(classes)]] + registers + [x[:, len(classes):]], axis=1)
    if self.norm_pre is not None:
      x = self.norm_pre(x)
    shared = self.shared_rel_pos(grid_h, grid_w, self.num_prefix_tokens) if self.shared_rel_pos is not None else None
    for index, block in enumerate(self.blocks):
      bias = self.rel_pos[index](grid_h, grid_w, self.num_prefix_tokens) if self.rel_pos is not None else shared
      x = block(x, bias=bias, rotary=self._rotary(grid_h, grid_w, index, x.dtype))
    return x if self.config.norm_after_pool else self.norm(x)

  @property
  def _head_dim(self) -> int:
    return self.config.hidden_size // self.config.num_attention_heads

  def _rotary(self, grid_h: int, grid_w: int, block: int, dtype):
    """Block ``block``'s (sin, cos) [tokens, heads or 1, d_head] (see transformer.rotate_pairs), the
    prefix tokens' rows the identity (timm rotates only the patch tokens); None without rotary."""
    if self.config.rotary is None:
      return None
    coordinates = _grid_coordinates(grid_h, grid_w, self.config.rotary_xy, self.config.rotary_reference_grid)
    if self.config.rotary == "axial":  # [tokens, 2, d/4] angles: each axis by the same inverse frequencies
      inverse = self.config.rotary_temperature ** -(np.arange(self._head_dim // 4, dtype=np.float32)
                                                    / (self._head_dim // 4))
      angles = jnp.asarray((coordinates[:, :, None] * inverse).reshape(-1, 1, self._head_dim // 2))
    else:  # [tokens, heads, d/2]: x·f_x + y·f_y with this block's learned frequencies
      frequencies = self.rope_freqs[...][:, block].astype(jnp.float32)
      angles = jnp.einsum("tc,chf->thf", jnp.asarray(coordinates), frequencies)
    angles = jnp.repeat(angles, 2, axis=-1)  # one angle per channel pair
    prefix = ((self.num_prefix_tokens, 0), (0, 0), (0, 0))
    sin = jnp.pad(jnp.sin(angles), prefix)
    cos = jnp.pad(jnp.cos(angles), prefix, constant_values=1.0)
    return sin.astype(dtype), cos.astype(dtype)

  def _positions(self, grid_h: int, grid_w: int, num_tokens: int):
    """Position embeddings for a grid_h × grid_w patch grid: the stored table, or its patch
    part resized (bicubic, PyTorch semantics) when the grid differs."""
    table = self.pos_embed[...]
    side = int(round((table.shape[1] - num_tokens) ** 0.5))
    if (grid_h, grid_w) == (side, side):
      return table
    antialias = self.config.position_interpolation == "bicubic_antialias"
    grid = layers.resize_grid(table[0, num_tokens:].reshape(side, side, -1), (grid_h, grid_w), "bicubic", antialias)
    return jnp.concatenate([table[:, :num_tokens], grid.reshape(1, grid_h * grid_w, -1)], axis=1)

  @property
  def num_prefix_tokens(self) -> int:
    """Class (+ distillation) + register tokens before the patch tokens."""
    return len(self._class_tokens()) + self.config.num_register_tokens

  def _pool(self, x):
    """The pooled token [B, width] (before any norm_after_pool / pre-logits / projection)."""
    pooling, patches = self.config.pooling, x[:, 0 if self.config.pool_prefix_tokens else self.num_prefix_tokens:]
    if pooling == "avg":
      return jnp.mean(patches, axis=1)
    if pooling == "map":
      return self.attn_pool(patches)
    if pooling == "cls_mean_patch":
      return jnp.concatenate([x[:, 0], jnp.mean(patches, axis=1)], axis=-1)
    return x[:, 0]

  def __call__(self, images):
    x = self.forward_features(images)
    if self.head_dist is not None:
      embedding = (x[:, 0] + x[:, 1]) / 2
      if self.head is None:
        return embedding, embedding
      return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2, embedding
    embedding = self._pool(x)
    if self.config.norm_after_pool:
      embedding = self.norm(embedding)
    if self.pre_logits is not None:
      embedding = jnp.tanh(self.pre_logits(embedding))
    if self.projection is not None:
      embedding = self.projection(embedding)
    logits = self.head(embedding) if self.head is not None else embedding
    return logits, embedding


class RelativePositionMlp(nnx.Module):
  """timm's RelPosMlp in its "cr" mode: per-head attention biases fc2(relu(fc1(o))) of the
  log-spaced offsets o = sign(d)·ln(1 + |d|) between two patches (row, column), gathered to
  [1, heads, T, T]; prefix tokens (class) get bias 0."""

  def __init__(self, hidden: int, num_heads: int, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(2, hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, num_heads, rngs=rngs)

  def __call__(self, grid_h: int, grid_w: int, num_prefix: int):
    if grid_h != grid_w:
      raise ValueError(f"relative position biases need a square patch grid; got {grid_h}×{grid_w}.")
    offsets = np.arange(-(grid_h - 1), grid_h, dtype=np.float32)
    offsets = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
    table = self.fc2(jax.nn.relu(self.fc1(jnp.asarray(np.sign(offsets) * np.log1p(np.abs(offsets))))))
    bias = jnp.transpose(table[window_relative_index(grid_h)], (2, 0, 1))
    return jnp.pad(bias, ((0, 0), (num_prefix, 0), (num_prefix, 0)))[None]


def _block(config: ViTConfig, index: int, rngs: nnx.Rngs) -> nnx.Module:
  """Block ``index``: the pre-norm (or post-norm) encoder block, or the parallel block."""
  differential_depth = index if config.differential_attention else None
  if config.parallel_blocks:
    return ParallelBlock(config.hidden_size, config.num_attention_heads, config.intermediate_size,
                         act=config.hidden_act, epsilon=config.layer_norm_eps, qkv_bias=config.qkv_bias,
                         layer_scale=config.layer_scale, fused_out=config.parallel_fused_out,
                         differential_depth=differential_depth, rngs=rngs)
  return EncoderBlock(config.hidden_size, config.num_attention_heads, config.intermediate_size, act=config.hidden_act,
                      epsilon=config.layer_norm_eps, qkv_bias=config.qkv_bias, layer_scale=config.layer_scale,
                      swiglu=config.swiglu, fused_qkv=config.fused_qkv, scale_norms=config.scale_norms,
                      post_norm=config.post_norm, key_bias=config.key_bias, scale_mlp_norm=config.scale_mlp_norm,
                      swiglu_packed=config.swiglu_packed, differential_depth=differential_depth, rngs=rngs)


def _embedded_channels(config: ViTConfig) -> int:
  """Channels the patch embedding sees: the image's, or the backbone's last stage (its stem without stages)."""
  backbone = config.backbone
  if backbone is None:
    return config.num_channels
  if not backbone.depths:
    return backbone.embedding_size
  return layers.make_divisible(backbone.hidden_sizes[len(backbone.depths) - 1] * backbone.width_factor)


def _grid_coordinates(grid_h: int, grid_w: int, xy: bool, reference: int | None) -> np.ndarray:
  """[grid_h·grid_w, 2] float32 patch coordinates in row-major token order: (row, column), or
  (column, row) when ``xy``; with a ``reference`` grid each axis is rescaled to it (EVA's
  ``ref_feat_shape``: coordinate · reference / grid), as timm's ``_build_grid``."""
  rows, columns = np.arange(grid_h, dtype=np.float32), np.arange(grid_w, dtype=np.float32)
  if reference is not None:
    rows, columns = rows / grid_h * reference, columns / grid_w * reference
  row, column = np.meshgrid(rows, columns, indexing="ij")
  pair = (column, row) if xy else (row, column)
  return np.stack(pair, axis=-1).reshape(-1, 2)


def _mixed_frequencies(head_dim: int, temperature: float) -> np.ndarray:
  """[2, 1, 1, d_head/2] timm's init_random_2d_freqs at rotation angle 0: magnitudes
  m = temperature^(−4i/d_head); f_x = [m·cos 0, m·cos π/2], f_y = [m·sin 0, m·sin π/2]."""
  magnitude = 1.0 / temperature ** (np.arange(0, head_dim, 4, dtype=np.float32) / head_dim)
  f_x = np.concatenate([magnitude * np.cos(0.0), magnitude * np.cos(np.pi / 2)])
  f_y = np.concatenate([magnitude * np.sin(0.0), magnitude * np.sin(np.pi / 2)])
  return np.stack([f_x, f_y]).astype(np.float32)[:, None, None]


def _check(config: ViTConfig) -> None:
  """A clear ValueError for option values and combinations the module does not define."""
  if config.position_interpolation not in (None, "bicubic", "bicubic_antialias"):
    raise ValueError(f"position_interpolation must be None, 'bicubic' or 'bicubic_antialias'; got "
                     f"{config.position_interpolation!r}.")
  if config.pooling not in POOLINGS:
    raise ValueError(f"pooling must be one of {POOLINGS}; got {config.pooling!r}.")
  if config.prefix_positions not in PREFIX_POSITIONS:
    raise ValueError(f"prefix_positions must be one of {PREFIX_POSITIONS}; got {config.prefix_positions!r}.")
  if config.rotary not in (None,) + ROTARY:
    raise ValueError(f"rotary must be None or one of {ROTARY}; got {config.rotary!r}.")
  head_dim = config.hidden_size // config.num_attention_heads
  if config.rotary and head_dim % 4:
    raise ValueError(f"rotary position embeddings need a head width divisible by 4; got {head_dim}.")
  if not config.absolute_positions and config.position_interpolation is not None:
    raise ValueError("position_interpolation needs the absolute position table (absolute_positions=True).")
  if not config.class_token and (config.pooling in ("cls", "cls_mean_patch") or config.distillation_token):
    raise ValueError(f"pooling {config.pooling!r} / a distillation token need the class token (class_token=False).")
