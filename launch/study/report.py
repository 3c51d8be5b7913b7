"""The study's report directory: report.md, one PNG per paper figure (Fig. 1–7), a CSV per
table, config.json (the config and every model's weight hash and provenance). Each section
(:mod:`launch.study.sections`) writes its own CSVs, figures and part of report.md with the
drawing and table helpers here; :func:`write` and :func:`markdown` put them in order.

Written to a temporary directory next to ``out`` and renamed into place, so a report
directory is always complete (never a partial result where a complete one is expected).
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np

from launch.study.analysis import CATEGORY_ORDER, GREEDY_POOL_GAP, category_colors
from metrics.bootstrap import Interval


def write_csv(path: Path, rows: list[dict]) -> None:
  """A CSV of ``rows``, each :class:`metrics.Interval` cell as three columns: key, key_low, key_high."""
  if not rows:
    path.write_text("")
    return
  rows = [_flat(row) for row in rows]
  with path.open("w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def _flat(row: dict) -> dict:
  out = {}
  for key, value in row.items():
    if isinstance(value, Interval):
      out.update({key: value.estimate, f"{key}_low": value.low, f"{key}_high": value.high})
    else:
      out[key] = value
  return out


def fmt_interval(interval: Interval, scale=100.0, digits=2) -> str:
  """``estimate [low, high]`` in ``scale`` units (n/a for NaN)."""
  return fmt(interval.estimate, interval.low, interval.high, scale=scale, digits=digits)


def _pyplot():
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  return plt


def _save(plt, figure, path, *, left=0.75, right=0.2, bottom=0.6, top=0.55, wspace=0.3, hspace=0.3):
  """Lays out with fixed margins (inches; ``wspace``/``hspace`` as fractions of an axes),
  writes (150 dpi) and closes a figure. Fixed margins, not tight_layout: its layout pass
  draws every artist once more before the save draws them again, and drawing the tick
  labels is most of a report's time."""
  width, height = figure.get_size_inches()
  figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                         wspace=wspace, hspace=hspace)
  figure.savefig(path, dpi=150)
  plt.close(figure)


def figure1(categories, base_pairs, path):
  plt = _pyplot()
  colors = category_colors()
  figure, axis = plt.subplots(figsize=(7, 3.8))
  for index, row in enumerate(categories):
    ei = row["error_inconsistency"]
    axis.bar(index, 100 * ei.estimate, color=colors[row["category"]], alpha=0.6)
    axis.errorbar(index, 100 * ei.estimate, capsize=4, color="black",
                  yerr=[[100 * (ei.estimate - ei.low)], [100 * (ei.high - ei.estimate)]])
    points = [100 * p["error_inconsistency"].estimate for p in base_pairs if p["category"] == row["category"]]
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
      x = [100 * p["error_inconsistency"].estimate for p in chosen]
      y = [100 * p[key].estimate for p in chosen]
      low = [100 * (p[key].estimate - p[key].low) for p in chosen]
      high = [100 * (p[key].high - p[key].estimate) for p in chosen]
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
  _save(plt, figure, path, wspace=0.25)


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
  _save(plt, figure, path, left=0.7, top=0.65, hspace=0.25, wspace=0.35)


def figure4(special, class_names, groups, path):
  plt = _pyplot()
  pairs = special["pairs"]
  figure, axes = plt.subplots(1, len(pairs), figsize=(3.4 * len(pairs), 4.0), sharey=True, squeeze=False)
  for axis, (category, pair) in zip(axes[0], pairs.items()):
    values = np.nan_to_num(pair["class_specialisation"])
    axis.bar(range(len(values)), values, width=1.0 if len(values) > 50 else 0.8,
             color=["#4C72B0" if v > 0 else "#C44E52" for v in values])
    axis.axhline(0, color="black", lw=0.8)
    for name, first, stop in groups:  # class-id ranges (e.g. ImageNet nature vs man-made)
      axis.axvspan(first - 0.5, stop - 0.5, alpha=0.08, color="grey" if first else "green")
      axis.text((first + stop) / 2, 1.0, name, ha="center", va="top", fontsize=6, transform=axis.get_xaxis_transform())
    if len(values) <= 50:
      axis.set_xticks(range(len(values)), [class_label(class_names, k) for k in range(len(values))], rotation=70,
                      fontsize=7)
    else:
      axis.set_xlabel("class id")
    axis.set_title(f"{category}: {pair['model']}", fontsize=8)
  axes[0][0].set_ylabel("(only base − only partner) / inconsistent", fontsize=8)
  figure.suptitle("Fig. 4: per-class specialisation (+: the base wins the class's inconsistent examples)")
  _save(plt, figure, path, bottom=1.2, top=0.7, wspace=0.1)


