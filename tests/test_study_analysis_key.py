"""The analysis cache key covers the analysis code: changed code never serves old results."""

import shutil
from pathlib import Path

from launch.study import pipeline

ROOT = Path(__file__).resolve().parent.parent


def test_code_hash_changes_with_any_analysis_file_and_only_with_those(tmp_path):
  for folder in ("launch/study", "metrics", "probes", "zoo"):
    shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
  original = pipeline.analysis_code_sha256(tmp_path)
  assert original == pipeline.analysis_code_sha256(ROOT)      # the installed code is what was hashed
  (tmp_path / "zoo" / "registry.py").write_text("# not analysis code\n")
  assert pipeline.analysis_code_sha256(tmp_path) == original
  for changed in ("metrics/ensemble.py", "launch/study/verdicts.py", "probes/__init__.py"):
    path = tmp_path / changed
    before = path.read_bytes()
    path.write_bytes(before + b"\n# changed\n")
    assert pipeline.analysis_code_sha256(tmp_path) != original, changed
    path.write_bytes(before)
  assert pipeline.analysis_code_sha256(tmp_path) == original
  (tmp_path / "metrics" / "new_metric.py").write_text("X = 1\n")          # a new file counts too
  assert pipeline.analysis_code_sha256(tmp_path) != original
