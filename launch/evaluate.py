r"""Evaluate zoo models on a dataset split into the store: ``python -m launch.evaluate``.

  python -m launch.evaluate --models='small_cnn.*,mlp.s0' --dataset=fashion_mnist \
      --split=test --out=/tmp/overlap_store --zoo_dir=~/.cache/overlap/zoo

Every model's logits and pre-logit embeddings of every example are written to
``--out`` (see launch/store.py), resumably: rerunning the same command completes what
is missing. Each manifest records the sha256 of the model's weight content: outputs
stored from other weights under the same name are recomputed (and the run says so). A model that fails to load or produces NaN/Inf logits is reported by
name, the others still run, and the exit status is 1.

Flags can also come from an ml_collections config file (big_vision style):
``--config=path/to/config.py:arg`` whose ``get_config(arg)`` returns fields named
like the flags below, and from ``--set key=value`` (typed by the flag); flags given on
the command line win. The same mechanism and messages as launch.study (launch.configs).

Multi-host (e.g. a TPU VM pod): run the same command on every worker; on TPU
``--distributed`` auto-detects the topology; elsewhere pass
``--coordinator_address=host:port --num_processes=N --process_id=i``.
"""

from __future__ import annotations

import sys

import jax
from absl import app, flags, logging

from launch import cli, configs, store

CONFIG = flags.DEFINE_string("config", None, "Optional config file FILE.py[:ARG] whose get_config(arg) returns "
                             "fields named like these flags.")
OVERRIDES = flags.DEFINE_multi_string("set", [], "Override one field, key=value, parsed by the flag's type.")
MODELS = flags.DEFINE_list("models", None, "Zoo model names or glob patterns.")
DATASET = flags.DEFINE_string("dataset", "fashion_mnist", "TFDS dataset name (fashion_mnist also reads IDX files).")
SPLIT = flags.DEFINE_string("split", "test", "Split in TFDS syntax, e.g. 'validation[:10%]'.")
OUT = flags.DEFINE_string("out", None, "Store root (local path or gs://bucket/path).")
DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data_dir, or the directory of Fashion-MNIST IDX files.")
ZOO_DIR = flags.DEFINE_string("zoo_dir", "~/.cache/overlap/zoo", "Directory of the zoo's checkpoints.")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Global batch (rounded up to a multiple of the devices).",
                                   lower_bound=1)
CHUNK_BATCHES = flags.DEFINE_integer("chunk_batches", 8, "Batches per store chunk (the resume granularity).",
                                     lower_bound=1)
PRECISION = flags.DEFINE_enum("precision", "float32", ["float32", "bfloat16"], "Compute dtype of the forward.")
LOGITS_DTYPE = flags.DEFINE_enum("logits_dtype", "float32", list(store.LOGITS_DTYPES),
                                 "Storage dtype of the logits (float16 halves the store; metrics widen it exactly).")
DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (auto-detect on TPU).")
COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-host, non-TPU).")
NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-host, non-TPU).")
PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-host, non-TPU).")

_OVERRIDABLE = ("models", "dataset", "split", "out", "data_dir", "zoo_dir", "batch_size", "chunk_batches",
                "precision", "logits_dtype")


def _settings() -> dict:
  """Flag values, with the config file's and ``--set``'s fields where a flag was not given
  (launch.configs.flag_settings: ConfigError for an unknown or mistyped field)."""
  settings = configs.flag_settings(_OVERRIDABLE, CONFIG.value, OVERRIDES.value,
                                   "`python -m launch.evaluate --help`")
  missing = [name for name in ("models", "out") if not settings[name]]
  if missing:
    raise app.UsageError(f"--{' and --'.join(missing)} must be given (or set in --config), e.g. "
                         "--models=cnn.s0 --out=/tmp/overlap_store.")
  for name in ("batch_size", "chunk_batches"):  # a config file's values skip the flags' bounds
    if not isinstance(settings[name], int) or settings[name] < 1:
      raise cli.BadInput(f"--{name} must be an integer >= 1; got {settings[name]!r} (e.g. --{name}=256).")
  for name in ("precision", "logits_dtype"):
    allowed = flags.FLAGS[name].parser.enum_values
    if settings[name] not in allowed:
      raise cli.BadInput(f"--{name}={settings[name]!r} is not one of {allowed}.")
  return settings


