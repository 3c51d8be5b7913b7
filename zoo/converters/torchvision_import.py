"""A torchvision-format ResNet-50 state dict (``.pth`` / ``.pt``) → a zoo row's directory in timm's format.

The public same-recipe ResNet-50 seeds (the ``paper`` catalog's reinit rows) are published as PyTorch
pickles, not safetensors: SamsungLabs/pytorch-ensembles' ``ImageNet-ResNet50-*.pt*`` (the training
script's ``{"epoch", "arch", "state_dict", "best_acc1", "optimizer"}`` of a ``DataParallel`` model:
keys ``module.conv1.weight`` ...) and TjuJianyu/RRL's ``checkpoint_run{0..9}.pth.tar``
(``{"epoch", "state_dict", "optimizer", "scheduler", "best_acc"}`` of a ``DistributedDataParallel``
``Kmodel``: keys ``module.model0.conv1.weight`` ... and the head ``module.classifier.linear.{weight,
bias}``; src/models.py's ``model_loader`` strips the same prefixes). :func:`import_state_dict` reads one
with ``torch.load(weights_only=True)`` (tensors, numbers, strings and containers only: no code is
unpickled), unwraps it, strips the prefixes, renames RRL's head to ``fc``, checks every tensor against
ResNet-50's names and shapes (timm's ``resnet50`` uses torchvision's names), and writes what timm's
``save_for_hf`` writes: ``model.safetensors`` and ``config.json`` (``architecture``, ``num_classes``,
``num_features``, ``global_pool``, ``pretrained_cfg`` with the row's preprocessing), plus an
``imported_from`` record: the source file, its sha256 and the sha256 of the written safetensors.
``zoo.load_timm`` then reads the directory like any timm export. torch is imported only here (the
``import`` extra).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from zoo.preprocessing import Preprocessing

SAFETENSORS, CONFIG = "model.safetensors", "config.json"
# Where launch.zoo import writes a row's directory and the paper study config looks for it (the
# default --zoo_dir of launch.evaluate too).
DEFAULT_ZOO_DIR = "~/.cache/overlap/zoo"
# Where a training script nests the state dict: torch/examples and pytorch-ensembles ("state_dict"),
# torchvision's references/classification ("model"), pytorch-ensembles' CIFAR code ("model_state").
WRAPPERS = ("state_dict", "model", "model_state")
# (Distributed)DataParallel's "module." and RRL's single-member Kmodel "model0." (RRL src/models.py).
PREFIXES = ("module.", "model0.")
# RRL's classifier (RegLog: BatchNorm1d only with --use_bn, off in its ResNet-50 runs) is torchvision's fc.
HEAD_RENAMES = (("classifier.linear.", "fc."),)
_BATCH_NORM = ("weight", "bias", "running_mean", "running_var")
_OPTIONAL = "num_batches_tracked"  # absent from checkpoints written before torch 0.4.1; unused at inference


class ImportFailed(ValueError):
  """A source file that cannot become the row's weights: names the file, the tensors and the fix."""


@dataclasses.dataclass(frozen=True)
class Imported:
  """What :func:`import_state_dict` wrote: the row directory, the sha256 of the source file and of
  the written model.safetensors, the number of tensors, and the prefixes / renames it applied."""
  directory: Path
  source_sha256: str
  safetensors_sha256: str
  tensors: int
  rewrites: tuple[str, ...]


def resnet50_shapes(num_classes: int = 1000) -> dict[str, tuple[int, ...]]:
  """torchvision's (= timm's) ResNet-50 v1.5 state-dict shapes, ``num_batches_tracked`` aside:
  a 7×7/64 stem and 4 stages of (3, 4, 6, 3) bottlenecks of width w = 64·2^s (1×1 w, 3×3 w,
  1×1 4w; the first block of a stage projects its input with a 1×1 conv + BN), fc 2048 → classes."""
  shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7)}
  shapes.update({f"bn1.{n}": (64,) for n in _BATCH_NORM})
  inplanes = 64
  for stage, blocks in enumerate((3, 4, 6, 3), start=1):
    width = 64 * 2 ** (stage - 1)
    for block in range(blocks):
      prefix = f"layer{stage}.{block}"
      convs = {"conv1": (width, inplanes, 1, 1), "conv2": (width, width, 3, 3), "conv3": (4 * width, width, 1, 1)}
      for index, (conv, shape) in enumerate(convs.items(), start=1):
        shapes[f"{prefix}.{conv}.weight"] = shape
        shapes.update({f"{prefix}.bn{index}.{n}": (shape[0],) for n in _BATCH_NORM})
      if block == 0:
        shapes[f"{prefix}.downsample.0.weight"] = (4 * width, inplanes, 1, 1)
        shapes.update({f"{prefix}.downsample.1.{n}": (4 * width,) for n in _BATCH_NORM})
      inplanes = 4 * width
  shapes.update({"fc.weight": (num_classes, 2048), "fc.bias": (num_classes,)})
  return shapes


