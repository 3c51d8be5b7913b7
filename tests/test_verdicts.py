"""launch.study.verdicts: each claim holds / does not hold / is inconclusive on synthetic zoos
built to make it so, and every interval equals a naive numpy bootstrap loop over the same
resamples."""

import numpy as np
import pytest

from launch.study import verdicts

CATEGORIES = ["base", "reinit", "reinit", "hyper-parameters", "architecture", "framework", "dataset", "dataset"]
RANK = {c: i for i, c in enumerate(verdicts.CATEGORY_ORDER)}
NUM_CLASSES = 10


def synthetic_zoo(ei, win, num_examples, seed):
  """Calibrated-looking probs [N, E, K] of a base (80% right) and one partner per entry of
  CATEGORIES[1:], whose category has error inconsistency ``ei[rank]`` with the base
  (balanced: equal only-base and only-partner counts, so accuracies stay equal) and where
  the right model is the more confident one in a share ``win[rank]`` of them."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, NUM_CLASSES, num_examples)
  base_correct = rng.random(num_examples) < 0.8
  models = [(base_correct, np.full(num_examples, 0.7))]
  confidences = [np.full(num_examples, 0.7)]
  for category in CATEGORIES[1:]:
    rank = RANK[category]
    flips = int(round(ei[rank] * num_examples / 2))
    correct = base_correct.copy()
    lose = rng.choice(np.flatnonzero(base_correct), flips, replace=False)
    gain = rng.choice(np.flatnonzero(~base_correct), flips, replace=False)
    correct[lose], correct[gain] = False, True
    confidence = np.full(num_examples, 0.7)
    inconsistent = np.concatenate([lose, gain])
    right_wins = rng.random(len(inconsistent)) < win[rank]
    # The right model gets 0.9 (wins) or 0.5 (loses); the base keeps 0.7.
    for index, wins in zip(inconsistent, right_wins):
      partner_right = correct[index]
      confidence[index] = (0.9 if wins else 0.5) if partner_right else (0.5 if wins else 0.9)
    models.append((correct, confidence))
    confidences.append(confidence)
  probs = np.zeros((len(models), num_examples, NUM_CLASSES), np.float32)
  for m, (correct, confidence) in enumerate(models):
    predicted = np.where(correct, labels, (labels + 1) % NUM_CLASSES)
    probs[m] = ((1 - confidence) / (NUM_CLASSES - 1))[:, None]
    probs[m, np.arange(num_examples), predicted] = confidence
  return probs, labels


def probe_correctness(accuracies, num_examples, seed):
  rng = np.random.default_rng(seed)
  return {"dataset": {rate: rng.random((2, num_examples)) < p for rate, p in accuracies.items()}}


SCENARIOS = {
    # EI, conversion and θ asymmetry all rise with divergence; a greedy addition helps; mixtures win.
    "holds": dict(ei=[0.04, 0.06, 0.09, 0.12, 0.16], win=[0.55, 0.6, 0.7, 0.8, 0.9], examples=5000,
                  probe={1.0: 0.80, 0.5: 0.86, 0.0: 0.78}),
    # Everything falls with divergence; the divergent partner's confident mistakes hurt; mixtures lose.
    "does not hold": dict(ei=[0.16, 0.12, 0.09, 0.06, 0.04], win=[0.9, 0.8, 0.6, 0.45, 0.3], examples=5000,
                          probe={1.0: 0.85, 0.5: 0.79, 0.0: 0.78}),
    # Flat effects at the threshold's scale, on few examples: every interval straddles δ.
    "inconclusive": dict(ei=[0.08] * 5, win=[0.55] * 5, examples=300, probe={1.0: 0.80, 0.5: 0.80, 0.0: 0.78}),
}


def compact(probs, labels, greedy=()):
  """The compact inputs of verdicts.claims from probs: per-model correctness and top-1
  confidence, each (base, m) ensemble's correctness, each greedy run's (start, final
  ensemble correctness), the members summed in float32 in joining order."""
  correct = probs.argmax(-1) == labels
  ensembles = np.stack([(probs[0] + probs[m]).argmax(-1) == labels for m in range(len(probs))])
  runs = []
  for members in greedy:
    summed = np.zeros(probs.shape[1:], np.float32)
    for m in members:
      summed = summed + probs[m]
    runs.append((members[0], summed.argmax(-1) == labels))
  return correct, probs.max(-1), ensembles, runs


def decide(probs, labels, categories, resamples, greedy=(), **kwargs):
  correct, confidence, ensembles, runs = compact(probs, labels, greedy)
  return verdicts.claims(correct, confidence, ensembles, categories, resamples, greedy=runs, **kwargs)


def decide_scenario(name, num_resamples=300):
  scenario = SCENARIOS[name]
  probs, labels = synthetic_zoo(scenario["ei"], scenario["win"], scenario["examples"], seed=1)
  resamples = verdicts.draw_resamples(len(labels), num_resamples, seed=2)
  greedy = [[0, len(CATEGORIES) - 1]]
  probe = probe_correctness(scenario["probe"], len(labels), seed=3)
  return decide(probs, labels, CATEGORIES, resamples, greedy, probe_correct=probe), \
      (probs, labels, resamples, greedy, probe)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_claim_gets_the_scenarios_verdict(name):
  out, _ = decide_scenario(name)
  assert [c["verdict"] for c in out] == [name] * 5, [(c["verdict"], c["evidence"]) for c in out]
  for claim in out:
    interval = claim["statistic"]
    assert interval.low <= interval.estimate <= interval.high or claim["claim"].startswith("2.")
    assert "CI" in claim["evidence"] and "[" in claim["evidence"]
    assert ("Why:" in claim["evidence"]) == (name != "holds"), claim["evidence"]
  if name == "does not hold":  # the trend claims name the category steps that go the wrong way
    assert "mean EI falls at reinit → hyper-parameters" in out[0]["evidence"]


def naive_statistics(probs, labels, greedy, probe):
  """Every claim's statistic from scratch on one (resampled) set of examples."""
  correct = probs.argmax(-1) == labels
  confidence = probs.max(-1)
  present = [c for c in verdicts.CATEGORY_ORDER if c in CATEGORIES]
  ei, gain, conversion, asymmetry = {}, {}, {}, {}
  for m in range(1, len(probs)):
    ensemble = (probs[0] + probs[m]).argmax(-1) == labels
    xor = correct[0] != correct[m]
    ei[m] = xor.mean()
    gain[m] = ensemble.mean() - (correct[0].mean() + correct[m].mean()) / 2
    conversion[m] = ensemble[xor].mean()
    theta = np.degrees(np.arctan2(confidence[0], confidence[m]))
    asymmetry[m] = theta[correct[0] & ~correct[m]].mean() - theta[~correct[0] & correct[m]].mean()

  def trend(values):
    means = [np.mean([values[m] for m in values if CATEGORIES[m] == c]) for c in present]
    return np.polyfit([RANK[c] for c in present], means, 1)[0]
  models = sorted(ei)
  gain_slope = np.polyfit([ei[m] for m in models], [gain[m] for m in models], 1)[0]
  start, *rest = greedy[0]
  final = probs[[start, *rest]].sum(0).argmax(-1) == labels
  accuracy = {rate: c.mean() for rate, c in probe["dataset"].items()}
  mixing = accuracy[0.5] - max(accuracy[0.0], accuracy[1.0])
  return [trend(ei), trend(conversion), trend(asymmetry), final.mean() - correct[start].mean(), mixing], gain_slope


