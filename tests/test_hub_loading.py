"""Downloads through the real huggingface_hub client, against the stand-in Hub of
tests/hub_server.py: revisions are requested, only a row's files come down, the weights lock
records and checks what came, gs:// files come over HTTPS, and each failure says what and how
to fix it. Small random models (transformers' own classes make the files)."""

from __future__ import annotations

import dataclasses
import http.server
import io
import json
import threading

import numpy as np
import pytest
import torch
import transformers as T
from safetensors.torch import save_file

import zoo
from hub_server import PLACEHOLDER, LocalHub
from launch import weights_lock
from test_zoo_converters import transformers_clip_to_openai
from test_zoo_parity import assert_close, nhwc, randomize, toy_clip_vocabulary
from zoo.converters.big_vision import RemoteFileError, fetch_npz, file_sha256, load_npz
from zoo.converters.huggingface import HubError
from zoo.preprocessing import Preprocessing
from zoo.registry import ModelEntry, WeightSource

VIT_REPO, CLIP_REPO = "test-org/tiny-vit", "test-org/tiny_clip.openai"
GELU_CLIP_REPO = "laion-like/tiny-CLIP-gelu"  # as laion/CLIP-ViT-B-32-laion2B-s34B-b79K: exact GELU


def _saved(model, directory) -> dict[str, bytes]:
  model.save_pretrained(directory)
  return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
  """A small transformers ViT classifier and its saved files (config.json, model.safetensors)."""
  model = randomize(T.ViTForImageClassification(T.ViTConfig(
      hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8,
      num_labels=10))).eval()
  return model, _saved(model, tmp_path_factory.mktemp("vit"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
  """A small CLIP in open_clip's OpenAI format, with CLIP's tokenizer files, as timm publishes
  ``timm/resnet50_clip.openai`` (a timm config.json without model_type)."""
  directory = tmp_path_factory.mktemp("clip")
  vocab_size = toy_clip_vocabulary(directory, ["a photo of a cat", "a photo of a dog"])
  config = T.CLIPConfig(
      text_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=256,
                       vocab_size=vocab_size, max_position_embeddings=16, eos_token_id=vocab_size - 1),
      vision_config=dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=256,
                         image_size=32, patch_size=8), projection_dim=24)
  model = randomize(T.CLIPModel(config)).eval()
  state = {k: v.detach() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
  save_file(transformers_clip_to_openai(state), directory / "open_clip_model.safetensors")
  (directory / "config.json").write_text(json.dumps({"architecture": "vit_base_patch32_clip_224", "num_classes": 0}))
  return model, {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.fixture(scope="module")
def gelu_clip(tmp_path_factory):
  """A small CLIP trained (here: randomised) with exact GELU, in open_clip's format with the
  ``open_clip_config.json`` open_clip writes (its model_cfg has no ``quick_gelu``: nn.GELU)."""
  directory = tmp_path_factory.mktemp("gelu_clip")
  tower = dict(hidden_size=64, num_hidden_layers=1, num_attention_heads=1, intermediate_size=256, hidden_act="gelu")
  config = T.CLIPConfig(text_config=dict(**tower, vocab_size=50, max_position_embeddings=16, eos_token_id=49),
                        vision_config=dict(**tower, image_size=32, patch_size=8), projection_dim=24)
  model = randomize(T.CLIPModel(config)).eval()
  state = {k: v.detach() for k, v in model.state_dict().items() if not k.endswith("position_ids")}
  save_file(transformers_clip_to_openai(state), directory / "open_clip_model.safetensors")
  (directory / "open_clip_config.json").write_text(json.dumps({"model_cfg": {
      "embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 8},
      "text_cfg": {"context_length": 16, "vocab_size": 50, "width": 64, "heads": 1, "layers": 1}},
      "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}))
  return model, {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.fixture(scope="module")
def hub(vit, clip, gelu_clip):
  """The stand-in Hub, with huggingface_hub pointed at it."""
  with LocalHub() as server, server.client():
    files = vit[1]
    # As facebook/dino-vitb16 and others: main has pickled weights only, a Hub PR adds safetensors.
    server.add(VIT_REPO, {"config.json": files["config.json"], "pytorch_model.bin": PLACEHOLDER})
    server.add(VIT_REPO, {**files, "pytorch_model.bin": PLACEHOLDER, "tf_model.h5": PLACEHOLDER},
               refs=("refs/pr/1",))
    # As timm's and laion's CLIP repos: the same weights in two formats; only open_clip's is read.
    server.add(CLIP_REPO, {**clip[1], "model.safetensors": PLACEHOLDER, "open_clip_pytorch_model.bin": PLACEHOLDER})
    server.add(GELU_CLIP_REPO, gelu_clip[1])
    yield server


def _vit_logits(model, images):
  with torch.no_grad():
    return model(pixel_values=images).logits.numpy()


def test_revision_is_requested_and_only_the_converters_files_come_down(hub, vit, tmp_path):
  images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
  ours = zoo.load_pretrained(VIT_REPO, revision="refs/pr/1", hub_cache=tmp_path / "hub", cache_dir=tmp_path / "conv")
  assert_close(ours(nhwc(images))[0], _vit_logits(vit[0], images), "ViT logits through the stand-in Hub")
  assert sorted(hub.downloads(VIT_REPO)) == ["config.json", "model.safetensors"]


def test_a_revision_without_the_weights_names_the_revision_and_the_fix(hub, tmp_path):
  with pytest.raises(HubError, match=r"(?s)'test-org/tiny-vit' at revision 'main'.*no model\.safetensors.*refs/pr/N"):
    zoo.load_pretrained(VIT_REPO, hub_cache=tmp_path / "hub", cache_dir=tmp_path / "conv")
  with pytest.raises(HubError, match=r"has no revision 'refs/pr/9'.*WeightSource\.revision"):
    zoo.load_pretrained(VIT_REPO, revision="refs/pr/9", hub_cache=tmp_path / "hub")
  with pytest.raises(HubError, match="does not exist"):
    zoo.load_pretrained("test-org/no-such-repo", hub_cache=tmp_path / "hub")
  assert "pytorch_model.bin" not in hub.downloads(VIT_REPO)


def test_openai_clip_repo_downloads_one_format_and_its_tokenizer(hub, clip, tmp_path):
  model, _ = clip
  hub.requests.clear()
  ours = zoo.load_openai_clip(CLIP_REPO, hub_cache=tmp_path / "hub", cache_dir=tmp_path / "conv")
  tokenizer = zoo.load_tokenizer(CLIP_REPO, context_length=16, hub_cache=tmp_path / "hub")
  downloaded = set(hub.downloads(CLIP_REPO))
  assert "open_clip_model.safetensors" in downloaded and {"vocab.json", "merges.txt"} <= downloaded
  assert not downloaded & {"model.safetensors", "open_clip_pytorch_model.bin"}
  ids = tokenizer(["a photo of a cat", "a photo of a dog"])
  assert ids.shape == (2, 16) and ids.dtype == np.int32
  with torch.no_grad():
    reference = model.get_text_features(input_ids=torch.as_tensor(np.asarray(ids), dtype=torch.long)).pooler_output
  assert_close(ours.encode_text(ids), reference.numpy(), "text features of the timm-hosted CLIP's tokens")


def _clip_row(act: str) -> ModelEntry:
  """A zero-shot row on GELU_CLIP_REPO whose builder uses activation ``act``."""
  from zoo.architectures.clip import CLIP
  from zoo.converters.openai_clip import clip_configs
  shapes = {"text_projection": (64, 24), "visual.proj": (64, 24), "visual.conv1.weight": (64, 3, 8, 8),
            "visual.positional_embedding": (17, 64), "visual.transformer.resblocks.0.x": (1,),
            "ln_final.weight": (64,), "token_embedding.weight": (50, 64), "positional_embedding": (16, 64),
            "transformer.resblocks.0.x": (1,)}
  return ModelEntry(name=f"tiny_clip.{act}", builder=lambda rngs: CLIP(*clip_configs(shapes, act), rngs=rngs),
                    weights=WeightSource("openai_clip", GELU_CLIP_REPO), preprocessing=Preprocessing(32, 1.0, "bicubic"),
                    num_classes=10, objective="contrastive image-text", pretraining_data="x", architecture="vit")


def test_an_open_clip_retraining_loads_with_the_activation_its_config_names(hub, gelu_clip, tmp_path):
  """laion's ViT-B/32 was trained with exact GELU, OpenAI's with quick_gelu: the activation is
  read from open_clip_config.json, and a row whose builder says otherwise is refused (the
  wrong activation loads without error and gives wrong features)."""
  images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
  with torch.no_grad():
    reference = gelu_clip[0].get_image_features(pixel_values=images).pooler_output.numpy()
  cache = dict(hub_cache=tmp_path / "hub")
  assert_close(zoo.load_openai_clip(GELU_CLIP_REPO, cache_dir=tmp_path / "conv", **cache).encode_image(nhwc(images)),
               reference, "image features, activation from open_clip_config.json")
  assert_close(zoo.load(_clip_row("gelu"), tmp_path, **cache).encode_image(nhwc(images)), reference,
               "image features of a row whose builder uses gelu")
  with pytest.raises(zoo.ConversionError, match=r"asked for activation 'quick_gelu'.*trained with 'gelu'.*hidden_act"):
    zoo.load(_clip_row("quick_gelu"), tmp_path, **cache)


def test_the_pre_flight_check_names_an_open_clip_rows_wrong_activation(hub, tmp_path):
  from zoo.hub_check import check_row
  assert check_row(_clip_row("gelu"), hub_cache=tmp_path).ready
  wrong = check_row(_clip_row("quick_gelu"), hub_cache=tmp_path)
  assert not wrong.ready and "activation: builder 'quick_gelu' vs open_clip_config.json 'gelu'" in wrong.message


def _entry(name, kind, location, revision=None):
  return ModelEntry(name=name, builder=lambda rngs: None, weights=WeightSource(kind, location, revision=revision),
                    preprocessing=Preprocessing(32, 1.0, "bilinear"), num_classes=10, objective="supervised",
                    pretraining_data="x", architecture="vit")


def test_weights_lock_records_then_pins_the_commit_and_catches_a_changed_file(hub, vit, tmp_path):
  lock = tmp_path / "weights.lock.json"
  entry = _entry("tiny_vit", "huggingface", VIT_REPO, revision="refs/pr/1")
  first = weights_lock.check(lock, entry, tmp_path, hub_cache=tmp_path / "hub")
  commit = hub.repos[VIT_REPO].refs["refs/pr/1"]
  assert first.commit == commit
  assert first.files == {"model.safetensors": file_sha256(_write(tmp_path / "w", vit[1]["model.safetensors"]))}
  assert json.loads(lock.read_text())["rows"]["tiny_vit"]["commit"] == commit
  # The PR branch moves on: the lock's commit is what is downloaded again, and it still checks.
  moved = hub.add(VIT_REPO, {**vit[1], "extra.json": b"{}"}, refs=("refs/pr/1",))
  assert moved != commit
  assert weights_lock.check(lock, entry, tmp_path, hub_cache=tmp_path / "hub2") == first
  # The same commit's file changed on another machine's download: stop, naming row, file, both values.
  hub.replace_file(VIT_REPO, commit, "model.safetensors", vit[1]["model.safetensors"][:-4] + b"\0\0\0\0")
  with pytest.raises(weights_lock.LockMismatch,
                     match=rf"'tiny_vit': the sha256 of model\.safetensors is '[0-9a-f]{{64}}' but .* records "
                           rf"'{first.files['model.safetensors']}'"):
    weights_lock.check(lock, entry, tmp_path, hub_cache=tmp_path / "hub3")
  hub.replace_file(VIT_REPO, commit, "model.safetensors", vit[1]["model.safetensors"])
  # An edited row (another revision than the one locked) is named too.
  with pytest.raises(weights_lock.LockMismatch, match="the requested revision is 'main'"):
    weights_lock.check(lock, dataclasses.replace(entry, weights=WeightSource("huggingface", VIT_REPO, revision="main")),
                       tmp_path, hub_cache=tmp_path / "hub")
  rows = [{"model": "tiny_vit"}, {"model": "trained"}]
  weights_lock.annotate(rows, lock)
  assert rows[0]["weights_source"].startswith(commit[:12]) and first.files["model.safetensors"][:12] in \
      rows[0]["weights_source"] and rows[1]["weights_source"] == ""


def test_the_study_stops_on_a_lock_mismatch_with_a_config_error(hub, tmp_path):
  from launch.study import pipeline
  from launch.study.config import ConfigError
  lock = tmp_path / "weights.lock.json"
  entry = _entry("tiny_vit", "huggingface", VIT_REPO, revision="refs/pr/1")
  locked = pipeline._locked(lock, entry, tmp_path)
  data = json.loads(lock.read_text())
  data["rows"]["tiny_vit"]["files"]["model.safetensors"] = "0" * 64
  lock.write_text(json.dumps(data))
  with pytest.raises(ConfigError, match=rf"'tiny_vit'.*records '{'0' * 64}'"):
    pipeline._locked(lock, entry, tmp_path)
  assert locked.commit == hub.repos[VIT_REPO].refs["refs/pr/1"]
  with pytest.raises(ConfigError, match="has no revision"):
    pipeline._locked(tmp_path / "other.lock", _entry("x", "huggingface", VIT_REPO, revision="v9"), tmp_path)


def _write(path, data):
  path.write_bytes(data)
  return path


class _Bucket(http.server.BaseHTTPRequestHandler):
  objects: dict[str, bytes] = {}

  def log_message(self, *args):
    pass

  def do_GET(self):
    data = self.objects.get(self.path)
    self.send_response(200 if data is not None else 404)
    self.send_header("Content-Length", str(len(data or b"")))
    self.end_headers()
    self.wfile.write(data or b"")


def test_gs_npz_comes_over_https_and_a_missing_object_is_not_called_corrupt(tmp_path):
  tensors = {"stem/kernel": np.ones((4, 4, 3, 8), np.float32)}
  buffer = io.BytesIO()
  np.savez(buffer, **tensors)
  _Bucket.objects = {"/bucket/dir/model.npz": buffer.getvalue()}
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Bucket)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  endpoint = f"http://127.0.0.1:{server.server_address[1]}"
  try:
    local = fetch_npz("gs://bucket/dir/model.npz", cache_dir=tmp_path, gcs_endpoint=endpoint)
    assert local == tmp_path / "gcs" / "bucket" / "dir" / "model.npz" and local.read_bytes() == buffer.getvalue()
    assert not list(local.parent.glob(".*partial"))
    _Bucket.objects = {}  # cached: not fetched again
    assert fetch_npz("gs://bucket/dir/model.npz", cache_dir=tmp_path, gcs_endpoint=endpoint) == local
    with pytest.raises(RemoteFileError, match=r"HTTP 404.*not public") as error:
      load_npz("gs://bucket/dir/other.npz", cache_dir=tmp_path, gcs_endpoint=endpoint)
    assert "download it again" not in str(error.value)
  finally:
    server.shutdown()
    server.server_close()
  with pytest.raises(RemoteFileError, match="offline or behind a firewall"):
    fetch_npz("gs://bucket/x.npz", cache_dir=tmp_path, gcs_endpoint=endpoint)


def test_clip_tokenizer_without_a_transformers_config(tmp_path):
  """open_clip's repos: vocab.json + merges.txt, no config.json (or timm's, without model_type)."""
  toy_clip_vocabulary(tmp_path, ["a photo of a cat"])
  ids = zoo.load_tokenizer(str(tmp_path), context_length=8)(["a photo of a cat"])
  assert ids.shape == (1, 8) and ids[0, 0] != ids[0, 1]
  (tmp_path / "vocab.json").unlink()
  with pytest.raises(ValueError, match="CLIP's vocab.json"):
    zoo.load_tokenizer(str(tmp_path))


@pytest.mark.parametrize("mode", ["SAME", "DIFFERENT"])
def test_processes_compare_their_lock_entries(mode):
  """Two jax.distributed processes (gloo on 127.0.0.1): equal entries pass; a host whose file
  hash differs stops both, naming the row and the differing process."""
  import socket
  import subprocess
  import sys
  from pathlib import Path
  with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = str(probe.getsockname()[1])
  job = Path(__file__).parent / "jobs" / "weights_lock_job.py"
  processes = [subprocess.Popen([sys.executable, str(job), str(i), port, mode], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outputs = [p.communicate(timeout=240)[0] for p in processes]
  codes = [p.returncode for p in processes]
  if mode == "SAME":
    assert codes == [0, 0] and all("agreed" in out for out in outputs), outputs
  else:
    assert codes == [3, 3], outputs
    assert all("model 'row.a': processes [1] downloaded weights that differ" in out for out in outputs), outputs


def test_check_reads_an_openai_clip_header_and_maps_it(hub, tmp_path):
  from zoo.hub_check import check_row
  hub.requests.clear()
  result = check_row(_entry("tiny_clip", "openai_clip", CLIP_REPO), hub_cache=tmp_path)
  assert result.ready, result.message
  assert hub.downloads(CLIP_REPO) == [] and hub.downloads(CLIP_REPO, ranged=True) == ["open_clip_model.safetensors"]


def test_a_teacher_loads_at_the_locked_commit_after_its_branch_moves(hub, vit, tmp_path):
  """What the study's training stage reads of a downloaded row (a distillation teacher:
  launch.study.zoo_stage._teacher) is the lock's commit, as evaluation's: after main moves to
  other weights, weights_lock.load_locked still gives the recorded model, zoo.load the new one."""
  from safetensors.numpy import load as load_safetensors, save as save_safetensors
  repo, lock = "test-org/tiny-vit-moving", tmp_path / "weights.lock.json"
  hub.add(repo, vit[1])
  entry = _entry("moving_vit", "huggingface", repo)
  images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
  first = weights_lock.load_locked(lock, entry, tmp_path, hub_cache=tmp_path / "hub")
  assert_close(first(nhwc(images))[0], _vit_logits(vit[0], images), "the recorded commit's logits")
  tensors = load_safetensors(vit[1]["model.safetensors"])
  tensors = {k: (2 * v if k.startswith("classifier.") else v) for k, v in tensors.items()}
  hub.add(repo, {**vit[1], "model.safetensors": save_safetensors(tensors, metadata={"format": "pt"})})
  moved = zoo.load(entry, tmp_path, hub_cache=tmp_path / "hub2")
  assert not np.allclose(moved(nhwc(images))[0], first(nhwc(images))[0])  # main now has other weights
  again = weights_lock.load_locked(lock, entry, tmp_path, hub_cache=tmp_path / "hub3")
  np.testing.assert_array_equal(np.asarray(again(nhwc(images))[0]), np.asarray(first(nhwc(images))[0]))
