"""The paper's five claims decided by tests on the paired bootstrap (pure: arrays in, verdicts out).

Every claim is reduced to one scalar statistic of the test examples, a function of
per-example correctness, ensemble correctness and calibrated confidences. The test
examples are resampled with replacement *jointly for all models* (one row of
``resamples`` serves every model, pair, greedy run and probe, as metrics.bootstrap
does), the statistic is recomputed on each resample, and its percentile interval at
``CONFIDENCE`` decides the claim against a named minimum effect δ:

  holds           if the interval lies above δ (low > δ);
  does not hold   if it lies below δ (high < δ): the effect is confidently smaller
                  than the smallest one that would support the claim (or reversed);
  inconclusive    otherwise (the interval contains δ).

The statistics (categories ordered reinit → hyper-parameters → architecture →
framework → dataset, rank 0…4; "trend" = least-squares slope of the per-category means
of (base, X) pairs on the rank, over the categories present):

1. trend of error inconsistency EI(base, X);
2. two tests, both must hold: slope of the ensemble gain over mean accuracy on EI
   across the (base, X) pairs, and trend of the conversion rate; "does not hold" if
   either does not;
3. trend of the θ asymmetry, mean θ(base, X) where only the base is right minus mean
   θ where only X is right (θ = atan2(conf_base, conf_X) in degrees, calibrated top-1
   confidences; positive: the right model is the more confident one);
4. mean over greedy runs of test accuracy of the ensemble of the size the selection split
   chooses (the best point of the greedy path on the selection split, the start alone
   included: launch.study.analysis.chosen_size) minus its start model (PAPER.md §3.8: members
   are added while they help; forced additions the selection split rejects are not scored);
5. probe accuracy of the best feature mixture minus the best single embedding, for
   the most divergent category mixed (re-chosen in every resample).

Each statistic is a ratio of weighted sums ``w @ f(e)`` over examples; with the
multinomial counts w of every resample stacked as W [B, E], one matrix product
``W @ F`` gives all of them for all resamples (float64, numpy).
"""

from __future__ import annotations

import dataclasses

import numpy as np

import metrics
from metrics.bootstrap import Interval
from zoo.registry import CATEGORIES

CATEGORY_ORDER = CATEGORIES  # one source: the zoo's category order (§3.1), rank 0…4 of the trends
HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
CONFIDENCE = 0.95  # central bootstrap interval; 95% as for every other interval in the study

# Minimum effects δ (the smallest value that supports a claim). Chosen as the resolution
# that matters at this scale, not tuned to outcomes:
# EI rising by 0.1 point per category step (10 of 10,000 test examples) is the least
# trend worth calling "errors become less correlated".
MIN_EI_TREND = 0.001
# Any positive slope of ensemble gain on EI: the paper's Fig. 2 claim is a positive linear
# relation, with no stated size.
MIN_GAIN_ON_EI_SLOPE = 0.0
# Conversion rate rising by 0.5 point per category step: the paper's Fig. 2 right shows a
# few points across the five categories.
MIN_CONVERSION_TREND = 0.005
# θ asymmetry rising by 0.5° per category step (the histograms use 5° bins).
MIN_THETA_TREND = 0.5
# The selection-chosen greedy ensemble must beat its start on test by at least 0.1 point
# (10 of 10,000 examples).
MIN_GREEDY_GAIN = 0.001
# The best mixture must beat the best single embedding by at least 0.1 point.
MIN_MIXING_GAIN = 0.001


def draw_resamples(num_examples: int, num_resamples: int, seed: int = 0) -> np.ndarray:
  """int64 [B, E]: B resamples with replacement of the E test examples (row b lists the
  example indices of resample b, shared by every model)."""
  if num_examples < 1 or num_resamples < 2:
    raise ValueError(f"need num_examples >= 1 and num_resamples >= 2; got {num_examples}, {num_resamples}.")
  return np.random.default_rng(seed).integers(0, num_examples, size=(num_resamples, num_examples))


def accuracy_band(accuracy, base: int, width: float = 4.0) -> np.ndarray:
  """bool [N]: the models inside the ``width``-point accuracy window (accuracies in [0, 1];
  width in points) that holds the base and holds the most models; ties go to the window
  whose centre is closest to the base. The paper keeps Fig. 1–2 to such a band (74–78%)."""
  low = _band_low(accuracy, base, width)
  accuracy = 100 * np.asarray(accuracy, np.float64)
  return (accuracy >= low - _BAND_TOLERANCE) & (accuracy <= low + width + _BAND_TOLERANCE)


