"""The study's analysis: calibrated predictions and embeddings in, the paper's tables out.

Pure functions of arrays and of the zoo rows they are given (``rows``: the study's
:class:`zoo.ModelEntry` rows, model 0 the base, resolved once by the pipeline; their
training-method fields derive each pair's category): no files, no registry lookup. Every
number the report prints comes from a table built here.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import jax.numpy as jnp
import numpy as np

import metrics
import probes
import zoo

CATEGORY_ORDER = zoo.CATEGORIES  # reinit → hyper-parameters → architecture → framework → dataset

PAIR_METRICS = ("error_inconsistency", "ensemble_accuracy", "relative_improvement", "conversion_rate",
                "cohen_kappa")


@dataclasses.dataclass
class Predictions:
  """Aligned outputs of the zoo (model 0 is the base) on one split.

  ``probs`` holds the temperature-calibrated probabilities as a
  :class:`metrics.PredictionStack` (N per-model [E, K] array-likes, e.g. the store's
  lazy reader, or one [N, E, K] array), never all in memory at once; ``correct`` and
  ``confidence`` are read off it in one pass over the models (:func:`predictions`),
  which also builds the candidate view the pairwise pass and greedy selection reuse.
  ``embeddings`` are per-model [E, D] array-likes (lazy or in memory).
  """
  names: list[str]
  probs: metrics.PredictionStack
  labels: np.ndarray       # int [E]
  embeddings: list
  correct: np.ndarray      # bool [N, E]: each model's top-1 is the label
  confidence: np.ndarray   # float32 [N, E]: each model's top-1 calibrated probability

  @property
  def num_classes(self) -> int:
    return self.probs.num_classes


def predictions(names: list[str], probs, labels, embeddings, *, correct=None, confidence=None) -> Predictions:
  """:class:`Predictions` of calibrated ``probs`` (an [N, E, K] array or N per-model [E, K]
  array-likes): one pass over the models builds their candidate view
  (``metrics.candidates.build_candidate_view``, kept on the stack), whose per-model
  correctness and row maxima are ``correct`` and ``confidence``. Given both (that pass's
  arrays, kept from an earlier run), no pass is made."""
  stack = metrics.PredictionStack(probs, "probs")
  if correct is not None and confidence is not None:
    return Predictions(list(names), stack, np.asarray(labels), list(embeddings), np.asarray(correct),
                       np.asarray(confidence))
  view = metrics.candidates.build_candidate_view(stack, labels)
  return Predictions(list(names), stack, np.asarray(labels), list(embeddings), np.asarray(view.correct),
                     np.asarray(view.confidence))


def names_of(rows: Sequence[zoo.ModelEntry]) -> list[str]:
  """The rows' model names, in order."""
  return [row.name for row in rows]


def categories_vs_base(rows: Sequence[zoo.ModelEntry]) -> list[str]:
  """The derived category (zoo.pair_category) of (base, X) for every row X; "base" for the base (row 0)."""
  return ["base"] + [zoo.pair_category(rows[0], row) for row in rows[1:]]


BAND_LABELS = {True: "in band", False: "outside band"}


def model_table(test: Predictions, rows: Sequence[zoo.ModelEntry], temperatures, intervals,
                in_band=None) -> list[dict]:
  """A row per model (``rows``, in ``test``'s order): category vs the base, training-method
  fields, test accuracy (an Interval), temperature, and whether it is inside the accuracy band
  (``in_band`` bool [N])."""
  if names_of(rows) != list(test.names):
    raise ValueError(f"model_table: the rows {names_of(rows)} are not the models of the predictions {test.names}.")
  categories = categories_vs_base(rows)
  in_band = np.ones(len(rows), bool) if in_band is None else np.asarray(in_band, bool)
  return [{"model": entry.name, "category": categories[index], "band": BAND_LABELS[bool(in_band[index])],
           "objective": entry.objective, "pretraining_data": entry.pretraining_data,
           "architecture": entry.architecture, "accuracy": interval_at(intervals["accuracy"], index),
           "temperature": float(temperatures[index])}
          for index, entry in enumerate(rows)]


