"""Provenance: weight content hashes, training keys covering every field that changes the
weights, and the runner recomputing (and saying so) when weights change under a known name."""

import dataclasses
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import zoo
from launch import data, runner, store
from launch.study import config as config_lib, zoo_stage
from zoo import loading
from zoo.loading import weights_sha256


def test_weights_hash_is_of_content_not_of_the_object(tmp_path):
  entry = zoo.get("mlp.s0")
  model = zoo.build(entry)
  zoo.save_weights(entry, model, tmp_path)
  assert weights_sha256(zoo.load(entry, tmp_path)) == weights_sha256(model)   # same values, reloaded
  assert weights_sha256(zoo.build(entry, seed=7)) != weights_sha256(model)
  model.head.bias.set_value(model.head.bias.get_value().at[0].add(1e-6))        # one value changed
  assert weights_sha256(model) != weights_sha256(zoo.load(entry, tmp_path))


class _NamedData:
  """Content hashes by name: what TrainingData computes from the arrays."""

  def __init__(self, salt=""):
    self.salt = salt

  def content_hash(self, name):
    return f"{name}{self.salt}"


def test_training_key_covers_recipe_data_and_teacher():
  config, _ = config_lib.load("fashion_mnist.py:smoke")

  FakeData = _NamedData
  key = lambda cfg, name="cnn.s0", data=FakeData(), teacher=None: zoo_stage.training_key(
      cfg, zoo.get(name), data, teacher)[0]
  base = key(config)
  for override in ("epochs=3", "train_split=train[:2048]"):
    assert key(config_lib.apply_overrides(config, [override])) != base, override
  shapes = key(config, "cnn.shapes")
  assert key(config_lib.apply_overrides(config, ["pretrain_examples=512"]), "cnn.shapes") != shapes
  assert key(config, data=FakeData("other files")) != base                     # same split, other content
  assert key(config_lib.apply_overrides(config, ["resamples=7", "test_split=test"])) == base  # analysis only
  assert key(config, "cnn.s1") != base                                          # the seed
  # The builder's structure: the same row name and training fields over another architecture
  # (here one conv's stride) trains into another directory.
  entry = zoo.get("cnn.s0")
  def strided(rngs):
    model = entry.builder(rngs)
    model.convs[1].stride = 1
    return model
  changed = dataclasses.replace(entry, builder=strided)
  assert zoo_stage.training_key(config, changed, FakeData(), None)[0] != base
  assert zoo_stage.training_key(config, dataclasses.replace(entry, builder=lambda rngs: entry.builder(rngs)),
                                FakeData(), None)[0] == base                    # another function, same structure
  distilled = lambda teacher: key(config, "cnn.distilled", teacher=teacher)
  assert distilled("aaa") != distilled("bbb")
  assert zoo_stage.data_spec(config, "fashion_mnist_classes_0-4") == {
      "kind": "class_subset", "dataset": "fashion_mnist", "split": "train[:1024]", "first": 0, "last": 4}
  assert zoo_stage.data_spec(config, "imagenet-1k") is None and not zoo_stage.trainable(config, zoo.get(
      "resnet50.base"))


class _TwoLayers(nnx.Module):
  """Two layers drawn in either order: the same graph, other initial values per order."""

  def __init__(self, rngs, first_drawn="a"):
    order = ("a", "b") if first_drawn == "a" else ("b", "a")
    for name in order:
      setattr(self, name, nnx.Linear(4, 4, rngs=rngs))

  def __call__(self, x):
    return self.b(self.a(x))


