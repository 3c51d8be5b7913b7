"""The study's analysis: calibrated predictions and embeddings in, the paper's tables out.

Pure functions of arrays (plus zoo rows for the derived categories); no files. Every
number the report prints comes from a table built here.
"""

from __future__ import annotations

import dataclasses
import functools

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


def predictions(names: list[str], probs, labels, embeddings) -> Predictions:
  """:class:`Predictions` of calibrated ``probs`` (an [N, E, K] array or N per-model [E, K]
  array-likes): one pass over the models builds their candidate view
  (``metrics.candidates.build_candidate_view``, kept on the stack), whose per-model
  correctness and row maxima are ``correct`` and ``confidence``."""
  stack = metrics.PredictionStack(probs, "probs")
  view = metrics.candidates.build_candidate_view(stack, labels)
  return Predictions(list(names), stack, np.asarray(labels), list(embeddings), np.asarray(view.correct),
                     np.asarray(view.confidence))


def categories_vs_base(names: list[str]) -> list[str]:
  """The derived category of (base, X) for every model; "base" for the base."""
  base = zoo.get(names[0])
  return ["base"] + [zoo.pair_category(base, zoo.get(n)) for n in names[1:]]


def model_table(test: Predictions, temperatures, intervals) -> list[dict]:
  categories = categories_vs_base(test.names)
  rows = []
  for index, name in enumerate(test.names):
    entry = zoo.get(name)
    rows.append({"model": name, "category": categories[index], "objective": entry.objective,
                 "pretraining_data": entry.pretraining_data, "architecture": entry.architecture,
                 "accuracy": float(intervals["accuracy"].estimate[index]),
                 "accuracy_low": float(intervals["accuracy"].low[index]),
                 "accuracy_high": float(intervals["accuracy"].high[index]),
                 "temperature": float(temperatures[index])})
  return rows


def pair_table(names: list[str], intervals) -> list[dict]:
  """Every pair once: its derived category and each metric with its 95% interval."""
  rows = []
  for a in range(len(names)):
    for b in range(a + 1, len(names)):
      row = {"model_a": names[a], "model_b": names[b], "with_base": a == 0,
             "category": zoo.pair_category(zoo.get(names[a]), zoo.get(names[b]))}
      for key in PAIR_METRICS:
        interval = intervals[key]
        row[key] = float(interval.estimate[a, b])
        row[f"{key}_low"], row[f"{key}_high"] = float(interval.low[a, b]), float(interval.high[a, b])
      rows.append(row)
  return rows


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


def category_table(names: list[str], outcomes, num_resamples: int) -> list[dict]:
  """Per category (paper order): number of (base, X) pairs and the mean of each metric
  with a paired-bootstrap interval of that mean (examples resampled jointly)."""
  categories = categories_vs_base(names)
  present = [c for c in CATEGORY_ORDER if c in categories]
  membership = np.array([[float(cat == c) for cat in categories] for c in present], np.float32)
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
    for key, interval in intervals.items():
      row[key] = float(interval.estimate[index])
      row[f"{key}_low"], row[f"{key}_high"] = float(interval.low[index]), float(interval.high[index])
    rows.append(row)
  return rows


def representatives(names: list[str], accuracy: np.ndarray) -> dict[str, int]:
  """Per category, the (base, X) partner X with the highest accuracy (the paper shows one
  representative pair per category in Fig. 3, 4 and 6)."""
  categories = categories_vs_base(names)
  chosen = {}
  for category in CATEGORY_ORDER:
    members = [i for i, c in enumerate(categories) if c == category]
    if members:
      chosen[category] = max(members, key=lambda i: accuracy[i])
  return chosen


def specialisation(test: Predictions, correct: np.ndarray, chosen: dict[str, int], bins: int) -> dict:
  """θ histograms (Fig. 3) of the representative pairs over the examples inconsistent in
  any of them, the mean θ of each one-sided group, and per-class specialisation (Fig. 4)."""
  pairs = [(0, index) for index in chosen.values()]
  mask = metrics.inconsistent_anywhere(correct, pairs)
  confidence = test.confidence
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


