"""Fig. 7: downstream linear evaluation of every model and every concatenated pair
(downstream_models.csv, downstream_pairs.csv); none when the config names no downstream dataset."""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from launch.study import config as config_lib, analysis, report

FIELDS = ("probe_l2_grid",)
USES = ("stored", "test_set")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  downstream: dict | None   # analysis.downstream: metric, per-model and per-pair rows; None: no dataset


def defaults() -> ml_collections.ConfigDict:
  """``config.sections.downstream``: the downstream dataset and its splits (evaluated into the
  store beside the study's own: launch.study.pipeline.splits_of; dataset "" = no Fig. 7) and
  the probes' L-BFGS iteration cap (the L2 strengths are the study-wide ``probe_l2_grid``)."""
  return ml_collections.ConfigDict({"dataset": "", "train_split": "train", "val_split": "validation",
                                    "test_split": "test", "iterations": 300})


def check(own) -> None:
  """ConfigError for a setting out of range, an unknown dataset or a split TFDS cannot parse."""
  config_lib.check_counts("downstream", own, ("iterations",), defaults())
  if own.dataset:
    config_lib.check_dataset("sections.downstream.dataset", own.dataset)
    for split in ("train_split", "val_split", "test_split"):
      config_lib.check_split(f"sections.downstream.{split}", own[split])


def compute(context, settings) -> Result:
  if not settings.dataset:
    return Result(None)
  names, stored = context.names, context.stored
  probe = dict(l2_grid=tuple(settings.probe_l2_grid), max_iterations=settings.iterations)
  splits = [dataclasses.replace(stored[f"downstream_{part}"], embeddings={  # every pair reads them: in memory once
      n: np.asarray(stored[f"downstream_{part}"].embeddings[n], np.float32) for n in names})
      for part in ("train", "val", "test")]
  downstream = analysis.downstream(context.rows, *splits, context.test_set.correct, **probe)
  context.lap("downstream")
  return Result(downstream)


def write(results: dict, out) -> None:
  if results["downstream"]:
    report.write_csv(out / "downstream_models.csv", results["downstream"]["models"])
    report.write_csv(out / "downstream_pairs.csv", results["downstream"]["pairs"])
    report.figure7(results["downstream"], out / "fig7_downstream.png")


def markdown(results: dict) -> list[str]:
  return [report.downstream_text(results)]
