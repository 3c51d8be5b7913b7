r"""The default study: ``python -m launch.study``.

A first, small version of the embedded Fashion-MNIST study on real data, offline:

1. trains the ``small`` zoo catalog (rows around the base ``small_cnn.s0``: reinit,
   hyper-parameter and architecture variants) with the zoo's supervised recipe, or
   reuses their cached orbax checkpoints;
2. evaluates every model on a held-out calibration slice of train and on test through
   the evaluation runner into the result store;
3. fits one temperature per model on the calibration slice, then computes on test the
   pairwise metrics with paired-bootstrap intervals, per category relative to the base,
   the EI-vs-gain fit and a greedy ensemble.

The full study (more models per category, other objectives and data, the report with
figures) extends this.

  python -m launch.study --out=/tmp/overlap_study
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from absl import app, flags

import metrics
import zoo
from launch import data, store
from zoo.training import SupervisedRecipe, train_supervised

OUT = flags.DEFINE_string("out", "overlap_study", "Output directory (store, zoo checkpoints).")
TRAIN_EXAMPLES = flags.DEFINE_integer("train_examples", 10000, "Training examples per model.", lower_bound=100)
EPOCHS = flags.DEFINE_integer("epochs", 2, "Training epochs per model.", lower_bound=1)
CALIBRATION = flags.DEFINE_string("calibration_split", "train[55000:]", "Held-out split for temperatures.")
TEST = flags.DEFINE_string("test_split", "test", "Split the metrics are computed on.")
RESAMPLES = flags.DEFINE_integer("resamples", 300, "Bootstrap resamples.", lower_bound=2)
DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory of the Fashion-MNIST IDX files (default: Debian's).")


def train_missing(names: list[str], zoo_dir: Path) -> None:
  """Trains every model whose checkpoint is not cached yet."""
  source = None
  for name in names:
    entry = zoo.get(name)
    try:
      zoo.load(entry, zoo_dir)
      print(f"{name}: cached weights", flush=True)
      continue
    except zoo.WeightsUnavailable:
      pass
    if source is None:
      source = data.load_source("fashion_mnist", f"train[:{TRAIN_EXAMPLES.value}]", DATA_DIR.value)
    hparams = dict(entry.hparams)
    recipe = SupervisedRecipe(learning_rate=hparams["learning_rate"], weight_decay=hparams["weight_decay"],
                              epochs=EPOCHS.value, seed=entry.seed)
    model = zoo.build(entry)
    history = train_supervised(model, source.images, source.labels, recipe, entry.preprocessing)
    zoo.save_weights(entry, model, zoo_dir)
    print(f"{name}: trained, loss {' -> '.join(f'{h:.3f}' for h in history)}", flush=True)


def evaluate_all(names: list[str], zoo_dir: Path, store_dir: Path, split: str) -> store.Results:
  from launch import runner
  source = data.load_source("fashion_mnist", split, DATA_DIR.value)
  settings = {"out": str(store_dir), "dataset": "fashion_mnist", "split": split, "zoo_dir": str(zoo_dir),
              "batch_size": 500, "chunk_batches": 4, "precision": "float32"}
  for name in names:
    runner.evaluate_zoo_model(name, source, settings)
  return store.read(store_dir, "fashion_mnist", split, names)


def main(argv) -> int:
  del argv
  out = Path(OUT.value)
  zoo_dir, store_dir = out / "zoo", out / "store"
  base = "small_cnn.s0"
  names = [base] + [n for n in zoo.list_models(catalog="small") if n != base]
  train_missing(names, zoo_dir)
  calibration = evaluate_all(names, zoo_dir, store_dir, CALIBRATION.value)
  test = evaluate_all(names, zoo_dir, store_dir, TEST.value)

  temperatures = metrics.fit_temperature(calibration.logits, calibration.labels)
  probs = np.asarray(metrics.apply_temperature(test.logits, temperatures))
  outcomes = metrics.pairwise_outcomes(probs, test.labels)
  summary = {k: np.asarray(v) for k, v in metrics.summarize(outcomes).items()}
  intervals = metrics.pairwise_intervals(outcomes, num_resamples=RESAMPLES.value)

  base_entry = zoo.get(base)
  print(f"\nFashion-MNIST {TEST.value}: {len(test.labels)} examples; temperatures fitted on "
        f"{CALIBRATION.value}; 95% paired-bootstrap intervals ({RESAMPLES.value} resamples)")
  print(f"{'model':20s} {'category':18s} {'accuracy':>9s} {'EI vs base':>22s} {'ensemble gain':>24s} "
        f"{'conversion':>22s}")
  for index, name in enumerate(names):
    category = zoo.pair_category(base_entry, zoo.get(name))
    cells = [f"{summary['accuracy'][index]:9.4f}"]
    if index:
      for key in ("error_inconsistency", "relative_improvement", "conversion_rate"):
        interval = intervals[key]
        cells.append(f"{summary[key][0, index]:7.4f} [{interval.low[0, index]:.4f}, {interval.high[0, index]:.4f}]")
    print(f"{name:20s} {category:18s} " + " ".join(cells))
  others = list(range(1, len(names)))
  ei, gain = summary["error_inconsistency"][0, others], summary["relative_improvement"][0, others]
  if len(others) >= 2 and np.ptp(ei) > 0:
    fit = metrics.linear_fit(ei, gain)
    print(f"\nEI vs ensemble gain over (base, X): slope {fit['slope']:.3f}, Pearson r {fit['pearson_r']:.3f}")
  greedy = metrics.greedy_selection(probs, test.labels, start=0, pool=others, steps=len(others))
  print("greedy ensemble from the base: " + " -> ".join(names[m] for m in greedy.members) +
        "; accuracy " + " -> ".join(f"{a:.4f}" for a in greedy.accuracy))
  print(f"\nstore: {store_dir}  checkpoints: {zoo_dir}")
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