def test_training_key_covers_the_order_the_initial_weights_are_drawn_in():
  """Same structure, other draw order: other initial values (seen: the shared Mixer trunk
  building blocks before the stem), so another training key; and the key is the same in
  another process, or no cached checkpoint would ever be found again."""
  config, _ = config_lib.load("fashion_mnist.py:smoke")
  entry = zoo.get("mlp.s0")
  a_first = dataclasses.replace(entry, builder=lambda rngs: _TwoLayers(rngs, "a"))
  b_first = dataclasses.replace(entry, builder=lambda rngs: _TwoLayers(rngs, "b"))
  assert loading.architecture_digest(a_first) == loading.architecture_digest(b_first)
  built = [zoo.build(e) for e in (a_first, b_first)]
  assert not np.array_equal(built[0].a.kernel.get_value(), built[1].a.kernel.get_value())
  keys = [zoo_stage.training_key(config, e, _NamedData(), None)[0] for e in (a_first, b_first)]
  assert keys[0] != keys[1]
  assert zoo_stage.training_key(config, a_first, _NamedData(), None)[0] == keys[0]
  script = ("import zoo, zoo.catalogs.small; from zoo import loading; "
            "print(loading.initialisation_digest(zoo.get('cnn.s0')))")
  other_process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                                 check=True).stdout.split()[-1]
  assert other_process == loading.initialisation_digest(zoo.get("cnn.s0"))
  assert loading.initialisation_digest(zoo.get("cnn.s1")) != other_process           # the seed is in it


def test_changed_weights_under_a_known_name_are_recomputed_and_reported(tmp_path):
  entry = zoo.get("mlp.s0")
  source = data.load_source("fashion_mnist", "test[:64]")
  settings = {"out": str(tmp_path), "dataset": "fashion_mnist", "split": "test[:64]", "batch_size": 32,
              "chunk_batches": 1, "precision": "float32"}
  messages = []
  first, second = zoo.build(entry, seed=0), zoo.build(entry, seed=1)
  runner.evaluate_zoo_model("mlp.s0", source, settings, model=first, replace_stale=True, report=messages.append)
  stored = store.read(tmp_path, "fashion_mnist", "test[:64]", ["mlp.s0"])
  assert stored.manifests["mlp.s0"]["metadata"]["weights_sha256"] == weights_sha256(first)
  assert stored.manifests["mlp.s0"]["metadata"]["preprocessing"]["resolution"] == 28
  again = runner.evaluate_zoo_model("mlp.s0", source, settings, model=first, replace_stale=True,
                                    report=messages.append)
  assert again.computed_chunks == 0
  runner.evaluate_zoo_model("mlp.s0", source, settings, model=second, replace_stale=True, report=messages.append)
  assert any("weights changed" in m and "recomputing" in m for m in messages)
  changed = store.read(tmp_path, "fashion_mnist", "test[:64]", ["mlp.s0"])
  expected = np.asarray(second(entry.preprocessing(jnp.asarray(source.images)))[0])
  np.testing.assert_allclose(changed.logits[0], expected, atol=1e-5)
  assert not np.allclose(changed.logits, stored.logits)
  with pytest.raises(ValueError, match="describes a different evaluation"):   # without replace_stale: refused
    runner.evaluate_zoo_model("mlp.s0", source, settings, model=first, report=None)


def test_training_tasks_keep_backbone_sharing_rows_together_and_start_longest_first():
  """Rows that may share a trained backbone (fitting.fit_row's ``backbones``) run in one task,
  in catalog order; the contrastive pair (two views) and the per-step ResNet start first, the
  common ConvNet builder's seed and hyper-parameter rows next to last, the convolution-free MLP
  last; every row exactly once."""
  from zoo import fitting
  names = ["cnn.s1", "cnn.s2", "cnn.lr1e-3", "mlp.s0", "cnn.simclr", "cnn.simclr.top", "small_resnet.s0",
           "cnn.shapes", "cnn.shapes.top", "cnn.shapes.finetune", "tiny_mixer.s0"]
  groups = fitting.vmap_groups([zoo.get(n) for n in names], "cpu", "fashion_mnist")
  tasks = [[e.name for group in task for e in group] for task in zoo_stage.training_tasks(groups)]
  assert sorted(n for task in tasks for n in task) == sorted(names)
  assert ["cnn.simclr", "cnn.simclr.top"] in tasks
  assert ["cnn.shapes", "cnn.shapes.top", "cnn.shapes.finetune"] in tasks
  assert tasks[0] == ["cnn.simclr", "cnn.simclr.top"]
  assert set(map(tuple, tasks[1:3])) == {("small_resnet.s0",), ("cnn.shapes", "cnn.shapes.top", "cnn.shapes.finetune")}
  assert tasks[-4:] == [["cnn.s1"], ["cnn.s2"], ["cnn.lr1e-3"], ["mlp.s0"]]
