"""ResMLP (Touvron et al. 2021, "ResMLP: Feedforward networks for image classification with
data-efficient training"), timm's layout (``ResBlock`` / ``Affine`` of ``timm/models/mlp_mixer.py``).

patches → [x + ls1·Linear_tokens(aff1(x)ᵀ)ᵀ, x + ls2·MLP(aff2(x))] × depth → Affine → mean over
patches → head. ``Affine`` (α ⊙ x + β) is ResMLP's statistics-free "norm"."""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from zoo.architectures.mixer import PatchMlp
from zoo.architectures.transformer import Mlp


@dataclasses.dataclass(frozen=True)
class ResMlpConfig:
  """Defaults: timm's resmlp_12_224."""
  image_size: int = 224
  patch_size: int = 16
  num_channels: int = 3
  hidden_size: int = 384
  num_blocks: int = 12
  mlp_ratio: float = 4.0
  num_classes: int = 1000

  @property
  def num_patches(self) -> int:
    return (self.image_size // self.patch_size) ** 2


class Affine(nnx.Module):
  """α ⊙ x + β per channel (timm's Affine, stored as [1, 1, D])."""

  def __init__(self, width: int):
    self.alpha = nnx.Param(jnp.ones((1, 1, width)))
    self.beta = nnx.Param(jnp.zeros((1, 1, width)))

  def __call__(self, x):
    return self.beta[...].astype(x.dtype) + self.alpha[...].astype(x.dtype) * x


class ResMlpBlock(nnx.Module):
  """x + ls1·linear_tokens(norm1(x)ᵀ)ᵀ, then + ls2·mlp_channels(norm2(·)) (exact GELU)."""

  def __init__(self, config: ResMlpConfig, *, rngs: nnx.Rngs):
    width = config.hidden_size
    self.norm1, self.norm2 = Affine(width), Affine(width)
    self.linear_tokens = nnx.Linear(config.num_patches, config.num_patches, rngs=rngs)
    self.mlp_channels = Mlp(width, int(width * config.mlp_ratio), "gelu", rngs=rngs)
    self.ls1, self.ls2 = nnx.Param(jnp.ones((width,))), nnx.Param(jnp.ones((width,)))

  def __call__(self, x):
    x = x + self.ls1[...] * self.linear_tokens(self.norm1(x).swapaxes(1, 2)).swapaxes(1, 2)
    return x + self.ls2[...] * self.mlp_channels(self.norm2(x))


class ResMlp(PatchMlp):
  """The embedding is the mean patch token after the final Affine (timm's pre-logits)."""

  name = "ResMLP"

  def __init__(self, config: ResMlpConfig, *, rngs: nnx.Rngs):
    super().__init__(config, lambda: ResMlpBlock(config, rngs=rngs), lambda: Affine(config.hidden_size), rngs=rngs)
