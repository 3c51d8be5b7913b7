"""Paper-catalog rows loaded through the real huggingface_hub client from the stand-in Hub
(tests/hub_server.py) serving their recorded layouts (tests/hub_layouts): each row downloads
at its revision, is recorded in a weights lock, builds its head (classifier, zero-shot with
its own tokenizer, or a linear probe) and gives logits of the right shape on one batch.

Weights are random, with the tensor names and shapes of the reference implementation built
from the layout's config (timm's models on the meta device in .venv-timm, transformers'
classes, OpenAI's CLIP layout from transformers' CLIP): the converter must map every one.
This file runs two rows (``FAST_ROWS``); tests/test_hub_rows_all.py runs every row with a
layout (full-size checkpoints: tens of minutes; only with OVERLAP_HUB_ALL_ROWS=1).
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest

import zoo
from hub_server import LAYOUTS, LocalHub, layout_texts
from launch import weights_lock

ROOT = LAYOUTS.parent.parent
# One row per Hub kind and head that fits the suite's budget: a timm classifier and a transformers
# linear probe (about 25 s each here). The zero-shot rows are full-size CLIPs (~90 s each: in
# test_hub_rows_all.py); the small CLIP of test_hub_loading.py covers the zero-shot path.
FAST_ROWS = ("deit_tiny.in1k", "dinov2_vits14.lvd142m")
CLASS_NAMES = ("cat", "dog", "car")


def layouts_by_row() -> dict[str, dict]:
  """Row name → its repo's recorded layout, for paper rows whose layout is recorded."""
  rows = {}
  for path in sorted(LAYOUTS.glob("*.json")) if LAYOUTS.is_dir() else ():
    layout = json.loads(path.read_text())
    for name in layout.get("rows") or ():
      if name in zoo.list_models(catalog="paper"):
        rows[name] = layout
  return rows