def band_range(accuracy, base: int, width: float = 4.0) -> tuple[float, float]:
  """(low, high) accuracy (fractions) of the window :func:`accuracy_band` chooses:
  high = low + width / 100."""
  low = _band_low(accuracy, base, width)
  return low / 100, (low + width) / 100


_BAND_TOLERANCE = 1e-9  # points: accuracies on a window edge count as inside despite rounding


def _band_low(accuracy, base: int, width: float) -> float:
  """Lower edge (points) of the band: candidate edges are each accuracy as a low or a high end."""
  accuracy = 100 * np.asarray(accuracy, np.float64)
  if accuracy.ndim != 1 or not 0 <= base < len(accuracy):
    raise ValueError(f"accuracy must be [N] and base an index into it; got shape {accuracy.shape}, base {base}.")
  if not width > 0:
    raise ValueError(f"band width must be positive; got {width}.")
  tolerance = _BAND_TOLERANCE
  lows = np.concatenate([accuracy, accuracy - width])
  lows = lows[(lows <= accuracy[base] + tolerance) & (lows + width >= accuracy[base] - tolerance)]
  counts = [np.sum((accuracy >= low - tolerance) & (accuracy <= low + width + tolerance)) for low in lows]
  best = max(range(len(lows)), key=lambda i: (counts[i], -abs(lows[i] + width / 2 - accuracy[base])))
  return float(lows[best])


@dataclasses.dataclass
class _Features:
  """Per-example columns whose weighted sums make every statistic (one list, one matmul)."""
  columns: list = dataclasses.field(default_factory=list)

  def add(self, column) -> int:
    self.columns.append(np.asarray(column, np.float64))
    return len(self.columns) - 1


def _weights(resamples: np.ndarray, num_examples: int) -> np.ndarray:
  """Multinomial counts [B, E] of each resample (row b: how often each example was drawn);
  the first row is the original sample (all ones), the point estimate."""
  resamples = np.asarray(resamples)
  if resamples.ndim != 2 or resamples.shape[0] < 2 or not np.issubdtype(resamples.dtype, np.integer):
    raise ValueError(f"resamples must be int [B >= 2, E] example indices (draw_resamples); got "
                     f"{resamples.dtype} {resamples.shape}.")
  if resamples.min() < 0 or resamples.max() >= num_examples:
    raise ValueError(f"resamples index examples outside [0, {num_examples}).")
  counts = np.zeros((resamples.shape[0] + 1, num_examples))
  counts[0] = 1.0
  rows = np.repeat(np.arange(1, resamples.shape[0] + 1), resamples.shape[1])
  np.add.at(counts, (rows, resamples.ravel()), 1.0)
  return counts


def _ratio(numerator, denominator):
  with np.errstate(invalid="ignore", divide="ignore"):
    return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _slope(x, y):
  """Least-squares slope of y on x along the last axis (x [P] or [..., P]); NaN where
  x is constant or any y is NaN."""
  x = np.broadcast_to(x, y.shape)
  xc = x - x.mean(-1, keepdims=True)
  return _ratio(np.sum(xc * (y - y.mean(-1, keepdims=True)), -1), np.sum(xc ** 2, -1))


def _interval(samples: np.ndarray) -> Interval:
  """Point estimate (row 0) and percentile interval over the resamples (rows 1…), NaN
  resamples left out (as metrics.paired_bootstrap does)."""
  draws = samples[1:]
  draws = draws[~np.isnan(draws)]
  tail = 100 * (1 - CONFIDENCE) / 2
  if draws.size == 0:
    low = high = std = float("nan")
  else:
    low, high = np.percentile(draws, [tail, 100 - tail])
    std = float(np.std(draws))
  return Interval(float(samples[0]), float(low), float(high), std, CONFIDENCE, len(samples) - 1)


def decide(interval: Interval, minimum: float) -> str:
  """holds if the interval lies above ``minimum``, does not hold if below, else inconclusive."""
  if np.isnan(interval.low) or np.isnan(interval.estimate):
    return INCONCLUSIVE
  if interval.low > minimum:
    return HOLDS
  if interval.high < minimum:
    return FAILS
  return INCONCLUSIVE


