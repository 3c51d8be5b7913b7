r"""One launch for any study: ``python -m launch.study [--config=FILE.py[:ARG]] [--out=DIR] [--set key=value ...]``.

A study is an ml_collections config (``get_config(arg)``, big_vision style; fields in
launch/study/config.py). Without ``--config`` it runs the built-in
``launch/study/configs/fashion_mnist.py:default``; ``--config=paper`` names a built-in by
its file name. The run trains the rows that have a recipe and no weights, evaluates
every model on the calibration, test and downstream splits into the store, analyses,
and writes the report directory (report.md, Fig. 1–7, CSVs, config.json) to ``--out``.
A rerun with the same config recomputes nothing.

  python -m launch.study                                               # the README's study
  python -m launch.study --config=launch/study/configs/fashion_mnist.py:smoke --out=/tmp/s
  python -m launch.study --set epochs=4 --set models='cnn.*,mlp.s0'
  python -m launch.study --config=launch/study/configs/paper.py --set data_dir=gs://b/tfds --distributed

Multi-host: the same command on every worker with the flags of launch.evaluate
(``--distributed`` on TPU VMs, or ``--coordinator_address/--num_processes/--process_id``);
process 0 writes the report. Bad input is one paragraph on stderr and exit status 2,
with nothing written.
"""

from __future__ import annotations

from absl import flags, logging

from launch import cli

CONFIG = flags.DEFINE_string("config", None, "Study config FILE.py[:ARG] (default: the built-in "
                             "fashion_mnist.py:default; a bare name picks a built-in config).")
OVERRIDES = flags.DEFINE_multi_string("set", [], "Override one config field, key=value, parsed by the field's type "
                                      "(booleans true/false; tuples comma-separated; nested: sections.greedy.steps=3).")
OUT = flags.DEFINE_string("out", "overlap_study", "Report directory: new, empty or a previous report (replaced as a "
                          "whole when the study ends; a directory holding anything else is refused).")
CACHE = flags.DEFINE_string("cache_dir", None, "Trained checkpoints and the result store "
                            "(default: $OVERLAP_CACHE/study or ~/.cache/overlap/study).")
DATA_DIR = flags.DEFINE_string("data_dir", None, "Shorthand for --set data_dir=DIR.")
DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() (auto-detect on TPU).")
COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (multi-host, non-TPU).")
NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-host, non-TPU).")
PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-host, non-TPU).")


def _quiet_libraries() -> None:
  """Only the study's own progress at default verbosity: library INFO logs (orbax, absl)
  are shown only when --verbosity is passed explicitly."""
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def summary(results: dict) -> str:
  """The printed summary: per-category means with intervals and each claim's verdict."""
  lines = [f"\nper category, (base, X) pairs on {results['config']['test_split']}, mean [95% CI] in %:",
           f"{'category':18s} {'pairs':>5s} {'error inconsistency':>24s} {'ensemble gain':>22s} "
           f"{'conversion rate':>24s}"]
  for c in results["categories"]:
    cell = lambda k: f"{100 * c[k].estimate:6.2f} [{100 * c[k].low:6.2f}, {100 * c[k].high:6.2f}]"
    lines.append(f"{c['category']:18s} {c['pairs']:5d} {cell('error_inconsistency'):>24s} "
                 f"{cell('relative_improvement'):>22s} {cell('conversion_rate'):>24s}")
  lines.append("\nthe paper's claims at this scale:")
  lines += [f"  [{c['verdict']}] {c['claim']}\n      {c['evidence']}" for c in results["claims"]]
  return "\n".join(lines)


def main(argv) -> int:
  """Runs the study; a bad input (launch.study.config.ConfigError) is refused by
  :func:`launch.cli.guarded`: one paragraph, exit status 2, nothing written."""
  if len(argv) > 1:
    raise cli.BadInput(f"unexpected arguments {argv[1:]}; flags only (--config, --set key=value, --out).")
  _quiet_libraries()
  from launch import runner
  from launch.study import config as config_lib, pipeline
  config, source = config_lib.load(CONFIG.value)
  overrides = list(OVERRIDES.value) + ([f"data_dir={DATA_DIR.value}"] if DATA_DIR.value else [])
  config = config_lib.apply_overrides(config, overrides)
  runner.initialize_distributed(COORDINATOR.value, NUM_PROCESSES.value, PROCESS_ID.value, DISTRIBUTED.value)
  results = pipeline.run(config, OUT.value, cache_dir=CACHE.value)
  if results is not None:
    from pathlib import Path
    print(summary(results))
    print(f"\nconfig {source}\nreport: {Path(OUT.value).expanduser() / 'report.md'}  ({results['seconds']:.0f} s)")
  return 0


if __name__ == "__main__":
  from launch.study.config import ConfigError
  cli.run(main, "study", (ConfigError,))