def file_sha256(path) -> str:
  """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def _torch():
  try:
    import torch
  except ModuleNotFoundError:
    raise ImportFailed("importing a PyTorch state dict needs PyTorch, which is not installed here: install the "
                       "project's import extra (pip install '.[import]', i.e. torch==2.13.0; or bash scripts/setup.sh "
                       "import) and run it again.") from None
  return torch


def read_state_dict(path: Path) -> dict:
  """The file's state dict (name → torch tensor), unwrapped from :data:`WRAPPERS`; loaded with
  ``torch.load(weights_only=True, map_location="cpu")``."""
  torch = _torch()
  try:
    loaded = torch.load(path, map_location="cpu", weights_only=True)
  except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError ... for foreign files
    reason = _reason(error)
    raise ImportFailed(
        f"{path} does not load with torch.load(weights_only=True) ({type(error).__name__}: {reason[:300]}). It must be "
        "a PyTorch file of tensors, numbers and containers: a checkpoint that also pickles Python objects (e.g. "
        "torchvision's references save argparse 'args') must be re-saved as its bare state dict first, by someone "
        "who trusts the file: torch.save(torch.load(f, weights_only=False)['model'], 'state_dict.pth').") from None
  where = "the file"
  while isinstance(loaded, dict) and not _is_state_dict(loaded):
    wrapper = next((k for k in WRAPPERS if isinstance(loaded.get(k), dict)), None)
    if wrapper is None:
      break
    loaded, where = loaded[wrapper], f"{where}[{wrapper!r}]"
  if not isinstance(loaded, dict) or not _is_state_dict(loaded):
    found = f"a dict with keys {sorted(map(str, loaded))[:12]}" if isinstance(loaded, dict) else type(loaded).__name__
    raise ImportFailed(f"{path}: {where} is {found}, not a state dict (tensor names → tensors, possibly under "
                       f"{list(WRAPPERS)}). Pass the .pth/.pt file of a torchvision-format ResNet-50.")
  return loaded


def _reason(error: Exception) -> str:
  """The informative line of torch.load's error (its weights_only message names the refused global)."""
  text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # torch bolds a warning with terminal escapes
  lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(error).__name__]
  named = [line for line in lines if "Unsupported global" in line]
  return (named or lines)[0].split(" Please use")[0].replace("WeightsUnpickler error: ", "")


def _is_state_dict(mapping: dict) -> bool:
  import torch
  return bool(mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())


def timm_names(state: dict) -> tuple[dict, tuple[str, ...]]:
  """Keys with :data:`PREFIXES` stripped and :data:`HEAD_RENAMES` applied; the rewrites made."""
  renamed, rewrites = {}, set()
  for key, tensor in state.items():
    name = key
    while name.startswith(PREFIXES):
      prefix = next(p for p in PREFIXES if name.startswith(p))
      name = name[len(prefix):]
      rewrites.add(f"strip {prefix!r}")
    for old, new in HEAD_RENAMES:
      if name.startswith(old):
        name = new + name[len(old):]
        rewrites.add(f"{old!r} → {new!r}")
    renamed[name] = tensor
  return renamed, tuple(sorted(rewrites))


def check_tensors(tensors: dict[str, tuple[int, ...]], expected: dict[str, tuple[int, ...]], source) -> None:
  """ImportFailed naming every missing, unexpected and misshapen tensor (``num_batches_tracked``
  may be absent)."""
  missing = sorted(set(expected) - set(tensors))
  unexpected = sorted(n for n in set(tensors) - set(expected)
                      if not (n.endswith(_OPTIONAL) and n[:-len(_OPTIONAL)] + "running_mean" in expected))
  misshapen = sorted(f"{n} {tuple(tensors[n])} (expected {expected[n]})" for n in set(tensors) & set(expected)
                     if tuple(tensors[n]) != expected[n])
  problems = [f"{len(items)} {what}: {', '.join(items[:8])}{' ...' if len(items) > 8 else ''}"
              for what, items in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)) if items]
  if problems:
    raise ImportFailed(f"{source} is not a torchvision-format ResNet-50 state dict (names after stripping "
                       f"{list(PREFIXES)}): {'; '.join(problems)}. Pass the checkpoint of a torchvision resnet50 "
                       "(e.g. a pytorch-ensembles ImageNet-ResNet50-*.pth.tar or an RRL checkpoint_run<i>.pth.tar).")


