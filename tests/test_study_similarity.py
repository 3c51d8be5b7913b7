"""The study's similarity ↔ complementarity section (launch.study.link) on synthetic arrays,
against naive numpy computations of single entries; the disabled setting; the report's
section, link.csv and figure."""

import csv
import json

import numpy as np
import pytest
import scipy.stats

import metrics
import probes
from launch.study import analysis, config as config_lib, link, pipeline, report
from launch.study.sections import similarity as similarity_section
from tests.conftest import random_probs

NUM_CLASSES = 4
WIDTHS = (6, 9, 6, 4)


def _predictions(rng, names, num_examples, shared):
  """Embeddings that share a label-driven component (so probes learn) plus model noise."""
  labels = rng.integers(0, NUM_CLASSES, num_examples)
  centres = shared[:, :max(WIDTHS)]
  embeddings = [(centres[labels, :w] + rng.normal(size=(num_examples, w)) * (0.6 + 0.3 * m)).astype(np.float32)
                for m, w in enumerate(WIDTHS)]
  probs = random_probs(rng, len(names), num_examples, NUM_CLASSES, scale=1.0)
  probs[:, np.arange(num_examples), labels] += 0.8 * rng.random((len(names), num_examples))
  probs /= probs.sum(-1, keepdims=True)
  return analysis.predictions(names, probs.astype(np.float32), labels, embeddings)


def _config(**similarity):
  """The similarity section's settings (config.sections.similarity) with these fields."""
  settings = {"k": 5, "examples": 60, "permutations": 3, "resamples": 40, "kappa_draws": 200, **similarity}
  return config_lib.merge({"sections": {"similarity": settings}}).sections.similarity


def _point_intervals(outcomes):
  """The section reads only the estimates of the study's pairwise intervals: the point
  statistics of metrics.summarize (and κ) as Intervals, sparing the bootstrap's compile."""
  stats = {**metrics.summarize(outcomes), "cohen_kappa": metrics.cohen_kappa(outcomes.correct)}
  return {k: metrics.Interval(np.asarray(v), np.asarray(v), np.asarray(v), np.zeros_like(v), 0.95, 1)
          for k, v in stats.items()}


@pytest.fixture(scope="module")
def study():
  rng = np.random.default_rng(3)
  names = [f"m{i}" for i in range(len(WIDTHS))]
  shared = rng.normal(size=(NUM_CLASSES, 16)) * 1.5
  test, calibration = _predictions(rng, names, 160, shared), _predictions(rng, names, 150, shared)
  outcomes = metrics.pairwise_outcomes(test.probs, test.labels)
  intervals = _point_intervals(outcomes)
  section = link.similarity_section(_config(), test, calibration, outcomes, intervals)
  # The analysis cache stores JSON: the section must survive encode → dumps → loads → decode.
  section = pipeline.decode(json.loads(json.dumps(pipeline.encode(section))))
  return test, calibration, outcomes, intervals, section


def _row(section, a, b):
  return next(r for r in section["pairs"] if (r["model_a"], r["model_b"]) == (f"m{a}", f"m{b}"))


def _centred_gram(x):
  x = np.asarray(x, np.float64)
  x = x - x.mean(0)
  return x @ x.T


def test_prediction_measures_against_naive_numpy(study):
  test, _, _, _, section = study
  assert len(section["pairs"]) == 6 and section["models"] == ["m0", "m1", "m2", "m3"]
  probs = np.stack([np.asarray(test.probs[m]) for m in range(len(test.names))])  # the naive side's own array
  correct = probs.argmax(-1) == test.labels
  a, b = 0, 2
  row = _row(section, a, b)
  inconsistent = correct[a] != correct[b]
  ensemble = (probs[a] + probs[b]).argmax(-1) == test.labels
  assert row["error_inconsistency"] == pytest.approx(inconsistent.mean(), abs=1e-6)
  assert row["conversion_rate"] == pytest.approx(ensemble[inconsistent].mean(), abs=1e-6)
  assert row["ensemble_gain"] == pytest.approx(ensemble.mean() - (correct[a].mean() + correct[b].mean()) / 2, abs=1e-6)
  assert row["ensemble_gain_over_best"] == pytest.approx(ensemble.mean() - max(correct[a].mean(), correct[b].mean()),
                                                         abs=1e-6)
  # Cohen's κ from the 2×2 table, and Klein et al.'s bias correction E κ / (E − 1 + κ).
  e = correct.shape[1]
  observed = np.mean(correct[a] == correct[b])
  expected = correct[a].mean() * correct[b].mean() + (1 - correct[a].mean()) * (1 - correct[b].mean())
  kappa = (observed - expected) / (1 - expected)
  assert row["cohen_kappa"] == pytest.approx(kappa, abs=1e-5)
  assert row["unbiased_kappa"] == pytest.approx(e * kappa / (e - 1 + kappa), abs=1e-5)
  assert 0 < row["kappa_p_value"] <= 1
  # θ asymmetry by a loop over examples.
  only_a, only_b = [], []
  for n in range(e):
    angle = np.degrees(np.arctan2(probs[a, n].max(), probs[b, n].max()))
    if correct[a, n] and not correct[b, n]:
      only_a.append(angle)
    elif correct[b, n] and not correct[a, n]:
      only_b.append(angle)
  assert row["theta_asymmetry"] == pytest.approx(np.mean(only_a) - np.mean(only_b), abs=1e-3)


