"""The paper's five claims (launch.study.verdicts.CLAIMS), decided together on one joint paired
bootstrap of the test examples from what the sections they rest on computed: claims 1–3 from the
test outcomes of the in-band (base, X) pairs (Fig. 1–3), claim 4 from the greedy runs (section
``greedy``), claim 5 from the feature-mixing probes (section ``mixing``). First in the report."""

from __future__ import annotations

import dataclasses
import warnings

import ml_collections
import numpy as np

from launch.study import analysis, report, verdicts
from launch.study.sections import mixing as mixing_section

FIELDS = ("resamples", "selection_split")
USES = ("outcomes", "test_set", "in_band")
NEEDS = ("greedy", "mixing")


@dataclasses.dataclass(frozen=True)
class Result:
  claims: list          # per claim: claim, test, verdict, evidence and its interval (estimate, low, high, ...)
  claim_samples: list   # per claim, {part: float64 [B + 1]} (verdicts.claims' samples): replicates combine them


def defaults() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict()


def compute(context, settings) -> Result:
  greedy, mixing = context.results["greedy"], context.results["mixing"]
  with warnings.catch_warnings():  # degenerate inputs give NaN, which the report prints as n/a
    warnings.simplefilter("ignore", RuntimeWarning)
    claims = decide(settings, context.rows, context.outcomes, context.test_set.confidence, context.in_band,
                    greedy.greedy, greedy.greedy_final, mixing_section.rows_with_outcomes(mixing),
                    context.resample_seed)
  samples = [claim.pop("samples") for claim in claims]  # per-resample statistics: replicates combine them
  context.lap("claims")
  return Result(claims, samples)


def decide(settings, rows, outcomes, confidence, in_band, greedy, greedy_final, mixing,
           resample_seed: int = 0) -> list[dict]:
  """The five verdicts (:func:`launch.study.verdicts.claims`) of the models ``rows`` (zoo rows,
  the base first: their categories vs the base) from compact test arrays:
  correctness and ensemble correctness from ``outcomes``, top-1 confidences [N, E], each
  greedy run's test correctness at its selection-chosen size (analysis.greedy_runs) and the
  probes' per-example outcomes where their rows carry them (``test_correct``). Each claim's
  ``statistic`` stays a ``metrics.Interval`` (:func:`csv_row` flattens it for claims.csv only)."""
  # Each replicate resamples the examples on its own seed (independent picks of the hierarchical bootstrap).
  names = analysis.names_of(rows)
  resamples = verdicts.draw_resamples(outcomes.num_examples, settings.resamples, seed=resample_seed)
  # Every run with a pool counts, those whose selection split keeps the start alone too (gain 0).
  runs = [(names.index(r["start"]), final) for r, final in zip(greedy, greedy_final) if r["pool"]]
  greedy_note = ("no selection_split configured: greedy ensembles (Fig. 5) need a split disjoint from calibration "
                 "and test" if not settings.selection_split else
                 f"no model is {100 * analysis.GREEDY_POOL_GAP:g} points below any start on the selection split")
  probe = analysis.probe_outcomes(mixing)
  out = verdicts.claims(np.asarray(outcomes.correct), confidence, analysis.base_ensemble_correct(outcomes),
                        analysis.categories_vs_base(rows), resamples, in_band=in_band, greedy=runs,
                        probe_correct=probe, names=names, greedy_note=greedy_note,
                        probe_note="no feature-mixing probe ran (no representative partner, or config field "
                                   "sections.mixing.rates empty): no per-example outcome to resample")
  return out


def csv_row(claim: dict) -> dict:
  """A claim as claims.csv's columns: its fields, its ``statistic`` Interval as estimate, low, high,
  confidence and resamples, then (over replicates) ``per_replicate``."""
  statistic = claim["statistic"]
  row = {key: value for key, value in claim.items() if key not in ("statistic", "per_replicate")}
  row.update(estimate=float(statistic.estimate), low=float(statistic.low), high=float(statistic.high),
             confidence=float(statistic.confidence), resamples=int(statistic.num_resamples))
  if "per_replicate" in claim:
    row["per_replicate"] = claim["per_replicate"]
  return row


def write(results: dict, out) -> None:
  report.write_csv(out / "claims.csv", [csv_row(claim) for claim in results["claims"]])


def markdown(results: dict) -> list[str]:
  return ["## Claims at this scale (claims.csv)",
          "Each claim is decided by the stated test on a paired bootstrap of the test examples (resampled jointly "
          "for every model; 95% percentile intervals): **holds** if the interval lies above the named minimum "
          "effect δ, **does not hold** if below it, **inconclusive** if it contains δ (launch/study/verdicts.py "
          "names each δ).",
          report.claims_text(results)]
