"""launch.study end to end on the built-in Fashion-MNIST config: the report is complete and
traceable to the store, a smoke run then a bigger config reuses nothing stale (its report
equals one from an empty cache), a rerun recomputes nothing, damaged checkpoints retrain."""

import csv
import filecmp
import json
import subprocess
import sys

import numpy as np
import pytest

import metrics
import zoo
from launch import data, store
from launch.study.config import SECTIONS

FIGURES = ("fig1_error_inconsistency", "fig2_ensembles", "fig3_specialisation", "fig4_class_specialisation",
           "fig5_greedy", "fig6_mixing")
# Cheaper analysis than the smoke config's (the training and the code paths are the same).
LIGHT = ["--set", "sections.mixing.diversity_step=128", "--set", "probe_l2_grid=1e-2", "--set",
         "sections.downstream.iterations=100"]
BIGGER = ["--config=fashion_mnist.py:smoke", "--set", "models=cnn.s0,cnn.s1,mlp.s0", "--set", "epochs=2", *LIGHT]
REPORT_FILES = ("report.md", "config.json", "models.csv", "pairs.csv", "categories.csv", "mixing.csv",
                "diversity.csv", "features_needed.csv", "greedy.csv", "theta.csv", "class_specialisation.csv")


def study(*args, timeout=1800):  # a hang fails; a loaded 2-core machine (2 xdist workers) is slow
  return subprocess.run([sys.executable, "-m", "launch.study", *args], capture_output=True, text=True,
                        timeout=timeout)


