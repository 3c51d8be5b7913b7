"""Representational similarity and complementarity (launch.study.link): every pair's similarity
measures and gains (link.csv), how well each similarity predicts each gain (link_correlations.csv)
and the link figure; none when sections.similarity.enabled is false."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import config as config_lib, link, report

FIELDS = ()
USES = ("test_set", "calibration_set", "outcomes", "intervals")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  similarity: dict | None   # link.similarity_section (None: not enabled)


def defaults() -> ml_collections.ConfigDict:
  """``config.sections.similarity`` (launch.study.link; enabled false = no section)."""
  return ml_collections.ConfigDict({
      "enabled": True,
      "k": 10,                      # neighbours of mutual k-NN and CKNNA
      "examples": 2000,             # test examples (seeded random subset) of the k-NN measures and of every
                                    # permutation null: those are O(E²); CKA and the gains use all of test
      "permutations": 20,           # permutation-null draws (0 = no calibrated scores)
      "resamples": 1000,            # model resamples of the rank correlations; test-example resamples of
                                    # the concatenation gain's intervals
      "kappa_draws": 10000,         # null simulations of κ's significance test (Klein et al.)
      "seed": 0,
  })


def check(own) -> None:
  """ConfigError for a setting out of range (its types are checked by the config's merge)."""
  minimums = {"k": 2, "examples": 4, "permutations": 0, "resamples": 2, "kappa_draws": 1}
  for field, minimum in minimums.items():
    if own[field] < minimum:
      raise config_lib.ConfigError(f"config field 'sections.similarity.{field}' must be >= {minimum}; got {own[field]}.")
  if own.examples <= own.k:
    raise config_lib.ConfigError(f"config field 'sections.similarity.examples' ({own.examples}) must exceed "
                                 f"sections.similarity.k ({own.k}): each example needs k neighbours besides itself.")


def compute(context, settings) -> Result:
  if not settings.enabled:
    return Result(None)
  section = link.similarity_section(settings, context.test_set, context.calibration_set, context.outcomes,
                                    context.intervals)
  context.lap("similarity")
  return Result(section)


def write(results: dict, out) -> None:
  report.write_similarity(results["similarity"], out)


def markdown(results: dict) -> list[str]:
  return [report.similarity_text(results["similarity"])]