def test_intervals_match_a_naive_bootstrap_loop():
  out, (probs, labels, resamples, greedy, probe) = decide_scenario("holds", num_resamples=60)
  estimate, _ = naive_statistics(probs, labels, greedy, probe)
  draws = []
  for rows in resamples:
    resampled_probe = {"dataset": {r: c[:, rows] for r, c in probe["dataset"].items()}}
    draws.append(naive_statistics(probs[:, rows], labels[rows], greedy, resampled_probe)[0])
  draws = np.array(draws)
  low, high = np.percentile(draws, [2.5, 97.5], axis=0)
  for index, claim in enumerate(out):
    interval = claim["statistic"]
    np.testing.assert_allclose([interval.estimate, interval.low, interval.high],
                               [estimate[index], low[index], high[index]], rtol=1e-6, atol=1e-9,
                               err_msg=claim["claim"])
  gain_slope = out[1]["evidence"].split("gain-on-EI slope ")[1].split(" ")[0]
  assert float(gain_slope) == pytest.approx(naive_statistics(probs, labels, greedy, probe)[1], rel=1e-2)


def test_models_outside_the_band_leave_claims_1_to_3_but_serve_greedy():
  """Dropping the reinit partners from the band must equal deciding on a zoo without them;
  a greedy run may still add an out-of-band model."""
  probs, labels = synthetic_zoo(SCENARIOS["holds"]["ei"], SCENARIOS["holds"]["win"], 2000, seed=4)
  resamples = verdicts.draw_resamples(len(labels), 50, seed=5)
  in_band = np.array([c != "reinit" for c in CATEGORIES])
  masked = decide(probs, labels, CATEGORIES, resamples, [[0, 1]], in_band=in_band)
  kept = np.flatnonzero(in_band)
  reduced = decide(probs[kept], labels, [CATEGORIES[i] for i in kept], resamples, [[0, 1]])
  for a, b in zip(masked[:3], reduced[:3]):
    assert a["evidence"] == b["evidence"] and "reinit" not in a["evidence"]
  full = decide(probs, labels, CATEGORIES, resamples, [[0, 1]])
  assert masked[3]["evidence"] == full[3]["evidence"] and masked[0]["evidence"] != full[0]["evidence"]


