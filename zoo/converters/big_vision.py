"""Google's ViT / AugReg / MLP-Mixer ``.npz`` checkpoints (vit_jax and big_vision layouts) → nnx.

The architecture is read off the tensor shapes (patch, width, depth, heads, MLP size,
classes, resolution, pre-logits), so any of the tens of thousands of AugReg ViTs loads
without a config. AugReg file names carry the training hyper-parameters
(:func:`augreg_hparams`): a ready-made hyper-parameter category.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
from etils import epath
from flax import nnx

from zoo.abstract import eval_shape
from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.converters.mapping import ConversionError, load_into

_BLOCK = r"^Transformer/encoderblock_(\d+)/"
_VIT_RENAMES = (
    (r"^embedding/", "patch_embed/"),
    (r"^cls$", "cls_token"),
    (r"^Transformer/posembed_input/pos_embedding$", "pos_embed"),
    (_BLOCK + r"LayerNorm_0/", r"blocks/\1/norm1/"),
    (_BLOCK + r"LayerNorm_(1|2)/", r"blocks/\1/norm2/"),
    (_BLOCK + r"MultiHeadDotProductAttention_\d/", r"blocks/\1/attn/"),
    (_BLOCK + r"MlpBlock_\d/Dense_0/", r"blocks/\1/mlp/fc1/"),
    (_BLOCK + r"MlpBlock_\d/Dense_1/", r"blocks/\1/mlp/fc2/"),
    (r"^Transformer/encoder_norm/", "norm/"),
    (r"/", "."),
)
_MIXER_RENAMES = (
    (r"^MixerBlock_(\d+)/LayerNorm_0/", r"blocks/\1/norm1/"),
    (r"^MixerBlock_(\d+)/LayerNorm_1/", r"blocks/\1/norm2/"),
    (r"^MixerBlock_(\d+)/token_mixing/Dense_(\d)/", lambda m: f"blocks/{m[1]}/token_mlp/fc{int(m[2]) + 1}/"),
    (r"^MixerBlock_(\d+)/channel_mixing/Dense_(\d)/", lambda m: f"blocks/{m[1]}/channel_mlp/fc{int(m[2]) + 1}/"),
    (r"^pre_head_layer_norm/", "norm/"),
    (r"/", "."),
)


# Public Google Cloud Storage objects over plain HTTPS: gs://BUCKET/PATH is readable at
# https://storage.googleapis.com/BUCKET/PATH (no gcsfs, TensorFlow or credentials needed).
GCS_HTTPS = "https://storage.googleapis.com"


class RemoteFileError(FileNotFoundError):
  """A remote checkpoint cannot be fetched (network, missing object, or no filesystem for its
  scheme): not a damaged file, so "download it again" is not the advice."""


def fetch_npz(path, *, cache_dir=None, gcs_endpoint: str = GCS_HTTPS) -> epath.Path:
  """The local file of an .npz checkpoint: a local path as is; ``gs://BUCKET/PATH`` downloaded
  once over HTTPS from ``gcs_endpoint``/BUCKET/PATH into ``cache_dir``/gcs/BUCKET/PATH (written
  to a temporary name, then renamed: a killed download is never read as complete). Other
  schemes (s3://, …) go to etils.epath and need their fsspec filesystem installed."""
  text = str(path)
  if not text.startswith("gs://"):
    return epath.Path(path)
  bucket_path = text[len("gs://"):]
  if cache_dir is None:  # the library picks no location of its own (launch/ passes launch.caches.downloads())
    raise ValueError(f"{text}: a gs:// checkpoint is downloaded into cache_dir; pass cache_dir=DIR "
                     "(e.g. launch.caches.downloads()).")
  local = epath.Path(cache_dir) / "gcs" / bucket_path
  if local.exists():
    return local
  url = f"{gcs_endpoint.rstrip('/')}/{urllib.parse.quote(bucket_path)}"
  local.parent.mkdir(parents=True, exist_ok=True)
  partial = local.parent / f".{local.name}.{os.getpid()}.partial"
  try:
    with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
      for block in iter(lambda: response.read(1 << 22), b""):
        out.write(block)
  except urllib.error.HTTPError as error:
    partial.unlink(missing_ok=True)
    raise RemoteFileError(f"cannot download {text} from {url}: HTTP {error.code} {error.reason} (the object does "
                          "not exist or is not public; check the row's location).") from None
  except (urllib.error.URLError, OSError) as error:
    partial.unlink(missing_ok=True)
    raise RemoteFileError(f"cannot download {text} from {url} ({type(error).__name__}: {error}); offline or behind "
                          f"a firewall? Download it with `curl -o FILE {url}` and point the row at the file.") \
        from None
  os.replace(partial, local)
  return local


def file_sha256(path) -> str:
  """sha256 of a file's bytes (hex)."""
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 24), b""):
      digest.update(block)
  return digest.hexdigest()


