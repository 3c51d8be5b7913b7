r"""The default study: ``python -m launch.study``.

Until the Fashion-MNIST zoo and the evaluation store land, this runs the paper's
whole metric suite on *synthetic* calibrated predictions whose models differ in
how much of their noise they share (a stand-in for "how differently they were
trained"), and prints what the paper's Fig. 1, 2 and 5 would show: per group of
pairs, error inconsistency, ensemble gain and conversion rate with bootstrap
confidence intervals, the EI-vs-gain fit, and a greedy ensemble.

  python -m launch.study --models_per_group=3 --examples=5000
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from absl import app, flags

import metrics

MODELS_PER_GROUP = flags.DEFINE_integer("models_per_group", 3, "Synthetic models per similarity group.", lower_bound=1)
EXAMPLES = flags.DEFINE_integer("examples", 5000, "Synthetic test examples.", lower_bound=10)
CLASSES = flags.DEFINE_integer("classes", 100, "Classes.", lower_bound=2)
RESAMPLES = flags.DEFINE_integer("resamples", 300, "Bootstrap resamples for the confidence intervals.", lower_bound=2)
SEED = flags.DEFINE_integer("seed", 0, "Random seed.")

# Share of noise common with the base model: high = "similarly trained".
GROUPS = {"reinit-like": 0.9, "architecture-like": 0.6, "dataset-like": 0.2}


def _synthetic_zoo(rng, models_per_group, num_examples, num_classes):
  """Logits of a base model and of groups of models sharing less and less of its noise."""
  labels = rng.integers(0, num_classes, num_examples)
  signal = 2.2 * np.eye(num_classes)[labels]
  base_noise = rng.normal(size=(num_examples, num_classes))
  logits, names, groups = [signal + base_noise], ["base"], ["base"]
  for group, shared in GROUPS.items():
    for index in range(models_per_group):
      own = rng.normal(size=(num_examples, num_classes))
      logits.append(signal + np.sqrt(shared) * base_noise + np.sqrt(1 - shared) * own)
      names.append(f"{group}-{index}")
      groups.append(group)
  return np.stack(logits).astype(np.float32) * 2.0, labels, names, groups


def main(argv):
  del argv
  rng = np.random.default_rng(SEED.value)
  logits, labels, names, groups = _synthetic_zoo(rng, MODELS_PER_GROUP.value, EXAMPLES.value, CLASSES.value)
  calibration = np.arange(EXAMPLES.value) < EXAMPLES.value // 2
  temperatures = metrics.fit_temperature(logits[:, calibration], labels[calibration])
  probs = np.asarray(metrics.apply_temperature(logits[:, ~calibration], temperatures))
  test_labels = labels[~calibration]

  outcomes = metrics.pairwise_outcomes(probs, test_labels)
  summary = {k: np.asarray(v) for k, v in metrics.summarize(outcomes).items()}
  intervals = metrics.pairwise_intervals(outcomes, num_resamples=RESAMPLES.value, seed=SEED.value)
  print("NOTE: synthetic predictions; the Fashion-MNIST zoo study replaces this demo when it lands.\n")
  print(f"{'pair (base, X)':28s} {'EI':>16s} {'ens. gain':>18s} {'conversion':>18s}")
  for model in range(1, len(names)):
    cells = []
    for key in ("error_inconsistency", "relative_improvement", "conversion_rate"):
      interval = intervals[key]
      cells.append(f"{summary[key][0, model]:6.3f} [{interval.low[0, model]:.3f},{interval.high[0, model]:.3f}]")
    print(f"{names[model]:28s} " + " ".join(f"{c:>18s}" for c in cells))
  ei = summary["error_inconsistency"][0, 1:]
  gain = summary["relative_improvement"][0, 1:]
  fit = metrics.linear_fit(ei, gain)
  print(f"\nEI vs ensemble gain over (base, X) pairs: slope {fit['slope']:.3f}, Pearson r {fit['pearson_r']:.3f}")
  for group in GROUPS:
    members = [i for i, g in enumerate(groups) if g == group]
    print(f"  {group:18s} mean EI {summary['error_inconsistency'][0, members].mean():.3f}  "
          f"mean gain {summary['relative_improvement'][0, members].mean():+.4f}")
  greedy = metrics.greedy_selection(probs, test_labels, start=0, pool=list(range(1, len(names))),
                                    steps=min(4, len(names) - 1))
  print("\ngreedy ensemble from base: " + " -> ".join(names[m] for m in greedy.members) +
        "  accuracy " + " -> ".join(f"{a:.3f}" for a in greedy.accuracy))
  return 0


if __name__ == "__main__":
  sys.exit(app.run(main))
