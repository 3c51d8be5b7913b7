"""A study is a config: its fields, loading ``FILE.py[:ARG]``, strict ``--set`` and validation.

A config file (big_vision style) defines ``get_config(arg)`` returning an
``ml_collections.ConfigDict`` with some of the fields of :func:`defaults`; the rest keep
their defaults. The study-wide fields are here; each section's own settings are its
sub-config ``sections.<name>``, whose defaults are beside its code (``defaults()`` of
launch/study/sections/<name>.py). Every check here runs before the study writes anything,
and every failure is a :class:`ConfigError`: one paragraph naming the field and the fix.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import sys
from pathlib import Path

import ml_collections

from launch import configs
from launch.configs import ConfigError, parse_value  # noqa: F401 (the study's API: one mechanism)
from launch.store import LOGITS_DTYPES  # one source: the dtypes the store writes
from probes.logistic import KORNBLITH_L2_GRID  # one source: the linear probe's default strengths

BUILTIN = Path(__file__).parent / "configs"
DEFAULT_CONFIG = f"{BUILTIN / 'fashion_mnist.py'}:default"
PRECISIONS = ("float32", "bfloat16")


def defaults() -> ml_collections.ConfigDict:
  """Every field a study config may set, with its default (the type of each default is the
  field's type: ``--set`` parses values by it)."""
  return ml_collections.ConfigDict({
      "name": "study",                  # the report's title
      "zoo_modules": (),                # module names or .py paths imported first (they register rows)
      "catalog": "",                    # only rows of this catalog ("" = every registered row)
      "models": "",                     # comma-separated fnmatch patterns over those rows
      "exclude_models": "",             # comma-separated fnmatch patterns removed from those
      # Class names of zero-shot rows' text prompts: "dataset" (the test split's own names) or
      # "imagenet" (zoo.classnames: TFDS's imagenet2012 names are WordNet ids, not words).
      "zero_shot_class_names": "dataset",
      "base": "",                       # the base model (categories are relative to it); one of the models
      "dataset": "",                    # TFDS name (or an IDX-backed name launch.data reads offline)
      "data_dir": "",                   # TFDS data_dir / IDX directory ("" = the library's default)
      "calibration_split": "",          # temperatures; also the probes' train/val embeddings
      "test_split": "",
      # Greedy selection (Fig. 5, claim 4) picks members on this split and reports them on test;
      # disjoint from calibration and test ("" = no greedy runs).
      "selection_split": "",
      "zoo_dir": "",                    # checkpoints of rows not trained by the study ("" = <cache>/zoo)
      "batch_size": 256,                # global evaluation batch
      "chunk_batches": 4,               # batches per store chunk (resume granularity)
      "precision": "float32",           # forward compute dtype: float32 | bfloat16
      "logits_dtype": "float32",        # stored logits: float32 | float16 | bfloat16
      # Training of rows that have a recipe and no weights (zoo.fitting); the data of a row is
      # the study dataset's train_split, a "<dataset>_classes_<a>-<b>" subset of it, or a
      # procedural set ("procedural_shapes", "procedural_textures").
      "train_split": "train",
      "pretrain_examples": 10000,       # examples of each procedural set
      "epochs": 2,
      # Rows trained at once, each in a host thread (launch.study.zoo_stage): their programs
      # overlap; every row's weights are the same as trained alone (1 = one at a time).
      "train_threads": 2,
      # Independent zoo draws: every row retrained with seeds of its own per replicate
      # (zoo.registry.replicate_seed; replicate 0 = the rows' own seeds). Each claim is decided
      # per replicate and over all of them (launch.study.verdicts.replicated_claims).
      "replicates": 1,
      # Analysis settings that several sections share (each section's own are config.sections.<name>).
      "resamples": 300,                 # paired-bootstrap resamples (95% intervals)
      # Width (points) of the accuracy window holding the base (the paper: 74–78%): only its
      # models enter Fig. 1–2, the per-category table and claims 1–3.
      "accuracy_band": 4.0,
      # L2 strengths of the linear probes of Fig. 6 (section mixing) and Fig. 7 (section downstream).
      "probe_l2_grid": (1e-4, 1e-3, 1e-2, 1e-1, 1.0),
      "linear_probe": linear_probe_defaults(),
      "sections": sections_defaults(),
  })


# The study's sections (launch/study/sections/<name>.py), in report order: a new section is one
# file there and one line here. ``config.sections.<name>`` is its own sub-config (defaults beside
# its code); the study-wide fields above that it reads are listed in its module (FIELDS).
SECTIONS = (
    "claims",          # the paper's five claims, decided on one joint bootstrap (first in the report)
    "models",          # accuracy, temperature, category and band of each model
    "categories",      # Fig. 1–2 and the category table
    "specialisation",  # Fig. 3–4
    "greedy",          # Fig. 5
    "mixing",          # Fig. 6
    "downstream",      # Fig. 7
    "similarity",      # representational similarity and complementarity
)


def sections_defaults() -> ml_collections.ConfigDict:
  """``config.sections``: each section's own sub-config (its module's ``defaults()``)."""
  from launch.study import sections
  return sections.defaults(SECTIONS)


def linear_probe_defaults() -> ml_collections.ConfigDict:
  """The classifier of rows without one (head "linear-probe": DINO, DINOv2, MAE, ...): a
  Kornblith-protocol probe (launch.study.probe_head) fitted on ``split`` of ``dataset``, a
  labelled slice disjoint from every analysed split ("" = none: such rows are refused). A
  seeded ``validation_fraction`` of it chooses the L2 strength among ``l2_grid``, then the
  probe is refitted on all of it with at most ``iterations`` L-BFGS steps."""
  return ml_collections.ConfigDict({"split": "", "l2_grid": KORNBLITH_L2_GRID, "iterations": 1000,
                                    "validation_fraction": 0.2, "seed": 0})


REQUIRED = ("models", "base", "dataset", "calibration_split", "test_split")
ZERO_SHOT_CLASS_NAMES = ("dataset", "imagenet")


def _fail(message: str):
  raise ConfigError(message)


# Settings that were study-wide fields and are now a section's own (config.sections.<name>):
# a config file or --set that still names the old field is told the new place.
MOVED = {
    "theta_bins": "sections.specialisation.theta_bins",
    "class_groups": "sections.specialisation.class_groups",
    "greedy_starts": "sections.greedy.starts",
    "greedy_steps": "sections.greedy.steps",
    "mixing_rates": "sections.mixing.rates",
    "mixing_seeds": "sections.mixing.seeds",
    "probe_steps": "sections.mixing.probe_steps",
    "diversity_ranking": "sections.mixing.diversity_ranking",
    "diversity_step": "sections.mixing.diversity_step",
    "diversity_target": "sections.mixing.diversity_target",
    "probe_iterations": "sections.downstream.iterations",
    "downstream": "sections.downstream",      # and downstream.<field> → sections.downstream.<field>
    "similarity": "sections.similarity",      # and similarity.<field> → sections.similarity.<field>
}


def moved_field(key: str, source: str) -> None:
  """ConfigError if ``key`` (a field, dotted for nested ones) is one of :data:`MOVED`'s old names."""
  head, dot, rest = key.partition(".")
  if head not in MOVED:
    return
  new = MOVED[head] + dot + rest
  parts = new.split(".")
  section = parts[1]
  nested = "{...}" if len(parts) == 2 else "..."
  for part in reversed(parts):
    nested = f'{{"{part}": {nested}}}'
  setting = f"--set {new}=..." if len(parts) > 2 else f"--set {new}.<field>=..."
  _fail(f"config field {key!r} (in {source}) has moved to {new!r}: it belongs to the {section!r} section, whose "
        f"defaults are in launch/study/sections/{section}.py. Write {setting} or, in a config file, {nested}.")


def load(spec: str | None = None) -> tuple[ml_collections.ConfigDict, str]:
  """(config, its source) from ``FILE.py[:ARG]`` (default: the built-in fashion_mnist:default);
  a bare name such as ``paper`` or ``paper.py`` means the built-in config of that name
  (launch.configs.load_file, the loader every command shares)."""
  loaded, source = configs.load_file(spec or DEFAULT_CONFIG, BUILTIN)
  return merge(loaded, source=source), source


def merge(loaded, source: str = "the config") -> ml_collections.ConfigDict:
  """``loaded``'s fields over :func:`defaults`; an unknown, moved (:data:`MOVED`) or mistyped
  field is a ConfigError."""
  for key in (loaded.keys() if hasattr(loaded, "keys") else ()):
    moved_field(key, source)
  return configs.merge(loaded, defaults(), source,
                       documented="launch/study/config.py and, for sections.<name>, launch/study/sections/<name>.py")


def apply_overrides(config: ml_collections.ConfigDict, overrides: list[str]) -> ml_collections.ConfigDict:
  """``--set key=value`` overrides (launch.configs.apply_overrides: ``sections.greedy.steps=3``);
  an old field name (:data:`MOVED`) is a ConfigError naming its new place."""
  for override in overrides:
    moved_field(override.partition("=")[0], f"--set {override}")
  return configs.apply_overrides(config, overrides)


def value_of(config, dotted: str):
  """The value of field ``dotted`` (``resamples``, ``sections.greedy.steps``) of ``config``."""
  node = config
  for part in dotted.split("."):
    node = node[part]
  return node


def section_settings(config, name: str):
  """``config.sections.<name>``, or None where the config does not run section ``name``."""
  return config.sections[name] if "sections" in config and name in config.sections else None


def import_zoo_modules(modules) -> None:
  """Imports each entry (a module name, or a path to a .py file) so its rows register."""
  for entry in modules:
    try:
      if entry.endswith(".py"):
        path = Path(entry).expanduser().resolve()
        if not path.is_file():
          raise FileNotFoundError(f"no file {path}")
        name = f"_overlap_zoo_module_{path.stem}"
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(path):
          continue
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
      else:
        importlib.import_module(entry)
    except Exception as error:
      sys.modules.pop(f"_overlap_zoo_module_{Path(entry).stem}", None)
      _fail(f"config field 'zoo_modules': importing {entry!r} failed ({type(error).__name__}: {error}). Give an "
            "importable module name or the path of a .py file that registers rows with zoo.register, and fix "
            "the error it raises.")


def check_split(field: str, spec: str) -> None:
  import tensorflow_datasets as tfds
  try:
    tfds.core.ReadInstruction.from_spec(spec)
  except (ValueError, AssertionError) as error:
    _fail(f"config field {field!r}: {spec!r} is not a split in TFDS syntax ({str(error).splitlines()[0]}). Write "
          "e.g. 'test', 'train[:10000]', 'train[-5%:]' or 'validation[:50%]+test'.")


SPLIT_FIELDS = ("selection_split", "calibration_split", "test_split", "train_split")
# A split of unknown size (a TFDS dataset not prepared here) is taken to be this long: slices
# from its start and from its end are then disjoint, as they are on any split long enough to
# hold both.
_UNKNOWN_SPLIT_SIZE = 10 ** 12


def _split_sizes(dataset: str) -> dict[str, int]:
  from launch import data
  return dict(data.OFFLINE_SPLIT_SIZES.get(dataset, {}))


def check_disjoint_splits(config, names=()) -> None:
  """ConfigError if two of selection/calibration/test/train_split share examples of the
  study dataset (slices of one split that overlap). train_split counts only where one of
  the models ``names`` is a row the study trains on it (zoo_stage.trainable)."""
  from launch import data
  from launch.study import zoo_stage
  import zoo
  known = _split_sizes(config.dataset)
  trains_on_dataset = any(zoo_stage.trainable(config, zoo.get(n)) and
                          zoo_stage.data_spec(config, zoo.get(n).pretraining_data)["kind"] != "procedural"
                          for n in names)
  fields = [f for f in SPLIT_FIELDS if config[f] and (f != "train_split" or trains_on_dataset)]
  ranges = {}
  for field in fields:
    split_names = [part.split("[")[0].strip() for part in config[field].split("+")]
    try:
      ranges[field] = data.resolve_split(config[field], {n: known.get(n, _UNKNOWN_SPLIT_SIZE) for n in split_names})
    except ValueError as error:
      _fail(f"config field {field!r}: {error}.")
  for i, first in enumerate(fields):
    for second in fields[i + 1:]:
      shared = sum(max(0, min(stop_a, stop_b) - max(start_a, start_b))
                   for name_a, start_a, stop_a in ranges[first] for name_b, start_b, stop_b in ranges[second]
                   if name_a == name_b)
      if shared:
        _fail(f"config fields {first!r} ({config[first]!r}) and {second!r} ({config[second]!r}) share {shared} "
              f"examples of {config.dataset}; make them disjoint slices (e.g. train_split='train[:45000]', "
              "selection_split='train[45000:55000]', calibration_split='train[55000:]', test_split='test').")


def check_dataset(field: str, name: str) -> None:
  from launch import data
  if name in data.OFFLINE_SOURCES:
    return
  import tensorflow_datasets as tfds
  try:
    tfds.builder_cls(name.split("/")[0])
  except Exception:  # DatasetNotFoundError and friends
    _fail(f"config field {field!r}: no dataset {name!r}. Use a TFDS name (e.g. imagenet2012, voc/2007, cifar10; "
          f"`tfds.list_builders()` lists them) or one of the offline sources {sorted(data.OFFLINE_SOURCES)}.")


def _timm_rows(patterns: list[str]) -> list[str]:
  """Registers the rows of the ``timm:`` patterns (zoo.timm_rows: names or globs over the covered
  1,000-class tags of timm 1.0.31) whatever the catalog, and returns their names."""
  from zoo import timm_rows
  try:
    return timm_rows.register_tags([p for p in patterns if p.startswith(timm_rows.PREFIX)])
  except timm_rows.TimmTagError as error:
    _fail(f"config field 'models': {error}")


def resolve_models(config) -> list[str]:
  """The registered rows matching ``config.models``, the base first."""
  import zoo
  patterns = [p.strip() for p in config.models.split(",") if p.strip()]
  names = zoo.list_models(catalog=config.catalog or None)
  names += [n for n in _timm_rows(patterns) if n not in names]
  if not names:
    _fail(f"config field 'catalog': no registered row has catalog {config.catalog!r}; add the module that "
          "registers it to zoo_modules, or set catalog='' to choose among every registered row.")
  unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(n, p) for n in names)]
  if unknown:
    _fail(f"config field 'models': {unknown} match no registered model. Registered rows: {names[:40]}"
          f"{'...' if len(names) > 40 else ''} (python -m launch.zoo list); add the module that registers yours "
          "to zoo_modules.")
  excluded = [p.strip() for p in config.exclude_models.split(",") if p.strip()]
  chosen = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)
            and not any(fnmatch.fnmatchcase(n, p) for p in excluded)]
  probed = [n for n in chosen if zoo.get(n).head == "linear-probe"]
  if probed and not config.linear_probe.split:
    _fail(f"config field 'linear_probe.split': {probed} have no classifier (head 'linear-probe') and the study fits "
          "one on a labelled train slice of the dataset; set linear_probe.split (e.g. --set "
          "linear_probe.split='train[:50000]', disjoint from calibration_split and test_split) or remove them with "
          "exclude_models.")
  if config.base not in chosen:
    _fail(f"config field 'base': {config.base!r} is not among the models {chosen}; set base to one of them or add "
          "it to models.")
  return [config.base] + [n for n in chosen if n != config.base]


