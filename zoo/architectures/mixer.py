"""MLP-Mixer (Tolstikhin et al. 2021): patches → [token-mixing MLP, channel-mixing MLP] × depth
→ LayerNorm → mean over patches → Linear. Google's checkpoints use flax's tanh GELU.

Also timm's variants on the same trunk: GLU MLPs (``gmixer``: x₁ · act(x₂) of fc1's halves)
and gMLP (Liu et al. 2021, "Pay Attention to MLPs": spatial gating blocks)."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures import layers
from zoo.architectures.transformer import Mlp


@dataclasses.dataclass(frozen=True)
class MixerConfig:
  """Defaults: Mixer-B/16 at 224²."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 768
  num_blocks: int = 12
  tokens_mlp_dim: int = 384
  channels_mlp_dim: int = 3072
  hidden_act: str = "gelu_new"
  layer_norm_eps: float = 1e-6
  num_classes: int = 1000
  mlp: str = "mlp"  # "glu": timm's GluMlp (gmixer); "gated": gMLP's spatial gating blocks (channels only)

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.patch_size) ** 2


class GluMlp(nnx.Module):
  """fc2(x₁ · act(x₂)) with [x₁, x₂] = fc1(x) split in halves (timm's GluMlp, gate last)."""

  def __init__(self, width: int, hidden: int, act: str, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden // 2, width, rngs=rngs)
    self.act = layers.activation(act)

  def __call__(self, x):
    value, gate = jnp.split(self.fc1(x), 2, axis=-1)
    return self.fc2(value * self.act(gate))


class SpatialGatingUnit(nnx.Module):
  """u · (proj over tokens of norm(v))ᵀ with [u, v] the channel halves (gMLP; LayerNorm ε 1e-5)."""

  def __init__(self, width: int, tokens: int, *, rngs: nnx.Rngs):
    self.norm = nnx.LayerNorm(width // 2, epsilon=1e-5, rngs=rngs)
    self.proj = nnx.Linear(tokens, tokens, rngs=rngs)

  def __call__(self, x):
    u, v = jnp.split(x, 2, axis=-1)
    return u * self.proj(self.norm(v).swapaxes(1, 2)).swapaxes(1, 2)


class GatedMlp(nnx.Module):
  """fc2(gate(act(fc1(x)))) (timm's GatedMlp with a SpatialGatingUnit)."""

  def __init__(self, width: int, hidden: int, tokens: int, act: str, *, rngs: nnx.Rngs):
    self.fc1 = nnx.Linear(width, hidden, rngs=rngs)
    self.gate = SpatialGatingUnit(hidden, tokens, rngs=rngs)
    self.fc2 = nnx.Linear(hidden // 2, width, rngs=rngs)
    self.act = layers.activation(act)

  def __call__(self, x):
    return self.fc2(self.gate(self.act(self.fc1(x))))


class SpatialGatingBlock(nnx.Module):
  """x + channel_mlp(norm(x)) with a gated MLP (gMLP's block)."""

  def __init__(self, config: MixerConfig, *, rngs: nnx.Rngs):
    self.norm = nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs)
    self.channel_mlp = GatedMlp(config.hidden_size, config.channels_mlp_dim, config.num_patches, config.hidden_act,
                                rngs=rngs)

  def __call__(self, x):
    return x + self.channel_mlp(self.norm(x))


class MixerBlock(nnx.Module):
  """x + token_mlp(norm1(x)ᵀ)ᵀ, then + channel_mlp(norm2(·))."""

  def __init__(self, config: MixerConfig, *, rngs: nnx.Rngs):
    width, eps = config.hidden_size, config.layer_norm_eps
    mlp = {"mlp": Mlp, "glu": GluMlp}[config.mlp]
    self.norm1 = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
    self.token_mlp = mlp(config.num_patches, config.tokens_mlp_dim, config.hidden_act, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
    self.channel_mlp = mlp(width, config.channels_mlp_dim, config.hidden_act, rngs=rngs)

  def __call__(self, x):
    x = x + self.token_mlp(self.norm1(x).swapaxes(1, 2)).swapaxes(1, 2)
    return x + self.channel_mlp(self.norm2(x))


class PatchMlp(nnx.Module):
  """The trunk MLP-Mixer and ResMLP share: patches (a stride-``patch_size`` conv) → tokens
  [B, P, D] → ``blocks`` → ``norm`` → mean over patches (the embedding) → ``head`` (None: the
  embedding is returned twice). Its token-mixing layers fix the image size."""

  name = "an MLP on patches"

  def __init__(self, config, make_block, make_norm, *, rngs: nnx.Rngs):
    """``make_block()`` / ``make_norm()`` build one block / the final norm. They are called here, after
    the stem, so every model draws its initial weights in one order: stem, blocks, norm, head (a
    trained row's weights depend on it)."""
    self.config = config
    self.stem = layers.conv(config.num_channels, config.hidden_size, config.patch_size, stride=config.patch_size,
                            padding="VALID", bias=True, rngs=rngs)
    self.blocks = nnx.List([make_block() for _ in range(config.num_blocks)])
    self.norm = make_norm()
    self.head = nnx.Linear(config.hidden_size, config.num_classes, rngs=rngs) if config.num_classes else None

  def __call__(self, images):
    if images.shape[1:3] != (self.config.image_size,) * 2:
      raise ValueError(f"{self.name} expects {self.config.image_size}² images (its token-mixing layers' size); got "
                       f"{images.shape[1]}×{images.shape[2]}. Use the model's preprocessing.")
    x = self.stem(images)
    x = x.reshape(x.shape[0], -1, x.shape[-1])
    for block in self.blocks:
      x = block(x)
    embedding = jnp.mean(self.norm(x), axis=1)
    return (self.head(embedding) if self.head is not None else embedding), embedding


class MlpMixer(PatchMlp):
  name = "Mixer"

  def __init__(self, config: MixerConfig, *, rngs: nnx.Rngs):
    if config.mlp not in ("mlp", "glu", "gated"):
      raise ValueError(f"MixerConfig.mlp must be 'mlp', 'glu' or 'gated'; got {config.mlp!r}.")
    block = SpatialGatingBlock if config.mlp == "gated" else MixerBlock
    super().__init__(config, lambda: block(config, rngs=rngs),
                     lambda: nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs), rngs=rngs)