def _delta(minimum: float, scale: float = 1.0, unit: str = "") -> str:
  """A minimum effect in the unit its interval is quoted in (δ = 0.001 of accuracy → "0.1 pt")."""
  return f"{scale * minimum:g}{unit}"


def _quote(interval: Interval, scale: float = 1.0, unit: str = "") -> str:
  return (f"{scale * interval.estimate:+.3g} [{scale * interval.low:+.3g}, {scale * interval.high:+.3g}]"
          f"{unit} ({100 * interval.confidence:.0f}% CI, {interval.num_resamples} resamples)")


def _check_inputs(correct, confidence, base_ensemble_correct, categories):
  correct = np.asarray(correct, bool)
  confidence = np.asarray(confidence, np.float64)
  base_ensemble_correct = np.asarray(base_ensemble_correct, bool)
  if correct.ndim != 2 or confidence.shape != correct.shape or base_ensemble_correct.shape != correct.shape:
    raise ValueError(f"correct, confidence and base_ensemble_correct must all be [N models, E examples]; got "
                     f"{correct.shape}, {confidence.shape} and {base_ensemble_correct.shape}.")
  if len(categories) != correct.shape[0] or categories[0] != "base":
    raise ValueError(f"categories must name each model's category vs the base, 'base' first; got {len(categories)} "
                     f"for {correct.shape[0]} models.")
  unknown = sorted(set(categories[1:]) - set(CATEGORY_ORDER))
  if unknown:
    raise ValueError(f"categories {unknown} are not among {CATEGORY_ORDER}.")
  return correct, confidence, base_ensemble_correct


# The sentences saying why a claim's part did not hold, by verdict (the evidence's "Why:"): ``{name}``
# the statistic, ``{delta}`` its δ in its unit, ``{scope}`` what it rests on, ``{reversed}`` " (it is
# reversed)" when the whole interval lies below 0. A claim that holds needs no why.
WHY_HOLDS = ""
WHY_FAILS = (". Why: {name}'s whole interval lies below δ = {delta}: the effect is confidently smaller than the "
             "least that would support the claim{reversed}")
WHY_INCONCLUSIVE = (". Why: {name}'s interval contains δ = {delta}: at this scale ({scope}) the data cannot tell an "
                    "effect of that size from none")
WHY_UNDEFINED = ". Why: {name} is undefined on these inputs ({scope})"


@dataclasses.dataclass(frozen=True)
class Part:
  """One tested part of a claim: its sample key, minimum effect δ, the unit its interval is quoted
  in (``scale``, ``unit``), how the sentences name it, and for a trend over categories, how they
  name the per-category means whose falling steps the why lists."""
  key: str
  minimum: float
  scale: float = 1.0
  unit: str = ""
  name: str = "the statistic"
  means: str = ""

  def delta(self) -> str:
    return _delta(self.minimum, self.scale, self.unit)

  def quote(self, interval: Interval) -> str:
    return _quote(interval, self.scale, self.unit)