def figure5(greedy, path):
  plt = _pyplot()
  figure, axis = plt.subplots(figsize=(6, 3.6))
  for run in greedy:
    axis.plot(range(len(run["test_accuracy"])), [100 * a for a in run["test_accuracy"]], marker="o",
              label=f"start {run['start']}")
    size = run["chosen_size"]  # the selection split's choice, scored by claim 4
    axis.plot([size - 1], [100 * run["test_accuracy"][size - 1]], marker="*", markersize=12, color="black")
    if not math.isnan(run["pool_best_test_accuracy"]):
      axis.axhline(100 * run["pool_best_test_accuracy"], ls=":", color="grey")
  axis.set_xlabel("models added (chosen on the selection split)")
  axis.set_ylabel("test accuracy (%)")
  axis.set_title("Fig. 5: weaker models lift strong ones (dotted: best pool model; ★ chosen size)")
  axis.legend(fontsize=7)
  _save(plt, figure, path, left=0.7)


def figure6(mixing_rows, diversity_rows, needed, path):
  plt = _pyplot()
  colors = category_colors()
  figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
  for category in dict.fromkeys(r["category"] for r in mixing_rows):
    rows = [r for r in mixing_rows if r["category"] == category]
    rates = sorted({r["base_rate"] for r in rows})
    means = [100 * np.mean([r["test_accuracy"] for r in rows if r["base_rate"] == rate]) for rate in rates]
    left.plot(rates, means, marker="o", color=colors[category], label=f"{category}: {rows[0]['pair']}")
  left.set_xlabel("share of features from the base (same total)")
  left.set_ylabel("linear-probe test accuracy (%)")
  left.set_title("mixing features of two models", fontsize=9)
  left.legend(fontsize=7)
  for category in dict.fromkeys(r["category"] for r in diversity_rows):
    rows = [r for r in diversity_rows if r["category"] == category]
    right.plot([r["features"] for r in rows], [100 * r["test_accuracy"] for r in rows], marker=".",
               color=colors[category], label=category)
  if needed:
    right.axhline(100 * needed[0]["target_accuracy"], color="grey", ls=":", lw=1, label="target")
  right.set_xlabel("features, most diverse first (concatenated embeddings)")
  right.set_ylabel("linear-probe test accuracy (%)")
  right.set_title("diversity-ranked features", fontsize=9)
  right.legend(fontsize=7)
  figure.suptitle("Fig. 6: features overlap without superset")
  _save(plt, figure, path, wspace=0.2)


def figure7(downstream, path):
  plt = _pyplot()
  figure, axes = plt.subplots(1, 3, figsize=(14, 4))
  models, metric = downstream["models"], downstream["metric"]
  for row in models:
    axes[0].scatter(100 * row["test_accuracy"], 100 * row["downstream"], color="#4C72B0")
    axes[0].annotate(row["model"], (100 * row["test_accuracy"], 100 * row["downstream"]), fontsize=6)
  axes[0].set_xlabel("test accuracy (%)")
  axes[0].set_ylabel(f"downstream {metric} (%)")
  order = sorted(models, key=lambda r: -r["prediction_diversity"])
  axes[1].barh(range(len(order)), [100 * r["prediction_diversity"] for r in order], color="#55A868")
  axes[1].set_yticks(range(len(order)), [r["model"] for r in order], fontsize=6)
  axes[1].invert_yaxis()
  axes[1].set_xlabel("prediction diversity: mean EI with the others (%)")
  names = [r["model"] for r in models]
  grid = np.full((len(names), len(names)), np.nan)
  for index, row in enumerate(models):
    grid[index, index] = 100 * row["downstream"]
  for pair in downstream["pairs"]:
    a, b = names.index(pair["model_a"]), names.index(pair["model_b"])
    grid[a, b] = grid[b, a] = 100 * pair["downstream"]
  image = axes[2].imshow(grid, cmap="viridis")
  axes[2].set_xticks(range(len(names)), names, rotation=90, fontsize=5)
  axes[2].set_yticks(range(len(names)), names, fontsize=5)
  figure.colorbar(image, ax=axes[2], label=f"{metric} of the concatenated pair (%)")
  figure.suptitle("Fig. 7: downstream linear evaluation of each model and each stacked pair")
  _save(plt, figure, path, left=0.7, bottom=1.0, right=0.3, wspace=0.5)


