"""MLP-Mixer (Tolstikhin et al. 2021): patches → [token-mixing MLP, channel-mixing MLP] × depth
→ LayerNorm → mean over patches → Linear. Google's checkpoints use flax's tanh GELU."""

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

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.patch_size) ** 2


class MixerBlock(nnx.Module):
  """x + token_mlp(norm1(x)ᵀ)ᵀ, then + channel_mlp(norm2(·))."""

  def __init__(self, config: MixerConfig, *, rngs: nnx.Rngs):
    width, eps = config.hidden_size, config.layer_norm_eps
    self.norm1 = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
    self.token_mlp = Mlp(config.num_patches, config.tokens_mlp_dim, config.hidden_act, rngs=rngs)
    self.norm2 = nnx.LayerNorm(width, epsilon=eps, rngs=rngs)
    self.channel_mlp = Mlp(width, config.channels_mlp_dim, config.hidden_act, rngs=rngs)

  def __call__(self, x):
    x = x + self.token_mlp(self.norm1(x).swapaxes(1, 2)).swapaxes(1, 2)
    return x + self.channel_mlp(self.norm2(x))


class PatchMlp(nnx.Module):
  """The trunk MLP-Mixer and ResMLP share: patches (a stride-``patch_size`` conv) → tokens
  [B, P, D] → ``blocks`` → ``norm`` → mean over patches (the embedding) → ``head`` (None: the
  embedding is returned twice). Its token-mixing layers fix the image size."""

  name = "an MLP on patches"

  def __init__(self, config, blocks: list[nnx.Module], norm: nnx.Module, *, rngs: nnx.Rngs):
    self.config = config
    self.stem = layers.conv(config.num_channels, config.hidden_size, config.patch_size, stride=config.patch_size,
                            padding="VALID", bias=True, rngs=rngs)
    self.blocks = nnx.List(blocks)
    self.norm = norm
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
    super().__init__(config, [MixerBlock(config, rngs=rngs) for _ in range(config.num_blocks)],
                     nnx.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps, rngs=rngs), rngs=rngs)
