"""The paper config end to end, offline: tfds.testing.mock_data for imagenet2012 and voc/2007,
random-weight stand-ins of the catalog's architectures (tests/jobs/paper_standins.py, through
zoo_modules) on 1 device, 8 fake devices and 2 local processes: the same stored outputs and
the same report numbers."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import portpicker
import pytest

from launch import store

JOBS = Path(__file__).parent / "jobs"
ROOT = Path(__file__).parent.parent
MODELS = "standin.resnet50,standin.resnet50.s1,standin.vit,standin.vit.in21k"
FLAGS = ["--config=paper", "--set", f"zoo_modules={JOBS / 'paper_standins.py'}", "--set", "catalog=standin",
         "--set", f"models={MODELS}", "--set", "base=standin.resnet50", "--set", "batch_size=16",
         "--set", "chunk_batches=1", "--set", "resamples=20", "--set", "sections.greedy.steps=1",
         "--set", "sections.mixing.seeds=1", "--set", "sections.mixing.rates=1,0", "--set", "probe_l2_grid=0.01",
         "--set", "sections.downstream.iterations=30", "--set", "sections.mixing.diversity_step=32",
         "--set", "precision=float32",
         "--set", "selection_split=train[:20]"]  # the config's train[-20000:-10000] needs more than 40 examples
EXAMPLES = "40"  # per split of every mocked dataset
SPLITS = (("imagenet2012", "train[-10000:]"), ("imagenet2012", "validation"), ("voc/2007", "train"),
          ("voc/2007", "validation"), ("voc/2007", "test"))


def launch(tmp, name, *extra, devices=1, wait=True):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
  command = [sys.executable, str(JOBS / "study_job.py"), EXAMPLES, *FLAGS, "--set", f"zoo_dir={tmp / 'zoo'}",
             f"--out={tmp / name / 'report'}", f"--cache_dir={tmp / name / 'cache'}", *extra]
  process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  return process if not wait else finish(process)


def finish(process):
  stdout, stderr = process.communicate(timeout=1800)
  assert process.returncode == 0, stderr[-3000:]
  return stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  tmp = tmp_path_factory.mktemp("paper")
  sys.path.insert(0, str(JOBS))
  import paper_standins
  paper_standins.write_random_weights(tmp / "zoo")
  # The 1-device run first: it fills the session's XLA compilation cache (tests/conftest.py)
  # with the analysis' programs, which the other runs' process 0 (local devices) compile
  # identically; the 8-device and the 2-process runs then go side by side (each runs the
  # whole pipeline itself, from empty caches of their own).
  outputs = {"one": launch(tmp, "one")}
  port = portpicker.pick_unused_port()
  processes = {"eight": launch(tmp, "eight", devices=8, wait=False)}
  for i, name in enumerate(("two", "two_worker")):
    processes[name] = launch(tmp, "two", f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
                             f"--process_id={i}", wait=False)
  outputs.update({name: finish(process) for name, process in processes.items()})
  return tmp, outputs


def rows(path):
  with open(path) as handle:
    return list(csv.DictReader(handle))


def test_paper_report_on_mocked_imagenet_and_voc(runs):
  tmp, outputs = runs
  report = tmp / "one" / "report"
  for figure in ("fig1_error_inconsistency", "fig2_ensembles", "fig3_specialisation", "fig4_class_specialisation",
                 "fig5_greedy", "fig6_mixing", "fig7_downstream"):
    assert (report / f"{figure}.png").stat().st_size > 10_000, figure
  assert "devices" in outputs["one"] and "1 devices" in outputs["one"] and "8 devices" in outputs["eight"]
  models = rows(report / "models.csv")
  assert [m["model"] for m in models] == MODELS.split(",")[:1] + sorted(MODELS.split(",")[1:])
  assert [m["category"] for m in models] == ["base", "reinit", "architecture", "dataset"]
  # Fig. 4: ImageNet's classes by id range, named from the TFDS metadata (WordNet ids).
  groups = rows(report / "class_groups.csv")
  assert {(g["group"], g["first_class"], g["last_class"]) for g in groups} == {
      ("nature (animals)", "0", "397"), ("man-made", "398", "999")}
  names = {r["class"]: r["class_name"] for r in rows(report / "class_specialisation.csv")}
  assert len(names) == 1000 and names["0"] == "n01440764"
  # Fig. 7 on VOC 2007: 11-point mAP of every model and every concatenated pair.
  downstream = rows(report / "downstream_models.csv")
  pairs = rows(report / "downstream_pairs.csv")
  assert len(downstream) == 4 and len(pairs) == 6 and "11-point mAP" in (report / "report.md").read_text()
  assert all(0 < float(r["downstream"]) <= 1 for r in downstream + pairs)
  stored = store.read(tmp / "one" / "cache" / "store", "voc/2007", "test")
  assert stored.labels.shape == (40, 20) and stored.logits.dtype == np.float16  # the paper's storage dtype
  config = json.loads((report / "config.json").read_text())
  assert config["config"]["calibration_split"] == "train[-10000:]"
  assert config["config"]["sections"]["downstream"]["dataset"] == "voc/2007"
  assert all(len(m["weights_sha256"]) == 64 for m in config["models"].values())
  assert "report" not in outputs["two_worker"]  # process 0 alone writes the report
  assert not (tmp / "two" / "report.partial").exists()


@pytest.mark.parametrize("other", ["eight", "two"])
def test_eight_devices_and_two_processes_give_the_same_numbers(runs, other):
  tmp, _ = runs
  for dataset, split in SPLITS:
    one = store.read(tmp / "one" / "cache" / "store", dataset, split)
    that = store.read(tmp / other / "cache" / "store", dataset, split)
    np.testing.assert_array_equal(that.ids, one.ids)
    np.testing.assert_array_equal(that.labels, one.labels)
    np.testing.assert_allclose(that.logits.astype(np.float32), one.logits.astype(np.float32), atol=2e-3)
    for name in one.models:
      np.testing.assert_allclose(that.embeddings[name], one.embeddings[name], atol=1e-4)
  for table, keys in (("models.csv", ("accuracy", "temperature")), ("downstream_models.csv", ("downstream",)),
                      ("downstream_pairs.csv", ("downstream",)), ("pairs.csv", ("error_inconsistency",))):
    first, second = rows(tmp / "one" / "report" / table), rows(tmp / other / "report" / table)
    assert len(first) == len(second) > 0
    for a, b in zip(first, second):
      for key in keys:
        assert float(b[key]) == pytest.approx(float(a[key]), abs=1e-3), (table, key)
