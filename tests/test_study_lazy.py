"""The study's analysis on the store's lazy per-model readers (what the paper-scale study
runs) gives the tables the in-memory path gives; the lazy reader's calibrated rows, whole
reads and embeddings agree bit for bit; candidate views carry top-1 confidence and are
built once per stack."""

import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import metrics
import zoo
from launch import store
from launch.study import config as config_lib, pipeline, zoo_stage
from zoo.preprocessing import Preprocessing

NAMES = [f"lazytest.m{i}" for i in range(5)]
CLASSES, DIM, CHUNK = 12, 6, 64


def _rows():
  """A base and one partner per category: reinit, hyper-parameters, architecture, dataset. Never
  registered: the analysis reads the rows it is given, no registry."""
  fields = [dict(), dict(seed=1), dict(hparams=(("lr", 1),)), dict(architecture="b"), dict(pretraining_data="other")]
  base = dict(builder=lambda rngs: None, preprocessing=Preprocessing(32), num_classes=CLASSES, objective="supervised",
              pretraining_data="in1k", architecture="a", seed=0, catalog="lazytest")
  return [zoo.ModelEntry(**{**base, "name": name, "weights": zoo.WeightSource("checkpoint", name), **extra})
          for name, extra in zip(NAMES, fields)]


ROWS = _rows()


@pytest.fixture(scope="module")
def study_store(tmp_path_factory):
  """Five models on a calibration (200), selection (200) and test (300) split, chunks of 64 rows (the last one
  short), float16 logits, each model's rows written in its own id order."""
  root = tmp_path_factory.mktemp("store")
  rng = np.random.default_rng(0)
  for split, count in (("calibration", 200), ("selection", 200), ("test", 300)):
    labels = rng.integers(0, CLASSES, count)
    signal = rng.normal(size=(count, CLASSES)) * 2
    signal[np.arange(count), labels] += 2.0
    for index, name in enumerate(NAMES):
      order = rng.permutation(count)
      logits = (signal + rng.normal(scale=1.0 + index / 2, size=signal.shape))[order]
      embeddings = (signal[:, :DIM] + rng.normal(size=(count, DIM)))[order]
      writer = store.ChunkWriter(root, "synthetic", split, name, {"weights_sha256": name}, count, CHUNK,
                                 logits_dtype="float16")
      for chunk in writer.missing_chunks():
        start, stop = writer.rows(chunk)
        writer.write_chunk(chunk, {"logits": logits[start:stop].astype(np.float32),
                                   "embeddings": embeddings[start:stop].astype(np.float32),
                                   "labels": labels[order][start:stop], "ids": order[start:stop]})
  return root


def config():
  return config_lib.merge(dict(
      name="lazy", catalog="lazytest", models="lazytest.*", base=NAMES[0], dataset="synthetic",
      calibration_split="calibration", selection_split="selection", test_split="test", resamples=20,
      probe_l2_grid=(1e-2,),
      sections=dict(greedy=dict(starts=1, steps=2), mixing=dict(rates=(1.0, 0.5, 0.0), seeds=1, diversity_step=4),
                    downstream=dict(iterations=20), specialisation=dict(class_groups="low:0-5,high:6-11"))))


def assert_same(lazy, eager, path="results"):
  """Equal structure, strings, ints and booleans; floats equal to float32 rounding (wall-clock
  timings, under a "seconds" key, excepted)."""
  if path.endswith(".seconds"):
    return
  assert type(lazy) is type(eager) or {type(lazy), type(eager)} <= {int, float, np.float32, np.float64}, path
  if isinstance(lazy, dict):
    assert lazy.keys() == eager.keys(), path
    for key in lazy:
      assert_same(lazy[key], eager[key], f"{path}.{key}")
  elif isinstance(lazy, (list, tuple)):
    assert len(lazy) == len(eager), path
    for index, (a, b) in enumerate(zip(lazy, eager)):
      assert_same(a, b, f"{path}[{index}]")
  elif dataclasses.is_dataclass(lazy):  # a typed result or a metrics.Interval: field by field
    for field in dataclasses.fields(lazy):
      assert_same(getattr(lazy, field.name), getattr(eager, field.name), f"{path}.{field.name}")
  elif isinstance(lazy, np.ndarray):
    assert lazy.shape == eager.shape and lazy.dtype == eager.dtype, path
    np.testing.assert_allclose(lazy, eager, rtol=1e-5, atol=1e-7, err_msg=path)
  elif isinstance(lazy, float):
    assert lazy == pytest.approx(eager, rel=1e-5, abs=1e-7, nan_ok=True), path
  else:
    assert lazy == eager, path


