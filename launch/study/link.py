"""The study's link between representational similarity and complementarity (issue 14, item 6).

:func:`similarity_section` measures every pair of the study's models on the test split,

- from the predictions: error inconsistency, Cohen's κ and conversion rate (read from the
  study's pairwise bootstrap, not recomputed), Klein et al.'s unbiased κ and the
  p-value of κ against independent errors, and the θ asymmetry
  mean_{only a right} θ_ab − mean_{only b right} θ_ab with θ_ab = atan2(c_a, c_b)
  (degrees; positive: the right model is the more confident one; symmetric in a, b);
- from the embeddings: linear CKA and unbiased CKA on all test examples, mutual k-NN
  and CKNNA on a seeded random subset of ``sections.similarity.examples`` test examples (they
  are O(E²)), and on that subset the permutation-null calibrated scores
  score − mean(null) with their one-sided p-values of CKA, mutual k-NN and CKNNA
  (unbiased CKA is left out: its null expectation is 0 by construction);
- the gains: ensemble gain = ensemble accuracy − mean member accuracy (the study's
  relative improvement, Fig. 2), the same over the better member, and concatenation
  gain = closed-form ridge probe accuracy on both embeddings − the better single
  embedding's (:func:`probes.pairwise_complementarity`: fitted on the first 80% of the
  calibration split's embeddings, λ chosen on the other 20%, scored on test);

and then how well each similarity predicts each gain (:func:`similarity_report.link_table`:
Spearman ρ over pairs, intervals resampling models). Pure: arrays and the config in, a dict
of rows out (each pair's concatenation gain a :class:`metrics.Interval`: the CSV writer
flattens it into concatenation_gain, _low and _high).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

import metrics
import probes
from launch.study import similarity_report
from metrics import similarity as similarity_lib

PREDICTORS = similarity_report.DEFAULT_PREDICTORS + ("unbiased_kappa", "cka_calibrated", "mutual_knn_calibrated",
                                                     "cknna_calibrated")
TARGETS = similarity_report.DEFAULT_TARGETS
PROBE_TRAIN_SHARE = 0.8  # the study's probe convention: 80% of the calibration split fits, 20% chooses λ
CALIBRATED = ("cka", "mutual_knn", "cknna")  # measures calibrated against the permutation null
GAIN_CONFIDENCE = 0.95  # the concatenation gain's paired-bootstrap interval (central mass)


def theta_asymmetry(confidence, correct) -> np.ndarray:
  """float64[N, N]: mean θ_ab over the examples only a gets right − mean θ_ab over those only b
  gets right, θ_ab = atan2(c_a, c_b) in degrees (NaN where either group is empty; diagonal NaN)."""
  confidence = np.asarray(confidence, np.float64)
  correct = np.asarray(correct, bool)
  num_models = len(correct)
  asymmetry = np.full((num_models, num_models), np.nan)
  for a in range(num_models):
    angles = metrics.theta(confidence[a][None], confidence)          # [N, E]
    only_a, only_b = correct[a][None] & ~correct, ~correct[a][None] & correct
    with np.errstate(invalid="ignore", divide="ignore"):
      mean_a = np.sum(angles * only_a, 1) / only_a.sum(1)
      mean_b = np.sum(angles * only_b, 1) / only_b.sum(1)
    asymmetry[a] = np.where((only_a.sum(1) > 0) & (only_b.sum(1) > 0), mean_a - mean_b, np.nan)
  np.fill_diagonal(asymmetry, np.nan)
  return asymmetry


def _subset(num_examples: int, size: int, seed: int) -> np.ndarray:
  """Sorted indices of a seeded random subset of ``size`` examples (all of them if fewer)."""
  if size >= num_examples:
    return np.arange(num_examples)
  return np.sort(np.random.default_rng(seed).choice(num_examples, size, replace=False))


def _concatenation(calibration, test, settings) -> tuple[probes.Complementarity | None, str]:
  """(pairwise_complementarity with the probe splits of the study, "") — classes absent from
  the probe's training part are left out of val and test (no probe could learn them); with
  no validation example of a trained class λ is chosen on the training part, as the
  study's other probes do. (None, why) when no test example is of a trained class: the
  calibration split is too small for this dataset's classes, and the gains are NaN."""
  split = int(len(calibration.labels) * PROBE_TRAIN_SHARE)
  y_train, y_val = np.asarray(calibration.labels[:split]), np.asarray(calibration.labels[split:])
  y_test = np.asarray(test.labels)
  classes_split = probes.dense_class_split(y_train, y_val, y_test)
  dense, keep_test = classes_split.dense, classes_split.keep_test
  if not keep_test.any():
    return None, (f"not computed: the probe's training part ({split} calibration examples, "
                  f"{len(classes_split.classes)} classes) shares no class with any test example; enlarge "
                  "calibration_split")
  embeddings = lambda p, rows: [np.asarray(e[rows], np.float32) for e in p.embeddings]
  train = embeddings(calibration, slice(0, split))
  if classes_split.val_from_train:
    val, y_val = train, dense(y_train)
  else:
    val = [e[classes_split.keep_val] for e in embeddings(calibration, slice(split, None))]
    y_val = dense(y_val[classes_split.keep_val])
  return probes.pairwise_complementarity(
      train, dense(y_train), val, y_val,
      [e[keep_test] for e in embeddings(test, slice(None))], dense(y_test[keep_test]),
      num_resamples=settings.resamples, confidence=GAIN_CONFIDENCE, seed=settings.seed), ""


