"""``python -m launch.zoo import``: a torchvision-format ResNet-50 state dict → a reinit row in timm's format.

The reference is timm itself (tests/timm_reference.py in ``.venv-timm``): a full-size
``resnet50`` with random weights and norm statistics, its logits and pre-logits on a small
batch, and its state-dict shapes. The source files are written here with torch the way the
publishers write theirs: pytorch-ensembles' ``{"state_dict": {"module.<name>": ...}, "epoch", "arch",
"best_acc1", "optimizer"}`` and RRL's ``{"state_dict": {"module.model0.<name>": ...,
"module.classifier.linear.<weight|bias>": ...}, "scheduler": {"milestones": Counter}}``. The imported
row, loaded by ``zoo.load``, must give timm's logits; the recorded sha256 values must be the
files' (hashlib); every user mistake exits 2 with one paragraph and writes nothing.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from absl import flags
from absl.testing import flagsaver
from safetensors.torch import load_file

import zoo
from launch import zoo as launch_zoo
from test_zoo_timm import ROOT, forward, timm_python  # the timm parity harness's helpers
from zoo.converters import torchvision_import

CASE = {"name": "resnet50", "architecture": "resnet50", "kwargs": {}, "resolution": 64, "batch": 2, "calibration": 8}
ROW, RRL_ROW = "resnet50.ens_seed1", "resnet50.rrl_seed3"
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """timm's random-weight resnet50 (save_for_hf), its logits on a batch, and its tensor shapes."""
  out = tmp_path_factory.mktemp("timm_resnet50")
  (out / "cases.json").write_text(json.dumps({"models": [CASE], "shapes": ["resnet50"]}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(ROOT / "tests" / "timm_reference.py"), str(out / "cases.json"), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  if result.returncode != 0:
    pytest.fail(f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}")
  return out


@pytest.fixture(scope="module")
def timm_state(reference):
  return load_file(str(reference / "resnet50" / "model.safetensors"))


def _ensembles_file(path: Path, state: dict) -> Path:
  """As pytorch-ensembles' train_imagenet.py saves a DataParallel torchvision resnet50, in torch's
  pre-1.6 (non-zip) format: the runs are from 2019 (train_imagenet.sh names one by Unix time 1564934041)."""
  momentum = {i: {"momentum_buffer": torch.zeros(1)} for i in range(2)}
  torch.save({"epoch": 130, "arch": "resnet50", "state_dict": {f"module.{k}": v for k, v in state.items()},
              "best_acc1": torch.tensor(75.0), "optimizer": {"state": momentum, "param_groups": [{"lr": 1e-4}]}}, path,
             _use_new_zipfile_serialization=False)
  return path


def _rrl_file(path: Path, state: dict) -> Path:
  """As RRL's supervised.py saves its DDP Kmodel: trunk under model0, head as classifier.linear."""
  renamed = {(f"module.classifier.linear.{k[3:]}" if k.startswith("fc.") else f"module.model0.{k}"): v
             for k, v in state.items()}
  torch.save({"epoch": 90, "state_dict": renamed, "best_acc": torch.tensor(76.0),
              "scheduler": {"milestones": collections.Counter([30, 60, 90]), "gamma": 0.1}}, path)
  return path


@pytest.fixture(scope="module")
def source(tmp_path_factory, timm_state):
  return _ensembles_file(tmp_path_factory.mktemp("source") / "ImageNet-ResNet50-test.pth.tar", timm_state)


def _sha256(path) -> str:
  return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_the_shape_table_is_timms_resnet50(reference):
  timm_shapes = json.loads((reference / "shapes.json").read_text())["resnet50"]
  expected = {n: tuple(s) for n, s in timm_shapes.items() if not n.endswith("num_batches_tracked")}
  assert torchvision_import.resnet50_shapes() == expected


def test_an_imported_row_gives_timms_logits_and_records_both_sha256(reference, source, tmp_path):
  zoo_dir = tmp_path / "zoo"
  result = subprocess.run([sys.executable, "-m", "launch.zoo", "import", f"--source={source}", f"--row={ROW}",
                           f"--zoo_dir={zoo_dir}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  directory = zoo_dir / "paper" / ROW
  record = json.loads((directory / "config.json").read_text())["imported_from"]
  assert record["source_sha256"] == _sha256(source) and record["source_sha256"] in result.stdout
  assert record["safetensors_sha256"] == _sha256(directory / "model.safetensors")
  assert zoo.timm_preprocessing(str(directory)) == zoo.get(ROW).preprocessing  # pretrained_cfg: the row's
  model = zoo.load(zoo.get(ROW), zoo_dir, convert_cache=tmp_path / "cache" / "converted")
  logits, embedding = forward(model, np.load(reference / "resnet50" / "images.npy"))
  for ours, name in ((logits, "logits"), (embedding, "pre_logits")):
    theirs = np.load(reference / "resnet50" / f"{name}.npy")
    relative = float(np.abs(np.asarray(ours) - theirs).max() / np.abs(theirs).max())
    print(f"imported {name}: max relative difference {relative:.1e}")
    assert np.std(theirs) > 1e-2 and relative <= RELATIVE_TOLERANCE, (name, relative)


def _import(capsys, **flag_values) -> tuple[int, str]:
  """launch.zoo's import subcommand in this process; (exit code, stderr)."""
  flags.FLAGS.mark_as_parsed()
  with flagsaver.flagsaver(**{"source": None, "row": ROW, "sha256": None, "overwrite": False, **flag_values}):
    code = launch_zoo.main(["launch.zoo", "import"])
  return code, capsys.readouterr().err


def test_rrl_checkpoints_import_to_the_same_tensors(timm_state, tmp_path, capsys):
  rrl = _rrl_file(tmp_path / "checkpoint_run3.pth.tar", timm_state)
  code, err = _import(capsys, source=str(rrl), row=RRL_ROW, zoo_dir=str(tmp_path / "zoo"))
  assert code == 0, err
  written = load_file(str(tmp_path / "zoo" / "paper" / RRL_ROW / "model.safetensors"))
  assert sorted(written) == sorted(timm_state)
  assert [k for k in timm_state if not torch.equal(written[k], timm_state[k])] == []


def _state_edit(edit):
  def write(path: Path, state: dict) -> Path:
    state = dict(state)
    edit(state)
    return _ensembles_file(path, state)
  return write


def _raw(content: bytes):
  def write(path: Path, state: dict) -> Path:
    path.write_bytes(content)
    return path
  return write


def _saved(obj):
  def write(path: Path, state: dict) -> Path:
    torch.save(obj(state), path)
    return path
  return write


BAD_SOURCES = {
    "missing file": (None, ["no file", "missing.pth"]),
    "text file": (_raw(b"not a checkpoint\n"), ["weights_only=True"]),
    "no state dict": (_saved(lambda s: {"epoch": 3, "best_acc1": 1.0}), ["not a state dict", "best_acc1", "epoch"]),
    "pickled object": (_saved(lambda s: {"state_dict": s, "args": argparse.Namespace(lr=0.1)}),
                       ["weights_only=True", "Namespace", "bare state dict"]),
    "missing tensor": (_state_edit(lambda s: s.pop("layer2.0.conv2.weight")), ["1 missing", "layer2.0.conv2.weight"]),
    "unexpected tensor": (_state_edit(lambda s: s.update({"layer1.0.extra.weight": torch.ones(3)})),
                          ["1 unexpected", "layer1.0.extra.weight"]),
    "misshapen tensor": (_state_edit(lambda s: s.update({"fc.weight": s["fc.weight"][:5]})),
                         ["misshapen", "fc.weight (5, 2048)", "(1000, 2048)"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SOURCES))
def test_a_bad_source_exits_2_naming_it_and_writes_nothing(case, timm_state, tmp_path, capsys):
  write, expected = BAD_SOURCES[case]
  path = tmp_path / "missing.pth"
  if write:
    path = write(tmp_path / "bad.pth", timm_state)
  code, err = _import(capsys, source=str(path), zoo_dir=str(tmp_path / "zoo"))
  _assert_refused(code, err, expected)
  assert not (tmp_path / "zoo").exists() or not any((tmp_path / "zoo").rglob("*"))


def _assert_refused(code, err, expected):
  assert code == 2
  message = err.strip()
  assert message.startswith("launch.zoo import:") and "\n\n" not in message and "Traceback" not in message, message
  for part in expected:
    assert part in message, (part, message)


@pytest.mark.parametrize("row,expected", [("resnet50.nope", ["resnet50.nope", "resnet50.ens_seed1"]),
                                          ("resnet50.a1_in1k", ["resnet50.a1_in1k", "IMPORTED"])])
def test_a_row_that_import_does_not_fill_is_refused(row, expected, source, tmp_path, capsys):
  code, err = _import(capsys, source=str(source), row=row, zoo_dir=str(tmp_path / "zoo"))
  _assert_refused(code, err, expected)
  assert not (tmp_path / "zoo").exists()


def test_an_existing_row_is_replaced_only_with_overwrite_and_a_wrong_sha256_stops(source, tmp_path, capsys):
  directory = tmp_path / "zoo" / "paper" / ROW
  directory.mkdir(parents=True)
  (directory / "mine.txt").write_text("keep")
  code, err = _import(capsys, source=str(source), zoo_dir=str(tmp_path / "zoo"))
  _assert_refused(code, err, [str(directory), "--overwrite"])
  code, err = _import(capsys, source=str(source), zoo_dir=str(tmp_path / "zoo"), overwrite=True, sha256="0" * 64)
  _assert_refused(code, err, ["sha256", "0" * 64, _sha256(source)])
  assert [p.name for p in directory.iterdir()] == ["mine.txt"]
  code, err = _import(capsys, source=str(source), zoo_dir=str(tmp_path / "zoo"), overwrite=True,
                      sha256=_sha256(source))
  assert code == 0, err
  assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
  assert [p.name for p in directory.parent.iterdir()] == [ROW]  # no staging directory left behind


def test_without_torch_it_says_to_install_the_import_extra(source, tmp_path):
  blocker = tmp_path / "site"
  blocker.mkdir()
  (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = None  # as if torch were absent\n")
  env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{ROOT}"}
  result = subprocess.run([sys.executable, "-m", "launch.zoo", "import", f"--source={source}", f"--row={ROW}",
                           f"--zoo_dir={tmp_path / 'zoo'}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
  _assert_refused(result.returncode, result.stderr, [".[import]", "torch==2.13.0"])
  assert not (tmp_path / "zoo").exists()


def test_the_paper_config_studies_the_reinit_rows_whose_weights_are_imported(source, tmp_path, capsys):
  from launch.study import config as config_lib
  zoo_dir = tmp_path / "zoo"
  config, _ = config_lib.load(f"paper:zoo_dir={zoo_dir}")
  out = capsys.readouterr().out
  assert len(out.strip().splitlines()) == 1 and "20 reinit rows" in out and "launch.zoo import" in out, out
  names = config_lib.validate(config)
  assert not [n for n in names if n.startswith(("resnet50.tv_seed", "resnet50.ens_seed", "resnet50.rrl_seed"))]
  for row in ("resnet50.ens_seed1", "resnet50.ens_seed2"):
    assert _import(capsys, source=str(source), row=row, zoo_dir=str(zoo_dir))[0] == 0
  config, _ = config_lib.load(f"paper:zoo_dir={zoo_dir},base=resnet50.ens_seed1,calibration=5000")
  assert "18 reinit rows" in capsys.readouterr().out and config.zoo_dir == str(zoo_dir)
  names = config_lib.validate(config)
  assert names[0] == "resnet50.ens_seed1" and "resnet50.ens_seed2" in names and "resnet50.base" in names
  categories = {n: zoo.pair_category(zoo.get(names[0]), zoo.get(n)) for n in names[1:]}
  assert [n for n, c in categories.items() if c == "reinit"] == ["resnet50.ens_seed2"]
  assert categories["resnet50.base"] == "hyper-parameters"  # another recipe: 90 epochs, not 130
  assert config.calibration_split == "train[-5000:]"
  with pytest.raises(config_lib.ConfigError, match="base=resnet50.rrl_seed0.*launch.zoo import"):
    config_lib.load(f"paper:zoo_dir={zoo_dir},base=resnet50.rrl_seed0")
