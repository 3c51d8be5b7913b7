"""Parity of zoo.load_timm with timm's own PyTorch modules for the families of
zoo.converters.timm_efficientnets: EfficientNetV2 (``tf_efficientnetv2_*`` with TF "SAME"
padding and BN ε 1e-3; ``efficientnetv2_rw_*`` with PyTorch padding; conv "cn" and fused-MBConv
"er" blocks, SE inverted residuals), EfficientNet-EdgeTPU, EfficientNet-Lite and MobileNetV3
(hard-swish, hard-sigmoid SE, the head conv after pooling), MnasNet / SemNASNet / SPNASNet /
FBNet-C, TinyNet, MixNet and PP-LCNet, every variant decoded from timm's arch strings.

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every batch-norm statistic moved from its default, exported with timm's
``save_for_hf``). Each case is a smallest variant at full width and depth on a 32-px image;
logits and pre-logits must agree to 1e-4 relative to the reference's largest magnitude (and
the harness's absolute tolerance). Every variant of the tables is checked tensor by tensor
(name and shape) against the state dict of timm's model, built on the meta device.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest
from flax import nnx

import zoo
from zoo.architectures.efficientnet import decode_stage
from zoo.converters import timm as timm_converter
from zoo.converters import timm_efficientnets
from zoo.converters.mapping import ConversionError, _target_key, _to_layout, flatten
from test_zoo_timm import assert_close, forward, timm_python  # the timm parity harness's helpers

REPO = pathlib.Path(__file__).resolve().parents[1]

CASES = [
    # EfficientNetV2-B0, TF port: SAME padding, ε 1e-3, round_limit 0 channels, cn block with skip
    dict(name="tf_efficientnetv2_b0", architecture="tf_efficientnetv2_b0", kwargs=dict(num_classes=5)),
    # EfficientNetV2-T (rw): PyTorch padding, width 0.8 / depth 0.9 scaling, scaled head
    dict(name="efficientnetv2_rw_t", architecture="efficientnetv2_rw_t", kwargs=dict(num_classes=5)),
    # EfficientNet-EdgeTPU-S: ReLU, "er" blocks with a forced expansion input (fc24) and noskip
    dict(name="efficientnet_es", architecture="efficientnet_es", kwargs=dict(num_classes=5)),
    # EfficientNet-Lite0, TF port: ReLU6, no SE, fixed stem and head
    dict(name="tf_efficientnet_lite0", architecture="tf_efficientnet_lite0", kwargs=dict(num_classes=5)),
    # MobileNetV3-Small at width 0.5: hard-swish, ReLU ("nre") stages, hard-sigmoid SE, several rows per
    # stage, unscaled stem, head conv after pooling
    dict(name="mobilenetv3_small_050", architecture="mobilenetv3_small_050", kwargs=dict(num_classes=5)),
    # MobileNetV3-Large-Minimal, TF port: ReLU throughout, no SE, SAME padding
    dict(name="tf_mobilenetv3_large_minimal_100", architecture="tf_mobilenetv3_large_minimal_100",
         kwargs=dict(num_classes=5)),
    # MnasNet-Small: ReLU, stem 8, SE on ReLU inverted residuals
    dict(name="mnasnet_small", architecture="mnasnet_small", kwargs=dict(num_classes=5)),
    # TinyNet-E: EfficientNet-B0 stages at width 0.51, "round" depth 0.6, fixed stem, head ≥ 1280
    dict(name="tinynet_e", architecture="tinynet_e", kwargs=dict(num_classes=5)),
    # MixNet-S, TF port: mixed depthwise kernels (3…11, SAME per split), grouped 1×1 convs, swish stages
    dict(name="tf_mixnet_s", architecture="tf_mixnet_s", kwargs=dict(num_classes=5)),
    # PP-LCNet at width 0.5: "dsa" blocks (act after the 1×1, no skip), ReLU/hard-sigmoid SE, pooled head
    dict(name="lcnet_050", architecture="lcnet_050", kwargs=dict(num_classes=5)),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
  case.setdefault("calibration", 8)  # batch-norm statistics over a few more images
SHAPES = [dict(name=name, architecture=name, kwargs=dict(num_classes=1000))
          for name in timm_efficientnets.VARIANTS]
RELATIVE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def timm_exports(tmp_path_factory):
  """timm's exports and outputs for CASES, state-dict shapes for SHAPES (one reference process)."""
  out = tmp_path_factory.mktemp("timm_efficientnets")
  (out / "cases.json").write_text(json.dumps({"models": CASES, "shapes": SHAPES}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(REPO / "tests" / "timm_reference.py"), str(out / "cases.json"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}"
  yield out
  shutil.rmtree(out, ignore_errors=True)


def assert_relative(ours, reference, what):
  """max |ours − timm| ≤ 1e-4 · max |timm| (float32)."""
  ours, reference = np.asarray(ours), np.asarray(reference)
  error = float(np.abs(ours - reference).max() / np.abs(reference).max())
  print(f"parity {what}: max relative error {error:.2e}")
  assert error <= RELATIVE_TOLERANCE, f"{what}: max relative error {error:.2e}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_efficientnets_match_timm(case, timm_exports, tmp_path):
  directory = timm_exports / case["name"]
  model = zoo.load_timm(str(directory), cache_dir=tmp_path)
  logits, embedding = forward(model, np.load(directory / "images.npy"))
  for ours, file, what in ((logits, "logits.npy", "logits"), (embedding, "pre_logits.npy", "embedding")):
    reference = np.load(directory / file)
    assert_close(ours, reference, f"{case['name']} {what}")
    assert_relative(ours, reference, f"{case['name']} {what}")


def _abstract_tensors(architecture: str, kwargs: dict) -> dict[str, tuple[int, ...]]:
  family = timm_converter.family_of(architecture)
  model = zoo.abstract.eval_shape(lambda: family.build(architecture, {"architecture": architecture,
                                                                      "model_args": kwargs}))
  return {name: tuple(leaf.shape) for name, leaf in flatten(nnx.to_pure_dict(nnx.state(model))).items()}


def test_every_variant_maps_timm_state_dict(timm_exports):
  """Every tensor of timm's model of each variant (name and shape on the meta device, no
  weights) maps onto a parameter of the variant's abstract nnx module (eval_shape, no FLOPs) with
  that shape after the layout change, and every parameter gets one."""
  shapes = json.loads((timm_exports / "shapes.json").read_text())
  failures = []
  for entry in SHAPES:
    architecture = entry["architecture"]
    targets = _abstract_tensors(architecture, entry["kwargs"])
    family = timm_converter.family_of(architecture)
    filled = set()
    for name, shape in shapes[entry["name"]].items():
      if any(re.search(p, name) for p in (r"num_batches_tracked$",) + family.ignore):
        continue
      key = _target_key(name, family.renames, targets)
      converted = _to_layout(np.broadcast_to(np.float32(0), shape), key, targets.get(key, ()), "torch")
      if key not in targets or converted.shape != targets[key]:
        failures.append(f"{architecture}: {name} {shape} -> {key} {targets.get(key)}")
      filled.add(key)
    failures += [f"{architecture}: {key} has no timm tensor" for key in sorted(set(targets) - filled)]
  assert not failures, "\n".join(failures[:20])


@pytest.mark.parametrize("architecture, model_args, message", [
    ("tf_efficientnetv2_b0", {"global_pool": "max"}, "global_pool 'max'"),
    ("tf_efficientnetv2_b0", {"pad_type": "valid"}, "pad_type 'valid'"),
    ("efficientnetv2_rw_t", {"act_layer": "relu"}, r"\['act_layer'\]"),
    ("efficientnetv2_rw_t", {"channel_multiplier": 2.0}, r"\['channel_multiplier'\]"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)


@pytest.mark.parametrize("text, message", [
    ("uir_r1_k3_s1_e4_c32", "block type 'uir'"),
    ("ir_r1_k3_s1_e4_c32_gs8", "option 'gs8'"),
    ("ir_r1_k3_s1.5_e4_c32", "option 's1.5'"),
    ("ir_r1_k3_s1_e4_c32_a1.3", "option 'a1.3'"),
    ("er_r1_k3_s2_e4", "no output channels"),
])
def test_arch_string_decoder_rejects_unsupported_options(text, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    decode_stage(text)


def test_arch_string_decoder_reads_timm_notation():
  row = decode_stage("ir_r15_k3_s2_e6_c272_se0.25")
  assert (row.kind, row.repeats, row.kernel_size, row.stride, row.expansion, row.channels, row.se_ratio, row.skip) == (
      "ir", 15, 3, 2, 6.0, 272, 0.25, None)
  assert decode_stage("cn_r2_k3_s1_e1_c24_skip").skip is True
  assert decode_stage("ds_r1_k3_s1_c16_noskip").skip is False
  assert decode_stage("er_r1_k3_s1_e4_c24_fc24_noskip").force_in == 24
  assert decode_stage("ir_r1_k3_s2_e4.5_c24_nre").act == "relu"
  mixed = decode_stage("ir_r2_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw")
  assert (mixed.kernel_size, mixed.expand_groups, mixed.project_groups, mixed.act) == ((3, 5, 7, 9), 2, 2, "swish")
