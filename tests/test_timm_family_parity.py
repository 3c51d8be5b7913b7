"""Every family of zoo.converters.timm, at its smallest real variant, equals timm's own module.

Parametrised over the converter's family table (``FAMILIES``, read at collection: a family added
there is tested here without editing this file): for each pattern, the architectures of timm
1.0.31's 1,000-class pretrained tags that it matches (zoo/data/timm_1_0_31_pretrained.json); the
one with the fewest parameters (timm's count, in the snapshot) is exported by the timm environment
with random weights and every norm and statistic moved from its default, at the smallest input it
accepts
(benchmarks/timm_coverage_reference.py, one process for all families); ``zoo.load_timm`` must
reproduce timm's logits and ``forward_head(..., pre_logits=True)`` embedding to a relative error
of 1e-4 (benchmarks/timm_coverage.py's check, the coverage benchmark's criterion).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zoo import timm_rows
from zoo.converters import timm as timm_converter

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "benchmarks"))  # after the packages: benchmarks/zoo.py is a script
import timm_coverage  # noqa: E402  (the coverage benchmark's parity check)
from test_zoo_timm import timm_python  # noqa: E402


def _family_candidates() -> dict[str, list[str]]:
  """Family id ("<index in FAMILIES>-<timm model file>") → the architectures of 1,000-class tags its
  pattern matches (a family matching none has nothing of timm's ImageNet world to check)."""
  module_of = {timm_rows.snapshot()[t]["architecture"]: timm_rows.snapshot()[t]["module"]
               for t in timm_rows.imagenet_tags(covered_only=False)}
  families = {}
  for index, pattern in enumerate(timm_converter.FAMILIES):
    matched = sorted(a for a in module_of if re.fullmatch(pattern, a))
    if matched:
      families[f"{index}-{module_of[matched[0]]}"] = matched
  return families


FAMILY_CANDIDATES = _family_candidates()
# Each family's variant with the fewest parameters (timm 1.0.31's counts, in the snapshot).
SMALLEST = {family: min(candidates, key=timm_rows.parameters) for family, candidates in FAMILY_CANDIDATES.items()}
# The families are split over SHARDS test files (this one, SHARD 0, and test_timm_family_parity_<k>.py, which
# import this file's test and fixture and set their own SHARD): pytest-xdist's --dist loadfile runs each file
# whole on one worker, so the shards run side by side instead of one worker taking every family.
SHARDS = 2
SHARD = 0


def shard_families(shard: int) -> list[str]:
  """Every SHARDS-th family (sorted) from ``shard``: each shard a similar mix of families."""
  return sorted(FAMILY_CANDIDATES)[shard::SHARDS]


@pytest.fixture(scope="module")
def exports(request, tmp_path_factory):
  """timm's exports of the smallest variant of each family of this file's shard (one reference process)."""
  out = tmp_path_factory.mktemp("timm_family_parity")
  architectures = sorted({SMALLEST[f] for f in shard_families(request.module.SHARD)})
  (out / "cases.json").write_text(json.dumps({"architectures": architectures}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": "",
         "OVERLAP_TIMM_THREADS": "1"}
  result = subprocess.run([timm_python(), str(ROOT / "benchmarks" / "timm_coverage_reference.py"),
                           str(out / "cases.json"), str(out / "exports")], env=env, capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, f"the timm reference failed ({result.returncode}):\n{result.stderr[-4000:]}"
  return out / "exports"


def test_families_are_found():
  assert len(FAMILY_CANDIDATES) >= 10, FAMILY_CANDIDATES  # main's table had 11 families with ImageNet tags


# Found by session timmmore25: at this check's draw (4 calibration images, 224 px, its fixed input size)
# LeViT-128S's timm reference is itself ill-conditioned in float32: timm's float32 logits differ from
# the same module run in float64 by 2.4e-4 (relative), ours by 1.3e-4 from float64 and 2.1e-4 from
# timm's float32 (tests/test_zoo_timm_more_families.py, 8 calibration images: 1.1e-5). Strict: a
# better-conditioned draw makes this XPASS, which fails until the mark is removed.
KNOWN_FAILURES = {"levit_128s": "timm's own float32 output is 2.4e-4 from float64 at this draw (ill-conditioned)"}


def _params(shard: int):
  return [pytest.param(f, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[SMALLEST[f]], strict=True))
          if SMALLEST[f] in KNOWN_FAILURES else f for f in shard_families(shard)]


def pytest_generate_tests(metafunc):
  """``family`` over the families of the collecting file's shard."""
  if "family" in metafunc.fixturenames:
    metafunc.parametrize("family", _params(metafunc.module.SHARD))


def test_shards_hold_every_family_once():
  shards = [shard_families(k) for k in range(SHARDS)]
  assert sorted(sum(shards, [])) == sorted(FAMILY_CANDIDATES)
  assert all((ROOT / "tests" / f"test_timm_family_parity_{k}.py").exists() for k in range(1, SHARDS))


def test_smallest_variant_matches_timm(family, exports, tmp_path):
  architecture = SMALLEST[family]
  status = json.loads((exports / architecture / "status.json").read_text())
  assert status["status"] == "ok", f"{architecture}: timm side {status}"
  result = timm_coverage.check_export(exports / architecture, tmp_path / "cache")
  print(f"{family}: {architecture} at {status['resolution']} px, {timm_rows.parameters(architecture)} "
        f"parameters: {result}")
  assert result["status"] == "ok", f"{architecture}: {result['reason']}"
  assert result["logits_rel"] <= timm_coverage.TOLERANCE and result["embedding_rel"] <= timm_coverage.TOLERANCE
