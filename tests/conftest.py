"""Shared test setup: offline, CPU, one XLA compilation cache per session (per xdist worker),
deterministic hypothesis profile, the slowest files first under xdist."""

import atexit
import os
import shutil
import tempfile

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


# The files that take longest (measured, seconds on 2 cores), slowest first. Under
# pytest-xdist's --dist loadfile (scripts/test.sh) a file runs whole on one worker (its
# module fixtures are built once) and each worker takes the next file when it is nearly
# done, so starting with the longest files lets the workers finish together.
SLOWEST_FIRST = (
    "test_launch_study.py",           # ~200: the smoke study, then 3 runs of a bigger config
    "test_study_paper.py",            # ~180: the paper config on 1 device, 8 devices, 2 processes
    "test_study_user_module.py",      # ~90
    "test_zoo_parity.py",             # full-size EfficientNet-B0, CLIP
    "test_zoo.py",                    # every paper-catalog row traced
    "test_zoo_zeroshot.py",           # full-size ALIGN, SigLIP
    "test_study_linear_probe.py",
    "test_study_similarity.py",
    "test_zoo_timm.py",
    "test_zoo_timm_more.py",
    "test_zoo_converters.py",
    "test_zoo_parity_families.py",
    "test_launch_evaluate.py",
    "test_launch_probe.py",
    "test_study_lazy.py",
    "test_runner.py",
)


def pytest_collection_modifyitems(config, items):
  """Under xdist, the slowest files first (see SLOWEST_FIRST); a file's own order is kept."""
  if not os.environ.get("PYTEST_XDIST_WORKER"):
    return
  rank = {name: index for index, name in enumerate(SLOWEST_FIRST)}
  items.sort(key=lambda item: rank.get(item.path.name, len(SLOWEST_FIRST)))


# The parity tests write full-size checkpoints (hundreds of MB each, deleted as each test
# passes: pyproject's tmp_path_retention_policy) and every study test a cache: a nearly
# full disk then fails inside pytest's own output capture, as an INTERNALERROR that names
# no test. Said up front instead, with what to do.
MIN_FREE_DISK_GB = 5.0


def pytest_sessionstart(session):
  if os.environ.get("PYTEST_XDIST_WORKER"):
    return  # the controller says it once
  free_gb = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
  if free_gb < MIN_FREE_DISK_GB:
    print(f"\noverlap tests: only {free_gb:.1f} GB free under {tempfile.gettempdir()}; the suite needs about "
          f"{MIN_FREE_DISK_GB:.0f} GB there (full-size parity checkpoints, study caches). Free some space "
          "(old /tmp/pytest-of-* folders) or point TMPDIR at a larger disk.", flush=True)
