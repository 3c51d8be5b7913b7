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

Arguments: ``default``, or ``calibration=N`` for another held-out size.
"""

import ml_collections


def get_config(arg: str = "default") -> ml_collections.ConfigDict:
  """``arg``: default | calibration=N (examples of the held-out ImageNet-train slice)."""
  calibration = 10000
  if arg.startswith("calibration="):
    calibration = int(arg.partition("=")[2])
  elif arg != "default":
    raise ValueError(f"unknown argument {arg!r}; use paper.py:default or paper.py:calibration=N")
  return ml_collections.ConfigDict({
      "name": "the paper's study on ImageNet",
      "zoo_modules": ("zoo.catalogs.paper",),
      "catalog": "paper",
      "models": "*",                       # every row the paper catalog registers (zoo_modules), but
      # the reinit slots (no public weights: see zoo/catalogs/paper.py).
      "exclude_models": "resnet50.tv_seed*",
      # The headless rows (DINO, DINOv2, MAE: head "linear-probe") get a Kornblith probe fitted on
      # 50,000 other ImageNet-train images (about 50 per class; disjoint from calibration_split),
      # the L2 strength chosen among Kornblith's 45 on a held-out fifth of them.
      "linear_probe": {"split": "train[:50000]", "iterations": 1000, "validation_fraction": 0.2},
      "zero_shot_class_names": "imagenet",  # CLIP's ImageNet names for the CLIP/SigLIP/ALIGN heads
      "base": "resnet50.base",
      "dataset": "imagenet2012",
      "selection_split": f"train[-{calibration + 10000}:-{calibration}]",
      "calibration_split": f"train[-{calibration}:]",
      "test_split": "validation",
      "batch_size": 256,
      "chunk_batches": 8,
      "precision": "bfloat16",
      "logits_dtype": "float16",          # 82 × 50,000 × 1,000 logits: 8.2 GB instead of 16.4
      "resamples": 1000,
      "greedy_starts": 4,
      "greedy_steps": 10,
      "mixing_rates": (1.0, 0.75, 0.5, 0.25, 0.0),
      "mixing_seeds": 3,
      "probe_l2_grid": tuple(10.0 ** e for e in range(-6, 6)),
      "probe_iterations": 1000,
      "diversity_step": 256,
      "diversity_target": 0.76,
      "class_groups": "nature (animals):0-397,man-made:398-999",
      "downstream": {"dataset": "voc/2007", "train_split": "train", "val_split": "validation",
                     "test_split": "test"},
      # Similarity ↔ complementarity: CKA on all 50,000 validation images, the k-NN measures and
      # their permutation nulls on 5,000 of them (O(E²) each).
      "similarity": {"enabled": True, "k": 10, "examples": 5000, "permutations": 20, "resamples": 1000,
                     "kappa_draws": 10000, "seed": 0},
  })