def interval_at(interval: metrics.Interval, index) -> metrics.Interval:
  """The scalar :class:`metrics.Interval` at ``index`` of an array-valued one (Python floats;
  a table's CSV writes it as three columns: key, key_low, key_high)."""
  scalar = lambda values: float("nan") if values is None else float(np.asarray(values)[index])
  return metrics.Interval(scalar(interval.estimate), scalar(interval.low), scalar(interval.high),
                          scalar(interval.std), float(interval.confidence), int(interval.num_resamples))


def pair_table(rows: Sequence[zoo.ModelEntry], intervals) -> list[dict]:
  """Every pair of ``rows`` once: its derived category and each metric as its 95% Interval."""
  table = []
  for a in range(len(rows)):
    for b in range(a + 1, len(rows)):
      row = {"model_a": rows[a].name, "model_b": rows[b].name, "with_base": a == 0,
             "category": zoo.pair_category(rows[a], rows[b])}
      row.update({key: interval_at(intervals[key], (a, b)) for key in PAIR_METRICS})
      table.append(row)
  return table


def _category_means(data, weights):
  """Mean over each category's (base, X) pairs of the pairwise metrics (bootstrap statistic)."""
  correct, ensemble_correct, pair_a, pair_b, membership = data
  stats = metrics.ensemble.summarize_outcomes(correct, ensemble_correct, pair_a, pair_b, weights)
  out = {}
  for key in ("error_inconsistency", "ensemble_accuracy", "relative_improvement", "conversion_rate"):
    row = stats[key][0]
    valid = membership * ~jnp.isnan(row)
    out[key] = jnp.sum(jnp.where(valid > 0, row, 0.0) * valid, axis=1) / jnp.maximum(valid.sum(axis=1), 1)
  return out


def category_table(rows: Sequence[zoo.ModelEntry], outcomes, num_resamples: int, in_band=None) -> list[dict]:
  """Per category (paper order): number of (base, X) pairs and the mean of each metric
  with a paired-bootstrap interval of that mean (examples resampled jointly). Only the
  partners X with ``in_band`` (bool [N]; default all) count, as the paper keeps its
  category comparisons to one accuracy band."""
  categories = categories_vs_base(rows)
  in_band = np.ones(len(rows), bool) if in_band is None else np.asarray(in_band, bool)
  present = [c for c in CATEGORY_ORDER if any(cat == c and band for cat, band in zip(categories, in_band))]
  if not present:           # no partner in the band: no category to compare
    return []
  membership = np.array([[float(cat == c and band) for cat, band in zip(categories, in_band)] for c in present],
                        np.float32)
  # Only the (base, X) pairs enter the means: resampling the others too would cost N/2 times
  # more (weighted sums of 0/1 outcomes with integer weights are exact, so the numbers are the same).
  with_base = np.flatnonzero(np.asarray(outcomes.pair_a) == 0)
  data = (outcomes.correct, jnp.asarray(outcomes.ensemble_correct)[with_base],
          jnp.asarray(np.asarray(outcomes.pair_a)[with_base]), jnp.asarray(np.asarray(outcomes.pair_b)[with_base]),
          jnp.asarray(membership))
  intervals = metrics.paired_bootstrap(_category_means, data, outcomes.num_examples, num_resamples=num_resamples)
  rows = []
  for index, category in enumerate(present):
    row = {"category": category, "pairs": int(membership[index].sum())}
    row.update({key: interval_at(interval, index) for key, interval in intervals.items()})
    rows.append(row)
  return rows


def representatives(rows: Sequence[zoo.ModelEntry], accuracy: np.ndarray) -> dict[str, int]:
  """Per category, the (base, X) partner X (an index into ``rows``) with the highest accuracy
  (the paper shows one representative pair per category in Fig. 3, 4 and 6)."""
  categories = categories_vs_base(rows)
  chosen = {}
  for category in CATEGORY_ORDER:
    members = [i for i, c in enumerate(categories) if c == category]
    if members:
      chosen[category] = max(members, key=lambda i: accuracy[i])
  return chosen


