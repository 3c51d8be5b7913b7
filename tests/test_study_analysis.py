"""The study's analysis on synthetic arrays (no training): the accuracy band restricts the
category table and Fig. 1–2 to its models; greedy runs start from the best models on the
selection split, draw only from models at least 2 points below the start there, choose on
the selection split and are scored on test (each checked against a naive numpy loop)."""

import dataclasses

import numpy as np
import pytest

import metrics
import zoo
import zoo.catalogs.small  # noqa: F401  (registers the rows named below)
from launch.study import analysis, report, verdicts

NAMES = ["cnn.s0", "cnn.s1", "cnn.s2", "cnn.lr1e-3", "mlp.s0", "small_resnet.s0", "cnn.simclr", "cnn.shapes"]
ROWS = [zoo.get(n) for n in NAMES]  # the analysis takes rows, never looking names up
NUM_CLASSES = 5


def synthetic_probs(accuracies, num_examples, seed):
  """float32 [N, E, K]: random softmax rows, model n right on exactly round(accuracies[n] E)
  random examples (the label's logit raised by 12 there, lowered by 12 elsewhere, over
  standard-normal logits), so its accuracy is exactly that share."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, NUM_CLASSES, num_examples)
  logits = rng.normal(size=(len(accuracies), num_examples, NUM_CLASSES))
  for n, accuracy in enumerate(accuracies):
    right = np.zeros(num_examples, bool)
    right[rng.permutation(num_examples)[:round(accuracy * num_examples)]] = True
    logits[n, np.arange(num_examples), labels] += np.where(right, 12.0, -12.0)
  probs = np.exp(logits - logits.max(-1, keepdims=True))
  return (probs / probs.sum(-1, keepdims=True)).astype(np.float32), labels


def test_band_restricts_the_category_table_and_fig_1_2():
  # cnn.s2 (reinit) and cnn.shapes (dataset) are far below the base: outside a 4-point band.
  accuracies = [0.80, 0.79, 0.55, 0.81, 0.78, 0.80, 0.79, 0.50]
  probs, labels = synthetic_probs(accuracies, 3000, seed=0)
  outcomes = metrics.pairwise_outcomes(probs, labels)
  correct = probs.argmax(-1) == labels
  in_band = verdicts.accuracy_band(correct.mean(1), base=0, width=4.0)
  assert in_band.tolist() == [True, True, False, True, True, True, True, False]
  table = analysis.category_table(ROWS, outcomes, num_resamples=20, in_band=in_band)
  categories = analysis.categories_vs_base(ROWS)
  # Naive: per category, the mean EI and ensemble accuracy over its in-band (base, X) pairs.
  expected = {}
  for m in range(1, len(NAMES)):
    if in_band[m]:
      ensemble = (probs[0] + probs[m]).argmax(-1) == labels
      expected.setdefault(categories[m], []).append(((correct[0] != correct[m]).mean(), ensemble.mean()))
  assert [row["category"] for row in table] == ["reinit", "hyper-parameters", "architecture", "framework"]
  for row in table:
    values = np.array(expected[row["category"]])
    assert row["pairs"] == len(values)
    assert row["error_inconsistency"].estimate == pytest.approx(values[:, 0].mean(), abs=1e-6)
    assert row["ensemble_accuracy"].estimate == pytest.approx(values[:, 1].mean(), abs=1e-6)
    assert row["error_inconsistency"].low <= row["error_inconsistency"].estimate <= row["error_inconsistency"].high
  # Fig. 1–2 and the report's band line read the band of the results.
  pairs = [{"model_a": NAMES[0], "model_b": n, "with_base": True} for n in NAMES[1:]] + [
      {"model_a": NAMES[1], "model_b": NAMES[2], "with_base": False}]
  low, high = verdicts.band_range(correct.mean(1), 0, 4.0)
  results = {"pairs": pairs, "band": {"width": 4.0, "low": low, "high": high,
                                      "in_band": [n for n, b in zip(NAMES, in_band) if b]},
             "models": [{"model": n, "band": analysis.BAND_LABELS[bool(b)]} for n, b in zip(NAMES, in_band)]}
  assert [p["model_b"] for p in report.in_band_base_pairs(results)] == [
      n for n, b in zip(NAMES[1:], in_band[1:]) if b]
  text = report.band_text(results)
  assert f"{100 * low:.2f}–{100 * high:.2f}%" in text and "6 of 8 models" in text
  assert "Outside the band (greedy pool only): cnn.s2, cnn.shapes." in text


def naive_greedy(probs, labels, start, pool, steps):
  members, remaining = [start], sorted(pool)
  for _ in range(steps):
    summed = probs[members].sum(0, dtype=np.float32)
    scores = [((summed + probs[c]).argmax(-1) == labels).sum() for c in remaining]
    members.append(remaining.pop(int(np.argmax(scores))))
  return members


def test_greedy_starts_from_the_best_draws_two_points_below_and_selects_on_the_selection_split():
  # Selection accuracies (targets): mlp.s0 and small_resnet.s0 are the best there; on test the
  # order differs (cnn.lr1e-3 best), so a start chosen on test would differ.
  selection_targets = [0.70, 0.69, 0.60, 0.71, 0.90, 0.89, 0.885, 0.66]
  test_targets = [0.70, 0.69, 0.60, 0.95, 0.80, 0.78, 0.77, 0.66]
  selection, selection_labels = synthetic_probs(selection_targets, 4000, seed=1)
  test_probs, test_labels = synthetic_probs(test_targets, 3000, seed=2)
  test = analysis.predictions(NAMES, test_probs, test_labels, [])
  test_accuracy = (test_probs.argmax(-1) == test_labels).mean(1)
  runs, finals = analysis.greedy_runs(ROWS, selection, selection_labels, test, starts=2, steps=3)
  on_selection = (selection.argmax(-1) == selection_labels).mean(1)
  assert [r["start"] for r in runs] == [NAMES[i] for i in np.argsort(-on_selection)[:2]] == ["mlp.s0",
                                                                                              "small_resnet.s0"]
  for run, final in zip(runs, finals):
    start = NAMES.index(run["start"])
    pool = [m for m in range(len(NAMES)) if on_selection[m] <= on_selection[start] - 0.02]
    assert run["pool"] == [NAMES[m] for m in pool]
    assert "cnn.simclr" not in run["pool"] and "cnn.lr1e-3" in run["pool"]  # 88.5% is within 2 points of both
    assert all(on_selection[NAMES.index(n)] <= on_selection[start] - 0.02 for n in run["members"][1:])
    members = naive_greedy(selection, selection_labels, start, pool, 3)
    assert run["members"] == [NAMES[m] for m in members]
    path = [((test_probs[members[:k]].sum(0, dtype=np.float32)).argmax(-1) == test_labels).mean()
            for k in range(1, len(members) + 1)]
    np.testing.assert_allclose(run["test_accuracy"], path, atol=1e-12)
    selection_path = [((selection[members[:k]].sum(0, dtype=np.float32)).argmax(-1) == selection_labels).mean()
                      for k in range(1, len(members) + 1)]
    np.testing.assert_allclose(run["selection_accuracy"], selection_path, atol=1e-12)
    size = next(k for k in range(1, len(members) + 1) if selection_path[k - 1] == max(selection_path))
    assert run["chosen_size"] == size and run["chosen_test_accuracy"] == pytest.approx(path[size - 1])
    np.testing.assert_array_equal(final, test_probs[members[:size]].sum(0, dtype=np.float32).argmax(-1) == test_labels)
    assert run["best_first_addition"] == NAMES[members[1]]
    assert run["best_first_addition_test_gain"] == pytest.approx(path[1] - path[0])
    assert run["pool_best_test_accuracy"] == pytest.approx(test_accuracy[pool].max())
  # A start with nobody 2 points below it gets a run of itself alone.
  assert analysis.greedy_plan([0.80, 0.795, 0.79, 0.78], starts=2) == [(0, [3]), (1, [])]
  same, same_labels = synthetic_probs([0.8], 500, seed=3)
  same = np.repeat(same, 3, axis=0)  # three identical models: equal accuracies
  alone = analysis.predictions(NAMES[:3], same, same_labels, [])
  runs, finals = analysis.greedy_runs(ROWS[:3], same, same_labels, alone, starts=1, steps=2)
  assert runs[0]["members"] == [NAMES[0]] and runs[0]["pool"] == [] and len(runs[0]["test_accuracy"]) == 1
  np.testing.assert_array_equal(finals[0], same[0].argmax(-1) == same_labels)


def _two_class(p_label):
  """float32 [N, E, 2] with label 0 everywhere: row n gives class 0 probability p_label[n]."""
  p = np.asarray(p_label, np.float32)
  return np.stack([p, 1 - p], -1), np.zeros(p.shape[1], np.int64)


def _claim4(probs, labels, runs, finals):
  correct = probs.argmax(-1) == labels
  ensembles = np.stack([correct[0]] + [(probs[0] + probs[m]).argmax(-1) == labels for m in range(1, len(probs))])
  greedy = [(NAMES.index(r["start"]), final) for r, final in zip(runs, finals)]
  out = verdicts.claims(correct, probs.max(-1), ensembles, ["base"] + ["reinit"] * (len(probs) - 1),
                        verdicts.draw_resamples(labels.size, 50), greedy=greedy)
  return out[3]


def test_claim_4_scores_the_size_the_selection_split_chooses_not_the_forced_additions():
  # 10 examples, label 0. The start is right on 9 (p = 0.8) and wrong on the last (0.3); models 1
  # and 2 are confidently wrong everywhere, so every forced addition loses on both splits.
  start = [0.8] * 9 + [0.3]
  probs, labels = _two_class([start, [0.05] * 10, [0.1] * 10])
  split = analysis.predictions(NAMES[:3], probs, labels, [])
  runs, finals = analysis.greedy_runs(ROWS[:3], probs, labels, split, starts=1, steps=2)
  path = [(probs[runs_members].sum(0).argmax(-1) == 0).mean() for runs_members in ([0], [0, 1], [0, 1, 2])]
  assert path == [0.9, 0.0, 0.0] and runs[0]["test_accuracy"] == pytest.approx(path)  # numpy reference
  assert runs[0]["chosen_size"] == 1 and runs[0]["chosen_test_accuracy"] == pytest.approx(0.9)
  np.testing.assert_array_equal(finals[0], probs[0].argmax(-1) == 0)
  claim = _claim4(probs, labels, runs, finals)
  assert claim["statistic"].estimate == 0.0  # the forced 3-model ensemble would score −0.9
  # Model 3 is right exactly where the start is wrong: the pair is perfect, a third member
  # loses again. The selection split picks the pair; claim 4 scores +0.1.
  probs, labels = _two_class([start, [0.05] * 10, [0.1] * 10, [0.3] * 9 + [0.9]])
  split = analysis.predictions(NAMES[:4], probs, labels, [])
  runs, finals = analysis.greedy_runs(ROWS[:4], probs, labels, split, starts=1, steps=2)
  members = [NAMES.index(n) for n in runs[0]["members"]]
  assert members[:2] == [0, 3] and runs[0]["best_first_addition"] == NAMES[3]
  path = [(probs[members[:k]].sum(0).argmax(-1) == 0).mean() for k in (1, 2, 3)]
  assert path[:2] == [0.9, 1.0] and path[2] < 0.9 and runs[0]["chosen_size"] == 2
  assert _claim4(probs, labels, runs, finals)["statistic"].estimate == pytest.approx(0.1)
  assert runs[0]["best_first_addition_test_gain"] == pytest.approx(0.1)


def test_base_ensemble_correct_reads_the_base_pairs_of_pairwise_outcomes():
  probs, labels = synthetic_probs([0.7, 0.6, 0.65, 0.5], 800, seed=4)
  rows = analysis.base_ensemble_correct(metrics.pairwise_outcomes(probs, labels))
  np.testing.assert_array_equal(rows[0], probs[0].argmax(-1) == labels)
  for m in range(1, 4):
    np.testing.assert_array_equal(rows[m], (probs[0] + probs[m]).argmax(-1) == labels)


def test_probe_outcomes_group_the_mixing_rows_per_example_correctness():
  rng = np.random.default_rng(5)
  rows = [{"category": c, "base_rate": r, "seed": s, "test_accuracy": 0.5, "test_correct": rng.random(30) < 0.5}
          for c in ("reinit", "dataset") for r in (1.0, 0.5, 0.0) for s in range(2)]
  grouped = analysis.probe_outcomes(rows)
  assert set(grouped) == {"reinit", "dataset"} and set(grouped["dataset"]) == {1.0, 0.5, 0.0}
  np.testing.assert_array_equal(grouped["dataset"][0.5], np.stack([rows[8]["test_correct"], rows[9]["test_correct"]]))
  assert analysis.probe_outcomes([{k: v for k, v in r.items() if k != "test_correct"} for r in rows]) is None


def test_the_analysis_reads_the_rows_it_is_given_not_the_registry():
  """Rows that are not registered (a notebook's own), and a registered name whose row here has
  other fields: every table derives categories and training-method fields from the rows passed
  (zoo.pair_category of them), never from a registry lookup (which raised KeyError before)."""
  base = dataclasses.replace(zoo.get("cnn.s0"), name="notebook.base")
  rows = [base, dataclasses.replace(base, name="notebook.seed", seed=7),
          dataclasses.replace(base, name="notebook.arch", architecture="notebook-net"),
          dataclasses.replace(base, name="notebook.data", pretraining_data="notebook-data"),
          dataclasses.replace(zoo.get("cnn.s1"), objective="notebook-objective")]  # registered: reinit there
  names = [row.name for row in rows]
  assert not set(names[:4]) & set(zoo.list_models())
  assert analysis.categories_vs_base(rows) == ["base", "reinit", "architecture", "dataset", "framework"]
  probs, labels = synthetic_probs([0.80, 0.79, 0.77, 0.76, 0.75], 400, seed=4)
  test = analysis.predictions(names, probs, labels, [])
  outcomes = metrics.pairwise_outcomes(probs, labels)
  # The tables read the intervals' values, not how they were drawn: stand-ins spare the bootstrap's compile.
  shape = {"accuracy": (5,), **{key: (5, 5) for key in analysis.PAIR_METRICS}}
  intervals = {key: metrics.Interval(*(np.full(s, 0.5),) * 4, 0.95, 5) for key, s in shape.items()}
  pairs = analysis.pair_table(rows, intervals)
  assert [(p["model_a"], p["model_b"], p["category"]) for p in pairs] == [
      (rows[a].name, rows[b].name, zoo.pair_category(rows[a], rows[b])) for a in range(5) for b in range(a + 1, 5)]
  assert pairs[3]["category"] == "framework" and pairs[4]["category"] == "architecture"  # base+cnn.s1, seed+arch
  models = analysis.model_table(test, rows, np.ones(5), intervals)
  assert [(m["model"], m["category"], m["objective"], m["architecture"], m["pretraining_data"]) for m in models] == [
      (r.name, c, r.objective, r.architecture, r.pretraining_data)
      for r, c in zip(rows, ["base", "reinit", "architecture", "dataset", "framework"])]
  assert [c["category"] for c in analysis.category_table(rows, outcomes, num_resamples=5)] == [
      "reinit", "architecture", "framework", "dataset"]
  assert analysis.representatives(rows, test.correct.mean(1)) == {"reinit": 1, "architecture": 2, "framework": 4,
                                                                 "dataset": 3}
  (run,), _ = analysis.greedy_runs(rows, probs, labels, test, starts=1, steps=2)
  assert run["start"] == "notebook.base" and len(run["members"]) == 3
  assert run["categories_vs_start"] == ["start"] + [zoo.pair_category(base, rows[names.index(m)])
                                                    for m in run["members"][1:]]
  with pytest.raises(ValueError, match="not the models of the predictions"):
    analysis.model_table(test, rows[::-1], np.ones(5), intervals)
