"""``launch.zoo check`` / zoo.hub_check against the stand-in Hub (tests/hub_server.py): a row is
ready when its revision resolves, its files are there and every tensor of the safetensors
header (read with HTTP Range requests, not downloaded) maps onto its module; otherwise the
line says what is missing and the fix, and the command exits 1."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

import zoo
from hub_server import PLACEHOLDER, LocalHub
from test_hub_rows import ROOT, layouts_by_row, make_repo, timm_reference  # noqa: F401 (fixture)
from zoo.hub_check import check_row
from zoo.registry import WeightSource

TINY, DISTILLED = "deit_tiny.in1k", "deit_tiny_distilled.in1k"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, timm_reference):
  """The two DeiT-tiny rows' repos, the distilled one published with the plain model's weights
  (its distillation token and head are missing), and a repo with pickles only."""
  layouts = layouts_by_row()
  if not {TINY, DISTILLED} <= set(layouts):
    pytest.skip("no recorded layouts for the DeiT-tiny rows in tests/hub_layouts")
  made = make_repo(zoo.get(TINY), layouts[TINY], tmp_path_factory.mktemp("deit"), timm_reference)
  with LocalHub() as server, server.client():
    server.add_layout(layouts[TINY], made)
    server.add_layout(layouts[DISTILLED], made)
    server.add("test-org/pickles-only", {"config.json": b"{}", "pytorch_model.bin": PLACEHOLDER})
    yield server


def test_a_matching_checkpoint_is_ready_from_its_header_alone(hub, tmp_path):
  result = check_row(zoo.get(TINY), hub_cache=tmp_path)
  assert result.ready, result.message
  assert "tensors map onto the module" in result.message and result.commit
  repo = zoo.get(TINY).weights.location
  assert "model.safetensors" not in hub.downloads(repo)  # only Range reads of its header
  assert "model.safetensors" in hub.downloads(repo, ranged=True)


def test_wrong_weights_missing_files_and_revisions_are_named_with_the_fix(hub, tmp_path):
  wrong = check_row(zoo.get(DISTILLED), hub_cache=tmp_path)
  # The distilled module has one more token (the distillation token): the first tensor that disagrees is named.
  assert not wrong.ready and "'pos_embed' has shape (1, 197, 192) but 'pos_embed' needs (1, 198, 192)" in wrong.message
  entry = dataclasses.replace(zoo.get(TINY), weights=WeightSource("huggingface", "test-org/pickles-only"))
  missing = check_row(entry, hub_cache=tmp_path)
  assert not missing.ready and "lacks ['model.safetensors']" in missing.message and "refs/pr/N" in missing.message
  assert "pytorch_model.bin" in missing.message
  moved = dataclasses.replace(entry, weights=WeightSource("huggingface", "test-org/pickles-only", revision="v2"))
  assert "has no revision 'v2'" in check_row(moved, hub_cache=tmp_path).message


def test_the_command_prints_a_line_per_row_and_exits_1_when_one_is_not_ready(hub, tmp_path):
  env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")}
  result = subprocess.run([sys.executable, "-m", "launch.zoo", "check", "--catalog=paper", "--pattern=deit_tiny*"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  lines = result.stdout.splitlines()
  assert result.returncode == 1, result.stderr[-2000:]
  assert any(line.startswith(f"{TINY}: ready:") for line in lines), result.stdout
  assert any(line.startswith(f"{DISTILLED}: NOT READY:") for line in lines), result.stdout
  assert lines[-1] == "1 of 2 rows ready; 1 not ready"
