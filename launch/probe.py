r"""Linear probes on stored embeddings: ``python -m launch.probe``.

Reads embeddings from the result store of ``launch.evaluate`` (``--store``,
``--dataset``, ``--splits=train,val,test``; models aligned by example id), or from
``.npz`` files (one per split: ``labels`` [E] (or [E, C] multi-hot for
``--protocol=multilabel``) and one array ``emb_<model>`` [E, D] per model), runs an
experiment and writes a CSV table (and a PNG figure for the mixing experiments) to
``--out``:

  single     each model alone
  concat     every pair of models concatenated (stacked generalisation, paper Fig. 7)
  mixing     base + each other model at inverse rates 100/0 … 0/100, several seeds (Fig. 6 centre)
  diversity  base + each other model, dimensions added in diversity order (Fig. 6 right)

  python -m launch.probe --store=/tmp/overlap_store --splits='train[:50000],train[50000:],test' \
      --models=small_cnn.s0,mlp.s0 --experiment=mixing --out=/tmp/probe

Flags can also come from ``--config=FILE.py[:ARG]`` (``get_config(arg)`` returning fields
named like the flags) and ``--set key=value`` (typed by the flag); flags given on the
command line win. The same mechanism and messages as launch.study (launch.configs).
"""

from __future__ import annotations

import csv
import itertools
import types
from pathlib import Path

import numpy as np
from absl import flags, logging

import probes
from launch import cli, configs

STORE = flags.DEFINE_string("store", None, "Result store written by launch.evaluate (instead of .npz files).")
DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "Dataset in --store.")
SPLITS = flags.DEFINE_list("splits", None, "Train, val and test split names in --store, e.g. "
                           "'train[:50000],train[50000:],test'.")
TRAIN = flags.DEFINE_string("train", None, "Training-split .npz (without --store).")
VAL = flags.DEFINE_string("val", None, "Validation-split .npz (chooses the L2 strength).")
TEST = flags.DEFINE_string("test", None, "Test-split .npz.")
SHARD = flags.DEFINE_bool("shard", False, "Shard training examples over all devices (logistic protocol).")
MODELS = flags.DEFINE_list("models", None, "Models (the first is the base model).")
EXPERIMENT = flags.DEFINE_enum("experiment", "single", ["single", "concat", "mixing", "diversity"], "What to run.")
PROTOCOL = flags.DEFINE_enum("protocol", "logistic", ["logistic", "ridge", "multilabel"],
                             "logistic: L-BFGS softmax (Kornblith); ridge: closed form; multilabel: one-vs-rest + mAP.")
RATES = flags.DEFINE_list("rates", ["1", "0.75", "0.5", "0.25", "0"], "Base-model shares for --experiment=mixing.")
SEEDS = flags.DEFINE_integer("seeds", 3, "Random subsets per rate.", lower_bound=1)
STEP = flags.DEFINE_integer("step", 256, "Feature-count step for --experiment=diversity.", lower_bound=1)
RANKING = flags.DEFINE_enum("ranking", "variance", list(probes.DIVERSITY_RANKINGS), "Diversity ranking.")
L2_GRID = flags.DEFINE_list("l2_grid", None, "L2 strengths (default: the 45-value Kornblith grid).")
OUT = flags.DEFINE_string("out", "probe_results", "Output directory.")
CONFIG = flags.DEFINE_string("config", None, "Optional config file FILE.py[:ARG] whose get_config(arg) returns "
                             "fields named like these flags.")
OVERRIDES = flags.DEFINE_multi_string("set", [], "Override one field, key=value, parsed by the flag's type.")
# The fields a config file or --set may give (every flag of the experiment).
_FIELDS = ("store", "dataset", "splits", "train", "val", "test", "shard", "models", "experiment", "protocol", "rates",
           "seeds", "step", "ranking", "l2_grid", "out")


