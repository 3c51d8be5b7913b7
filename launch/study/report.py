"""The study's report directory: report.md, one PNG per paper figure, a CSV per table, config.json.

Written to a temporary directory next to ``out`` and renamed into place, so a report
directory is always complete (never a partial result where a complete one is expected).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np

from launch.study.analysis import category_colors
from launch.study.presets import CATEGORY_ORDER


def _write_csv(path: Path, rows: list[dict]) -> None:
  if not rows:
    path.write_text("")
    return
  with path.open("w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _save(plt, figure, path):
  """Lays out, writes (150 dpi) and closes a figure."""
  figure.tight_layout()
  figure.savefig(path, dpi=150)
  plt.close(figure)


def figure1(categories, base_pairs, path):
  plt = _pyplot()
  colors = category_colors()
  figure, axis = plt.subplots(figsize=(7, 3.8))
  for index, row in enumerate(categories):
    axis.bar(index, 100 * row["error_inconsistency"], color=colors[row["category"]], alpha=0.6)
    axis.errorbar(index, 100 * row["error_inconsistency"], capsize=4, color="black",
                  yerr=[[100 * (row["error_inconsistency"] - row["error_inconsistency_low"])],
                        [100 * (row["error_inconsistency_high"] - row["error_inconsistency"])]])
    points = [100 * p["error_inconsistency"] for p in base_pairs if p["category"] == row["category"]]
    axis.scatter(index + np.linspace(-0.2, 0.2, len(points)), points, color="black", s=12, zorder=3)
  axis.set_xticks(range(len(categories)), [c["category"] for c in categories], fontsize=9)
  axis.set_xlabel("category of (base, X): bars = mean with 95% CI, dots = pairs")
  axis.set_ylabel("error inconsistency with the base (%)")
  axis.set_title("Fig. 1: errors decorrelate as training diverges")
  _save(plt, figure, path)


def figure2(base_pairs, fit, path):
  plt = _pyplot()
  colors = category_colors()
  figure, axes = plt.subplots(1, 3, figsize=(13, 3.8))
  panels = (("relative_improvement", "ensemble − mean member accuracy (pts)"),
            ("ensemble_accuracy", "ensemble accuracy (%)"), ("conversion_rate", "conversion rate (%)"))
  for axis, (key, label) in zip(axes, panels):
    for category in [c for c in CATEGORY_ORDER if any(p["category"] == c for p in base_pairs)]:
      chosen = [p for p in base_pairs if p["category"] == category]
      x = [100 * p["error_inconsistency"] for p in chosen]
      y = [100 * p[key] for p in chosen]
      low = [100 * (p[key] - p[f"{key}_low"]) for p in chosen]
      high = [100 * (p[f"{key}_high"] - p[key]) for p in chosen]
      axis.errorbar(x, y, yerr=[low, high], fmt="o", color=colors[category], label=category, capsize=2, ms=4)
      axis.scatter([np.mean(x)], [np.nanmean(y)], marker="*", s=180, color=colors[category], edgecolor="black",
                   zorder=4)
    axis.set_xlabel("error inconsistency with the base (%)")
    axis.set_ylabel(label)
  if fit:
    xs = np.linspace(*axes[0].get_xlim(), 2)
    axes[0].plot(xs, 100 * (fit["slope"] * xs / 100 + fit["intercept"]), "k--", lw=1,
                 label=f"fit, r = {fit['pearson_r']:.2f}")
  axes[0].legend(fontsize=7)
  figure.suptitle("Fig. 2: more inconsistency, better and more efficient ensembles (stars: category means)")
  _save(plt, figure, path)


GROUP_LABELS = {"both_correct": "both right", "both_wrong": "both wrong", "only_a": "only base right",
                "only_b": "only partner right"}


def figure3(special, path):
  plt = _pyplot()
  pairs = special["pairs"]
  edges = special["edges"]
  centres = (edges[:-1] + edges[1:]) / 2
  groups = list(special["groups"])
  figure, axes = plt.subplots(len(groups), len(pairs), figsize=(3.2 * len(pairs), 2.2 * len(groups)),
                              sharex=True, squeeze=False)
  for column, (category, pair) in enumerate(pairs.items()):
    for row, group in enumerate(groups):
      axis = axes[row][column]
      axis.bar(centres, pair["counts"][row], width=edges[1] - edges[0], color=category_colors()[category])
      axis.axvline(45, color="grey", ls=":", lw=1)
      if row == 0:
        axis.set_title(f"{category}: base vs {pair['model']}", fontsize=8)
      if column == 0:
        axis.set_ylabel(GROUP_LABELS.get(group, group), fontsize=8)
  for axis in axes[-1]:
    axis.set_xlabel("θ = atan2(c_base, c_partner) (°)")
  figure.suptitle("Fig. 3: specialisation angle over examples inconsistent in any shown pair")
  _save(plt, figure, path)


def figure4(special, class_names, path):
  plt = _pyplot()
  pairs = special["pairs"]
  figure, axes = plt.subplots(1, len(pairs), figsize=(3.4 * len(pairs), 3.2), sharey=True, squeeze=False)
  for axis, (category, pair) in zip(axes[0], pairs.items()):
    values = np.nan_to_num(pair["class_specialisation"])
    axis.bar(range(len(values)), values, color=["#4C72B0" if v > 0 else "#C44E52" for v in values])
    axis.axhline(0, color="black", lw=0.8)
    axis.set_xticks(range(len(values)), class_names, rotation=70, fontsize=7)
    axis.set_title(f"{category}: {pair['model']}", fontsize=8)
  axes[0][0].set_ylabel("(only base − only partner) / inconsistent")
  figure.suptitle("Fig. 4: per-class specialisation (+: the base wins the class's inconsistent examples)")
  _save(plt, figure, path)


def figure5(greedy, path):
  plt = _pyplot()
  figure, axis = plt.subplots(figsize=(6, 3.6))
  for run in greedy:
    axis.plot(range(len(run["test_accuracy"])), [100 * a for a in run["test_accuracy"]], marker="o",
              label=f"start {run['start']}")
    axis.axhline(100 * run["pool_best_test_accuracy"], ls=":", color="grey")
  axis.set_xlabel("models added (greedy on the calibration split)")
  axis.set_ylabel("test accuracy (%)")
  axis.set_title("Fig. 5: weaker models lift strong ones (dotted: best pool model)")
  axis.legend(fontsize=7)
  _save(plt, figure, path)


def figure6(mixing_rows, path):
  plt = _pyplot()
  colors = category_colors()
  figure, axis = plt.subplots(figsize=(6, 3.6))
  for category in dict.fromkeys(r["category"] for r in mixing_rows):
    rows = [r for r in mixing_rows if r["category"] == category]
    rates = sorted({r["base_rate"] for r in rows})
    means = [100 * np.mean([r["test_accuracy"] for r in rows if r["base_rate"] == rate]) for rate in rates]
    axis.plot(rates, means, marker="o", color=colors[category], label=f"{category}: {rows[0]['pair']}")
  axis.set_xlabel("share of features from the base (same total)")
  axis.set_ylabel("linear-probe test accuracy (%)")
  axis.set_title("Fig. 6: mixing features of two models")
  axis.legend(fontsize=7)
  _save(plt, figure, path)


def _fmt(value, low=None, high=None, scale=100.0, digits=2):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "n/a"
  text = f"{scale * value:.{digits}f}"
  return text if low is None else f"{text} [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def _table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
  return "\n".join(lines)


def markdown(results: dict) -> str:
  config, models, categories = results["config"], results["models"], results["categories"]
  base_pairs = [p for p in results["pairs"] if p["with_base"]]
  m = lambda row, key: _fmt(row[key], row[f"{key}_low"], row[f"{key}_high"])
  parts = [
      "# overlap: the default study on Fashion-MNIST",
      f"Base model **{models[0]['model']}**; {len(models)} models; metrics on `{config['test_split']}` "
      f"({results['num_test_examples']} examples) after temperature scaling fitted on "
      f"`{config['calibration_split']}`; 95% paired-bootstrap intervals ({config['resamples']} resamples). "
      "Tables give percentages (claim evidence: fractions and degrees). Every number below is in a CSV "
      "next to this file.",
      "## Claims at this scale", _table(("claim", "evidence", "verdict"),
                                        [(c["claim"], c["evidence"], f"**{c['verdict']}**") for c in results["claims"]]),
      "## Models (models.csv)", _table(
          ("model", "category vs base", "objective", "pretraining data", "architecture", "accuracy", "T"),
          [(r["model"], r["category"], r["objective"], r["pretraining_data"], r["architecture"],
            _fmt(r["accuracy"], r["accuracy_low"], r["accuracy_high"]), f"{r['temperature']:.3f}") for r in models]),
      "## Fig. 1: error inconsistency by category (categories.csv)", "![](fig1_error_inconsistency.png)",
      _table(("category", "pairs", "error inconsistency", "ensemble accuracy", "ensemble gain", "conversion rate"),
             [(c["category"], c["pairs"], m(c, "error_inconsistency"), m(c, "ensemble_accuracy"),
               m(c, "relative_improvement"), m(c, "conversion_rate")) for c in categories]),
      "## Fig. 2: ensembles of the base with each model (pairs.csv, with_base = True)", "![](fig2_ensembles.png)",
      (f"EI → ensemble gain fit over the (base, X) pairs: slope {results['fit']['slope']:.3f}, "
       f"intercept {100 * results['fit']['intercept']:.2f} pts, Pearson r {results['fit']['pearson_r']:.3f}."
       if results["fit"] else "Too few pairs for a fit."),
      _table(("partner", "category", "error inconsistency", "ensemble accuracy", "gain", "conversion", "Cohen's κ"),
             [(p["model_b"], p["category"], m(p, "error_inconsistency"), m(p, "ensemble_accuracy"),
               m(p, "relative_improvement"), m(p, "conversion_rate"),
               _fmt(p["cohen_kappa"], p["cohen_kappa_low"], p["cohen_kappa_high"], scale=1, digits=3))
              for p in base_pairs]),
      "## Fig. 3: specialisation angle θ (theta.csv)", "![](fig3_specialisation.png)",
      _table(("category", "partner", "mean θ, only base right (°)", "mean θ, only partner right (°)"),
             [(c, p["model"], f"{p['mean_theta_only_base']:.1f}", f"{p['mean_theta_only_other']:.1f}")
              for c, p in results["specialisation"]["pairs"].items()]),
      "## Fig. 4: per-class specialisation (class_specialisation.csv)", "![](fig4_class_specialisation.png)",
      "## Fig. 5: greedy ensembles (greedy.csv)", "![](fig5_greedy.png)",
      _table(("start", "added (category vs start)", "test accuracy", "best pool model"),
             [(r["start"], " → ".join(f"{n} ({c})" for n, c in zip(r["members"][1:], r["categories_vs_start"][1:])),
               " → ".join(_fmt(a) for a in r["test_accuracy"]), _fmt(r["pool_best_test_accuracy"]))
              for r in results["greedy"]]),
      "## Fig. 6: feature mixing (mixing.csv)", "![](fig6_mixing.png)",
      _table(("pair", "category", "base share", "features", "probe accuracy (mean over seeds)"),
             [(pair, cat, rate, feats, _fmt(np.mean(accs))) for (pair, cat, rate, feats), accs in
              _group_mixing(results["mixing"]).items()]),
      "## Config (config.json)", "```json\n" + json.dumps(config, indent=2) + "\n```",
  ]
  return "\n\n".join(parts) + "\n"


def _group_mixing(rows):
  grouped = {}
  for r in rows:
    grouped.setdefault((r["pair"], r["category"], r["base_rate"], r["features"]), []).append(r["test_accuracy"])
  return grouped


CLASS_NAMES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


def write(results: dict, out: Path) -> Path:
  """Writes the whole report to ``out`` atomically (a sibling temp dir renamed into place)."""
  out = Path(out)
  staging = out.with_name(out.name + ".partial")
  shutil.rmtree(staging, ignore_errors=True)
  staging.mkdir(parents=True)
  _write_csv(staging / "models.csv", results["models"])
  _write_csv(staging / "pairs.csv", results["pairs"])
  _write_csv(staging / "categories.csv", results["categories"])
  special = results["specialisation"]
  _write_csv(staging / "theta.csv", [
      {"category": c, "partner": p["model"], "group": g, "theta_low": float(special["edges"][i]),
       "theta_high": float(special["edges"][i + 1]), "count": int(p["counts"][gi, i])}
      for c, p in special["pairs"].items() for gi, g in enumerate(special["groups"]) for i in range(len(p["counts"][gi]))])
  _write_csv(staging / "class_specialisation.csv", [
      {"category": c, "partner": p["model"], "class": k, "class_name": CLASS_NAMES[k] if k < len(CLASS_NAMES) else k,
       "specialisation": float(p["class_specialisation"][k])}
      for c, p in special["pairs"].items() for k in range(len(p["class_specialisation"]))])
  _write_csv(staging / "greedy.csv", [
      {"start": r["start"], "step": s, "model": r["members"][s], "category_vs_start": r["categories_vs_start"][s],
       "calibration_accuracy": r["calibration_accuracy"][s], "test_accuracy": r["test_accuracy"][s]}
      for r in results["greedy"] for s in range(len(r["members"]))])
  _write_csv(staging / "mixing.csv", results["mixing"])
  _write_csv(staging / "claims.csv", results["claims"])
  (staging / "config.json").write_text(json.dumps(results["config"], indent=2))
  base_pairs = [p for p in results["pairs"] if p["with_base"]]
  figure1(results["categories"], base_pairs, staging / "fig1_error_inconsistency.png")
  figure2(base_pairs, results["fit"], staging / "fig2_ensembles.png")
  figure3(special, staging / "fig3_specialisation.png")
  figure4(special, CLASS_NAMES, staging / "fig4_class_specialisation.png")
  figure5(results["greedy"], staging / "fig5_greedy.png")
  figure6(results["mixing"], staging / "fig6_mixing.png")
  (staging / "report.md").write_text(markdown(results))
  if out.exists():
    previous = out.with_name(out.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    out.rename(previous)
    staging.rename(out)
    shutil.rmtree(previous, ignore_errors=True)
  else:
    staging.rename(out)
  return out
