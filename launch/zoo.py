r"""The zoo catalog: ``python -m launch.zoo list [--catalog=paper] [--pattern=GLOB] [--base=NAME]``.

Prints every registered model with its training method, weights and the paper's category
of the pair (base, model), derived from the rows' fields. The base is the catalog's own
base model (``small_cnn.s0`` for ``small``, ``resnet50.base`` for ``paper``) unless
``--base`` names another.
"""

from __future__ import annotations

import sys

from absl import app, flags

import zoo

PATTERN = flags.DEFINE_string("pattern", "*", "fnmatch pattern over model names.")
CATALOG = flags.DEFINE_string("catalog", None, "Only this catalog (small, paper); default: all.")
BASE = flags.DEFINE_string("base", None, "Base model the categories are relative to (default: the catalog's).")


def main(argv) -> int:
  if len(argv) != 2 or argv[1] != "list":
    raise app.UsageError("usage: python -m launch.zoo list [--catalog=NAME] [--pattern=GLOB] [--base=NAME]")
  names = zoo.list_models(PATTERN.value, catalog=CATALOG.value)
  if not names:
    raise app.UsageError(f"no model matches --pattern={PATTERN.value!r} --catalog={CATALOG.value!r}.")
  header = ("name", "catalog", "category vs base", "objective", "pretraining data", "architecture", "top-1",
            "weights")
  for catalog in sorted({zoo.get(n).catalog for n in names}):
    base = zoo.get(BASE.value) if BASE.value else zoo.base_of(catalog)
    rows = [header]
    for name in (n for n in names if zoo.get(n).catalog == catalog):
      entry = zoo.get(name)
      category = "base" if entry.name == base.name else zoo.pair_category(base, entry)
      top1 = "" if entry.top1 is None else f"{entry.top1:.1f}"
      rows.append((name, entry.catalog, category, entry.objective, entry.pretraining_data, entry.architecture, top1,
                   f"{entry.weights.kind}:{entry.weights.location}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print(f"\n{catalog} catalog, categories relative to {base.name}")
    for row in rows:
      print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
