"""Weight converters proven by numerical parity with the PyTorch originals (transformers).

Every family: a randomly initialised transformers model (small config, plus one full-size
config per family) is written with ``save_pretrained``, loaded with
``zoo.load_pretrained``, and both run the same random images: logits and embeddings
must agree to 1e-4 in float32. Google .npz checkpoints (ViT/AugReg, Mixer) are checked
against transformers' ViT and an independent PyTorch Mixer written from the paper.
"""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers as T

import zoo
from zoo.architectures.clip import ZeroShotClassifier, zero_shot_weights

TOLERANCE = 1e-4


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  """Weights with unit-scale activations and non-trivial norms/statistics, so that every
  tensor matters (default inits leave BN at identity and some nets near zero)."""
  generator = torch.Generator().manual_seed(seed)
  randn = lambda shape: torch.randn(shape, generator=generator)
  with torch.no_grad():
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
      if not tensor.is_floating_point() or tensor.ndim == 0:
        continue
      if name.endswith("running_var"):
        tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
      elif name.endswith(("running_mean", "bias")):
        tensor.copy_(randn(tensor.shape) * 0.1)
      elif tensor.ndim == 1:  # norm scales, CLIP's class embedding
        tensor.copy_(1 + randn(tensor.shape) * 0.1)
      elif name.endswith("weight") and tensor.ndim in (2, 4) and "embedding" not in name:
        fan_in = math.prod(tensor.shape[1:])
        tensor.copy_(randn(tensor.shape) / math.sqrt(fan_in))
  return model.eval()


def nhwc(images: torch.Tensor):
  return jnp.asarray(images.permute(0, 2, 3, 1).numpy())


def assert_close(ours, reference, what):
  ours, reference = np.asarray(ours), np.asarray(reference)
  assert ours.shape == reference.shape, what
  assert np.std(reference) > 1e-2, f"{what}: degenerate reference output"
  difference = np.abs(ours - reference).max()
  print(f"parity {what}: max abs difference {difference:.2e} (reference std {np.std(reference):.2f})")
  assert difference <= TOLERANCE, f"{what}: max abs difference {difference:.2e}"
  return difference


def save(model, parent, name):
  """``model.save_pretrained`` into a new folder: ``parent.mktemp(name)`` of a
  tmp_path_factory (module fixtures), else ``parent / name`` of a test's tmp_path (deleted
  when the test passes: pyproject's tmp_path_retention_policy; full-size checkpoints are
  hundreds of MB)."""
  directory = parent.mktemp(name) if hasattr(parent, "mktemp") else parent / name
  model.save_pretrained(directory)
  return directory


def check_classifier(model, directory, images, embed, cache_dir):
  with torch.no_grad():
    logits, embedding = model(pixel_values=images).logits, embed(model, images)
  ours = zoo.load_pretrained(str(directory), cache_dir=cache_dir)
  our_logits, our_embedding = ours(nhwc(images))
  return (assert_close(our_logits, logits.numpy(), "logits"),
          assert_close(our_embedding, embedding.numpy(), "embedding"))


POOLED = lambda base: (lambda m, x: getattr(m, base)(x).pooler_output.flatten(1))
CLS = lambda m, x: m.vit(x).last_hidden_state[:, 0]
DISTILLED = lambda m, x: m.deit(x).last_hidden_state[:, :2].mean(1)
DEIT_CLS = lambda m, x: m.deit(x).last_hidden_state[:, 0]
_TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32,
                 patch_size=8, num_labels=5)
