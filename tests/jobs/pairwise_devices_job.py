"""Runs the all-pairs metrics over a mesh of all this process's devices (XLA_FLAGS gives fake CPU
devices) and over a mesh of its first device only, and saves both to an .npz:
argv = out.npz, num_models, num_examples, num_classes, seed."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))            # this checkout's packages
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))            # tests/conftest.py

import jax  # noqa: E402
import numpy as np  # noqa: E402

import metrics  # noqa: E402
from conftest import random_probs  # noqa: E402


def main():
  out, num_models, num_examples, num_classes, seed = sys.argv[1], *map(int, sys.argv[2:])
  rng = np.random.default_rng(seed)
  probs = random_probs(rng, num_models, num_examples, num_classes, ties=True, scale=1.0)
  labels = rng.integers(0, num_classes, num_examples)
  saved = dict(devices=jax.device_count(), probs=probs, labels=labels)
  for name, mesh in (("all", None), ("one", metrics.ensemble.example_mesh(jax.devices()[:1]))):
    outcomes = metrics.pairwise_outcomes(list(probs), labels, num_candidates=2, mesh=mesh)
    result = metrics.pairwise_ensemble(probs, labels, num_candidates=2, mesh=mesh)
    saved.update({f"{name}_ensemble_correct": np.asarray(outcomes.ensemble_correct),
                  f"{name}_correct": np.asarray(outcomes.correct),
                  f"{name}_counts": np.asarray(result["ensemble_correct_count"]),
                  f"{name}_num_recomputed": outcomes.num_recomputed})
  np.savez(out, **saved)


if __name__ == "__main__":
  main()
