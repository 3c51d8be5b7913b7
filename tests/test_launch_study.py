"""launch.study end to end at a tiny size: trains, evaluates through the store, reports per category."""

import subprocess
import sys

import numpy as np
import pytest

import metrics
from launch import data, store

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist")


def test_tiny_study_runs_and_its_numbers_come_from_the_store(tmp_path):
  args = [sys.executable, "-m", "launch.study", f"--out={tmp_path}", "--train_examples=600", "--epochs=1",
          "--resamples=20", "--calibration_split=train[59000:]", "--test_split=test[:800]"]
  result = subprocess.run(args, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line[:1].isalpha()}
  assert lines["small_cnn.s1"][1] == "reinit" and lines["mlp.s0"][1] == "architecture"
  assert lines["small_cnn.dropout"][1] == "hyper-parameters"
  # The printed EI of (base, mlp.s0) is recomputed here from the stored logits.
  test = store.read(tmp_path / "store", "fashion_mnist", "test[:800]", ["small_cnn.s0", "mlp.s0"])
  correct = test.logits.argmax(-1) == test.labels
  assert float(lines["mlp.s0"][3]) == pytest.approx(float(np.asarray(metrics.error_inconsistency(correct))[0, 1]),
                                                    abs=1e-4)
  rerun = subprocess.run(args, capture_output=True, text=True, timeout=600)
  assert rerun.returncode == 0 and "cached weights" in rerun.stdout and "0 chunks computed" in rerun.stdout
