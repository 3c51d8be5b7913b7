"""Study sizes: ``--preset`` picks one; ``--set key=value`` overrides single fields."""

from __future__ import annotations

import ml_collections

CATEGORY_ORDER = ("reinit", "hyper-parameters", "architecture", "framework", "dataset")


def default() -> ml_collections.ConfigDict:
  """The README's study: the whole small catalog, minutes on a laptop CPU."""
  return ml_collections.ConfigDict({
      # fnmatch patterns over the small catalog (its global-pool CNN, far below the others'
      # accuracy band, is left out as the paper keeps to one band).
      "models": "cnn.*,mlp.s0,small_resnet.s0,tiny_vit.s0,tiny_mixer.s0",
      "train_examples": 10000,          # Fashion-MNIST train[:n] for supervised/self-supervised training
      "pretrain_examples": 10000,       # examples of each other-data set (dataset category)
      "epochs": 2,
      "calibration_split": "train[55000:]",  # temperatures; also the probes' train/val embeddings
      "test_split": "test",
      "resamples": 300,                 # paired-bootstrap resamples (95% intervals)
      "theta_bins": 18,
      "greedy_starts": 2,               # best models (on the calibration split) that start a greedy run
      "greedy_steps": 5,
      "mixing_rates": (1.0, 0.75, 0.5, 0.25, 0.0),
      "mixing_seeds": 2,
      "probe_l2_grid": (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
      "eval_batch_size": 500,
  })


def smoke() -> ml_collections.ConfigDict:
  """One model per category, few steps, small splits: every code path in under a minute."""
  config = default()
  config.update({
      "models": "cnn.s0,cnn.s1,cnn.lr5e-4,mlp.s0,cnn.distilled,cnn.fmnist0-4",
      "train_examples": 1024, "pretrain_examples": 1024, "epochs": 1,
      "calibration_split": "train[59000:]", "test_split": "test[:1000]", "resamples": 30,
      "greedy_starts": 1, "greedy_steps": 2, "mixing_rates": (1.0, 0.5, 0.0), "mixing_seeds": 1,
      "probe_l2_grid": (1e-3, 1e-1),
  })
  return config


PRESETS = {"default": default, "smoke": smoke}


def build(preset: str, overrides: list[str]) -> ml_collections.ConfigDict:
  """The preset's config with ``key=value`` overrides (values parsed as the field's type)."""
  if preset not in PRESETS:
    raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
  config = PRESETS[preset]()
  for override in overrides:
    key, separator, value = override.partition("=")
    if not separator or key not in config:
      raise ValueError(f"--set {override!r}: expected key=value with key one of {sorted(config.keys())}.")
    current = config[key]
    if isinstance(current, tuple):
      config[key] = tuple(type(current[0])(v) for v in value.split(","))
    else:
      config[key] = type(current)(value)
  return config
