"""The study's sections (launch.study.sections): the serialiser's exact round trip of typed
results, each section's code key (its own file and the shared code, no other section's), the
compute order (a section after those it needs), and clear errors for an unknown section."""

import dataclasses
import shutil
from pathlib import Path

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
  for override in ("greedy_steps=1", "accuracy_band=2.5", "theta_bins=5", "probe_steps=3", "similarity.k=3"):
    assert changed(config_lib.apply_overrides(config, [override])) == set(), override
  assert changed(st={**stored, "test": types.SimpleNamespace(manifests=manifests("other"))}) == everything - {
      "temperatures"}
  assert changed(st={**stored, "calibration": types.SimpleNamespace(manifests=manifests("other"))}) == everything
  assert changed(st={**stored, "selection": types.SimpleNamespace(manifests=manifests("other"))}) == set()
  assert changed(code="other code") == everything
