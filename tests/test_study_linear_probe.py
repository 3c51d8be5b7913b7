"""Rows without a classifier (head "linear-probe") in the study: the study fits a
Kornblith-protocol probe on ``linear_probe.split``, attaches it as the head and evaluates the
row as any other; the fitted head is cached on everything that produced it (backbone
weights, probe split and its content, probe settings), and other weights or another split
refit it, saying why."""

import json
import textwrap

import numpy as np
import pytest
from safetensors.numpy import load_file

from launch import store
from launch.study import config as config_lib, pipeline, probe_head, zoo_stage
from launch.study.config import ConfigError

MODULE = '''
"""A headless backbone (no classifier: its logits are its embedding) and a classifier row."""
import jax
from flax import nnx

import zoo


class Backbone(nnx.Module):
  def __init__(self, rngs):
    self.hidden = nnx.Linear(28 * 28, 24, rngs=rngs)

  def __call__(self, images):
    features = jax.nn.relu(self.hidden(images.reshape(images.shape[0], -1)))
    return features, features


class Classifier(nnx.Module):
  def __init__(self, rngs):
    self.hidden = nnx.Linear(28 * 28, 16, rngs=rngs)
    self.out = nnx.Linear(16, 10, rngs=rngs)

  def __call__(self, images):
    features = jax.nn.relu(self.hidden(images.reshape(images.shape[0], -1)))
    return self.out(features), features


PRE = zoo.Preprocessing(resolution=28, mean=(0.286,), std=(0.353,), channels=1)
for name, builder, head in (("lp.base", Classifier, "classifier"), ("lp.headless", Backbone, "linear-probe")):
  zoo.register(zoo.ModelEntry(
      name=name, builder=builder, weights=zoo.WeightSource("checkpoint", name), preprocessing=PRE, num_classes=10,
      objective="supervised" if head == "classifier" else "self-supervised", pretraining_data="lab_data",
      architecture=name, catalog="lp", head=head))
'''


@pytest.fixture(scope="module")
def module_path(tmp_path_factory):
  """The rows' module, written and imported once (its rows register once per process)."""
  path = tmp_path_factory.mktemp("lp") / "lp_models.py"
  path.write_text(textwrap.dedent(MODULE))
  config_lib.import_zoo_modules((str(path),))
  return path


def make_config(tmp_path, **fields):
  config = dict(
      name="probe", zoo_modules=(str(tmp_path.parent / "lp_models.py"),), catalog="lp", models="lp.*", base="lp.base",
      dataset="fashion_mnist", calibration_split="train[59000:59400]", test_split="test[:300]",
      zoo_dir=str(tmp_path / "weights"), batch_size=100, resamples=10, probe_l2_grid=(1e-2,),
      sections=dict(greedy=dict(starts=1, steps=1), mixing=dict(rates=(1.0, 0.0), seeds=1, diversity_step=8),
                    downstream=dict(iterations=30)),
      linear_probe=dict(split="train[:1500]", l2_grid=(1e-3, 1e-1), iterations=200, validation_fraction=0.25))
  config.update(fields)
  return config_lib.merge(config)


def save_weights(tmp_path, name, seed):
  import zoo
  zoo.save_weights(zoo.get(name), zoo.build(zoo.get(name), seed=seed), tmp_path / "weights")


def head_of(cache, key):
  directory = cache / "linear_probe" / key[:24]
  tensors = load_file(str(directory / "head.safetensors"))
  return tensors["weights"], tensors["bias"]


def run(tmp_path, capsys, out, **fields):
  """The whole study; (config.json's models, the printed output)."""
  pipeline.run(make_config(tmp_path, **fields), tmp_path / out, cache_dir=tmp_path / "cache")
  return json.loads((tmp_path / out / "config.json").read_text())["models"], capsys.readouterr().out


def evaluate(tmp_path, capsys, **fields):
  """The study's zoo and evaluation stages only (the analysis and report are the same code for
  every row); (each row's Located, the printed output)."""
  config = make_config(tmp_path, **fields)
  names = config_lib.validate(config)
  sources = pipeline._sources(config)
  sources.update(probe_head.probe_sources(config, names, sources, pipeline.splits_of(config)))
  located = zoo_stage.prepare(config, names, tmp_path / "cache")
  pipeline.evaluate_all(config, names, located, tmp_path / "cache" / "store", sources)
  return located, capsys.readouterr().out


@pytest.fixture
def lab(tmp_path, module_path):
  tmp_path = tmp_path / "lab"
  (tmp_path / "weights").mkdir(parents=True)
  (tmp_path.parent / "lp_models.py").symlink_to(module_path)
  save_weights(tmp_path, "lp.base", 0)
  save_weights(tmp_path, "lp.headless", 1)
  return tmp_path