def timm_config(architecture: str, num_classes: int, preprocessing: Preprocessing, imported_from: dict) -> dict:
  """config.json as timm's ``save_for_hf`` writes it for a ResNet-50 (``pretrained_cfg`` from the
  row's preprocessing), with the ``imported_from`` record as an extra top-level field (timm keeps
  extra fields: ``save_config_for_hf`` updates the config with them)."""
  size = preprocessing.resolution
  pretrained_cfg = {
      "input_size": [preprocessing.channels, size, size], "interpolation": preprocessing.interpolation,
      "crop_pct": preprocessing.crop_fraction, "crop_mode": preprocessing.crop_mode,
      "mean": list(preprocessing.mean), "std": list(preprocessing.std), "num_classes": num_classes,
      "pool_size": [size // 32, size // 32], "first_conv": "conv1", "classifier": "fc",
      "fixed_input_size": False, "custom_load": False}
  return {"architecture": architecture, "num_classes": num_classes, "num_features": 2048, "global_pool": "avg",
          "pretrained_cfg": pretrained_cfg, "imported_from": imported_from}


def import_state_dict(source, directory, *, preprocessing: Preprocessing, num_classes: int = 1000,
                      expected_sha256: str | None = None, overwrite: bool = False,
                      provenance: dict | None = None) -> Imported:
  """Converts the ResNet-50 state dict file ``source`` into ``directory`` in timm's format.

  Every check runs before anything is written: the file exists (and has ``expected_sha256``
  when given), loads with weights_only, holds a state dict whose names (prefixes stripped, RRL's
  head renamed) and shapes are exactly :func:`resnet50_shapes`; ``directory`` does not exist unless
  ``overwrite``. The files are written to a temporary sibling and renamed into place, so a failed
  import leaves nothing behind. Floating tensors are stored as float32. ``provenance`` (e.g. the
  row name and where the weights come from) is kept in config.json's ``imported_from``.
  """
  source, directory = Path(source).expanduser(), Path(directory).expanduser()
  if not source.is_file():
    raise ImportFailed(f"no file {source}: download the checkpoint first (README, 'Reinit rows from public seeds').")
  if directory.exists() and not overwrite:
    raise ImportFailed(f"{directory} already exists: pass --overwrite to replace it, or remove it.")
  source_sha256 = file_sha256(source)
  if expected_sha256 and source_sha256 != expected_sha256.lower():
    raise ImportFailed(f"{source}: sha256 {source_sha256} differs from the expected {expected_sha256}: a different "
                       "or damaged download; download it again from the source the README names.")
  state, rewrites = timm_names(read_state_dict(source))
  check_tensors({n: tuple(t.shape) for n, t in state.items()}, resnet50_shapes(num_classes), source)
  arrays = {name: _numpy(tensor) for name, tensor in state.items()}
  return _write(directory, arrays, source, source_sha256, rewrites, preprocessing, num_classes, provenance or {})


def _numpy(tensor) -> np.ndarray:
  tensor = tensor.detach().cpu()
  return np.array((tensor.float() if tensor.is_floating_point() else tensor).numpy(), order="C")  # 0-d stays 0-d


def _write(directory: Path, arrays, source: Path, source_sha256, rewrites, preprocessing, num_classes,
           provenance) -> Imported:
  from safetensors.numpy import save_file
  directory.parent.mkdir(parents=True, exist_ok=True)
  staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
  try:
    save_file(arrays, str(staging / SAFETENSORS))
    written_sha256 = file_sha256(staging / SAFETENSORS)
    record = {**provenance, "source_file": source.name, "source_sha256": source_sha256,
              "safetensors_sha256": written_sha256, "rewrites": list(rewrites),
              "converter": "zoo.converters.torchvision_import"}
    config = timm_config("resnet50", num_classes, preprocessing, record)
    (staging / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    if directory.exists():
      shutil.rmtree(directory)
    os.replace(staging, directory)
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return Imported(directory, source_sha256, written_sha256, len(arrays), tuple(rewrites))