def greedy_runs(names, calibration: Predictions, test: Predictions, starts: int, steps: int) -> list[dict]:
  """Fig. 5: greedy selection from each of the ``starts`` best models (calibration
  accuracy) over the pool of models weaker than all starts; chosen on the calibration
  split, scored on test."""
  accuracy = calibration.correct.mean(axis=1)
  order = list(np.argsort(-accuracy, kind="stable"))
  start_models = order[:starts]
  pool = [i for i in order[starts:] if accuracy[i] < accuracy[start_models].min()]
  runs = []
  for start in start_models:
    if not pool:
      break
    result = metrics.greedy_selection(calibration.probs, calibration.labels, int(start), pool,
                                      min(steps, len(pool)), eval_probs=test.probs, eval_labels=test.labels)
    categories = [zoo.pair_category(zoo.get(names[start]), zoo.get(names[m])) for m in result.members]
    runs.append({"start": names[start], "members": [names[m] for m in result.members],
                 "categories_vs_start": ["start"] + categories[1:],
                 "calibration_accuracy": [float(a) for a in result.accuracy],
                 "test_accuracy": [float(a) for a in result.eval_accuracy],
                 "pool_best_test_accuracy": float(test.correct[pool].mean(axis=1).max())})
  return runs


def _probe_split(calibration: Predictions) -> int:
  """Probe train/val boundary inside the calibration split (80/20)."""
  return int(len(calibration.labels) * 0.8)


def _subset_probe(calibration: Predictions, test: Predictions, index: int, keep: np.ndarray, l2_grid,
                  max_iterations: int) -> float:
  """Probe test accuracy on the columns ``keep`` of the concatenated [base | model index]
  embeddings. The other columns are zeroed rather than dropped: a zero column stays zero
  after standardisation and gets zero weight, so the fit is the one on the subset, and
  every subset of one pair shares one compiled probe (one shape)."""
  split = _probe_split(calibration)
  mask = np.zeros(calibration.embeddings[0].shape[1] + calibration.embeddings[index].shape[1], np.float32)
  mask[keep] = 1.0
  both = lambda p: np.concatenate([p.embeddings[0], p.embeddings[index]], axis=1) * mask
  x, x_test = both(calibration), both(test)
  return _single_label_score(x[:split], calibration.labels[:split], x[split:], calibration.labels[split:], x_test,
                             test.labels, l2_grid, max_iterations)


def _single_label_score(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid, max_iterations) -> float:
  """logistic_probe test accuracy over the classes the probe's training examples cover:
  a held-out slice of a 1,000-class train split may miss a class, whose val/test examples
  no probe could get right; they are left out (and classes renumbered densely). Splits
  so small that no validation example is of a training class choose λ on train."""
  classes = np.unique(y_train)
  dense = lambda y: np.searchsorted(classes, y)
  known = lambda y: np.isin(y, classes)
  keep_val, keep_test = known(y_val), known(y_test)
  if not keep_test.any():
    return 0.0
  if not keep_val.any():
    x_val, y_val, keep_val = x_train, y_train, np.ones(len(y_train), bool)
  result = probes.logistic_probe(x_train, dense(y_train), x_val[keep_val], dense(y_val[keep_val]), x_test[keep_test],
                                 dense(y_test[keep_test]), l2_grid=l2_grid, max_iterations=max_iterations)
  return float(result["test_accuracy"]) * keep_test.mean()  # the left-out test examples count as wrong


def mixing(calibration: Predictions, test: Predictions, chosen: dict[str, int], rates, seeds: int, l2_grid,
           max_iterations: int = 300) -> list[dict]:
  """Fig. 6: linear probes on random mixtures of the base's and a partner's embedding
  features (share ``rate`` from the base, same total budget), for each representative
  pair. Probe train/val: the calibration split's embeddings (80/20); test: test."""
  rows = []
  for category, index in chosen.items():
    dim_a = calibration.embeddings[0].shape[1]
    for rate in rates:
      for seed in range(seeds):
        dims_a, dims_b = probes.mixture_indices(dim_a, calibration.embeddings[index].shape[1], float(rate), seed=seed)
        accuracy = _subset_probe(calibration, test, index, np.concatenate([dims_a, dim_a + dims_b]), l2_grid,
                                 max_iterations)
        rows.append({"category": category, "pair": f"{test.names[0]}+{test.names[index]}", "base_rate": float(rate),
                     "seed": seed, "features": len(dims_a) + len(dims_b), "test_accuracy": accuracy})
  return rows