@dataclasses.dataclass(frozen=True)
class ClaimSpec:
  """One of the paper's claims as data: its title, the test (a template: ``{delta}`` the
  minimum effect δ of its statistic quoted in its unit, ``{<part key>}`` each further part's δ;
  claim 5's ``{category}``), its statistic (a :class:`Part` keyed "statistic") and any further
  parts that must hold too (``also``), the sentences of each verdict (``why``: templates by
  verdict, :data:`WHY_FAILS` ...), and ``missing_test``: the test named when there is nothing to
  test (claims 4 and 5 without greedy runs or probes)."""
  title: str
  test: str
  statistic: Part
  also: tuple = ()
  missing_test: str = ""
  why: tuple = ((HOLDS, WHY_HOLDS), (FAILS, WHY_FAILS), (INCONCLUSIVE, WHY_INCONCLUSIVE), ("undefined", WHY_UNDEFINED))

  @property
  def minimum(self) -> float:
    return self.statistic.minimum

  @property
  def scale(self) -> float:
    return self.statistic.scale

  @property
  def unit(self) -> str:
    return self.statistic.unit

  @property
  def parts(self) -> dict:
    """{sample key: Part}, "statistic" last (the part every claim has)."""
    return {**{part.key: part for part in self.also}, "statistic": self.statistic}

  @property
  def minimums(self) -> dict:
    """{sample part: δ}, "statistic" last."""
    return {key: part.minimum for key, part in self.parts.items()}

  def test_text(self, **fields) -> str:
    return self.test.format(delta=self.statistic.delta(), **{part.key: part.minimum for part in self.also}, **fields)

  def explain(self, verdict: str, interval: Interval, scope: str, part: str = "statistic", *, present=(),
              means=None, **fields) -> str:
    """Why a part did not hold, for the evidence (this claim's sentence for ``verdict``, with the
    interval against δ in the part's unit), and for a trend over categories which steps go the
    wrong way (point estimates). ``fields`` fill the part's name (claim 5's ``{category}``)."""
    spec = self.parts[part]
    undefined = np.isnan(interval.estimate) or np.isnan(interval.low)
    template = dict(self.why)["undefined" if verdict != HOLDS and undefined else verdict]
    text = template.format(name=spec.name.format(**fields), delta=spec.delta(), scope=scope,
                           reversed=" (it is reversed)" if interval.high < 0 else "")
    if verdict != HOLDS and not undefined and present and means is not None and means.shape[-1] >= 2:
      point = means[0]
      down = [f"{present[i]} → {present[i + 1]}" for i in range(len(present) - 1) if point[i + 1] < point[i]]
      if down:
        text += f"; {spec.means} falls at " + ", ".join(down)
    return text


CLAIMS = (
    ClaimSpec("1. Errors become less correlated as training diverges (reinit → dataset): EI rises",
              "slope of the category-mean EI(base, X) per category step > δ = {delta}",
              Part("statistic", MIN_EI_TREND, 100, " pt/step", "the EI trend", "mean EI")),
    ClaimSpec("2. Ensemble gain rises with error inconsistency, and ensembles convert more of it (efficiency)",
              "slope of ensemble gain on EI over (base, X) pairs > {gain_on_ei} and slope of the "
              "category-mean conversion rate per step > δ = {delta}",
              Part("statistic", MIN_CONVERSION_TREND, 100, " pt/step", "the conversion-rate trend",
                   "mean conversion rate"),
              also=(Part("gain_on_ei", MIN_GAIN_ON_EI_SLOPE, name="the gain-on-EI slope"),)),
    ClaimSpec("3. Differently-trained models specialise: the correct model is the more confident one, more so "
              "as training diverges",
              "slope of the category-mean θ asymmetry (mean θ where only the base is right − mean θ where "
              "only X is right) per step > δ = {delta}",
              Part("statistic", MIN_THETA_TREND, 1, "°/step", "the θ-asymmetry trend", "mean θ asymmetry")),
    ClaimSpec("4. Low-accuracy models help high-accuracy ones when trained differently enough",
              "mean over greedy runs of test accuracy(ensemble of the size chosen on the selection split, "
              "the start alone included) − accuracy(start) > δ = {delta}",
              Part("statistic", MIN_GREEDY_GAIN, 100, " pt", "the greedy test gain"),
              missing_test="greedy test gain"),
    ClaimSpec("5. Features overlap without superset: mixed embeddings beat either full one",
              "probe accuracy of the best mixture − best single embedding, most divergent category "
              "({category}) > δ = {delta}",
              Part("statistic", MIN_MIXING_GAIN, 100, " pt", "the {category} mixing gain"),
              missing_test="best-mixture − best-single probe gain"),
)


def evaluate_claim(spec: ClaimSpec, samples: dict, evidence, test_fields=None) -> dict:
  """The one place a claim is decided: each sample part's interval (:func:`_interval`)
  against its δ (``spec.minimums``); the claim holds if every part holds, does not hold if
  any does not, and is inconclusive otherwise. ``evidence(intervals, verdicts)`` writes the
  evidence text from the parts' intervals and verdicts ({part: ...})."""
  intervals = {part: _interval(samples[part]) for part in spec.minimums}
  parts = {part: decide(intervals[part], minimum) for part, minimum in spec.minimums.items()}
  verdict = _combine(list(parts.values()))
  return _claim(spec.title, spec.test_text(**(test_fields or {})), intervals["statistic"], verdict,
                evidence(intervals, parts), samples)


def _combine(verdicts_of_parts) -> str:
  return (HOLDS if verdicts_of_parts and all(v == HOLDS for v in verdicts_of_parts) else
          FAILS if FAILS in verdicts_of_parts else INCONCLUSIVE)


