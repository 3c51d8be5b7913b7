"""launch.evaluate end to end: zoo rows → runner → store, failures reported, reruns resume."""

import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import zoo
from launch import data, store

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")


def evaluate(*args):
  return subprocess.run([sys.executable, "-m", "launch.evaluate", *args], capture_output=True, text=True, timeout=900)


def test_evaluate_stores_exact_outputs_reports_failures_and_resumes(tmp_path):
  zoo_dir, out = tmp_path / "zoo", tmp_path / "store"
  models = {}
  for name in ("small_cnn.s0", "mlp.s0"):
    models[name] = zoo.build(zoo.get(name))
    zoo.save_weights(zoo.get(name), models[name], zoo_dir)
  args = ["--models=small_cnn.s0,mlp.*,cnn.s1", "--split=test[:150]", f"--out={out}", f"--zoo_dir={zoo_dir}",
          "--batch_size=32", "--chunk_batches=2"]
  first = evaluate(*args)
  assert first.returncode == 1                        # cnn.s1 has no checkpoint
  assert "cnn.s1: WeightsUnavailable" in first.stderr and "no checkpoint at" in first.stderr
  assert "small_cnn.s0: 3 chunks computed" in first.stdout and "mlp.s0: 3 chunks computed" in first.stdout

  results = store.read(out, "fashion_mnist", "test[:150]", ["small_cnn.s0", "mlp.s0"])
  source = data.load_source("fashion_mnist", "test[:150]")
  np.testing.assert_array_equal(results.labels, source.labels)
  for index, name in enumerate(results.models):
    entry = zoo.get(name)
    logits, embedding = models[name](entry.preprocessing(jnp.asarray(source.images)))
    np.testing.assert_allclose(results.logits[index], np.asarray(logits), atol=1e-4)
    np.testing.assert_allclose(results.embeddings[name], np.asarray(embedding), atol=1e-4)

  second = evaluate(*args[:1], "--models=small_cnn.s0", *args[1:])
  assert second.returncode == 0 and "0 chunks computed, 3 already stored" in second.stdout


def test_unknown_model_pattern_is_an_error(tmp_path):
  result = evaluate("--models=resnet9000*", f"--out={tmp_path}")
  assert result.returncode != 0 and "matches no model in the zoo" in result.stderr


def test_config_file_supplies_flags(tmp_path):
  zoo_dir = tmp_path / "zoo"
  zoo.save_weights(zoo.get("mlp.s0"), zoo.build(zoo.get("mlp.s0")), zoo_dir)
  config = tmp_path / "config.py"
  config.write_text(
      "import ml_collections\n"
      "def get_config(arg):\n"
      "  return ml_collections.ConfigDict(dict(models=['mlp.s0'], split=arg, batch_size=16,\n"
      f"                                      out='{tmp_path / 'store'}', zoo_dir='{zoo_dir}'))\n")
  result = evaluate(f"--config={config}:test[:40]")
  assert result.returncode == 0, result.stderr[-2000:]
  assert store.read(tmp_path / "store", "fashion_mnist", "test[:40]").logits.shape == (1, 40, 10)
