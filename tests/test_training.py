"""The supervised training recipe: learns, is deterministic, refuses bad input."""

import jax.numpy as jnp
import numpy as np
import pytest

import zoo
from launch import data
from zoo.training import SupervisedRecipe, train_supervised

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist")


def accuracy(model, entry, images, labels):
  logits, _ = model(entry.preprocessing(jnp.asarray(images)))
  return float(np.mean(np.argmax(np.asarray(logits), 1) == labels))


def test_training_learns_fashion_mnist_and_is_deterministic():
  source = data.load_source("fashion_mnist", "test[:3000]")
  train_x, train_y = source.images[:2000], source.labels[:2000]
  held_x, held_y = source.images[2000:], source.labels[2000:]
  entry = zoo.get("mlp.s0")
  recipe = SupervisedRecipe(learning_rate=2e-3, epochs=2, batch_size=100, random_shift=1)
  runs = []
  for _ in range(2):
    model = zoo.build(entry)
    before = accuracy(model, entry, held_x, held_y)
    history = train_supervised(model, train_x, train_y, recipe, entry.preprocessing)
    runs.append((history, accuracy(model, entry, held_x, held_y)))
  (history, after), (history_again, after_again) = runs
  assert history[1] < history[0]
  assert after > 0.7 > before + 0.3
  assert history == history_again and after == after_again


def test_bad_input():
  entry = zoo.get("mlp.s0")
  with pytest.raises(ValueError, match="labels has 3"):
    train_supervised(zoo.build(entry), np.zeros((4, 28, 28, 1), np.uint8), np.zeros(3, int), SupervisedRecipe())
  with pytest.raises(ValueError, match="at least batch_size=128"):
    train_supervised(zoo.build(entry), np.zeros((4, 28, 28, 1), np.uint8), np.zeros(4, int), SupervisedRecipe())
