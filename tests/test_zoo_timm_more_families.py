"""Parity of zoo.load_timm with timm's own PyTorch modules for the families of
zoo.converters.timm_more: XCiT (conv patch embedding with batch norm, Fourier positions,
cross-covariance attention with a temperature per head, local patch interaction with batch
norm, class-attention blocks with and without ``tokens_norm``, layer scales) and ResMLP (Affine
"norms", token-mixing Linear, layer scales) and LeViT (Linear + batch-norm projections, attention
biases, subsampling attention, two averaged heads; linear and conv layouts).

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every norm and batch-norm statistic moved from its default, exported with timm's
``save_for_hf``). Each case is a variant's own architecture with reduced width / depth / image
size (timm's keyword arguments, which the converter honours); logits and pre-logits must agree
to 1e-4 in float32. Every architecture of the variant tables is checked tensor by tensor (name
and shape) against the state dict of timm's model, built on the meta device.
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
from zoo.converters import timm as timm_converter
from zoo.converters import timm_more
from zoo.converters.mapping import ConversionError, _target_key, _to_layout, flatten
from test_zoo_timm import assert_close, forward, timm_python  # the timm parity harness's helpers

REPO = pathlib.Path(__file__).resolve().parents[1]

CASES = [
    # XCiT-nano (no tokens_norm) at 16-px patches: 4 conv+BN stem, 2×2 tokens at 32 px
    dict(name="xcit_nano_p16", architecture="xcit_nano_12_p16_224",
         kwargs=dict(embed_dim=32, depth=2, num_heads=4, num_classes=5)),
    # XCiT-tiny (tokens_norm) at 8-px patches, mean patch-token pooling: 3 conv+BN stem, 4×4 tokens
    dict(name="xcit_tiny_p8_avg", architecture="xcit_tiny_12_p8_224",
         kwargs=dict(embed_dim=32, depth=2, num_heads=4, num_classes=5, global_pool="avg")),
    # ResMLP-12 at full width and depth (timm's resmlp entry points fix them): 4 tokens at 32 px
    dict(name="resmlp_12", architecture="resmlp_12_224", kwargs=dict(img_size=32, num_classes=5)),
    # LeViT-128S at 64 px: token grids 4×4 → 2×2 → 1×1 (subsampling attention twice, asymmetric biases)
    dict(name="levit_128s", architecture="levit_128s", resolution=64,
         kwargs=dict(img_size=64, depth=(1, 1, 1), num_classes=5)),
    # the conv layout (1×1 ConvNorm weights) of the same network
    dict(name="levit_conv_128s", architecture="levit_conv_128s", resolution=64,
         kwargs=dict(img_size=64, depth=(1, 1, 1), num_classes=5)),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
  case.setdefault("calibration", 8)  # batch-norm statistics over a few more images
FAMILY_TABLES = {"xcit": timm_more.XCIT_VARIANTS, "resmlp": timm_more.RESMLP_VARIANTS,
                 "levit": timm_more.LEVIT_VARIANTS}
# Every variant with one block where timm allows it (the names, widths, heads and stems of the table at a fraction of the cost)
SHALLOW = {"xcit": dict(depth=1), "resmlp": {}, "levit": dict(depth=(1, 1, 1))}  # timm's resmlp entry points take no depth override
SHAPES = [dict(name=name, architecture=name, kwargs=dict(SHALLOW[family], num_classes=1000))
          for family, table in FAMILY_TABLES.items() for name in table]


@pytest.fixture(scope="module")
def timm_exports(tmp_path_factory):
  """timm's exports and outputs for CASES, state-dict shapes for SHAPES (one reference process)."""
  out = tmp_path_factory.mktemp("timm_more")
  (out / "cases.json").write_text(json.dumps({"models": CASES, "shapes": SHAPES}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(REPO / "tests" / "timm_reference.py"), str(out / "cases.json"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}"
  yield out
  shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_more_families_match_timm(case, timm_exports, tmp_path):
  directory = timm_exports / case["name"]
  model = zoo.load_timm(str(directory), cache_dir=tmp_path)
  logits, embedding = forward(model, np.load(directory / "images.npy"))
  assert_close(logits, np.load(directory / "logits.npy"), f"{case['name']} logits")
  assert_close(embedding, np.load(directory / "pre_logits.npy"), f"{case['name']} embedding")


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
    ("xcit_nano_12_p16_224", {"global_pool": "max"}, "global_pool 'max'"),
    ("xcit_nano_12_p16_224", {"patch_size": 4}, "patch_size 4"),
    ("xcit_nano_12_p16_224", {"act_layer": "silu"}, "act_layer='silu'"),
    ("xcit_nano_12_p16_224", {"layer_norm": True}, r"\['layer_norm'\]"),
    ("resmlp_12_224", {"stem_norm": True}, "stem_norm=True"),
    ("resmlp_12_224", {"global_pool": "token"}, "global_pool 'token'"),
    ("levit_128s", {"stem_type": "s8"}, "stem_type='s8'"),
    ("levit_128s", {"down_op": "pool"}, "down_op='pool'"),
])
def test_rejects_unsupported_arguments(architecture, model_args, message):
  config = {"architecture": architecture, "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"{architecture}.*{message}"):
    timm_converter.family_of(architecture).build(architecture, config)