def nearest_mean_probe(x_train, y_train, x_val, y_val, x_test, y_test, **unused):
  """Stands in for probes.logistic_probe (its own tests cover it; compiling it here would
  double this test's time): test accuracy of the nearest training-class mean, a function
  of exactly the features and labels the analysis hands the probe."""
  classes = np.unique(y_train)
  means = np.stack([np.asarray(x_train)[y_train == c].mean(0) for c in classes])
  distances = ((np.asarray(x_test)[:, None, :] - means[None]) ** 2).sum(-1)
  predictions = classes[distances.argmin(1)]
  return {"test_accuracy": float(np.mean(predictions == y_test)), "test_predictions": predictions}


def nearest_mean_subset_probes(x_train, y_train, x_val, y_val, x_test, y_test, masks, l2_grid=None, **unused):
  """Stands in for probes.subset_probes as :func:`nearest_mean_probe` does for
  logistic_probe: that probe on each mask's columns."""
  runs = [nearest_mean_probe(x_train[:, keep > 0], y_train, None, None, x_test[:, keep > 0], y_test)
          for keep in np.asarray(masks)]
  return {"test_accuracy": np.array([r["test_accuracy"] for r in runs]),
          "test_predictions": np.stack([r["test_predictions"] for r in runs])}


def test_analysis_on_lazy_readers_equals_the_in_memory_analysis(study_store, monkeypatch):
  from launch.study import analysis
  monkeypatch.setattr(analysis.probes, "logistic_probe", nearest_mean_probe)
  monkeypatch.setattr(analysis.probes, "subset_probes", nearest_mean_subset_probes)
  located = {n: zoo_stage.Located(None, "loaded") for n in NAMES}
  hashes = {n: n for n in NAMES}
  runs = {}
  for mode, reader in (("lazy", store.lazy_read), ("eager", store.read)):
    stored = {role: reader(study_store, "synthetic", role, NAMES) for role in ("calibration", "selection", "test")}
    timings = {}
    runs[mode] = pipeline.analyse(config(), ROWS, stored, [], hashes, located, timings=timings)
  assert {"temperatures", "pairwise", "greedy", "mixing probes", "claims"} <= set(timings)
  lazy, eager = runs["lazy"], runs["eager"]
  assert_same(lazy, eager)
  # And against a direct computation from the stored logits (the naive loop).
  full = store.read(study_store, "synthetic", "test", NAMES)
  temperatures = [row["temperature"] for row in lazy["models"]]
  probs = np.asarray(metrics.apply_temperature(full.logits, temperatures))
  correct = probs.argmax(-1) == full.labels
  assert [row["accuracy"].estimate for row in lazy["models"]] == pytest.approx(correct.mean(1).tolist(), abs=1e-6)
  for row in lazy["pairs"]:
    a, b = NAMES.index(row["model_a"]), NAMES.index(row["model_b"])
    assert row["ensemble_accuracy"].estimate == pytest.approx(
        ((probs[a] + probs[b]).argmax(-1) == full.labels).mean(), abs=1e-6)
    assert row["error_inconsistency"].estimate == pytest.approx((correct[a] != correct[b]).mean(), abs=1e-6)
  for row in lazy["categories"]:      # each category's mean over its (base, X) pairs
    members = [p for p in lazy["pairs"] if p["with_base"] and p["category"] == row["category"]]
    assert row["pairs"] == len(members) == 1
    for key in ("error_inconsistency", "ensemble_accuracy", "relative_improvement"):
      assert row[key].estimate == pytest.approx(np.mean([p[key].estimate for p in members]), abs=1e-6)
      assert row[key].low <= row[key].estimate <= row[key].high
  assert len(lazy["greedy"]) == 1 and len(lazy["greedy"][0]["members"]) == 3
  assert {row["category"] for row in lazy["mixing"]} == set(zoo.CATEGORIES) - {"framework"}


