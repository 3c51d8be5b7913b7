r"""The default study: ``python -m launch.study [--preset=default|smoke] [--out=DIR]``.

1. trains the ``small`` zoo (≥ 3 models per category around the base ``cnn.s0``; recipes
   from zoo.fitting) or reuses its cached orbax checkpoints (a damaged one is retrained);
2. evaluates every model on a held-out calibration slice of train and on test through
   the evaluation runner into the result store;
3. fits one temperature per model on the calibration slice, then computes on test every
   pairwise metric with paired-bootstrap intervals, per derived category;
4. specialisation (θ, per class), greedy ensembles from the best models over weaker ones,
   feature-mixing linear probes;
5. writes the report directory (report.md, Fig. 1–6 PNGs, CSVs, config.json) and prints
   a summary with a verdict, computed from the data, on each of the paper's claims.

  python -m launch.study                              # the README's study
  python -m launch.study --preset=smoke --out=/tmp/s  # every code path in under a minute
  python -m launch.study --set epochs=4 --set models='cnn.*,mlp.s0'
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
from absl import app, flags

import metrics
import zoo
from launch import data, procedural, store
from launch.study import analysis, presets, report
from zoo import fitting

PRESET = flags.DEFINE_string("preset", "default", f"Study size: {sorted(presets.PRESETS)}.")
OVERRIDES = flags.DEFINE_multi_string("set", [], "Override one preset field, key=value (repeatable).")
OUT = flags.DEFINE_string("out", "overlap_study", "Report directory (replaced as a whole when the study ends).")
CACHE = flags.DEFINE_string("cache_dir", None, "Trained checkpoints and the result store "
                            "(default: $OVERLAP_CACHE/study or ~/.cache/overlap/study).")
DATA_DIR = flags.DEFINE_string("data_dir", None, "Directory of the Fashion-MNIST IDX files (default: Debian's).")


class StudyError(Exception):
  """Bad input: printed as one paragraph, exit status 2."""


def _cache_dir() -> Path:
  if CACHE.value:
    return Path(CACHE.value).expanduser()
  return Path(os.environ.get("OVERLAP_CACHE") or Path.home() / ".cache" / "overlap") / "study"


def select_models(patterns: str) -> list[str]:
  """The small catalog's rows matching the comma-separated patterns; the base first."""
  names = zoo.list_models(catalog="small")
  base = zoo.base_of("small").name
  chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p.strip()) for p in patterns.split(","))]
  unknown = [p for p in patterns.split(",") if not any(fnmatch.fnmatchcase(n, p.strip()) for n in names)]
  if unknown:
    raise StudyError(f"no model of the small catalog matches {unknown}; the catalog has {names} "
                     "(python -m launch.zoo list --catalog=small).")
  return [base] + [n for n in chosen if n != base]


def training_data(config, names: list[str]) -> dict:
  """Arrays per pretraining-data name (only those the chosen rows need)."""
  try:
    train = data.load_source("fashion_mnist", f"train[:{config.train_examples}]", DATA_DIR.value)
  except FileNotFoundError as error:
    raise StudyError(f"{error} The study trains on Fashion-MNIST: install Debian's dataset-fashion-mnist "
                     "(bash scripts/setup.sh does) or pass --data_dir=DIR holding the four IDX files.") from None
  datasets = {"fashion_mnist": (train.images, train.labels)}
  needed = {zoo.get(n).pretraining_data for n in names}
  if "procedural_shapes" in needed:
    datasets["procedural_shapes"] = procedural.shapes(config.pretrain_examples, seed=1)
  if "procedural_textures" in needed:
    datasets["procedural_textures"] = procedural.textures(config.pretrain_examples, seed=2)
  if "fashion_mnist_classes_0-4" in needed:
    keep = train.labels < 5
    datasets["fashion_mnist_classes_0-4"] = (train.images[keep], train.labels[keep])
  return datasets


def train_zoo(config, names: list[str], zoo_dir: Path) -> None:
  """Loads each row's cached checkpoint or trains it (the base first: it teaches distillation)."""
  missing = []
  for name in names:
    try:
      zoo.load(zoo.get(name), zoo_dir)
      print(f"  {name}: cached", flush=True)
    except zoo.WeightsUnavailable as error:
      if "cannot read" in str(error):
        print(f"  {name}: damaged checkpoint, retraining ({error})", flush=True)
      missing.append(zoo.get(name))
  if not missing:
    return
  datasets = training_data(config, names)
  teacher = None
  platform = jax.default_backend()
  for index, group in enumerate(fitting.vmap_groups(missing, platform)):
    start = time.perf_counter()
    if len(group) > 1:
      models = fitting.fit_group(group, datasets, config.epochs)
    else:
      entry = group[0]
      if entry.objective == fitting.NEEDS_TEACHER and teacher is None:
        teacher = zoo.load(zoo.base_of("small"), zoo_dir)
      models = [fitting.fit_row(entry, datasets, config.epochs, teacher=teacher)]
    for entry, model in zip(group, models):
      zoo.save_weights(entry, model, zoo_dir)
    print(f"  [{index + 1}] trained {', '.join(e.name for e in group)} in {time.perf_counter() - start:.1f} s"
          + (" (vmapped)" if len(group) > 1 else ""), flush=True)