def _missing(spec: ClaimSpec, num_samples: int, note: str) -> dict:
  """A claim with nothing to test: inconclusive, the note saying why."""
  samples = {"statistic": np.full(num_samples, np.nan)}
  return _claim(spec.title, spec.missing_test, _interval(samples["statistic"]), INCONCLUSIVE, note, samples)


@dataclasses.dataclass(frozen=True)
class _Sums:
  """Every feature column's weighted sum on the original sample (row 0) and each resample."""
  sums: np.ndarray   # [B + 1, F]
  total: np.ndarray  # [B + 1]

  def mean(self, column):
    return self.sums[:, column] / self.total

  def ratio(self, numerator, denominator):
    return _ratio(self.sums[:, numerator], self.sums[:, denominator])


@dataclasses.dataclass(frozen=True)
class _PairStatistics:
  """The (base, X) pairs' per-resample statistics and their category means and trends."""
  pairs: dict          # model -> {column name: column index}
  categories: list     # per model, "base" first, "outside band" for models out of the band
  present: list        # categories with at least one pair, in CATEGORY_ORDER
  num_samples: int
  scope: str

  def category_means(self, values):
    if not self.present:
      return np.zeros((self.num_samples, 0))
    return np.stack([np.mean([values[m] for m in self.pairs if self.categories[m] == c], axis=0)
                     for c in self.present], axis=-1)

  def trend(self, values):
    if len(self.present) < 2:
      return np.full(self.num_samples, np.nan)
    rank = np.array([CATEGORY_ORDER.index(c) for c in self.present], np.float64)
    return _slope(rank, self.category_means(values))


def _pair_columns(features, correct, confidence, base_ensemble_correct, in_band) -> dict:
  """Per in-band model m, the columns of the pair (base, m) that claims 1–3 sum."""
  pairs = {}
  for model in np.flatnonzero(in_band[1:]) + 1:
    ensemble = base_ensemble_correct[model]
    inconsistent = correct[0] ^ correct[model]
    only_base, only_other = correct[0] & ~correct[model], ~correct[0] & correct[model]
    theta = metrics.theta(confidence[0], confidence[model])
    pairs[model] = {key: features.add(column) for key, column in {
        "base": correct[0], "other": correct[model], "ensemble": ensemble, "inconsistent": inconsistent,
        "converted": inconsistent & ensemble, "only_base": only_base, "only_other": only_other,
        "theta_only_base": theta * only_base, "theta_only_other": theta * only_other}.items()}
  return pairs


def _greedy_columns(features, greedy, correct) -> tuple[list, list]:
  """(columns [(start, final)], start model indices) of the greedy runs (claim 4)."""
  num_models, num_examples = correct.shape
  columns, starts = [], []
  for start, final in greedy:
    final = np.asarray(final, bool)
    if not 0 <= int(start) < num_models or final.shape != (num_examples,):
      raise ValueError(f"greedy run from {start}: needs a model index in [0, {num_models}) and the chosen "
                       f"ensemble's correctness bool [{num_examples}]; got shape {final.shape}.")
    starts.append(int(start))
    columns.append((features.add(correct[int(start)]), features.add(final)))
  return columns, starts


def _probe_columns(features, probe_correct, num_examples) -> dict:
  """{category: {rate: [column per seed]}} of the feature-mixing probes (claim 5)."""
  columns = {}
  for category, rates in (probe_correct or {}).items():
    columns[category] = {float(rate): [features.add(seed) for seed in np.asarray(per_seed, bool)]
                         for rate, per_seed in rates.items()}
  for category, rates in columns.items():
    for rate, per_seed in rates.items():
      if any(len(features.columns[c]) != num_examples for c in per_seed):
        raise ValueError(f"probe_correct[{category!r}][{rate}] must be bool [seeds, {num_examples}].")
  return columns


