"""Zero-shot image–text families (SigLIP, ALIGN; CLIP's generic path) against transformers.

Every tower is checked against the transformers PyTorch model: random weights with norms,
batch statistics, embeddings and scalars moved away from their defaults, a small config
and one full-size config (at a small image resolution and a short text), max abs
difference ≤ 1e-4 in float32 on image features, text features and ``logits_per_image``.
Zero-shot weights are checked against the PyTorch text towers, the tokenizers against
transformers' tokenizers built from the same small vocabulary files, and bad checkpoints
must raise a ConversionError that names the tensor and the model before anything is cached.
"""

from __future__ import annotations

import io
import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
import sentencepiece
import torch
import transformers as T
from flax import nnx
from safetensors.torch import load_file, save_file
from transformers.initialization import no_init_weights

import zoo
from test_zoo_parity import assert_close, nhwc, randomize, toy_clip_vocabulary
from zoo.architectures.bert_tokenizer import BertTokenizer
from zoo.architectures.clip_tokenizer import ClipTokenizer
from zoo.architectures.siglip_tokenizer import SiglipTokenizer
from zoo.architectures.zero_shot import zero_shot_classifier, zero_shot_weights
from zoo.converters.mapping import ConversionError

CLASSES = ["tench", "great white shark", "T-shirt/top", "ankle boot", "café au lait"]
TEMPLATES = zoo.IMAGENET_TEMPLATES[::20]  # 4 of CLIP's 80
CORPUS = [t.format(c) for c in CLASSES for t in zoo.IMAGENET_TEMPLATES]
_TOWER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)


def randomize_all(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
  """:func:`randomize`, plus what it leaves alone: embeddings, SigLIP's probe and the scalar
  scale/bias/temperature (so that models built without initialisation are fully set)."""
  randomize(model, seed)
  generator = torch.Generator().manual_seed(seed + 1)
  with torch.no_grad():
    for name, tensor in model.named_parameters():
      if "embedding" in name or name.endswith("probe"):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
    for name, value in (("logit_scale", math.log(7.0)), ("logit_bias", -1.5), ("temperature", 0.02)):
      if hasattr(model, name):
        getattr(model, name).fill_(value)
  return model


def build(model_class, config, seed=0):
  with no_init_weights():  # randomize_all sets every tensor; skipping transformers' init saves seconds
    model = model_class(config)
  return randomize_all(model, seed)


def save(model, parent, name):
  """``model.save_pretrained`` into a new folder: ``parent.mktemp(name)`` of a
  tmp_path_factory (module fixtures), else ``parent / name`` of a test's tmp_path (deleted
  when the test passes: pyproject's tmp_path_retention_policy; full-size checkpoints are
  hundreds of MB)."""
  directory = parent.mktemp(name) if hasattr(parent, "mktemp") else parent / name
  model.save_pretrained(directory)
  return directory


def token_ids(num, length, vocab, first=None, pad=None, seed=0):
  """Random prompts; with ``pad``, random-length rows padded with it (ALIGN's attention mask)."""
  generator = torch.Generator().manual_seed(seed)
  ids = torch.randint(5, vocab, (num, length), generator=generator)
  if first is not None:
    ids[:, 0] = first
  if pad is not None:
    for row, end in enumerate(torch.randint(2, length + 1, (num,), generator=generator)):
      ids[row, end:] = pad
  return ids


def reference_features(family, model, images, ids):
  """transformers' image features, text features and logits_per_image."""
  text_kwargs = dict(attention_mask=(ids != 0).long()) if family == "align" else {}
  with torch.no_grad():
    out = model(input_ids=ids, pixel_values=images, **text_kwargs)
    image = model.get_image_features(pixel_values=images).pooler_output.numpy()
    text = model.get_text_features(input_ids=ids, **text_kwargs).pooler_output.numpy()
  return image, text, out.logits_per_image.numpy()


@nnx.jit
def our_outputs(model, images, ids, classifier=None):
  """Ours in one jitted call (one compilation instead of one per eager op): image features,
  text features, logits_per_image and, given a zero-shot classifier, its (logits, embedding)."""
  outputs = (model.encode_image(images), model.encode_text(ids), model.logits_per_image(images, ids))
  return outputs + (classifier(images) if classifier is not None else (None, None))


def check_towers(family, model, ours, images, ids, classifier=None):
  """Our towers and logits_per_image vs PyTorch's; returns our classifier's (logits, embedding) if given."""
  image, text, logits = reference_features(family, model, images, ids)
  *towers, classifier_logits, embedding = our_outputs(ours, nhwc(images), jnp.asarray(ids.numpy()), classifier)
  for what, our, reference in zip(("image features", "text features", "logits_per_image"), towers,
                                  (image, text, logits)):
    assert_close(our, reference, f"{family} {what}")
  return classifier_logits, embedding


def unit(x):
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


def reference_logits(family, model, image_features, weights):
  """Per-model scores of normalised image features against class weights, from the PyTorch scalars."""
  cosine = unit(image_features) @ weights
  if family == "align":
    return cosine / model.temperature.item()
  logits = math.exp(model.logit_scale.item()) * cosine
  return logits + model.logit_bias.item() if family == "siglip" else logits


FULL_SIZE = {
    # SigLIP B/16 (203 M parameters) at 64² (16 patches); ALIGN's EfficientNet-B7 + BERT-base at 64².
    "siglip_b16": lambda: build(T.SiglipModel, T.SiglipConfig(vision_config=dict(image_size=64))),
    "align_b7_bert_base": lambda: build(T.AlignModel, T.AlignConfig()),
}


@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_full_size_towers_match_pytorch(name, tmp_path):
  family = name.split("_")[0]
  model = FULL_SIZE[name]()
  directory = save(model, tmp_path, name)
  images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
  vocab = model.config.text_config.vocab_size
  ids = token_ids(3, 12, vocab, first=101 if family == "align" else None, pad=0 if family == "align" else None)
  check_towers(family, model, zoo.load_pretrained(str(directory), cache_dir=tmp_path / "cache"),
               images, ids)


# --- Tokenizers ------------------------------------------------------------------------------------

def toy_sentencepiece(directory, corpus, vocab_size=100):
  """A unigram spiece.model with SigLIP's special ids (<pad> 0, </s> 1, <unk> 2), learned from ``corpus``."""
  model = io.BytesIO()
  sentencepiece.SentencePieceTrainer.train(
      sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, model_type="unigram",
      pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2)
  (directory / "spiece.model").write_bytes(model.getvalue())
  return sentencepiece.SentencePieceProcessor(model_file=str(directory / "spiece.model")).get_piece_size()


def toy_wordpiece(directory, corpus):
  """vocab.txt: BERT's specials, the corpus' lower-cased words and punctuation, some ## pieces, letters."""
  from zoo.architectures.bert_tokenizer import basic_words
  words = sorted({w for text in corpus for w in basic_words(text)} - {"shark", "boot"})
  letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
  tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, "sh", "##ark", "bo", "##ot", "##s",
            *letters, *("##" + c for c in letters)]
  (directory / "vocab.txt").write_text("\n".join(tokens) + "\n")
  return len(tokens)


