"""Fig. 5: greedy ensembles chosen on the selection split from the best models, over pools of
weaker ones, scored on test (greedy.csv); claim 4 rests on them."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import config as config_lib, analysis, report

FIELDS = ("selection_split",)
USES = ("test_set", "temperatures", "stored")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  greedy: list         # a row per run (analysis.greedy_runs); [] without a selection split
  greedy_final: list   # per run, bool [E]: test correctness of the ensemble of the selection-chosen size


def defaults() -> ml_collections.ConfigDict:
  """``config.sections.greedy``."""
  return ml_collections.ConfigDict({
      "starts": 2,   # best models (selection-split accuracy) that start a greedy run (0: none)
      "steps": 5,    # members added to each start
  })


def check(own) -> None:
  """ConfigError for a setting out of range."""
  config_lib.check_counts("greedy", own, ("steps",), defaults())


def compute(context, settings) -> Result:
  greedy, final = [], []
  if settings.selection_split:
    from launch.study import pipeline
    selection = context.stored["selection"]
    greedy, final = analysis.greedy_runs(context.rows, pipeline.calibrated(selection, context.temperatures),
                                         selection.labels, context.test_set, settings.starts,
                                         settings.steps)
  context.lap("greedy")
  return Result(greedy, list(final))


def write(results: dict, out) -> None:
  report.write_csv(out / "greedy.csv", [
      {"start": r["start"], "step": s, "model": r["members"][s], "category_vs_start": r["categories_vs_start"][s],
       "selection_accuracy": r["selection_accuracy"][s], "test_accuracy": r["test_accuracy"][s],
       "chosen_on_selection": s + 1 == r["chosen_size"]}
      for r in results["greedy"] for s in range(len(r["members"]))])
  report.figure5(results["greedy"], out / "fig5_greedy.png")


def markdown(results: dict) -> list[str]:
  return ["## Fig. 5: greedy ensembles (greedy.csv)", "![](fig5_greedy.png)", report.greedy_text(results)]