def test_decide_and_band():
  interval = lambda low, high: verdicts.Interval((low + high) / 2, low, high, 0.0, 0.95, 10)
  assert verdicts.decide(interval(0.002, 0.01), 0.001) == "holds"
  assert verdicts.decide(interval(-0.01, 0.0005), 0.001) == "does not hold"
  assert verdicts.decide(interval(-0.01, 0.01), 0.001) == "inconclusive"
  assert verdicts.decide(interval(float("nan"), float("nan")), 0.0) == "inconclusive"
  accuracy = np.array([0.90, 0.89, 0.87, 0.865, 0.92, 0.80, 0.955, 0.9405])
  band = verdicts.accuracy_band(accuracy, base=0, width=4.0)
  # Naive: slide a window over a fine grid; the best window holding the base holds 4 models.
  lows = np.arange(85.0, 91.0, 0.0005)
  counts = [np.sum((100 * accuracy >= low) & (100 * accuracy <= low + 4)) for low in lows if low <= 90 <= low + 4]
  assert band.sum() == max(counts) == 4
  np.testing.assert_array_equal(np.flatnonzero(band), [0, 1, 2, 3])
  assert verdicts.accuracy_band(accuracy, base=6, width=4.0).sum() == 3  # 92, 95.5, 94.05
  low, high = verdicts.band_range(accuracy, base=0, width=4.0)
  assert high - low == pytest.approx(0.04) and low <= accuracy[band].min() and accuracy[band].max() <= high
  assert not np.any((accuracy[~band] >= low) & (accuracy[~band] <= high))
  with pytest.raises(ValueError, match="width"):
    verdicts.accuracy_band(accuracy, 0, width=0)


def test_bad_input():
  probs, labels = synthetic_zoo([0.1] * 5, [0.6] * 5, 200, seed=0)
  resamples = verdicts.draw_resamples(200, 10)
  correct, confidence, ensembles, _ = compact(probs, labels)
  claims = lambda *args, **kwargs: verdicts.claims(*args, resamples, **kwargs)
  with pytest.raises(ValueError, match="categories"):
    claims(correct, confidence, ensembles, CATEGORIES[1:])
  with pytest.raises(ValueError, match="not among"):
    claims(correct, confidence, ensembles, ["base"] + ["other"] * 7)
  with pytest.raises(ValueError, match="confidence and base_ensemble_correct"):
    claims(correct, confidence[:, :10], ensembles, CATEGORIES)
  with pytest.raises(ValueError, match="confidence and base_ensemble_correct"):
    claims(correct, confidence, ensembles[1:], CATEGORIES)
  with pytest.raises(ValueError, match="outside"):
    verdicts.claims(correct, confidence, ensembles, CATEGORIES, resamples + 200)
  with pytest.raises(ValueError, match="in_band"):
    claims(correct, confidence, ensembles, CATEGORIES, in_band=np.zeros(8, bool))
  with pytest.raises(ValueError, match="greedy run"):
    claims(correct, confidence, ensembles, CATEGORIES, greedy=[(0, np.ones(5, bool))])
  with pytest.raises(ValueError, match="greedy run"):
    claims(correct, confidence, ensembles, CATEGORIES, greedy=[(8, correct[0])])
  with pytest.raises(ValueError, match="probe_correct"):
    claims(correct, confidence, ensembles, CATEGORIES,
           probe_correct={"dataset": {1.0: np.ones((1, 5), bool), 0.0: np.ones((1, 5), bool)}})