def _random_safetensors(shapes: dict[str, tuple[int, ...]], path, seed: int = 0) -> None:
  """Random float32 tensors of ``shapes``: N(0, 0.02), running variances in [0.5, 1.5] (every
  norm divides by a positive variance)."""
  from safetensors.numpy import save_file
  rng = np.random.default_rng(seed)
  tensors = {}
  for name, shape in shapes.items():
    if name.endswith("num_batches_tracked"):
      tensors[name] = np.zeros(shape, np.int64)
    elif name.endswith("running_var"):
      tensors[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    else:
      tensors[name] = np.asarray(0.02 * rng.standard_normal(shape, dtype=np.float32), np.float32)
  save_file(tensors, str(path))


def timm_shapes(architectures: list[str], out) -> dict[str, dict[str, tuple[int, ...]]]:
  """State-dict shapes of timm's default models (tests/timm_reference.py in .venv-timm)."""
  from test_zoo_timm import timm_python
  cases = out / "cases.json"
  cases.write_text(json.dumps({"models": [], "shapes": sorted(set(architectures)), "transforms": []}))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([timm_python(), str(ROOT / "tests" / "timm_reference.py"), str(cases), str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
  if result.returncode != 0:
    pytest.fail(f"tests/timm_reference.py failed ({result.returncode}):\n{result.stderr[-4000:]}")
  return {arch: {n: tuple(s) for n, s in shapes.items()}
          for arch, shapes in json.loads((out / "shapes.json").read_text()).items()}


def transformers_shapes(config: dict) -> dict[str, tuple[int, ...]]:
  """Tensor names and shapes ``save_pretrained`` writes for transformers' class
  ``architectures[0]`` built from ``config`` on the meta device (no memory): its state dict
  without tied weights, renamed back to the published format (transformers 5 renames some
  tensors on load, e.g. DINOv2's attention, and reverts that on save)."""
  import torch
  import transformers as T
  from transformers.modeling_utils import remove_tied_weights_from_state_dict, revert_weight_conversion
  model_config = T.AutoConfig.for_model(**config)
  with torch.device("meta"):
    model = getattr(T, config["architectures"][0])(model_config)
  state = revert_weight_conversion(model, remove_tied_weights_from_state_dict(model.state_dict(), model))
  return {name: tuple(tensor.shape) for name, tensor in state.items()}


def open_clip_shapes(open_clip_config: dict) -> dict[str, tuple[int, ...]]:
  """OpenAI-layout CLIP shapes for an open_clip model config: transformers' CLIP of the same
  sizes on the meta device, renamed by tests/test_zoo_converters.transformers_clip_to_openai."""
  import torch
  import transformers as T
  from test_zoo_converters import transformers_clip_to_openai
  model = open_clip_config["model_cfg"]
  vision, text = model["vision_cfg"], model["text_cfg"]
  config = T.CLIPConfig(
      vision_config=dict(hidden_size=vision["width"], num_hidden_layers=vision["layers"],
                         num_attention_heads=vision["width"] // 64, intermediate_size=4 * vision["width"],
                         image_size=vision["image_size"], patch_size=vision["patch_size"]),
      text_config=dict(hidden_size=text["width"], num_hidden_layers=text["layers"], num_attention_heads=text["heads"],
                       intermediate_size=4 * text["width"], vocab_size=text["vocab_size"],
                       max_position_embeddings=text["context_length"]),
      projection_dim=model["embed_dim"])
  with torch.device("meta"):
    state = {k: v for k, v in T.CLIPModel(config).state_dict().items() if not k.endswith("position_ids")}
  return {name: tuple(tensor.shape) for name, tensor in transformers_clip_to_openai(state).items()}


def clip_tokenizer_files(directory, vocab_size: int) -> dict[str, object]:
  """CLIP's vocab.json / merges.txt layout with ``vocab_size`` entries (a toy BPE vocabulary
  padded with unused entries before the two specials, which end the vocabulary as CLIP's do)."""
  from test_zoo_parity import toy_clip_vocabulary
  toy_clip_vocabulary(directory, [f"a photo of a {name}." for name in CLASS_NAMES])
  vocab = json.loads((directory / "vocab.json").read_text())
  specials = ["<|startoftext|>", "<|endoftext|>"]
  words = [w for w, _ in sorted(vocab.items(), key=lambda item: item[1]) if w not in specials]
  words += [f"unused{i}</w>" for i in range(vocab_size - len(words) - 2)] + specials
  (directory / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words)}))
  return {"vocab.json": directory / "vocab.json", "merges.txt": directory / "merges.txt"}


def make_repo(entry, layout: dict, directory, timm_reference) -> dict[str, object]:
  """The files a row's converter reads, made from the layout's config by the reference."""
  texts = layout.get("texts") or {}
  kind = entry.weights.kind
  directory.mkdir(parents=True, exist_ok=True)
  if kind == "timm":
    config = texts["config.json"]
    shapes = dict(timm_reference([config["architecture"]])[config["architecture"]])
    if config.get("num_classes", 1000) == 0:  # headless export: timm's reset_classifier(0) drops the classifier
      classifier = (config.get("pretrained_cfg") or {}).get("classifier", "head")
      shapes = {n: s for n, s in shapes.items() if not n.startswith(f"{classifier}.")}
    name = "model.safetensors"
  elif kind == "huggingface":
    if "config.json" not in texts:
      pytest.skip(f"the layout of {layout['repo']} records no config.json (tests/hub_layouts/README.md)")
    shapes, name = transformers_shapes(texts["config.json"]), "model.safetensors"
  elif kind == "openai_clip":
    if "open_clip_config.json" not in texts:
      pytest.skip(f"the layout of {layout['repo']} records no open_clip_config.json")
    if isinstance(texts["open_clip_config.json"]["model_cfg"]["vision_cfg"].get("layers"), list):
      pytest.skip(f"{layout['repo']}: CLIP's modified ResNet has no reference implementation in this environment")
    shapes, name = open_clip_shapes(texts["open_clip_config.json"]), "open_clip_model.safetensors"
  else:
    pytest.skip(f"weight kind {kind!r} is not served by the Hub")
  _random_safetensors(shapes, directory / name)
  files = {name: directory / name}
  if entry.head == "zero-shot" and "vocab.json" in (layout.get("files") or ()):
    vocab_size = (texts.get("open_clip_config.json") or {}).get("model_cfg", {}).get("text_cfg", {}).get(
        "vocab_size") or (texts.get("config.json") or {}).get("text_config", {}).get("vocab_size", 49408)
    files.update(clip_tokenizer_files(directory, vocab_size))
  return files


