"""The study's sections (launch.study.sections): the serialiser's exact round trip of typed
results, each section's code key (its own file and the shared code, no other section's), the
compute order (a section after those it needs), and clear errors for an unknown section."""

import dataclasses
import re
import shutil
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from launch.study import config as config_lib, sections, serial
from metrics.bootstrap import Interval

ROOT = Path(__file__).resolve().parent.parent


def _row(name: str):
  """An unregistered zoo row (Context reads the rows it is given)."""
  import zoo
  from zoo.preprocessing import Preprocessing
  return zoo.ModelEntry(name=name, builder=lambda rngs: None, weights=zoo.WeightSource("checkpoint", name),
                        preprocessing=Preprocessing(32), num_classes=2, objective="supervised",
                        pretraining_data="d", architecture="a")


def test_serialiser_round_trips_results_with_intervals_arrays_and_nan_exactly():
  from launch.study.sections import greedy, models
  interval = Interval(np.array([0.25, np.nan], np.float32), np.array([0.1, 0.2]), np.float64(0.3), 0.01, 0.95, 300)
  value = {"interval": interval, "rows": [{"x": float("nan"), "t": (1, "a")}], "flags": np.array([True, False]),
           "result": greedy.Result([{"start": "m0"}], [np.array([True, False, True])]),
           "nested": models.Result(3, ["a"], {"low": 0.1}, [], {})}
  back = serial.loads(serial.dumps(value))
  assert isinstance(back["interval"], Interval) and back["interval"].num_resamples == 300
  assert back["interval"].estimate.dtype == np.float32 and np.isnan(back["interval"].estimate[1])
  np.testing.assert_array_equal(back["interval"].estimate, interval.estimate)
  assert back["interval"].high == 0.3 and back["rows"][0]["t"] == [1, "a"] and np.isnan(back["rows"][0]["x"])
  assert isinstance(back["result"], greedy.Result) and back["result"].greedy_final[0].dtype == bool
  np.testing.assert_array_equal(back["result"].greedy_final[0], [True, False, True])
  assert back["nested"] == models.Result(3, ["a"], {"low": 0.1}, [], {})
  assert serial.dumps(back) == serial.dumps(value)


def test_serialiser_rebuilds_only_the_studys_own_types():
  text = serial.dumps({"x": 1}).replace('{"x": 1}', '{"__dataclass__": "os:PathLike", "fields": {}}')
  with pytest.raises(ValueError, match="not one of the study's types"):
    serial.loads(text)


def test_a_sections_code_key_covers_its_own_file_and_the_shared_code_only(tmp_path):
  for folder in ("launch/study", "metrics", "probes"):
    shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
  original = {name: sections.code_sha256(name, tmp_path) for name in config_lib.SECTIONS}
  assert original == {name: sections.code_sha256(name, ROOT) for name in config_lib.SECTIONS}
  changes = {"launch/study/sections/greedy.py": {"greedy"}, "launch/study/analysis.py": set(config_lib.SECTIONS),
             "launch/study/sections/__init__.py": set(config_lib.SECTIONS), "metrics/ensemble.py":
             set(config_lib.SECTIONS)}
  for changed, affected in changes.items():
    path = tmp_path / changed
    before = path.read_bytes()
    path.write_bytes(before + b"\n# changed\n")
    now = {name: sections.code_sha256(name, tmp_path) for name in config_lib.SECTIONS}
    assert {name for name in now if now[name] != original[name]} == affected, changed
    path.write_bytes(before)


def test_sections_compute_after_what_they_need_and_unknown_ones_are_named():
  order = sections.compute_order(list(config_lib.SECTIONS))
  assert sorted(order) == sorted(config_lib.SECTIONS)
  for name in order:
    assert all(order.index(need) < order.index(name) for need in sections.get(name).NEEDS)
  assert sections.order(config_lib.defaults()) == list(config_lib.SECTIONS)  # report order: the config's
  with pytest.raises(ValueError, match="no study section 'nope'.*known: .*greedy"):
    sections.get("nope")
  with pytest.raises(ValueError, match="needs section 'greedy'"):
    sections.compute_order(["claims", "mixing"])


def test_every_section_declares_its_contract():
  for name in config_lib.SECTIONS:
    module = sections.get(name)
    assert dataclasses.is_dataclass(module.Result) and module.Result.__dataclass_params__.frozen, name
    assert set(module.USES) <= set(sections.CONTEXT_FIELDS), name
    for field in module.FIELDS:
      assert field in config_lib.defaults(), (name, field)
    assert all(callable(getattr(module, f)) for f in ("defaults", "compute", "write", "markdown")), name


