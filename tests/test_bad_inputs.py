"""A user's mistakes, table-driven, across the four commands (issue 27): every bad input
exits 2 with one paragraph on stderr that names what is wrong, no traceback, and nothing
written (every file of the sandbox the commands run in is unchanged: a given file, a
user's directory, the cache).

Each command's cases run in one process (tests/jobs/bad_inputs_job.py calls its main()
as ``python -m`` would: the commands' flags cannot share one process); a few run as real
subprocesses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
STUDY = ["--config=fashion_mnist.py:smoke", "--cache_dir=cache", "--out=report"]
EVALUATE = ["--models=cnn.s0", "--out=store_out", "--zoo_dir=zoo", "--split=test[:100]"]
NPZ = ["--train=train.npz", "--val=val.npz", "--test=test.npz", "--out=probe_out"]

# One bad override every config-reading command refuses with the same message (launch.configs):
# (command, the command's own valid arguments).
SAME_OVERRIDE = "--set=nosuchfield=1"
CONFIG_COMMANDS = {"study": STUDY, "evaluate": EVALUATE, "probe": [*NPZ, "--models=a,b"]}

# (command, argv, a word the message must hold)
CASES = [
    *[(command, [*argv, SAME_OVERRIDE], "nosuchfield") for command, argv in CONFIG_COMMANDS.items()],
    # launch.study: flags, config fields, splits, paths
    ("study", ["--bogus"], "bogus"),
    ("study", [*STUDY, "extra"], "unexpected arguments"),
    ("study", ["--config=/nonexistent/config.py"], "no config file"),
    ("study", ["--config=fashion_mnist.py:nope"], "get_config"),
    ("study", [*STUDY, "--set=nosuchfield=1"], "nosuchfield"),
    ("study", [*STUDY, "--set=epochs=two"], "epochs"),
    ("study", [*STUDY, "--set=epochs=0"], "epochs"),
    ("study", [*STUDY, "--set=replicates=0"], "replicates"),
    ("study", [*STUDY, "--set=sections.mixing.rates=2.0,-1.0"], "sections.mixing.rates"),
    ("study", [*STUDY, "--set=test_split=test[2000:1000]"], "test_split"),
    ("study", [*STUDY, "--set=test_split=test[:5]"], "sections.similarity.k"),
    ("study", [*STUDY, "--set=calibration_split=train[59999:]"], "calibration_split"),
    ("study", [*STUDY, "--set=selection_split=train[1:1]"], "selection_split"),
    ("study", [*STUDY, "--set=test_split=tset"], "test_split"),
    ("study", [*STUDY, "--set=sections.greedy.starts=-1"], "sections.greedy.starts"),
    ("study", [*STUDY, "--set=sections.similarity.k=1"], "sections.similarity.k"),
    ("study", [*STUDY, "--set=base=nonexistent"], "base"),
    ("study", [*STUDY, "--set=models=nomatch*"], "models"),
    ("study", [*STUDY, "--set=dataset=no_such_dataset"], "dataset"),
    ("study", [*STUDY, "--set=precision=float8"], "precision"),
    ("study", [*STUDY, "--set=accuracy_band=0"], "accuracy_band"),
    ("study", [*STUDY, "--set=accuracy_band=inf"], "accuracy_band"),
    ("study", [*STUDY, "--set=probe_l2_grid=-1"], "probe_l2_grid"),
    ("study", [*STUDY, "--set=probe_l2_grid=0"], "probe_l2_grid"),
    ("study", [*STUDY, "--set=sections.mixing.diversity_target=2"], "sections.mixing.diversity_target"),
    ("study", [*STUDY, "--set=batch_size=0"], "batch_size"),
    ("study", [*STUDY, "--set=train_threads=0"], "train_threads"),
    ("study", [*STUDY, "--set=pretrain_examples=0"], "pretrain_examples"),
    ("study", [*STUDY, "--set=linear_probe.validation_fraction=1.5"], "validation_fraction"),
    ("study", [*STUDY, "--set=sections.specialisation.class_groups=bad"],
     "sections.specialisation.class_groups"),
    ("study", [*STUDY, "--set=greedy_steps=3"], "moved to 'sections.greedy.steps'"),  # an old flat name
    ("study", [*STUDY, "--set=sections.greedy.steps=0"], "--set sections.greedy.steps=5 (its default)"),
    ("study", [*STUDY, "--set=sections.similarity.seed=-1"], "sections.similarity.seed"),
    ("study", [*STUDY, "--set=calibration_split=test[:500]"], "share"),
    ("study", [*STUDY, "--out=a_file"], "a_file"),
    ("study", [*STUDY, "--out=user_dir"], "chapter1.tex"),
    ("study", [*STUDY, "--out=report_plus_notes"], "notes.txt"),
    ("study", [*STUDY, "--out=outer", "--cache_dir=outer/cache"], "holds the cache"),
    ("study", [*STUDY, "--out=report", "--cache_dir=a_file"], "cache_dir"),
    ("study", [*STUDY, "--out=a_file/report"], "a_file"),
    ("study", [*STUDY, "--data_dir=/nonexistent"], "/nonexistent"),
    ("study", [*STUDY, "--data_dir=a_file"], "a_file"),
    ("study", [*STUDY, "--num_processes=two"], "num_processes"),
    # launch.evaluate
    ("evaluate", ["--bogus"], "bogus"),
    ("evaluate", ["--out=store_out"], "--models"),
    ("evaluate", ["--models=cnn.s0"], "--out"),
    ("evaluate", [*EVALUATE, "positional"], "unexpected arguments"),
    ("evaluate", [*EVALUATE, "--models=no_such_model"], "no_such_model"),
    ("evaluate", [*EVALUATE, "--split=test[2000:1000]"], "split"),
    ("evaluate", [*EVALUATE, "--split=nosplit"], "nosplit"),
    ("evaluate", [*EVALUATE, "--dataset=no_such_dataset"], "no_such_dataset"),
    ("evaluate", [*EVALUATE, "--batch_size=0"], "batch_size"),
    ("evaluate", [*EVALUATE, "--batch_size=abc"], "batch_size"),
    ("evaluate", [*EVALUATE, "--chunk_batches=0"], "chunk_batches"),
    ("evaluate", [*EVALUATE, "--precision=float8"], "precision"),
    ("evaluate", [*EVALUATE, "--out=a_file"], "a_file"),
    ("evaluate", [*EVALUATE, "--zoo_dir=/nonexistent"], "zoo_dir"),
    ("evaluate", [*EVALUATE, "--zoo_dir=a_file"], "zoo_dir"),
    ("evaluate", [*EVALUATE, "--zoo_dir=empty_dir"], "cnn.s0"),
    ("evaluate", [*EVALUATE, "--data_dir=/nonexistent"], "/nonexistent"),
    ("evaluate", [*EVALUATE, "--data_dir=truncated_idx"], "truncated"),
    ("evaluate", [*EVALUATE, "--config=/nonexistent/config.py"], "config"),
    ("evaluate", [*EVALUATE, "--set=batch_size=two"], "batch_size"),
    ("evaluate", [*EVALUATE, "--set=batch_size=0"], "batch_size"),
    ("evaluate", [*EVALUATE, "--set=precision=float8"], "precision"),
    # launch.probe
    ("probe", ["--bogus"], "bogus"),
    ("probe", [*NPZ], "models"),
    ("probe", ["--models=a"], "--store"),
    ("probe", [*NPZ, "--models=a", "positional"], "unexpected arguments"),
    ("probe", [*NPZ, "--models=a", "--experiment=concat"], "two models"),
    ("probe", [*NPZ, "--models=a", "--experiment=mixing"], "two models"),
    ("probe", [*NPZ, "--models=a,a"], "twice"),
    ("probe", [*NPZ, "--models=a,b", "--l2_grid=-1"], "l2_grid"),
    ("probe", [*NPZ, "--models=a,b", "--l2_grid=abc"], "l2_grid"),
    ("probe", [*NPZ, "--models=a,b", "--rates=2"], "rates"),
    ("probe", [*NPZ, "--models=a,b", "--seeds=0"], "seeds"),
    ("probe", [*NPZ, "--models=a,b", "--step=0"], "step"),
    ("probe", [*NPZ, "--models=a,b", "--experiment=nosuch"], "experiment"),
    ("probe", [*NPZ, "--models=a,b", "--protocol=bad"], "protocol"),
    ("probe", ["--models=a,b", "--store=/nonexistent", "--splits=test,test,test"], "/nonexistent"),
    ("probe", ["--models=a,b", "--store=a_file", "--splits=test,test,test"], "a_file"),
    ("probe", ["--models=a,b", "--store=store", "--splits=test,test"], "splits"),
    ("probe", ["--models=a,b", "--store=store", "--splits=x,y,z", "--out=probe_out"], "x"),
    ("probe", ["--models=a,zz", "--store=store", "--splits=test,test,test", "--out=probe_out"], "zz"),
    ("probe", ["--models=a,b", "--train=missing.npz", "--val=val.npz", "--test=test.npz"], "missing.npz"),
    ("probe", ["--models=a,b", "--train=not_npz.npz", "--val=val.npz", "--test=test.npz"], "not_npz.npz"),
    ("probe", ["--models=a,b", "--train=no_labels.npz", "--val=val.npz", "--test=test.npz"], "labels"),
    ("probe", [*NPZ, "--models=a,c"], "'c'"),
    ("probe", [*NPZ, "--models=a,b", "--out=a_file"], "a_file"),
    ("probe", [*NPZ, "--models=a,b", "--experiment=diversity", "--step=100000"], "step"),
    ("probe", [*NPZ, "--models=a,b", "--set=seeds=two"], "seeds"),
    ("probe", [*NPZ, "--models=a,b", "--set=seeds=0"], "seeds"),
    ("probe", [*NPZ, "--models=a,b", "--set=experiment=nosuch"], "experiment"),
    ("probe", [*NPZ, "--models=a,b", "--config=/nonexistent/config.py"], "no config file"),
    # launch.zoo
    ("zoo", [], "usage"),
    ("zoo", ["lst"], "usage"),
    ("zoo", ["list", "--bogus"], "bogus"),
    ("zoo", ["list", "--catalog=nosuch"], "nosuch"),
    ("zoo", ["list", "--pattern=zzz*"], "zzz"),
    ("zoo", ["list", "--base=nosuch"], "nosuch"),
    ("zoo", ["list", "--category=nosuch"], "category"),
    ("zoo", ["list", "extra"], "usage"),
    ("zoo", ["list", "--debug=maybe"], "debug"),
]
MODULES = {"study": "launch.study.__main__", "evaluate": "launch.evaluate", "probe": "launch.probe",
           "zoo": "launch.zoo"}


def make_sandbox(root: Path) -> Path:
  """The files the cases name: a file, a user's directory, an empty directory, .npz features,
  a small store, a zoo with cnn.s0's checkpoint, a truncated IDX file."""
  import zoo
  from launch import store
  from launch.study import validate
  (root / "a_file").write_text("a user's file\n")
  (root / "user_dir").mkdir()
  (root / "user_dir" / "chapter1.tex").write_text("\\chapter{One}\n")
  (root / "empty_dir").mkdir()
  (root / "report_plus_notes").mkdir()  # a previous report, and a file the user added to it
  (root / "report_plus_notes" / "report.md").write_text("# a report\n")
  validate.write_marker(root / "report_plus_notes")
  (root / "report_plus_notes" / "notes.txt").write_text("mine\n")
  (root / "cache").mkdir()
  rng = np.random.default_rng(0)
  for split in ("train", "val", "test"):
    np.savez(root / f"{split}.npz", labels=rng.integers(0, 3, 40), emb_a=rng.normal(size=(40, 4)),
             emb_b=rng.normal(size=(40, 3)))
  np.savez(root / "no_labels.npz", emb_a=rng.normal(size=(40, 4)), emb_b=rng.normal(size=(40, 3)))
  (root / "not_npz.npz").write_text("not a zip")
  for model, width in (("a", 4), ("b", 3)):
    writer = store.ChunkWriter(root / "store", "fashion_mnist", "test", model, {"weights_sha256": model}, 40, 40)
    writer.write_chunk(0, {"logits": rng.normal(size=(40, 3)), "embeddings": rng.normal(size=(40, width)),
                           "labels": np.arange(40) % 3, "ids": np.arange(40)})
  zoo.save_weights(zoo.get("cnn.s0"), zoo.build(zoo.get("cnn.s0")), root / "zoo")
  (root / "truncated_idx").mkdir()
  header = bytes([0, 0, 8, 3]) + (10000).to_bytes(4, "big") + (28).to_bytes(4, "big") + (28).to_bytes(4, "big")
  (root / "truncated_idx" / "t10k-images-idx3-ubyte").write_bytes(header + bytes(1000))
  (root / "truncated_idx" / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + (10000).to_bytes(4, "big"))
  return root


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
  """Every case's outcome: (command, argv) → {status, stdout, stderr, changed}."""
  sandbox = tmp_path_factory.mktemp("bad_inputs") / "sandbox"
  sandbox.mkdir()
  make_sandbox(sandbox)
  jobs = {}
  for command, module in MODULES.items():  # the four commands at once (two cores; mostly imports), each in
    path = sandbox.parent / f"{command}_cases.json"  # its own copy of the sandbox (a write test there is transient)
    shutil.copytree(sandbox, sandbox.parent / command, symlinks=True)
    path.write_text(json.dumps([argv for c, argv, _ in CASES if c == command]))
    jobs[command] = subprocess.Popen([sys.executable, str(ROOT / "tests" / "jobs" / "bad_inputs_job.py"), module,
                                      command, str(path), str(sandbox.parent / command)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
  results = {}
  for command, job in jobs.items():
    stdout, stderr = job.communicate(timeout=900)
    lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    assert len(lines) == sum(1 for c, _, _ in CASES if c == command), stderr[-3000:]
    for line in lines:
      results[(command, tuple(line["argv"]))] = line
  return results


@pytest.mark.parametrize("command,argv,word", CASES, ids=[f"{c}:{' '.join(a[-1:])}" for c, a, _ in CASES])
def test_a_bad_input_exits_2_with_one_paragraph_and_writes_nothing(outcomes, command, argv, word):
  outcome = outcomes[(command, tuple(argv))]
  stderr = outcome["stderr"].strip()
  assert outcome["status"] == 2, (outcome["status"], stderr[-2000:], outcome["stdout"][-500:])
  assert "Traceback" not in stderr + outcome["stdout"]
  assert stderr.startswith(f"overlap {command}: ") and "\n\n" not in stderr, stderr
  assert len(stderr.splitlines()) == 1, stderr  # one paragraph, on one line
  assert word.lower() in stderr.lower(), stderr
  assert outcome["changed"] == [], outcome["changed"]


def test_the_three_config_commands_refuse_one_bad_override_with_one_message(outcomes):
  """launch.study, launch.evaluate and launch.probe read configs by one mechanism: the same
  --set mistake gets the same sentence, apart from the list of each command's own fields."""
  messages = {}
  for command, argv in CONFIG_COMMANDS.items():
    stderr = outcomes[(command, tuple([*argv, SAME_OVERRIDE]))]["stderr"].strip()
    assert stderr.startswith(f"overlap {command}: "), stderr
    sentence, _, fields = stderr.removeprefix(f"overlap {command}: ").partition(" one of ")
    assert fields and "nosuchfield" not in fields, stderr
    messages[command] = sentence
  assert set(messages.values()) == {"--set 'nosuchfield=1': expected key=value with key"}, messages


_CONFIG_FILE_CHECK = """
import sys
import pytest
from absl import flags
from launch import configs
import launch.probe  # defines the probe's flags (its own process: launch.zoo / launch.evaluate define --config too)
config, fields = sys.argv[1], ("models", "seeds", "experiment", "out")
flags.FLAGS(["launch.probe", "--out=mine"])  # --out given on the command line, the rest left to the file and --set
settings = configs.flag_settings(fields, config + ":2", ["experiment=concat"], "the probe's flags")
assert settings == {"models": ["a", "b"], "seeds": 2, "experiment": "concat", "out": "mine"}, settings
open(config, "w").write("def get_config():\\n  return {'seeds': 'two'}\\n")
with pytest.raises(configs.ConfigError, match=r"config field 'seeds' \\(in .*probe_config.py\\) must be a int"):
  configs.flag_settings(fields, config, [], "the probe's flags")
with pytest.raises(configs.ConfigError, match="positive integer"):
  configs.flag_settings(fields, None, ["seeds=0"], "the probe's flags")
print("checked")
"""


def test_a_config_file_feeds_evaluate_and_probe_like_the_study(tmp_path):
  """The shared loader: a file's fields are typed by each command's fields, an unknown field is
  refused with the study's wording, and a flag given on the command line wins over the file.
  In a process of its own: the commands' flags (--config in each) cannot share one."""
  config = tmp_path / "probe_config.py"
  config.write_text("def get_config(arg):\n  return {'models': ['a', 'b'], 'seeds': int(arg), 'experiment': 'mixing'}\n")
  result = subprocess.run([sys.executable, "-c", _CONFIG_FILE_CHECK, str(config)], capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0 and "checked" in result.stdout, result.stderr[-3000:]


def test_there_are_at_least_60_cases_across_the_four_commands():
  per_command = {c: sum(1 for case in CASES if case[0] == c) for c in MODULES}
  assert sum(per_command.values()) >= 60 and min(per_command.values()) >= 8, per_command


@pytest.mark.parametrize("command", list(MODULES))
def test_an_unknown_flag_exits_2_as_a_real_command(command, tmp_path):
  """As the README promises: a real ``python -m launch.<command> --no_such_flag`` exits 2, one line, no traceback."""
  args = ["list"] if command == "zoo" else []
  done = subprocess.run([sys.executable, "-m", MODULES[command].removesuffix(".__main__"), *args, "--no_such_flag"],
                        capture_output=True, text=True, cwd=tmp_path, timeout=300,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
  assert done.returncode == 2, done.stderr[-2000:]
  assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "no_such_flag" in done.stderr
  assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []


def test_debug_shows_the_traceback(tmp_path):
  done = subprocess.run([sys.executable, "-m", "launch.zoo", "list", "--base=nosuch", "--debug"],
                        capture_output=True, text=True, cwd=tmp_path, timeout=300,
                        env={**os.environ, "PYTHONPATH": str(ROOT)})
  assert done.returncode != 0 and "Traceback" in done.stderr