def claims(correct, confidence, base_ensemble_correct, categories, resamples, *, in_band=None, greedy=(),
           probe_correct=None, names=None, greedy_note: str = "no greedy run",
           probe_note: str = "no probe with both single embeddings and a mixture") -> list[dict]:
  """Verdicts on the paper's five claims (:data:`CLAIMS`) from compact per-example test-split
  arrays (nothing here needs the [N, E, K] probabilities).

  Args:
    correct: bool [N, E] each model's top-1 test correctness, model 0 the base.
    confidence: float [N, E] each model's calibrated top-1 confidence max_k p(k | x).
    base_ensemble_correct: bool [N, E], row m the correctness of the two-model ensemble
      (base, m) (metrics.pairwise_outcomes' ensemble_correct of the pair (0, m)); row 0
      is not read.
    categories: [N] each model's category vs the base (zoo.pair_category), "base" first;
      the (base, X) pairs of each category form its mean.
    resamples: int [B, E] example indices of each joint bootstrap resample (draw_resamples).
    in_band: bool [N] or None (all): the models whose (base, X) pairs enter claims 1–3
      (the paper's accuracy band, :func:`accuracy_band`); greedy runs may use any model.
    greedy: per greedy run, (start model index, bool [E] test correctness of the ensemble
      of the selection-chosen size); the statistic is its accuracy minus the start's,
      averaged over runs.
    probe_correct: {category: {base_rate: bool [S seeds, E]}}: per-example test
      correctness of the feature-mixing probes (rate 1 = base only, 0 = partner only).
    names: [N] model names for the evidence text (default: "model i").
    greedy_note, probe_note: the evidence of claims 4 and 5 when there is no greedy run
      or no probe outcome (they are then inconclusive), saying why.
  Returns:
    one dict per claim: claim, test, statistic (an Interval), verdict, evidence, and
    ``samples``: {part: float64 [B + 1]} the statistic on the original sample (row 0) and on
    each resample ("statistic"; claim 2 also "gain_on_ei"), for :func:`replicated_claims`.
  """
  correct, confidence, base_ensemble_correct = _check_inputs(correct, confidence, base_ensemble_correct, categories)
  num_models, num_examples = correct.shape
  names = list(names) if names is not None else [f"model {i}" for i in range(num_models)]
  in_band = np.ones(num_models, bool) if in_band is None else np.asarray(in_band, bool)
  if in_band.shape != (num_models,) or not in_band[0]:
    raise ValueError(f"in_band must be bool [{num_models}] and hold the base (model 0); got {in_band.tolist()}.")
  categories = ["base"] + [c if band else "outside band" for c, band in zip(categories[1:], in_band[1:])]
  weights = _weights(resamples, num_examples)
  features = _Features()
  pairs = _pair_columns(features, correct, confidence, base_ensemble_correct, in_band)
  greedy_columns, greedy_starts = _greedy_columns(features, greedy, correct)
  probe_columns = _probe_columns(features, probe_correct, num_examples)
  sums = weights @ np.stack(features.columns, axis=1) if features.columns else np.zeros((len(weights), 0))
  sums = _Sums(sums, weights.sum(1))
  present = [c for c in CATEGORY_ORDER if c in categories[1:]]
  stats = _PairStatistics(pairs, categories, present, len(weights), f"{len(pairs)} in-band (base, X) pairs in "
                          f"{len(present)} categories, {num_examples} test examples")
  return [*_pair_claims(stats, sums),
          _greedy_claim(sums, greedy_columns, [names[s] for s in greedy_starts], num_examples, greedy_note),
          _mixing_claim(sums, probe_columns, num_examples, len(weights), probe_note)]


def _pair_claims(stats: _PairStatistics, sums: _Sums) -> list[dict]:
  """Claims 1–3, on the in-band (base, X) pairs' EI, gain, conversion and θ asymmetry."""
  per_pair = lambda fn: {m: fn(p) for m, p in stats.pairs.items()}
  ei = per_pair(lambda p: sums.mean(p["inconsistent"]))
  gain = per_pair(lambda p: sums.mean(p["ensemble"]) - (sums.mean(p["base"]) + sums.mean(p["other"])) / 2)
  conversion = per_pair(lambda p: sums.ratio(p["converted"], p["inconsistent"]))
  asymmetry = per_pair(lambda p: sums.ratio(p["theta_only_base"], p["only_base"])
                       - sums.ratio(p["theta_only_other"], p["only_other"]))
  present, scope = stats.present, stats.scope
  ei_means, theta_means = stats.category_means(ei), stats.category_means(asymmetry)
  first, third = CLAIMS[0], CLAIMS[2]
  pair_models = list(stats.pairs)
  slope = (_slope(np.stack([ei[m] for m in pair_models], -1), np.stack([gain[m] for m in pair_models], -1))
           if len(pair_models) >= 2 else np.full(stats.num_samples, np.nan))
  return [
      evaluate_claim(first, {"statistic": stats.trend(ei)}, lambda i, v: (
          f"EI trend {first.statistic.quote(i['statistic'])}; means " + _means(present, ei_means)
          + first.explain(v["statistic"], i["statistic"], scope, present=present, means=ei_means))),
      evaluate_claim(CLAIMS[1], {"gain_on_ei": slope, "statistic": stats.trend(conversion)},
                     lambda i, v: _efficiency_evidence(i, v, stats, stats.category_means(conversion))),
      evaluate_claim(third, {"statistic": stats.trend(asymmetry)}, lambda i, v: (
          f"θ-asymmetry trend {third.statistic.quote(i['statistic'])}; means " + _means(present, theta_means, 1, "°")
          + third.explain(v["statistic"], i["statistic"], scope, present=present, means=theta_means)))]


