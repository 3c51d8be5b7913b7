"""launch.study end to end with --preset=smoke: report complete, numbers traceable to the store,
cache reused, damaged checkpoints retrained, bad input refused with one clear paragraph."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

import metrics
import zoo
from launch import data, store

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist")
FIGURES = ("fig1_error_inconsistency", "fig2_ensembles", "fig3_specialisation", "fig4_class_specialisation",
           "fig5_greedy", "fig6_mixing")


def study(*args, timeout=600):
  return subprocess.run([sys.executable, "-m", "launch.study", *args], capture_output=True, text=True,
                        timeout=timeout)


def read_csv(path):
  with open(path) as handle:
    return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  out, cache = tmp_path_factory.mktemp("report") / "study", tmp_path_factory.mktemp("cache")
  result = study("--preset=smoke", f"--out={out}", f"--cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  return out, cache, result.stdout


def test_smoke_report_is_complete_and_matches_the_store(smoke):
  out, cache, stdout = smoke
  for name in FIGURES:
    assert (out / f"{name}.png").stat().st_size > 10_000, name
  config = json.loads((out / "config.json").read_text())
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
  categories = {r["category"]: r for r in read_csv(out / "categories.csv")}
  reinit = pairs[(names[0], "cnn.s1")]
  assert float(categories["reinit"]["error_inconsistency"]) == pytest.approx(float(reinit["error_inconsistency"]))
  low, high = float(categories["reinit"]["error_inconsistency_low"]), float(categories["reinit"]["error_inconsistency_high"])
  assert low <= float(reinit["error_inconsistency"]) <= high
  claims = read_csv(out / "claims.csv")
  assert len(claims) == 5 and all(c["verdict"] in ("holds", "partly holds", "does not hold") for c in claims)
  report = (out / "report.md").read_text()
  assert all(f"{name}.png" in report for name in FIGURES) and claims[0]["verdict"] in report
  assert "the paper's claims at this scale" in stdout


def test_rerun_reuses_the_cache_and_retrains_a_damaged_checkpoint(smoke, tmp_path):
  out, cache, _ = smoke
  damaged = cache / "zoo" / "small" / "mlp.s0"
  for file in damaged.rglob("*"):
    if file.is_file():
      file.write_bytes(b"garbage")
  result = study("--preset=smoke", f"--out={tmp_path / 'again'}", f"--cache_dir={cache}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "mlp.s0: damaged checkpoint, retraining" in result.stdout
  assert "cnn.s0: cached" in result.stdout and "trained mlp.s0" in result.stdout
  assert (tmp_path / "again" / "report.md").exists()


@pytest.mark.parametrize("args, message", [
    (["--preset=huge"], "unknown preset 'huge'"),
    (["--preset=smoke", "--set", "models=cnn.s0,resnet999*"], "no model of the small catalog matches"),
    (["--preset=smoke", "--set", "epochs"], "expected key=value"),
    (["--preset=smoke", "--data_dir=/nonexistent"], "dataset-fashion-mnist"),
    (["--preset=smoke", "--out=/proc/overlap/report"], "cannot write the report"),
])
def test_bad_input_is_one_clear_paragraph(args, message, tmp_path):
  result = study(*args, f"--cache_dir={tmp_path / 'cache'}", *([] if any("--out" in a for a in args)
                                                              else [f"--out={tmp_path / 'out'}"]), timeout=300)
  assert result.returncode == 2, (result.stdout[-1000:], result.stderr[-2000:])
  assert message in result.stderr and "Traceback" not in result.stderr
  assert not (tmp_path / "out").exists()
