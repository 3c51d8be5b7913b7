"""Training a zoo row from its training-method fields: objective × pretraining data → recipe.

Pure library: takes arrays (``datasets`` maps a ``pretraining_data`` name to uint8 images
[N, H, W, C] and int labels [N]; ``probe_data`` names the one whose labels the zoo
classifies: the linear probes of non-supervised rows fit on it) and returns trained
modules; the launcher loads data and caches checkpoints.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from zoo import training
from zoo.architectures.small import FineTuned, LinearProbed, PatchConv, Retrained
from zoo.loading import abstract_build, architecture_key, build, weights_sha256
from zoo.registry import ModelEntry

NEEDS_TEACHER = "distillation"  # the objective whose recipe trains on a teacher's outputs (OBJECTIVES)
# Linear probes are fitted on the first PROBE_EXAMPLES training examples: the L2 sweep of
# L-BFGS fits costs as much as training a ConvNet on all of them, and 12,000 examples
# (9,600 fit + 2,400 validation) already pin a 1,290-parameter probe down.
PROBE_EXAMPLES = 12000
PROBE_L2_GRID = (1e-4, 1e-2, 1.0)
# FineTuned rows: after pretraining on their own data, every layer is fine-tuned on the
# probe data by the row's recipe for ``finetune_epochs`` (hparams; default 1) at
# ``finetune_learning_rate`` (default: the recipe's peak rate).
FINETUNE_EPOCHS = 1


def recipe_of(entry: ModelEntry, epochs: int) -> training.SupervisedRecipe:
  """The row's hyper-parameters as a recipe (dropout lives in the builder)."""
  hparams = dict(entry.hparams)
  fields = {f.name for f in dataclasses.fields(training.SupervisedRecipe)}
  return training.SupervisedRecipe(epochs=epochs, seed=entry.seed, **{k: v for k, v in hparams.items() if k in fields})


def _backbone_data(entry: ModelEntry, datasets):
  if entry.pretraining_data not in datasets:
    raise KeyError(f"model {entry.name!r} trains on {entry.pretraining_data!r}, which the datasets lack "
                   f"(have {sorted(datasets)}).")
  return datasets[entry.pretraining_data]


def _backbone_key(entry: ModelEntry, target: nnx.Module, recipe) -> tuple | None:
  """What fixes a trained backbone: its architecture (graphdef) and initial weights, the
  objective (and distillation temperature), the pretraining data and the recipe; None
  (never shared) when the graphdef does not hash (zoo.loading.architecture_key)."""
  temperature = dict(entry.hparams).get("distillation_temperature")
  return architecture_key(nnx.graphdef(target), weights_sha256(target), entry.objective, temperature,
                          entry.pretraining_data, recipe)


def fit_row(entry: ModelEntry, datasets: dict, epochs: int, *, probe_data: str, teacher: nnx.Module | None = None,
            log: Callable | None = None, backbones: dict | None = None) -> nnx.Module:
  """A freshly built ``entry`` trained by its objective on its pretraining data; rows
  whose module is a LinearProbed get their classifier fitted on ``datasets[probe_data]``
  afterwards, Retrained rows their top on its frozen conv features, FineTuned rows every
  layer under a fresh classifier (the transfer recipes of :data:`TRANSFERS`). ``log`` gets
  each epoch's :class:`zoo.training.EpochDone` and a few lines of text.

  ``backbones``: an optional dict shared across calls (a cache of trained backbone
  states): rows whose backbone would train identically (same architecture, initial
  weights, objective, data and recipe, e.g. a dataset row's linear and ``top`` transfers)
  train it once; the second row starts from the first one's trained state, as it would
  have ended."""
  model = build(entry)
  recipe = recipe_of(entry, epochs)
  target = model.backbone if transfer_of(model) is not None else model
  key = _backbone_key(entry, target, recipe) if backbones is not None else None
  if key is not None and key in backbones:
    nnx.update(target, backbones[key])
    if log:
      log(f"backbone shared with {backbones[key, 'row']} (trained identically)")
  else:
    _train_backbone(entry, target, datasets, recipe, teacher, log)
    if key is not None:
      # A snapshot: nnx.state holds the live Variables, which this row's fine-tuning (and
      # every later in-place update) would change under the next row sharing the backbone.
      backbones[key], backbones[key, "row"] = jax.tree.map(jnp.copy, nnx.state(target)), entry.name
  transfer = transfer_of(model)
  if transfer is not None:
    transfer(entry, model, *datasets[probe_data], recipe, log)
  return model


def finetune_recipe(entry: ModelEntry, recipe: training.SupervisedRecipe) -> training.SupervisedRecipe:
  """The recipe of a FineTuned row's second stage: its own recipe with ``finetune_epochs``
  (default FINETUNE_EPOCHS) and ``finetune_learning_rate`` (default the recipe's) from hparams."""
  hparams = dict(entry.hparams)
  return dataclasses.replace(recipe, epochs=int(hparams.get("finetune_epochs", FINETUNE_EPOCHS)),
                             learning_rate=float(hparams.get("finetune_learning_rate", recipe.learning_rate)))


def _train_backbone(entry: ModelEntry, target: nnx.Module, datasets: dict, recipe, teacher, log) -> None:
  """Trains ``target`` (the row's model, or its backbone) in place by the row's objective."""
  objective = objective_of(entry.objective)
  if objective is None:
    raise ValueError(f"model {entry.name!r}: no recipe for objective {entry.objective!r} (zoo.fitting.OBJECTIVES "
                     f"has {sorted(OBJECTIVES)}).")
  if objective.needs_teacher and teacher is None:
    raise ValueError(f"model {entry.name!r} is distilled: pass the teacher (the catalog's base model).")
  images, labels = _backbone_data(entry, datasets)
  objective.train(entry, target, images, labels, recipe, teacher, log)