def class_label(class_names, index: int) -> str:
  return str(class_names[index]) if index < len(class_names) else str(index)


def fmt(value, low=None, high=None, scale=100.0, digits=2):
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "n/a"
  text = f"{scale * value:.{digits}f}"
  return text if low is None else f"{text} [{scale * low:.{digits}f}, {scale * high:.{digits}f}]"


def table(header, rows) -> str:
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
  return "\n".join(lines)


def in_band_base_pairs(results: dict) -> list[dict]:
  """The (base, X) pair rows of the partners inside the accuracy band (Fig. 1–2)."""
  band = set(results["band"]["in_band"])
  return [p for p in results["pairs"] if p["with_base"] and p["model_b"] in band]


def band_text(results) -> str:
  band, models = results["band"], results["models"]
  outside = [r["model"] for r in models if r["band"] != "in band"]
  return (f"Accuracy band: the {band['width']:g}-point test-accuracy window holding the base with the most models, "
          f"{100 * band['low']:.2f}–{100 * band['high']:.2f}%: {len(band['in_band'])} of {len(models)} models are in "
          "it; only they enter Fig. 1–2, the per-category table and claims 1–3 (the paper keeps to 74–78%). "
          + (f"Outside the band (greedy pool only): {', '.join(outside)}." if outside else "Every model is in it."))


def claims_text(results) -> str:
  """The claims table; with replicates (config field ``replicates`` > 1) the verdict is over
  all of them (hierarchical bootstrap) and each replicate's own value and verdict stand beside it."""
  claims = results["claims"]
  if not claims or "per_replicate" not in claims[0]:
    return table(("claim", "test", "evidence (estimate [95% CI])", "verdict"),
                  [(c["claim"], c["test"], c["evidence"], f"**{c['verdict']}**") for c in claims])
  replicates = results["config"]["replicates"]
  return (f"Over {replicates} replicates (independent zoo draws: every row retrained with seeds of its own): each "
          "claim's statistic is the mean over replicates, its interval a hierarchical bootstrap (replicates "
          "resampled with replacement, then the test examples within each); the tables above are replicate 0's."
          "\n\n" + table(("claim", "test", "evidence (estimate [95% CI])", "per replicate (estimate [95% CI] verdict)",
                            "verdict"),
                           [(c["claim"], c["test"], c["evidence"], c["per_replicate"], f"**{c['verdict']}**")
                            for c in claims]))


def greedy_text(results) -> str:
  config = results["config"]
  if not config.get("selection_split"):
    return "No selection split configured (config field selection_split): no greedy runs."
  runs = results["greedy"]
  return (f"Members are chosen greedily on `{config['selection_split']}` (disjoint from calibration and test), from "
          f"each of the {config['sections']['greedy']['starts']} best models there, over the models at least "
          f"{100 * GREEDY_POOL_GAP:g} points below it there; "
          "accuracies are on test. The chosen size is the best point of the path on the selection split (the start "
          "alone included; ties keep the smaller ensemble): claim 4 scores that ensemble, not the last forced "
          "addition.\n\n" + table(
              ("start", "pool (best on selection)", "added (category vs start)", "test accuracy per size",
               "chosen size (test)", "best pool model (test)"),
              [(r["start"], f"{len(r['pool'])} models" + (f" (≤ {fmt(r['pool_max_selection_accuracy'])})"
                                                         if r["pool"] else ""),
                " → ".join(f"{n} ({c})" for n, c in zip(r["members"][1:], r["categories_vs_start"][1:])) or "none",
                " → ".join(fmt(a) for a in r["test_accuracy"]),
                f"{r['chosen_size']} ({fmt(r['chosen_test_accuracy'])})", fmt(r["pool_best_test_accuracy"]))
               for r in runs])
          + "\n\nThe paper's table: the best first addition to each start (chosen on the selection split) and its "
          "test gain over the start alone.\n\n" + table(
              ("start", "best first addition (category vs start)", "start (test)", "pair (test)", "gain (pt)"),
              [(r["start"], f"{r['best_first_addition']} ({r['categories_vs_start'][1]})", fmt(r["test_accuracy"][0]),
                fmt(r["test_accuracy"][1]), f"{100 * r['best_first_addition_test_gain']:+.2f}")
               for r in runs if r["best_first_addition"] is not None]))


