r"""The zoo catalog: ``python -m launch.zoo list [--catalog=paper] [--category=NAME] [--pattern=GLOB] [--base=NAME]``;
importing a row's weights: ``python -m launch.zoo import --source=FILE --row=NAME [--zoo_dir=DIR] [--sha256=HEX]
[--overwrite]``; ``python -m launch.zoo show timm:<arch>.<tag>`` (the row derived from a timm tag, and the rules
that fired); the pre-flight check: ``python -m launch.zoo check --config=paper`` (or ``--catalog=paper``).

Prints every registered model with the paper's category of the pair (base, model), derived
from the rows' fields, its training method, what it differs from the base in, head (classifier, zero-shot, linear-probe),
published top-1, weight source and license, then the count per category. The base is the catalog's own
base model (``small_cnn.s0`` for ``small``, ``resnet50.base`` for ``paper``) unless
``--base`` names another.

``check`` proves, before any accelerator hour, that the rows a study config uses (or every row
of a catalog) can be loaded: per Hub row, the revision resolves, the files its converter reads
are at that revision and every tensor of the safetensors header (a few KB, HTTP Range) maps
onto the row's module with the right shape (zoo.hub_check); gs:// rows are reachable; local
rows exist under --zoo_dir. One line per row; exit status 1 when any row is not ready.

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
from launch import cli
from zoo import registry
from zoo.converters import torchvision_import

PATTERN = flags.DEFINE_string("pattern", "*", "fnmatch pattern over model names.")
CATALOG = flags.DEFINE_string("catalog", None, "Only this catalog (small, paper); default: all.")
BASE = flags.DEFINE_string("base", None, "Base model the categories are relative to (default: the catalog's).")
CONFIG = flags.DEFINE_string("config", None, "check: the rows of this study config (a name under "
                              "launch/study/configs, e.g. paper, or a .py file).")
CATEGORY = flags.DEFINE_enum("category", None, ["base", *zoo.CATEGORIES],
                             "Only models of this category relative to the base.")
SOURCE = flags.DEFINE_string("source", None, "import: the .pth/.pt state dict file to convert.")
ROW = flags.DEFINE_string("row", None, "import: the row whose directory it becomes (e.g. resnet50.ens_seed1).")
ZOO_DIR = flags.DEFINE_string("zoo_dir", torchvision_import.DEFAULT_ZOO_DIR,
                              "import, check: the zoo directory (rows read <zoo_dir>/paper/<row>).")
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


def _config_models(name: str) -> list[str]:
  """The rows a study config uses (its zoo_modules imported, its patterns resolved)."""
  import importlib
  import importlib.util
  from launch.study import config as config_lib
  if name.endswith(".py"):
    spec = importlib.util.spec_from_file_location("study_config", name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  else:
    module = importlib.import_module(f"launch.study.configs.{name}")
  return config_lib.validate(config_lib.merge(module.get_config()))


def check_row(entry, zoo_dir: str) -> "zoo.hub_check.RowCheck":
  """One row's pre-flight verdict (zoo.hub_check for Hub rows)."""
  from etils import epath
  from zoo import hub_check
  from zoo.converters.huggingface import is_hub_id
  from zoo.registry import weights_location
  kind, location = entry.weights.kind, weights_location(entry, zoo_dir)
  if kind in ("huggingface", "timm", "openai_clip") and is_hub_id(location):
    return hub_check.check_row(entry)
  if kind == "npz" and location.startswith("gs://"):
    import urllib.request
    from zoo.converters.big_vision import GCS_HTTPS
    url = f"{GCS_HTTPS}/{location[len('gs://'):]}"
    try:
      with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
        size = int(response.headers.get("Content-Length") or 0)
    except Exception as error:
      return hub_check.RowCheck(entry.name, False, f"{url}: {type(error).__name__}: {error} (not public, moved, or "
                                "offline); fix the row's location.")
    return hub_check.RowCheck(entry.name, True, f"{url} is public ({size / 1e6:.0f} MB); its arrays are checked on "
                              "load")
  if kind == "checkpoint":
    return hub_check.RowCheck(entry.name, True, "trained by the study (no download)")
  if epath.Path(location).exists():
    return hub_check.RowCheck(entry.name, True, f"local files at {location}")
  return hub_check.RowCheck(entry.name, False, f"no files at {location} ({entry.note or 'a local row'}); make them "
                            "(README: the paper section) or leave the row out of the config.")