# --- The recipes: one table of objectives, one of transfers ---------------------------------------


def _supervised(entry, target, images, labels, recipe, teacher, log):
  training.train_supervised(target, images, labels, recipe, entry.preprocessing, log)


def _distillation(entry, target, images, labels, recipe, teacher, log):
  temperature = float(dict(entry.hparams).get("distillation_temperature", 4.0))
  training.train_distillation(target, teacher, images, recipe, entry.preprocessing, temperature=temperature, log=log)


def _contrastive(entry, target, images, labels, recipe, teacher, log):
  training.train_simclr(target, images, recipe, entry.preprocessing, log=log)


def _autoencoding(entry, target, images, labels, recipe, teacher, log):
  training.train_autoencoder(target, images, recipe, entry.preprocessing, log=log)


class Objective(NamedTuple):
  """A training objective's recipe. ``train(entry, target, images, labels, recipe, teacher,
  log)`` trains ``target`` in place; ``needs_teacher``: it trains on the base model's
  outputs; ``passes``: forward passes per example (a contrastive objective's two views), the
  zoo stage's cost estimate; ``prefix``: it names every objective starting with its key
  (``"contrastive (SimCLR)"``)."""
  train: Callable
  needs_teacher: bool = False
  passes: float = 1.0
  prefix: bool = False


OBJECTIVES: dict[str, Objective] = {
    "supervised": Objective(_supervised),
    NEEDS_TEACHER: Objective(_distillation, needs_teacher=True),
    "contrastive": Objective(_contrastive, passes=2.0, prefix=True),
    "autoencoding": Objective(_autoencoding),
}


def objective_of(name: str) -> Objective | None:
  """The recipe of objective ``name`` (an OBJECTIVES key, or a refinement of a prefix key); None if none."""
  if name in OBJECTIVES:
    return OBJECTIVES[name]
  return next((o for key, o in OBJECTIVES.items() if o.prefix and name.startswith(key)), None)


def needs_teacher(entry: ModelEntry) -> bool:
  """Whether ``entry``'s objective trains on the base model's outputs (distillation)."""
  objective = objective_of(entry.objective)
  return objective is not None and objective.needs_teacher


def _linear_probe(entry, model, images, labels, recipe, log):
  result = training.fit_probed_classifier(model, images[:PROBE_EXAMPLES], labels[:PROBE_EXAMPLES],
                                         entry.preprocessing, l2_grid=PROBE_L2_GRID)
  if log:
    log(f"linear probe: validation accuracy {max(result['val_accuracy']):.4f} (l2 {result['l2']:.1e})")


def _retrain_top(entry, model, images, labels, recipe, log):
  # Frozen conv features computed once; the dense layers above train on them alone.
  features = training.embed(model.backbone, images, entry.preprocessing, output=training.conv_features)
  training.train_supervised(model.top, features, labels, recipe, log=log)


def _fine_tune(entry, model, images, labels, recipe, log):
  training.train_supervised(model, images, labels, finetune_recipe(entry, recipe), entry.preprocessing, log=log)


# How a backbone trained on other data becomes a classifier of the probe data, by the row's
# module type (the catalog's "transfer" hparam picks the module): ``transfer(entry, model,
# images, labels, recipe, log)`` fits the module's top in place after its backbone trained.
TRANSFERS: dict[type, Callable] = {LinearProbed: _linear_probe, Retrained: _retrain_top, FineTuned: _fine_tune}


def transfer_of(model: nnx.Module) -> Callable | None:
  """The TRANSFERS recipe of ``model``'s module type; None for a model trained as it is."""
  return next((t for kind, t in TRANSFERS.items() if isinstance(model, kind)), None)


def has_convolutions(model: nnx.Module) -> bool:
  """Whether ``model`` has a convolution (nnx.Conv or the small catalog's PatchConv)."""
  return any(isinstance(m, (nnx.Conv, PatchConv)) for _, m in nnx.iter_graph(model) if isinstance(m, nnx.Module))


def vmap_groups(entries: list[ModelEntry], platform: str, probe_data: str) -> list[list[ModelEntry]]:
  """Rows that can train together with train_supervised_many: supervised on ``probe_data``
  with the same builder and recipe up to the seed. Grouped only where vmap pays: on
  accelerators, and on CPU for convolution-free models (benchmarks/training.py --vmap on
  2 CPU cores: MLPs 1.26–1.96× faster vmapped; nnx.Conv ConvNets 0.43×, as XLA:CPU runs
  vmapped convolutions as grouped ones; the PatchConv ConvNet 0.86×)."""
  groups: dict[tuple, list[ModelEntry]] = {}
  for entry in entries:
    key = (entry.name,)
    if entry.objective == "supervised" and entry.pretraining_data == probe_data:
      model = abstract_build(entry)
      if platform != "cpu" or not has_convolutions(model):
        key = (entry.builder, entry.architecture, entry.hparams)
    groups.setdefault(key, []).append(entry)
  return list(groups.values())


def fit_group(entries: list[ModelEntry], datasets: dict, epochs: int, *, probe_data: str) -> list[nnx.Module]:
  """A vmap group (same builder and recipe up to the seed, supervised on ``probe_data``) trained at once."""
  models = [build(e) for e in entries]
  images, labels = datasets[probe_data]
  training.train_supervised_many(models, images, labels, [recipe_of(e, epochs) for e in entries],
                                 entries[0].preprocessing)
  return models
