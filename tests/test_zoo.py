"""Zoo registry rows, derived pair categories, weights round trip and errors."""

import dataclasses
import functools
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from flax.nnx import rnglib

import zoo
import zoo.abstract

REPO = pathlib.Path(__file__).resolve().parents[1]


def variant(**changes):
  return dataclasses.replace(zoo.get("cnn.s0"), **changes)


@pytest.mark.parametrize("changes, category", [
    (dict(seed=7), "reinit"),
    (dict(hparams=(("learning_rate", 0.1),)), "hyper-parameters"),
    (dict(architecture="vit_tiny", seed=3), "architecture"),
    (dict(objective="simclr", architecture="vit_tiny"), "framework"),
    (dict(pretraining_data="digits", objective="simclr"), "dataset"),
    (dict(), "identical"),
])
def test_pair_category_is_derived_from_the_most_divergent_field(changes, category):
  base = zoo.get("cnn.s0")
  assert zoo.pair_category(base, variant(**changes)) == category
  assert zoo.pair_category(variant(**changes), base) == category


def test_listing_and_lookup():
  assert zoo.list_models("cnn.s[0-9]") == ["cnn.s0", "cnn.s1", "cnn.s2", "cnn.s3"]
  assert zoo.resolve_patterns(["mlp.*", "small_cnn.s0", "mlp.s0"]) == ["mlp.distilled", "mlp.s0", "small_cnn.s0"]
  with pytest.raises(KeyError, match="no model 'cnn.s9'"):
    zoo.get("cnn.s9")
  with pytest.raises(KeyError, match="matches no model"):
    zoo.resolve_patterns(["no_such_net*"])
  with pytest.raises(ValueError, match="already registered"):
    zoo.register(variant(seed=99))


def test_weights_round_trip_and_clear_errors(tmp_path):
  entry = zoo.get("cnn.s1")
  model = zoo.build(entry)
  zoo.save_weights(entry, model, tmp_path)
  loaded = zoo.load(entry, tmp_path)
  images = jnp.asarray(np.random.default_rng(0).random((2, 28, 28, 1)), jnp.float32)
  np.testing.assert_array_equal(np.asarray(loaded(images)[0]), np.asarray(model(images)[0]))
  with pytest.raises(zoo.WeightsUnavailable, match="model 'mlp.s0': no checkpoint at") as absent:
    zoo.load(zoo.get("mlp.s0"), tmp_path)
  assert not isinstance(absent.value, zoo.WeightsDamaged)  # missing is not damaged: nothing to retrain over
  zoo.save_weights(zoo.get("mlp.s0"), zoo.build(zoo.get("small_cnn.s0")), tmp_path)   # wrong architecture
  with pytest.raises(zoo.WeightsDamaged, match="model 'mlp.s0': cannot read the checkpoint"):   # a type, not a wording
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
  lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
  assert "reinit" in lines["cnn.s1"] and "architecture" in lines["mlp.s0"]
  assert "hyper-parameters" in lines["cnn.dropout0.3"] and "base" in lines["cnn.s0"]
  assert "framework" in lines["deit_tiny_distilled.in1k"] and "dataset" in lines["clip_vit_b32.zeroshot"]
  assert "architecture" in lines["efficientnet_b0.in1k"] and "timm:timm/resnet50.tv_in1k" in lines["resnet50.base"]


def _paper_categories() -> dict[str, list[str]]:
  base = zoo.base_of("paper")
  by_category: dict[str, list[str]] = {}
  for name in zoo.list_models(catalog="paper"):
    if name != base.name:
      by_category.setdefault(zoo.pair_category(base, zoo.get(name)), []).append(name)
  return by_category


