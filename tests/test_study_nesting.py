"""Nested categories (issue 24, PAPER.md §2.1): every row of the default and smoke studies is its
own training run; categories stay derived from the rows' fields with the seed nested under
every other factor; replicates shift every seed alike; a changed seed retrains that row alone."""

import dataclasses

import pytest

import zoo
from launch.study import config as config_lib, zoo_stage
from zoo import registry
from zoo.catalogs import small


@pytest.mark.parametrize("argument", ["default", "smoke"])
def test_every_row_but_the_base_has_a_seed_of_its_own_and_nests_its_category(argument):
  config, _ = config_lib.load(f"fashion_mnist.py:{argument}")
  names = config_lib.validate(config)
  base = zoo.get(names[0])
  entries = [zoo.get(n) for n in names[1:]]
  assert all(e.seed != base.seed for e in entries), [e.name for e in entries if e.seed == base.seed]
  for entry in entries:
    category = zoo.pair_category(base, entry)
    differs = registry.differences(base, entry)
    assert differs[-1] == f"seed {base.seed} → {entry.seed}"
    if category != "reinit":
      assert len(differs) >= 2, (entry.name, differs)  # the category's factor and the seed
  if argument == "default":
    categories = {e.name: zoo.pair_category(base, e) for e in entries}
    nested = lambda category, field: [e.name for e in entries if categories[e.name] == category
                                      and getattr(e, field) != getattr(base, field)]
    assert nested("framework", "architecture") == ["mlp.distilled"]
    assert nested("dataset", "objective") == ["cnn.shapes.simclr.top"]


def test_seed_nests_under_every_other_factor():
  base = zoo.get("cnn.s0")
  assert zoo.pair_category(base, dataclasses.replace(base, seed=5)) == "reinit"
  assert zoo.pair_category(base, dataclasses.replace(base, seed=5, hparams=(("learning_rate", 1e-3),))) == \
      "hyper-parameters"
  assert zoo.pair_category(base, dataclasses.replace(base, seed=5, architecture="mlp",
                                                     hparams=(("learning_rate", 1e-3),))) == "architecture"
  assert zoo.pair_category(base, zoo.get("mlp.distilled")) == "framework"
  assert zoo.pair_category(base, zoo.get("cnn.shapes.simclr.top")) == "dataset"
  assert registry.differences(base, base) == []


def test_rows_sharing_a_backbone_share_their_seed_and_every_seed_is_below_the_replicate_stride():
  rows = [zoo.get(n) for n in zoo.list_models(catalog="small")]
  assert all(0 <= e.seed < registry.REPLICATE_SEED_STRIDE for e in rows)
  for prefix in ("cnn.simclr", "cnn.autoencoder", "cnn.shapes", "cnn.textures", "cnn.fmnist0-4"):
    family = [e for e in rows if e.name in (prefix, f"{prefix}.top", f"{prefix}.finetune")]
    assert len(family) >= 2 and len({e.seed for e in family}) == 1, prefix
  # Otherwise one seed per training run: no two rows of different training share a seed.
  by_seed = {}
  for entry in rows:
    by_seed.setdefault(entry.seed, set()).add((entry.objective, entry.pretraining_data))
  assert all(len(kinds) == 1 for kinds in by_seed.values())
  assert small.BASE.seed == 0


@pytest.fixture
def scratch_registry(monkeypatch):
  """Rows registered by a test (replicates, test rows) vanish after it."""
  monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_replicates_shift_every_seed_alike_and_keep_the_categories(scratch_registry):
  config, _ = config_lib.load("fashion_mnist.py:smoke")
  names = config_lib.validate(config)
  assert zoo_stage.replicate_names(config, names, 0) == names
  second = zoo_stage.replicate_names(config, names, 2)
  assert second == [f"{n}@r2" for n in names]
  for name, copy in zip(names, second):
    original, moved = zoo.get(name), zoo.get(copy)
    assert moved.seed == original.seed + 2 * registry.REPLICATE_SEED_STRIDE
    assert zoo.pair_category(zoo.get(second[0]), moved) == (
        zoo.pair_category(zoo.get(names[0]), original) if name != names[0] else "identical")
    assert moved.weights.location != original.weights.location
  with pytest.raises(ValueError, match="replicate"):
    registry.replicate_seed(registry.REPLICATE_SEED_STRIDE, 1)


def test_a_changed_row_seed_retrains_only_that_row(tmp_path, monkeypatch, capsys, scratch_registry):
  """Two MLP rows trained for real on 256 examples; the second's seed changes: the first is
  served from its checkpoint, the second trains into a new directory."""
  config, _ = config_lib.load("fashion_mnist.py:smoke")
  config = config_lib.apply_overrides(config, ["train_split=train[:256]", "epochs=1"])
  rows = [dataclasses.replace(zoo.get("mlp.s0"), name=f"test24.mlp{i}", seed=seed, catalog="test24")
          for i, seed in ((0, 20), (1, 21))]
  for row in rows:
    zoo.register(row)
  names = [r.name for r in rows]
  first = zoo_stage.prepare(config, names, tmp_path)
  trained = sorted(p.name for p in (tmp_path / "trained").iterdir())
  assert len(trained) == 2
  stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "trained").iterdir()}
  monkeypatch.setitem(registry._REGISTRY, names[1], dataclasses.replace(rows[1], seed=22))
  capsys.readouterr()
  second = zoo_stage.prepare(config, names, tmp_path)
  log = capsys.readouterr()
  assert second[names[0]].key == first[names[0]].key and second[names[1]].key != first[names[1]].key
  assert f"{names[0]}: cached" in log.out + log.err and f"{names[1]}: cached" not in log.out + log.err
  now = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "trained").iterdir()}
  assert len(now) == 3 and all(now[k] == stamps[k] for k in stamps)