def read_npz(path, *, cache_dir=None, gcs_endpoint: str = GCS_HTTPS) -> dict[str, np.ndarray]:
  """All arrays of an .npz (local, gs:// over HTTPS: :func:`fetch_npz`), without pickle."""
  path = fetch_npz(path, cache_dir=cache_dir, gcs_endpoint=gcs_endpoint)
  try:
    handle = path.open("rb")
  except (ImportError, ModuleNotFoundError) as error:  # fsspec without the scheme's filesystem (s3fs, …)
    raise RemoteFileError(f"cannot open {path}: no filesystem for its scheme is installed ({error}); install it "
                          "or download the file and point the row at the local copy.") from None
  try:
    with handle, np.load(handle, allow_pickle=False) as archive:
      return {name: archive[name] for name in archive.files}
  except Exception as error:  # zipfile/ValueError for truncated files
    raise ConversionError(f"cannot read {path} as .npz ({type(error).__name__}: {error}); download it again.") \
        from None


def _vit_config(tensors) -> ViTConfig:
  patch, _, channels, width = tensors["embedding/kernel"].shape
  depth = len({m[1] for m in (re.match(_BLOCK, k) for k in tensors) if m})
  query = next(v for k, v in tensors.items() if k.endswith("/query/kernel"))
  mlp = next(v for k, v in tensors.items() if re.search(r"MlpBlock_\d/Dense_0/kernel$", k))
  tokens = tensors["Transformer/posembed_input/pos_embedding"].shape[1]
  side = math.isqrt(tokens - 1)
  return ViTConfig(image_size=side * patch, patch_size=patch, num_channels=channels, hidden_size=width,
                   num_hidden_layers=depth, num_attention_heads=query.shape[1], intermediate_size=mlp.shape[1],
                   hidden_act="gelu_new", layer_norm_eps=1e-6,
                   representation_size=tensors["pre_logits/kernel"].shape[1] if "pre_logits/kernel" in tensors else None,
                   num_classes=tensors["head/kernel"].shape[1] if "head/kernel" in tensors else 0)


def _mixer_config(tensors) -> MixerConfig:
  patch, _, channels, width = tensors["stem/kernel"].shape
  depth = len({k.split("/")[0] for k in tensors if k.startswith("MixerBlock_")})
  tokens, tokens_mlp = tensors["MixerBlock_0/token_mixing/Dense_0/kernel"].shape
  return MixerConfig(image_size=math.isqrt(tokens) * patch, patch_size=patch, num_channels=channels,
                     hidden_size=width, num_blocks=depth, tokens_mlp_dim=tokens_mlp,
                     channels_mlp_dim=tensors["MixerBlock_0/channel_mixing/Dense_0/kernel"].shape[1],
                     num_classes=tensors["head/kernel"].shape[1] if "head/kernel" in tensors else 0)


def load_npz(path, *, model_name: str | None = None, cache_dir=None, gcs_endpoint: str = GCS_HTTPS) -> nnx.Module:
  """A ViT (vit_jax / big_vision / AugReg layout) or MLP-Mixer from a Google .npz checkpoint
  (local, or gs:// fetched over HTTPS into ``cache_dir``: :func:`fetch_npz`)."""
  name = model_name or str(path)
  tensors = read_npz(path, cache_dir=cache_dir, gcs_endpoint=gcs_endpoint)
  tensors = {k.replace(".", "/"): v for k, v in tensors.items()}  # some exports join with "."
  if "stem/kernel" in tensors:
    config, module, renames = _mixer_config(tensors), MlpMixer, _MIXER_RENAMES
  elif "embedding/kernel" in tensors:
    config, module, renames = _vit_config(tensors), VisionTransformer, _VIT_RENAMES
  else:
    raise ConversionError(f"model {name!r}: {path} is neither a ViT (embedding/kernel) nor a Mixer (stem/kernel) "
                          "checkpoint.")
  abstract = eval_shape(lambda: module(config, rngs=nnx.Rngs(0)))
  return load_into(abstract, tensors, model_name=name, renames=renames, layout="flax", source=str(path))


def augreg_hparams(filename: str) -> dict[str, object]:
  """Training hyper-parameters from an AugReg file name, e.g.
  ``S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0`` →
  {"arch": "S_16", "data": "i21k", "epochs": 300, "lr": 0.001, "aug": "light1", "wd": 0.03, "do": 0.0, "sd": 0.0}."""
  stem = epath.Path(filename).name.removesuffix(".npz").split("--")[0]
  parts = stem.split("-")
  hparams: dict[str, object] = {"arch": parts[0]}
  for part in parts[1:]:
    if part.endswith("ep") and part[:-2].isdigit():
      hparams["epochs"] = int(part[:-2])
    elif "_" in part:
      key, value = part.split("_", 1)
      try:
        hparams[key] = float(value)
      except ValueError:
        hparams[key] = value
    else:
      hparams["data"] = part
  return hparams