def evaluate(config, names, zoo_dir: Path, store_dir: Path, split: str) -> store.Results:
  from launch import runner
  source = data.load_source("fashion_mnist", split, DATA_DIR.value)
  settings = {"out": str(store_dir), "dataset": "fashion_mnist", "split": split, "zoo_dir": str(zoo_dir),
              "batch_size": config.eval_batch_size, "chunk_batches": 4, "precision": "float32"}
  for name in names:
    runner.evaluate_zoo_model(name, source, settings)
  return store.read(store_dir, "fashion_mnist", split, names)


def analyse(config, names, calibration: store.Results, test: store.Results) -> dict:
  temperatures = np.asarray(metrics.fit_temperature(calibration.logits, calibration.labels))
  calibrated = lambda results: np.asarray(metrics.apply_temperature(results.logits, temperatures))
  test_set = analysis.Predictions(names, calibrated(test), test.labels, [test.embeddings[n] for n in names])
  calibration_set = analysis.Predictions(names, calibrated(calibration), calibration.labels,
                                         [calibration.embeddings[n] for n in names])
  outcomes = metrics.pairwise_outcomes(test_set.probs, test_set.labels)
  intervals = metrics.pairwise_intervals(outcomes, num_resamples=config.resamples)
  pairs = analysis.pair_table(names, intervals)
  base_pairs = [p for p in pairs if p["with_base"]]
  categories = analysis.category_table(names, outcomes, config.resamples)
  correct = np.asarray(outcomes.correct)
  chosen = analysis.representatives(names, correct.mean(axis=1))
  special = analysis.specialisation(test_set, correct, chosen, config.theta_bins)
  greedy = analysis.greedy_runs(names, calibration_set.probs, calibration_set.labels, test_set,
                                config.greedy_starts, config.greedy_steps)
  mixing = analysis.mixing(calibration_set, test_set, chosen, config.mixing_rates, config.mixing_seeds,
                           config.probe_l2_grid)
  fit = analysis.base_fit(base_pairs)
  return {"config": config.to_dict(), "num_test_examples": int(len(test.labels)),
          "models": analysis.model_table(test_set, temperatures, intervals), "pairs": pairs,
          "categories": categories, "fit": fit, "specialisation": special, "greedy": greedy, "mixing": mixing,
          "claims": analysis.claims(categories, base_pairs, fit, special, greedy, mixing)}


def summary(results: dict) -> str:
  lines = [f"\nper category, (base, X) pairs on {results['config']['test_split']}, mean [95% CI] in %:",
           f"{'category':18s} {'pairs':>5s} {'error inconsistency':>24s} {'ensemble gain':>22s} "
           f"{'conversion rate':>24s}"]
  for c in results["categories"]:
    cell = lambda k: f"{100 * c[k]:6.2f} [{100 * c[k + '_low']:6.2f}, {100 * c[k + '_high']:6.2f}]"
    lines.append(f"{c['category']:18s} {c['pairs']:5d} {cell('error_inconsistency'):>24s} "
                 f"{cell('relative_improvement'):>22s} {cell('conversion_rate'):>24s}")
  lines.append("\nthe paper's claims at this scale:")
  lines += [f"  [{c['verdict']}] {c['claim']}\n      {c['evidence']}" for c in results["claims"]]
  return "\n".join(lines)


def _check_writable(out: Path) -> None:
  parent = out.expanduser().resolve().parent
  try:
    parent.mkdir(parents=True, exist_ok=True)
    probe = parent / f".{out.name}.write-test"
    probe.write_text("")
    probe.unlink()
  except OSError as error:
    raise StudyError(f"cannot write the report next to {out} ({error.strerror}): pass --out=DIR in a writable "
                     "place.") from None


def run(argv) -> int:
  del argv
  start = time.perf_counter()
  try:
    config = presets.build(PRESET.value, OVERRIDES.value)
  except ValueError as error:
    raise StudyError(str(error)) from None
  out = Path(OUT.value).expanduser()
  _check_writable(out)
  names = select_models(config.models)
  cache = _cache_dir()
  zoo_dir, store_dir = cache / "zoo", cache / "store"
  print(f"overlap study, preset {PRESET.value}: {len(names)} models, cache {cache}", flush=True)
  print("1/4 zoo", flush=True)
  train_zoo(config, names, zoo_dir)
  print("2/4 evaluation", flush=True)
  calibration = evaluate(config, names, zoo_dir, store_dir, config.calibration_split)
  test = evaluate(config, names, zoo_dir, store_dir, config.test_split)
  print("3/4 analysis", flush=True)
  results = analyse(config, names, calibration, test)
  print("4/4 report", flush=True)
  report.write(results, out)
  print(summary(results))
  print(f"\nreport: {out / 'report.md'}  ({time.perf_counter() - start:.0f} s)")
  return 0


def main(argv) -> int:
  try:
    return run(argv)
  except StudyError as error:
    print(f"overlap study: {error}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
