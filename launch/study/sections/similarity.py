"""Representational similarity and complementarity (launch.study.link): every pair's similarity
measures and gains (link.csv), how well each similarity predicts each gain (link_correlations.csv)
and the link figure; none when similarity.enabled is false."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import link, report

FIELDS = ("similarity",)
USES = ("test_set", "calibration_set", "outcomes", "intervals")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  similarity: dict | None   # link.similarity_section (None: not enabled)


def defaults() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict()


def compute(context, settings) -> Result:
  if not settings.similarity.enabled:
    return Result(None)
  section = link.similarity_section(settings, context.test_set, context.calibration_set, context.outcomes,
                                    context.intervals)
  context.lap("similarity")
  return Result(section)


def write(results: dict, out) -> None:
  report.write_similarity(results["similarity"], out)


def markdown(results: dict) -> list[str]:
  return [report.similarity_text(results["similarity"])]
