"""Converters: Google .npz (ViT/AugReg, Mixer) parity, the conversion cache, and bad input."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import transformers as T
from safetensors.torch import load_file, save_file

import zoo
from zoo.converters import huggingface
from zoo.converters.mapping import ConversionError
from test_zoo_parity import assert_close, nhwc, randomize


def _normal(rng, *shape, scale=None):
  scale = (1 / math.sqrt(shape[0]) if len(shape) > 1 else 0.1) if scale is None else scale
  return (rng.normal(size=shape) * scale).astype(np.float32)


def vit_jax_checkpoint(rng, width=32, heads=4, mlp=64, depth=2, classes=5, patch=8, side=4):
  """A random ViT in the vit_jax/AugReg .npz layout (attention kernels [D, heads, head_dim])."""
  head_dim = width // heads
  t = {"embedding/kernel": _normal(rng, patch, patch, 3, width, scale=0.1), "embedding/bias": _normal(rng, width),
       "cls": _normal(rng, 1, 1, width, scale=1.0),
       "Transformer/posembed_input/pos_embedding": _normal(rng, 1, side * side + 1, width, scale=0.5),
       "Transformer/encoder_norm/scale": 1 + _normal(rng, width), "Transformer/encoder_norm/bias": _normal(rng, width),
       "head/kernel": _normal(rng, width, classes), "head/bias": _normal(rng, classes)}
  for i in range(depth):
    block = f"Transformer/encoderblock_{i}/"
    for norm in ("LayerNorm_0", "LayerNorm_2"):
      t[f"{block}{norm}/scale"], t[f"{block}{norm}/bias"] = 1 + _normal(rng, width), _normal(rng, width)
    attention = f"{block}MultiHeadDotProductAttention_1/"
    for name in ("query", "key", "value"):
      t[f"{attention}{name}/kernel"] = _normal(rng, width, heads, head_dim)
      t[f"{attention}{name}/bias"] = _normal(rng, heads, head_dim)
    t[f"{attention}out/kernel"] = _normal(rng, heads, head_dim, width, scale=1 / math.sqrt(width))
    t[f"{attention}out/bias"] = _normal(rng, width)
    t[f"{block}MlpBlock_3/Dense_0/kernel"], t[f"{block}MlpBlock_3/Dense_0/bias"] = _normal(rng, width, mlp), \
        _normal(rng, mlp)
    t[f"{block}MlpBlock_3/Dense_1/kernel"], t[f"{block}MlpBlock_3/Dense_1/bias"] = _normal(rng, mlp, width), \
        _normal(rng, width)
  return t


def vit_jax_to_transformers(t, depth, width):
  """The same weights in transformers' (current, in-memory) ViT names: written independently
  of zoo.converters, from the two layouts' documentation."""
  sd = {"vit.embeddings.patch_embeddings.projection.weight": t["embedding/kernel"].transpose(3, 2, 0, 1),
        "vit.embeddings.patch_embeddings.projection.bias": t["embedding/bias"],
        "vit.embeddings.cls_token": t["cls"],
        "vit.embeddings.position_embeddings": t["Transformer/posembed_input/pos_embedding"],
        "vit.layernorm.weight": t["Transformer/encoder_norm/scale"], "vit.layernorm.bias": t["Transformer/encoder_norm/bias"],
        "classifier.weight": t["head/kernel"].T, "classifier.bias": t["head/bias"]}
  for i in range(depth):
    src, dst = f"Transformer/encoderblock_{i}/", f"vit.layers.{i}."
    attention = f"{src}MultiHeadDotProductAttention_1/"
    for name in ("query", "key", "value"):
      sd[f"{dst}attention.{name[0]}_proj.weight"] = t[f"{attention}{name}/kernel"].reshape(width, width).T
      sd[f"{dst}attention.{name[0]}_proj.bias"] = t[f"{attention}{name}/bias"].reshape(width)
    sd[f"{dst}attention.o_proj.weight"] = t[f"{attention}out/kernel"].reshape(width, width).T
    sd[f"{dst}attention.o_proj.bias"] = t[f"{attention}out/bias"]
    for k, name in ((0, "fc1"), (1, "fc2")):
      sd[f"{dst}mlp.{name}.weight"] = t[f"{src}MlpBlock_3/Dense_{k}/kernel"].T
      sd[f"{dst}mlp.{name}.bias"] = t[f"{src}MlpBlock_3/Dense_{k}/bias"]
    sd[f"{dst}layernorm_before.weight"], sd[f"{dst}layernorm_before.bias"] = t[f"{src}LayerNorm_0/scale"], \
        t[f"{src}LayerNorm_0/bias"]
    sd[f"{dst}layernorm_after.weight"], sd[f"{dst}layernorm_after.bias"] = t[f"{src}LayerNorm_2/scale"], \
        t[f"{src}LayerNorm_2/bias"]
  return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}


