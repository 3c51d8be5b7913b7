"""Fig. 6: linear probes on mixtures of the base's and each representative partner's features
(mixing.csv), diversity-ranked concatenated features (diversity.csv) and the features needed to
reach a target accuracy (features_needed.csv); claim 5 rests on the mixtures."""

from __future__ import annotations

import dataclasses

import ml_collections
import numpy as np

from launch.study import config as config_lib, analysis, report

FIELDS = ("probe_l2_grid",)
USES = ("probe_sets", "chosen")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  mixing: list                # a row per (pair, base share, seed) probe (analysis.mixing, per-example outcome apart)
  mixing_test_correct: list   # per mixing row, bool [E]: its probe's test correctness (claim 5's bootstrap)
  diversity: list             # the diversity-ranked curves (analysis.diversity_curves)
  features_needed: list       # per pair, the fewest diversity-ranked features reaching the target


def defaults() -> ml_collections.ConfigDict:
  """``config.sections.mixing`` (the L2 strengths are the study-wide ``probe_l2_grid``, shared with Fig. 7)."""
  return ml_collections.ConfigDict({
      "rates": (1.0, 0.75, 0.5, 0.25, 0.0),   # the base model's share of the mixed features
      "seeds": 2,                             # random mixtures per rate
      # Accelerated majorise–minimise steps of each probe fit (probes.subset_probes; the refit on
      # train+val takes half, warm-started): a fixed count, so every probe of a pair runs in one batch.
      "probe_steps": 100,
      "diversity_ranking": "variance",        # probes.diversity_order ranking for Fig. 6 right
      "diversity_step": 256,                  # features added per step (the paper: multiples of 256)
      "diversity_target": 0.0,                # accuracy the "features needed" table asks for (0: the lowest
                                              # best-of-curve over the pairs, so every pair reaches it)
  })


def check(own) -> None:
  """ConfigError for a setting out of range or an unknown ranking."""
  import probes
  config_lib.check_counts("mixing", own, ("seeds", "diversity_step", "probe_steps"), defaults())
  if own.diversity_ranking not in probes.DIVERSITY_RANKINGS:
    raise config_lib.ConfigError(f"config field 'sections.mixing.diversity_ranking': {own.diversity_ranking!r} is "
                                 f"not one of {list(probes.DIVERSITY_RANKINGS)}.")


def compute(context, settings) -> Result:
  """Each pair's mixtures (then its diversity prefixes) are fitted together, padded to one batch
  shape per figure, or one for both when they nearly agree (analysis.fig6_batches: one compile)."""
  test_set, calibration_set = context.probe_sets
  chosen = context.chosen
  fig6 = dict(l2_grid=tuple(settings.probe_l2_grid), steps=settings.probe_steps)
  mixing_batch, diversity_batch = analysis.fig6_batches(
      analysis.mixing_batch(calibration_set, chosen, settings.rates, settings.seeds),
      analysis.diversity_batch(calibration_set, chosen, settings.diversity_step, settings.diversity_ranking))
  mixing = analysis.mixing(calibration_set, test_set, chosen, settings.rates, settings.seeds, **fig6,
                           batch=mixing_batch)
  context.lap("mixing probes")
  diversity = analysis.diversity_curves(calibration_set, test_set, chosen, settings.diversity_step,
                                        settings.diversity_ranking, **fig6, batch=diversity_batch)
  needed = analysis.features_needed(diversity, settings.diversity_target)
  context.lap("diversity probes")
  return Result([{k: v for k, v in row.items() if k != "test_correct"} for row in mixing],
                [np.asarray(row["test_correct"], bool) for row in mixing], diversity, needed)


def rows_with_outcomes(result) -> list[dict]:
  """The mixing rows with their per-example test correctness (as analysis.probe_outcomes reads them)."""
  return [{**row, "test_correct": correct} for row, correct in zip(result.mixing, result.mixing_test_correct)]


def write(results: dict, out) -> None:
  report.write_csv(out / "mixing.csv", results["mixing"])
  report.write_csv(out / "diversity.csv", results["diversity"])
  report.write_csv(out / "features_needed.csv", results["features_needed"])
  report.figure6(results["mixing"], results["diversity"], results["features_needed"], out / "fig6_mixing.png")


def markdown(results: dict) -> list[str]:
  fmt, table = report.fmt, report.table
  return [
      "## Fig. 6: feature mixing (mixing.csv) and diversity-ranked features (diversity.csv)", "![](fig6_mixing.png)",
      table(("pair", "category", "base share", "features", "probe accuracy (mean over seeds)"),
            [(pair, cat, rate, feats, fmt(np.mean(accs))) for (pair, cat, rate, feats), accs in
             report.group_mixing(results["mixing"]).items()]),
      "Features needed to reach the target accuracy, diversity-ranked (features_needed.csv):",
      table(("category", "pair", "target accuracy", "features needed", "of", "best accuracy"),
            [(r["category"], r["pair"], fmt(r["target_accuracy"]),
              "not reached" if r["features_needed"] is None else r["features_needed"], r["total_features"],
              fmt(r["best_accuracy"])) for r in results["features_needed"]])]
