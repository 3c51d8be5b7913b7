"""Fig. 1–2 and the category table: every pair's error inconsistency, ensemble accuracy, gain,
conversion rate and Cohen's κ with 95% intervals (pairs.csv), their means per category over the
in-band (base, X) pairs (categories.csv), and the EI → ensemble gain fit (claims 1–2 rest on these)."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import analysis, report

FIELDS = ("resamples",)
USES = ("outcomes", "intervals", "in_band")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  pairs: list          # every pair once (analysis.pair_table)
  categories: list     # per category, the mean over its in-band (base, X) pairs (analysis.category_table)
  fit: dict | None     # EI → ensemble gain over the in-band (base, X) pairs (None: too few pairs)


def defaults() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict()


def compute(context, settings) -> Result:
  names, in_band = context.names, context.in_band
  pairs = analysis.pair_table(context.rows, context.intervals)
  base_pairs = [p for p in pairs if p["with_base"] and in_band[names.index(p["model_b"])]]
  categories = analysis.category_table(context.rows, context.outcomes, settings.resamples, in_band=in_band)
  context.lap("category table")
  return Result(pairs, categories, analysis.base_fit(base_pairs))


def write(results: dict, out) -> None:
  report.write_csv(out / "pairs.csv", results["pairs"])
  report.write_csv(out / "categories.csv", results["categories"])
  base_pairs = report.in_band_base_pairs(results)
  report.figure1(results["categories"], base_pairs, out / "fig1_error_inconsistency.png")
  report.figure2(base_pairs, results["fit"], out / "fig2_ensembles.png")


def markdown(results: dict) -> list[str]:
  table, fit = report.table, results["fit"]
  m = lambda row, key: report.fmt_interval(row[key])
  return [
      "## Fig. 1: error inconsistency by category, in-band models (categories.csv)",
      "![](fig1_error_inconsistency.png)",
      table(("category", "pairs", "error inconsistency", "ensemble accuracy", "ensemble gain", "conversion rate"),
            [(c["category"], c["pairs"], m(c, "error_inconsistency"), m(c, "ensemble_accuracy"),
              m(c, "relative_improvement"), m(c, "conversion_rate")) for c in results["categories"]]),
      "## Fig. 2: ensembles of the base with each in-band model (pairs.csv, with_base = True, lists all)",
      "![](fig2_ensembles.png)",
      (f"EI → ensemble gain fit over the (base, X) pairs: slope {fit['slope']:.3f}, "
       f"intercept {100 * fit['intercept']:.2f} pts, Pearson r {fit['pearson_r']:.3f}." if fit
       else "Too few pairs for a fit."),
      table(("partner", "category", "error inconsistency", "ensemble accuracy", "gain", "conversion", "Cohen's κ"),
            [(p["model_b"], p["category"], m(p, "error_inconsistency"), m(p, "ensemble_accuracy"),
              m(p, "relative_improvement"), m(p, "conversion_rate"),
              report.fmt_interval(p["cohen_kappa"], scale=1, digits=3))
             for p in report.in_band_base_pairs(results)])]