@pytest.mark.parametrize("name", ["does not hold", "inconclusive"])
def test_minimum_effects_are_quoted_in_their_intervals_units(name):
  """The evidence quotes δ in the unit of the interval it is compared with (points per step,
  points, degrees per step), never as the raw fraction next to an interval in points."""
  out, _ = decide_scenario(name)
  expected = {0: f"δ = {100 * verdicts.MIN_EI_TREND:g} pt/step", 2: f"δ = {verdicts.MIN_THETA_TREND:g}°/step",
              3: f"δ = {100 * verdicts.MIN_GREEDY_GAIN:g} pt", 4: f"δ = {100 * verdicts.MIN_MIXING_GAIN:g} pt"}
  for index, delta in expected.items():
    assert delta in out[index]["test"], out[index]["test"]
    assert delta in out[index]["evidence"], out[index]["evidence"]
  for claim in out:
    assert f"δ = {verdicts.MIN_EI_TREND:g}" not in claim["evidence"] + claim["test"], claim


def test_replicated_intervals_match_a_plain_numpy_hierarchical_resampling_loop():
  """Claim 4 over 3 replicates (each its own models, its own example resampling): the combined
  interval equals a numpy loop that picks replicates with replacement, then one of the picked
  replicate's example resamples, recomputes the greedy gain from the raw correctness, and
  averages over the picks; the per-replicate values are each replicate's own claim."""
  rng = np.random.default_rng(7)
  num_replicates, num_examples, num_resamples, num_draws = 3, 40, 25, 200
  per_replicate, data = [], []
  for replicate in range(num_replicates):
    correct = rng.random((3, num_examples)) < [[0.8], [0.6], [0.5]]
    chosen = correct[0] | (rng.random(num_examples) < 0.1 * (replicate + 1))  # the chosen ensemble gains
    resamples = verdicts.draw_resamples(num_examples, num_resamples, seed=replicate)
    per_replicate.append(verdicts.claims(correct, rng.random((3, num_examples)), correct, ["base", "reinit", "dataset"],
                                         resamples, greedy=[(0, chosen)]))
    data.append((correct[0], chosen, resamples))
  combined = verdicts.replicated_claims(per_replicate, num_draws=num_draws, seed=11)[3]
  replicates, examples = verdicts.draw_replicates(num_replicates, num_resamples, num_draws, seed=11 + 4)
  draws = []
  for d in range(num_draws):
    picks = []
    for j in range(num_replicates):
      start, chosen, resamples = data[replicates[d, j]]
      rows = resamples[examples[d, j] - 1]
      picks.append(chosen[rows].mean() - start[rows].mean())
    draws.append(np.mean(picks))
  point = np.mean([chosen.mean() - start.mean() for start, chosen, _ in data])
  low, high = np.percentile(draws, [2.5, 97.5])
  interval = combined["statistic"]
  assert interval.estimate == pytest.approx(point, abs=1e-12)
  assert (interval.low, interval.high) == pytest.approx((low, high), abs=1e-12)
  assert combined["verdict"] == verdicts.decide(interval, verdicts.MIN_GREEDY_GAIN)
  for replicate, (start, chosen, _) in enumerate(data):
    own = combined["replicates"][replicate]
    assert own["statistic"].estimate == pytest.approx(chosen.mean() - start.mean(), abs=1e-12)
    assert own["verdict"] == per_replicate[replicate][3]["verdict"]
    assert f"r{replicate} {own['quoted']} {own['verdict']}" in combined["evidence"]  # its own unit
  assert "per replicate: r0" in combined["evidence"]
  # Claim 2 decides on both of its parts, each combined the same way.
  claim2 = verdicts.replicated_claims(per_replicate, num_draws=num_draws, seed=11)[1]
  assert claim2["statistic"].num_resamples == num_draws