def _gain_interval(complementarity, num_models: int, resamples: int) -> metrics.Interval:
  """Every pair's concatenation gain as an Interval of [N, N] matrices (all NaN when not computed)."""
  if complementarity is None:
    nan = np.full((num_models,) * 2, np.nan)
    return metrics.Interval(nan, nan, nan, nan, GAIN_CONFIDENCE, resamples)
  return dataclasses.replace(complementarity.intervals["gain"], estimate=complementarity.gain)


def similarity_section(settings, test, calibration, outcomes, intervals) -> dict | None:
  """Every pair's similarity and gain measures and their link table (module docstring).

  Args:
    settings: the similarity section's settings (``config.sections.similarity``: enabled, k,
      examples, permutations, resamples, kappa_draws, seed); ``enabled`` false → None.
    test, calibration: :class:`launch.study.analysis.Predictions` of the two splits
      (calibrated probabilities, labels, per-model embeddings, model 0 the base).
    outcomes: the study's :func:`metrics.pairwise_outcomes` on test (its ``correct``).
    intervals: the study's :func:`metrics.pairwise_intervals` of those outcomes (their
      estimates give EI, κ, conversion rate and the ensemble gains).
  Returns:
    {"settings", "pairs" (one row per pair: model_a, model_b and every measure),
    "correlations" (one row per predictor × target; empty with fewer than 3 models),
    "seconds" (per part)}, all JSON-encodable.
  """
  if not settings.enabled:
    return None
  names = list(test.names)
  seconds, started = {}, time.perf_counter()

  def lap(part):
    nonlocal started
    now = time.perf_counter()
    seconds[part] = round(now - started, 3)
    started = now

  estimate = lambda key: np.asarray(intervals[key].estimate, np.float64)
  accuracy = estimate("accuracy")
  ensemble_accuracy = estimate("ensemble_accuracy")
  measures = {"error_inconsistency": estimate("error_inconsistency"), "cohen_kappa": estimate("cohen_kappa"),
              "conversion_rate": estimate("conversion_rate"), "ensemble_gain": estimate("relative_improvement"),
              "ensemble_gain_over_best": ensemble_accuracy - np.maximum(accuracy[:, None], accuracy[None, :])}
  correct = np.asarray(outcomes.correct, bool)
  consistency = metrics.error_consistency_statistics(correct, num_draws=settings.kappa_draws, seed=settings.seed)
  measures.update(unbiased_kappa=consistency.unbiased_kappa, kappa_p_value=consistency.p_value)
  measures["theta_asymmetry"] = theta_asymmetry(test.confidence, correct)
  lap("predictions")

  sums = similarity_lib.cross_covariance_sums(list(test.embeddings))   # streams over example blocks
  measures["cka"] = similarity_lib.cka_from_sums(sums)
  measures["unbiased_cka"] = similarity_lib.cka_from_sums(sums, unbiased=True)
  lap("cka")

  rows = _subset(len(test.labels), settings.examples, settings.seed)
  if len(rows) <= settings.k:
    raise ValueError(f"config field 'sections.similarity.k' ({settings.k}) needs more test examples than k; the "
                     f"test split has {len(rows)}.")
  subset = [np.asarray(e[rows], np.float32) for e in test.embeddings]
  if settings.permutations:
    nulls = {m: metrics.permutation_null(m, subset, num_permutations=settings.permutations, seed=settings.seed,
                                         **({} if m == "cka" else {"k": settings.k})) for m in CALIBRATED}
    measures["mutual_knn"], measures["cknna"] = nulls["mutual_knn"].score, nulls["cknna"].score
    for m, null in nulls.items():
      measures[f"{m}_calibrated"], measures[f"{m}_null_p"] = null.calibrated, null.p_value
  else:
    measures.update(similarity_lib.scores_from_graphs(metrics.knn_graphs(subset, settings.k)))
  lap("knn_and_nulls")

  complementarity, concatenation_note = _concatenation(calibration, test, settings)
  gain = _gain_interval(complementarity, len(names), settings.resamples)
  measures["concatenation_gain"] = np.asarray(gain.estimate, np.float64)
  lap("concatenation")

  table = _link(measures, names, settings)
  pairs = _with_interval(table, "concatenation_gain", gain)
  lap("link_table")
  return {"models": names, "settings": {"k": settings.k, "examples": int(len(rows)), "test_examples": int(len(test.labels)),
                       "permutations": settings.permutations, "resamples": settings.resamples,
                       "kappa_draws": settings.kappa_draws, "seed": settings.seed,
                       "concatenation": concatenation_note or "computed",
                       "probe_train_examples": int(len(calibration.labels) * PROBE_TRAIN_SHARE),
                       "probe_val_examples": int(len(calibration.labels)) - int(len(calibration.labels)
                                                                                * PROBE_TRAIN_SHARE)},
          "pairs": pairs, "correlations": table.correlation_rows(), "seconds": seconds}