def test_augreg_npz_vit_matches_transformers_vit(tmp_path):
  rng = np.random.default_rng(0)
  t = vit_jax_checkpoint(rng)
  path = tmp_path / "S_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz"
  np.savez(path, **t)
  reference = T.ViTForImageClassification(T.ViTConfig(
      hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=8,
      num_labels=5, hidden_act="gelu_new", layer_norm_eps=1e-6)).eval()  # flax's GELU is the tanh one
  reference.load_state_dict(vit_jax_to_transformers(t, 2, 32), strict=True)
  images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
  with torch.no_grad():
    logits, embedding = reference(pixel_values=images).logits, reference.vit(images).last_hidden_state[:, 0]
  ours = zoo.load_npz(path)
  our_logits, our_embedding = ours(nhwc(images))
  assert_close(our_logits, logits.numpy(), "AugReg ViT logits")
  assert_close(our_embedding, embedding.numpy(), "AugReg ViT embedding")
  assert zoo.augreg_hparams(path.name) == {"arch": "S_16", "data": "i21k", "epochs": 300, "lr": 0.001,
                                           "aug": "medium1", "wd": 0.1, "do": 0.0, "sd": 0.0}


def mixer_reference(t, images, depth):
  """MLP-Mixer from the paper's equations, in PyTorch, reading the .npz names directly."""
  w = {k: torch.from_numpy(v) for k, v in t.items()}
  gelu = lambda x: F.gelu(x, approximate="tanh")
  norm = lambda x, name: F.layer_norm(x, x.shape[-1:], w[f"{name}/scale"], w[f"{name}/bias"], 1e-6)
  mlp = lambda x, name: gelu(x @ w[f"{name}/Dense_0/kernel"] + w[f"{name}/Dense_0/bias"]) @ \
      w[f"{name}/Dense_1/kernel"] + w[f"{name}/Dense_1/bias"]
  patch = t["stem/kernel"].shape[0]
  x = F.conv2d(images, w["stem/kernel"].permute(3, 2, 0, 1), w["stem/bias"], stride=patch)
  x = x.flatten(2).transpose(1, 2)
  for i in range(depth):
    x = x + mlp(norm(x, f"MixerBlock_{i}/LayerNorm_0").transpose(1, 2), f"MixerBlock_{i}/token_mixing").transpose(1, 2)
    x = x + mlp(norm(x, f"MixerBlock_{i}/LayerNorm_1"), f"MixerBlock_{i}/channel_mixing")
  embedding = norm(x, "pre_head_layer_norm").mean(1)
  return embedding @ w["head/kernel"] + w["head/bias"], embedding


