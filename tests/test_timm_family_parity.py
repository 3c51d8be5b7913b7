"""Every family of zoo.converters.timm, at its smallest real variant, equals timm's own module.

Parametrised over the converter's family table (``FAMILIES``, read at collection: a family added
there is tested here without editing this file): for each pattern, the architectures of timm
1.0.31's 1,000-class pretrained tags that it matches (zoo/data/timm_1_0_31_pretrained.json); the
one with the fewest parameters (timm's count, in the snapshot) is exported by the timm environment
with random weights and every norm and statistic moved from its default, at the smallest input it
accepts
(benchmarks/timm_coverage_reference.py, one process per file, streaming each export as its test needs it:
the test moves it into its tmp_path, deleted when it passes); ``zoo.load_timm`` must
reproduce timm's logits and ``forward_head(..., pre_logits=True)`` embedding to a relative error
of 1e-4 (benchmarks/timm_coverage.py's check, the coverage benchmark's criterion).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
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


# Exports timm's reference writes ahead of the tests that read them: each is up to hundreds of MB (vgg11: 0.5 GB),
# so the reference waits while this many are unread instead of writing a shard's 2 GB at once.
PENDING_EXPORTS = 2


class ExportStream:
  """timm's exports of one shard's families, written in test order by one reference process
  (benchmarks/timm_coverage_reference.py, streaming): :meth:`take` waits for an architecture's
  export and moves it into the test's tmp_path (deleted when the test passes, kept when it fails)."""

  def __init__(self, out: Path, architectures: list[str]):
    self.out, self.log = out / "exports", out / "reference.log"
    (out / "cases.json").write_text(json.dumps({"architectures": architectures, "pending": PENDING_EXPORTS}))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": "",
           "OVERLAP_TIMM_THREADS": "1"}
    with self.log.open("w") as log:
      self.process = subprocess.Popen([timm_python(), str(ROOT / "benchmarks" / "timm_coverage_reference.py"),
                                       str(out / "cases.json"), str(self.out)], env=env, stdout=log, stderr=log)

  def take(self, architecture: str, into: Path, timeout: float = 600.0) -> Path:
    status, deadline = self.out / architecture / "status.json", time.monotonic() + timeout
    while not status.exists():
      finished = self.process.poll() is not None
      if (finished and not status.exists()) or time.monotonic() > deadline:
        pytest.fail(f"the timm reference {'exited (' + str(self.process.returncode) + ')' if finished else 'timed out'}"
                    f" before exporting {architecture}:\n{self.log.read_text()[-4000:]}")
      time.sleep(0.1)
    return Path(shutil.move(self.out / architecture, into / architecture))

  def close(self) -> None:
    if self.process.poll() is None:  # tests deselected or failed before reading every export
      self.process.kill()
    self.process.wait()


@pytest.fixture(scope="module")
def exports(request, tmp_path_factory):
  """The stream of timm's exports of the smallest variant of each selected family of this file's shard."""
  architectures = [SMALLEST[family] for family in _selected_families(request)]
  stream = ExportStream(tmp_path_factory.mktemp("timm_family_parity"), list(dict.fromkeys(architectures)))
  yield stream
  stream.close()


def _selected_families(request) -> list[str]:
  """The families of this module's tests that this session runs, in their order."""
  families = []
  for item in request.session.items:
    callspec = getattr(item, "callspec", None)
    if item.module is request.module and callspec is not None and "family" in callspec.params:
      families.append(callspec.params["family"])
  return list(dict.fromkeys(families))


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
  export = exports.take(architecture, tmp_path)
  status = json.loads((export / "status.json").read_text())
  assert status["status"] == "ok", f"{architecture}: timm side {status}"
  result = timm_coverage.check_export(export, tmp_path / "cache")
  print(f"{family}: {architecture} at {status['resolution']} px, {timm_rows.parameters(architecture)} "
        f"parameters: {result}")
  assert result["status"] == "ok", f"{architecture}: {result['reason']}"
  assert result["logits_rel"] <= timm_coverage.TOLERANCE and result["embedding_rel"] <= timm_coverage.TOLERANCE