def markdown(results: dict) -> str:
  """report.md: the title and what the numbers are, each configured section's part in order
  (its module's ``markdown``), the models' weights and the config."""
  from launch.study import sections
  config, models = results["config"], results["models"]
  parts = [
      f"# overlap: {config['name']}",
      f"Base model **{models[0]['model']}**; {len(models)} models; metrics on `{config['dataset']}` "
      f"`{config['test_split']}` "
      f"({results['num_test_examples']} examples) after temperature scaling fitted on "
      f"`{config['calibration_split']}`; 95% paired-bootstrap intervals ({config['resamples']} resamples). "
      "Tables give percentages. Every number below is in a CSV next to this file.",
  ]
  for name in results["sections"]:
    parts += sections.get(name).markdown(results)
  parts += [
      "## Models' weights (config.json lists the sha256 of each model's weights and its provenance)",
      table(("model", "weights sha256", "origin", "download (commit · file sha256, weights.lock.json)"),
            [(r["model"], f"`{r['weights_sha256'][:16]}`", r["weights_origin"], r.get("weights_source") or "")
             for r in models]),
      "## Config (config.json)", "```json\n" + json.dumps(config, indent=2) + "\n```",
  ]
  return "\n\n".join(parts) + "\n"


def class_groups_text(results) -> str:
  rows = results["class_groups"]
  if not rows:
    return "No class groups configured (config field sections.specialisation.class_groups)."
  return ("Class-id groups (" + ", ".join(f"{r['group']}: ids {r['first_class']}–{r['last_class']}"
                                          for r in rows if r["category"] == rows[0]["category"]) + "):\n\n"
          + table(("category", "partner", "group", "mean specialisation", "classes base wins", "classes partner wins"),
                   [(r["category"], r["partner"], r["group"], fmt(r["mean_specialisation"], scale=1, digits=3),
                     r["classes_base_wins"], r["classes_partner_wins"]) for r in rows]))


def downstream_text(results) -> str:
  down = results["downstream"]
  if not down:
    return "## Fig. 7: downstream\n\nNo downstream dataset configured (config field sections.downstream.dataset)."
  dataset = results["config"]["sections"]["downstream"]["dataset"]
  best_pairs = sorted(down["pairs"], key=lambda p: -p["downstream"])[:10]
  return "\n\n".join([
      f"## Fig. 7: downstream linear evaluation on {dataset} ({down['metric']}; downstream_models.csv, "
      "downstream_pairs.csv)", "![](fig7_downstream.png)",
      table(("model", "test accuracy", f"{dataset} {down['metric']}", "prediction diversity"),
             [(r["model"], fmt(r["test_accuracy"]), fmt(r["downstream"]), fmt(r["prediction_diversity"]))
              for r in down["models"]]),
      "Best concatenated pairs:",
      table(("pair", "category", down["metric"], "best single", "gain (pts)"),
             [(f"{p['model_a']} + {p['model_b']}", p["category"], fmt(p["downstream"]), fmt(p["best_single"]),
               fmt(p["gain"])) for p in best_pairs])])


LINK_LABELS = {"error_inconsistency": "error inconsistency", "cohen_kappa": "Cohen's κ",
               "unbiased_kappa": "unbiased κ", "conversion_rate": "conversion rate",
               "theta_asymmetry": "θ asymmetry", "cka": "linear CKA", "unbiased_cka": "unbiased CKA",
               "mutual_knn": "mutual k-NN", "cknna": "CKNNA", "cka_calibrated": "CKA − null",
               "mutual_knn_calibrated": "mutual k-NN − null", "cknna_calibrated": "CKNNA − null",
               "ensemble_gain": "ensemble gain", "concatenation_gain": "concatenation gain"}


