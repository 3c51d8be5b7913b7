r"""Sequential vs vmapped training of same-architecture models (zoo.training).

  .venv/bin/python benchmarks/training.py [--models 3] [--examples 6000] [--repeats 2]

Prints the median wall time of training M models one after another and all at once
with train_supervised_many, per architecture, and the ratio (>1: vmap pays). Both
include compilation, as a study run does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from flax import nnx  # noqa: E402

from launch import data  # noqa: E402
from zoo import training  # noqa: E402
from zoo.architectures.small import MLP, ConvNet  # noqa: E402
from zoo.catalogs.small import FASHION_MNIST  # noqa: E402

ARCHITECTURES = {"mlp": lambda seed: MLP(28 * 28, 10, rngs=nnx.Rngs(seed)),
                 "convnet": lambda seed: ConvNet(1, 10, rngs=nnx.Rngs(seed))}


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", type=int, default=3)
  parser.add_argument("--examples", type=int, default=6000)
  parser.add_argument("--repeats", type=int, default=2)
  args = parser.parse_args()
  source = data.load_source("fashion_mnist", f"train[:{args.examples}]")
  recipes = [training.SupervisedRecipe(learning_rate=2e-3, epochs=1, seed=s) for s in range(args.models)]
  for name, build in ARCHITECTURES.items():
    sequential, vmapped = [], []
    for _ in range(args.repeats):
      start = time.perf_counter()
      for recipe in recipes:
        training.train_supervised(build(recipe.seed), source.images, source.labels, recipe, FASHION_MNIST)
      sequential.append(time.perf_counter() - start)
      start = time.perf_counter()
      training.train_supervised_many([build(r.seed) for r in recipes], source.images, source.labels, recipes,
                                     FASHION_MNIST)
      vmapped.append(time.perf_counter() - start)
    seq, vm = statistics.median(sequential), statistics.median(vmapped)
    print(f"{name}: {args.models} models × {args.examples} examples: sequential {seq:.2f} s, vmapped {vm:.2f} s, "
          f"speed-up {seq / vm:.2f}x")


if __name__ == "__main__":
  main()
