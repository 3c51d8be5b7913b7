"""Procedurally generated 28×28 grey images: the "other data" of the study's dataset category.

Chosen because they need no download, share nothing with Fashion-MNIST's photographs of
clothes, and still teach a ConvNet generic edge/shape/texture features that a linear
probe can reuse; deterministic for a seed.

- shapes (6 classes): disc, ring, square, triangle, cross, bar; random position, size,
  rotation (bar), brightness, blur-free, with additive noise;
- textures (6 classes): sinusoidal gratings at 6 orientations; random frequency, phase,
  contrast, with additive noise.
"""

from __future__ import annotations

import numpy as np

SIZE = 28
SHAPES = ("disc", "ring", "square", "triangle", "cross", "bar")
ORIENTATIONS = 6


def _grid():
  y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
  return y[None], x[None]


def _finish(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  canvas = canvas + rng.normal(0, 0.08, canvas.shape)
  return (np.clip(canvas, 0, 1) * 255).astype(np.uint8)[..., None]


def shapes(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 [count, 28, 28, 1], int labels [count]) of the six shape classes."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, len(SHAPES), count)
  y, x = _grid()
  cy, cx = (rng.uniform(9, 19, (2, count, 1, 1))).astype(np.float32)
  radius = rng.uniform(4, 8.5, (count, 1, 1)).astype(np.float32)
  brightness = rng.uniform(0.5, 1.0, (count, 1, 1)).astype(np.float32)
  dy, dx = y - cy, x - cx
  distance = np.sqrt(dy ** 2 + dx ** 2)
  angle = rng.uniform(0, np.pi, (count, 1, 1)).astype(np.float32)
  along = dx * np.cos(angle) + dy * np.sin(angle)
  across = -dx * np.sin(angle) + dy * np.cos(angle)
  masks = {
      "disc": distance <= radius,
      "ring": (distance <= radius) & (distance >= radius * 0.6),
      "square": (np.abs(dy) <= radius * 0.8) & (np.abs(dx) <= radius * 0.8),
      "triangle": (dy <= radius * 0.7) & (dy >= -radius * 0.9 + 1.8 * np.abs(dx)),
      "cross": ((np.abs(dy) <= radius * 0.25) & (np.abs(dx) <= radius)) |
               ((np.abs(dx) <= radius * 0.25) & (np.abs(dy) <= radius)),
      "bar": (np.abs(along) <= radius * 1.2) & (np.abs(across) <= radius * 0.3),
  }
  canvas = np.zeros((count, SIZE, SIZE), np.float32)
  for index, name in enumerate(SHAPES):
    chosen = labels == index
    canvas[chosen] = masks[name][chosen] * brightness[chosen]
  return _finish(canvas, rng), labels.astype(np.int64)


def textures(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 [count, 28, 28, 1], int labels [count]): gratings whose orientation is the class."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, ORIENTATIONS, count)
  y, x = _grid()
  angle = (labels * np.pi / ORIENTATIONS + rng.normal(0, 0.05, count)).astype(np.float32)[:, None, None]
  frequency = rng.uniform(0.15, 0.6, (count, 1, 1)).astype(np.float32)
  phase = rng.uniform(0, 2 * np.pi, (count, 1, 1)).astype(np.float32)
  contrast = rng.uniform(0.2, 0.5, (count, 1, 1)).astype(np.float32)
  wave = np.sin(frequency * (x * np.cos(angle) + y * np.sin(angle)) + phase)
  return _finish(0.5 + contrast * wave, rng), labels.astype(np.int64)