def reference_tokenizer(family, directory, length):
  """transformers' tokenizer of the family on the same files, as texts → int64 [N, length]."""
  if family == "siglip":
    tokenizer = T.SiglipTokenizer(vocab_file=str(directory / "spiece.model"))
  elif family == "align":
    lines = (directory / "vocab.txt").read_text().splitlines()
    tokenizer = T.BertTokenizer(vocab={token: i for i, token in enumerate(lines)})
  else:
    merges = [tuple(line.split()) for line in (directory / "merges.txt").read_text().splitlines()[1:] if line]
    tokenizer = T.CLIPTokenizer(vocab=json.loads((directory / "vocab.json").read_text()), merges=merges)
  return lambda texts: np.asarray(tokenizer(list(texts), padding="max_length", max_length=length,
                                            truncation=True)["input_ids"])


TOKENIZER_FILES = {"siglip": toy_sentencepiece, "align": toy_wordpiece,
                   "clip": lambda directory, corpus: toy_clip_vocabulary(directory, corpus)}
ODD_TEXTS = ["A  Photo, of the GREAT-white shark!!", "Ünïcödé café 42 items_here", "unseen zebra wordz",
             "  leading and trailing  ", "x", "a photo of " + "many " * 30 + "tench."]  # the last is truncated


@pytest.mark.parametrize("family", ["siglip", "align", "clip"])
def test_tokenizers_match_transformers(family, tmp_path):
  TOKENIZER_FILES[family](tmp_path, CORPUS)
  (tmp_path / "config.json").write_text(json.dumps({"model_type": family}))
  ours = zoo.load_tokenizer(str(tmp_path), context_length=16)
  assert type(ours) is {"siglip": SiglipTokenizer, "align": BertTokenizer, "clip": ClipTokenizer}[family]
  texts = CORPUS[::37] + ODD_TEXTS
  ids, expected = ours(texts), reference_tokenizer(family, tmp_path, 16)(texts)
  assert ids.dtype == np.int32 and ids.shape == (len(texts), 16)
  for text, row, reference in zip(texts, ids, expected):
    if family == "clip":  # transformers pads CLIP with <|endoftext|>, openai/CLIP (and we) with 0
      end = row.tolist().index(ours.end) + 1
      assert not row[end:].any(), text
      row, reference = row[:end], reference[:end]
    assert row.tolist() == reference.tolist(), text
  assert len(set(map(tuple, ids.tolist()))) > len(texts) // 2  # the texts do not all collapse to [UNK]s