def validate(config) -> list[str]:
  """Checks every field (after importing zoo_modules) and returns the model names, base first."""
  missing = [k for k in REQUIRED if not config[k]]
  if missing:
    _fail(f"config field{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)} must be set (in the "
          f"config file or with --set {missing[0]}=...); see launch/study/configs/ for complete examples.")
  for field, allowed in (("precision", PRECISIONS), ("logits_dtype", LOGITS_DTYPES),
                         ("zero_shot_class_names", ZERO_SHOT_CLASS_NAMES)):
    if config[field] not in allowed:
      _fail(f"config field {field!r}: {config[field]!r} is not one of {list(allowed)}.")
  for field in ("batch_size", "chunk_batches", "resamples", "epochs", "train_threads", "replicates"):
    if config[field] < 1:
      _fail(f"config field {field!r} must be >= 1; got {config[field]}.")
  if not config.accuracy_band > 0:
    _fail(f"config field 'accuracy_band' (points) must be > 0; got {config.accuracy_band}.")
  if not config.probe_l2_grid:
    _fail("config field 'probe_l2_grid' must hold at least one L2 strength.")
  _check_linear_probe(config.linear_probe)
  _check_sections(config)
  check_dataset("dataset", config.dataset)
  for field in SPLIT_FIELDS:
    if config[field]:
      check_split(field, config[field])
  import_zoo_modules(config.zoo_modules)
  names = resolve_models(config)
  check_disjoint_splits(config, names)
  return names


