"""Exact per-model preprocessing, run on the accelerator inside the jitted forward.

A :class:`Preprocessing` is part of a zoo row: every model sees its own reference
pipeline (timm's pretrained-config fields): resize the shorter side to
``resolution / crop_fraction`` with the given interpolation, centre-crop
``resolution``², scale to [0, 1], normalise by mean/std per channel.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_METHODS = {"bilinear": "linear", "bicubic": "cubic", "nearest": "nearest", "linear": "linear", "cubic": "cubic"}
_PIL_METHODS = {"bilinear": 2, "linear": 2, "bicubic": 3, "cubic": 3, "nearest": 0}  # PIL.Image.Resampling


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """resolution: output side; crop_fraction: crop/resize ratio (timm's crop_pct);
  interpolation: bilinear | bicubic | nearest; mean/std: per channel on [0, 1] pixels;
  channels: 1 or 3 (grey images are repeated to 3 channels when 3 are asked for)."""
  resolution: int
  crop_fraction: float = 1.0
  interpolation: str = "bilinear"
  mean: tuple[float, ...] = (0.0,)
  std: tuple[float, ...] = (1.0,)
  channels: int = 1

  def __post_init__(self):
    if self.interpolation not in _METHODS:
      raise ValueError(f"interpolation must be one of {sorted(_METHODS)}; got {self.interpolation!r}.")
    if not 0 < self.crop_fraction <= 1:
      raise ValueError(f"crop_fraction must be in (0, 1]; got {self.crop_fraction}.")

  def host_resize(self, image: np.ndarray) -> np.ndarray:
    """The resize + centre crop on the host (PIL), for sources whose images differ in size.

    uint8 [H, W, C] → uint8 [resolution, resolution, C]; the device step then only
    normalises (it leaves images already at resolution × resolution unresized).
    """
    from PIL import Image
    image = np.asarray(image)
    squeeze = image.ndim == 3 and image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    short = round(self.resolution / self.crop_fraction)
    scale = short / min(pil.size)
    size = (max(short, round(pil.size[0] * scale)), max(short, round(pil.size[1] * scale)))
    pil = pil.resize(size, _PIL_METHODS[self.interpolation])
    left, top = (size[0] - self.resolution) // 2, (size[1] - self.resolution) // 2
    out = np.asarray(pil.crop((left, top, left + self.resolution, top + self.resolution)))
    return out[..., None] if out.ndim == 2 else out

  def __call__(self, images: jax.Array) -> jax.Array:
    """uint8 (or float) images [B, H, W, C] → float32 [B, resolution, resolution, channels].

    Images already at resolution × resolution (e.g. from :meth:`host_resize`) are only
    scaled and normalised.
    """
    x = images.astype(jnp.float32) / (255.0 if images.dtype == jnp.uint8 else 1.0)
    if x.shape[-1] == 1 and self.channels == 3:
      x = jnp.repeat(x, 3, axis=-1)
    height, width = x.shape[1:3]
    if (height, width) == (self.resolution, self.resolution):
      return (x - jnp.asarray(self.mean)) / jnp.asarray(self.std)
    scale = self.resolution / self.crop_fraction / min(height, width)
    new_h, new_w = max(self.resolution, round(height * scale)), max(self.resolution, round(width * scale))
    if (new_h, new_w) != (height, width):
      x = jax.image.resize(x, (x.shape[0], new_h, new_w, x.shape[-1]), _METHODS[self.interpolation], antialias=True)
    top, left = (new_h - self.resolution) // 2, (new_w - self.resolution) // 2
    x = x[:, top:top + self.resolution, left:left + self.resolution]
    return (x - jnp.asarray(self.mean)) / jnp.asarray(self.std)