def specialisation(test: Predictions, correct: np.ndarray, chosen: dict[str, int], bins: int,
                   confidence=None) -> dict:
  """θ histograms (Fig. 3) of the representative pairs over the examples inconsistent in
  any of them, the mean θ of each one-sided group, and per-class specialisation (Fig. 4).
  ``confidence``: the models' top-1 confidences [N, E] if already computed."""
  pairs = [(0, index) for index in chosen.values()]
  mask = metrics.inconsistent_anywhere(correct, pairs)
  confidence = test.confidence if confidence is None else np.asarray(confidence)
  histograms = metrics.theta_histograms(confidence, correct, bins=bins, example_mask=mask)
  angles = np.asarray(metrics.theta(confidence[0][None], confidence))  # θ(base, X) in degrees, per example
  per_class = metrics.class_specialisation(correct, test.labels, test.num_classes)
  out = {"edges": histograms["edges"], "groups": histograms["groups"], "pairs": {}}
  for category, index in chosen.items():
    only_base = mask & correct[0] & ~correct[index]
    only_other = mask & ~correct[0] & correct[index]
    out["pairs"][category] = {
        "model": test.names[index],
        "counts": histograms["counts"][0, index],
        "mean_theta_only_base": float(angles[index][only_base].mean()) if only_base.any() else float("nan"),
        "mean_theta_only_other": float(angles[index][only_other].mean()) if only_other.any() else float("nan"),
        "class_specialisation": per_class[0, index],
    }
  return out


# Fig. 5's pool: models at least this far (accuracy, fraction) below the run's start model on
# the selection split. The paper's pool tops out at 77.9% under starts of 80.9–85.1%; 2 points
# keeps "low-accuracy" meaning clearly weaker, not a near-tie with the start.
GREEDY_POOL_GAP = 0.02


def greedy_plan(selection_accuracy, starts: int, gap: float = GREEDY_POOL_GAP) -> list[tuple[int, list[int]]]:
  """(start, pool) of each greedy run: the ``starts`` most accurate models on the selection
  split (ties: lower index), each with the pool of every model whose selection accuracy is
  at least ``gap`` below its start's."""
  accuracy = np.asarray(selection_accuracy, np.float64)
  order = np.argsort(-accuracy, kind="stable")
  # 1e-12: a model exactly ``gap`` below (k/E fractions, rounded) counts as below.
  return [(int(start), [int(m) for m in range(len(accuracy)) if accuracy[m] <= accuracy[start] - gap + 1e-12])
          for start in order[:starts]]


def ensemble_path(probs, labels, members) -> tuple[list[float], np.ndarray]:
  """The ensembles of the first 1, 2, … ``members``: each one's accuracy and correctness
  bool [len(members), E], the ensemble being argmax_k Σ_m probs[m] (float32, summed in joining
  order, as metrics.greedy_selection sums). Reads only the members, one at a time."""
  labels = np.asarray(labels)
  summed, accuracy, correct = None, [], []
  for m in members:
    part = np.asarray(probs[m], np.float32)
    summed = part.copy() if summed is None else summed + part
    correct.append(np.argmax(summed, -1) == labels)
    accuracy.append(float(correct[-1].mean()))
  return accuracy, np.stack(correct)


def chosen_size(selection_accuracy) -> int:
  """The ensemble size the selection split picks from a greedy path (entry 0: the start
  alone): 1 + the first index of its maximum, so a tie keeps the smaller ensemble and a
  path that never beats the start picks the start alone (PAPER.md §3.8 adds members while
  they help; the selection split, not test, says whether they do)."""
  return int(np.argmax(np.asarray(selection_accuracy, np.float64))) + 1


def base_ensemble_correct(outcomes) -> np.ndarray:
  """bool [N, E]: row m the correctness of the (base, m) ensemble, from
  metrics.pairwise_outcomes (its pairs (0, m)); row 0 the base alone."""
  correct = np.asarray(outcomes.correct)
  rows = correct.copy()
  with_base = np.flatnonzero(np.asarray(outcomes.pair_a) == 0)
  rows[np.asarray(outcomes.pair_b)[with_base]] = np.asarray(outcomes.ensemble_correct)[with_base]
  return rows