def test_npz_mixer_matches_an_independent_pytorch_mixer(tmp_path):
  rng = np.random.default_rng(1)
  width, tokens, depth, patch = 24, 16, 2, 8
  t = {"stem/kernel": _normal(rng, patch, patch, 3, width, scale=0.1), "stem/bias": _normal(rng, width),
       "pre_head_layer_norm/scale": 1 + _normal(rng, width), "pre_head_layer_norm/bias": _normal(rng, width),
       "head/kernel": _normal(rng, width, 7), "head/bias": _normal(rng, 7)}
  for i in range(depth):
    for norm in ("LayerNorm_0", "LayerNorm_1"):
      t[f"MixerBlock_{i}/{norm}/scale"], t[f"MixerBlock_{i}/{norm}/bias"] = 1 + _normal(rng, width), \
          _normal(rng, width)
    for name, size, hidden in (("token_mixing", tokens, 12), ("channel_mixing", width, 40)):
      t[f"MixerBlock_{i}/{name}/Dense_0/kernel"] = _normal(rng, size, hidden)
      t[f"MixerBlock_{i}/{name}/Dense_0/bias"] = _normal(rng, hidden)
      t[f"MixerBlock_{i}/{name}/Dense_1/kernel"] = _normal(rng, hidden, size)
      t[f"MixerBlock_{i}/{name}/Dense_1/bias"] = _normal(rng, size)
  np.savez(tmp_path / "mixer.npz", **t)
  images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
  logits, embedding = mixer_reference(t, images, depth)
  our_logits, our_embedding = zoo.load_npz(tmp_path / "mixer.npz")(nhwc(images))
  assert_close(our_logits, logits.numpy(), "Mixer logits")
  assert_close(our_embedding, embedding.numpy(), "Mixer embedding")


@pytest.fixture(scope="module")
def tiny_resnet_dir(tmp_path_factory):
  model = randomize(T.ResNetForImageClassification(T.ResNetConfig(
      embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1], num_labels=3)))
  directory = tmp_path_factory.mktemp("tiny_resnet")
  model.save_pretrained(directory)
  return directory


def _copy(src, dst):
  dst.mkdir()
  for file in src.iterdir():
    (dst / file.name).write_bytes(file.read_bytes())
  return dst


def test_second_load_reuses_the_cache_and_damaged_cache_is_rebuilt(tiny_resnet_dir, tmp_path, monkeypatch):
  cache = tmp_path / "cache"
  images = jnp.asarray(np.random.default_rng(0).normal(size=(2, 32, 32, 3)), jnp.float32)
  first = zoo.load_pretrained(str(tiny_resnet_dir), cache_dir=cache)
  entries = list(cache.iterdir())
  assert len(entries) == 1

  def no_conversion(*args, **kwargs):
    raise AssertionError("converted again although cached")
  monkeypatch.setattr(huggingface, "load_into", no_conversion)
  second = zoo.load_pretrained(str(tiny_resnet_dir), cache_dir=cache)
  np.testing.assert_array_equal(np.asarray(first(images)[0]), np.asarray(second(images)[0]))
  monkeypatch.undo()

  for file in (entries[0] / "state").rglob("*"):  # damage every file of the cached checkpoint
    if file.is_file():
      file.write_bytes(b"garbage")
  third = zoo.load_pretrained(str(tiny_resnet_dir), cache_dir=cache)
  np.testing.assert_array_equal(np.asarray(first(images)[0]), np.asarray(third(images)[0]))

  changed = _copy(tiny_resnet_dir, tmp_path / "changed")  # other weights → another cache key
  tensors = load_file(changed / "model.safetensors")
  tensors["classifier.1.bias"] = tensors["classifier.1.bias"] + 1
  save_file(tensors, changed / "model.safetensors", metadata={"format": "pt"})
  shifted = zoo.load_pretrained(str(changed), cache_dir=cache)
  np.testing.assert_allclose(np.asarray(shifted(images)[0]), np.asarray(first(images)[0]) + 1, atol=1e-5)
  assert len(list(cache.iterdir())) == 2


def _edit(tiny_resnet_dir, tmp_path, edit_tensors=None, edit_config=None):
  directory = _copy(tiny_resnet_dir, tmp_path / "edited")
  if edit_tensors:
    tensors = load_file(directory / "model.safetensors")
    edit_tensors(tensors)
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
  if edit_config:
    config = json.loads((directory / "config.json").read_text())
    edit_config(config)
    (directory / "config.json").write_text(json.dumps(config))
  return directory


