r"""The zoo catalog: ``python -m launch.zoo list [--pattern=GLOB] [--base=NAME]``.

Prints every registered model with its training method and the paper's category of
the pair (base, model), derived from the rows' fields.
"""

from __future__ import annotations

import sys

from absl import app, flags

import zoo

PATTERN = flags.DEFINE_string("pattern", "*", "fnmatch pattern over model names.")
BASE = flags.DEFINE_string("base", "small_cnn.s0", "Base model the categories are relative to.")


def main(argv) -> int:
  if len(argv) != 2 or argv[1] != "list":
    raise app.UsageError("usage: python -m launch.zoo list [--pattern=GLOB] [--base=NAME]")
  base = zoo.get(BASE.value)
  rows = [("name", "catalog", "category vs base", "objective", "pretraining data", "architecture", "top-1")]
  for name in zoo.list_models(PATTERN.value):
    entry = zoo.get(name)
    top1 = "" if entry.top1 is None else f"{entry.top1:.1f}"
    rows.append((name, entry.catalog, zoo.pair_category(base, entry), entry.objective, entry.pretraining_data,
                 entry.architecture, top1))
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  print(f"categories relative to {base.name}")
  for row in rows:
    print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
  return 0


if __name__ == "__main__":
  app.run(lambda argv: sys.exit(main(argv)))