def load_split(path: str, models: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Embeddings per model and labels of one split, checked for shape agreement."""
  if not Path(path).is_file():
    raise FileNotFoundError(f"feature file {path} does not exist.")
  try:
    opened = np.load(path, allow_pickle=False)
  except (ValueError, OSError, EOFError) as error:  # not a zip: numpy tries a pickle and refuses
    raise ValueError(f"{path} is not a .npz feature file ({error.__class__.__name__}); pass the file "
                     "np.savez wrote for that split.") from None
  if not hasattr(opened, "files"):
    raise ValueError(f"{path} holds one array, not a .npz of 'labels' and 'emb_<model>' arrays.")
  with opened as data:
    if "labels" not in data:
      raise ValueError(f"{path} has no 'labels' array; it holds {sorted(data.files)}.")
    labels = data["labels"]
    embeddings = {}
    for model in models:
      key = f"emb_{model}"
      if key not in data:
        available = sorted(k[4:] for k in data.files if k.startswith("emb_"))
        raise ValueError(f"{path} has no embeddings of model {model!r} (array {key}); it has {available}.")
      embeddings[model] = data[key]
      if embeddings[model].shape[0] != labels.shape[0]:
        raise ValueError(f"{path}: {key} has {embeddings[model].shape[0]} rows but labels has {labels.shape[0]}.")
  return embeddings, labels


def load_store_split(split: str, models: list[str], settings) -> tuple[dict[str, np.ndarray], np.ndarray]:
  """Embeddings per model and labels of one split of the result store, aligned by id."""
  from launch import store
  results = store.read(settings.store, settings.dataset, split, models)
  return results.embeddings, results.labels


def run_probe(x_train, y_train, x_val, y_val, x_test, y_test, grid, settings) -> tuple[float, float]:
  """(test score, chosen λ) under the selected protocol."""
  if settings.protocol == "multilabel":
    result = probes.multilabel_probe(x_train, y_train, x_val, y_val, x_test, y_test, grid)
    return result["test_map"], result["l2"]
  if settings.protocol == "logistic":
    from launch import runner
    result = probes.logistic_probe(x_train, y_train, x_val, y_val, x_test, y_test, grid,
                                   mesh=runner.data_mesh() if settings.shard else None)
  else:
    result = probes.ridge_probe(x_train, y_train, x_val, y_val, x_test, y_test, grid)
  return result["test_accuracy"], result["l2"]


def experiment_rows(splits, models, grid, settings):
  """Yields one result row (a dict) per probe run."""
  (train, y_train), (val, y_val), (test, y_test) = splits
  probe = lambda pick: run_probe(pick(train), y_train, pick(val), y_val, pick(test), y_test, grid, settings)
  base, others = models[0], models[1:]
  if settings.experiment == "single":
    for model in models:
      score, l2 = probe(lambda split: split[model])
      yield {"features": model, "dims": train[model].shape[1], "score": score, "l2": l2}
  elif settings.experiment == "concat":
    for a, b in itertools.combinations(models, 2):
      score, l2 = probe(lambda split: probes.concatenate([split[a], split[b]]))
      yield {"features": f"{a}+{b}", "dims": train[a].shape[1] + train[b].shape[1], "score": score, "l2": l2}
  elif settings.experiment == "mixing":
    for other, rate, seed in itertools.product(others, [float(r) for r in settings.rates], range(settings.seeds)):
      dims_a, dims_b = probes.mixture_indices(train[base].shape[1], train[other].shape[1], rate, seed=seed)
      pick = lambda split: np.concatenate([split[base][:, dims_a], split[other][:, dims_b]], axis=1)
      score, l2 = probe(pick)
      yield {"pair": f"{base}+{other}", "base_rate": rate, "seed": seed, "dims": len(dims_a) + len(dims_b),
             "score": score, "l2": l2}
  else:
    for other in others:
      order = probes.diversity_order([train[base], train[other]], settings.ranking)
      for count in range(settings.step, len(order) + 1, settings.step):
        chosen = order[:count]
        pick = lambda split: probes.concatenate([split[base], split[other]])[:, chosen]
        score, l2 = probe(pick)
        yield {"pair": f"{base}+{other}", "ranking": settings.ranking, "dims": count, "score": score, "l2": l2}


def write_figure(rows, path: Path, settings) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  x_key = "base_rate" if settings.experiment == "mixing" else "dims"
  figure, axis = plt.subplots(figsize=(5, 3.5))
  for pair in sorted({r["pair"] for r in rows}):
    xs = sorted({r[x_key] for r in rows if r["pair"] == pair})
    scores = [[r["score"] for r in rows if r["pair"] == pair and r[x_key] == x] for x in xs]
    axis.errorbar(xs, [np.mean(s) for s in scores], yerr=[np.std(s) for s in scores], marker="o", label=pair,
                  capsize=3)
  axis.set_xlabel("share of the base model's features" if x_key == "base_rate" else "features (diversity order)")
  axis.set_ylabel("test mAP" if settings.protocol == "multilabel" else "test accuracy (linear probe)")
  axis.legend(fontsize=7)
  figure.tight_layout()
  figure.savefig(path, dpi=150)


def _numbers(flag: str, values, low: float, high: float, example: str) -> list[float]:
  """``--flag``'s comma-separated values as floats in [low, high] (else BadInput naming the flag)."""
  try:
    numbers = [float(v) for v in values]
  except ValueError:
    raise cli.BadInput(f"--{flag}={','.join(values)}: not numbers; write e.g. --{flag}={example}.") from None
  bad = [v for v in numbers if not low <= v <= high]  # NaN fails both comparisons
  if bad or not numbers:
    raise cli.BadInput(f"--{flag}={','.join(values)}: {bad or 'nothing'} outside [{low:g}, {high:g}]; write e.g. "
                       f"--{flag}={example}.")
  return numbers


def check_flags(settings) -> tuple[list[str], list[float] | None]:
  """(models, L2 grid): every setting checked before anything is read or written."""
  models = list(settings.models)
  if len(set(models)) != len(models):
    raise cli.BadInput(f"--models={','.join(models)} names a model twice; name each once.")
  if settings.experiment != "single" and len(models) < 2:
    raise cli.BadInput(f"--experiment={settings.experiment} needs at least two models (the first is the base); got "
                       f"--models={','.join(models)}. Add one, e.g. --models={models[0] if models else 'a'},OTHER.")
  grid = None if settings.l2_grid is None else _numbers("l2_grid", settings.l2_grid, 1e-300, float("inf"), "1e-3,1e-1")
  if grid is not None and not all(np.isfinite(grid)):
    raise cli.BadInput(f"--l2_grid={','.join(settings.l2_grid)}: strengths must be finite and > 0; write e.g. "
                       "--l2_grid=1e-3,1e-1.")
  _numbers("rates", settings.rates, 0.0, 1.0, "1,0.5,0")
  if settings.store:
    if not settings.splits or len(settings.splits) != 3:
      raise cli.BadInput("--store needs --splits=TRAIN,VAL,TEST (three split names), e.g. "
                         "--splits='train[:50000],train[50000:],test'.")
    cli.check_input_dir("store", settings.store)
  elif settings.train and settings.val and settings.test:
    for flag, path in (("train", settings.train), ("val", settings.val), ("test", settings.test)):
      if not Path(path).is_file():
        raise cli.BadInput(f"--{flag}={path}: no such .npz file; pass the feature file of that split.")
  else:
    raise cli.BadInput("give --store with --splits, or --train, --val and --test .npz files.")
  cli.check_output_dir("out", settings.out)
  return models, grid


def _read_splits(models: list[str], settings):
  """The three splits' (embeddings, labels); an unreadable or mismatched input is BadInput."""
  import zipfile
  from launch import store
  try:
    if settings.store:
      return [load_store_split(split, models, settings) for split in settings.splits]
    return [load_split(path, models) for path in (settings.train, settings.val, settings.test)]
  except (FileNotFoundError, ValueError, KeyError, zipfile.BadZipFile, EOFError, store.DamagedFile) as error:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    raise cli.BadInput(f"{message}") from None


def _check_against_data(splits, models, settings) -> None:
  """What needs the data to check: the diversity step against the pairs' widths."""
  (train, _), _, _ = splits
  if settings.experiment == "diversity":
    widest = max(train[models[0]].shape[1] + train[m].shape[1] for m in models[1:])
    if settings.step > widest:
      raise cli.BadInput(f"--step={settings.step} exceeds every pair's feature count (at most {widest}): no probe "
                         f"would run; write e.g. --step={max(1, widest // 4)}.")


def _settings() -> types.SimpleNamespace:
  """Every flag's value, with the config file's and ``--set``'s fields where a flag was not
  given (launch.configs.flag_settings, the mechanism launch.study and launch.evaluate share)."""
  settings = configs.flag_settings(_FIELDS, CONFIG.value, OVERRIDES.value, "`python -m launch.probe --help`")
  if not settings["models"]:
    raise cli.BadInput("--models must be given (or set in --config), e.g. --models=a,b (the first is the base).")
  return types.SimpleNamespace(**settings)


def main(argv):
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments {argv[1:]}; flags only (e.g. --models=a,b --store=DIR).")
  settings = _settings()
  models, grid = check_flags(settings)
  splits = _read_splits(models, settings)
  _check_against_data(splits, models, settings)
  out = Path(settings.out)
  rows = []
  for row in experiment_rows(splits, models, grid, settings):
    logging.info("%s", row)
    print(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    rows.append(row)
  out.mkdir(parents=True, exist_ok=True)
  table = out / f"probe_{settings.experiment}.csv"
  partial = table.with_suffix(".csv.tmp")
  with open(partial, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  partial.replace(table)  # never leave a half-written table behind
  print(f"wrote {table}")
  if settings.experiment in ("mixing", "diversity"):
    write_figure(rows, out / f"probe_{settings.experiment}.png", settings)
    print(f"wrote {out / f'probe_{settings.experiment}.png'}")
  return 0


if __name__ == "__main__":
  cli.run(main, "probe", (configs.ConfigError,))