def test_paper_catalog_has_sixty_rows_and_five_per_category():
  by_category = _paper_categories()
  assert sum(map(len, by_category.values())) + 1 >= 60
  assert set(by_category) == set(zoo.CATEGORIES), by_category.keys()
  assert all(len(names) >= 5 for names in by_category.values()), {c: len(n) for c, n in by_category.items()}
  # The hyper-parameter rows are one architecture and dataset with different recipes (timm's ResNet-50s).
  recipes = {dict(zoo.get(n).hparams).get("recipe") for n in by_category["hyper-parameters"]}
  assert {"a1", "a2", "a3", "b1k", "b2k", "c1", "c2", "d", "tv2", "gluon", "ram", "am"} <= recipes
  augreg = [zoo.get(n) for n in zoo.list_models("augreg_s_16*", catalog="paper")]
  assert len(augreg) == 3 and {zoo.pair_category(a, b) for a in augreg for b in augreg if a is not b} == \
      {"hyper-parameters"}


def test_paper_rows_carry_structured_provenance_and_a_known_head():
  for name in zoo.list_models(catalog="paper"):
    entry = zoo.get(name)
    assert entry.provenance is not None and entry.provenance.paper, name
    assert entry.head in zoo.registry.HEADS, name
    assert entry.weights.kind in ("huggingface", "npz", "openai_clip", "timm"), name
    if entry.top1 is not None:
      assert 50 < entry.top1 < 95 and entry.provenance.top1_source, name
    if entry.weights.kind == "timm" and entry.weights.location.startswith("timm/") and entry.head == "classifier":
      size, crop, interpolation = (entry.preprocessing.resolution, entry.preprocessing.crop_fraction,
                                   entry.preprocessing.interpolation)
      assert entry.provenance.top1_source == f"timm results-imagenet.csv ({size} px, crop {crop}, {interpolation})"
  heads = {zoo.get(n).head for n in zoo.list_models(catalog="paper")}
  assert heads == set(zoo.registry.HEADS)


def test_paper_greedy_roles_are_high_accuracy_starts_over_a_lower_pool():
  starts = [zoo.get(n) for n in zoo.catalogs.paper.GREEDY_STARTS]
  pool = [zoo.get(n) for n in zoo.catalogs.paper.GREEDY_POOL]
  assert max(p.top1 for p in pool) < 79 and all(p.head == "classifier" for p in pool)
  assert {s.name for s in starts} >= {"clip_vit_l14.zeroshot", "tf_efficientnet_b3.in1k"}


def test_bad_head_is_refused_naming_the_model():
  with pytest.raises(ValueError, match="'odd.row'.*head"):
    dataclasses.replace(zoo.get("resnet50.base"), name="odd.row", head="knn")


def test_reinit_slots_resolve_under_the_zoo_dir_and_say_what_is_missing(tmp_path):
  entry = zoo.get("resnet50.tv_seed1")
  assert zoo.pair_category(zoo.base_of("paper"), entry) == "reinit"
  with pytest.raises(zoo.WeightsUnavailable, match=f"resnet50.tv_seed1.*{tmp_path}/paper/resnet50.tv_seed1"):
    zoo.load(entry, tmp_path)


def test_paper_catalog_rows_build():
  # One row per (builder, weight format, head): rows that share them build the same module
  # (the ResNet-50 recipes and seed slots, the AugReg ViT-S sweep), and tracing a full-size
  # model costs seconds.
  distinct = {}
  for name in zoo.list_models(catalog="paper"):
    entry = zoo.get(name)
    builder = repr(entry.builder) if isinstance(entry.builder, functools.partial) else id(entry.builder)
    distinct.setdefault((builder, entry.weights.kind, entry.head, entry.preprocessing.resolution), entry)
  assert len(distinct) >= 50
  for entry in distinct.values():
    name = entry.name
    size = entry.preprocessing.resolution
    logits, embedding = zoo.abstract.eval_shape(lambda: zoo.build(entry)(jnp.zeros((2, size, size, 3))))
    assert embedding.shape[0] == 2 and logits.shape[0] == 2, name
    if entry.head == "classifier":
      assert logits.shape == (2, entry.num_classes), name


def _abstract_summary(model):
  """(path, variable type, shape, dtype) of every variable, in path order."""
  return sorted((tuple(str(k) for k in path), type(variable).__name__, variable.get_value().shape,
                 str(variable.get_value().dtype)) for path, variable in nnx.to_flat_state(nnx.state(model)))


