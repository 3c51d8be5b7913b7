"""timm's own records of the paper catalog's timm checkpoints, for tests/test_paper_audit.py.

Runs in the separate timm environment (``.venv-timm``: timm 1.0.31, offline) as
``python tests/timm_paper_cfgs.py tag [tag ...]`` and prints one JSON object, for each
``arch.tag``: ``pretrained_cfg`` (``timm.models.get_pretrained_cfg(tag).to_dict()``, or null
when timm has no such tag) and ``config_json``: the ``config.json`` that timm's
``push_to_hf_hub`` / ``save_for_hf`` writes for ``timm.create_model(tag)`` (the model is built
on the meta device: no weights, no network).
"""

import json
import sys
import tempfile
from pathlib import Path

import torch
import timm
from timm.models import get_pretrained_cfg
from timm.models._hub import save_config_for_hf


def config_json(tag: str) -> dict:
  """timm's config.json for ``tag``, as save_for_hf writes it."""
  with torch.device("meta"):
    model = timm.create_model(tag, pretrained=False)
  with tempfile.TemporaryDirectory() as directory:
    path = Path(directory) / "config.json"
    save_config_for_hf(model, str(path))
    return json.loads(path.read_text())


def main(tags: list[str]) -> dict:
  records = {}
  for tag in tags:
    cfg = get_pretrained_cfg(tag)
    records[tag] = {"pretrained_cfg": None if cfg is None else json.loads(json.dumps(cfg.to_dict(), default=list)),
                    "config_json": None if cfg is None else config_json(tag), "timm_version": timm.__version__}
  return records


if __name__ == "__main__":
  print(json.dumps(main(sys.argv[1:])))