def test_similarities_against_naive_numpy(study):
  test, _, _, _, section = study
  a, b = 1, 3
  row = _row(section, a, b)
  k_a, k_b = _centred_gram(test.embeddings[a]), _centred_gram(test.embeddings[b])
  cka = np.sum(k_a * k_b) / np.sqrt(np.sum(k_a * k_a) * np.sum(k_b * k_b))
  assert row["cka"] == pytest.approx(cka, abs=1e-6)
  # Mutual k-NN by brute force on the seeded subset of `examples` test examples.
  rows = link._subset(len(test.labels), 60, seed=0)
  assert section["settings"]["examples"] == 60 and len(np.unique(rows)) == 60 and rows.max() < len(test.labels)
  k = section["settings"]["k"]

  def neighbours(x):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    similarity = x @ x.T
    np.fill_diagonal(similarity, -np.inf)
    return [set(np.argsort(-row, kind="stable")[:k]) for row in similarity]

  n_a, n_b = (neighbours(test.embeddings[m][rows].astype(np.float64)) for m in (a, b))
  assert row["mutual_knn"] == pytest.approx(np.mean([len(x & y) / k for x, y in zip(n_a, n_b)]), abs=1e-9)
  # Calibrated = score − null mean on the subset; p of a one-sided permutation test with 3 draws.
  assert min(abs(row["mutual_knn_null_p"] - p) for p in (0.25, 0.5, 0.75, 1.0)) < 1e-12
  assert row["mutual_knn_calibrated"] < row["mutual_knn"]   # the null's mean overlap is positive (about k/E)
  k_a, k_b = _centred_gram(test.embeddings[a][rows]), _centred_gram(test.embeddings[b][rows])
  subset_cka = np.sum(k_a * k_b) / np.sqrt(np.sum(k_a * k_a) * np.sum(k_b * k_b))
  assert 0 < subset_cka - row["cka_calibrated"] < subset_cka     # minus a positive null mean


def test_concatenation_gain_uses_calibration_80_20_and_test(study):
  test, calibration, _, _, section = study
  split = int(0.8 * len(calibration.labels))
  assert section["settings"]["probe_train_examples"] == split
  direct = probes.pairwise_complementarity([e[:split] for e in calibration.embeddings], calibration.labels[:split],
                                           [e[split:] for e in calibration.embeddings], calibration.labels[split:],
                                           test.embeddings, test.labels, num_resamples=40)
  interval = direct.intervals["gain"]
  for a, b in ((0, 1), (2, 3)):
    gain = _row(section, a, b)["concatenation_gain"]  # a typed interval, also after the cache's JSON round trip
    assert isinstance(gain, metrics.Interval) and (gain.confidence, gain.num_resamples) == (0.95, 40)
    assert gain.estimate == pytest.approx(direct.gain[a, b], abs=1e-12)
    for field in ("low", "high", "std"):  # the pair's value: the mean of the [a, b] and [b, a] entries
      matrix = np.asarray(getattr(interval, field), np.float64)
      assert getattr(gain, field) == pytest.approx((matrix[a, b] + matrix[b, a]) / 2, abs=1e-12), field
    # (float32 bootstrap sums: the interval may miss an exact-zero gain by rounding)
    assert gain.low - 1e-6 <= gain.estimate <= gain.high + 1e-6