def greedy_runs(rows: Sequence[zoo.ModelEntry], selection_probs, selection_labels, test: Predictions, starts: int,
                steps: int, gap: float = GREEDY_POOL_GAP) -> tuple[list[dict], list[np.ndarray]]:
  """Fig. 5: greedy selection (metrics.greedy_selection) from each of the ``starts`` best
  models on the selection split, over the models at least ``gap`` below that start
  (:func:`greedy_plan`). Members are chosen on the selection split (disjoint from
  calibration and test); each ensemble on the way is scored on test (reading only its
  members' test outputs). A start with an empty pool gives a run of the start alone.

  Each row also holds ``chosen_size`` (:func:`chosen_size`: the selection split's best point
  of the path, the start alone included) with its test accuracy, and the best first
  addition (the paper's table: the pool model that, added to the start, makes the most
  accurate pair on the selection split = the path's first step) with its test gain.

  Returns (rows, chosen): a row per run, and per run the test correctness bool [E] of the
  ensemble of the chosen size (for the claim-4 bootstrap; kept out of the rows).
  """
  names = names_of(rows)
  # One candidate-view pass over the selection split: each model's accuracy, and the view
  # every greedy run below reuses (kept on the stack).
  selection = predictions(names, selection_probs, selection_labels, [])
  selection_accuracy = selection.correct.mean(axis=1)
  test_accuracy = test.correct.mean(axis=1)
  runs, chosen = [], []
  for start, pool in greedy_plan(selection_accuracy, starts, gap):
    if pool:
      result = metrics.greedy_selection(selection.probs, selection.labels, start, pool, min(steps, len(pool)))
      members, on_selection = result.members, [float(a) for a in result.accuracy]
    else:
      members, on_selection = [start], [float(selection_accuracy[start])]
    on_test, correct = ensemble_path(test.probs, test.labels, members)
    size = chosen_size(on_selection)
    categories = [zoo.pair_category(rows[start], rows[m]) for m in members]
    runs.append({"start": names[start], "members": [names[m] for m in members],
                 "categories_vs_start": ["start"] + categories[1:], "pool": [names[m] for m in pool],
                 "pool_max_selection_accuracy": float(selection_accuracy[pool].max()) if pool else float("nan"),
                 "selection_accuracy": on_selection, "test_accuracy": on_test,
                 "chosen_size": size, "chosen_test_accuracy": on_test[size - 1],
                 "best_first_addition": names[members[1]] if len(members) > 1 else None,
                 "best_first_addition_test_gain": on_test[1] - on_test[0] if len(members) > 1 else float("nan"),
                 "pool_best_test_accuracy": float(test_accuracy[pool].max()) if pool else float("nan")})
    chosen.append(correct[size - 1])
  return runs, chosen


def _probe_split(calibration: Predictions) -> int:
  """Probe train/val boundary inside the calibration split (80/20)."""
  return int(len(calibration.labels) * 0.8)


def _pad_columns(x: np.ndarray, width: int | None) -> np.ndarray:
  """``x`` [n, d] with zero columns appended up to ``width`` (None: as is). A zero column
  stays zero after standardisation (σ < ε → 1) and its weight stays 0 (zero gradient,
  zero start), so a probe on the padded features is the probe on ``x``; padding every
  probe of a stage to one width compiles its L-BFGS sweep and refit once (each compile
  of them takes seconds, more than most fits)."""
  if width is None or width == x.shape[1]:
    return x
  if width < x.shape[1]:
    raise ValueError(f"cannot pad {x.shape[1]} feature columns down to width {width}.")
  return np.concatenate([x, np.zeros((len(x), width - x.shape[1]), x.dtype)], axis=1)


def _pair_width(calibration: Predictions, chosen: dict[str, int]) -> int:
  """The widest concatenated [base | partner] embedding over the representative pairs."""
  base = calibration.embeddings[0].shape[1]
  return max((base + calibration.embeddings[i].shape[1] for i in chosen.values()), default=base)


def _pair_features(split: Predictions, index: int, width: int | None) -> np.ndarray:
  """[E, width]: the concatenated [base | model index] embeddings, zero-padded to ``width``."""
  return _pad_columns(np.concatenate([split.embeddings[0], split.embeddings[index]], axis=1), width)