def _efficiency_evidence(intervals, verdicts_of_parts, stats: _PairStatistics, conversion_means) -> str:
  """Claim 2's evidence: both parts quoted with their verdicts, and why each that failed did."""
  spec = CLAIMS[1]
  slope_gain, trend = intervals["gain_on_ei"], intervals["statistic"]
  parts = (verdicts_of_parts["gain_on_ei"], verdicts_of_parts["statistic"])
  why = (spec.explain(parts[0], slope_gain, stats.scope, "gain_on_ei")
         + spec.explain(parts[1], trend, stats.scope, present=stats.present, means=conversion_means))
  return (f"gain-on-EI slope {spec.parts['gain_on_ei'].quote(slope_gain)} ({parts[0]}); conversion-rate trend "
          f"{spec.statistic.quote(trend)} ({parts[1]}); means " + _means(stats.present, conversion_means) + why)


def _greedy_claim(sums: _Sums, columns, start_names, num_examples, note) -> dict:
  """Claim 4: the mean over greedy runs of the chosen ensemble's test gain over its start."""
  spec = CLAIMS[3]
  if not columns:
    return _missing(spec, len(sums.total), note)
  gains = [sums.mean(final) - sums.mean(start) for start, final in columns]
  runs = "; ".join(f"from {name}: {spec.statistic.quote(_interval(g))}" for name, g in zip(start_names, gains))
  return evaluate_claim(spec, {"statistic": np.mean(gains, axis=0)}, lambda i, v: (
      f"greedy test gain {spec.statistic.quote(i['statistic'])}; {runs}"
      + spec.explain(v["statistic"], i["statistic"], f"{len(gains)} runs, {num_examples} test examples")))


def _mixing_claim(sums: _Sums, probe_columns, num_examples, num_samples, note) -> dict:
  """Claim 5: best mixture − best single embedding, for the most divergent category mixed."""
  spec = CLAIMS[4]
  gains = {}
  for category in [c for c in CATEGORY_ORDER if c in probe_columns]:
    accuracy = {rate: np.mean([sums.mean(c) for c in columns], axis=0)
                for rate, columns in probe_columns[category].items()}
    singles = [accuracy[r] for r in (0.0, 1.0) if r in accuracy]
    mixtures = [accuracy[r] for r in accuracy if 0 < r < 1]
    if len(singles) == 2 and mixtures:
      gains[category] = np.max(mixtures, axis=0) - np.max(singles, axis=0)
  if not gains:
    return _missing(spec, num_samples, note)
  last = list(gains)[-1]
  return evaluate_claim(spec, {"statistic": gains[last]}, lambda i, v: (
      "best mixture − best single: "
      + ", ".join(f"{c} {spec.statistic.quote(_interval(g))}" for c, g in gains.items())
      + spec.explain(v["statistic"], i["statistic"], f"{num_examples} test examples", category=last)),
      {"category": last})


# Each claim's minimum effect per sample part (claim 2 holds only if both parts do): from CLAIMS.
MINIMUMS = {number: spec.minimums for number, spec in enumerate(CLAIMS, start=1)}


