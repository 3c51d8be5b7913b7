"""Shared test setup: offline, CPU, one XLA compilation cache per session (per xdist worker),
deterministic hypothesis profile, the slowest files first under xdist."""

import atexit
import collections
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# One persistent XLA compilation cache for the session, inherited by every subprocess the
# tests start (study runs, multi-device and multi-process jobs): the same programs (the
# study's probes compile for seconds each) then compile once per session, not once per
# process (the paper test's analysis: 84 s → 24 s). Set before JAX is imported; fresh per
# session, so nothing carries over between runs; JAX_COMPILATION_CACHE_DIR= (empty) turns it off.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
  _COMPILATION_CACHE = tempfile.mkdtemp(prefix="overlap-xla-cache-")
  os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ["OVERLAP_TEST_XLA_CACHE"] = _COMPILATION_CACHE
  atexit.register(shutil.rmtree, _COMPILATION_CACHE, ignore_errors=True)
# Under pytest-xdist (scripts/test.sh) each worker and the processes it starts get a cache of
# their own inside the session's: JAX writes an entry with a plain write (no lock unless
# eviction is on), so a worker could read another's half-written executable.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER and os.environ.get("JAX_COMPILATION_CACHE_DIR") == os.environ.get("OVERLAP_TEST_XLA_CACHE"):
  os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(os.environ["OVERLAP_TEST_XLA_CACHE"], _WORKER)
  os.makedirs(os.environ["JAX_COMPILATION_CACHE_DIR"], exist_ok=True)

import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Every new array shape compiles new kernels, so hypothesis runs few, varied examples.
settings.register_profile("overlap", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("overlap")


def random_probs(rng, num_models, num_examples, num_classes, dtype=np.float32, ties=False, scale=2.0):
  """Softmax probabilities [N, E, K]; with ties=True many entries share exact values."""
  logits = rng.normal(size=(num_models, num_examples, num_classes)) * scale
  if ties:
    logits = np.round(logits)  # equal logits give exactly equal probabilities in a row
  probs = np.exp(logits - logits.max(-1, keepdims=True))
  probs /= probs.sum(-1, keepdims=True)
  return probs.astype(dtype)


DTYPES = [np.float32, np.float16, ml_dtypes.bfloat16]


@pytest.fixture
def rng():
  return np.random.default_rng(0)


# Slowest files first, by measurement. Under pytest-xdist's --dist loadfile (scripts/test.sh) a
# file runs whole on one worker (its module fixtures are built once) and each worker takes the
# next file when it is nearly done, so starting with the longest files lets the workers finish
# together. The seconds per file live in tests/durations.json, written by
#   scripts/test.sh --record-durations          (or any pytest run with --record-durations)
# which sums each file's setup + call + teardown time and merges it over the files that ran.
# Files the durations file does not hold (new ones) go first: an unmeasured file may be slow.
DURATIONS = Path(__file__).with_name("durations.json")
_measured: collections.Counter = collections.Counter()


def pytest_addoption(parser):
  parser.addoption("--record-durations", action="store_true", default=False,
                   help=f"write each test file's seconds to {DURATIONS} (merged over the files that ran).")


def file_durations() -> dict[str, float]:
  """Seconds per test file name from tests/durations.json; {} when absent or unreadable."""
  try:
    durations = json.loads(DURATIONS.read_text())
  except (OSError, ValueError):
    return {}
  return {name: float(seconds) for name, seconds in durations.items()} if isinstance(durations, dict) else {}


def slowest_first(names, durations: dict[str, float]) -> list[str]:
  """``names`` ordered unmeasured first (in their given order), then by measured seconds, longest first."""
  return sorted(names, key=lambda name: (name in durations, -durations.get(name, 0.0)))


def pytest_collection_modifyitems(config, items):
  """Under xdist, the slowest files first (tests/durations.json); a file's own order is kept."""
  if not os.environ.get("PYTEST_XDIST_WORKER"):
    return
  names = list(dict.fromkeys(item.path.name for item in items))
  rank = {name: index for index, name in enumerate(slowest_first(names, file_durations()))}
  items.sort(key=lambda item: rank[item.path.name])


def pytest_runtest_logreport(report):
  _measured[Path(report.nodeid.split("::")[0]).name] += report.duration


def pytest_sessionfinish(session):
  """With --record-durations, the controller (not an xdist worker) merges this run's seconds
  per file into tests/durations.json."""
  if not session.config.getoption("record_durations") or os.environ.get("PYTEST_XDIST_WORKER"):
    return
  durations = {**file_durations(), **{name: round(seconds, 1) for name, seconds in _measured.items()}}
  DURATIONS.write_text(json.dumps(dict(sorted(durations.items(), key=lambda kv: -kv[1])), indent=1) + "\n")


# The parity tests write full-size checkpoints (hundreds of MB each, deleted as each test
# passes: pyproject's tmp_path_retention_policy) and every study test a cache (removed when its
# file is done: _remove_module_scratch): at most 2.6 GB at once in a full run (2026-12-05), and
# a nearly full disk fails inside pytest's own output capture, as an INTERNALERROR that names
# no test. Said up front instead, with what to do.
MIN_FREE_DISK_GB = 4.0


def pytest_sessionstart(session):
  if os.environ.get("PYTEST_XDIST_WORKER"):
    return  # the controller says it once
  free_gb = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
  if free_gb < MIN_FREE_DISK_GB:
    print(f"\noverlap tests: only {free_gb:.1f} GB free under {tempfile.gettempdir()}; the suite needs about "
          f"{MIN_FREE_DISK_GB:.0f} GB there (full-size parity checkpoints, study caches). Free some space "
          "(old /tmp/pytest-of-* folders) or point TMPDIR at a larger disk.", flush=True)


# What a module's fixtures write with tmp_path_factory.mktemp (timm exports, study caches and
# stores: GBs over the suite) lives until the session ends unless removed: pytest deletes a passing
# test's tmp_path, not a module fixture's folders. So when a test file is done and none of its tests
# failed, the folders it added to this worker's base directory go; a failing file's stay for inspection.
_FAILED_FILES: set[str] = set()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
  report = yield
  if report.failed:
    _FAILED_FILES.add(item.path.name)
  return report


@pytest.fixture(scope="module", autouse=True)
def _remove_module_scratch(request, tmp_path_factory):
  """Set up before, and torn down after, every other fixture of the module's scope."""
  base = tmp_path_factory.getbasetemp()
  before = set(base.iterdir())
  yield
  if request.path.name in _FAILED_FILES:
    return
  for path in set(base.iterdir()) - before:
    if path.is_symlink() or not path.is_dir():
      path.unlink(missing_ok=True)
    else:
      shutil.rmtree(path, ignore_errors=True)
