r"""Trains the whole small zoo with its recipes and prints per-row test accuracy, the accuracy
band and the training time: the evidence for the catalog's design (issue 13).

  .venv/bin/python benchmarks/zoo.py [--rows 'cnn.*,mlp.s0'] [--train train[:45000]] [--epochs 2]
                                     [--band 4.0] [--out zoo.json]

Split layout proposed for the study (all disjoint): train on ``train[:45000]``, greedy
selection on ``train[45000:55000]`` (10,000), calibration on ``train[55000:]`` (5,000),
report on ``test``. Rows train in zoo.fitting.vmap_groups order as the study does
(the base first: it teaches distillation); each row's line is printed as it finishes,
and ``--out`` gets the JSON of every finished row after each one.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from flax import nnx  # noqa: E402

import zoo  # noqa: E402
from launch import data, procedural  # noqa: E402
from launch.study import verdicts  # noqa: E402
from zoo import fitting  # noqa: E402

CATEGORY_ORDER = verdicts.CATEGORY_ORDER


@nnx.jit
def _predict(model, x):
  return jnp.argmax(model(x)[0], -1)


def accuracy(entry, model, images, labels, batch=1000) -> float:
  model.eval()
  predictions = [np.asarray(_predict(model, entry.preprocessing(jnp.asarray(images[i:i + batch]))))
                 for i in range(0, len(images), batch)]
  return float(np.mean(np.concatenate(predictions) == labels))


def datasets_for(names, train, pretrain_examples):
  datasets = {"fashion_mnist": (train.images, train.labels)}
  needed = {zoo.get(n).pretraining_data for n in names}
  if "procedural_shapes" in needed:
    datasets["procedural_shapes"] = procedural.shapes(pretrain_examples, seed=1)
  if "procedural_textures" in needed:
    datasets["procedural_textures"] = procedural.textures(pretrain_examples, seed=2)
  if "fashion_mnist_classes_0-4" in needed:
    keep = train.labels < 5
    datasets["fashion_mnist_classes_0-4"] = (train.images[keep], train.labels[keep])
  return datasets


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--rows", default="*")
  parser.add_argument("--train", default="train[:45000]")
  parser.add_argument("--test", default="test")
  parser.add_argument("--epochs", type=int, default=2)
  parser.add_argument("--pretrain_examples", type=int, default=10000)
  parser.add_argument("--band", type=float, default=4.0)
  parser.add_argument("--out", default=None)
  args = parser.parse_args()
  patterns = args.rows.split(",")
  names = sorted((n for n in zoo.list_models(catalog="small") if any(fnmatch.fnmatchcase(n, p) for p in patterns)),
                 key=lambda n: next(i for i, p in enumerate(patterns) if fnmatch.fnmatchcase(n, p)))  # pattern order
  base = zoo.base_of("small")
  names = [base.name] + [n for n in names if n != base.name]
  train = data.load_source("fashion_mnist", args.train)
  test = data.load_source("fashion_mnist", args.test)
  datasets = datasets_for(names, train, args.pretrain_examples)
  print(f"{len(names)} rows, train {args.train} ({len(train.labels)}), test {args.test}, {args.epochs} epochs; "
        f"jax {jax.__version__} {jax.default_backend()}, load average {os.getloadavg()[0]:.1f}", flush=True)
  rows, teacher, total = [], None, 0.0
  for group in fitting.vmap_groups([zoo.get(n) for n in names], jax.default_backend()):
    start = time.perf_counter()
    if len(group) > 1:
      models = fitting.fit_group(group, datasets, args.epochs)
    else:
      models = [fitting.fit_row(group[0], datasets, args.epochs, teacher=teacher)]
    seconds = time.perf_counter() - start
    total += seconds
    for entry, model in zip(group, models):
      if entry.name == base.name:
        teacher = model
      rows.append({"model": entry.name, "category": zoo.pair_category(base, entry) if entry != base else "base",
                   "test_accuracy": accuracy(entry, model, test.images, test.labels),
                   "train_seconds": seconds / len(group), "vmapped": len(group) > 1})
      print(f"  {entry.name:22s} {rows[-1]['category']:17s} test {100 * rows[-1]['test_accuracy']:6.2f}%  "
            f"{seconds / len(group):6.1f} s{' (vmapped group)' if len(group) > 1 else ''}  "
            f"[load {os.getloadavg()[0]:.1f}]", flush=True)
    if args.out:
      with open(args.out, "w") as f:
        json.dump({"args": vars(args), "rows": rows, "train_seconds": total}, f, indent=1)
  acc = np.array([r["test_accuracy"] for r in rows])
  band = verdicts.accuracy_band(acc, 0, args.band)
  lo, hi = 100 * acc[band].min(), 100 * acc[band].max()
  print(f"\nband ({args.band:g} points holding the base {100 * acc[0]:.2f}%): {lo:.2f}–{hi:.2f}%")
  print(f"{'category':18s} {'in band':>8s} {'outside (greedy pool / starts)':s}")
  for category in CATEGORY_ORDER:
    inside = [r["model"] for r, b in zip(rows, band) if b and r["category"] == category]
    outside = [f"{r['model']} {100 * r['test_accuracy']:.1f}" for r, b in zip(rows, band)
               if not b and r["category"] == category]
    print(f"{category:18s} {len(inside):8d}  {', '.join(outside)}")
  print(f"\ntotal training time {total:.1f} s for {len(rows)} rows (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
  main()
