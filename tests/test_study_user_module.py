"""Your own models: a module outside the package defines an nnx model and registers rows,
a config names it in zoo_modules, ``launch.study --config=`` runs it to a full report (with
a downstream Fig. 7); a changed checkpoint under the same name changes the stored logits
and the report, and the run says so."""

import csv
import json
import subprocess
import sys
import textwrap

import numpy as np

from launch import store

MODULE = '''
"""My lab's models (outside the overlap package)."""
import jax
from flax import nnx

import zoo


class TwoLayer(nnx.Module):
  def __init__(self, width, rngs):
    self.hidden = nnx.Linear(28 * 28, width, rngs=rngs)
    self.out = nnx.Linear(width, 10, rngs=rngs)

  def __call__(self, images):
    features = jax.nn.relu(self.hidden(images.reshape(images.shape[0], -1)))
    return self.out(features), features


PRE = zoo.Preprocessing(resolution=28, mean=(0.286,), std=(0.353,), channels=1)
for name, width, seed in (("mine.w32.s0", 32, 0), ("mine.w32.s1", 32, 1), ("mine.w48.s0", 48, 0)):
  zoo.register(zoo.ModelEntry(
      name=name, builder=lambda rngs, width=width: TwoLayer(width, rngs), weights=zoo.WeightSource("checkpoint", name),
      preprocessing=PRE, num_classes=10, objective="supervised", pretraining_data="my_lab_data",
      architecture=f"two_layer_{width}", seed=seed, catalog="mine"))
'''

CONFIG = '''
import ml_collections

def get_config(arg="default"):
  return ml_collections.ConfigDict(dict(
      name="my models", zoo_modules=("{module}",), catalog="mine", models="mine.*", base="mine.w32.s0",
      dataset="fashion_mnist", calibration_split="train[59000:59500]", test_split="test[:400]", zoo_dir="{zoo}",
      batch_size=100, resamples=20, probe_l2_grid=(1e-2,),
      sections=dict(greedy=dict(starts=1, steps=1), mixing=dict(rates=(1.0, 0.0), seeds=1, diversity_step=48),
                    downstream=dict(dataset="fashion_mnist", train_split="train[:400]", val_split="train[400:600]",
                                    test_split="test[400:700]", iterations=50))))
'''


def test_own_module_and_config_to_a_full_report_then_changed_weights(tmp_path):
  module, config, zoo_dir = tmp_path / "my_models.py", tmp_path / "my_config.py", tmp_path / "weights"
  module.write_text(textwrap.dedent(MODULE))
  config.write_text(CONFIG.format(module=module, zoo=zoo_dir))
  make_weights = textwrap.dedent(f'''
      import importlib.util, sys
      spec = importlib.util.spec_from_file_location("my_models", "{module}")
      spec.loader.exec_module(importlib.util.module_from_spec(spec))
      import zoo
      for name in zoo.list_models("mine.*"):
        entry = zoo.get(name)
        zoo.save_weights(entry, zoo.build(entry, seed=entry.seed + int(sys.argv[1])), "{zoo_dir}")''')
  build = lambda offset: subprocess.run([sys.executable, "-c", make_weights, str(offset)], check=True, timeout=900)
  build(0)
  run = lambda out: subprocess.run([sys.executable, "-m", "launch.study", f"--config={config}", f"--out={out}",
                                    f"--cache_dir={tmp_path / 'cache'}"], capture_output=True, text=True, timeout=1800)
  first = run(tmp_path / "report")
  assert first.returncode == 0, first.stderr[-3000:]
  report = tmp_path / "report"
  for figure in ("fig1_error_inconsistency", "fig4_class_specialisation", "fig6_mixing", "fig7_downstream"):
    assert (report / f"{figure}.png").stat().st_size > 10_000, figure
  models = list(csv.DictReader(open(report / "models.csv")))
  assert [m["model"] for m in models] == ["mine.w32.s0", "mine.w32.s1", "mine.w48.s0"]
  assert [m["category"] for m in models] == ["base", "reinit", "architecture"]
  downstream = list(csv.DictReader(open(report / "downstream_models.csv")))
  pairs = list(csv.DictReader(open(report / "downstream_pairs.csv")))
  assert len(downstream) == 3 and len(pairs) == 3 and all(0 <= float(r["downstream"]) <= 1 for r in downstream)
  saved = json.loads((report / "config.json").read_text())
  assert saved["models"]["mine.w48.s0"]["origin"] == "loaded" and saved["models"]["mine.w48.s0"]["training"] is None

  before = store.read(tmp_path / "cache" / "store", "fashion_mnist", "test[:400]")
  build(100)  # other weights under the same names
  second = run(tmp_path / "report2")
  assert second.returncode == 0, second.stderr[-3000:]
  assert second.stdout.count("weights changed") == 3 * 5  # every model, every split (calibration, test, 3 downstream)
  changed = json.loads((tmp_path / "report2" / "config.json").read_text())
  for name in ("mine.w32.s0", "mine.w32.s1", "mine.w48.s0"):
    assert changed["models"][name]["weights_sha256"] != saved["models"][name]["weights_sha256"]
  stored = store.read(tmp_path / "cache" / "store", "fashion_mnist", "test[:400]")
  assert {m["metadata"]["weights_sha256"] for m in stored.manifests.values()} == {
      changed["models"][n]["weights_sha256"] for n in stored.models}
  assert (report / "models.csv").read_text() != (tmp_path / "report2" / "models.csv").read_text()
  assert np.isfinite(stored.logits).all() and not np.allclose(stored.logits, before.logits)