def test_a_section_reads_only_the_intermediates_it_declares():
  context = sections.Context(config_lib.defaults(), [_row("a")], {}, [], {}, {})
  with pytest.raises(AttributeError, match="USES does not list it"):
    context.scoped("greedy").outcomes  # noqa: B018 (the read is the test)
  with pytest.raises(AttributeError, match="read settings"):
    context.scoped("greedy").config  # noqa: B018


def test_a_section_reads_only_the_results_of_the_sections_it_needs():
  context = sections.Context(config_lib.defaults(), [_row("a")], {}, [], {}, {})
  context.results.update(greedy="greedy result", mixing="mixing result", models="models result")
  assert context.scoped("claims").results == {"greedy": "greedy result", "mixing": "mixing result"}
  assert context.scoped("models").results == {}


def test_a_shared_intermediates_key_holds_exactly_what_computes_it():
  """Each shared intermediate's key changes with its own config fields and the manifests of the
  splits it reads (and those of what it is computed from), and with nothing else: no section's
  setting, no other split."""
  import types
  manifests = lambda weights: {"a": {"model": "a", "weights_sha256": weights}, "b": {"model": "b"}}
  stored = {role: types.SimpleNamespace(manifests=manifests("w")) for role in ("calibration", "test", "selection")}
  config = config_lib.defaults()
  keys = lambda cfg, st, code="c": {name: sections.shared_key(cfg, name, st, code) for name in sections.SHARED}
  base = keys(config, stored)
  assert len(set(base.values())) == len(sections.SHARED)

  def changed(cfg=config, st=stored, code="c"):
    now = keys(cfg, st, code)
    return {name for name in now if now[name] != base[name]}
  everything = set(sections.SHARED)
  assert changed(config_lib.apply_overrides(config, ["resamples=7"])) == {"intervals"}
  for override in ("sections.greedy.steps=1", "accuracy_band=2.5", "sections.specialisation.theta_bins=5",
                   "sections.mixing.probe_steps=3", "sections.similarity.k=3"):
    assert changed(config_lib.apply_overrides(config, [override])) == set(), override
  assert changed(st={**stored, "test": types.SimpleNamespace(manifests=manifests("other"))}) == everything - {
      "temperatures"}
  assert changed(st={**stored, "calibration": types.SimpleNamespace(manifests=manifests("other"))}) == everything
  assert changed(st={**stored, "selection": types.SimpleNamespace(manifests=manifests("other"))}) == set()
  assert changed(code="other code") == everything


def test_shared_intermediates_round_trip_through_the_cache_files_exactly(tmp_path, capsys):
  """pipeline.cached_arrays stores what compute() returns and reads back the same arrays (dtype and
  every value, NaN included); the outcomes and intervals rebuilt from them equal the originals
  field by field; a damaged file is named, recomputed and replaced."""
  import jax
  import metrics
  from launch.study import pipeline
  rng = np.random.default_rng(0)
  correct = rng.random((3, 7)) < 0.5
  outcomes = metrics.ensemble.PairwiseOutcomes(
      correct=jax.device_put(correct), pair_a=np.array([0, 0, 1], np.int32), pair_b=np.array([1, 2, 2], np.int32),
      ensemble_correct=jax.device_put(rng.random((3, 7)) < 0.5), num_recomputed=2,
      counts={"converted": np.array([1, 0, 3], np.int32)})
  estimate = np.array([[np.nan, 0.25], [0.5, 1.0]], np.float32)
  intervals = {"ensemble_accuracy": Interval(estimate, estimate - 0.1, np.float64(estimate) + 0.1,
                                             np.zeros((2, 2)), 0.95, 300)}
  calls = []
  for value, to_arrays, from_arrays in ((outcomes, sections._outcomes_arrays, sections._outcomes_of_arrays),
                                        (intervals, sections._intervals_arrays, sections._intervals_of_arrays)):
    name = "outcomes" if value is outcomes else "intervals"
    compute = lambda: calls.append(name) or to_arrays(value)
    stored = pipeline.cached_arrays(tmp_path, name, "k" * 64, compute)
    again = pipeline.cached_arrays(tmp_path, name, "k" * 64, compute)   # read back: not computed again
    assert calls.count(name) == 1 and stored.keys() == again.keys() == to_arrays(value).keys()
    for key, array in to_arrays(value).items():
      assert again[key].dtype == array.dtype, key
      np.testing.assert_array_equal(again[key], array, err_msg=key)
    rebuilt = from_arrays(again)
    if value is outcomes:
      assert isinstance(rebuilt.correct, jax.Array) and rebuilt.num_recomputed == 2
      np.testing.assert_array_equal(rebuilt.correct, correct)
      assert rebuilt.counts.keys() == {"converted"} and rebuilt.pair_a.dtype == np.int32
    else:
      (back,) = rebuilt.values()
      assert (back.confidence, back.num_resamples) == (0.95, 300) and back.estimate.dtype == np.float32
      for field in ("estimate", "low", "high", "std"):
        np.testing.assert_array_equal(getattr(back, field), getattr(intervals["ensemble_accuracy"], field))
  assert "shared intermediate intervals: cached (" in capsys.readouterr().out
  (path,) = (tmp_path / "analysis" / "shared").glob("intervals-*.npz")
  path.write_bytes(path.read_bytes()[:-10])  # truncated
  recompute = lambda: calls.append("intervals") or sections._intervals_arrays(intervals)
  assert pipeline.cached_arrays(tmp_path, "intervals", "k" * 64, recompute).keys() == stored.keys()
  assert calls.count("intervals") == 2 and f"damaged analysis cache {path}" in capsys.readouterr().out