@pytest.mark.parametrize("name", ["cnn.dropout0.3", "efficientnet_b0.in1k", "deit_tiny_distilled.in1k"])
def test_abstract_build_matches_nnx_eval_shape(name):
  # zoo.abstract.eval_shape replaces the RNG streams' count update to avoid flax's O(trace)
  # sharding probe per draw: the abstract model must be the one nnx.eval_shape traces.
  entry = zoo.get(name)
  reference = nnx.eval_shape(lambda: zoo.build(entry))
  abstract = zoo.loading.abstract_build(entry)
  assert nnx.graphdef(abstract) == nnx.graphdef(reference)
  summary = _abstract_summary(abstract)
  assert summary == _abstract_summary(reference) and len(summary) > 10
  assert rnglib.RngStream.__call__ is not zoo.abstract._draw_replacing_count  # restored afterwards


def _arrays(model):
  """Every variable of ``model`` as a float64/uint32 numpy array, in path order."""
  flat = sorted(nnx.to_flat_state(nnx.state(model)), key=lambda item: tuple(map(str, item[0])))
  values = [variable.get_value() for _, variable in flat]
  return [np.asarray(jax.random.key_data(v)) if jax.dtypes.issubdtype(v.dtype, jax.dtypes.prng_key)
          else np.asarray(v, np.float64) for v in values]


@pytest.mark.parametrize("name", ["small_resnet.s0", "cnn.dropout0.3", "cnn.simclr"])
def test_build_compiles_the_initialisers_and_matches_the_eager_builder(name):
  # zoo.build runs a builder's initialisers as one compiled program (zoo.abstract.init): the
  # module must be the eager builder's (graph, shapes, RNG keys) with values equal to its
  # up to float32 rounding; a second seed reuses the compiled program and draws that seed.
  entry = zoo.get(name)
  built, eager = zoo.build(entry), entry.builder(nnx.Rngs(entry.seed))
  assert nnx.graphdef(built) == nnx.graphdef(eager)
  assert _abstract_summary(built) == _abstract_summary(eager)
  for ours, theirs in zip(_arrays(built), _arrays(eager)):
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * max(1.0, np.abs(theirs).max(initial=0)))
  assert rnglib.RngStream.__call__ is not zoo.abstract._draw_replacing_count  # restored afterwards
  compiles = zoo.abstract._initialiser.cache_info().misses
  other = zoo.build(entry, seed=entry.seed + 7)
  assert zoo.abstract._initialiser.cache_info().misses == compiles
  differs = [not np.array_equal(a, b) for a, b in zip(_arrays(other), _arrays(built)) if a.size > 1]
  assert any(differs)
  for ours, theirs in zip(_arrays(other), _arrays(entry.builder(nnx.Rngs(entry.seed + 7)))):
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * max(1.0, np.abs(theirs).max(initial=0)))
  # Inside a trace the builder runs as traced code (no nested compile): eval_shape still works.
  assert _abstract_summary(nnx.eval_shape(lambda: zoo.build(entry))) == _abstract_summary(eager)


def test_build_of_an_unhashable_builder_compiles_for_that_call():
  @dataclasses.dataclass  # eq=True: instances are unhashable
  class Builder:
    width: int

    def __call__(self, rngs):
      return nnx.Linear(3, self.width, rngs=rngs)

  model = zoo.abstract.init(Builder(5), seed=2)
  np.testing.assert_allclose(model.kernel[...], nnx.Linear(3, 5, rngs=nnx.Rngs(2)).kernel[...], atol=1e-6)


def test_abstract_draws_equal_flax_draws_and_the_stream_is_restored_on_error():
  flax_rngs, our_rngs = nnx.Rngs(3, dropout=5), nnx.Rngs(3, dropout=5)
  for _ in range(4):
    for stream in ("params", "dropout"):
      expected = getattr(flax_rngs, stream)()
      drawn = zoo.abstract._draw_replacing_count(getattr(our_rngs, stream))
      np.testing.assert_array_equal(jax.random.key_data(drawn), jax.random.key_data(expected))
  np.testing.assert_array_equal(our_rngs.dropout.count[...], flax_rngs.dropout.count[...])
  original = rnglib.RngStream.__call__

  def failing_builder():
    nnx.Rngs(0).params()
    raise RuntimeError("builder failed")

  with pytest.raises(RuntimeError, match="builder failed"):
    zoo.abstract.eval_shape(failing_builder)
  assert rnglib.RngStream.__call__ is original


