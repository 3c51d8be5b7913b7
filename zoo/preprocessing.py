"""Exact per-model preprocessing, run on the accelerator inside the jitted forward.

A :class:`Preprocessing` is part of a zoo row: every model sees its own reference
pipeline (timm's pretrained-config fields): resize the shorter side to
``resolution / crop_fraction`` with the given interpolation, centre-crop
``resolution``², scale to [0, 1], normalise by mean/std per channel. timm's other crop
modes: "squash" resizes both sides to ``resolution / crop_fraction`` (aspect not kept),
"border" resizes the longer side to it and pads the rest with the mean colour. A crop_fraction
above 1 (timm's crop_pct > 1, e.g. VOLO's 1.15) resizes below ``resolution`` and pads: with
black in "center" / "squash" (torchvision's CenterCrop), with the mean colour in "border".
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_METHODS = {"bilinear": "linear", "bicubic": "cubic", "nearest": "nearest", "linear": "linear", "cubic": "cubic"}
_CROP_MODES = ("center", "squash", "border")
_PIL_METHODS = {"bilinear": 2, "linear": 2, "bicubic": 3, "cubic": 3, "nearest": 0}  # PIL.Image.Resampling


@dataclasses.dataclass(frozen=True)
class Preprocessing:
  """resolution: output side; crop_fraction: crop/resize ratio (timm's crop_pct; above 1 the
  resized image is smaller than the crop and is padded, which needs torchvision_sizes);
  interpolation: bilinear | bicubic | nearest; mean/std: per channel on [0, 1] pixels;
  channels: 1 or 3 (grey images are repeated to 3 channels when 3 are asked for);
  crop_mode: center | squash | border (timm's crop_mode); torchvision_sizes: sizes as timm's
  torchvision transforms compute them (target ⌊resolution / crop_fraction⌋, the long side
  truncated, crop offsets rounded; else rounded target and long side, offsets floored);
  transformers_sizes: sizes as transformers' image processors compute them (target
  ⌊resolution / crop_fraction⌋, the long side truncated, crop offsets floored)."""
  resolution: int
  crop_fraction: float = 1.0
  interpolation: str = "bilinear"
  mean: tuple[float, ...] = (0.0,)
  std: tuple[float, ...] = (1.0,)
  channels: int = 1
  crop_mode: str = "center"
  torchvision_sizes: bool = False
  transformers_sizes: bool = False

  def __post_init__(self):
    if self.interpolation not in _METHODS:
      raise ValueError(f"interpolation must be one of {sorted(_METHODS)}; got {self.interpolation!r}.")
    if not self.crop_fraction > 0:
      raise ValueError(f"crop_fraction must be positive; got {self.crop_fraction}.")
    if self.crop_fraction > 1 and not self.torchvision_sizes:  # the padding rule checked is torchvision's
      raise ValueError(f"crop_fraction {self.crop_fraction} > 1 (resize below the crop, then pad) follows "
                       "torchvision's CenterCrop: set torchvision_sizes=True.")
    if self.crop_mode not in _CROP_MODES:
      raise ValueError(f"crop_mode must be one of {_CROP_MODES}; got {self.crop_mode!r}.")
    if self.torchvision_sizes and self.transformers_sizes:
      raise ValueError("torchvision_sizes and transformers_sizes are two rules for the same sizes; set one.")

  def _scale_size(self) -> int:
    size = self.resolution / self.crop_fraction
    return math.floor(size) if self.torchvision_sizes or self.transformers_sizes else round(size)

  def _resized_size(self, height: int, width: int) -> tuple[int, int]:
    """(height, width) after the resize step (before crop or pad)."""
    short = self._scale_size()
    if self.crop_mode == "squash":
      return short, short
    if self.crop_mode == "border":  # longest side to the target, aspect kept (timm's ResizeKeepRatio)
      ratio = max(height / short, width / short)
      return max(1, round(height / ratio)), max(1, round(width / ratio))
    if self.torchvision_sizes or self.transformers_sizes:  # Resize(int): short side exact, long side truncated
      if height <= width:
        return short, int(short * width / height)
      return int(short * height / width), short
    scale = short / min(height, width)
    return max(short, round(height * scale)), max(short, round(width * scale))

  def _crop_offset(self, size: int) -> int:
    excess = size - self.resolution
    return int(round(excess / 2.0)) if self.torchvision_sizes else excess // 2

  def _fill(self) -> np.ndarray:
    """The padding colour on [0, 1] pixels: timm's round(255 · mean) for "border"
    (CenterCropOrPad), black for the other modes (torchvision's CenterCrop pads with 0)."""
    if self.crop_mode != "border":
      return np.zeros(len(self.mean), np.float32)
    return np.asarray([round(255 * m) for m in self.mean], np.float32) / 255.0

  def host_resize(self, image: np.ndarray) -> np.ndarray:
    """The resize + centre crop on the host (PIL), for sources whose images differ in size.

    uint8 [H, W, C] → uint8 [resolution, resolution, C]; the device step then only
    normalises (it leaves images already at resolution × resolution unresized).
    """
    from PIL import Image
    image = np.asarray(image)
    squeeze = image.ndim == 3 and image.shape[-1] == 1
    pil = Image.fromarray(image[..., 0] if squeeze else image)
    new_h, new_w = self._resized_size(pil.size[1], pil.size[0])
    pil = pil.resize((new_w, new_h), _PIL_METHODS[self.interpolation])
    out = np.asarray(pil)
    out = out[..., None] if out.ndim == 2 else out
    out = _pad_to(out[None], self.resolution, np.round(self._fill()[:out.shape[-1]] * 255).astype(out.dtype))[0]
    top, left = self._crop_offset(out.shape[0]), self._crop_offset(out.shape[1])
    return out[top:top + self.resolution, left:left + self.resolution]

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
    new_h, new_w = self._resized_size(height, width)
    if (new_h, new_w) != (height, width):
      x = jax.image.resize(x, (x.shape[0], new_h, new_w, x.shape[-1]), _METHODS[self.interpolation], antialias=True)
    x = _pad_to(x, self.resolution, jnp.asarray(self._fill()[:x.shape[-1]]))
    top, left = self._crop_offset(x.shape[1]), self._crop_offset(x.shape[2])
    x = x[:, top:top + self.resolution, left:left + self.resolution]
    return (x - jnp.asarray(self.mean)) / jnp.asarray(self.std)


def _pad_to(images, size: int, fill):
  """Pads [B, H, W, C] images centrally to at least size × size with the colour ``fill``
  (torchvision's CenterCrop / timm's CenterCropOrPad: the odd pixel goes after); a side
  already at least ``size`` is left as it is (the crop then takes its centre)."""
  xp = jnp if isinstance(images, jax.Array) else np
  pad_h, pad_w = max(size - images.shape[1], 0), max(size - images.shape[2], 0)
  if not (pad_h or pad_w):
    return images
  canvas = xp.broadcast_to(xp.asarray(fill, images.dtype), (images.shape[0], images.shape[1] + pad_h,
                                                            images.shape[2] + pad_w, images.shape[3]))
  top, left = pad_h // 2, pad_w // 2
  if xp is np:
    canvas = canvas.copy()
    canvas[:, top:top + images.shape[1], left:left + images.shape[2]] = images
    return canvas
  return canvas.at[:, top:top + images.shape[1], left:left + images.shape[2]].set(images)
