"""The ``small`` catalog: Fashion-MNIST models around one base CNN, one row per model.

Their weights are orbax checkpoints under the zoo directory, written by the training
recipes of the default study. Categories relative to the base follow from the fields.
"""

from __future__ import annotations

import functools

from zoo.architectures import small
from zoo.preprocessing import Preprocessing
from zoo.registry import ModelEntry, WeightSource, register

FASHION_MNIST = Preprocessing(resolution=28, mean=(0.2860,), std=(0.3530,), channels=1)
_BASE_HPARAMS = (("learning_rate", 3e-3), ("weight_decay", 1e-4), ("dropout", 0.0))


def _row(name, builder, architecture, seed=0, hparams=_BASE_HPARAMS, objective="supervised",
         pretraining_data="fashion_mnist"):
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource("checkpoint", f"small/{name}"), preprocessing=FASHION_MNIST,
      num_classes=10, objective=objective, pretraining_data=pretraining_data, architecture=architecture,
      hparams=hparams, seed=seed, catalog="small"))


_cnn = lambda rngs, dropout=0.0: small.SmallCNN(1, 10, dropout=dropout, rngs=rngs)
_mlp = lambda rngs: small.MLP(28 * 28, 10, rngs=rngs)

BASE = _row("small_cnn.s0", _cnn, "small_cnn")
_row("small_cnn.s1", _cnn, "small_cnn", seed=1)
_row("small_cnn.s2", _cnn, "small_cnn", seed=2)
_row("small_cnn.dropout", functools.partial(_cnn, dropout=0.3), "small_cnn",
     hparams=(("learning_rate", 3e-3), ("weight_decay", 1e-4), ("dropout", 0.3)))
_row("mlp.s0", _mlp, "mlp")
