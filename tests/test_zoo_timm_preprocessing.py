"""The paper catalog's timm rows: their preprocessing against timm's own evaluation transform of
the checkpoint's registered pretrained config at its test size (``timm.models.get_pretrained_cfg(tag)`` →
``resolve_data_config`` → ``create_transform``, in the separate timm environment through
tests/timm_reference.py), on random images of ImageNet-like sizes and aspect ratios.

Both sides resize the same uint8 image with PIL at the same sizes and offsets (torchvision's
rules: ``torchvision_sizes``), so they agree up to float32 rounding of the normalisation: we
allow 1e-5. Rows cover every crop_pct, resolution, interpolation and normalisation kind the
catalog's timm rows use.
"""

import json
import os
import subprocess

import numpy as np
import pytest

import zoo
from test_zoo_timm import ROOT, timm_python

# (row, image height, width): crop 0.875 / 0.95 / 1.0 / 0.965 / 0.904, 224–299 px, bilinear and
# bicubic, ImageNet and Inception (0.5) normalisation, landscape and portrait images.
ROWS = (("resnet50.base", 375, 500), ("resnet50.a1_in1k", 500, 333), ("resnet50.a3_in1k", 333, 500),
        ("resnet50.tv2_in1k", 281, 375), ("inception_v3.tf_in1k", 375, 500), ("tf_efficientnet_b3.in1k", 500, 375),
        ("seresnext26d_32x4d.bt_in1k", 400, 301), ("vit_tiny_patch16_224.augreg_in21k_ft_in1k", 333, 500))


@pytest.fixture(scope="module")
def transforms(tmp_path_factory):
  out = tmp_path_factory.mktemp("timm_transforms")
  cases = [{"name": f"row{i}", "height": h, "width": w, "pretrained": zoo.get(n).weights.location.split("/", 1)[1]}
           for i, (n, h, w) in enumerate(ROWS)]
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