@pytest.fixture(scope="module")
def timm_reference(tmp_path_factory):
  """architectures → shapes, one .venv-timm subprocess for every timm row this module needs."""
  cache: dict[str, dict] = {}
  out = tmp_path_factory.mktemp("timm_shapes")

  def shapes(architectures):
    missing = [a for a in architectures if a not in cache]
    if missing:
      cache.update(timm_shapes(missing, out))
    return cache
  return shapes


def head_logits(entry, model, images, hub_cache):
  """The row's class scores on ``images`` through its head: classifier, zero-shot (its own
  tokenizer, the catalog's class names reduced to three) or a linear probe (random weights)."""
  if entry.head == "zero-shot":
    tokenizer = zoo.load_tokenizer(entry.weights.location, revision=entry.weights.revision, hub_cache=hub_cache)
    classifier = zoo.zero_shot_classifier(model, tokenizer, list(CLASS_NAMES), ("a photo of a {}.",))
    return np.asarray(classifier(images)[0]), len(CLASS_NAMES)
  if entry.head == "linear-probe":
    from zoo.architectures.linear_probe import LinearProbeHead
    features = model(images)[1].shape[-1]
    head = LinearProbeHead(model, np.random.default_rng(0).standard_normal((features, 1000)) * 0.01, np.zeros(1000))
    return np.asarray(head(images)[0]), 1000
  return np.asarray(model(images)[0]), entry.num_classes


def check_row_loads(name: str, layout: dict, tmp_path, timm_reference, monkeypatch) -> None:
  """Serves the row's repo, loads the row through zoo.load (lock recorded, then verified) and
  checks its head's logits."""
  entry = zoo.get(name)
  made = make_repo(entry, layout, tmp_path / "made", timm_reference)
  with LocalHub() as hub, hub.client():
    commit = hub.add_layout(layout, made)
    hub_cache, lock = tmp_path / "hub", tmp_path / weights_lock.LOCK_NAME
    locked = weights_lock.check(lock, entry, tmp_path, hub_cache=hub_cache)
    assert locked.commit == commit and set(locked.files) == {n for n in made if n.endswith(".safetensors")}
    model = zoo.load(entry, tmp_path, revision=locked.commit, hub_cache=hub_cache,
                     convert_cache=tmp_path / "overlap" / "converted")
    assert weights_lock.check(lock, entry, tmp_path, hub_cache=hub_cache) == locked
    weights_read = {n for n in hub.downloads(layout["repo"]) if n.endswith(".safetensors")}
    assert weights_read == set(locked.files), f"{name}: downloaded {weights_read}"
    size = entry.preprocessing.resolution
    images = np.random.default_rng(1).standard_normal((2, size, size, 3)).astype(np.float32)
    logits, classes = head_logits(entry, model, images, hub_cache)
  assert logits.shape == (2, classes) and np.isfinite(logits).all(), (name, logits.shape)


@pytest.mark.parametrize("name", FAST_ROWS)
def test_row_loads_from_the_stand_in_hub(name, tmp_path, timm_reference, monkeypatch):
  layouts = layouts_by_row()
  if name not in layouts:
    pytest.skip(f"no recorded layout for {name} in tests/hub_layouts")
  check_row_loads(name, layouts[name], tmp_path, timm_reference, monkeypatch)
