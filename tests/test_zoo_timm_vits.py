"""Parity of zoo.load_timm with timm's own PyTorch modules for the transformer families of
zoo.converters.timm_vits: timm's VisionTransformer in its variants (CLIP pre-norm towers with
exact and quick GELU, register / GAP models with positions on the patches only or on every
token, ``fc_norm`` after the pool or the final norm before it, layer scale, no class token,
SigLIP's MAP head, bias-free qkv, FlexiViT, EVA-L, DeiT III).

timm runs in its own environment (``.venv-timm``) through tests/timm_reference.py (random
weights, every norm moved from its default, exported with timm's ``save_for_hf``). Each case is
a variant's own architecture with reduced width / depth / image size (timm's keyword
arguments, which the converter honours); logits and pre-logits must agree to 1e-4 in float32.
Every architecture of the variant tables is checked tensor by tensor (name and shape) against
the state dict of timm's default model, built on the meta device.
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
from zoo.converters import timm_vits
from zoo.converters.mapping import ConversionError, _target_key, _to_layout, flatten
from test_zoo_timm import assert_close, forward, timm_python  # the timm parity harness's helpers

REPO = pathlib.Path(__file__).resolve().parents[1]

_TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
CASES = [
    # ViT families, each its own architecture shrunk by timm's keyword arguments
    dict(name="clip", architecture="vit_base_patch16_clip_224", kwargs=_TINY),  # pre-norm, no patch bias, ε 1e-5
    dict(name="clip_quickgelu", architecture="vit_base_patch16_clip_quickgelu_224", kwargs=_TINY),
    dict(name="reg4_gap", architecture="vit_betwixt_patch16_reg4_gap_256", kwargs=_TINY),  # no_embed_class, fc_norm
    dict(name="so150m_reg4", architecture="vit_so150m_patch16_reg4_gap_256", kwargs=_TINY),  # registers positioned
    dict(name="so150m2_reg1", architecture="vit_so150m2_patch16_reg1_gap_256", kwargs=_TINY),  # bias-free qkv
    dict(name="medium_gap", architecture="vit_medium_patch16_gap_256", kwargs=_TINY),  # no class token, no registers
    dict(name="siglip_map", architecture="vit_so400m_patch14_siglip_378", kwargs=_TINY),  # attention pooling
    dict(name="siglip_gap_tanh", architecture="vit_base_patch16_siglip_gap_224", kwargs=_TINY),  # tanh GELU
    dict(name="flexivit", architecture="flexivit_small", kwargs=_TINY),
    dict(name="eva_large", architecture="eva_large_patch14_196", kwargs=_TINY),  # class token + mean pool, fc_norm
    dict(name="deit3_reduced", architecture="deit3_small_patch16_224", kwargs=_TINY),
    dict(name="deit3_small", architecture="deit3_small_patch16_224", kwargs=dict(img_size=32)),  # full width/depth
    dict(name="beit3", architecture="beit3_base_patch16_224", kwargs=_TINY),  # inner norms in attention and MLP
    dict(name="res_post", architecture="vit_base_patch16_rpn_224", kwargs=_TINY),  # norms after the branches
    # BEiT: relative position bias per block, q/v biases, layer scale, mean pooling + fc_norm
    dict(name="beit", architecture="beit_base_patch16_224", kwargs=_TINY),
    # BEiT v2 with one shared relative bias table, absolute positions and class-token pooling
    dict(name="beitv2_shared_token", architecture="beitv2_base_patch16_224",
         kwargs=dict(_TINY, use_rel_pos_bias=False, use_shared_rel_pos_bias=True, use_abs_pos_emb=True,
                     global_pool="token")),
    dict(name="eva_giant", architecture="eva_giant_patch14_224", kwargs=_TINY),  # absolute positions, no layer scale
    # Swin: stage maps 16, 8, 4, 2 at 64 px with 2×2 windows (a shifted block in stage 2)
    dict(name="swin", architecture="swin_tiny_patch4_window7_224", resolution=64,
         kwargs=dict(img_size=64, window_size=2, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    dict(name="swin_s3", architecture="swin_s3_tiny_224", resolution=64,  # a window per stage
         kwargs=dict(img_size=64, window_size=[4, 4, 2, 2], embed_dim=16, depths=[2, 1, 1, 1],
                     num_heads=[1, 2, 2, 4], num_classes=5)),
    # Swin V2: stage maps 16, 8, 4, 2 with 4×4 windows: the last stage's window shrinks to its map (timm's rule)
    dict(name="swinv2", architecture="swinv2_tiny_window8_256", resolution=64,
         kwargs=dict(img_size=64, window_size=4, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    # Swin V2 fine-tuned from smaller windows: bias coordinates scaled by the pretrained windows (12, 12, 12, 6)
    dict(name="swinv2_pretrained_windows", architecture="swinv2_base_window12to16_192to256", resolution=64,
         kwargs=dict(img_size=64, window_size=4, embed_dim=16, depths=[1, 2, 1, 1], num_heads=[1, 2, 2, 4],
                     num_classes=5)),
    # CaiT: talking-heads self-attention blocks, then class-attention blocks (one query: the class token)
    dict(name="cait", architecture="cait_xxs24_224", kwargs=_TINY),
]
for case in CASES:
  case.setdefault("resolution", 32)
  case.setdefault("batch", 2)
FAMILY_TABLES = {"vit": timm_vits.VIT_VARIANTS, "beit": {**timm_vits.BEIT_VARIANTS, **timm_vits.EVA_VARIANTS},
                 "swin": {**timm_vits.SWIN_VARIANTS, **timm_vits.SWINV2_VARIANTS}, "cait": timm_vits.CAIT_VARIANTS}
# Every variant with one block per stage (the names, widths, heads, tokens and heads of the
# table, at a fraction of the cost of the full depth).
SHALLOW = {"vit": dict(depth=1), "beit": dict(depth=1), "swin": dict(depths=[1, 1, 1, 1]),
           "cait": dict(depth=1)}
SHAPES = [dict(name=name, architecture=name, kwargs=dict(SHALLOW[family], num_classes=1000))
          for family, table in FAMILY_TABLES.items() for name in table]


@pytest.fixture(scope="module")
def timm_exports(tmp_path_factory):
  """timm's exports and outputs for CASES, state-dict shapes for SHAPES (one reference process)."""
  out = tmp_path_factory.mktemp("timm_vits")
  (out / "cases.json").write_text(json.dumps({"models": CASES, "shapes": SHAPES}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(REPO / "tests" / "timm_reference.py"), str(out / "cases.json"), str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}"
  yield out
  shutil.rmtree(out, ignore_errors=True)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_transformer_families_match_timm(case, timm_exports, tmp_path):
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
  that shape after the layout change, and every parameter gets one (what
  zoo.converters.mapping.load_into checks, without materialising the weights)."""
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


@pytest.mark.parametrize("model_args, message", [
    ({"dynamic_img_size": True}, "dynamic_img_size"),
    ({"global_pool": "avgmax"}, "global_pool 'avgmax'"),
    ({"act_layer": "silu"}, "act_layer 'silu'"),
    ({"block_fn": "ParallelScalingBlock"}, "block_fn"),
])
def test_vit_rejects_unsupported_arguments(model_args, message):
  config = {"architecture": "vit_tiny_patch16_224", "num_classes": 5, "model_args": model_args}
  with pytest.raises(ConversionError, match=rf"vit_tiny_patch16_224.*{message}"):
    timm_converter.family_of("vit_tiny_patch16_224").build("vit_tiny_patch16_224", config)