def test_lazy_calibrated_rows_whole_reads_and_embeddings_agree(study_store):
  lazy = store.lazy_read(study_store, "synthetic", "test", NAMES[:2])
  full = store.read(study_store, "synthetic", "test", NAMES[:2])
  rows = np.array([299, 3, 64, 65, 3, 130])       # across chunks, repeated, the short last chunk
  for index, name in enumerate(NAMES[:2]):
    calibrated = lazy.logits[index].calibrated(0.7)
    assert calibrated.dtype == np.float32 and calibrated.shape == (300, CLASSES)
    whole = np.asarray(calibrated)
    np.testing.assert_allclose(whole, np.asarray(metrics.apply_temperature(full.logits[index][None], [0.7]))[0],
                               rtol=1e-6, atol=1e-7)
    for subset in (rows, rows[:1], slice(10, 20), 7):   # memory-mapped row reads once the chunks are verified
      np.testing.assert_array_equal(calibrated[subset].view(np.uint32), whole[subset].view(np.uint32))
    np.testing.assert_array_equal(lazy.logits[index][rows], full.logits[index][rows])
    embeddings = lazy.embeddings[name]
    assert embeddings.shape == (300, DIM) and embeddings.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(embeddings), full.embeddings[name])
    np.testing.assert_array_equal(embeddings[rows], full.embeddings[name][rows])
  with pytest.raises(ValueError, match="only raw logits"):
    lazy.logits[0].calibrated(0.7).calibrated(2.0)


def test_candidate_view_confidence_and_reuse(rng):
  probs = np.random.default_rng(1).dirichlet(np.full(9, 0.3), size=(3, 40)).astype(np.float32)
  probs[0, :5] = 1 / 9                         # flat rows: the maximum lies outside any candidate set
  labels = rng.integers(0, 9, 40)
  stack = metrics.PredictionStack(list(probs))
  assert len(stack) == 3 and np.array_equal(stack[1], probs[1]) and np.array_equal(stack[-1], probs[2])
  view = metrics.candidates.build_candidate_view(stack, labels, num_candidates=2)
  np.testing.assert_array_equal(view.confidence, probs.max(-1))
  np.testing.assert_array_equal(view.correct, probs.argmax(-1) == labels)
  assert metrics.candidates.build_candidate_view(stack, labels, num_candidates=2) is view
  assert metrics.candidates.build_candidate_view(stack, (labels + 1) % 9, num_candidates=2) is not view
  with pytest.raises(ValueError, match="at least 2 models"):
    metrics.pairwise_outcomes(metrics.PredictionStack(list(probs[:1])), labels)


def reference_statistics(correct, ensemble_correct, pair_a, pair_b, weights):
  """The pairwise statistics of one resample, a numpy float64 loop over pairs."""
  n, total = len(correct), weights.sum()
  accuracy = correct @ weights / total
  out = {key: np.zeros((n, n)) for key in ("ensemble_accuracy", "relative_improvement", "error_inconsistency",
                                           "conversion_rate", "cohen_kappa")}
  out["ensemble_accuracy"][np.diag_indices(n)] = accuracy
  out["conversion_rate"][np.diag_indices(n)] = np.nan
  for a in range(n):
    for b in range(n):
      observed = 1 - ((correct[a] != correct[b]) @ weights) / total
      chance = accuracy[a] * accuracy[b] + (1 - accuracy[a]) * (1 - accuracy[b])
      out["cohen_kappa"][a, b] = np.nan if chance == 1 else (observed - chance) / (1 - chance)
  for pair, (a, b) in enumerate(zip(pair_a, pair_b)):
    inconsistent = correct[a] != correct[b]
    ensemble = ensemble_correct[pair] @ weights / total
    values = {"ensemble_accuracy": ensemble, "relative_improvement": ensemble - (accuracy[a] + accuracy[b]) / 2,
              "error_inconsistency": inconsistent @ weights / total,
              "conversion_rate": ((ensemble_correct[pair] & inconsistent) @ weights / (inconsistent @ weights)
                                  if (inconsistent @ weights) > 0 else np.nan)}
    for key, value in values.items():
      out[key][a, b] = out[key][b, a] = value
  return {"accuracy": accuracy, **out}