def _subset_masks(subsets, num_columns: int, batch: int | None) -> np.ndarray:
  """float32 [max(batch, len(subsets)), num_columns]: row s is 1 on the columns of subsets[s];
  rows past the subsets repeat the first (padding to one compiled batch; their fits are dropped)."""
  masks = np.zeros((max(batch or 0, len(subsets)), num_columns), np.float32)
  for row, keep in enumerate(subsets):
    masks[row, np.asarray(keep, np.int64)] = 1.0
  masks[len(subsets):] = masks[0]
  return masks


def _pair_subset_outcomes(calibration: Predictions, test: Predictions, index: int, subsets, l2_grid, steps: int,
                          width: int | None = None, batch: int | None = None) -> list[tuple[float, np.ndarray]]:
  """Per subset of columns of the concatenated [base | model index] embeddings, the
  (test accuracy, bool [E_test] per-example correctness) of its Kornblith probe
  (probes.subset_probes: train/val = the calibration split's first 80% / the rest, test =
  test), every subset of the pair fitted together. Columns outside a subset carry weight 0,
  so each probe is the one on its subset alone; padding the columns to ``width`` and the
  subsets to ``batch`` gives every pair the same shapes (one compile)."""
  split = _probe_split(calibration)
  x, x_test = _pair_features(calibration, index, width), _pair_features(test, index, width)
  masks = _subset_masks(subsets, x.shape[1], batch)
  outcomes = _single_label_subset_outcomes(x[:split], calibration.labels[:split], x[split:],
                                           calibration.labels[split:], x_test, test.labels, masks, l2_grid, steps)
  return outcomes[:len(subsets)]


