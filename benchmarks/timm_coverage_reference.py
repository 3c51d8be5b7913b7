"""The timm side of benchmarks/timm_coverage.py (and tests/test_timm_family_parity.py): runs in the
timm environment (``.venv-timm``), never imported by the main one.

    .venv-timm/bin/python benchmarks/timm_coverage_reference.py cases.json out_dir

cases.json: {"architectures": [...], "batch": B, "pending": P}. For each architecture, ``timm.create_model(architecture, pretrained=False)`` on
the CPU, then at the smallest input it accepts among 64 px, 128 px and its pretrained config's
``input_size`` (only the latter when ``fixed_input_size``): weights, norm scales and biases and
batch-norm statistics moved from their defaults by tests/timm_reference.py's ``randomize``, the
model written with timm's ``save_for_hf`` to out_dir/<architecture>, with ``images.npy`` (NHWC),
``logits.npy`` and ``pre_logits.npy`` (``forward_head(forward_features(x), pre_logits=True)``).
out_dir/<architecture>/status.json: {"status": "ok" | "error", "reason",
"resolution", "seconds"} — a failure on timm's side is recorded, never raised; it is written last
(by a rename), so a reader that sees it sees the whole export.

With ``pending`` P (streaming, as tests/test_timm_family_parity.py reads it): the next architecture
waits while P finished exports are still in out_dir, the reader moving each away once it has used it,
so at most P + 1 exports (hundreds of MB each at full size) are on disk at once.
"""

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import safetensors.torch
import timm
import torch
from timm.models import save_for_hf
from timm.models._hub import save_config_for_hf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from timm_reference import randomize  # noqa: E402  (the parity tests' own perturbation)

SIZES = (64, 128)
CALIBRATION = 4  # images whose statistics set the batch norms (the batch and more)


def _sizes(model) -> list[int]:
  cfg = model.pretrained_cfg or {}
  default = int(cfg.get("input_size", (3, 224, 224))[-1])
  if cfg.get("fixed_input_size"):
    return [default]
  minimum = int((cfg.get("min_input_size") or (3, 0, 0))[-1])
  return sorted({max(size, minimum) for size in SIZES if size < default} | {default})


def _randomized(model, images: torch.Tensor) -> None:
  """tests/timm_reference.py's randomize; its check that every tensor was set is for models built
  on the meta device: here the model is built on the CPU, so a tensor it leaves (a buffer such as a
  relative-position index) holds timm's own initial value."""
  try:
    randomize(model, images, seed=2)
  except AssertionError as error:
    if "left uninitialised" not in str(error):
      raise


def _save(model, directory: Path) -> None:
  """timm's save_for_hf (config.json + model.safetensors). Its safetensors save_file refuses tensors
  shared by several modules (CoaT's per-stage cpe / crpe, registered in every block of the stage): such a
  model's weights go through safetensors.torch.save_model instead, which keeps one name per shared tensor
  (the first in sorted order: CoaT's cpe1…, crpe1…), and its config through timm's save_config_for_hf."""
  pointers = [t.data_ptr() for t in model.state_dict().values() if t.numel()]
  if len(pointers) == len(set(pointers)):
    save_for_hf(model, str(directory), safe_serialization=True)
    return
  directory.mkdir(parents=True, exist_ok=True)
  safetensors.torch.save_model(model, str(directory / "model.safetensors"))
  save_config_for_hf(model, str(directory / "config.json"))


def run_case(architecture: str, batch: int, out_dir: Path) -> dict:
  model = timm.create_model(architecture, pretrained=False)
  errors = []
  for size in _sizes(model):
    generator = torch.Generator().manual_seed(1)
    images = torch.randn((batch, 3, size, size), generator=generator)
    calibration = torch.cat([images, torch.randn((max(CALIBRATION - batch, 0), 3, size, size), generator=generator)])
    try:
      _randomized(model, calibration)
      with torch.no_grad():
        features = model.forward_features(images)
        logits, pre_logits = model.forward_head(features), model.forward_head(features, pre_logits=True)
    except Exception as error:  # too small for this architecture: try the next size
      errors.append(f"{size} px: {type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}")
      continue
    directory = out_dir / architecture
    _save(model, directory)
    np.save(directory / "images.npy", images.permute(0, 2, 3, 1).numpy())
    np.save(directory / "logits.npy", logits.numpy())
    np.save(directory / "pre_logits.npy", pre_logits.numpy())
    return {"status": "ok", "resolution": size, "reason": ""}
  return {"status": "error", "reason": "timm forward failed at every size: " + "; ".join(errors)}


def _wait_for_room(out: Path, pending: int) -> None:
  """Blocks while ``pending`` finished exports (folders with a status.json) are still in ``out``."""
  while sum(1 for status in out.glob("*/status.json")) >= pending:
    time.sleep(0.1)


def _write_status(directory: Path, status: dict) -> None:
  directory.mkdir(parents=True, exist_ok=True)
  partial = directory / "status.json.partial"
  partial.write_text(json.dumps(status))
  partial.replace(directory / "status.json")  # atomic: a reader never sees half of it


def main(cases_file: str, out_dir: str) -> None:
  torch.set_num_threads(int(os.environ.get("OVERLAP_TIMM_THREADS", "1")))
  cases = json.loads(Path(cases_file).read_text())
  out = Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  for architecture in cases["architectures"]:
    if cases.get("pending"):
      _wait_for_room(out, int(cases["pending"]))
    start = time.perf_counter()
    try:
      status = run_case(architecture, int(cases.get("batch", 2)), out)
    except Exception as error:  # timm itself cannot build it: recorded for the report
      status = {"status": "error", "reason": f"timm: {type(error).__name__}: {str(error)[:200]}"}
    status.update(seconds=round(time.perf_counter() - start, 2))
    _write_status(out / architecture, status)
    print(f"{architecture}: {status['status']} {status['seconds']}s", file=sys.stderr, flush=True)


if __name__ == "__main__":
  main(*sys.argv[1:])
