"""Study configs: loading FILE.py[:ARG], strict typed --set, and bad configs refused as one
paragraph naming the field and the fix, with nothing written (exit status 2 from the CLI)."""

import re
import subprocess
import sys
import textwrap

import pytest

from launch.study import config as config_lib
from launch.study import pipeline


def write_config(tmp_path, body: str, name="study_config.py"):
  path = tmp_path / name
  path.write_text("import ml_collections\n\ndef get_config(arg='default'):\n" + textwrap.indent(
      textwrap.dedent(body), "  "))
  return path


GOOD = """
return ml_collections.ConfigDict(dict(
    zoo_modules=('zoo.catalogs.small',), catalog='small', models='cnn.s0,mlp.s0', base='cnn.s0',
    dataset='fashion_mnist', calibration_split='train[59000:]', test_split='test[:100]'))
"""


def test_builtin_configs_load_with_their_arguments():
  default, source = config_lib.load(None)
  assert source.endswith("fashion_mnist.py:default") and default.base == "cnn.s0" and default.epochs == 2
  assert (default.selection_split, default.calibration_split, default.test_split) == (
      "train[45000:55000]", "train[55000:]", "test")
  smoke, _ = config_lib.load("fashion_mnist.py:smoke")
  assert smoke.epochs == 1 and smoke.test_split == "test[:1000]" and smoke.batch_size == default.batch_size
  paper, _ = config_lib.load("paper")
  assert (paper.base, paper.dataset, paper.sections.downstream.dataset) == ("resnet50.base", "imagenet2012",
                                                                     "voc/2007")
  assert paper.calibration_split == "train[-10000:]" and paper.test_split == "validation"
  assert config_lib.load("paper:calibration=5000")[0].calibration_split == "train[-5000:]"
  assert config_lib.class_groups(paper.sections.specialisation.class_groups) == [("nature (animals)", 0, 398),
                                                                                 ("man-made", 398, 1000)]


def test_set_parses_strictly_by_the_fields_type():
  config, _ = config_lib.load("fashion_mnist.py:smoke")
  config.update({"name": "x"})
  parsed = config_lib.apply_overrides(config, [
      "epochs=3", "sections.mixing.diversity_target=0.5", "sections.mixing.rates=1,0.25", "models=cnn.*,mlp.s0",
      "zoo_modules=", "sections.downstream.dataset=voc/2007", "probe_l2_grid=1e-3"])
  assert parsed.epochs == 3 and isinstance(parsed.epochs, int)
  assert parsed.sections.mixing.diversity_target == 0.5 and parsed.sections.mixing.rates == (1.0, 0.25)
  assert parsed.models == "cnn.*,mlp.s0" and parsed.zoo_modules == ()
  assert parsed.sections.downstream.dataset == "voc/2007"
  assert parsed.probe_l2_grid == (1e-3,)
  assert config.epochs == 1  # a copy: the input is not modified
  assert config_lib.parse_value("flag", False, "true") is True
  assert config_lib.parse_value("flag", True, "false") is False
  for bad in ("False", "1", "yes", ""):
    with pytest.raises(config_lib.ConfigError, match="flag is a boolean; write true or false"):
      config_lib.parse_value("flag", True, bad)
  with pytest.raises(config_lib.ConfigError, match="epochs is an integer"):
    config_lib.apply_overrides(config, ["epochs=2.5"])
  with pytest.raises(config_lib.ConfigError, match="expected key=value with key one of"):
    config_lib.apply_overrides(config, ["epoch=2"])
  with pytest.raises(config_lib.ConfigError, match="expected key=value"):
    config_lib.apply_overrides(config, ["epochs"])


