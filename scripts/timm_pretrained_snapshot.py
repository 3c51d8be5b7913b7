"""Writes zoo/data/timm_1_0_31_pretrained.json: every pretrained tag timm registers, with the
fields of its ``PretrainedCfg`` that the zoo derives rows from.

Source: the installed timm package itself (``timm.list_pretrained()`` and
``timm.models.get_pretrained_cfg(tag)``, the ``default_cfgs`` of timm's model files; the module
of each architecture from timm's registry; each architecture's parameter count from
``timm.create_model(architecture)`` built on the meta device, no weights), so the snapshot is
exactly the pinned release's registry. Run in the timm environment (it needs no network):

    .venv-timm/bin/python scripts/timm_pretrained_snapshot.py zoo/data/timm_1_0_31_pretrained.json
"""

import json
import sys

import timm
import torch
from timm.models import get_pretrained_cfg
from timm.models._registry import get_arch_name

# PretrainedCfg fields kept (timm/models/_pretrained.py names them); absent ones are left out.
FIELDS = ("hf_hub_id", "num_classes", "input_size", "test_input_size", "min_input_size", "fixed_input_size",
          "crop_pct", "test_crop_pct", "crop_mode", "interpolation", "mean", "std", "license", "paper_ids",
          "paper_name", "notes", "origin_url", "source")


def _module_of(architecture: str) -> str:
  """The timm file that defines ``architecture`` (e.g. ``resnet``, ``vision_transformer``)."""
  module = timm.models._registry._model_to_module.get(architecture, "")
  return module.rpartition(".")[2]


def parameter_count(architecture: str) -> int | None:
  """Parameters of timm's default model of ``architecture`` (None where timm cannot build it)."""
  try:
    with torch.device("meta"):
      model = timm.create_model(architecture, pretrained=False)
  except Exception:  # e.g. an architecture needing an optional package
    return None
  return sum(p.numel() for p in model.parameters())


def snapshot() -> dict:
  tags = {}
  for name in timm.list_pretrained():
    cfg = get_pretrained_cfg(name).to_dict()
    architecture = get_arch_name(name)
    row = {"architecture": architecture, "tag": name.partition(".")[2], "module": _module_of(architecture)}
    row.update({field: cfg[field] for field in FIELDS if cfg.get(field) not in (None, "", ())})
    tags[name] = row
  architectures = sorted({row["architecture"] for row in tags.values()})
  return {"timm_version": timm.__version__,
          "source": "timm.list_pretrained() + timm.models.get_pretrained_cfg(tag).to_dict() of the installed timm; "
                    "parameters: timm.create_model(architecture) on the meta device",
          "tags": tags, "parameters": {a: parameter_count(a) for a in architectures}}


if __name__ == "__main__":
  with open(sys.argv[1], "w") as handle:
    json.dump(snapshot(), handle, indent=0, sort_keys=True)
    handle.write("\n")