def read_csv(path):
  with open(path) as handle:
    return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  out, cache = tmp_path_factory.mktemp("report") / "study", tmp_path_factory.mktemp("cache")
  result = study("--config=fashion_mnist.py:smoke", *LIGHT, f"--out={out}", f"--cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  return out, cache, result.stdout, result.stderr


def test_smoke_report_is_complete_and_matches_the_store(smoke):
  out, cache, stdout, stderr = smoke
  for name in FIGURES:
    assert (out / f"{name}.png").stat().st_size > 10_000, name
  saved = json.loads((out / "config.json").read_text())
  config = saved["config"]
  names = [row["model"] for row in read_csv(out / "models.csv")]
  assert names[0] == "cnn.s0" and len(names) == 6
  assert {row["category"] for row in read_csv(out / "models.csv")[1:]} == set(zoo.CATEGORIES)
  # Recompute from the stored logits: accuracy, temperatures, EI and ensemble accuracy of (base, X).
  calibration = store.read(cache / "store", "fashion_mnist", config["calibration_split"], names)
  test = store.read(cache / "store", "fashion_mnist", config["test_split"], names)
  temperatures = np.asarray(metrics.fit_temperature(calibration.logits, calibration.labels))
  probs = np.asarray(metrics.apply_temperature(test.logits, temperatures))
  correct = probs.argmax(-1) == test.labels
  for row, model_correct, temperature in zip(read_csv(out / "models.csv"), correct, temperatures):
    assert float(row["accuracy"]) == pytest.approx(model_correct.mean(), abs=1e-6)
    assert float(row["temperature"]) == pytest.approx(temperature, rel=1e-5)
    # Provenance: the report's hash is the stored manifest's, which is the checkpoint's content hash.
    manifest = test.manifests[row["model"]]["metadata"]
    assert row["weights_sha256"] == manifest["weights_sha256"] == saved["models"][row["model"]]["weights_sha256"]
    assert saved["models"][row["model"]]["training"]["recipe"]["epochs"] == 1
  pairs = {(r["model_a"], r["model_b"]): r for r in read_csv(out / "pairs.csv")}
  assert len(pairs) == 15
  for b in range(1, len(names)):
    row = pairs[(names[0], names[b])]
    inconsistent = correct[0] != correct[b]
    ensemble = (probs[0] + probs[b]).argmax(-1) == test.labels
    assert float(row["error_inconsistency"]) == pytest.approx(inconsistent.mean(), abs=1e-6)
    assert float(row["ensemble_accuracy"]) == pytest.approx(ensemble.mean(), abs=1e-6)
    assert float(row["conversion_rate"]) == pytest.approx(ensemble[inconsistent].mean(), abs=1e-6)
    assert row["category"] == zoo.pair_category(zoo.get(names[0]), zoo.get(names[b]))
  # The category table (Fig. 1) holds the means over the in-band (base, X) pairs only.
  in_band = [row["model"] for row in read_csv(out / "models.csv") if row["band"] == "in band"]
  assert names[0] in in_band
  categories = {r["category"]: r for r in read_csv(out / "categories.csv")}
  assert set(categories) == {pairs[(names[0], b)]["category"] for b in in_band[1:]}
  for category, row in categories.items():
    members = [pairs[(names[0], b)] for b in in_band[1:] if pairs[(names[0], b)]["category"] == category]
    assert int(row["pairs"]) == len(members)
    assert float(row["error_inconsistency"]) == pytest.approx(
        np.mean([float(p["error_inconsistency"]) for p in members]), abs=1e-6)
  # Fig. 6 right: every pair's curve ends at all features; the table names the fewest reaching the target.
  curves = read_csv(out / "diversity.csv")
  needed = {r["category"]: r for r in read_csv(out / "features_needed.csv")}
  assert set(needed) == set(zoo.CATEGORIES)
  target = float(needed["reinit"]["target_accuracy"])
  for category, row in needed.items():
    rows = [r for r in curves if r["category"] == category]
    assert int(rows[-1]["features"]) == int(rows[-1]["total_features"]) == int(row["total_features"])
    first = min(int(r["features"]) for r in rows if float(r["test_accuracy"]) >= target)
    assert int(row["features_needed"]) == first
  assert {r["class_name"] for r in read_csv(out / "class_specialisation.csv")} == set(data.FASHION_MNIST_CLASSES)
  claims = read_csv(out / "claims.csv")
  assert len(claims) == 5 and all(c["verdict"] in ("holds", "does not hold", "inconclusive") for c in claims)
  report = (out / "report.md").read_text()
  assert all(f"{name}.png" in report for name in FIGURES) and "Features needed" in report
  assert "the paper's claims at this scale" in stdout
  # Quiet: the study's own lines only (no library INFO logs), a progress line per trained group.
  assert " I1" not in stderr and "orbax" not in stdout + stderr
  assert "1/4 zoo" in stdout and "examples/s" in stdout and "training cnn.s0" in stdout


def test_a_rerun_finds_every_checkpoint_the_distilled_row_keyed_on_its_teachers_weights(smoke, tmp_path):
  """The smoke run trained the base beside the other rows and the distilled row once the base
  had weights; a rerun locates all six (the distilled row's key holds the base's weight hash)."""
  out, cache, stdout, _ = smoke
  assert "training cnn.distilled" in stdout and "training cnn.s0" in stdout
  again = study("--config=fashion_mnist.py:smoke", *LIGHT, f"--out={tmp_path / 'again'}", f"--cache_dir={cache}")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "training" not in again.stdout.split("2/4")[0], again.stdout
  for name in ("cnn.s0", "cnn.s1", "cnn.lr1e-3", "mlp.s0", "cnn.distilled", "cnn.fmnist0-4.top"):
    assert f"{name}: cached" in again.stdout, name
  saved = json.loads((out / "config.json").read_text())["models"]
  assert saved["cnn.distilled"]["training"]["teacher_weights_sha256"] == saved["cnn.s0"]["weights_sha256"]
  assert filecmp.cmp(out / "models.csv", tmp_path / "again" / "models.csv", shallow=False)


def test_smoke_then_bigger_config_equals_an_empty_cache_and_reruns_recompute_nothing(smoke, tmp_path):
  _, cache, _, _ = smoke
  reused = study(*BIGGER, f"--out={tmp_path / 'reused'}", f"--cache_dir={cache}")
  assert reused.returncode == 0, reused.stderr[-3000:]
  # The smoke run trained cnn.s0 for 1 epoch: its checkpoint must not be served for 2 epochs.
  assert "cnn.s0: cached" not in reused.stdout and "training cnn.s0" in reused.stdout
  # The fresh run trains one row at a time, the reused one two at once (train_threads' default):
  # the same weights to the bit, so the same report (the config aside).
  fresh = study(*BIGGER, "--set", "train_threads=1", f"--out={tmp_path / 'fresh'}",
                f"--cache_dir={tmp_path / 'empty_cache'}")
  assert fresh.returncode == 0, fresh.stderr[-3000:]
  assert "train_threads" in json.loads((tmp_path / "fresh" / "config.json").read_text())["config"]
  for name in REPORT_FILES:
    reused_lines, fresh_lines = ((tmp_path / run / name).read_text().splitlines() for run in ("reused", "fresh"))
    differ = [(a, b) for a, b in zip(reused_lines, fresh_lines) if a != b]
    assert len(reused_lines) == len(fresh_lines) and all("train_threads" in a and "train_threads" in b
                                                         for a, b in differ), (name, differ[:3])
  reused_json, fresh_json = (json.loads((tmp_path / run / "config.json").read_text()) for run in ("reused", "fresh"))
  assert (reused_json["config"]["train_threads"], fresh_json["config"]["train_threads"]) == (2, 1)
  saved = json.loads((tmp_path / "fresh" / "config.json").read_text())
  assert saved["models"]["cnn.s0"]["training"]["recipe"]["epochs"] == 2
  # A damaged checkpoint is retrained; the rest (evaluation, analysis) is reused as is.
  damaged = tmp_path / "empty_cache" / "trained"
  checkpoint = next(p for p in damaged.iterdir() if (p / "small" / "mlp.s0").exists()) / "small" / "mlp.s0"
  for file in checkpoint.rglob("*"):
    if file.is_file():
      file.write_bytes(b"garbage")
  again = study(*BIGGER, "--set", "train_threads=1", f"--out={tmp_path / 'again'}",
                f"--cache_dir={tmp_path / 'empty_cache'}")
  assert again.returncode == 0, again.stderr[-3000:]
  assert "mlp.s0: damaged checkpoint, retraining" in again.stdout and "cnn.s0: cached" in again.stdout
  assert "chunks computed" not in again.stdout and "examples in" not in again.stdout.split("2/4")[1]
  analysis = again.stdout.split("3/4 analysis")[1].split("4/4 report")[0]
  assert all(f"  {section}: cached (" in analysis for section in SECTIONS), analysis
  for name in REPORT_FILES:
    assert filecmp.cmp(tmp_path / "again" / name, tmp_path / "fresh" / name, shallow=False), name
