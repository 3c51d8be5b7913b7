r"""The public ImageNet model world: every covered 1,000-class timm tag, on the paper config's splits.

  python -m launch.study --config=timm_world.py:base=timm:resnet50.tv_in1k --data_dir=gs://bucket/tfds \
      --out=gs://bucket/timm_world
  python -m launch.study --config=timm_world.py:coverage=benchmarks/timm_coverage.csv ...

Rows are made on the fly from timm 1.0.31's pretrained tags (zoo.timm_rows: ``timm:<arch>.<tag>``,
preprocessing from the tag's pretrained config, training-method fields from the rule table), so
the paper's categories of every (base, X) pair are derived against the chosen ``base``. The
models are every 1,000-class tag whose architecture a zoo.converters.timm family builds
(``timm:*``, N = 228 at main 4a29103, growing with the families; the issue's target is about
1,000), or, with ``coverage=FILE``, only the tags benchmarks/timm_coverage.py proved
(status "covered" in its CSV). ImageNet splits as launch/study/configs/paper.py: calibration and
probe embeddings on the last 10,000 train images, greedy selection on the 10,000 before them,
metrics on the 50,000 validation images.

Sized for N ≈ 1,000 (P = N(N−1)/2 ≈ 500,000 pairs):

- **all pairs**: the pairwise metrics (error inconsistency, ensemble accuracy, relative
  improvement, conversion, κ; metrics.pairwise_outcomes' exact all-pairs kernel) and their
  paired-bootstrap intervals (three [B, E] × [E, P] products per block of pairs: ``resamples``
  cut from the paper config's 1,000 to 200, 5× less work, intervals still ±0.2 pt-scale);
- **base pairs only**: the per-category table, Fig. 1–2 and claims 1–3 (the (base, X) pairs in
  the accuracy band around the base);
- **sampled pairs**: Fig. 3 (θ specialisation) and Fig. 6 (feature mixing and diversity
  probes) run on the base with one representative per category (analysis.representatives: at
  most 5 pairs), whatever N;
- **greedy** (Fig. 5): 4 starts × 10 steps over all N candidates (cost O(starts·steps·N·E·K));
- **off at this N**: Fig. 7 (downstream linear probes of every model and every pair: ≈ 500,000
  probes) and the similarity section (CKA and k-NN measures of every pair: its config has no
  pair sampling), both O(P) fits; run them on a subset with the paper config instead.

Arguments (comma-separated): ``base=timm:<arch>.<tag>`` (default timm:resnet50.tv_in1k, the paper
catalog's base recipe), ``coverage=FILE`` (the coverage benchmark's CSV), ``calibration=N``.
"""

import csv
from pathlib import Path

import ml_collections

DEFAULT_BASE = "timm:resnet50.tv_in1k"


def _arguments(arg: str) -> dict[str, str]:
  known = {"base": DEFAULT_BASE, "coverage": "", "calibration": "10000"}
  for item in filter(None, (a.strip() for a in (arg or "").split(","))):
    key, _, value = item.partition("=")
    if key not in known or not value:
      raise ValueError(f"unknown argument {item!r}; use base=timm:<arch>.<tag>, coverage=FILE, calibration=N")
    known[key] = value
  return known


def _covered_tags(path: str) -> str:
  """``timm:`` names of the tags with status "covered" in the coverage benchmark's CSV."""
  with open(Path(path).expanduser()) as handle:
    names = [f"timm:{row['tag']}" for row in csv.DictReader(handle) if row["status"] == "covered"]
  if not names:
    raise ValueError(f"{path}: no tag has status 'covered' (run benchmarks/timm_coverage.py first)")
  return ",".join(names)


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  """``arg``: "" or comma-separated base=…, coverage=…, calibration=… (module docstring)."""
  args = _arguments(arg)
  calibration = int(args["calibration"])
  models = _covered_tags(args["coverage"]) if args["coverage"] else "timm:*"
  if args["base"] not in models.split(",") and models != "timm:*":
    models = f"{args['base']},{models}"
  return ml_collections.ConfigDict({
      "name": f"the timm ImageNet world (timm 1.0.31), categories relative to {args['base']}",
      "catalog": "",
      "models": models,
      "base": args["base"],
      "dataset": "imagenet2012",
      "selection_split": f"train[-{calibration + 10000}:-{calibration}]",
      "calibration_split": f"train[-{calibration}:]",
      "test_split": "validation",
      "batch_size": 256,
      "chunk_batches": 8,
      "precision": "bfloat16",
      "logits_dtype": "float16",          # N × 50,000 × 1,000 logits: 100 GB at N = 1,000 instead of 200
      "resamples": 200,                   # all-pairs intervals at P ≈ 500,000 (docstring)
      "probe_l2_grid": tuple(10.0 ** e for e in range(-6, 6)),
      "sections": {
          "specialisation": {"class_groups": "nature (animals):0-397,man-made:398-999"},
          "greedy": {"starts": 4, "steps": 10},
          "mixing": {"rates": (1.0, 0.75, 0.5, 0.25, 0.0), "seeds": 3, "diversity_step": 256},
          "downstream": {"dataset": "", "iterations": 1000},   # Fig. 7 off at this N (docstring)
          "similarity": {"enabled": False},                    # all-pairs similarity off at this N (docstring)
      },
  })