def _link(measures, names, settings) -> similarity_report.LinkTable:
  if len(names) >= 3:
    return similarity_report.link_table(measures, names, predictors=PREDICTORS, targets=TARGETS,
                                        num_resamples=settings.resamples, seed=settings.seed)
  # Two models: one pair, nothing to rank.
  values = {k: np.asarray([(m[0, 1] + m[1, 0]) / 2.0]) for k, m in measures.items()}
  return similarity_report.LinkTable(tuple(names), np.array([0]), np.array([1]), values, ())


def _with_interval(table: similarity_report.LinkTable, key: str, interval: metrics.Interval) -> list[dict]:
  """The table's pair rows with measure ``key`` as a :class:`metrics.Interval` (``interval``
  holds [N, N] matrices; a pair's bounds and std are symmetrised as the table symmetrises its
  measures: (M[a, b] + M[b, a]) / 2)."""
  symmetric = {field: np.asarray(getattr(interval, field), np.float64) for field in ("low", "high", "std")}
  symmetric = {field: (m + m.T) / 2.0 for field, m in symmetric.items()}
  rows = table.rows()
  for row, a, b in zip(rows, table.pair_a, table.pair_b):
    row[key] = metrics.Interval(row[key], *(float(symmetric[f][a, b]) for f in ("low", "high", "std")),
                                float(interval.confidence), int(interval.num_resamples))
  return rows


def point_value(cell) -> float:
  """A pair row's measure as a number: an Interval's estimate, else the value."""
  return cell.estimate if isinstance(cell, metrics.Interval) else cell


def table_of(section: dict) -> similarity_report.LinkTable:
  """The :class:`similarity_report.LinkTable` of a (JSON round-tripped) section, for its figure
  (an Interval measure by its estimate)."""
  pairs, names = section["pairs"], section["models"]
  index = {n: i for i, n in enumerate(names)}
  keys = [k for k in pairs[0] if k not in ("model_a", "model_b")] if pairs else []
  values = {k: np.asarray([point_value(p[k]) for p in pairs], np.float64) for k in keys}
  correlations = tuple(similarity_report.Correlation(**c) for c in section["correlations"])
  return similarity_report.LinkTable(tuple(names), np.asarray([index[p["model_a"]] for p in pairs]),
                                     np.asarray([index[p["model_b"]] for p in pairs]), values, correlations)
