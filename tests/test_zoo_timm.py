"""zoo.load_timm proven by numerical parity with timm's own PyTorch modules.

timm needs a torchvision that cannot import beside this venv's torch, so the reference runs
in the separate timm environment (``.venv-timm``, made by scripts/setup.sh; or the python
named by $OVERLAP_TIMM_PYTHON): one subprocess per session (tests/timm_reference.py) builds
every case with ``timm.create_model(..., pretrained=False)``, draws weights and norm
statistics away from their defaults, exports it with timm's ``save_for_hf`` and writes
timm's logits and pre-logits. Every family: reduced configs (timm keyword arguments) and a
full-size one at a small resolution; logits and embeddings must agree to 1e-4 in float32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from safetensors.numpy import load_file, save_file

import zoo
from zoo.converters import timm as timm_converter
from timm_parity import assert_close, forward, timm_python  # noqa: F401 (other test files import them from here)
import timm_parity

ROOT = Path(__file__).resolve().parents[1]


def _case(name, architecture, resolution, calibration=4, **kwargs):
  return {"name": name, "architecture": architecture, "kwargs": kwargs, "resolution": resolution, "batch": 2,
          "calibration": calibration}


# Reduced configs where timm takes the keyword, one full-size config per family (small images).
CASES = [
    _case("seresnet18_reduced", "seresnet18", 32, layers=[1, 1, 1, 1], num_classes=10),  # basic block + SE
    _case("resnet50_reduced", "resnet50", 32, layers=[1, 1, 1, 1]),  # v1.5 bottleneck, 7×7 stem
    _case("resnet26t_reduced", "resnet26t", 33, layers=[1, 1, 1, 1]),  # tiered deep stem, avg-pool down (odd)
    _case("seresnext26d_32x4d", "seresnext26d_32x4d", 64),  # full: deep stem, avg down, SE, 32 groups
    _case("legacy_seresnet50", "legacy_seresnet50", 65),  # full: Caffe v1 blocks, ceil-mode pool (odd size)
    _case("inception_v3", "inception_v3", 75, calibration=16),  # full (timm has no width/depth arguments)
    _case("densenet121_reduced", "densenet121", 32, growth_rate=8, block_config=[2, 2, 2, 2]),
    _case("densenet121", "densenet121", 32),  # full
    _case("vgg11_bn_reduced", "vgg11_bn", 32, mlp_ratio=0.0625),
    _case("vgg19_bn", "vgg19_bn", 32),  # full, ConvMlp head pooled up from 1×1 to 7×7
]
# Architectures checked by name and shape only (every tensor maps, every parameter is filled).
SHAPES = ["resnet10t", "resnet50s", "wide_resnet50_2", "legacy_seresnext26_32x4d", "vgg16"]
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TRANSFORMS = [
    {"name": "center", "height": 61, "width": 47, "input_size": (3, 32, 32), "crop_pct": 0.95, "crop_mode": "center",
     "interpolation": "bicubic", "mean": _MEAN, "std": _STD},
    {"name": "squash", "height": 50, "width": 70, "input_size": (3, 30, 30), "crop_pct": 0.875, "crop_mode": "squash",
     "interpolation": "bilinear", "mean": (0.5,) * 3, "std": (0.5,) * 3},
    {"name": "border", "height": 40, "width": 64, "input_size": (3, 36, 36), "crop_pct": 1.0, "crop_mode": "border",
     "interpolation": "bicubic", "mean": _MEAN, "std": _STD},
]


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
  """Runs tests/timm_reference.py once for every case; returns its output directory."""
  out = timm_parity.export(tmp_path_factory.mktemp("timm_reference"), CASES, SHAPES, TRANSFORMS)
  print("timm reference:", (out / "versions.json").read_text())
  yield out
  shutil.rmtree(out, ignore_errors=True)  # timm's exported checkpoints: about 1 GB


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_timm(case, reference, tmp_path):
  directory = reference / case["name"]
  model = zoo.load_timm(str(directory), cache_dir=tmp_path)
  logits, embedding = forward(model, np.load(directory / "images.npy"))
  assert_close(logits, np.load(directory / "logits.npy"), f"{case['name']} logits")
  assert_close(embedding, np.load(directory / "pre_logits.npy"), f"{case['name']} embedding")
  (entry,) = list(tmp_path.iterdir())  # the converted state is cached
  if case is CASES[0]:  # a second load restores the cache, converting nothing
    again = forward(zoo.load_timm(str(directory), cache_dir=tmp_path), np.load(directory / "images.npy"))
    np.testing.assert_array_equal(np.asarray(again[0]), np.asarray(logits))
    assert list(tmp_path.iterdir()) == [entry]


@pytest.mark.parametrize("architecture", SHAPES)
def test_architecture_names_map_every_tensor(architecture, reference):
  """Each tensor of timm's default model (names and shapes, no weights) maps onto the family's
  module and fills every parameter."""
  timm_parity.assert_every_variant_maps(reference, [architecture])


def _corrupt(reference, tmp_path, edit_tensors=None, edit_config=None) -> Path:
  directory = tmp_path / "checkpoint"
  shutil.copytree(reference / "seresnet18_reduced", directory)
  if edit_tensors:
    tensors = load_file(directory / "model.safetensors")
    edit_tensors(tensors)
    save_file(tensors, directory / "model.safetensors")
  if edit_config:
    config = json.loads((directory / "config.json").read_text())
    edit_config(config)
    (directory / "config.json").write_text(json.dumps(config))
  return directory


BAD_INPUTS = {
    "missing tensor": (lambda t: t.pop("layer1.0.conv1.weight"), None, ["stages.0.0.layers.0.conv.kernel"]),
    "extra tensor": (lambda t: t.update({"layer1.0.extra.weight": np.ones((3,), np.float32)}), None,
                     ["layer1.0.extra.weight"]),
    "mis-shaped tensor": (lambda t: t.update({"fc.weight": t["fc.weight"][:5]}), None, ["fc.weight", "(5, 512)"]),
    "unknown architecture": (None, lambda c: c.update(architecture="hrnet_w18"), ["hrnet_w18", "not supported"]),
    "unsupported argument": (None, lambda c: c["model_args"].update(stem_type="deep_narrow"), ["deep_narrow"]),
    "unsupported model_args": (None, lambda c: c["model_args"].update(aa_layer="blur"), ["aa_layer"]),
}


@pytest.mark.parametrize("what", BAD_INPUTS)
def test_bad_checkpoints_name_the_tensor_and_model(what, reference, tmp_path):
  edit_tensors, edit_config, needles = BAD_INPUTS[what]
  directory = _corrupt(reference, tmp_path, edit_tensors, edit_config)
  cache = tmp_path / "cache"
  with pytest.raises(zoo.ConversionError) as error:
    zoo.load_timm(str(directory), cache_dir=cache)
  message = str(error.value)
  for needle in [*needles, str(directory)]:
    assert needle in message, f"{what}: {needle!r} not in {message!r}"
  assert not cache.exists() or not list(cache.iterdir()), "a failed conversion left a cache entry"


def test_preprocessing_from_pretrained_cfg(reference):
  directory = reference / "seresnext26d_32x4d"
  cfg = json.loads((directory / "config.json").read_text())["pretrained_cfg"]
  preprocessing = zoo.timm_preprocessing(str(directory))
  assert preprocessing.resolution == cfg["input_size"][1] and preprocessing.channels == cfg["input_size"][0]
  assert preprocessing.crop_fraction == cfg["crop_pct"] and preprocessing.crop_mode == cfg["crop_mode"]
  assert preprocessing.interpolation == cfg["interpolation"]
  assert preprocessing.mean == tuple(cfg["mean"]) and preprocessing.std == tuple(cfg["std"])


@pytest.mark.parametrize("case", TRANSFORMS, ids=[t["name"] for t in TRANSFORMS])
def test_preprocessing_matches_timm_transforms(case, reference):
  """Host resize (PIL, as timm's torchvision transforms) + normalisation vs timm's eval transform."""
  preprocessing = zoo.Preprocessing(resolution=case["input_size"][1], crop_fraction=case["crop_pct"],
                                    interpolation=case["interpolation"], mean=case["mean"], std=case["std"],
                                    channels=3, crop_mode=case["crop_mode"], torchvision_sizes=True)
  image = np.load(reference / "transforms" / f"{case['name']}_in.npy")
  ours = np.asarray(preprocessing(preprocessing.host_resize(image)[None]))[0]
  expected = np.load(reference / "transforms" / f"{case['name']}_out.npy")
  assert ours.shape == expected.shape
  np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_zoo_rows_load_timm_weights(reference, tmp_path):
  """A row with WeightSource("timm", …) loads through zoo.load; build_timm gives its shapes."""
  directory = reference / "seresnet18_reduced"
  entry = zoo.ModelEntry(
      name="test.timm_seresnet18", builder=lambda rngs: timm_converter.build_timm(
          "seresnet18", num_classes=10, layers=[1, 1, 1, 1]), weights=zoo.WeightSource("timm", str(directory)),
      preprocessing=zoo.timm_preprocessing(str(directory)), num_classes=10, objective="supervised",
      pretraining_data="none", architecture="seresnet18")
  loaded = zoo.load(entry, tmp_path, convert_cache=tmp_path / "converted")
  assert any((tmp_path / "converted").iterdir())   # the converted state is cached where it was told
  built = zoo.build(entry)
  assert jax.tree.map(np.shape, nnx.to_pure_dict(nnx.state(loaded))) == jax.tree.map(
      np.shape, nnx.to_pure_dict(nnx.state(built)))
  logits, _ = forward(loaded, np.load(directory / "images.npy"))
  assert_close(logits, np.load(directory / "logits.npy"), "zoo.load seresnet18_reduced logits")


def test_missing_timm_environment_fails_with_the_fix(monkeypatch, tmp_path):
  monkeypatch.setenv("OVERLAP_TIMM_PYTHON", str(tmp_path / "absent" / "python"))
  with pytest.raises(pytest.fail.Exception, match="scripts/setup.sh"):
    timm_python()
