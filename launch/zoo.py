r"""The zoo catalog: ``python -m launch.zoo list [--catalog=paper] [--category=NAME] [--pattern=GLOB] [--base=NAME]``.

Prints every registered model with the paper's category of the pair (base, model), derived
from the rows' fields, its training method, head (classifier, zero-shot, linear-probe),
published top-1, weight source and license, then the count per category. The base is the catalog's own
base model (``small_cnn.s0`` for ``small``, ``resnet50.base`` for ``paper``) unless
``--base`` names another.
"""

from __future__ import annotations

import collections

from absl import app, flags

import zoo
from launch import cli

PATTERN = flags.DEFINE_string("pattern", "*", "fnmatch pattern over model names.")
CATALOG = flags.DEFINE_string("catalog", None, "Only this catalog (small, paper); default: all.")
BASE = flags.DEFINE_string("base", None, "Base model the categories are relative to (default: the catalog's).")
CATEGORY = flags.DEFINE_enum("category", None, ["base", *zoo.CATEGORIES],
                             "Only models of this category relative to the base.")


def _category(base, entry) -> str:
  return "base" if entry.name == base.name else zoo.pair_category(base, entry)


def _cells(base, entry) -> tuple[str, ...]:
  top1 = "" if entry.top1 is None else f"{entry.top1:.1f}"
  license = entry.provenance.license or "" if entry.provenance else ""
  return (entry.name, _category(base, entry), entry.objective, entry.pretraining_data, entry.architecture, entry.head,
          top1, f"{entry.weights.kind}:{entry.weights.location}", license)


def _base(catalog: str):
  """--base's row (checked: a registered model), else the catalog's own base."""
  if not BASE.value:
    return zoo.base_of(catalog)
  try:
    return zoo.get(BASE.value)
  except KeyError as error:
    raise cli.BadInput(f"--base: {error.args[0]} Name a row `python -m launch.zoo list` prints.") from None


def main(argv) -> int:
  if len(argv) != 2 or argv[1] != "list":
    raise app.UsageError("usage: python -m launch.zoo list [--catalog=NAME] [--category=NAME] [--pattern=GLOB] "
                         "[--base=NAME]")
  names = zoo.list_models(PATTERN.value, catalog=CATALOG.value)
  if not names:
    raise app.UsageError(f"no model matches --pattern={PATTERN.value!r} --catalog={CATALOG.value!r}.")
  header = ("name", "category vs base", "objective", "pretraining data", "architecture", "head", "top-1", "weights",
            "license")
  for catalog in sorted({zoo.get(n).catalog for n in names}):
    base = _base(catalog)
    entries = [zoo.get(n) for n in names if zoo.get(n).catalog == catalog]
    entries = [e for e in entries if CATEGORY.value in (None, _category(base, e))]
    rows = [header] + [_cells(base, e) for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"\n{catalog} catalog, categories relative to {base.name}")
    for row in rows:
      print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    counts = collections.Counter(_category(base, e) for e in entries)
    print("  per category: " + ", ".join(f"{c} {counts[c]}" for c in ("base", *zoo.CATEGORIES) if counts[c]))
  return 0


if __name__ == "__main__":
  cli.run(main, "zoo")
