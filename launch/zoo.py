r"""The zoo catalog: ``python -m launch.zoo list [--catalog=paper] [--category=NAME] [--pattern=GLOB] [--base=NAME]``;
importing a row's weights: ``python -m launch.zoo import --source=FILE --row=NAME [--zoo_dir=DIR] [--sha256=HEX]
[--overwrite]``.

Prints every registered model with the paper's category of the pair (base, model), derived
from the rows' fields, its training method, what it differs from the base in, head (classifier, zero-shot, linear-probe),
published top-1, weight source and license, then the count per category. The base is the catalog's own
base model (``small_cnn.s0`` for ``small``, ``resnet50.base`` for ``paper``) unless
``--base`` names another.

``import`` converts a torchvision-format ResNet-50 state dict (``.pth`` / ``.pt``, as
SamsungLabs/pytorch-ensembles and TjuJianyu/RRL publish them) into the directory the row reads
(``<zoo_dir>/paper/<row>``, timm's format; zoo.converters.torchvision_import) and prints the
sha256 of the source file and of the written safetensors (also kept in its config.json). Only the
rows in ``zoo.catalogs.paper.IMPORTED`` are filled this way. A user mistake (no such file, not a
state dict, missing / unexpected / misshapen tensors, unknown row, existing directory without
``--overwrite``, sha256 mismatch, no torch) exits 2 with one paragraph and writes nothing.
"""

from __future__ import annotations

import collections
import sys

from absl import app, flags

import zoo
from zoo import registry
from zoo.converters import torchvision_import

PATTERN = flags.DEFINE_string("pattern", "*", "fnmatch pattern over model names.")
CATALOG = flags.DEFINE_string("catalog", None, "Only this catalog (small, paper); default: all.")
BASE = flags.DEFINE_string("base", None, "Base model the categories are relative to (default: the catalog's).")
CATEGORY = flags.DEFINE_enum("category", None, ["base", *zoo.CATEGORIES],
                             "Only models of this category relative to the base.")
SOURCE = flags.DEFINE_string("source", None, "import: the .pth/.pt state dict file to convert.")
ROW = flags.DEFINE_string("row", None, "import: the row whose directory it becomes (e.g. resnet50.ens_seed1).")
ZOO_DIR = flags.DEFINE_string("zoo_dir", torchvision_import.DEFAULT_ZOO_DIR,
                              "import: the zoo directory (rows read <zoo_dir>/paper/<row>).")
SHA256 = flags.DEFINE_string("sha256", None, "import: the source file's expected sha256 (default: the row's pin).")
OVERWRITE = flags.DEFINE_bool("overwrite", False, "import: replace an existing row directory.")


def _category(base, entry) -> str:
  return "base" if entry.name == base.name else zoo.pair_category(base, entry)


def _cells(base, entry) -> tuple[str, ...]:
  top1 = "" if entry.top1 is None else f"{entry.top1:.1f}"
  license = entry.provenance.license or "" if entry.provenance else ""
  return (entry.name, _category(base, entry), entry.objective, entry.pretraining_data, entry.architecture, entry.head,
          top1, f"{entry.weights.kind}:{entry.weights.location}", license,
          "; ".join(registry.differences(base, entry)) or "—")


def import_row() -> int:
  """``import``: --source → the --row's directory under --zoo_dir; 2 with one paragraph on a user mistake."""
  fillable = [name for rows in zoo.catalogs.paper.IMPORTED.values() for name in rows]
  try:
    if not SOURCE.value or not ROW.value:
      raise torchvision_import.ImportFailed("import needs --source=FILE (a .pth/.pt state dict) and --row=NAME (one "
                                            f"of {fillable}).")
    if ROW.value not in fillable:
      raise torchvision_import.ImportFailed(f"--row={ROW.value}: not a row launch.zoo import fills; those are "
                                            f"{fillable} (zoo.catalogs.paper.IMPORTED).")
    entry = zoo.get(ROW.value)
    directory = zoo.registry.weights_location(entry, ZOO_DIR.value)
    imported = torchvision_import.import_state_dict(
        SOURCE.value, directory, preprocessing=entry.preprocessing, num_classes=entry.num_classes,
        expected_sha256=SHA256.value or entry.weights.sha256, overwrite=OVERWRITE.value,
        provenance={"row": entry.name, "paper": entry.provenance.paper if entry.provenance else ""})
  except torchvision_import.ImportFailed as error:
    print(f"launch.zoo import: {error}", file=sys.stderr)
    return 2
  print(f"{entry.name}: {imported.tensors} tensors from {SOURCE.value} (sha256 {imported.source_sha256}) → "
        f"{imported.directory}/{torchvision_import.SAFETENSORS} (sha256 {imported.safetensors_sha256}); "
        f"{', '.join(imported.rewrites) or 'names as they were'}")
  return 0


def main(argv) -> int:
  if len(argv) == 2 and argv[1] == "import":
    return import_row()
  if len(argv) != 2 or argv[1] != "list":
    raise app.UsageError("usage: python -m launch.zoo list [--catalog=NAME] [--category=NAME] [--pattern=GLOB] "
                         "[--base=NAME]\n   or: python -m launch.zoo import --source=FILE --row=NAME [--zoo_dir=DIR] "
                         "[--sha256=HEX] [--overwrite]")
  names = zoo.list_models(PATTERN.value, catalog=CATALOG.value)
  if not names:
    raise app.UsageError(f"no model matches --pattern={PATTERN.value!r} --catalog={CATALOG.value!r}.")
  header = ("name", "category vs base", "objective", "pretraining data", "architecture", "head", "top-1", "weights",
            "license", "differs from the base in")
  for catalog in sorted({zoo.get(n).catalog for n in names}):
    base = zoo.get(BASE.value) if BASE.value else zoo.base_of(catalog)
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
  app.run(lambda argv: sys.exit(main(argv)))
