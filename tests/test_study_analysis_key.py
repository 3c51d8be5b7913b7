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


def test_code_hash_reads_the_packages_python_imports_not_the_checkout(tmp_path):
  """Installed elsewhere (here: copied to another folder first on sys.path, as a wheel would
  sit in site-packages), the hash covers that copy's files, found through the import system."""
  import subprocess
  import sys
  for folder in ("launch", "metrics", "probes", "zoo"):
    shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
  (tmp_path / "metrics" / "ensemble.py").write_bytes((ROOT / "metrics" / "ensemble.py").read_bytes() + b"\n# installed\n")
  script = ("from launch.study import pipeline; import metrics; "
            "print(metrics.__file__); print(pipeline.analysis_code_sha256())")
  done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  location, digest = done.stdout.split()
  assert location == str(tmp_path / "metrics" / "__init__.py")
  assert digest == pipeline.analysis_code_sha256(tmp_path) != pipeline.analysis_code_sha256(ROOT)
