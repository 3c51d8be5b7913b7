r"""The paper's study: the ``paper`` catalog on ImageNet, downstream Pascal VOC 2007.

  python -m launch.study --config=launch/study/configs/paper.py --data_dir=gs://bucket/tfds \
      --out=gs://bucket/report                       # add --distributed on every TPU VM worker

Temperatures (and the Fig. 6 probes' train/validation embeddings) come from a held-out
slice of ImageNet train (``calibration_split``, its last 10,000 images by default), greedy
ensembles (Fig. 5) choose their members on the 10,000 images before it
(``selection_split``), metrics come from the 50,000 validation images; rows without a
classifier (DINO, DINOv2, MAE) get a linear probe fitted on ``train[:50000]``
(``linear_probe``); Fig. 7 fits linear probes on VOC 2007's train, selects
the L2 strength on its validation split and reports 11-point mAP on its test split
(Kornblith et al. 2019). Fig. 4 groups ImageNet's classes by id as the paper does: ids
0–397 are animals ("nature"), 398–999 mostly artefacts ("man-made").

The reinit rows (``zoo.catalogs.paper.IMPORTED``: ``resnet50.tv_seed*``, ``resnet50.ens_seed*``,
``resnet50.rrl_seed*``) are studied when ``python -m launch.zoo import`` has written their
directories into the zoo directory (``zoo_dir=DIR``, default ``~/.cache/overlap/zoo``); the
others are left out, with one printed line saying how to add them (README, "Reinit rows from
public seeds"). The public seeds are not the base's recipe, so relative to ``resnet50.base`` they
are hyper-parameter rows and pair as reinit among themselves; ``base=resnet50.ens_seed1`` (or an
RRL seed) makes the study's reinit category theirs.

Arguments (comma-separated): ``default``, ``calibration=N`` (another held-out size),
``zoo_dir=DIR``, ``base=NAME``.
"""

import ml_collections
from etils import epath

from zoo.catalogs.paper import BASE, IMPORTED
from zoo.converters.torchvision_import import CONFIG, DEFAULT_ZOO_DIR, SAFETENSORS
from zoo.registry import get, weights_location


def imported_rows(zoo_dir: str) -> tuple[list[str], list[str]]:
  """(rows of IMPORTED whose directory under ``zoo_dir`` holds config.json and model.safetensors, the rest)."""
  names = [name for rows in IMPORTED.values() for name in rows]
  present = [n for n in names if all((epath.Path(weights_location(get(n), zoo_dir)) / f).exists()
                                     for f in (CONFIG, SAFETENSORS))]
  return present, [n for n in names if n not in present]


def _arguments(arg: str) -> dict[str, str]:
  options = {"calibration": "10000", "zoo_dir": DEFAULT_ZOO_DIR, "base": BASE.name}
  for part in (p.strip() for p in arg.split(",") if p.strip() and p.strip() != "default"):
    key, equals, value = part.partition("=")
    if not equals or key not in options:
      raise ValueError(f"unknown argument {part!r}; use paper.py:default or comma-separated calibration=N, "
                       "zoo_dir=DIR, base=NAME")
    options[key] = value
  return options


def get_config(arg: str = "default") -> ml_collections.ConfigDict:
  """``arg``: default | comma-separated calibration=N (examples of the held-out ImageNet-train
  slice), zoo_dir=DIR (where the imported reinit rows are), base=NAME."""
  options = _arguments(arg)
  calibration, zoo_dir, base = int(options["calibration"]), options["zoo_dir"], options["base"]
  _, absent = imported_rows(zoo_dir)
  if base in absent:
    raise ValueError(f"base={base}: its weights are not in {zoo_dir}; import them first (python -m launch.zoo import "
                     f"--source=FILE --row={base} --zoo_dir={zoo_dir}).")
  if absent:
    print(f"paper config: {len(absent)} reinit rows without weights in {zoo_dir} are left out "
          f"({_ranges(absent)}); add one with `python -m launch.zoo import --source=FILE --row=NAME "
          f"--zoo_dir={zoo_dir}` (README: Reinit rows from public seeds).", flush=True)
  return ml_collections.ConfigDict({
      "name": "the paper's study on ImageNet",
      "zoo_modules": ("zoo.catalogs.paper",),
      "catalog": "paper",
      "models": "*",                       # every row the paper catalog registers (zoo_modules), but
      # the reinit rows whose weights have not been imported (see zoo/catalogs/paper.py).
      "exclude_models": ",".join(absent),
      "zoo_dir": zoo_dir,
      # The headless rows (DINO, DINOv2, MAE: head "linear-probe") get a Kornblith probe fitted on
      # 50,000 other ImageNet-train images (about 50 per class; disjoint from calibration_split),
      # the L2 strength chosen among Kornblith's 45 on a held-out fifth of them.
      "linear_probe": {"split": "train[:50000]", "iterations": 1000, "validation_fraction": 0.2},
      "zero_shot_class_names": "imagenet",  # CLIP's ImageNet names for the CLIP/SigLIP/ALIGN heads
      "base": base,
      "dataset": "imagenet2012",
      "selection_split": f"train[-{calibration + 10000}:-{calibration}]",
      "calibration_split": f"train[-{calibration}:]",
      "test_split": "validation",
      "batch_size": 256,
      "chunk_batches": 8,
      "precision": "bfloat16",
      "logits_dtype": "float16",          # 82 × 50,000 × 1,000 logits: 8.2 GB instead of 16.4
      "resamples": 1000,
      "probe_l2_grid": tuple(10.0 ** e for e in range(-6, 6)),
      "sections": {
          "specialisation": {"class_groups": "nature (animals):0-397,man-made:398-999"},
          "greedy": {"starts": 4, "steps": 10},
          "mixing": {"rates": (1.0, 0.75, 0.5, 0.25, 0.0), "seeds": 3, "diversity_step": 256,
                     "diversity_target": 0.76},
          "downstream": {"dataset": "voc/2007", "train_split": "train", "val_split": "validation",
                         "test_split": "test", "iterations": 1000},
          # Similarity ↔ complementarity: CKA on all 50,000 validation images, the k-NN measures and
          # their permutation nulls on 5,000 of them (O(E²) each).
          "similarity": {"enabled": True, "k": 10, "examples": 5000, "permutations": 20, "resamples": 1000,
                         "kappa_draws": 10000, "seed": 0},
      },
  })


def _ranges(names: list[str]) -> str:
  """``resnet50.ens_seed1-5, ...``: names that differ only in a trailing number, grouped."""
  groups: dict[str, list[str]] = {}
  for name in names:
    stem = name.rstrip("0123456789")
    groups.setdefault(stem, []).append(name[len(stem):])
  return ", ".join(f"{stem}{nums[0]}-{nums[-1]}" if len(nums) > 1 else f"{stem}{nums[0]}"
                   for stem, nums in groups.items())