@pytest.mark.parametrize("body, overrides, message", [
    (GOOD.replace("base='cnn.s0',", "base='cnn.s0', epoch=3,"), [], "config field 'epoch' (in "),
    (GOOD.replace("base='cnn.s0',", ""), [], "config field 'base' must be set"),
    (GOOD, ["base=cnn.s1"], "config field 'base': 'cnn.s1' is not among the models"),
    (GOOD, ["dataset=imagenet9"], "config field 'dataset': no dataset 'imagenet9'"),
    (GOOD, ["test_split=test[:10"], "config field 'test_split': 'test[:10' is not a split in TFDS syntax"),
    (GOOD, ["sections.downstream.dataset=voc/2007", "sections.downstream.val_split=val[a:b]"],
     "config field 'sections.downstream.val_split'"),
    (GOOD, ["zoo_modules=no_such_module_xyz"], "config field 'zoo_modules': importing 'no_such_module_xyz' failed"),
    (GOOD, ["models=cnn.s0,resnet999*"], "config field 'models': ['resnet999*'] match no registered model"),
    (GOOD, ["precision=float16"], "config field 'precision'"),
    (GOOD, ["zero_shot_class_names=wordnet"], "config field 'zero_shot_class_names'"),
    (GOOD, ["exclude_models=cnn.s0"], "config field 'base': 'cnn.s0' is not among the models ['mlp.s0']"),
    (GOOD, ["catalog=paper", "zoo_modules=zoo.catalogs.paper", "models=resnet50.base,dino_*", "base=resnet50.base"],
     "config field 'linear_probe.split': ['dino_vitb16.in1k', 'dino_vits16.in1k'] have no classifier (head "
     "'linear-probe')"),
    ("return ml_collections.ConfigDict(dict(sections=dict(downstream=dict(datset='voc/2007'))))", [],
     "config field 'sections.downstream.datset'"),
    ("return ml_collections.ConfigDict(dict(sections=dict(greedy=dict(steps='3'))))", [],
     "config field 'sections.greedy.steps' (in "),
    # A setting that moved into its section's sub-config: the old flat name names the new place.
    (GOOD.replace("base='cnn.s0',", "base='cnn.s0', greedy_steps=3,"), [],
     "has moved to 'sections.greedy.steps': it belongs to the 'greedy' section"),
    (GOOD.replace("base='cnn.s0',", "base='cnn.s0', similarity=dict(k=5),"), [],
     "has moved to 'sections.similarity': it belongs to the 'similarity' section"),
    (GOOD, ["downstream.dataset=voc/2007"], "config field 'downstream.dataset' (in --set downstream.dataset=voc/2007) "
     "has moved to 'sections.downstream.dataset'"),
    # Splits of one dataset must not share examples (sizes of fashion_mnist known: 60,000 / 10,000).
    (GOOD, ["selection_split=train[58000:59500]"], "config fields 'selection_split' ('train[58000:59500]') and "
     "'calibration_split' ('train[59000:]') share 500 examples of fashion_mnist"),
    (GOOD, ["selection_split=test[50:200]"], "config fields 'selection_split' ('test[50:200]') and 'test_split' "
     "('test[:100]') share 50 examples"),
    (GOOD, ["calibration_split=train[-1000:]", "selection_split=train[58500:59500]"],
     "config fields 'selection_split' ('train[58500:59500]') and 'calibration_split' ('train[-1000:]') share 500"),
    (GOOD, ["train_split=train[:59001]"], "config fields 'calibration_split' ('train[59000:]') and 'train_split' "
     "('train[:59001]') share 1 examples"),
    (GOOD, ["test_split=train[:10%]+test[:10]", "train_split=train[5000:9000]"],
     "config fields 'test_split' ('train[:10%]+test[:10]') and 'train_split' ('train[5000:9000]') share 1000"),
])
def test_bad_config_is_one_paragraph_naming_the_field_and_writes_nothing(tmp_path, body, overrides, message):
  path = write_config(tmp_path, body)
  with pytest.raises(config_lib.ConfigError) as error:
    config, _ = config_lib.load(str(path))
    pipeline.run(config_lib.apply_overrides(config, overrides), tmp_path / "out", cache_dir=tmp_path / "cache")
  assert message in str(error.value) and "\n" not in str(error.value)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["study_config.py"]


