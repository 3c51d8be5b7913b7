"""timm's own PyTorch models as the parity reference for zoo.converters.timm.

Runs in the separate timm environment (``.venv-timm``, see scripts/setup_timm.sh: timm needs
a torchvision that does not import beside the main venv's torch), called by
tests/test_zoo_timm.py as ``python tests/timm_reference.py cases.json out_dir``.

cases.json: {"models": [{"name", "architecture", "kwargs", "resolution", "batch"[, "calibration"]}, ...],
"shapes": [architecture or {"name", "architecture", "kwargs"}, ...],
"transforms": [{"name", "height", "width", **data_config}, ...]}. For each model case: ``timm.create_model(architecture,
pretrained=False, **kwargs)``, weights and every norm's scale, bias and running statistics
drawn away from their defaults, written with timm's ``save_for_hf`` (config.json +
model.safetensors) to out_dir/name, with ``images.npy`` (NHWC float32), ``logits.npy``
(``model(x)``) and ``pre_logits.npy`` (``forward_head(forward_features(x), pre_logits=True)``).
For each shapes entry: the state-dict tensor shapes of the default model (built on the
meta device, no memory), in out_dir/shapes.json. For each transforms entry: a random uint8
image of height × width and timm's evaluation transform of it
(``timm.data.create_transform(**data_config)``, or of the data config timm resolves for a
``pretrained`` tag), as out_dir/transforms/name_{in,out}.npy (HWC).
"""

import json
import math
import os
import sys
import time

import numpy as np
import timm
import torch
from timm.models import save_for_hf
from timm.models._manipulate import reinit_non_persistent_buffers


def randomize(model: torch.nn.Module, images: torch.Tensor, seed: int) -> torch.nn.Module:
  """Unit-scale zero-mean random weights, biases ±0.1, norm scales 0.5 ± 0.1 and norm biases
  0.5 ± 0.1 (most ReLUs pass: a random ReLU net in its chaotic regime would amplify float32
  rounding past 1e-4 within ~50 layers; halved scales keep residual sums O(1)); every batch norm's running statistics
  are those of its own input on ``images`` in evaluation mode (so that deep nets keep O(1)
  activations; variances at least a quarter of the layer's mean variance), then moved by 0.2 standard deviations and scaled by 0.8–1.2: no norm is the
  identity and every tensor matters."""
  generator = torch.Generator().manual_seed(seed)
  randn = lambda shape: torch.randn(shape, generator=generator)
  norms = (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d, torch.nn.LayerNorm, torch.nn.GroupNorm)
  model.eval()
  filled = set()
  with torch.no_grad():
    for module in model.modules():
      for name, tensor in module.named_parameters(recurse=False):
        filled.add(id(tensor))
        if isinstance(module, norms):
          tensor.copy_((0.5 + 0.1 * randn(tensor.shape)) if name == "weight" else 0.5 + 0.1 * randn(tensor.shape))
        elif name == "weight" and tensor.ndim in (2, 4):
          weight = randn(tensor.shape) / math.sqrt(math.prod(tensor.shape[1:]))
          # zero mean per output unit: on post-ReLU (positive) inputs the outputs then have little
          # mean for the next norm to cancel, which would amplify float32 rounding layer after layer
          tensor.copy_(weight - weight.flatten(1).mean(1).view(-1, *[1] * (tensor.ndim - 1)))
        elif name == "bias":
          tensor.copy_(0.1 * randn(tensor.shape))
        else:  # token and position embeddings (ViT's cls_token / dist_token / pos_embed): O(1) so they matter
          tensor.copy_(0.5 * randn(tensor.shape))

    def measure(module, inputs):  # runs before the norm, on the already-perturbed upstream output
      x = inputs[0]
      axes = tuple(a for a in range(x.ndim) if a != 1)  # every axis but the channels (BatchNorm1d/2d)
      mean, var = x.mean(axes), x.var(axes)
      var = torch.maximum(var, 0.25 * var.mean())  # near-constant channels would amplify float32 rounding
      module.running_mean.copy_(mean + 0.2 * randn(mean.shape) * var.sqrt())
      module.running_var.copy_(var * (torch.rand(var.shape, generator=generator) * 0.4 + 0.8))

    batch_norms = [m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d))]
    hooks = [m.register_forward_pre_hook(measure) for m in batch_norms]
    model(images)
    for hook in hooks:
      hook.remove()
    for module in batch_norms:
      module.num_batches_tracked.zero_()
      filled.update({id(module.running_mean), id(module.running_var), id(module.num_batches_tracked)})
  unset = [name for name, t in model.state_dict(keep_vars=True).items() if id(t) not in filled]
  assert not unset, f"tensors left uninitialised: {unset[:5]}"  # the model was built on the meta device
  return model