def test_zoo_list_filters_by_category_and_counts():
  out = subprocess.run([sys.executable, "-m", "launch.zoo", "list", "--catalog=paper", "--category=reinit"],
                       capture_output=True, text=True, check=True, cwd=REPO).stdout
  assert sum(line.startswith("resnet50.tv_seed") for line in out.splitlines()) == 5 and "per category: reinit 5" in out and "resnet50.a1_in1k" not in out


@pytest.mark.parametrize("name", ["small_resnet.s0", "tiny_vit.s0", "tiny_mixer.s0"])
def test_small_architectures_train_and_switch_batch_norm_mode(name):
  entry = zoo.get(name)
  model = zoo.build(entry)
  images = jnp.asarray(np.random.default_rng(0).random((4, 28, 28, 1)), jnp.float32)
  logits, embedding = model(images)
  assert logits.shape == (4, 10) and embedding.ndim == 2
  before = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.BatchStat)))
  model.train()
  model(images)  # batch statistics update the running averages in training mode
  model.eval()
  after = jax.tree.map(np.asarray, nnx.to_pure_dict(nnx.state(model, nnx.BatchStat)))
  changed = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after))]
  assert all(changed) if changed else name != "small_resnet.s0"


def test_read_safetensors_keeps_every_value_and_dtype_and_names_a_truncated_file(tmp_path):
  import ml_dtypes
  from safetensors.numpy import save_file

  from zoo.converters.huggingface import read_safetensors
  rng = np.random.default_rng(0)
  tensors = {"w": rng.standard_normal((7, 5)).astype(np.float32),
             "b": rng.standard_normal(5).astype(ml_dtypes.bfloat16), "h": rng.standard_normal((2, 3)).astype(np.float16),
             "ids": np.arange(4, dtype=np.int64), "empty": np.zeros((0, 3), np.float32)}
  path = tmp_path / "model.safetensors"
  save_file(tensors, str(path))
  read = read_safetensors(path, "tiny")
  assert sorted(read) == sorted(tensors)
  for name, expected in tensors.items():
    assert read[name].dtype == expected.dtype and read[name].shape == expected.shape, name
    np.testing.assert_array_equal(read[name].astype(np.float32), expected.astype(np.float32))
  path.write_bytes(path.read_bytes()[:-10])
  with pytest.raises(zoo.ConversionError, match="'tiny'.*truncated"):
    read_safetensors(path, "tiny")


def test_patch_mlp_models_draw_their_initial_weights_stem_first():
  """A trained row's weights depend on the order its initial weights are drawn; Mixer and ResMLP
  (one PatchMlp trunk) draw the stem first, as before they shared it: the stem equals a conv
  built alone from a fresh stream with the same seed."""
  from flax import nnx
  from zoo.architectures import layers
  from zoo.architectures.mixer import MixerConfig, MlpMixer
  from zoo.architectures.resmlp import ResMlp, ResMlpConfig
  for model, config in ((MlpMixer, MixerConfig(image_size=28, patch_size=7, num_channels=1, hidden_size=32,
                                              num_blocks=2, tokens_mlp_dim=16, channels_mlp_dim=64)),
                        (ResMlp, ResMlpConfig(image_size=28, patch_size=7, num_channels=1, hidden_size=32,
                                              num_blocks=2))):
    alone = layers.conv(1, 32, 7, stride=7, padding="VALID", bias=True, rngs=nnx.Rngs(3))
    np.testing.assert_array_equal(np.asarray(model(config, rngs=nnx.Rngs(3)).stem.kernel[...]),
                                  np.asarray(alone.kernel[...]), err_msg=model.__name__)