def test_pairwise_intervals_as_products_equal_a_loop_over_resamples(num_models=7, num_examples=90, resamples=23):
  """The GEMM form of the all-pairs bootstrap against a per-resample numpy loop over the same
  resamples (the counts paired_bootstrap draws); pairs without inconsistent examples (NaN
  conversion) and an always-right model (NaN κ) included."""
  from metrics import bootstrap, ensemble
  rng = np.random.default_rng(num_models)
  correct = rng.random((num_models, num_examples)) < 0.6
  correct[1] = correct[0]                      # no inconsistent example: conversion rate NaN
  correct[2] = True                            # always right
  pair_a, pair_b = ensemble.pair_indices(num_models)
  ensemble_correct = (correct[pair_a] | correct[pair_b]) & (rng.random((len(pair_a), num_examples)) < 0.8)
  outcomes = ensemble.PairwiseOutcomes(correct=correct, pair_a=pair_a, pair_b=pair_b,
                                       ensemble_correct=ensemble_correct, num_recomputed=0, counts=None)
  fast = metrics.pairwise_intervals(outcomes, num_resamples=resamples, seed=3, batch_size=4)
  weights = np.asarray(bootstrap.resample_weights(num_examples, resamples, seed=3, batch_size=4), np.float64)
  assert weights.shape == (resamples, num_examples) and np.all(weights.sum(1) == num_examples)
  draws = [reference_statistics(correct, ensemble_correct, pair_a, pair_b, w) for w in weights]
  point = reference_statistics(correct, ensemble_correct, pair_a, pair_b, np.ones(num_examples))
  assert fast.keys() == point.keys()
  for key in fast:
    stacked = np.stack([d[key] for d in draws])
    with np.errstate(all="ignore"), warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)
      low, high = np.nanpercentile(stacked, [2.5, 97.5], axis=0)
      std = np.nanstd(stacked, axis=0)
    for field, expected in (("estimate", point[key]), ("low", low), ("high", high), ("std", std)):
      np.testing.assert_allclose(getattr(fast[key], field), expected, rtol=0, atol=2e-6, err_msg=f"{key}.{field}")
  assert np.isnan(fast["conversion_rate"].estimate[0, 1]) and np.isnan(fast["cohen_kappa"].estimate[2, 2])


def test_nan_percentiles_equal_numpy():
  from metrics import bootstrap
  rng = np.random.default_rng(5)
  draws = rng.normal(size=(37, 6, 5))
  draws[rng.random(draws.shape) < 0.3] = np.nan
  draws[:, 0, 0] = np.nan                     # no finite draw
  draws[1:, 0, 1] = np.nan                    # one
  draws[:, 1, 1] = 0.25                       # ties
  with pytest.warns(RuntimeWarning):
    expected = np.nanpercentile(draws, [2.5, 50, 97.5], axis=0)
  for got, want in zip(bootstrap.nan_percentiles(draws, (2.5, 50, 97.5)), expected):
    np.testing.assert_array_equal(got, want)


def test_changing_one_sections_settings_recomputes_that_section_only(study_store, tmp_path, monkeypatch, capsys):
  """Each section's result is cached under its own key: a second run with one section's setting
  changed (sections.greedy.steps) recomputes that section and the one that reads it (claims) and serves
  every other from the cache, equal to the first run's; served and fresh results are equal."""
  from launch.study import analysis, sections
  monkeypatch.setattr(analysis.probes, "logistic_probe", nearest_mean_probe)
  monkeypatch.setattr(analysis.probes, "subset_probes", nearest_mean_subset_probes)
  (tmp_path / "store").symlink_to(study_store)  # the cache: <cache>/store and <cache>/analysis
  located = {n: zoo_stage.Located(None, "loaded") for n in NAMES}
  stored = {role: store.lazy_read(study_store, "synthetic", role, NAMES)
            for role in ("calibration", "selection", "test")}
  laps = []

  def run(cfg):
    laps.append({})
    return pipeline.analyse(cfg, ROWS, stored, [], {n: n for n in NAMES}, located, cache=tmp_path, timings=laps[-1])
  first = run(config())
  assert "cached" not in capsys.readouterr().out
  assert len(list((tmp_path / "analysis").glob("*.json"))) == len(config_lib.SECTIONS)
  assert set(SHARED_STAGES.values()) <= set(laps[0])  # each shared intermediate computed once, then stored
  assert len(list((tmp_path / "analysis" / "shared").glob("*.npz"))) == len(sections.SHARED)
  changed = config_lib.apply_overrides(config(), ["sections.greedy.steps=1"])
  second = run(changed)
  said = capsys.readouterr().out
  recomputed = {"greedy", "claims"}
  for section in config_lib.SECTIONS:
    assert (f"  {section}: cached (" in said) == (section not in recomputed), (section, said)
  # What greedy and claims read is read back, not recomputed: the temperatures, the calibrated
  # pass and the pairwise outcomes (not the intervals: neither section reads them).
  assert not set(SHARED_STAGES.values()) & set(laps[1]), laps[1]
  assert {f"{name} read from the cache" for name in ("temperatures", "calibrated", "outcomes")} <= set(laps[1])
  assert "  shared intermediate outcomes: cached (" in said
  assert [len(r["members"]) for r in first["greedy"]] == [3] and [len(r["members"]) for r in second["greedy"]] == [2]
  for section in set(config_lib.SECTIONS) - recomputed:
    for field in dataclasses.fields(sections.get(section).Result):
      assert_same(second[field.name], first[field.name], field.name)
  # Fresh (no cache) equals served from the cache, field by field.
  fresh = pipeline.analyse(changed, ROWS, stored, [], {n: n for n in NAMES}, located)
  assert_same(fresh, second)
  # Changing an input of an intermediate recomputes it (and what is computed from it), not what it builds on.
  resampled = config_lib.apply_overrides(changed, ["resamples=15"])
  third = run(resampled)
  assert SHARED_STAGES["intervals"] in laps[2] and "outcomes read from the cache" in laps[2]
  assert not {SHARED_STAGES[n] for n in ("temperatures", "calibrated", "outcomes")} & set(laps[2])
  assert len(list((tmp_path / "analysis" / "shared").glob("intervals-*.npz"))) == 2
  assert third["models"][0]["accuracy"].num_resamples == 15
  alone = config_lib.apply_overrides(resampled, [])  # the pairs section alone, computed fresh (no cache)
  alone.sections = type(alone.sections)({"categories": alone.sections.categories})
  assert_same(pipeline.analyse(alone, ROWS, stored, [], {n: n for n in NAMES}, located)["pairs"], third["pairs"])