def test_tokenizer_files_missing_are_clear_errors(tmp_path):
  for family, name in (("siglip", "spiece.model"), ("align", "vocab.txt"), ("clip", "vocab.json")):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": family}))
    with pytest.raises(FileNotFoundError, match=name):
      zoo.load_tokenizer(str(tmp_path))
  (tmp_path / "config.json").write_text(json.dumps({"model_type": "vit"}))
  with pytest.raises(ValueError, match="'vit' has no text tokenizer"):
    zoo.load_tokenizer(str(tmp_path))


# --- Small models: towers, zero-shot weights from class names × templates, classifier ---------------

def small_model(family, directory):
  """A small random model of ``family`` whose text vocabulary is the toy tokenizer's, saved in ``directory``."""
  vocab_size = TOKENIZER_FILES[family](directory, CORPUS)
  text = dict(**_TOWER, vocab_size=vocab_size, max_position_embeddings=16)
  vision = dict(**_TOWER, image_size=32, patch_size=8)
  if family == "siglip":
    model = build(T.SiglipModel, T.SiglipConfig(text_config=text, vision_config=vision))
  elif family == "align":  # max pooling here; the full-size test has the default mean
    model = build(T.AlignModel, T.AlignConfig(
        text_config={**text, "pad_token_id": 0}, projection_dim=80, vision_config=dict(
            width_coefficient=0.25, depth_coefficient=0.3, hidden_dim=320, depthwise_padding=[3], pooling_type="max")))
  else:
    text["eos_token_id"] = vocab_size - 1  # <|endoftext|>, the last entry of the toy vocabulary
    model = build(T.CLIPModel, T.CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
  model.save_pretrained(directory)
  return model


@pytest.fixture(scope="module")
def small(tmp_path_factory):
  """family → (PyTorch model, checkpoint directory with tokenizer files), built once per module."""
  models = {}

  def get(family):
    if family not in models:
      directory = tmp_path_factory.mktemp(f"{family}_small")
      models[family] = small_model(family, directory), directory
    return models[family]
  return get


@pytest.mark.parametrize("family", ["siglip", "align", "clip"])
def test_small_towers_and_zero_shot_classifier_from_class_names_match_pytorch(family, small, tmp_path):
  model, directory = small(family)
  ours = zoo.load_pretrained(str(directory), cache_dir=tmp_path / "cache")
  # Zero-shot: prompts of class names × CLIP templates through both tokenizers and text towers;
  # W_c = normalise(mean_t normalise(text_{c,t})) from PyTorch's text features. 20 prompts in
  # batches of 8: the last batch is padded.
  classifier = zero_shot_classifier(ours, zoo.load_tokenizer(str(directory), context_length=16), CLASSES, TEMPLATES,
                                    batch_size=8)
  prompts = torch.as_tensor(reference_tokenizer(family, directory, 16)([t.format(c) for c in CLASSES for t in TEMPLATES]))
  images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
  image, text, _ = reference_features(family, model, images, prompts)
  weights = unit(unit(text).reshape(len(CLASSES), len(TEMPLATES), -1).mean(1)).T
  assert_close(classifier.weights[...], weights, f"{family} zero-shot weights from class names")
  # The towers on random token ids (ALIGN's padded), and the classifier, in one jitted call.
  vocab = model.config.text_config.vocab_size
  ids = token_ids(5, 16, vocab, first=2 if family == "align" else None, pad=0 if family == "align" else None)
  logits, embedding = check_towers(family, model, ours, images, ids, classifier)
  assert logits.shape == (3, len(CLASSES)) and not hasattr(classifier, "text")  # the text tower is not kept
  assert_close(embedding, image, f"{family} zero-shot embedding")
  expected = reference_logits(family, model, image, weights)
  assert_close(logits, expected, f"{family} zero-shot logits")
  np.testing.assert_array_equal(np.argmax(logits, 1), np.argmax(expected, 1))


def test_imagenet_templates_are_clips_80():
  templates = zoo.IMAGENET_TEMPLATES
  assert len(templates) == 80 and len(set(templates)) == 80
  assert all(t.count("{}") == 1 for t in templates)
  assert templates[0] == "a bad photo of a {}." and templates[-1] == "a tattoo of the {}."
  assert "itap of a {}." in templates and "a {} in a video game." in templates


def test_zero_shot_bad_arguments_are_clear_errors():
  with pytest.raises(ValueError, match="exactly one"):
    zero_shot_classifier(None, None, ["dog"], ["a photo of a dog"])
  with pytest.raises(ValueError, match="at least one class"):
    zero_shot_classifier(None, None, [], zoo.IMAGENET_TEMPLATES)
  with pytest.raises(ValueError, match=r"\[classes, templates, length\]"):
    zero_shot_weights(None, np.zeros((4, 16), np.int32))


# --- Bad checkpoints -------------------------------------------------------------------------------

def _edited(source, tmp_path, edit_tensors=None, edit_config=None):
  directory = tmp_path / "edited"
  directory.mkdir()
  tensors = load_file(source / "model.safetensors")
  config = json.loads((source / "config.json").read_text())
  if edit_tensors:
    edit_tensors(tensors)
  if edit_config:
    edit_config(config)
  save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
  (directory / "config.json").write_text(json.dumps(config))
  return directory


def _set(mapping, key, value):
  mapping[key] = value


@pytest.mark.parametrize("family, damage, message", [
    ("siglip", dict(edit_tensors=lambda t: _set(t, "vision_model.head.attention.in_proj_weight", torch.zeros(96, 31))),
     "'vision_model.head.attention.in_proj_weight' has shape"),
    ("siglip", dict(edit_tensors=lambda t: t.pop("text_model.head.weight")), "text.projection.kernel"),
    ("siglip", dict(edit_config=lambda c: c["vision_config"].update(vision_use_head=False)), "vision_use_head"),
    ("align", dict(edit_tensors=lambda t: t.pop("text_projection.weight")), "text.projection.kernel"),
    ("align", dict(edit_tensors=lambda t: _set(t, "text_model.extra.weight", torch.zeros(3))),
     "'text_model.extra.weight'"),
    ("align", dict(edit_config=lambda c: c["text_config"].update(num_hidden_layers=3)), "text.blocks.2."),
])
def test_bad_checkpoints_name_the_tensor_and_model_and_cache_nothing(small, tmp_path, family, damage, message):
  directory = _edited(small(family)[1], tmp_path, **damage)
  cache = tmp_path / "cache"
  with pytest.raises(ConversionError, match=message) as error:
    zoo.load_pretrained(str(directory), cache_dir=cache)
  if "vision_use_head" not in message:
    assert "edited" in str(error.value)  # the model (its source) is named
  assert not cache.exists() or not any(cache.iterdir())


def test_the_study_builds_a_zero_shot_rows_head_from_the_configured_class_names(tmp_path, monkeypatch):
  """launch.study's zero-shot head: the checkpoint's own tokenizer, CLIP's 80 templates, and
  the test split's class names or ImageNet's (config field zero_shot_class_names)."""
  import dataclasses
  import types
  from launch.study import config as config_lib, pipeline
  vocab_size = toy_clip_vocabulary(tmp_path, CORPUS)
  text = dict(**_TOWER, vocab_size=vocab_size, max_position_embeddings=77, eos_token_id=vocab_size - 1)
  build(T.CLIPModel, T.CLIPConfig(text_config=text, vision_config=dict(**_TOWER, image_size=32, patch_size=8),
                                  projection_dim=24)).save_pretrained(tmp_path)
  ours = zoo.load_pretrained(str(tmp_path), cache_dir=tmp_path / "cache")
  entry = dataclasses.replace(zoo.get("clip_vit_b32.zeroshot"), weights=zoo.WeightSource("huggingface", str(tmp_path)))
  config = config_lib.defaults()
  head = pipeline.zero_shot_head(config, entry, ours, tmp_path, types.SimpleNamespace(class_names=CLASSES))
  expected = zero_shot_classifier(ours, zoo.load_tokenizer(str(tmp_path)), CLASSES, zoo.IMAGENET_TEMPLATES)
  np.testing.assert_allclose(np.asarray(head.weights[...]), np.asarray(expected.weights[...]), atol=1e-6)
  with pytest.raises(config_lib.ConfigError, match="'clip_vit_b32.zeroshot' is zero-shot and the test split has no"):
    pipeline.zero_shot_head(config, entry, ours, tmp_path, types.SimpleNamespace(class_names=()))
  seen = {}
  monkeypatch.setattr(zoo, "zero_shot_classifier", lambda model, tokenizer, names, templates: seen.update(
      names=names, templates=templates))
  config.zero_shot_class_names = "imagenet"
  pipeline.zero_shot_head(config, entry, ours, tmp_path, types.SimpleNamespace(class_names=CLASSES))
  assert seen["names"] == list(zoo.classnames.IMAGENET_CLASS_NAMES) and len(seen["templates"]) == 80