def _check_sections(config) -> None:
  """Each configured section's own settings (``sections.<name>.<field>``): its module's
  ``check(own)``, where it has one, checks their values (their types are checked by :func:`merge`;
  the ranges that need the data, by launch.study.validate.check_ranges)."""
  from launch.study import sections
  for name in config.sections:
    check = getattr(sections.get(name), "check", None)
    if check is not None:
      check(config.sections[name])


def check_counts(section: str, own, fields, defaults) -> None:
  """ConfigError unless each of section ``section``'s settings ``fields`` (counts) is >= 1; the
  message gives its default (``defaults``: the section's ``defaults()``) as the fix."""
  for field in fields:
    if own[field] < 1:
      _fail(f"config field 'sections.{section}.{field}' must be >= 1; got {own[field]}; write e.g. "
            f"--set sections.{section}.{field}={defaults[field]} (its default).")


def _check_linear_probe(probe) -> None:
  """The linear_probe sub-config's settings (its split's disjointness needs the data: see
  launch.study.probe_head.check_disjoint)."""
  if probe.split:
    check_split("linear_probe.split", probe.split)
  if probe.iterations < 1:
    _fail(f"config field 'linear_probe.iterations' must be >= 1; got {probe.iterations}.")
  if not 0 < probe.validation_fraction < 1:
    _fail(f"config field 'linear_probe.validation_fraction' must be in (0, 1); got {probe.validation_fraction}.")
  if not probe.l2_grid or min(probe.l2_grid) < 0:
    _fail(f"config field 'linear_probe.l2_grid' must hold at least one non-negative L2 strength; got "
          f"{probe.l2_grid}.")


def class_groups(text: str) -> list[tuple[str, int, int]]:
  """``"nature:0-397,man-made:398-999"`` → [(name, first id, last id + 1)]."""
  groups = []
  for part in (p.strip() for p in text.split(",") if p.strip()):
    name, _, span = part.rpartition(":")
    first, _, last = span.partition("-")
    try:
      groups.append((name, int(first), int(last) + 1))
    except ValueError:
      _fail(f"config field 'sections.specialisation.class_groups': {part!r} is not name:first-last (class ids, "
            "inclusive), e.g. 'nature:0-397,man-made:398-999'.")
    if not name or groups[-1][1] >= groups[-1][2]:
      _fail(f"config field 'sections.specialisation.class_groups': {part!r} needs a name and first <= last.")
  return groups

