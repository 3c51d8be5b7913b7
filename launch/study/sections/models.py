"""The models: each model's test accuracy [95% CI], temperature, category vs the base and
accuracy band (models.csv), and its provenance (config.json)."""

from __future__ import annotations

import dataclasses

import ml_collections

from launch.study import analysis, report

FIELDS = ("accuracy_band",)
USES = ("test_set", "temperatures", "intervals", "in_band", "band", "stored")
NEEDS = ()


@dataclasses.dataclass(frozen=True)
class Result:
  num_test_examples: int
  class_names: list        # the test split's class names ([] where the dataset names none)
  band: dict               # the accuracy band: width, low, high (fractions) and the models in it
  models: list             # a row per model (analysis.model_table + its weights' hash and origin)
  provenance: dict         # per model: weights hash and origin, training key and recipe, preprocessing


def defaults() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict()


def compute(context, settings) -> Result:
  names, in_band = context.names, context.in_band
  models = analysis.model_table(context.test_set, context.rows, context.temperatures, context.intervals, in_band)
  for row in models:
    row["weights_sha256"] = context.hashes[row["model"]]
    row["weights_origin"] = context.located[row["model"]].origin
  band = {"width": float(settings.accuracy_band), "low": context.band[0], "high": context.band[1],
          "in_band": [n for n, b in zip(names, in_band) if b]}
  return Result(int(len(context.stored["test"].labels)), context.class_names, band, models,
                _provenance(names, context.hashes, context.located, context.stored["test"].manifests))


def _provenance(names, hashes, located, manifests) -> dict:
  """Per model: its weights' hash and origin, its training key and recipe, its preprocessing."""
  return {n: {"weights_sha256": hashes[n], "origin": located[n].origin, "training_key": located[n].key,
              "training": located[n].provenance, "preprocessing": manifests[n]["metadata"].get("preprocessing")}
          for n in names}


def write(results: dict, out) -> None:
  report.write_csv(out / "models.csv", results["models"])


def markdown(results: dict) -> list[str]:
  return ["## Models (models.csv)", report.band_text(results), report.table(
      ("model", "category vs base", "band", "objective", "pretraining data", "architecture", "accuracy", "T"),
      [(r["model"], r["category"], r["band"], r["objective"], r["pretraining_data"], r["architecture"],
        report.fmt_interval(r["accuracy"]), f"{r['temperature']:.3f}")
       for r in results["models"]])]
