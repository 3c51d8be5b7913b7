"""Fig. 3–4: the specialisation angle θ of each category's representative pair (theta.csv),
per-class specialisation (class_specialisation.csv) and its class-id groups (class_groups.csv);
claim 3 rests on θ."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import analysis, config as config_lib, report

FIELDS = ()
USES = ("test_set", "chosen")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  specialisation: dict   # θ histogram edges, groups, and per representative pair (analysis.specialisation)
  class_groups: list     # per pair and class-id group, the mean specialisation (analysis.class_groups)


def defaults() -> ml_collections.ConfigDict:
  """``config.sections.specialisation``."""
  return ml_collections.ConfigDict({
      "theta_bins": 18,     # bins of the θ histogram over [0°, 90°] (Fig. 3)
      # Fig. 4 class groups: "name:first-last,name:first-last" (class ids, inclusive); "" = none.
      "class_groups": "",
  })


def check(own) -> None:
  """ConfigError for a setting out of range or class groups that do not parse."""
  config_lib.check_counts("specialisation", own, ("theta_bins",), defaults())
  config_lib.class_groups(own.class_groups)


def compute(context, settings) -> Result:
  test_set = context.test_set
  special = analysis.specialisation(test_set, test_set.correct, context.chosen, settings.theta_bins,
                                    test_set.confidence)
  groups = analysis.class_groups(special, config_lib.class_groups(settings.class_groups))
  context.lap("specialisation")
  return Result(special, groups)


def write(results: dict, out) -> None:
  special, class_names = results["specialisation"], results["class_names"]
  report.write_csv(out / "theta.csv", [
      {"category": c, "partner": p["model"], "group": g, "theta_low": float(special["edges"][i]),
       "theta_high": float(special["edges"][i + 1]), "count": int(p["counts"][gi, i])}
      for c, p in special["pairs"].items() for gi, g in enumerate(special["groups"])
      for i in range(len(p["counts"][gi]))])
  report.write_csv(out / "class_specialisation.csv", [
      {"category": c, "partner": p["model"], "class": k, "class_name": report.class_label(class_names, k),
       "specialisation": float(p["class_specialisation"][k])}
      for c, p in special["pairs"].items() for k in range(len(p["class_specialisation"]))])
  report.write_csv(out / "class_groups.csv", results["class_groups"])
  report.figure3(special, out / "fig3_specialisation.png")
  rows = results["class_groups"]
  groups = [(r["group"], r["first_class"], r["last_class"] + 1) for r in rows
            if r["category"] == rows[0]["category"]] if rows else []
  report.figure4(special, class_names, groups, out / "fig4_class_specialisation.png")


def markdown(results: dict) -> list[str]:
  return [
      "## Fig. 3: specialisation angle θ (theta.csv)", "![](fig3_specialisation.png)",
      report.table(("category", "partner", "mean θ, only base right (°)", "mean θ, only partner right (°)"),
                   [(c, p["model"], f"{p['mean_theta_only_base']:.1f}", f"{p['mean_theta_only_other']:.1f}")
                    for c, p in results["specialisation"]["pairs"].items()]),
      "## Fig. 4: per-class specialisation (class_specialisation.csv, class_groups.csv)",
      "![](fig4_class_specialisation.png)", report.class_groups_text(results)]