def _truncate(directory):
  data = (directory / "model.safetensors").read_bytes()
  (directory / "model.safetensors").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage, message", [
    (dict(edit_tensors=lambda t: t.update({"resnet.extra.weight": torch.zeros(3)})), "resnet.extra.weight"),
    (dict(edit_tensors=lambda t: t.pop("resnet.encoder.stages.1.layers.0.layer.1.convolution.weight")),
     "stages.1.0.layers.1.conv.kernel"),
    (dict(edit_config=lambda c: c.update(hidden_sizes=[16, 40])), "has shape"),
    (dict(edit_config=lambda c: c.update(model_type="swinv2")), "'swinv2' is not supported"),
    ("truncate", "truncated"),
])
def test_bad_checkpoints_name_the_tensor_and_cache_nothing(tiny_resnet_dir, tmp_path, damage, message):
  if damage == "truncate":
    directory = _copy(tiny_resnet_dir, tmp_path / "edited")
    _truncate(directory)
  else:
    directory = _edit(tiny_resnet_dir, tmp_path, **damage)
  cache = tmp_path / "cache"
  with pytest.raises(ConversionError, match=message) as error:
    zoo.load_pretrained(str(directory), cache_dir=cache)
  assert "edited" in str(error.value)  # the model (its source) is named
  assert not cache.exists() or not any(cache.iterdir())


