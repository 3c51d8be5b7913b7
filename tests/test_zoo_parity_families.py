"""Issue 12's transformers families against the transformers PyTorch models.

ConvNeXt V1/V2, DINOv2 (± registers, SwiGLU), BEiT, data2vec-vision, Swin, the ViT-MAE
encoder and RegNet X/Y: a randomly initialised transformers model (a small config and
one full-size config per family) with norms, layer scales, tokens, position tables and
running statistics perturbed away from their initial values, written with
``save_pretrained``, loaded with ``zoo.load_pretrained``; logits and embeddings must
agree to 1e-4 in float32 on random images (batch 2). Full-size configs run at small
resolutions (position tables interpolated as transformers does) to keep compile time
down.
"""

from __future__ import annotations

import math
import shutil

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers as T
from flax import nnx
from safetensors.torch import load_file, save_file
from transformers.initialization import no_init_weights

import zoo
from test_zoo_parity import assert_close, nhwc, save
from zoo.converters.mapping import ConversionError


def perturb(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  """Every float tensor drawn afresh (so models built without transformers' init work):
  linear / conv weights N(0, 1/fan_in) (unit-scale activations), biases and running means
  N(0, 0.1²), running variances U(0.5, 1.5), other 1-D tensors (norm and layer scales)
  1 + N(0, 0.1²), everything else (tokens, position and relative-position-bias tables,
  GRN's [1, 1, 1, C] parameters) N(0, 0.5²): no norm, statistic or table stays at identity."""
  generator = torch.Generator().manual_seed(seed)
  randn = lambda shape: torch.randn(shape, generator=generator)
  with torch.no_grad():
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
      if not tensor.is_floating_point() or tensor.ndim == 0:
        continue
      leaf = name.rsplit(".", 1)[-1]
      if leaf == "running_var":
        tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
      elif leaf in ("running_mean", "bias") and tensor.ndim == 1:
        tensor.copy_(randn(tensor.shape) * 0.1)
      elif tensor.ndim == 1:
        tensor.copy_(1 + randn(tensor.shape) * 0.1)
      elif leaf == "weight" and tensor.ndim in (2, 4) and tensor.shape[0] > 1:
        tensor.copy_(randn(tensor.shape) / math.sqrt(math.prod(tensor.shape[1:])))
      else:
        tensor.copy_(randn(tensor.shape) * 0.5)
  return model.eval()


def build_uninitialised(build):
  """``build()`` without transformers' weight init (perturb overwrites every tensor)."""
  with no_init_weights():
    return build()


def images(size: int, seed: int = 1) -> torch.Tensor:
  return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def compare(model, embed, size, tmp_path_factory, name):
  """Loads the saved model with zoo.load_pretrained; returns the max abs differences of
  (logits, embedding) against ``model(pixel_values).logits`` and ``embed(model, x)``."""
  model = perturb(model)
  directory = save(model, tmp_path_factory, name)
  x = images(size)
  with torch.no_grad():
    reference_embedding = embed(model, x).numpy()
    reference_logits = model(pixel_values=x).logits.numpy() if hasattr(model, "classifier") else reference_embedding
  cache = tmp_path_factory.mktemp("cache")
  ours = zoo.load_pretrained(str(directory), cache_dir=cache)
  logits, embedding = nnx.jit(lambda module, pixels: module(pixels))(ours, nhwc(x))  # one compile, not op by op
  shutil.rmtree(directory), shutil.rmtree(cache)  # full-size checkpoints are hundreds of MB
  return (assert_close(logits, reference_logits, f"{name} logits"),
          assert_close(embedding, reference_embedding, f"{name} embedding"))


POOLED = lambda base: (lambda m, x: getattr(m, base)(x).pooler_output.flatten(1))
BARE_POOLED = lambda m, x: m(pixel_values=x).pooler_output


def cls_and_mean_patch(base, prefix_tokens):
  """DINOv2's classifier input: [CLS, mean of the patch tokens] after the final norm."""
  def embed(model, x):
    tokens = getattr(model, base)(x).last_hidden_state
    return torch.cat([tokens[:, 0], tokens[:, prefix_tokens:].mean(1)], dim=-1)
  return embed


_TINY_DINO = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8,
                  num_labels=5)
_TINY_BEIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32,
                 patch_size=8)
# transformers' ViTMAEModel masks 75% of the patches at random by default; mask_ratio=0
# keeps every patch (in shuffled order, which leaves the class token unchanged).
MAE_CLS = lambda m, x: m(pixel_values=x, interpolate_pos_encoding=True).last_hidden_state[:, 0]

