"""The paper catalog's timm rows: their preprocessing against timm's own evaluation transform of
the checkpoint's registered pretrained config at its test size (``timm.models.get_pretrained_cfg(tag)`` →
``resolve_data_config`` → ``create_transform``, in the separate timm environment through
tests/timm_reference.py), on random images of ImageNet-like sizes and aspect ratios.

Both sides resize the same uint8 image with PIL at the same sizes and offsets (torchvision's
rules: ``torchvision_sizes``), so they agree up to float32 rounding of the normalisation: we
allow 1e-5. Rows cover every crop_pct, resolution, interpolation and normalisation kind the
catalog's timm rows use; the VOLO tags cover crop_pct 1.15 (resize below the crop, then
torchvision's CenterCrop zero-pads), on images where one side, both sides (odd and even
padding) or neither long side end below the crop; two small configs do the same for the
"squash" (zero padding) and "border" (mean-colour padding) modes.
"""

import json
import os
import subprocess

import numpy as np
import pytest

import zoo
from test_zoo_timm import ROOT, timm_python
from zoo import timm_rows

# (row, image height, width): crop 0.875 / 0.95 / 1.0 / 0.965 / 0.904, 224–299 px, bilinear and
# bicubic, ImageNet and Inception (0.5) normalisation, landscape and portrait images.
ROWS = (("resnet50.base", 375, 500), ("resnet50.a1_in1k", 500, 333), ("resnet50.a3_in1k", 333, 500),
        ("resnet50.tv2_in1k", 281, 375), ("inception_v3.tf_in1k", 375, 500), ("tf_efficientnet_b3.in1k", 500, 375),
        ("seresnext26d_32x4d.bt_in1k", 400, 301), ("vit_tiny_patch16_224.augreg_in21k_ft_in1k", 333, 500))
# (timm tag, image height, width): crop_pct 1.15 at 448 / 512 px; landscape (short side padded, long side
# cropped), odd portrait, very wide, and near-square (both sides padded, one by an odd count).
CROP_ABOVE_ONE_TAGS = (("volo_d4_448.sail_in1k", 375, 500), ("volo_d5_512.sail_in1k", 333, 251),
                       ("volo_d5_448.sail_in1k", 201, 637), ("volo_d4_448.sail_in1k", 300, 301))
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CROP_ABOVE_ONE_CONFIGS = (
    {"name": "squash115", "height": 37, "width": 53, "input_size": (3, 33, 33), "crop_pct": 1.15,
     "crop_mode": "squash", "interpolation": "bicubic", "mean": _MEAN, "std": _STD},
    {"name": "border115", "height": 41, "width": 29, "input_size": (3, 31, 31), "crop_pct": 1.15,
     "crop_mode": "border", "interpolation": "bilinear", "mean": _MEAN, "std": _STD})


@pytest.fixture(scope="module")
def transforms(tmp_path_factory):
  out = tmp_path_factory.mktemp("timm_transforms")
  cases = [{"name": f"row{i}", "height": h, "width": w, "pretrained": zoo.get(n).weights.location.split("/", 1)[1]}
           for i, (n, h, w) in enumerate(ROWS)]
  cases += [{"name": f"volo{i}", "height": h, "width": w, "pretrained": tag}
            for i, (tag, h, w) in enumerate(CROP_ABOVE_ONE_TAGS)]
  cases += list(CROP_ABOVE_ONE_CONFIGS)
  (out / "cases.json").write_text(json.dumps({"transforms": cases}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(ROOT / "tests" / "timm_reference.py"), str(out / "cases.json"),
                           str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-4000:]
  return out / "transforms"


@pytest.mark.parametrize("index", range(len(ROWS)), ids=[r[0] for r in ROWS])
def test_timm_row_preprocessing_matches_timms_transform(index, transforms):
  name = ROWS[index][0]
  preprocessing = zoo.get(name).preprocessing
  config = json.loads((transforms / f"row{index}_config.json").read_text())
  assert (preprocessing.resolution, preprocessing.crop_fraction, preprocessing.crop_mode) == (
      config["input_size"][1], config["crop_pct"], config["crop_mode"]), name
  assert preprocessing.interpolation == config["interpolation"], name
  np.testing.assert_allclose(preprocessing.mean, config["mean"], atol=1e-6)
  np.testing.assert_allclose(preprocessing.std, config["std"], atol=1e-6)
  image = np.load(transforms / f"row{index}_in.npy")
  expected = np.load(transforms / f"row{index}_out.npy")
  ours = np.asarray(preprocessing(preprocessing.host_resize(image)[None]))[0]
  assert ours.shape == expected.shape, name
  np.testing.assert_allclose(ours, expected, atol=1e-5, err_msg=name)


def _matches_timm(preprocessing, transforms, name: str) -> None:
  image = np.load(transforms / f"{name}_in.npy")
  expected = np.load(transforms / f"{name}_out.npy")
  ours = np.asarray(preprocessing(preprocessing.host_resize(image)[None]))[0]
  assert ours.shape == expected.shape, name
  np.testing.assert_allclose(ours, expected, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("index", range(len(CROP_ABOVE_ONE_TAGS)),
                         ids=[f"{t}-{h}x{w}" for t, h, w in CROP_ABOVE_ONE_TAGS])
def test_crop_pct_above_one_matches_timms_transform(index, transforms):
  """A timm row with crop_pct 1.15 (VOLO at 448 / 512 px): resized to ⌊size / 1.15⌋, zero-padded
  and centre-cropped exactly as timm's eval transform."""
  tag = CROP_ABOVE_ONE_TAGS[index][0]
  preprocessing = timm_rows.row_for_tag(f"timm:{tag}").preprocessing
  config = json.loads((transforms / f"volo{index}_config.json").read_text())
  assert config["crop_pct"] == preprocessing.crop_fraction == 1.15, tag
  assert (preprocessing.resolution, preprocessing.crop_mode) == (config["input_size"][1], config["crop_mode"]), tag
  _matches_timm(preprocessing, transforms, f"volo{index}")
  # the padding is there: a band of black (normalised) pixels along the short side's edges
  image = np.load(transforms / f"volo{index}_out.npy")
  black = (0 - np.asarray(config["mean"])) / np.asarray(config["std"])
  np.testing.assert_allclose(image[0, image.shape[1] // 2] if CROP_ABOVE_ONE_TAGS[index][1] <=
                             CROP_ABOVE_ONE_TAGS[index][2] else image[image.shape[0] // 2, 0], black, atol=1e-5)


@pytest.mark.parametrize("case", CROP_ABOVE_ONE_CONFIGS, ids=[c["name"] for c in CROP_ABOVE_ONE_CONFIGS])
def test_crop_pct_above_one_squash_and_border_match_timm(case, transforms):
  preprocessing = zoo.Preprocessing(resolution=case["input_size"][1], crop_fraction=case["crop_pct"],
                                    interpolation=case["interpolation"], mean=case["mean"], std=case["std"],
                                    channels=3, crop_mode=case["crop_mode"], torchvision_sizes=True)
  _matches_timm(preprocessing, transforms, case["name"])


def test_crop_fraction_above_one_needs_torchvision_sizes():
  with pytest.raises(ValueError, match="1.15 > 1.*torchvision_sizes=True"):
    zoo.Preprocessing(resolution=448, crop_fraction=1.15)