SMALL = {
    "resnet_bottleneck": (lambda: T.ResNetForImageClassification(T.ResNetConfig(
        embedding_size=8, hidden_sizes=[16, 32, 48], depths=[2, 1, 2], num_labels=5)), 32, POOLED("resnet")),
    "resnet_basic_v1": (lambda: T.ResNetForImageClassification(T.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[2, 2], layer_type="basic", downsample_in_first_stage=True,
        num_labels=5)), 31, POOLED("resnet")),
    "resnet_v1_bottleneck": (lambda: T.ResNetForImageClassification(T.ResNetConfig(
        embedding_size=8, hidden_sizes=[16, 32], depths=[1, 2], downsample_in_bottleneck=True, num_labels=5)),
        32, POOLED("resnet")),
    "bit_preactivation_same": (lambda: T.BitForImageClassification(T.BitConfig(
        embedding_size=16, hidden_sizes=[32, 64], depths=[2, 1], num_groups=4, global_padding="SAME",
        embedding_dynamic_padding=True, num_labels=5)), 35, POOLED("bit")),
    "bit_bottleneck_static": (lambda: T.BitForImageClassification(T.BitConfig(
        embedding_size=16, hidden_sizes=[32, 64], depths=[2, 1], num_groups=4, layer_type="bottleneck",
        num_labels=5)), 34, POOLED("bit")),
    "vit": (lambda: T.ViTForImageClassification(T.ViTConfig(**_TINY_VIT)), 32, CLS),
    "deit_distilled": (lambda: T.DeiTForImageClassificationWithTeacher(T.DeiTConfig(**_TINY_VIT)), 32, DISTILLED),
    "deit": (lambda: T.DeiTForImageClassification(T.DeiTConfig(**_TINY_VIT)), 32, DEIT_CLS),
    "efficientnet": (lambda: T.EfficientNetForImageClassification(T.EfficientNetConfig(
        width_coefficient=0.25, depth_coefficient=0.3, hidden_dim=320, depthwise_padding=[3], num_labels=5)),
        33, POOLED("efficientnet")),
}


@pytest.mark.parametrize("family", sorted(SMALL))
def test_small_configs_match_pytorch(family, tmp_path_factory):
  build, size, embed = SMALL[family]
  model = randomize(build())
  directory = save(model, tmp_path_factory, family)
  images = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
  check_classifier(model, directory, images, embed, tmp_path_factory.mktemp("cache"))


def clip_token_ids(num, length, vocab, eos, seed=0):
  """Random prompts, each with one end token followed by padding zeros."""
  generator = torch.Generator().manual_seed(seed)
  ids = torch.randint(3, vocab - 2, (num, length), generator=generator)
  for row, end in enumerate(torch.randint(2, length, (num,), generator=generator)):
    ids[row, end], ids[row, end + 1:] = eos, 0
  return ids


def check_clip(config, directory_factory, image_size, cache_dir):
  model = randomize(T.CLIPModel(config))
  directory = save(model, directory_factory, "clip")
  vocab, eos = config.text_config.vocab_size, config.text_config.eos_token_id
  ids = clip_token_ids(6, config.text_config.max_position_embeddings, vocab, eos if eos != 2 else vocab - 1)
  images = torch.randn(2, 3, image_size, image_size, generator=torch.Generator().manual_seed(2))
  with torch.no_grad():
    image_features = model.get_image_features(pixel_values=images).pooler_output.numpy()
    text_features = model.get_text_features(input_ids=ids).pooler_output.numpy()
  ours = zoo.load_pretrained(str(directory), cache_dir=cache_dir)
  differences = [assert_close(ours.encode_image(nhwc(images)), image_features, "image features"),
                 assert_close(ours.encode_text(jnp.asarray(ids.numpy())), text_features, "text features")]
  # Zero-shot: 3 classes × 2 templates; weights = normalised mean of normalised text features.
  unit = text_features / np.linalg.norm(text_features, axis=-1, keepdims=True)
  expected = unit.reshape(3, 2, -1).mean(1)
  expected = (expected / np.linalg.norm(expected, axis=-1, keepdims=True)).T
  weights = zero_shot_weights(ours, jnp.asarray(ids.numpy()).reshape(3, 2, -1))
  differences.append(assert_close(weights, expected, "zero-shot weights"))
  logits, embedding = ZeroShotClassifier(ours, weights)(nhwc(images))
  image_unit = image_features / np.linalg.norm(image_features, axis=-1, keepdims=True)
  scale = float(np.exp(model.logit_scale.item()))
  differences.append(assert_close(logits, scale * image_unit @ expected, "zero-shot logits"))
  return max(differences)


@pytest.mark.parametrize("eos_token_id", [2, 99])  # 2: legacy configs, end token found by argmax
def test_clip_towers_and_zero_shot_match_pytorch(eos_token_id, tmp_path_factory):
  config = T.CLIPConfig(
      text_config=dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                       vocab_size=100, max_position_embeddings=16, eos_token_id=eos_token_id),
      vision_config=dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         image_size=32, patch_size=8), projection_dim=24)
  check_clip(config, tmp_path_factory, 32, tmp_path_factory.mktemp("cache"))