def _read_outside_the_sections(field: str) -> bool:
  """Whether code of launch/study other than the section modules and the config's defaults reads
  config field ``field`` (``config.<field>``, ``config["<field>"]``, ``config[field]`` over a
  tuple naming it), or a shared intermediate of sections.Context does (CONTEXT_FIELDS)."""
  if any(field in fields for fields in sections.CONTEXT_FIELDS.values()):
    return True
  sources = [p.read_text() for p in (ROOT / "launch" / "study").glob("*.py") if p.name != "config.py"]
  pattern = re.compile(rf"""config\.{field}\b|config\[["']{field}["']\]|["']{field}["']""")
  return any(pattern.search(text) for text in sources)


def test_each_sections_own_settings_live_beside_its_code_and_nowhere_study_wide():
  """config.sections.<name> is its module's defaults(); the study-wide fields a section reads
  (FIELDS) are shared ones: read by another section or outside the sections too (a field only one
  section reads belongs in that section's defaults()); every moved setting is in its section's
  defaults() and no longer study-wide. (A section's own setting may share a study-wide field's
  name, as downstream.test_split and test_split: it is another setting.)"""
  study_wide = config_lib.defaults()
  shared = set(study_wide) - {"sections"}
  for name in config_lib.SECTIONS:
    module = sections.get(name)
    own = module.defaults()
    assert study_wide.sections[name].to_dict() == own.to_dict(), name
    assert set(module.FIELDS) <= shared and not set(module.FIELDS) & set(config_lib.MOVED), name
  readers = {field: [n for n in config_lib.SECTIONS if field in sections.get(n).FIELDS] for field in shared}
  for field, names in readers.items():
    if len(names) == 1:
      assert _read_outside_the_sections(field), (f"study-wide field {field!r} is read by section {names[0]!r} alone: "
                                                 "move it into that section's defaults()")
  for old, new in config_lib.MOVED.items():  # the moved settings are in their section's defaults, typed as before
    _, section, *leaf = new.split(".")
    assert old not in study_wide and (not leaf or leaf[0] in sections.get(section).defaults()), old
  for name, expected in {"greedy": {"starts", "steps"}, "specialisation": {"theta_bins", "class_groups"},
                         "mixing": {"rates", "seeds", "probe_steps", "diversity_ranking", "diversity_step",
                                    "diversity_target"},
                         "downstream": {"dataset", "train_split", "val_split", "test_split", "iterations"},
                         "similarity": {"enabled", "k", "examples", "permutations", "resamples", "kappa_draws",
                                        "seed"}}.items():
    assert set(sections.get(name).defaults()) == expected, name


def test_a_sections_settings_are_its_own_and_its_fields_and_its_key_covers_what_it_reads():
  config = config_lib.apply_overrides(config_lib.defaults(), ["sections.greedy.steps=3", "resamples=7"])
  greedy = sections.settings(config, "greedy")
  assert greedy.to_dict() == {"selection_split": "", "starts": 2, "steps": 3}
  with pytest.raises(AttributeError):
    greedy.steps = 4  # frozen
  # The similarity section's own resamples are its own; the study-wide ones (its intervals) join its key.
  assert sections.settings(config, "similarity").resamples == 1000
  assert sections.context_fields(config, "similarity") == {"resamples": 7}
  inputs = {"names": ["a"], "splits": [], "manifests": []}
  base = sections.key(config, "similarity", inputs, {})
  for override in ("resamples=8", "sections.similarity.resamples=999"):
    assert sections.key(config_lib.apply_overrides(config, [override]), "similarity", inputs, {}) != base, override
  assert sections.key(config_lib.apply_overrides(config, ["sections.greedy.steps=4"]), "similarity", inputs,
                      {}) == base
  shadowing = type("Shadowing", (), {"FIELDS": ("resamples",), "USES": (), "NEEDS": (),
                                     "defaults": staticmethod(lambda: ml_collections.ConfigDict({"resamples": 3}))})
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(sections, "get", lambda name: shadowing)
    with pytest.raises(ValueError, match=r"own settings \['resamples'\] have the names of study-wide fields"):
      sections.settings(config, "shadowing")