def test_headless_row_gets_a_fitted_probe_head_cached_on_what_made_it(lab, capsys):
  import zoo
  from zoo.loading import weights_sha256
  tmp_path, cache = lab, lab / "cache"
  saved, output = run(tmp_path, capsys, "one")
  assert "lp.headless: fitting its linear probe on fashion_mnist/train[:1500] (no fitted head yet)" in output
  row = saved["lp.headless"]
  training = row["training"]
  backbone = zoo.load(zoo.get("lp.headless"), tmp_path / "weights")
  assert row["origin"] == "loaded + linear probe" and training["backbone_weights_sha256"] == weights_sha256(backbone)
  assert training["probe"]["split"] == "train[:1500]" and training["probe"]["l2_grid"] == [1e-3, 1e-1]
  assert training["fit"]["num_train"] == 1125 and training["fit"]["num_val"] == 375
  weights, bias = head_of(cache, row["training_key"])
  assert weights.shape == (24, 10) and bias.shape == (10,)

  # The stored logits of every analysed split are the backbone's embeddings through the fitted head.
  for split in ("train[59000:59400]", "test[:300]"):
    stored = store.read(cache / "store", "fashion_mnist", split, ["lp.headless"])
    embeddings = stored.embeddings["lp.headless"]
    assert embeddings.shape == (len(stored.labels), 24)
    np.testing.assert_allclose(stored.logits[0], embeddings @ weights + bias, rtol=1e-4, atol=1e-4)
  # A real classifier: it beats chance (10 classes) by far on test.
  assert np.mean(np.argmax(stored.logits[0], axis=1) == stored.labels) > 0.5
  # The manifest's weight hash is of backbone + head (other heads give other stored outputs).
  manifest = stored.manifests["lp.headless"]["metadata"]
  assert manifest["weights_sha256"] == row["weights_sha256"] != training["backbone_weights_sha256"]

  # Same config again: the head comes from the cache, nothing is refitted or recomputed.
  located, output = evaluate(tmp_path, capsys)
  assert "cached linear probe" in output and "fitting its linear probe" not in output
  assert "weights changed" not in output
  assert located["lp.headless"].key == row["training_key"] and located["lp.headless"].provenance == training

  # Other backbone weights under the same name: a new head, and the run says why.
  save_weights(tmp_path, "lp.headless", 7)
  located, output = evaluate(tmp_path, capsys)
  assert "lp.headless: fitting its linear probe" in output and "backbone weights changed (sha256 " in output
  changed = located["lp.headless"]
  assert changed.key != row["training_key"] and changed.provenance["backbone_weights_sha256"] != training[
      "backbone_weights_sha256"]
  assert "lp.headless on fashion_mnist/test[:300]: stored outputs came from other inputs (weights changed" in output
  assert not np.allclose(head_of(cache, changed.key)[0], weights)

  # Another probe split: refitted, saying so; the content hash of the new split is recorded.
  located, output = evaluate(tmp_path, capsys, linear_probe=dict(split="train[1500:3000]", l2_grid=(1e-3, 1e-1),
                                                                 iterations=200, validation_fraction=0.25))
  assert "probe split changed ('train[:1500]' → 'train[1500:3000]')" in output
  assert "probe data_sha256 changed" in output and "backbone weights changed" not in output
  assert located["lp.headless"].provenance["probe"]["data_sha256"] != changed.provenance["probe"]["data_sha256"]
  # The classifier row is untouched by all of this.
  assert "lp.base on fashion_mnist/test[:300]: stored" in output


def test_headless_rows_need_a_disjoint_probe_split(lab):
  tmp_path = lab
  with pytest.raises(ConfigError, match=r"config field 'linear_probe.split': \['lp.headless'\] have no classifier"):
    pipeline.run(make_config(tmp_path, linear_probe=dict(split="")), tmp_path / "out", cache_dir=tmp_path / "cache")
  with pytest.raises(ConfigError, match=r"'train\[58000:59100\]' shares 100 examples with the calibration split"):
    pipeline.run(make_config(tmp_path, linear_probe=dict(split="train[58000:59100]")), tmp_path / "out",
                 cache_dir=tmp_path / "cache")
  with pytest.raises(ConfigError, match="linear_probe.validation_fraction"):
    pipeline.run(make_config(tmp_path, linear_probe=dict(validation_fraction=1.0)), tmp_path / "out",
                 cache_dir=tmp_path / "cache")
  assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
  # Without headless rows no probe split is needed.
  assert config_lib.validate(make_config(tmp_path, models="lp.base", linear_probe=dict(split=""))) == ["lp.base"]


def test_fit_linear_head_folds_the_standardisation_into_the_kornblith_fit():
  """Against scikit-learn's L-BFGS logistic regression at the chosen strength on the whole
  standardised set (the protocol's refit): same probabilities from the raw features."""
  import probes
  from sklearn.linear_model import LogisticRegression
  rng = np.random.default_rng(3)
  labels = rng.integers(0, 3, 300)
  x = rng.normal(size=(300, 5)) * [1.0, 5.0, 0.2, 3.0, 1.0] + [0, 10, -3, 1, 0] + 1.5 * np.eye(3, 5)[labels]
  head = probes.fit_linear_head(x, labels, 3, (1e-2,), validation_fraction=0.2, max_iterations=2000, tolerance=1e-8)
  assert head["l2"] == 1e-2 and (head["num_train"], head["num_val"]) == (240, 60)
  standardised = (x - x.mean(0)) / x.std(0)
  reference = LogisticRegression(C=1 / (300 * 1e-2), tol=1e-10, max_iter=10000).fit(standardised, labels)
  logits = x @ head["weights"] + head["bias"]
  probs = np.exp(logits - logits.max(1, keepdims=True))
  np.testing.assert_allclose(probs / probs.sum(1, keepdims=True), reference.predict_proba(standardised), atol=2e-3)
  with pytest.raises(ValueError, match=r"classes \[3\] .*no example in the probe's training part"):
    probes.fit_linear_head(x, labels, 4, (1e-2,))


def test_a_damaged_probe_head_is_reported_and_refitted(lab, capsys):
  """Issue 27: a truncated head file is named in one line and refitted (the same head: the fit is seeded)."""
  tmp_path, cache = lab, lab / "cache"
  located, _ = evaluate(tmp_path, capsys)
  key = located["lp.headless"].key
  weights, _ = head_of(cache, key)
  head = cache / "linear_probe" / key[:24] / "head.safetensors"
  head.write_bytes(head.read_bytes()[:50])
  located, output = evaluate(tmp_path, capsys)
  assert "lp.headless: damaged linear probe, refitting it" in output and str(head.parent) in output
  assert located["lp.headless"].key == key
  np.testing.assert_array_equal(head_of(cache, key)[0], weights)
