"""timm's own PyTorch models as the parity reference for zoo.converters.timm.

Runs in the separate timm environment (``.venv-timm``, see scripts/setup_timm.sh: timm needs
a torchvision that does not import beside the main venv's torch), called by
tests/test_zoo_timm.py as ``python tests/timm_reference.py cases.json out_dir``.

cases.json: {"models": [{"name", "architecture", "kwargs", "resolution", "batch"}, ...],
"shapes": [architecture, ...]}. For each model case: ``timm.create_model(architecture,
pretrained=False, **kwargs)``, weights and every norm's scale, bias and running statistics
drawn away from their defaults, written with timm's ``save_for_hf`` (config.json +
model.safetensors) to out_dir/name, with ``images.npy`` (NHWC float32), ``logits.npy``
(``model(x)``) and ``pre_logits.npy`` (``forward_head(forward_features(x), pre_logits=True)``).
For each shapes entry: the state-dict tensor shapes of the default model (built on the
meta device, no memory), in out_dir/shapes.json.
"""

import json
import math
import os
import sys

import numpy as np
import timm
import torch
from timm.models import save_for_hf


def randomize(model: torch.nn.Module, images: torch.Tensor, seed: int) -> torch.nn.Module:
  """Unit-scale random weights; batch-norm statistics measured on ``images`` (so that deep
  nets keep unit-scale activations) and then scaled/shifted by ±20 %, scales 1 ± 0.2 and biases
  ±0.1, so that no norm is the identity and every tensor matters."""
  generator = torch.Generator().manual_seed(seed)
  randn = lambda shape: torch.randn(shape, generator=generator)
  norms = (torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm)
  with torch.no_grad():
    for module in model.modules():
      for name, tensor in module.named_parameters(recurse=False):
        if isinstance(module, norms):
          tensor.copy_((1 + 0.2 * randn(tensor.shape)) if name == "weight" else 0.1 * randn(tensor.shape))
        elif name == "weight" and tensor.ndim in (2, 4):
          tensor.copy_(randn(tensor.shape) / math.sqrt(math.prod(tensor.shape[1:])))
        elif name == "bias":
          tensor.copy_(0.1 * randn(tensor.shape))
    batch_norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for module in batch_norms:
      module.reset_running_stats()
      module.momentum = None  # cumulative average: the statistics of the calibration batch
    model.train()
    model(images)
    for module in batch_norms:
      module.running_mean.add_(0.2 * randn(module.running_mean.shape) * module.running_var.sqrt())
      module.running_var.mul_(torch.rand(module.running_var.shape, generator=generator) * 0.4 + 0.8)
      module.momentum = 0.1
  return model.eval()


def model_case(case: dict, out_dir: str) -> None:
  torch.manual_seed(0)
  model = timm.create_model(case["architecture"], pretrained=False, **case.get("kwargs", {}))
  generator = torch.Generator().manual_seed(1)
  size = case["resolution"]
  images = torch.randn((case["batch"], 3, size, size), generator=generator)
  calibration = torch.randn((4, 3, size, size), generator=generator)
  randomize(model, calibration, seed=2)
  with torch.no_grad():
    logits = model(images)
    pre_logits = model.forward_head(model.forward_features(images), pre_logits=True)
  directory = os.path.join(out_dir, case["name"])
  save_for_hf(model, directory, safe_serialization=True)
  np.save(os.path.join(directory, "images.npy"), images.permute(0, 2, 3, 1).numpy())
  np.save(os.path.join(directory, "logits.npy"), logits.numpy())
  np.save(os.path.join(directory, "pre_logits.npy"), pre_logits.numpy())


def shapes(architectures: list[str]) -> dict[str, dict[str, list[int]]]:
  out = {}
  for architecture in architectures:
    with torch.device("meta"):
      model = timm.create_model(architecture, pretrained=False)
    out[architecture] = {name: list(t.shape) for name, t in model.state_dict().items()}
  return out


def main(cases_file: str, out_dir: str) -> None:
  torch.set_num_threads(int(os.environ.get("OVERLAP_TIMM_THREADS", "2")))
  with open(cases_file) as handle:
    cases = json.load(handle)
  for case in cases.get("models", []):
    model_case(case, out_dir)
  with open(os.path.join(out_dir, "shapes.json"), "w") as handle:
    json.dump(shapes(cases.get("shapes", [])), handle)
  with open(os.path.join(out_dir, "versions.json"), "w") as handle:
    json.dump({"timm": timm.__version__, "torch": torch.__version__}, handle)


if __name__ == "__main__":
  main(*sys.argv[1:])