def check(names: list[str], zoo_dir: str) -> int:
  """Prints one line per row (ready, or what is missing and the fix); 1 if any is not ready."""
  failed = 0
  for name in names:
    result = check_row(zoo.get(name), zoo_dir)
    failed += not result.ready
    print(result.line(), flush=True)
  print(f"{len(names) - failed} of {len(names)} rows ready" + (f"; {failed} not ready" if failed else ""))
  return 1 if failed else 0


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


def show(name: str) -> int:
  """Prints the row derived from timm tag ``name`` (zoo.timm_rows): its fields and, per field, the
  rule of zoo.timm_rows.RULES that set it; a tag that is unknown or not covered: the reason on
  stderr and exit status 2."""
  from zoo import timm_rows
  try:
    derivation = timm_rows.derive(name)
  except timm_rows.TimmTagError as error:  # a user's mistake: one paragraph, no usage text
    print(f"error: {error}", file=sys.stderr)
    return 2
  entry = derivation.entry
  prep = entry.preprocessing
  fields = (("row", entry.name), ("weights", f"{entry.weights.kind}:{entry.weights.location}"),
            ("timm module", derivation.module),
            ("converter family", derivation.family), ("architecture", entry.architecture),
            ("pretraining data", entry.pretraining_data), ("data stages", " → ".join(derivation.stages)),
            ("objective", entry.objective), ("hparams", dict(entry.hparams)), ("classes", entry.num_classes),
            ("preprocessing", f"{prep.resolution} px, crop {prep.crop_fraction}, {prep.crop_mode}, "
                              f"{prep.interpolation}, mean {prep.mean}, std {prep.std}"),
            ("license", entry.provenance.license), ("paper", entry.provenance.paper))
  for label, value in fields:
    print(f"{label:>18}: {value}")
  print("rules fired (zoo.timm_rows.RULES):")
  for field, value, source in derivation.fired:
    print(f"  {field:>9} = {value}  <- {source}")
  return 0


def _base(catalog: str):
  """--base's row (checked: a registered model), else the catalog's own base."""
  if not BASE.value:
    return zoo.base_of(catalog)
  try:
    return zoo.get(BASE.value)
  except KeyError as error:
    raise cli.BadInput(f"--base: {error.args[0]} Name a row `python -m launch.zoo list` prints.") from None


def main(argv) -> int:
  if len(argv) == 2 and argv[1] == "import":
    return import_row()
  if len(argv) == 3 and argv[1] == "show":
    return show(argv[2])
  if len(argv) == 2 and argv[1] == "check":
    if CONFIG.value:
      return check(_config_models(CONFIG.value), ZOO_DIR.value)
    return check(zoo.list_models(PATTERN.value, catalog=CATALOG.value), ZOO_DIR.value)
  if len(argv) != 2 or argv[1] != "list":
    raise app.UsageError("usage: python -m launch.zoo list [--catalog=NAME] [--category=NAME] [--pattern=GLOB] "
                         "[--base=NAME]\n   or: python -m launch.zoo import --source=FILE --row=NAME [--zoo_dir=DIR] "
                         "[--sha256=HEX] [--overwrite]\n   or: python -m launch.zoo show timm:<arch>.<tag>"
                         "\n   or: python -m launch.zoo check --config=NAME | --catalog=NAME [--pattern=GLOB] [--zoo_dir=DIR]")
  names = zoo.list_models(PATTERN.value, catalog=CATALOG.value)
  if not names:
    raise app.UsageError(f"no model matches --pattern={PATTERN.value!r} --catalog={CATALOG.value!r}.")
  header = ("name", "category vs base", "objective", "pretraining data", "architecture", "head", "top-1", "weights",
            "license", "differs from the base in")
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