def similarity_text(section) -> str:
  """The "Representational similarity and complementarity" section (launch.study.link)."""
  title = "## Representational similarity and complementarity (link.csv, link_correlations.csv)"
  if not section:
    return f"{title}\n\nNot computed (config field sections.similarity.enabled is false)."
  s = section["settings"]
  intro = (f"Every pair of the {len(section['models'])} models on the test split. EI, κ, conversion rate and the "
           "ensemble gain (ensemble − mean member accuracy) come from the pairwise outcomes above; unbiased κ "
           f"and κ's p-value against independent errors after Klein et al. ({s['kappa_draws']} null draws); "
           "θ asymmetry = mean θ when only a is right − mean θ when only b is right (°). Linear and unbiased "
           f"CKA on all {s['test_examples']} test embeddings; mutual k-NN and CKNNA (k = {s['k']}) and the "
           f"permutation-null calibrated scores (score − null mean, {s['permutations']} draws) on "
           f"{s['examples']} random test examples. Concatenation gain: closed-form ridge probe on both "
           f"embeddings − the better single one (fit on {s['probe_train_examples']} calibration examples, λ on "
           f"{s['probe_val_examples']}, scored on test). ρ: Spearman over pairs; 95% intervals resample models "
           f"({s['resamples']} draws; pairs share models).")
  if s.get("concatenation", "computed") != "computed":
    intro += f" Concatenation gain {s['concatenation']}."
  if not section["correlations"]:
    return "\n\n".join([title, intro, "Fewer than 3 models: no rank correlation."])
  lookup = {(c["predictor"], c["target"]): c for c in section["correlations"]}
  targets = list(dict.fromkeys(c["target"] for c in section["correlations"]))
  predictors = list(dict.fromkeys(c["predictor"] for c in section["correlations"]))
  rho = lambda c: "n/a" if math.isnan(c["rho"]) else f"{c['rho']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"
  correlations = table(["similarity"] + [f"ρ with {LINK_LABELS.get(t, t)}" for t in targets],
                        [[LINK_LABELS.get(p, p)] + [rho(lookup[(p, t)]) for t in targets] for p in predictors])
  from launch.study.link import point_value
  ranked = sorted(section["pairs"], key=lambda r: -np.nan_to_num(r["ensemble_gain"], nan=-np.inf))
  shown = ranked if len(ranked) <= 10 else ranked[:5] + ranked[-5:]
  columns = [c for c in ("error_inconsistency", "cohen_kappa", "cka", "unbiased_cka", "mutual_knn", "cknna",
                         "ensemble_gain", "concatenation_gain") if c in section["pairs"][0]]
  scale = lambda c: 100.0 if c in ("error_inconsistency", "ensemble_gain", "concatenation_gain") else 1.0
  pairs = table(["pair"] + [LINK_LABELS.get(c, c) + (" (pts)" if scale(c) == 100 else "") for c in columns],
                 [[f"{r['model_a']} + {r['model_b']}"] + [fmt(point_value(r[c]), scale=scale(c),
                                                               digits=2 if scale(c) == 100 else 3) for c in columns]
                  for r in shown])
  which = "All pairs" if len(ranked) <= 10 else "The 5 pairs with the largest and the 5 with the smallest"
  return "\n\n".join([title, intro, "![](fig8_link.png)", "How well each similarity predicts each gain:",
                       correlations, f"{which} ensemble gain:", pairs])


def write_similarity(section, staging: Path) -> None:
  """link.csv (every pair), link_correlations.csv and the link figure, if the section was computed."""
  if not section:
    return
  from launch.study import link
  write_csv(staging / "link.csv", section["pairs"])
  write_csv(staging / "link_correlations.csv", section["correlations"])
  if section["correlations"]:
    from launch.study.similarity_report import DEFAULT_PREDICTORS, link_figure
    # The raw measures only (the null-calibrated ones are in the table): 16 panels draw in a few seconds.
    figure = link_figure(link.table_of(section), predictors=DEFAULT_PREDICTORS)
    figure.savefig(staging / "fig8_link.png", dpi=110)


def group_mixing(rows):
  grouped = {}
  for r in rows:
    grouped.setdefault((r["pair"], r["category"], r["base_rate"], r["features"]), []).append(r["test_accuracy"])
  return grouped


def write(results: dict, out: Path) -> Path:
  """Writes the whole report to ``out`` atomically (a sibling temp dir renamed into place): each
  configured section's CSVs and figures (its module's ``write``), config.json and report.md."""
  from launch.study import sections
  out = Path(out)
  staging = out.with_name(out.name + ".partial")
  shutil.rmtree(staging, ignore_errors=True)
  staging.mkdir(parents=True)
  with warnings.catch_warnings():  # NaN means (e.g. no inconsistent example) are drawn as gaps, not warned about
    warnings.simplefilter("ignore", RuntimeWarning)
    warnings.filterwarnings("ignore", message="No artists with labels")
    for name in results["sections"]:
      sections.get(name).write(results, staging)
  (staging / "config.json").write_text(json.dumps({"config": results["config"], "models": results["provenance"]},
                                                  indent=2, sort_keys=True))
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