def _tfds_knows(dataset: str) -> bool:
  import tensorflow_datasets as tfds
  try:
    tfds.builder_cls(dataset.split("/")[0].split(":")[0])
  except Exception:  # DatasetNotFoundError and friends
    return False
  return True


def check_inputs(settings: dict):
  """Everything a user can get wrong, before any work: (model names, data source).
  Unknown models, a dataset or split that cannot be read, an empty split, a --data_dir
  or --zoo_dir that is missing or a file, a --zoo_dir holding none of the models'
  checkpoints, and an --out that is a file or cannot be written are
  :class:`launch.cli.BadInput`. (Some checkpoints absent: the others run, and the
  missing ones are reported by name with exit status 1.)"""
  import zoo
  from launch import data
  from zoo.registry import weights_path
  try:
    names = zoo.resolve_patterns(list(settings["models"]))
  except KeyError as error:
    raise cli.BadInput(f"--models: {error.args[0]} List them with `python -m launch.zoo list`.") from None
  if "://" not in str(settings["out"]):
    cli.check_output_dir("out", settings["out"])
  if settings["data_dir"]:
    cli.check_input_dir("data_dir", settings["data_dir"])
  checkpoints = [n for n in names if zoo.get(n).weights.kind == "checkpoint"]
  if checkpoints:
    cli.check_input_dir("zoo_dir", settings["zoo_dir"])
    absent = [n for n in checkpoints if not weights_path(zoo.get(n), settings["zoo_dir"]).exists()]
    if absent and len(absent) == len(names):  # some present: those run, the others are reported (exit 1)
      raise cli.BadInput(f"--zoo_dir={settings['zoo_dir']} holds no checkpoint of {absent[:10]}; point --zoo_dir at "
                         "the directory holding them (e.g. the study's <cache>/trained/<key>), or train them with "
                         "python -m launch.study.")
  if settings["dataset"] not in data.OFFLINE_SOURCES and not _tfds_knows(settings["dataset"]):
    raise cli.BadInput(f"--dataset={settings['dataset']}: no such dataset. Use a TFDS name (e.g. cifar10, "
                       f"imagenet2012, voc/2007) or one of the offline sources {sorted(data.OFFLINE_SOURCES)}.")
  try:
    source = data.load_source(settings["dataset"], settings["split"], settings["data_dir"])
  except (FileNotFoundError, ValueError) as error:
    raise cli.BadInput(f"--dataset={settings['dataset']} --split={settings['split']}: {error}") from None
  if len(source) == 0:
    raise cli.BadInput(f"--split={settings['split']} of {settings['dataset']} holds no example; write a non-empty "
                       "slice, e.g. --split='test[:1000]'.")
  return names, source


def main(argv) -> int:
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments {argv[1:]}; flags only (e.g. --models=cnn.s0 --out=DIR).")
  from launch import runner
  runner.initialize_distributed(COORDINATOR.value, NUM_PROCESSES.value, PROCESS_ID.value, DISTRIBUTED.value)
  settings = _settings()
  names, source = check_inputs(settings)
  logging.info("evaluating %d models on %s/%s (%d examples) over %d devices", len(names), settings["dataset"],
               settings["split"], len(source), jax.device_count())
  failed = {}
  for name in names:
    try:
      runner.evaluate_zoo_model(name, source, settings, replace_stale=True)
    except Exception as error:  # report, go on with the other models, fail the exit status
      failed[name] = f"{type(error).__name__}: {error}"
      logging.error("model %s failed: %s", name, failed[name])
  if failed:
    print("FAILED:\n" + "\n".join(f"  {name}: {reason}" for name, reason in failed.items()), file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  cli.run(main, "evaluate", (configs.ConfigError,))