def _spearman(x, y) -> float:
  rank = lambda v: np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)
  x, y = rank(np.asarray(x)), rank(np.asarray(y))
  if np.std(x) == 0 or np.std(y) == 0:
    return float("nan")
  return float(np.corrcoef(x, y)[0, 1])


def _verdict(holds: bool, partly: bool = False) -> str:
  return "holds" if holds else ("partly holds" if partly else "does not hold")


def claims(categories: list[dict], base_pairs: list[dict], fit: dict | None, special: dict, greedy: list[dict],
           mixing_rows: list[dict]) -> list[dict]:
  """The paper's claims, each with the statistic computed here and a verdict from it."""
  out = []
  order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
  ranks = [order[p["category"]] for p in base_pairs]

  ei_means = [c["error_inconsistency"] for c in categories]
  rho = _spearman(ranks, [p["error_inconsistency"] for p in base_pairs])
  increasing = all(a <= b for a, b in zip(ei_means, ei_means[1:]))
  separated = categories[-1]["error_inconsistency_low"] > categories[0]["error_inconsistency_high"]
  out.append({"claim": "1. Errors become less correlated as training diverges (reinit → dataset): EI rises",
              "evidence": "category means " + ", ".join(f"{c['category']} {c['error_inconsistency']:.4f}"
                                                       for c in categories) + f"; Spearman ρ(category order, EI) = {rho:.2f}",
              "verdict": _verdict(increasing and separated, rho > 0 and separated)})

  conversion = [p["conversion_rate"] for p in base_pairs]
  rho_conversion = _spearman(ranks, conversion)
  good_fit = fit is not None and fit["slope"] > 0 and fit["pearson_r"] >= 0.5
  out.append({"claim": "2. Ensemble gain rises with error inconsistency, and ensembles convert more of it (efficiency)",
              "evidence": (f"EI→gain slope {fit['slope']:.3f}, Pearson r {fit['pearson_r']:.2f}" if fit else "no fit")
              + f"; Spearman ρ(category order, conversion rate) = {rho_conversion:.2f}",
              "verdict": _verdict(good_fit and rho_conversion > 0, good_fit or rho_conversion > 0)})

  pairs = special["pairs"]
  asymmetry = {c: p["mean_theta_only_base"] - p["mean_theta_only_other"] for c, p in pairs.items()}
  spread = {c: float(np.nanstd(p["class_specialisation"])) for c, p in pairs.items()}
  first, last = next(iter(pairs)), list(pairs)[-1]
  out.append({"claim": "3. Differently-trained models specialise: the correct model is the more confident one, "
                       "more so (and more class-specific) as training diverges",
              "evidence": "θ(only base right) − θ(only partner right): " + ", ".join(
                  f"{c} {v:.1f}°" for c, v in asymmetry.items()) + "; std over classes of per-class "
              "specialisation: " + ", ".join(f"{c} {v:.2f}" for c, v in spread.items()),
              "verdict": _verdict(asymmetry[last] > asymmetry[first] > 0 and spread[last] > spread[first],
                                  asymmetry[last] > 0 and (asymmetry[last] > asymmetry[first] or
                                                           spread[last] > spread[first]))})

  helpful = [run for run in greedy if len(run["test_accuracy"]) > 1]
  gains = [run["test_accuracy"][1] - run["test_accuracy"][0] for run in helpful]
  divergent_first = [run["categories_vs_start"][1] in ("architecture", "framework", "dataset") for run in helpful]
  out.append({"claim": "4. Low-accuracy models help high-accuracy ones when trained differently enough",
              "evidence": "; ".join(f"{r['start']} {r['test_accuracy'][0]:.4f} + {r['members'][1]} "
                                    f"({r['categories_vs_start'][1]}) → {r['test_accuracy'][1]:.4f}" for r in helpful)
              or "no greedy run (pool empty)",
              "verdict": _verdict(bool(helpful) and all(g > 0 for g in gains) and all(divergent_first),
                                  any(g > 0 for g in gains))})

  by_pair = {}
  for row in mixing_rows:
    by_pair.setdefault(row["category"], {}).setdefault(row["base_rate"], []).append(row["test_accuracy"])
  mix_gain = {}
  for category, rates in by_pair.items():
    means = {rate: float(np.mean(v)) for rate, v in rates.items()}
    ends = max(means.get(0.0, -1), means.get(1.0, -1))
    mixed = max(v for rate, v in means.items() if 0 < rate < 1) if any(0 < r < 1 for r in means) else ends
    mix_gain[category] = mixed - ends
  first, last = next(iter(mix_gain)), list(mix_gain)[-1]
  out.append({"claim": "5. Features overlap without superset: mixed embeddings beat either full one, more for "
                       "divergent pairs",
              "evidence": "best mixture − best single embedding (probe accuracy): " + ", ".join(
                  f"{c} {v:+.4f}" for c, v in mix_gain.items()),
              "verdict": _verdict(mix_gain[last] > 0 and mix_gain[last] > mix_gain[first], mix_gain[last] > 0)})
  return out