SMALL = {
    "convnext": (lambda: T.ConvNextForImageClassification(T.ConvNextConfig(
        hidden_sizes=[8, 16, 24], depths=[1, 2, 1], num_stages=3, num_labels=5)), 32, POOLED("convnext")),
    "convnext_patch2_no_layer_scale": (lambda: T.ConvNextForImageClassification(T.ConvNextConfig(
        hidden_sizes=[8, 16], depths=[2, 1], num_stages=2, patch_size=2, layer_scale_init_value=0.0,
        num_labels=5)), 18, POOLED("convnext")),
    "convnextv2": (lambda: T.ConvNextV2ForImageClassification(T.ConvNextV2Config(
        hidden_sizes=[8, 16, 24], depths=[1, 2, 1], num_stages=3, num_labels=5)), 32, POOLED("convnextv2")),
    # 40 px = a 5×5 patch grid: the 4×4 position table is interpolated (bicubic).
    "dinov2_classifier": (lambda: T.Dinov2ForImageClassification(T.Dinov2Config(**_TINY_DINO)), 40,
                          cls_and_mean_patch("dinov2", 1)),
    # 24 px = 3×3 grid: antialiased bicubic shrinking; SwiGLU; 3 registers.
    "dinov2_registers_swiglu": (lambda: T.Dinov2WithRegistersForImageClassification(T.Dinov2WithRegistersConfig(
        **_TINY_DINO, use_swiglu_ffn=True, num_register_tokens=3)), 24,
        cls_and_mean_patch("dinov2_with_registers", 4)),
    # 40 px: the 7×7 offset tables and 4×4 positions are resized to the 5×5 grid.
    "beit_relative_absolute": (lambda: T.BeitForImageClassification(T.BeitConfig(
        **_TINY_BEIT, use_relative_position_bias=True, use_absolute_position_embeddings=True, num_labels=5)), 40,
        POOLED("beit")),
    "beit_shared_cls_pooling": (lambda: T.BeitForImageClassification(T.BeitConfig(
        **_TINY_BEIT, use_shared_relative_position_bias=True, use_mean_pooling=False, num_labels=5)), 32,
        POOLED("beit")),
    "data2vec_vision_both_biases": (lambda: T.Data2VecVisionForImageClassification(T.Data2VecVisionConfig(
        **_TINY_BEIT, use_relative_position_bias=True, use_shared_relative_position_bias=True, num_labels=5)), 24,
        POOLED("data2vec_vision")),
    # Data2VecVisionModel has no pooler: the embedding is the mean patch token.
    "data2vec_vision_bare": (lambda: T.Data2VecVisionModel(T.Data2VecVisionConfig(
        **_TINY_BEIT, use_shared_relative_position_bias=True, layer_scale_init_value=0.0)), 32,
        lambda m, x: m(pixel_values=x).last_hidden_state[:, 1:].mean(1)),
    # 40 px: 10×10 patches padded to 12×12 windows, shifted; merged to 5×5 (odd: padded), padded to 8×8.
    "swin_padded": (lambda: T.SwinForImageClassification(T.SwinConfig(
        embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4, image_size=32, num_labels=5)), 40,
        POOLED("swin")),
    "vit_mae_pretraining": (lambda: T.ViTMAEForPreTraining(T.ViTMAEConfig(
        **_TINY_BEIT, mask_ratio=0.0, decoder_hidden_size=16, decoder_num_hidden_layers=1,
        decoder_intermediate_size=32)), 32, lambda m, x: m.vit(pixel_values=x).last_hidden_state[:, 0]),
    "regnet_y": (lambda: T.RegNetForImageClassification(T.RegNetConfig(
        embedding_size=8, hidden_sizes=[8, 16, 24], depths=[1, 2, 1], groups_width=8, num_labels=5)), 33,
        POOLED("regnet")),
    "regnet_x": (lambda: T.RegNetForImageClassification(T.RegNetConfig(
        embedding_size=8, hidden_sizes=[16, 32], depths=[2, 1], groups_width=8, layer_type="x",
        downsample_in_first_stage=False, num_labels=5)), 32, POOLED("regnet")),
    # 32 px: the last stage is exactly one window (no shift); absolute positions.
    "swin_absolute": (lambda: T.SwinForImageClassification(T.SwinConfig(
        embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=4, image_size=32, use_absolute_embeddings=True,
        num_labels=5)), 32, POOLED("swin")),
}