def test_pickled_weights_are_refused(tiny_resnet_dir, tmp_path):
  directory = _copy(tiny_resnet_dir, tmp_path / "pickled")
  (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
  with pytest.raises(FileNotFoundError, match="pickled weights are not read"):
    zoo.load_pretrained(str(directory), cache_dir=tmp_path / "cache")


def test_offline_hub_error_names_the_repo_and_the_local_alternative(tmp_path):
  with pytest.raises(FileNotFoundError) as error:
    zoo.load_pretrained("google/vit-base-patch16-224", cache_dir=tmp_path)
  assert "google/vit-base-patch16-224" in str(error.value) and "local directory" in str(error.value)


def test_truncated_npz_is_a_clear_error(tmp_path):
  np.savez(tmp_path / "vit.npz", **vit_jax_checkpoint(np.random.default_rng(0)))
  data = (tmp_path / "vit.npz").read_bytes()
  (tmp_path / "vit.npz").write_bytes(data[:1000])
  with pytest.raises(ConversionError, match="download it again"):
    zoo.load_npz(tmp_path / "vit.npz")


def transformers_clip_to_openai(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
  """transformers' CLIP tensors in openai/CLIP's names and layout (fused in_proj, raw
  ``x @ proj`` matrices), written from the two layouts' documentation."""
  out = {}
  towers = (("vision_model.encoder.layers.", "visual.transformer.resblocks."),
            ("text_model.encoder.layers.", "transformer.resblocks."))
  simple = {"vision_model.embeddings.patch_embedding.weight": "visual.conv1.weight",
            "vision_model.embeddings.class_embedding": "visual.class_embedding",
            "vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
            "vision_model.pre_layrnorm.weight": "visual.ln_pre.weight", "vision_model.pre_layrnorm.bias": "visual.ln_pre.bias",
            "vision_model.post_layernorm.weight": "visual.ln_post.weight",
            "vision_model.post_layernorm.bias": "visual.ln_post.bias",
            "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
            "text_model.embeddings.position_embedding.weight": "positional_embedding",
            "text_model.final_layer_norm.weight": "ln_final.weight", "text_model.final_layer_norm.bias": "ln_final.bias",
            "logit_scale": "logit_scale"}
  for name, tensor in state.items():
    if name in simple:
      out[simple[name]] = tensor
    elif name == "visual_projection.weight":
      out["visual.proj"] = tensor.T
    elif name == "text_projection.weight":
      out["text_projection"] = tensor.T
  for hf, openai in towers:
    layers = {int(n[len(hf):].split(".")[0]) for n in state if n.startswith(hf)}
    for i in layers:
      src, dst = f"{hf}{i}.", f"{openai}{i}."
      for kind in ("weight", "bias"):
        out[f"{dst}attn.in_proj_{kind}"] = torch.cat([state[f"{src}self_attn.{p}_proj.{kind}"] for p in "qkv"])
        out[f"{dst}attn.out_proj.{kind}"] = state[f"{src}self_attn.out_proj.{kind}"]
        out[f"{dst}ln_1.{kind}"], out[f"{dst}ln_2.{kind}"] = state[f"{src}layer_norm1.{kind}"], \
            state[f"{src}layer_norm2.{kind}"]
        out[f"{dst}mlp.c_fc.{kind}"], out[f"{dst}mlp.c_proj.{kind}"] = state[f"{src}mlp.fc1.{kind}"], \
            state[f"{src}mlp.fc2.{kind}"]
  return {k: v.contiguous() for k, v in out.items()}


def test_openai_format_vit_clip_matches_transformers_clip(tmp_path):
  config = T.CLIPConfig(
      text_config=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=1, intermediate_size=256,
                       vocab_size=100, max_position_embeddings=16, eos_token_id=2),
      vision_config=dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=1, intermediate_size=256,
                         image_size=32, patch_size=8), projection_dim=24)  # OpenAI layout: heads = width / 64
  model = randomize(T.CLIPModel(config))
  state = {k: v.detach() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
  save_file(transformers_clip_to_openai(state), tmp_path / "open_clip_model.safetensors")
  ids = torch.randint(3, 97, (4, 16), generator=torch.Generator().manual_seed(0))
  ids[:, 9], ids[:, 10:] = 99, 0  # end token = the largest id, as OpenAI's argmax pooling expects
  images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
  with torch.no_grad():
    image_features = model.get_image_features(pixel_values=images).pooler_output.numpy()
    text_features = model.get_text_features(input_ids=ids).pooler_output.numpy()
  ours = zoo.load_openai_clip(str(tmp_path), cache_dir=tmp_path / "cache")
  assert_close(ours.encode_image(nhwc(images)), image_features, "OpenAI-format ViT image features")
  assert_close(ours.encode_text(jnp.asarray(ids.numpy())), text_features, "OpenAI-format text features")


class ReferenceModifiedResNet(torch.nn.Module):
  """CLIP's modified ResNet from the paper's description (3-conv stem + avg-pool,
  avg-pool before strided 1×1 convs, attention pooling), in openai/CLIP's tensor names."""

  def __init__(self, layers, width, heads, resolution, out_dim):
    super().__init__()
    nn = torch.nn
    half = width // 2
    self.conv1, self.bn1 = nn.Conv2d(3, half, 3, 2, 1, bias=False), nn.BatchNorm2d(half)
    self.conv2, self.bn2 = nn.Conv2d(half, half, 3, 1, 1, bias=False), nn.BatchNorm2d(half)
    self.conv3, self.bn3 = nn.Conv2d(half, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)
    inplanes, self.strides = width, []
    for index, depth in enumerate(layers):
      planes, blocks = width * 2 ** index, []
      for j in range(depth):
        stride = 2 if index and not j else 1
        block = nn.Module()
        block.conv1, block.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)
        block.conv2, block.bn2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False), nn.BatchNorm2d(planes)
        block.conv3, block.bn3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4)
        block.stride = stride
        if stride > 1 or inplanes != planes * 4:
          block.downsample = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
        blocks.append(block)
        inplanes = planes * 4
      setattr(self, f"layer{index + 1}", nn.Sequential(*blocks))
    self.attnpool = nn.Module()
    self.attnpool.positional_embedding = nn.Parameter(torch.randn((resolution // 32) ** 2 + 1, inplanes))
    for name in "qkv":
      setattr(self.attnpool, f"{name}_proj", nn.Linear(inplanes, inplanes))
    self.attnpool.c_proj = nn.Linear(inplanes, out_dim)
    self.heads, self.layers = heads, layers

  def forward(self, x):
    pool = lambda y, s: F.avg_pool2d(y, s) if s > 1 else y
    for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
      x = F.relu(bn(conv(x)))
    x = F.avg_pool2d(x, 2)
    for index in range(len(self.layers)):
      for b in getattr(self, f"layer{index + 1}"):
        out = pool(F.relu(b.bn2(b.conv2(F.relu(b.bn1(b.conv1(x)))))), b.stride)
        out = b.bn3(b.conv3(out))
        shortcut = b.downsample(pool(x, b.stride)) if hasattr(b, "downsample") else x
        x = F.relu(out + shortcut)
    a = self.attnpool
    tokens = x.flatten(2).permute(2, 0, 1)  # (HW, N, C)
    tokens = torch.cat([tokens.mean(0, keepdim=True), tokens]) + a.positional_embedding[:, None]
    out, _ = F.multi_head_attention_forward(
        tokens, tokens, tokens, tokens.shape[-1], self.heads, None,
        torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]), None, None, False, 0.0, a.c_proj.weight,
        a.c_proj.bias, training=False, need_weights=False, use_separate_proj_weight=True,
        q_proj_weight=a.q_proj.weight, k_proj_weight=a.k_proj.weight, v_proj_weight=a.v_proj.weight)
    return out[0]


def test_openai_format_resnet_clip_tower_matches_a_pytorch_reference(tmp_path):
  width, layers, out_dim, resolution = 16, (1, 2, 1, 1), 24, 64
  visual = randomize(ReferenceModifiedResNet(layers, width, width * 32 // 64, resolution, out_dim))
  text = randomize(T.CLIPModel(T.CLIPConfig(
      text_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=256,
                       vocab_size=50, max_position_embeddings=8, eos_token_id=2),
      vision_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=256,
                         image_size=32, patch_size=16), projection_dim=out_dim)))
  tensors = {k: v for k, v in transformers_clip_to_openai(text.state_dict()).items() if not k.startswith("visual.")}
  tensors.update({f"visual.{k}": v.detach().contiguous() for k, v in visual.state_dict().items()
                  if not k.endswith("num_batches_tracked")})
  save_file(tensors, tmp_path / "rn.safetensors")
  images = torch.randn(2, 3, resolution, resolution, generator=torch.Generator().manual_seed(2))
  with torch.no_grad():
    reference = visual(images).numpy()
  ours = zoo.load_openai_clip(str(tmp_path / "rn.safetensors"), cache_dir=tmp_path / "cache")
  assert ours.vision.config.layers == layers and ours.vision.config.image_size == resolution
  assert_close(ours.encode_image(nhwc(images)), reference, "CLIP modified-ResNet image features")


@pytest.mark.parametrize("out_channels,kernel", [(6, 3), (4, 3), (4, 1)])
def test_a_pytorch_conv1d_weight_loads_as_its_own_kernel_not_transposed(out_channels, kernel):
  """torch Conv1d weight [out, in, k] → flax kernel [k, in, out] (zoo.converters.mapping), the square
  pointwise case included: left unmoved, [4, 4, 1] would pass as a [4, 4] kernel, silently transposed.
  The loaded nnx layer (Conv, or Linear for k = 1) must equal torch's own conv1d."""
  from flax import nnx
  from zoo.converters import mapping
  torch.manual_seed(0)
  conv = torch.nn.Conv1d(4, out_channels, kernel)
  x = torch.randn(2, 4, 9)
  with torch.no_grad():
    expected = conv(x).permute(0, 2, 1).numpy()                        # [batch, length, out]
  holder = nnx.Dict(layer=nnx.Linear(4, out_channels, rngs=nnx.Rngs(0)) if kernel == 1 else
                    nnx.Conv(4, out_channels, (kernel,), padding="VALID", rngs=nnx.Rngs(0)))
  loaded = mapping.load_into(holder, {"layer.weight": conv.weight.detach().numpy(),
                                      "layer.bias": conv.bias.detach().numpy()}, model_name="conv1d")
  ours = loaded["layer"](jnp.asarray(x.permute(0, 2, 1).numpy()))
  np.testing.assert_allclose(np.asarray(ours), expected, rtol=1e-5, atol=1e-5)