def _single_label_subset_outcomes(x_train, y_train, x_val, y_val, x_test, y_test, masks, l2_grid,
                                  steps: int) -> list[tuple[float, np.ndarray]]:
  """Per row of ``masks``, (accuracy, bool [E_test] correctness) of probes.subset_probes over
  the classes the probe's training examples cover: a held-out slice of a 1,000-class train
  split may miss a class, whose val/test examples no probe could get right; they are left
  out (and classes renumbered densely) and count as wrong. Splits so small that no
  validation example is of a training class choose λ on train."""
  split = probes.dense_class_split(y_train, y_val, y_test)
  dense, keep_test = split.dense, split.keep_test
  if not keep_test.any():
    return [(0.0, np.zeros(len(y_test), bool)) for _ in masks]
  result = probes.subset_probes(x_train, dense(y_train), *split.validation(x_train, y_train, x_val, y_val),
                                x_test[keep_test], dense(y_test[keep_test]), masks, l2_grid, iterations=steps,
                                refit_iterations=max(1, steps // 2))
  outcomes = []
  for predictions in np.asarray(result["test_predictions"]):
    correct = np.zeros(len(y_test), bool)   # the left-out test examples count as wrong
    correct[keep_test] = predictions == dense(y_test[keep_test])
    outcomes.append((float(correct.mean()), correct))
  return outcomes


def _single_label_score(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid, max_iterations) -> float:
  """Test accuracy of :func:`_single_label_outcomes`."""
  return _single_label_outcomes(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid, max_iterations)[0]


def _single_label_outcomes(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid,
                           max_iterations) -> tuple[float, np.ndarray]:
  """(accuracy, bool [E_test] correctness) of logistic_probe over the classes the probe's
  training examples cover: a held-out slice of a 1,000-class train split may miss a class,
  whose val/test examples no probe could get right; they are left out (and classes
  renumbered densely). Splits so small that no validation example is of a training class
  choose λ on train."""
  split = probes.dense_class_split(y_train, y_val, y_test)
  dense, keep_test = split.dense, split.keep_test
  correct = np.zeros(len(y_test), bool)   # the left-out test examples count as wrong
  if not keep_test.any():
    return 0.0, correct
  result = probes.logistic_probe(x_train, dense(y_train), *split.validation(x_train, y_train, x_val, y_val),
                                 x_test[keep_test], dense(y_test[keep_test]), l2_grid=l2_grid,
                                 max_iterations=max_iterations)
  correct[keep_test] = np.asarray(result["test_predictions"]) == dense(y_test[keep_test])
  return float(correct.mean()), correct


def _mixing_plan(calibration: Predictions, chosen: dict[str, int], rates, seeds: int) -> list[tuple]:
  """Per representative pair (category, index, draws, subsets): its draws (rate, seed, dims_a,
  dims_b, key) and the column subsets of the concatenated pair that no earlier pair fits.
  Mixtures that keep the same columns are the same probe (the same padded matrix, bit for
  bit): rate 1 keeps all of the base's columns and none of the partner's, for every pair
  and seed; a rate whose draw keeps all of each side's columns repeats over seeds. Each
  distinct mixture is fitted once (keyed on its columns)."""
  plan, planned = [], set()
  dim_a = calibration.embeddings[0].shape[1]
  for category, index in chosen.items():
    draws, subsets = [], []
    for rate in rates:
      for seed in range(seeds):
        dims_a, dims_b = probes.mixture_indices(dim_a, calibration.embeddings[index].shape[1], float(rate), seed=seed)
        key = (tuple(dims_a.tolist()), index if dims_b.size else None, tuple(dims_b.tolist()))
        if key not in planned:
          planned.add(key)
          subsets.append((key, np.concatenate([dims_a, dim_a + dims_b])))
        draws.append((float(rate), seed, dims_a, dims_b, key))
    plan.append((category, index, draws, subsets))
  return plan


def _diversity_plan(calibration: Predictions, chosen: dict[str, int], step: int, ranking: str) -> list[tuple]:
  """Per representative pair (category, index, total features, prefixes): the prefixes of the
  diversity ranking (probes.diversity_order on the probe training examples) of ``step``,
  2·``step``, … columns and all of them."""
  split = _probe_split(calibration)
  plan = []
  for category, index in chosen.items():
    order = probes.diversity_order([calibration.embeddings[0][:split], calibration.embeddings[index][:split]], ranking)
    counts = sorted(set(range(step, len(order), step)) | {len(order)})
    plan.append((category, index, len(order), [order[:count] for count in counts]))
  return plan


def mixing_batch(calibration: Predictions, chosen: dict[str, int], rates, seeds: int) -> int:
  """The most mixtures any pair fits in :func:`mixing`: its ``batch``, so every pair compiles one shape."""
  return max((len(p[3]) for p in _mixing_plan(calibration, chosen, rates, seeds)), default=1)


def diversity_batch(calibration: Predictions, chosen: dict[str, int], step: int, ranking: str) -> int:
  """The most prefixes any pair fits in :func:`diversity_curves`: its ``batch`` (one shape)."""
  return max((len(p[3]) for p in _diversity_plan(calibration, chosen, step, ranking)), default=1)


# Fig. 6's two probe stages share one padded batch (one compile of the subset probe's
# programs instead of two, ~1.4 s on 2 CPU cores) when that pads the smaller stage by at
# most this share of its probes; beyond it, the extra fits would cost more than the compile.
SHARED_BATCH_PADDING = 1 / 3


def fig6_batches(mixing_probes: int, diversity_probes: int) -> tuple[int, int]:
  """(mixing batch, diversity batch) for :func:`mixing` and :func:`diversity_curves`: both the
  larger of the two when the smaller grows by at most SHARED_BATCH_PADDING, else each its own."""
  smaller, larger = sorted((mixing_probes, diversity_probes))
  if larger <= smaller * (1 + SHARED_BATCH_PADDING):
    return larger, larger
  return mixing_probes, diversity_probes


def mixing(calibration: Predictions, test: Predictions, chosen: dict[str, int], rates, seeds: int, l2_grid,
           steps: int = 100, batch: int | None = None) -> list[dict]:
  """Fig. 6: linear probes on random mixtures of the base's and a partner's embedding
  features (share ``rate`` from the base, same total budget), for each representative
  pair. Probe train/val: the calibration split's embeddings (80/20); test: test. Each
  pair's mixtures are fitted together (:func:`_pair_subset_outcomes`, ``steps``
  accelerated steps per fit, ``batch`` its padded probe count)."""
  rows, fitted = [], {}
  width = _pair_width(calibration, chosen)  # one compiled probe for every pair and mixture
  for category, index, draws, subsets in _mixing_plan(calibration, chosen, rates, seeds):
    if subsets:
      outcomes = _pair_subset_outcomes(calibration, test, index, [keep for _, keep in subsets], l2_grid, steps, width,
                                       batch)
      fitted.update(zip([key for key, _ in subsets], outcomes))
    for rate, seed, dims_a, dims_b, key in draws:
      accuracy, correct = fitted[key]
      # test_correct (per example) feeds claim 5's paired bootstrap; the pipeline drops it before caching.
      rows.append({"category": category, "pair": f"{test.names[0]}+{test.names[index]}", "base_rate": rate,
                   "seed": seed, "features": len(dims_a) + len(dims_b), "test_accuracy": accuracy,
                   "test_correct": correct})
  return rows


def probe_outcomes(mixing_rows: list[dict]) -> dict | None:
  """{category: {base_rate: bool [S seeds, E]}} from the feature-mixing rows that carry
  their probe's per-example test correctness (``test_correct``); None if none does."""
  grouped: dict = {}
  for row in mixing_rows:
    if "test_correct" in row:
      grouped.setdefault(row["category"], {}).setdefault(float(row["base_rate"]), []).append(
          np.asarray(row["test_correct"], bool))
  return {c: {r: np.stack(seeds) for r, seeds in rates.items()} for c, rates in grouped.items()} or None


def base_fit(base_pairs: list[dict]) -> dict | None:
  """Least-squares line of ensemble gain on EI over the (base, X) pairs (Fig. 2 left)."""
  ei = np.array([p["error_inconsistency"].estimate for p in base_pairs])
  gain = np.array([p["relative_improvement"].estimate for p in base_pairs])
  if len(ei) < 3 or np.ptp(ei) == 0:
    return None
  return metrics.linear_fit(ei, gain)


@functools.cache
def category_colors() -> dict[str, str]:
  return dict(zip(("base",) + CATEGORY_ORDER, ("black", "#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974")))


def diversity_curves(calibration: Predictions, test: Predictions, chosen: dict[str, int], step: int,
                     ranking: str, l2_grid, steps: int = 100, batch: int | None = None) -> list[dict]:
  """Fig. 6 right: for each representative pair (base, X), the dimensions of the
  concatenated embeddings ranked most diverse first (probes.diversity_order, on the probe
  training examples) and added ``step`` at a time (and all of them last); the linear-probe
  test accuracy of each prefix (a pair's prefixes fitted together, as in :func:`mixing`)."""
  rows = []
  width = _pair_width(calibration, chosen)  # the same width as mixing's: its compiled probe is reused
  for category, index, total, prefixes in _diversity_plan(calibration, chosen, step, ranking):
    outcomes = _pair_subset_outcomes(calibration, test, index, prefixes, l2_grid, steps, width, batch)
    for prefix, (accuracy, _) in zip(prefixes, outcomes):
      rows.append({"category": category, "pair": f"{test.names[0]}+{test.names[index]}", "features": len(prefix),
                   "total_features": total, "test_accuracy": accuracy})
  return rows


def features_needed(curves: list[dict], target: float) -> list[dict]:
  """The paper's "features needed to reach X%" table (Fig. 6 right): per category, the
  fewest diversity-ranked features whose probe reaches ``target`` accuracy. With
  ``target`` ≤ 0 the target is the lowest best-of-curve accuracy over the pairs, so every
  pair reaches it. None where a pair never reaches the target."""
  by_category: dict[str, list[dict]] = {}
  for row in curves:
    by_category.setdefault(row["category"], []).append(row)
  if not by_category:
    return []
  if target <= 0:
    target = min(max(r["test_accuracy"] for r in rows) for rows in by_category.values())
  table = []
  for category, rows in by_category.items():
    reached = [r["features"] for r in sorted(rows, key=lambda r: r["features"]) if r["test_accuracy"] >= target]
    table.append({"category": category, "pair": rows[0]["pair"], "target_accuracy": float(target),
                  "features_needed": reached[0] if reached else None, "total_features": rows[0]["total_features"],
                  "best_accuracy": max(r["test_accuracy"] for r in rows)})
  return table


def class_groups(special: dict, groups: list[tuple[str, int, int]]) -> list[dict]:
  """Fig. 4 by class-id range (e.g. ImageNet's nature 0–397 vs man-made 398–999): per
  representative pair and group, the mean per-class specialisation (+: the base wins the
  group's inconsistent examples) and how many of the group's classes the base wins."""
  rows = []
  for category, pair in special["pairs"].items():
    values = np.asarray(pair["class_specialisation"], np.float64)
    for name, first, stop in groups:
      chunk = values[first:min(stop, len(values))]
      finite = chunk[np.isfinite(chunk)]
      rows.append({"category": category, "partner": pair["model"], "group": name, "first_class": first,
                   "last_class": min(stop, len(values)) - 1,
                   "mean_specialisation": float(finite.mean()) if finite.size else float("nan"),
                   "classes_base_wins": int((finite > 0).sum()), "classes_partner_wins": int((finite < 0).sum())})
  return rows


def prediction_diversity(correct: np.ndarray) -> np.ndarray:
  """Per model, the mean error inconsistency with every other model (Fig. 7 centre):
  mean over b ≠ a of mean_n [correct_a(n) ≠ correct_b(n)]."""
  correct = np.asarray(correct, np.float32)
  agree_wrong = correct @ correct.T + (1 - correct) @ (1 - correct).T       # [N, N] agreements
  inconsistency = 1 - agree_wrong / correct.shape[1]
  n = len(correct)
  return (inconsistency.sum(1) - np.diag(inconsistency)) / max(n - 1, 1)


def _downstream_score(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid, max_iterations) -> float:
  if np.ndim(y_test) == 2:  # multi-hot labels: one-vs-rest logistic probes, 11-point mAP (VOC 2007)
    present = np.asarray(y_train).sum(0) > 0  # a class without a positive training example cannot be fitted
    return float(probes.multilabel_probe(x_train, y_train[:, present], x_val, y_val[:, present], x_test,
                                         y_test[:, present], l2_grid=l2_grid,
                                         max_iterations=max_iterations)["test_map"])
  return _single_label_score(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid, max_iterations)


def downstream(rows: Sequence[zoo.ModelEntry], train, val, test, correct: np.ndarray, l2_grid,
               max_iterations: int = 300) -> dict:
  """Fig. 7: linear evaluation on a downstream dataset (train / val chooses L2 / test) of
  every model's embedding and of every concatenated pair (stacked generalisation);
  11-point mAP for multi-label datasets (VOC 2007), accuracy otherwise. Also each model's
  accuracy and prediction diversity on the study's test split."""
  names = names_of(rows)
  metric = "11-point mAP" if np.ndim(test.labels) == 2 else "accuracy"
  # Every single and pair probe padded to the widest pair: one compiled probe for all.
  dims = sorted((train.embeddings[n].shape[1] for n in names), reverse=True)
  width = sum(dims[:2])
  args = lambda xs: tuple(v for r in (train, val, test) for v in (_pad_columns(xs(r), width), r.labels)) + (
      l2_grid, max_iterations)
  single = {n: _downstream_score(*args(lambda r, n=n: r.embeddings[n])) for n in names}
  diversity = prediction_diversity(correct)
  accuracy = np.asarray(correct).mean(axis=1)
  models = [{"model": n, "test_accuracy": float(accuracy[i]), "downstream": single[n],
             "prediction_diversity": float(diversity[i])} for i, n in enumerate(names)]
  pairs = []
  for a in range(len(names)):
    for b in range(a + 1, len(names)):
      both = lambda r, a=a, b=b: np.concatenate([r.embeddings[names[a]], r.embeddings[names[b]]], axis=1)
      score = _downstream_score(*args(both))
      best = max(single[names[a]], single[names[b]])
      pairs.append({"model_a": names[a], "model_b": names[b],
                    "category": zoo.pair_category(rows[a], rows[b]),
                    "downstream": score, "best_single": best, "gain": score - best})
  return {"metric": metric, "models": models, "pairs": pairs}