FULL_SIZE = {
    "resnet50": (lambda: T.ResNetForImageClassification(T.ResNetConfig(num_labels=1000)), POOLED("resnet")),
    "vit_b16": (lambda: T.ViTForImageClassification(T.ViTConfig(num_labels=1000)), CLS),
    "efficientnet_b0": (lambda: T.EfficientNetForImageClassification(T.EfficientNetConfig(
        width_coefficient=1.0, depth_coefficient=1.0, hidden_dim=1280, num_labels=1000)), POOLED("efficientnet")),
}


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_full_size_configs_match_pytorch(name, tmp_path):
  build, embed = FULL_SIZE[name]
  model = randomize(build())
  directory = save(model, tmp_path, name)
  images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))
  check_classifier(model, directory, images, embed, tmp_path / "cache")


def test_full_size_clip_vit_b32_towers_match_pytorch(tmp_path):
  config = T.CLIPConfig()  # ViT-B/32 image tower, 12-layer 512-wide text tower, 77 tokens
  config.text_config.eos_token_id = 2
  check_clip(config, tmp_path, 224, tmp_path / "cache")


def toy_clip_vocabulary(directory, corpus, num_merges=120):
  """vocab.json + merges.txt in CLIP's layout (bytes, bytes + </w>, merges, specials), with
  merges learned from ``corpus`` by plain BPE, so both tokenizers read the same files."""
  from zoo.architectures.clip_tokenizer import bytes_to_unicode
  chars = list(bytes_to_unicode().values())
  vocab = chars + [c + "</w>" for c in chars]
  words = {}
  for word in " ".join(corpus).lower().split():
    word = "".join(bytes_to_unicode()[b] for b in word.strip(".,").encode())
    if word:
      key = tuple(word[:-1]) + (word[-1] + "</w>",)
      words[key] = words.get(key, 0) + 1
  merges = []
  for _ in range(num_merges):
    counts = {}
    for symbols, count in words.items():
      for pair in zip(symbols, symbols[1:]):
        counts[pair] = counts.get(pair, 0) + count
    if not counts:
      break
    best = max(sorted(counts), key=counts.get)
    merges.append(best)
    vocab.append(best[0] + best[1])
    merged = {}
    for symbols, count in words.items():
      out, i = [], 0
      while i < len(symbols):
        if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == best:
          out.append(symbols[i] + symbols[i + 1])
          i += 2
        else:
          out.append(symbols[i])
          i += 1
      merged[tuple(out)] = merged.get(tuple(out), 0) + count
    words = merged
  vocab += ["<|startoftext|>", "<|endoftext|>"]
  (directory / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}))
  (directory / "merges.txt").write_text("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
  return len(vocab)


def test_clip_tokenizer_matches_transformers_and_builds_zero_shot_prompts(tmp_path):
  from zoo.architectures.clip_tokenizer import ClipTokenizer, prompt_token_ids
  classes = ["T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
  templates = ["a photo of a {}.", "a blurry photo of the {}!", "itap of my {}'s 2nd copy", "a   sketch of a {}"]
  corpus = [t.format(c) for c in classes for t in templates]
  vocab_size = toy_clip_vocabulary(tmp_path, corpus)
  ours = ClipTokenizer.from_directory(tmp_path, context_length=16)
  merges = [tuple(line.split()) for line in (tmp_path / "merges.txt").read_text().splitlines()[1:] if line]
  reference = T.CLIPTokenizer(vocab=json.loads((tmp_path / "vocab.json").read_text()), merges=merges)
  texts = corpus + ["Ünïcödé café, 42 items_here", "unseen wordz; (punctuation)"]
  for text in texts:
    assert ours.encode(text) == reference(text, add_special_tokens=False)["input_ids"], text
  ids = prompt_token_ids(ours, classes, templates)
  assert ids.shape == (10, 4, 16) and ids.max() < vocab_size
  first = ids[0, 0]
  end = list(first).index(ours.end)
  assert first[0] == ours.start and first[end + 1:].sum() == 0
