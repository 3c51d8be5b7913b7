"""Parity of zoo.load_timm with timm's own PyTorch modules for the EfficientNet-builder
families (MobileNetV2, EfficientNet, ``tf_`` EfficientNet with TF "SAME" padding), DLA,
ViT, DeiT (distilled) and MLP-Mixer, and of zoo.load_pretrained with transformers'
MobileNetV2.

timm runs in its own environment (``.venv-timm``: timm needs a torchvision that cannot
import beside the main venv's torch), through tests/timm_reference.py: it builds each case
with random weights and perturbed norms / running statistics, exports it in timm's format
and records timm's logits and pre-logits. Per family a reduced config and a full-size one
(at a small resolution, batch 2); logits and embeddings must agree to 1e-4 in float32.
The architectures in SHAPES are only checked tensor by tensor against timm's state dict.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as T

import zoo
from zoo.converters import timm as timm_converter
from zoo.converters.mapping import ConversionError
import timm_parity  # the timm parity harness
from timm_parity import assert_close, forward


_TINY_VIT = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5)
CASES = [
    # MobileNetV2 (timm's EfficientNet builder, ReLU6, no SE)
    dict(name="mobilenetv2_050", architecture="mobilenetv2_050", kwargs=dict(num_classes=5), resolution=33),
    dict(name="mobilenetv2_120d", architecture="mobilenetv2_120d", kwargs={}, resolution=64),
    # EfficientNet: PyTorch padding, and tf_ = TF "SAME" (asymmetric at odd sizes), BN ε 1e-3.
    # timm's entry points fix width and depth, so B0 is the family's smallest config.
    dict(name="efficientnet_b0", architecture="efficientnet_b0", kwargs=dict(num_classes=5), resolution=33),
    dict(name="tf_efficientnet_b0", architecture="tf_efficientnet_b0", kwargs=dict(num_classes=5), resolution=35),
    # DLA: a reduced bottleneck tree (3 levels in level4: a tree of trees), and DLA-34 (basic blocks)
    dict(name="dla_reduced", architecture="dla60",
         kwargs=dict(channels=[8, 8, 16, 16, 32, 32], num_classes=5), resolution=32),
    dict(name="dla34", architecture="dla34", kwargs={}, resolution=32),
    # ViT / DeiT (distilled: class + distillation tokens, two heads averaged)
    dict(name="vit_reduced", architecture="vit_tiny_patch16_224", kwargs=_TINY_VIT, resolution=32),
    dict(name="vit_small_patch32", architecture="vit_small_patch32_224", kwargs=dict(img_size=64), resolution=64),
    dict(name="deit_tiny_distilled", architecture="deit_tiny_distilled_patch16_224", kwargs=dict(img_size=64),
         resolution=64),
    # MLP-Mixer (timm's entry points fix depth and width; the MLP ratios shrink the reduced one)
    dict(name="mixer_reduced", architecture="mixer_s32_224",
         kwargs=dict(img_size=64, mlp_ratio=[0.25, 0.5], num_classes=5), resolution=64),
    dict(name="mixer_s16", architecture="mixer_s16_224", kwargs=dict(img_size=64), resolution=64),
]
for case in CASES:
  case.setdefault("batch", 2)
# Further architectures of the families: every tensor's name and shape against timm's model.
SHAPES = ["efficientnet_b3", "tf_efficientnet_b1", "mobilenetv2_100", "mobilenetv2_110d", "dla46x_c", "dla60", "dla60x_c",
          "vit_tiny_patch16_384", "deit_tiny_patch16_224"]


timm_exports = timm_parity.exports_fixture("timm_more", CASES, SHAPES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_timm_families_match_timm(case, timm_exports, tmp_path):
  timm_parity.assert_matches_export(timm_exports / case["name"], case["name"], tmp_path)


@pytest.mark.parametrize("architecture", SHAPES)
def test_timm_family_tensors_match_timm_state_dict(architecture, timm_exports):
  """Each variant builds abstractly (no memory, no FLOPs) and every tensor of timm's model maps,
  through the family's renames and the layout rules, onto a distinct parameter of the same
  shape, filling all of them (timm_parity.mapping_failures)."""
  timm_parity.assert_every_variant_maps(timm_exports, [architecture])


def test_timm_family_rejects_unsupported_arguments():
  # (ViT's no_embed_class and global_pool "avg" are modelled now: tests/test_zoo_timm_vits.py)
  config = {"architecture": "vit_tiny_patch16_224", "num_classes": 5, "model_args": {"pos_embed": "none"}}
  with pytest.raises(ConversionError, match=r"vit_tiny_patch16_224.*pos_embed"):
    timm_converter.family_of("vit_tiny_patch16_224").build("vit_tiny_patch16_224", config)
  config = {"architecture": "vit_tiny_patch16_224", "num_classes": 5, "global_pool": "max"}
  with pytest.raises(ConversionError, match=r"global_pool 'max'"):
    timm_converter.family_of("vit_tiny_patch16_224").build("vit_tiny_patch16_224", config)
  config = {"architecture": "efficientnet_b0", "model_args": {"pad_type": "valid"}}
  with pytest.raises(ConversionError, match=r"efficientnet_b0.*pad_type 'valid'"):
    timm_converter.family_of("efficientnet_b0").build("efficientnet_b0", config)


def test_timm_export_with_a_wrong_tensor_names_it(timm_exports, tmp_path):
  """A checkpoint whose tensor does not fit the architecture fails naming the tensor, and
  nothing is cached."""
  from safetensors.numpy import load_file, save_file
  source = timm_exports / "dla_reduced"
  broken = tmp_path / "broken"
  broken.mkdir()
  (broken / "config.json").write_text((source / "config.json").read_text())
  tensors = load_file(source / "model.safetensors")
  tensors["level2.tree1.conv1.weight"] = np.zeros((3, 3, 3, 3), np.float32)
  save_file(tensors, broken / "model.safetensors")
  cache = tmp_path / "cache"
  with pytest.raises(ConversionError, match=r"level2\.tree1\.conv1\.weight"):
    zoo.load_timm(str(broken), cache_dir=cache)
  assert not cache.exists() or not any(cache.iterdir())


# --- transformers' MobileNetV2 ---------------------------------------------------------------

def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  """Unit-scale weights (zero mean per output unit), norm scales and biases 0.5 ± 0.1, biases ±0.1 and
  running statistics of each batch norm's own input, moved by 0.2 σ and scaled 0.8–1.2
  (as tests/timm_reference.py does for timm), so that no norm is the identity."""
  generator = torch.Generator().manual_seed(seed)
  randn = lambda shape: torch.randn(shape, generator=generator)
  with torch.no_grad():
    for module in model.modules():
      for name, tensor in module.named_parameters(recurse=False):
        if isinstance(module, torch.nn.BatchNorm2d):
          tensor.copy_(0.5 + 0.1 * randn(tensor.shape))  # scales and biases 0.5 ± 0.1
        elif name == "weight" and tensor.ndim in (2, 4):
          weight = randn(tensor.shape) / np.sqrt(np.prod(tensor.shape[1:]))
          tensor.copy_(weight - weight.flatten(1).mean(1).view(-1, *[1] * (tensor.ndim - 1)))
        elif name == "bias":
          tensor.copy_(0.1 * randn(tensor.shape))

    def measure(module, inputs):
      mean, var = inputs[0].mean((0, 2, 3)), inputs[0].var((0, 2, 3))
      var = torch.maximum(var, 0.25 * var.mean())
      module.running_mean.copy_(mean + 0.2 * randn(mean.shape) * var.sqrt())
      module.running_var.copy_(var * (torch.rand(var.shape, generator=generator) * 0.4 + 0.8))

    model.eval()
    hooks = [m.register_forward_pre_hook(measure) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    model(pixel_values=torch.randn(4, 3, 64, 64, generator=generator))
    for hook in hooks:
      hook.remove()
  return model


MOBILENET_V2 = {
    "reduced": (dict(depth_multiplier=0.35, min_depth=4, tf_padding=False, num_labels=5), 33),
    "full_1.4": (dict(depth_multiplier=1.4, num_labels=1001), 64),
}


@pytest.mark.parametrize("variant", sorted(MOBILENET_V2))
def test_transformers_mobilenet_v2_matches_pytorch(variant, tmp_path):
  overrides, size = MOBILENET_V2[variant]
  model = randomize(T.MobileNetV2ForImageClassification(T.MobileNetV2Config(**overrides)))
  model.save_pretrained(tmp_path / "model")
  images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
  with torch.no_grad():
    logits = model(pixel_values=images).logits.numpy()
    embedding = model.mobilenet_v2(images).pooler_output.flatten(1).numpy()
  ours = zoo.load_pretrained(str(tmp_path / "model"), cache_dir=tmp_path / "cache")
  our_logits, our_embedding = forward(ours, images.permute(0, 2, 3, 1).numpy())
  assert_close(our_logits, logits, f"mobilenet_v2 {variant} logits")
  assert_close(our_embedding, embedding, f"mobilenet_v2 {variant} embedding")


def test_transformers_mobilenet_v2_rejects_unsupported_configs(tmp_path):
  model = T.MobileNetV2ForImageClassification(T.MobileNetV2Config(depth_multiplier=0.35, first_layer_is_expansion=False,
                                                                  num_labels=3))
  model.save_pretrained(tmp_path)
  with pytest.raises(ConversionError, match="first_layer_is_expansion"):
    zoo.load_pretrained(str(tmp_path), cache_dir=tmp_path / "cache")