def test_link_correlations_are_spearman_over_pairs(study):
  _, _, _, _, section = study
  rows = section["pairs"]
  by_key = {(c["predictor"], c["target"]): c for c in section["correlations"]}
  assert set(by_key) == {(p, t) for p in link.PREDICTORS for t in link.TARGETS}
  for predictor, target in (("cka", "ensemble_gain"), ("error_inconsistency", "concatenation_gain")):
    value = lambda row, key: row[key].estimate if key == "concatenation_gain" else row[key]
    expected = scipy.stats.spearmanr([r[predictor] for r in rows], [value(r, target) for r in rows]).statistic
    assert by_key[(predictor, target)]["rho"] == pytest.approx(expected, abs=1e-12)
    assert by_key[(predictor, target)]["num_pairs"] == 6


def test_subset_cap_and_disabled_setting(study):
  test, calibration, outcomes, intervals, _ = study
  assert link.similarity_section(_config(enabled=False), test, calibration, outcomes, intervals) is None
  no_null = link.similarity_section(_config(permutations=0), test, calibration, outcomes, intervals)
  assert "mutual_knn_calibrated" not in no_null["pairs"][0]
  assert no_null["pairs"][0]["mutual_knn"] == pytest.approx(_row(study[4], 0, 1)["mutual_knn"], abs=1e-12)
  assert no_null["pairs"][0]["cknna"] == pytest.approx(_row(study[4], 0, 1)["cknna"], abs=1e-12)
  everything = link._subset(len(test.labels), 10_000, seed=0)
  assert np.array_equal(everything, np.arange(len(test.labels)))
  with pytest.raises(config_lib.ConfigError, match=r"config field 'sections\.similarity\.examples' \(5\) must exceed"):
    similarity_section.check(_config(examples=5))
  with pytest.raises(config_lib.ConfigError, match=r"config field 'sections\.similarity\.k' \(in the config\) must be"):
    config_lib.merge({"sections": {"similarity": {"k": "ten"}}})


def test_report_section_link_csv_and_figure(study, tmp_path):
  _, _, _, _, section = study
  text = report.similarity_text(section)
  assert text.startswith("## Representational similarity and complementarity")
  assert "ρ with ensemble gain" in text and "ρ with concatenation gain" in text and "fig8_link.png" in text
  cka = next(c for c in section["correlations"] if c["predictor"] == "cka" and c["target"] == "ensemble_gain")
  assert f"{cka['rho']:+.2f} [{cka['low']:+.2f}, {cka['high']:+.2f}]" in text
  report.write_similarity(section, tmp_path)
  with (tmp_path / "link.csv").open() as handle:
    rows = list(csv.DictReader(handle))
  assert len(rows) == 6 and float(rows[0]["cka"]) == pytest.approx(section["pairs"][0]["cka"])
  # The writer alone flattens the concatenation gain's Interval: three columns, in the measure's place.
  assert list(rows[0])[-3:] == ["concatenation_gain", "concatenation_gain_low", "concatenation_gain_high"]
  gain = section["pairs"][0]["concatenation_gain"]
  assert [float(rows[0][k]) for k in list(rows[0])[-3:]] == [gain.estimate, gain.low, gain.high]
  assert (tmp_path / "link_correlations.csv").exists() and (tmp_path / "fig8_link.png").stat().st_size > 10_000
  assert "Not computed" in report.similarity_text(None)


def test_concatenation_without_a_shared_class_is_skipped_with_a_reason():
  """A calibration split too small for the dataset's classes (e.g. 40 ImageNet images) leaves
  the concatenation gains NaN and says why, instead of stopping the study; with validation
  examples of untrained classes only, λ is chosen on the training part."""
  rng = np.random.default_rng(0)
  names = [f"m{i}" for i in range(len(WIDTHS))]
  shared = rng.normal(size=(NUM_CLASSES, 16))
  calibration, test = _predictions(rng, names, 50, shared), _predictions(rng, names, 40, shared)
  settings = _config()
  calibration.labels = np.zeros(50, np.int64)       # train part: class 0 only
  test.labels = np.full(40, 1, np.int64)            # test: class 1 only
  gains, note = link._concatenation(calibration, test, settings)
  assert gains is None and "shares no class" in note and "calibration_split" in note
  calibration.labels = np.r_[np.arange(40) % 2, np.full(10, 3)]   # trained classes 0, 1; val: class 3 only
  test.labels = np.arange(40) % 3                                   # class-2 test examples are left out
  gains, note = link._concatenation(calibration, test, settings)
  assert note == "" and gains.gain.shape == (len(names), len(names)) and np.isfinite(gains.gain).all()
  assert np.all((0 <= gains.single_accuracy) & (gains.single_accuracy <= 1))