def model_case(case: dict, out_dir: str) -> None:
  with torch.device("meta"):  # timm's own initialisation is replaced anyway: skip its cost
    model = timm.create_model(case["architecture"], pretrained=False, **case.get("kwargs", {}))
  model.to_empty(device="cpu")
  reinit_non_persistent_buffers(model)  # computed buffers (relative position indices, masks) are empty after to_empty
  generator = torch.Generator().manual_seed(1)
  size = case["resolution"]
  images = torch.randn((case["batch"], 3, size, size), generator=generator)
  # statistics of the test batch and more images ("calibration", default 4 in all): nets whose
  # late maps are 1×1 at the test resolution need more samples for well-conditioned norms
  extra = case.get("calibration", 4) - len(images)
  calibration = torch.cat([images, torch.randn((extra, 3, size, size), generator=generator)])
  randomize(model, calibration, seed=2)
  with torch.no_grad():
    features = model.forward_features(images)
    logits, pre_logits = model.forward_head(features), model.forward_head(features, pre_logits=True)
  directory = os.path.join(out_dir, case["name"])
  save_for_hf(model, directory, safe_serialization=True)
  np.save(os.path.join(directory, "images.npy"), images.permute(0, 2, 3, 1).numpy())
  np.save(os.path.join(directory, "logits.npy"), logits.numpy())
  np.save(os.path.join(directory, "pre_logits.npy"), pre_logits.numpy())


def shapes(entries: list) -> dict[str, dict[str, list[int]]]:
  """Each entry: an architecture name (its default model) or {"name", "architecture", "kwargs"}."""
  out = {}
  for entry in entries:
    entry = {"name": entry, "architecture": entry} if isinstance(entry, str) else entry
    with torch.device("meta"):
      model = timm.create_model(entry["architecture"], pretrained=False, **entry.get("kwargs", {}))
    out[entry["name"]] = {name: list(t.shape) for name, t in model.state_dict().items()}
  return out


def transform_case(case: dict, out_dir: str) -> None:
  """A case with ``pretrained`` (a timm tag, e.g. "resnet50.a1_in1k") uses the data config timm
  resolves from that tag's registered pretrained config at its test size (``resolve_data_config(...,
  use_test_size=True)``: what timm's results tables are measured at), written to
  name_config.json; otherwise the case's own data-config fields."""
  from PIL import Image
  from timm.data import create_transform, resolve_data_config
  config = {k: v for k, v in case.items() if k not in ("name", "height", "width", "pretrained")}
  if "pretrained" in case:
    pretrained_cfg = timm.models.get_pretrained_cfg(case["pretrained"]).to_dict()
    config = resolve_data_config(pretrained_cfg=pretrained_cfg, use_test_size=True)
    os.makedirs(os.path.join(out_dir, "transforms"), exist_ok=True)
    with open(os.path.join(out_dir, "transforms", f"{case['name']}_config.json"), "w") as handle:
      json.dump(config, handle)
  image = np.random.default_rng(len(case["name"])).integers(0, 256, (case["height"], case["width"], 3), np.uint8)
  out = create_transform(**config, is_training=False)(Image.fromarray(image))
  directory = os.path.join(out_dir, "transforms")
  os.makedirs(directory, exist_ok=True)
  np.save(os.path.join(directory, f"{case['name']}_in.npy"), image)
  np.save(os.path.join(directory, f"{case['name']}_out.npy"), out.permute(1, 2, 0).numpy())


def main(cases_file: str, out_dir: str) -> None:
  print(f"imports: {time.process_time():.1f}s CPU", file=sys.stderr)
  torch.set_num_threads(int(os.environ.get("OVERLAP_TIMM_THREADS", "1")))  # one: the other pytest worker holds the other core, and two OpenMP threads per core spin (the family parity export 150 s → 26 s)
  with open(cases_file) as handle:
    cases = json.load(handle)
  for case in cases.get("models", []):
    start = time.process_time()
    model_case(case, out_dir)
    print(f"{case['name']}: {time.process_time() - start:.1f}s CPU", file=sys.stderr)
  start = time.process_time()
  for case in cases.get("transforms", []):
    transform_case(case, out_dir)
  print(f"transforms: {time.process_time() - start:.1f}s CPU", file=sys.stderr)
  with open(os.path.join(out_dir, "shapes.json"), "w") as handle:
    start = time.process_time()
    json.dump(shapes(cases.get("shapes", [])), handle)
    print(f"shapes: {time.process_time() - start:.1f}s CPU", file=sys.stderr)
  with open(os.path.join(out_dir, "versions.json"), "w") as handle:
    json.dump({"timm": timm.__version__, "torch": torch.__version__}, handle)


if __name__ == "__main__":
  main(*sys.argv[1:])