FULL_SIZE = {
    "convnext_tiny": (lambda: T.ConvNextForImageClassification(T.ConvNextConfig(num_labels=1000)), 64,
                      POOLED("convnext")),
    # dinov2-small (518² table of 37×37 positions) at 112 px: an 8×8 grid.
    "dinov2_small": (lambda: T.Dinov2Model(T.Dinov2Config(
        hidden_size=384, num_hidden_layers=12, num_attention_heads=6, image_size=518)), 112, BARE_POOLED),
    # beit-base-patch16-224 (ImageNet-1k fine-tuned) and data2vec-vision-base-ft1k at 112 px.
    "beit_base": (lambda: T.BeitForImageClassification(T.BeitConfig(
        use_relative_position_bias=True, num_labels=1000)), 112, POOLED("beit")),
    "data2vec_vision_base": (lambda: T.Data2VecVisionForImageClassification(T.Data2VecVisionConfig(
        use_relative_position_bias=True, num_labels=1000)), 112, POOLED("data2vec_vision")),
    # swin-tiny-patch4-window7-224: 224 px is the smallest input whose last stage holds a window.
    # vit-mae-base (the bare encoder) at 112 px, positions interpolated in both.
    "vit_mae_base": (lambda: T.ViTMAEModel(T.ViTMAEConfig(mask_ratio=0.0)), 112, MAE_CLS),
    # regnet-y-002 (pycls RegNetY-200MF: the smallest published RegNet-Y) at 64 px.
    "regnet_y_002": (lambda: T.RegNetForImageClassification(T.RegNetConfig(
        embedding_size=32, hidden_sizes=[24, 56, 152, 368], depths=[1, 1, 4, 7], groups_width=8,
        layer_type="y", num_labels=1000)), 64, POOLED("regnet")),
    "swin_tiny": (lambda: T.SwinForImageClassification(T.SwinConfig(num_labels=1000)), 224, POOLED("swin")),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_configs_match_pytorch(name, tmp_path_factory):
  build, size, embed = SMALL[name]
  compare(build_uninitialised(build), embed, size, tmp_path_factory, name)


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_full_size_configs_match_pytorch(name, tmp_path_factory):
  build, size, embed = FULL_SIZE[name]
  compare(build_uninitialised(build), embed, size, tmp_path_factory, name)


# One small config per family for the bad-input checks.
BAD_INPUT_MODELS = ["convnext", "convnextv2", "dinov2_registers_swiglu", "beit_relative_absolute",
                    "data2vec_vision_both_biases", "swin_padded", "vit_mae_pretraining", "regnet_y"]
_DAMAGES = [("missing", "have no tensor"), ("shape", "has shape"), ("extra", "which the nnx module does not have")]


@pytest.fixture(scope="module")
def saved_small(tmp_path_factory):
  """name → directory of the saved (perturbed) small model, each saved once per module."""
  directories = {}

  def get(name):
    if name not in directories:
      directories[name] = save(perturb(build_uninitialised(SMALL[name][0])), tmp_path_factory, name)
    return directories[name]
  return get


def _damaged_copy(directory, target, damage):
  """A copy of a saved model with one tensor (the largest) removed, reshaped, or a tensor added;
  returns (directory, the tensor's name)."""
  target.mkdir()
  for file in directory.iterdir():
    (target / file.name).write_bytes(file.read_bytes())
  tensors = load_file(target / "model.safetensors")
  name = max(sorted(tensors), key=lambda k: tensors[k].numel())
  if damage == "missing":
    del tensors[name]
  elif damage == "shape":
    tensors[name] = torch.cat([tensors[name], tensors[name][:1]])
  else:
    name = name.rsplit(".", 1)[0] + ".unexpected_extra"
    tensors[name] = torch.zeros(3)
  save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
  return target, name


# Each family gets one damage, the three kinds in turn (every kind is met by several families).
@pytest.mark.parametrize("name, damage, message", [(name, *_DAMAGES[i % 3]) for i, name in enumerate(BAD_INPUT_MODELS)])
def test_bad_checkpoints_name_the_tensor_and_cache_nothing(name, damage, message, saved_small, tmp_path):
  directory, tensor = _damaged_copy(saved_small(name), tmp_path / f"damaged_{name}", damage)
  cache = tmp_path / "cache"
  with pytest.raises(ConversionError, match=message) as error:
    zoo.load_pretrained(str(directory), cache_dir=cache)
  assert f"damaged_{name}" in str(error.value)  # the model (its source) is named
  if damage != "missing":  # a missing tensor is named by the module parameter it should fill
    assert tensor in str(error.value)
  assert not cache.exists() or not any(cache.iterdir())


@pytest.mark.parametrize("processor, square_only", [
    (lambda: T.ConvNextImageProcessorPil(size={"shortest_edge": 224}, crop_pct=0.875), False),  # ConvNeXt, RegNet
    (lambda: T.ConvNextImageProcessorPil(size={"shortest_edge": 384}), True),  # ≥ 384: warped, no crop
    (lambda: T.BitImageProcessorPil(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                    image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225]), False),
    (lambda: T.BeitImageProcessorPil(), True),  # BEiT, data2vec-vision: warped to 224²
    (lambda: T.ViTImageProcessorPil(size={"height": 192, "width": 192}), True),  # Swin, MAE
])
def test_pretrained_preprocessing_matches_the_image_processor(processor, square_only, tmp_path):
  """Our host resize + device normalisation equals the transformers (PIL) image processor;
  processors that warp (resize to height × width) agree on square images, the only ones a
  shorter-side resize + centre crop reproduces. (Non-square sizes are chosen so that the long
  side is the same whether rounded, as here, or truncated, as transformers does.)"""
  processor = processor()
  processor.save_pretrained(tmp_path)
  ours = zoo.pretrained_preprocessing(str(tmp_path))
  rng = np.random.default_rng(0)
  for shape in [(300, 300, 3)] + ([] if square_only else [(300, 260, 3), (260, 300, 3)]):
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    reference = processor(image, return_tensors="np")["pixel_values"][0].transpose(1, 2, 0)
    ours_image = np.asarray(ours(jnp.asarray(ours.host_resize(image))[None]))[0]
    assert ours_image.shape == reference.shape
    np.testing.assert_allclose(ours_image, reference, atol=1e-5)