def base_fit(base_pairs: list[dict]) -> dict | None:
  """Least-squares line of ensemble gain on EI over the (base, X) pairs (Fig. 2 left)."""
  ei = np.array([p["error_inconsistency"] for p in base_pairs])
  gain = np.array([p["relative_improvement"] for p in base_pairs])
  if len(ei) < 3 or np.ptp(ei) == 0:
    return None
  return metrics.linear_fit(ei, gain)


@functools.cache
def category_colors() -> dict[str, str]:
  return dict(zip(("base",) + CATEGORY_ORDER, ("black", "#4C72B0", "#55A868", "#C44E52", "#8172B2", "#CCB974")))


def diversity_curves(calibration: Predictions, test: Predictions, chosen: dict[str, int], step: int,
                     ranking: str, l2_grid, max_iterations: int = 300) -> list[dict]:
  """Fig. 6 right: for each representative pair (base, X), the dimensions of the
  concatenated embeddings ranked most diverse first (probes.diversity_order, on the probe
  training examples) and added ``step`` at a time (and all of them last); the linear-probe
  test accuracy of each prefix."""
  split = _probe_split(calibration)
  rows = []
  for category, index in chosen.items():
    order = probes.diversity_order([calibration.embeddings[0][:split], calibration.embeddings[index][:split]], ranking)
    for count in sorted(set(range(step, len(order), step)) | {len(order)}):
      accuracy = _subset_probe(calibration, test, index, order[:count], l2_grid, max_iterations)
      rows.append({"category": category, "pair": f"{test.names[0]}+{test.names[index]}", "features": count,
                   "total_features": len(order), "test_accuracy": accuracy})
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


def downstream(names: list[str], train, val, test, correct: np.ndarray, l2_grid, max_iterations: int = 300) -> dict:
  """Fig. 7: linear evaluation on a downstream dataset (train / val chooses L2 / test) of
  every model's embedding and of every concatenated pair (stacked generalisation);
  11-point mAP for multi-label datasets (VOC 2007), accuracy otherwise. Also each model's
  accuracy and prediction diversity on the study's test split."""
  metric = "11-point mAP" if np.ndim(test.labels) == 2 else "accuracy"
  args = lambda xs: (xs(train), train.labels, xs(val), val.labels, xs(test), test.labels, l2_grid, max_iterations)
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
                    "category": zoo.pair_category(zoo.get(names[a]), zoo.get(names[b])),
                    "downstream": score, "best_single": best, "gain": score - best})
  return {"metric": metric, "models": models, "pairs": pairs}