def draw_replicates(num_replicates: int, num_example_resamples: int, num_draws: int, seed: int = 0):
  """The hierarchical bootstrap's draws: (replicates int [D, R], example resamples int [D, R]).
  Draw d picks R replicates with replacement, and for its j-th pick one of that replicate's
  own example resamples (rows 1…B of its ``samples``), independently per pick."""
  if num_replicates < 1 or num_example_resamples < 1 or num_draws < 2:
    raise ValueError(f"need >= 1 replicate, >= 1 example resample and >= 2 draws; got {num_replicates}, "
                     f"{num_example_resamples}, {num_draws}.")
  rng = np.random.default_rng(seed)
  return (rng.integers(0, num_replicates, size=(num_draws, num_replicates)),
          rng.integers(1, num_example_resamples + 1, size=(num_draws, num_replicates)))


def hierarchical_samples(per_replicate, replicates, examples) -> np.ndarray:
  """float64 [D + 1]: the mean over replicates of a statistic, row 0 its point estimate (the
  mean of each replicate's row 0), row d the mean over draw d's picks of the picked
  replicate's statistic on the picked example resample (:func:`draw_replicates`):
  replicates resampled with replacement, then examples within each pick. NaN picks make
  their draw NaN (left out of the interval, as :func:`_interval` does)."""
  per_replicate = np.asarray(per_replicate, np.float64)  # [R, B + 1]
  point = per_replicate[:, 0].mean()
  return np.concatenate([[point], per_replicate[replicates, examples].mean(axis=1)])


# How each claim's statistic is quoted (scale, unit), as :func:`claims` quotes it: from CLAIMS.
UNITS = {number: (spec.scale, spec.unit) for number, spec in enumerate(CLAIMS, start=1)}


def replicated_claims(per_replicate: list[list[dict]], *, num_draws: int, seed: int = 0) -> list[dict]:
  """The five verdicts over R independent zoo draws: each claim's per-replicate bootstrap
  samples (:func:`claims`' ``samples``, on R independent example resamplings) combined by
  :func:`hierarchical_samples`, decided against the claim's own δ (its parts'). Each
  claim keeps replicate 0's claim, test and evidence text and gains ``replicates``: per
  replicate its own Interval and verdict, so a reader sees whether the verdict rests on one
  draw (``quoted``: the interval in the claim's unit, as the evidence quotes it). Claim n's
  draws are :func:`draw_replicates` (R, B, ``num_draws``, ``seed + n``)."""
  num_replicates = len(per_replicate)
  if num_replicates < 1 or any(len(r) != len(per_replicate[0]) for r in per_replicate):
    raise ValueError("replicated_claims needs the same claims for each of >= 1 replicates.")
  out = []
  for number, first in enumerate(per_replicate[0], start=1):
    spec, parts, verdicts_of_parts = CLAIMS[number - 1], {}, []
    for key, part in spec.parts.items():
      rows = [r[number - 1]["samples"].get(key) for r in per_replicate]
      if any(row is None for row in rows):
        continue
      stacked = np.stack(rows)
      replicates, examples = draw_replicates(num_replicates, stacked.shape[1] - 1, num_draws, seed + number)
      parts[key] = _interval(hierarchical_samples(stacked, replicates, examples))
      verdicts_of_parts.append(decide(parts[key], part.minimum))
    verdict = _combine(verdicts_of_parts)
    statistic = parts.get("statistic", _interval(np.full(num_draws + 1, np.nan)))
    quote = spec.statistic.quote
    each = [(r[number - 1]["statistic"], r[number - 1]["verdict"]) for r in per_replicate]
    evidence = (f"{num_replicates} replicates, hierarchical bootstrap: {quote(statistic)}"
                + "".join(f" ({key}: {spec.parts[key].quote(i)})" for key, i in parts.items() if key != "statistic")
                + "; per replicate: " + "; ".join(f"r{i} {quote(iv)} {v}" for i, (iv, v) in enumerate(each))
                + f". Replicate 0: {first['evidence']}")
    out.append({**{k: v for k, v in first.items() if k != "samples"}, "statistic": statistic, "verdict": verdict,
                "evidence": evidence,
                "replicates": [{"statistic": iv, "verdict": v, "quoted": quote(iv)} for iv, v in each]})
  return out


def _means(present, values, scale=100.0, unit=" %"):
  return ", ".join(f"{c} {scale * v:.2f}{unit}" for c, v in zip(present, values[0]))


def _claim(claim, test, statistic, verdict, evidence, samples):
  return {"claim": claim, "test": test, "statistic": statistic, "verdict": verdict, "evidence": evidence,
          "samples": samples}
