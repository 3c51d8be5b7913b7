"""The timm parity harness the tests/test_zoo_timm*.py files share (not a test file).

timm's side runs in its own environment (.venv-timm: timm 1.0.31 and its torch, which cannot be
imported beside the main venv's torch) through tests/timm_reference.py: one process per test
module exports each case (random weights, every norm and statistic moved from its default) in
timm's Hub format with its inputs, logits and ``forward_head(..., pre_logits=True)`` embedding,
and writes the state-dict tensor shapes (meta device, no weights) of the variants to check.
Here: the JAX side of both checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

import zoo
from zoo.converters import mapping
from zoo.converters import timm as timm_converter

REPO = Path(__file__).resolve().parents[1]
# Outputs are O(1-10) in float32: an absolute bound, and the coverage criterion's relative one.
ABSOLUTE_TOLERANCE = 1e-4
RELATIVE_TOLERANCE = 1e-4


def timm_python() -> str:
  """The timm reference environment's python ($OVERLAP_TIMM_PYTHON or .venv-timm); a test
  failure saying how to make it when it is missing."""
  python = os.environ.get("OVERLAP_TIMM_PYTHON") or str(REPO / ".venv-timm" / "bin" / "python")
  if not os.access(python, os.X_OK):
    pytest.fail(f"the timm reference environment is missing ({python} not found): run `bash scripts/setup.sh "
                "test,parity,timm` (or scripts/test.sh), or point $OVERLAP_TIMM_PYTHON at a python with the "
                "pyproject's timm-reference pins.")
  return python


def export(out: Path, cases: list[dict], shapes: list, transforms: list[dict] = ()) -> Path:
  """Runs tests/timm_reference.py once for ``cases`` (exports + outputs, one directory each under
  ``out``), ``shapes`` (architecture names, or dicts with name/architecture/kwargs; their
  tensor shapes in ``out/shapes.json``) and ``transforms`` (timm's eval preprocessing); returns ``out``."""
  out.mkdir(parents=True, exist_ok=True)
  (out / "cases.json").write_text(json.dumps({"models": cases, "shapes": shapes, "transforms": list(transforms)}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(REPO / "tests" / "timm_reference.py"), str(out / "cases.json"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}"
  return out


def exports_fixture(name: str, cases: list[dict], shapes: list):
  """A module-scoped pytest fixture yielding :func:`export`'s directory, removed afterwards
  (timm's exported checkpoints: up to hundreds of MB)."""
  @pytest.fixture(scope="module")
  def timm_exports(tmp_path_factory):
    out = export(tmp_path_factory.mktemp(name), cases, shapes)
    yield out
    shutil.rmtree(out, ignore_errors=True)
  return timm_exports


def forward(model, images):
  """``model(images)`` jitted: (logits, embedding)."""
  graphdef, state = nnx.split(model)
  return jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))(state, images)


def relative_error(ours, reference) -> float:
  """max |ours − reference| / max |reference|."""
  ours, reference = np.asarray(ours), np.asarray(reference)
  return float(np.abs(ours - reference).max() / np.abs(reference).max())


def assert_close(ours, reference, what: str, tolerance: float = ABSOLUTE_TOLERANCE) -> None:
  """Same shape, a non-degenerate reference, and max |ours − reference| ≤ ``tolerance``."""
  ours, reference = np.asarray(ours), np.asarray(reference)
  assert ours.shape == reference.shape, f"{what}: shape {ours.shape} vs timm {reference.shape}"
  assert np.std(reference) > 1e-2, f"{what}: degenerate reference output"
  difference = float(np.abs(ours - reference).max())
  print(f"parity {what}: max abs difference {difference:.2e} (reference std {np.std(reference):.2f})")
  assert difference <= tolerance, f"{what}: max abs difference {difference:.2e}"


def assert_matches_export(directory: Path, name: str, cache_dir: Path) -> None:
  """zoo.load_timm of timm's export in ``directory`` gives timm's logits and pre-logits
  embedding: within :data:`ABSOLUTE_TOLERANCE` and a relative error ≤ :data:`RELATIVE_TOLERANCE`."""
  model = zoo.load_timm(str(directory), cache_dir=cache_dir)
  logits, embedding = forward(model, np.load(directory / "images.npy"))
  for ours, file, what in ((logits, "logits.npy", "logits"), (embedding, "pre_logits.npy", "embedding")):
    reference = np.load(directory / file)
    assert_close(ours, reference, f"{name} {what}")
    error = relative_error(ours, reference)
    print(f"parity {name} {what}: max relative error {error:.2e}")
    assert error <= RELATIVE_TOLERANCE, f"{name} {what}: max relative error {error:.2e}"


def mapping_failures(architecture: str, tensor_shapes: dict[str, list[int]], model_args: dict) -> list[str]:
  """How timm's state dict of ``architecture`` (tensor name → shape) fails to map onto the
  family's abstract nnx module built with ``model_args`` (eval_shape: no memory, no FLOPs, so
  billion-parameter variants are checked too): a tensor that maps to no parameter, to one
  another tensor took, or to a different shape after the layout change, and a parameter no
  tensor fills. Empty when the mapping is exact (what mapping.load_into checks on real weights)."""
  family = timm_converter.family_of(architecture)
  abstract = zoo.abstract.eval_shape(lambda: family.build(architecture, {"architecture": architecture,
                                                                          "model_args": model_args}))
  targets = {key: tuple(leaf.shape) for key, leaf in mapping.flatten(nnx.to_pure_dict(nnx.state(abstract))).items()}
  ignore = timm_converter._ALWAYS_IGNORED + family.ignore
  failures, filled = [], {}
  for name, shape in tensor_shapes.items():
    if any(re.search(pattern, name) for pattern in ignore):
      continue
    key = mapping._target_key(name, family.renames, targets)
    zero_view = np.broadcast_to(np.float32(0), shape)  # strides 0: transposes and unit reshapes stay views
    if key not in targets:
      failures.append(f"{architecture}: {name} {tuple(shape)} maps to {key}, not a parameter")
    elif key in filled:
      failures.append(f"{architecture}: {name} and {filled[key]} both map to {key}")
    elif (converted := mapping._to_layout(zero_view, key, targets[key], "torch").shape) != targets[key]:
      failures.append(f"{architecture}: {name} {tuple(shape)} becomes {converted}, {key} needs {targets[key]}")
    filled.setdefault(key, name)
  return failures + [f"{architecture}: {key} has no timm tensor" for key in sorted(set(targets) - set(filled))]


def assert_every_variant_maps(timm_exports: Path, shapes: list) -> None:
  """:func:`mapping_failures` is empty for every entry of ``shapes`` (as given to :func:`export`)."""
  exported = json.loads((timm_exports / "shapes.json").read_text())
  failures = []
  for entry in shapes:
    entry = entry if isinstance(entry, dict) else dict(name=entry, architecture=entry, kwargs=dict(num_classes=1000))
    failures += mapping_failures(entry["architecture"], exported[entry["name"]], entry["kwargs"])
  assert not failures, "\n".join(failures[:20])
