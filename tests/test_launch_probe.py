"""launch.probe end to end on small synthetic embeddings (subprocess, as a user runs it)."""

import csv
import subprocess
import sys

import numpy as np


def write_splits(tmp_path, rng):
  centers = rng.normal(size=(3, 16))
  paths = []
  for split, size in (("train", 150), ("val", 60), ("test", 60)):
    labels = rng.integers(0, 3, size)
    signal = centers[labels]
    np.savez(tmp_path / f"{split}.npz", labels=labels, ids=np.arange(size),
             emb_a=signal[:, :8] + rng.normal(size=(size, 8)), emb_b=signal[:, 8:] + rng.normal(size=(size, 12))[:, :8])
    paths.append(str(tmp_path / f"{split}.npz"))
  return paths


def run(args):
  return subprocess.run([sys.executable, "-m", "launch.probe", *args], capture_output=True, text=True, timeout=900)


def test_mixing_experiment_writes_table_and_figure(tmp_path, rng):
  train, val, test = write_splits(tmp_path, rng)
  out = tmp_path / "out"
  result = run([f"--train={train}", f"--val={val}", f"--test={test}", "--models=a,b", "--experiment=mixing",
                "--rates=1,0.5,0", "--seeds=2", "--l2_grid=0.01,1", f"--out={out}"])
  assert result.returncode == 0, result.stderr[-2000:]
  rows = list(csv.DictReader(open(out / "probe_mixing.csv")))
  assert len(rows) == 3 * 2
  assert {float(r["base_rate"]) for r in rows} == {1.0, 0.5, 0.0}
  assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
  assert {int(r["dims"]) for r in rows if float(r["base_rate"]) == 1.0} == {8}
  assert (out / "probe_mixing.png").stat().st_size > 1000


def test_missing_model_is_named(tmp_path, rng):
  train, val, test = write_splits(tmp_path, rng)
  result = run([f"--train={train}", f"--val={val}", f"--test={test}", "--models=a,zzz", f"--out={tmp_path}"])
  assert result.returncode != 0
  assert "no embeddings of model 'zzz'" in result.stderr and "['a', 'b']" in result.stderr


def test_reads_embeddings_from_the_result_store(tmp_path, rng):
  from launch import store
  centers = rng.normal(size=(3, 6))
  for split, size in (("train", 90), ("val", 30), ("test", 30)):
    labels = rng.integers(0, 3, size)
    for model in ("a", "b"):
      writer = store.ChunkWriter(tmp_path / "store", "toy", split, model, {}, size, size)
      writer.write_chunk(0, {"logits": rng.normal(size=(size, 3)), "labels": labels, "ids": np.arange(size),
                             "embeddings": centers[labels] + rng.normal(size=(size, 6))})
  result = run([f"--store={tmp_path / 'store'}", "--dataset=toy", "--splits=train,val,test", "--models=a,b",
                "--experiment=concat", "--l2_grid=0.1", f"--out={tmp_path / 'out'}"])
  assert result.returncode == 0, result.stderr[-2000:]
  rows = list(csv.DictReader(open(tmp_path / "out" / "probe_concat.csv")))
  assert [r["features"] for r in rows] == ["a+b"] and float(rows[0]["score"]) > 0.6