# The stage (Context's lap) each shared intermediate records when it is computed.
SHARED_STAGES = {"temperatures": "temperatures",
                 "calibrated": "calibrated pass (correctness, confidence, candidate views)",
                 "outcomes": "pairwise", "intervals": "pairwise intervals"}


def _readme_section(monkeypatch, tmp_path):
  """The README's worked example (its new section file) imported as launch.study.sections.calibration_error,
  and its one config line applied (config.SECTIONS gains it)."""
  import importlib.util
  import re
  import sys
  readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
  (code,) = re.findall(r"<!-- worked example: launch/study/sections/calibration_error.py[^\n]*-->\n```python\n(.*?)```",
                       readme, re.S)
  path = tmp_path / "calibration_error.py"
  path.write_text(code)
  spec = importlib.util.spec_from_file_location("launch.study.sections.calibration_error", path)
  module = importlib.util.module_from_spec(spec)
  monkeypatch.setitem(sys.modules, spec.name, module)
  spec.loader.exec_module(module)
  monkeypatch.setattr(config_lib, "SECTIONS", config_lib.SECTIONS + ("calibration_error",))
  return module, len(code.splitlines())


def test_the_readmes_worked_example_section_runs_end_to_end(study_store, tmp_path, monkeypatch):
  """The README's new measure (one section file + one config line): its own setting is in
  config.sections and --set-able, the study computes it, and its ECE equals a loop over the
  stored logits; it writes its CSV and report part."""
  from launch.study import sections
  module, lines = _readme_section(monkeypatch, tmp_path)
  assert lines == 48  # the README states the diff size: 48 lines of the new file + 1 config line
  cfg = config_lib.apply_overrides(config(), ["sections.calibration_error.bins=10"])
  assert cfg.sections.calibration_error.bins == 10 and sections.settings(cfg, "calibration_error").bins == 10
  cfg.sections = type(cfg.sections)({"calibration_error": cfg.sections.calibration_error})  # this section alone
  stored = {role: store.lazy_read(study_store, "synthetic", role, NAMES) for role in ("calibration", "test")}
  located = {n: zoo_stage.Located(None, "loaded") for n in NAMES}
  results = pipeline.analyse(cfg, ROWS, stored, [], {n: n for n in NAMES}, located)
  assert results["sections"] == ["calibration_error"]
  calibration, test = (store.read(study_store, "synthetic", role, NAMES) for role in ("calibration", "test"))
  temperatures = np.asarray(metrics.fit_temperature(calibration.logits, calibration.labels))
  probs = np.asarray(metrics.apply_temperature(test.logits, temperatures), np.float64)
  for row, model_probs in zip(results["calibration_error"], probs):
    confidence, correct = model_probs.max(-1), model_probs.argmax(-1) == test.labels
    ece = 0.0
    for b in range(10):  # the naive loop: per bin, its share of examples × |accuracy − mean confidence|
      inside = [e for e in range(len(confidence)) if b / 10 <= confidence[e] < (b + 1) / 10 or (b == 9 and
                                                                                               confidence[e] == 1)]
      if inside:
        ece += len(inside) / len(confidence) * abs(np.mean(correct[inside]) - np.mean(confidence[inside]))
    assert row["ece"] == pytest.approx(ece, abs=2e-5), row
  module.write(results, tmp_path)
  assert len((tmp_path / "calibration_error.csv").read_text().splitlines()) == len(NAMES) + 1
  assert "## Calibration error" in module.markdown(results)[0]