def test_every_old_flat_name_is_refused_naming_its_new_place():
  """config.MOVED: each old name is no study-wide field any more, its new place is a field of
  its section's sub-config, and a config file or --set using it is a ConfigError naming that place."""
  defaults = config_lib.defaults()
  assert {"greedy_steps", "mixing_rates", "probe_iterations", "theta_bins", "downstream", "similarity"} <= set(
      config_lib.MOVED)
  for old, new in config_lib.MOVED.items():
    assert old not in defaults and new.startswith("sections.")
    config_lib.value_of(defaults, new)  # a KeyError if the table names a place that does not exist
    moved = f"has moved to {new!r}"
    with pytest.raises(config_lib.ConfigError, match=re.escape(f"config field {old!r} (in my.py) {moved}")):
      config_lib.merge({old: 1}, "my.py")
    leaf = old if "." in new[len("sections."):] else f"{old}.k"
    with pytest.raises(config_lib.ConfigError, match=re.escape(f"(in --set {leaf}=1) has moved to")):
      config_lib.apply_overrides(defaults, [f"{leaf}=1"])


def test_failing_zoo_module_file_is_named(tmp_path):
  module = tmp_path / "my_rows.py"
  module.write_text("raise RuntimeError('broken registration')\n")
  config, _ = config_lib.load(str(write_config(tmp_path, GOOD)))
  with pytest.raises(config_lib.ConfigError, match=r"importing '.*my_rows.py' failed \(RuntimeError: broken"):
    pipeline.run(config_lib.apply_overrides(config, [f"zoo_modules={module}"]), tmp_path / "out",
                 cache_dir=tmp_path / "cache")
  assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


@pytest.mark.parametrize("args, message", [
    (["--config=/nonexistent/cfg.py"], "no config file /nonexistent/cfg.py"),
    (["--config=fashion_mnist.py:smoke", "--set", "base=mlp.s0", "--set", "models=cnn.s0"],
     "config field 'base': 'mlp.s0' is not among the models"),
    (["--config=fashion_mnist.py:smoke", "--set", "epochs=two"], "epochs is an integer"),
    (["--config=fashion_mnist.py:smoke", "--set", "selection_split=train[58500:59500]"],
     "config fields 'selection_split' ('train[58500:59500]') and 'calibration_split' ('train[59000:]') share 500"),
])
def test_cli_exits_2_with_one_paragraph(tmp_path, args, message):
  result = subprocess.run([sys.executable, "-m", "launch.study", *args, f"--out={tmp_path / 'out'}",
                           f"--cache_dir={tmp_path / 'cache'}"], capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, (result.stdout[-1000:], result.stderr[-2000:])
  assert message in result.stderr and "Traceback" not in result.stderr
  assert result.stderr.strip().count("\n") == 0 and not list(tmp_path.iterdir())


def test_split_overlap_on_a_dataset_of_unknown_size():
  """ImageNet's sizes are unknown offline: slices from the end are still compared exactly,
  and the paper's selection slice sits just before its calibration slice."""
  config, _ = config_lib.load("paper.py")
  assert config.selection_split == "train[-20000:-10000]" and config.calibration_split == "train[-10000:]"
  config_lib.check_disjoint_splits(config)
  config.selection_split = "train[-15000:-5000]"
  with pytest.raises(config_lib.ConfigError, match="'selection_split' .* and 'calibration_split' .* share 5000"):
    config_lib.check_disjoint_splits(config)
  config.selection_split = "validation[:100]"
  with pytest.raises(config_lib.ConfigError, match="'selection_split' .* and 'test_split' .* share 100"):
    config_lib.check_disjoint_splits(config)
  # The paper's rows are pretrained elsewhere: its train_split ("train") is no study split.
  assert config.train_split == "train"
  config.selection_split = "train[-20000:-10000]"
  config_lib.check_disjoint_splits(config, config_lib.validate(config))


def test_the_paper_config_leaves_out_seed_slots_and_probes_headless_rows():
  import zoo
  config, _ = config_lib.load("paper.py")
  names = config_lib.validate(config)
  assert names[0] == "resnet50.base" and len(names) >= 60
  assert {zoo.get(n).head for n in names} == {"classifier", "zero-shot", "linear-probe"}
  assert config.linear_probe.split == "train[:50000]" and config.calibration_split == "train[-10000:]"
  assert not [n for n in names if n.startswith("resnet50.tv_seed")]
