"""Zoo registry rows, derived pair categories, weights round trip and errors."""

import dataclasses
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import zoo


def variant(**changes):
  return dataclasses.replace(zoo.get("small_cnn.s0"), **changes)


@pytest.mark.parametrize("changes, category", [
    (dict(seed=7), "reinit"),
    (dict(hparams=(("learning_rate", 0.1),)), "hyper-parameters"),
    (dict(architecture="vit_tiny", seed=3), "architecture"),
    (dict(objective="simclr", architecture="vit_tiny"), "framework"),
    (dict(pretraining_data="digits", objective="simclr"), "dataset"),
    (dict(), "identical"),
])
def test_pair_category_is_derived_from_the_most_divergent_field(changes, category):
  base = zoo.get("small_cnn.s0")
  assert zoo.pair_category(base, variant(**changes)) == category
  assert zoo.pair_category(variant(**changes), base) == category


def test_listing_and_lookup():
  assert zoo.list_models("small_cnn.s*") == ["small_cnn.s0", "small_cnn.s1", "small_cnn.s2"]
  assert zoo.resolve_patterns(["mlp.*", "small_cnn.s0", "mlp.s0"]) == ["mlp.s0", "small_cnn.s0"]
  with pytest.raises(KeyError, match="no model 'small_cnn.s9'"):
    zoo.get("small_cnn.s9")
  with pytest.raises(KeyError, match="matches no model"):
    zoo.resolve_patterns(["resnet*"])
  with pytest.raises(ValueError, match="already registered"):
    zoo.register(variant(seed=99))


def test_weights_round_trip_and_clear_errors(tmp_path):
  entry = zoo.get("small_cnn.s1")
  model = zoo.build(entry)
  zoo.save_weights(entry, model, tmp_path)
  loaded = zoo.load(entry, tmp_path)
  images = jnp.asarray(np.random.default_rng(0).random((2, 28, 28, 1)), jnp.float32)
  np.testing.assert_array_equal(np.asarray(loaded(images)[0]), np.asarray(model(images)[0]))
  with pytest.raises(zoo.WeightsUnavailable, match="model 'mlp.s0': no checkpoint at"):
    zoo.load(zoo.get("mlp.s0"), tmp_path)
  zoo.save_weights(zoo.get("mlp.s0"), zoo.build(zoo.get("small_cnn.s0")), tmp_path)   # wrong architecture
  with pytest.raises(zoo.WeightsUnavailable, match="model 'mlp.s0': cannot read the checkpoint"):
    zoo.load(zoo.get("mlp.s0"), tmp_path)


def test_preprocessing_resizes_and_normalises():
  preprocessing = zoo.Preprocessing(resolution=16, crop_fraction=0.5, mean=(0.5,) * 3, std=(0.5,) * 3, channels=3)
  out = preprocessing(jnp.full((2, 40, 60, 1), 255, jnp.uint8))
  assert out.shape == (2, 16, 16, 3)
  np.testing.assert_allclose(np.asarray(out), 1.0, atol=1e-5)
  host = preprocessing.host_resize(np.full((40, 60, 1), 255, np.uint8))
  assert host.shape == (16, 16, 1)
  with pytest.raises(ValueError, match="interpolation"):
    zoo.Preprocessing(resolution=8, interpolation="lanczos9")


def test_launch_zoo_list_prints_categories():
  result = subprocess.run([sys.executable, "-m", "launch.zoo", "list"], capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  lines = {line.split()[0]: line for line in result.stdout.splitlines()[2:]}
  assert "reinit" in lines["small_cnn.s1"] and "architecture" in lines["mlp.s0"]
