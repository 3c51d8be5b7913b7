"""The paper catalog's recorded facts (issue 23's audit), checked offline.

- timm rows against timm 1.0.31's own records, read in the timm environment (``.venv-timm``;
  skipped where it is absent) by tests/timm_paper_cfgs.py: the Hub id, preprocessing (its
  ``test_input_size`` / ``test_crop_pct`` where it has them: the resolution timm's results table
  measured), license, and the ``config.json`` timm writes for the tag, which the converter must
  turn into exactly the row's module (every parameter's path and shape).
- every row: a license decision and the sources its values were read from; a Hub revision is a
  full commit or a ``refs/pr/N`` ref, never a short hash; the files its converter reads are
  declared and none is a pickle.
- every Hub row: a recorded layout (tests/hub_layouts) at the row's revision that lists the
  row's files; a published ``config.json`` recorded there builds the row's module.
"""

import fnmatch
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from flax import nnx

import zoo
import zoo.catalogs.paper as paper
from zoo.converters import huggingface
from zoo.converters.timm import family_of

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ROOT / "tests" / "hub_layouts"
HUB_KINDS = ("huggingface", "timm", "openai_clip")
# timm rows whose preprocessing is not timm's pretrained_cfg, and why (each row's note says the same).
AUTHORS_PREPROCESSING = {
    "dino_vits16.in1k": "DINO's linear evaluation (resize 256 bicubic, centre crop 224) measured its top-1",
    "dino_vitb16.in1k": "as dino_vits16.in1k",
}


def paper_rows():
  return [zoo.get(name) for name in zoo.list_models(catalog="paper")]


def hub_rows():
  """Rows that download from the Hub (the reinit slots read a local directory)."""
  return [e for e in paper_rows() if e.weights.kind in HUB_KINDS and not e.weights.location.startswith(("./", "/", "~"))]


def timm_rows():
  return [e for e in hub_rows() if e.weights.kind == "timm"]


def layout(repo: str) -> dict:
  path = LAYOUTS / f"{repo.replace('/', '__')}.json"
  assert path.exists(), f"no recorded layout {path.name} for Hub repo {repo!r}"
  return json.loads(path.read_text())


def param_shapes(module) -> dict[str, tuple[int, ...]]:
  return {"/".join(map(str, path)): tuple(value.shape) for path, value in nnx.to_flat_state(nnx.state(module, nnx.Param))}


@pytest.fixture(scope="module")
def timm_records():
  """timm 1.0.31's pretrained_cfg and config.json of every timm row's tag (one subprocess)."""
  python = os.environ.get("OVERLAP_TIMM_PYTHON") or str(ROOT / ".venv-timm" / "bin" / "python")
  if not os.access(python, os.X_OK):
    pytest.skip(f"the timm reference environment is absent ({python}): scripts/setup.sh test,parity,timm")
  tags = sorted({e.weights.location.removeprefix("timm/") for e in timm_rows()})
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
  result = subprocess.run([python, str(ROOT / "tests" / "timm_paper_cfgs.py"), *tags], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-4000:]
  return json.loads(result.stdout)


def test_timm_rows_are_timm_hub_checkpoints_with_timms_preprocessing_and_license(timm_records):
  for entry in timm_rows():
    tag = entry.weights.location.removeprefix("timm/")
    record = timm_records[tag]
    assert record["timm_version"] == "1.0.31", record["timm_version"]
    cfg = record["pretrained_cfg"]
    assert cfg is not None, f"{entry.name}: timm 1.0.31 has no pretrained tag {tag!r}"
    assert cfg.get("hf_hub_id") == entry.weights.location, (entry.name, cfg.get("hf_hub_id"))
    assert entry.provenance.license == cfg["license"], (entry.name, entry.provenance.license, cfg["license"])
    assert any(tag in source and "pretrained_cfg" in source for source in entry.provenance.sources), entry.name
    evaluated = cfg.get("test_input_size") or cfg["input_size"]
    crop = cfg.get("test_crop_pct", cfg["crop_pct"]) if cfg.get("test_input_size") else cfg["crop_pct"]
    expected = {"resolution": evaluated[1], "crop_fraction": crop, "interpolation": cfg["interpolation"],
                "mean": tuple(cfg["mean"]), "std": tuple(cfg["std"]), "crop_mode": cfg.get("crop_mode", "center")}
    pre = entry.preprocessing
    got = {"resolution": pre.resolution, "crop_fraction": pre.crop_fraction, "interpolation": pre.interpolation,
           "mean": tuple(pre.mean), "std": tuple(pre.std), "crop_mode": pre.crop_mode}
    if entry.name in AUTHORS_PREPROCESSING:
      assert {k: v for k, v in got.items() if k != "crop_fraction"} == \
          {k: v for k, v in expected.items() if k != "crop_fraction"}, entry.name
      assert "eval_linear" in entry.note and got["crop_fraction"] != expected["crop_fraction"], entry.name
      continue
    assert got == expected, (entry.name, got, expected)
    assert pre.torchvision_sizes, entry.name  # timm's eval transform: torchvision's Resize / CenterCrop
    if entry.head == "classifier":  # its number is timm's results table at exactly this preprocessing
      assert entry.provenance.top1_source == paper._TIMM_CSV.format(pre.resolution, pre.crop_fraction,
                                                                    pre.interpolation), entry.name
      assert paper.TIMM_RESULTS in entry.provenance.sources and re.search(r"@[0-9a-f]{40}:", paper.TIMM_RESULTS)


def test_timm_config_json_builds_exactly_the_rows_module_and_is_the_recorded_one(timm_records):
  """The config.json timm writes for the tag (what the Hub repo holds, up to timm's version) is
  what the test Hub serves, and the converter turns it into the row's own module: a changed
  builder, tag or family table fails here, not on a TPU."""
  checked = {}
  for entry in timm_rows():
    tag = entry.weights.location.removeprefix("timm/")
    config = timm_records[tag]["config_json"]
    assert layout(entry.weights.location)["texts"]["config.json"] == config, f"{tag}: re-record its layout"
    # One module per converter family and kind of config (which model_args it sets, with or
    # without a head): the rows' builders are _timm_module(architecture, num_classes), the same
    # family build the converter calls, so the config's arguments are what can differ, and a
    # full-size trace costs seconds.
    family = family_of(config["architecture"])
    key = (id(family), tuple(sorted(config.get("model_args") or {})), config["num_classes"] == 0)
    if key in checked:
      continue
    converted = zoo.abstract.eval_shape(lambda: family.build(config["architecture"], config))
    built = zoo.abstract.eval_shape(lambda: zoo.build(entry))
    checked[key] = param_shapes(converted) == param_shapes(built)
    assert checked[key], (entry.name, set(param_shapes(converted).items()) ^ set(param_shapes(built).items()))
  assert len(checked) >= 8, checked


def test_every_row_records_its_license_and_sources():
  for entry in paper_rows():
    if entry.weights.location.startswith("./"):
      continue  # the reinit slots: their provenance is the file a user imports (launch.zoo import)
    provenance = entry.provenance
    assert provenance.sources and all(isinstance(s, str) and s for s in provenance.sources), entry.name
    assert provenance.license is not None or "states no license" in entry.note, entry.name
    if entry.top1 is not None:
      assert provenance.top1_source, entry.name


def test_revisions_are_full_commits_or_pull_request_refs():
  for entry in hub_rows():
    revision = entry.weights.revision
    assert revision is None or re.fullmatch(r"[0-9a-f]{40}|refs/pr/\d+", revision), (entry.name, revision)
    assert entry.weights.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", entry.weights.sha256), entry.name


def test_hub_rows_declare_the_files_their_converter_reads_and_no_pickles():
  weights = {"huggingface": "model.safetensors", "timm": "model.safetensors", "openai_clip": "open_clip_model.safetensors"}
  for entry in hub_rows():
    files = entry.weights.files
    assert weights[entry.weights.kind] in files, (entry.name, files)
    assert not any(f.endswith((".bin", ".pt", ".pth", ".pkl", ".h5", ".msgpack")) for f in files), (entry.name, files)
    if entry.weights.kind in ("huggingface", "timm"):
      assert "config.json" in files, entry.name
    if entry.head == "zero-shot":  # the tokenizer's own files (zoo.architectures.*_tokenizer)
      assert {"vocab.json", "merges.txt"} <= set(files) or "spiece.model" in files or "vocab.txt" in files, entry.name


def test_every_hub_row_has_a_layout_at_its_revision_listing_its_files():
  used = set()
  for entry in hub_rows():
    recorded = layout(entry.weights.location)
    used.add(recorded["repo"])
    assert recorded["repo"] == entry.weights.location
    assert recorded["revision"] == (entry.weights.revision or "main"), entry.name
    assert entry.name in recorded["rows"], entry.name
    for pattern in entry.weights.files:
      assert fnmatch.filter(recorded["files"], pattern), (entry.name, pattern, recorded["files"])
    assert isinstance(recorded["listing_verified"], bool) and recorded["source"], entry.name
    if recorded["listing_verified"]:
      assert recorded["source"].startswith("https://huggingface.co/"), entry.name
    assert set(recorded.get("derived_texts", [])) <= set(recorded["texts"]), entry.name
  stale = {json.loads(p.read_text())["repo"] for p in LAYOUTS.glob("*.json")} - used
  assert not stale, f"layouts of repos no paper row uses: {sorted(stale)}"


def test_recorded_transformers_configs_build_the_rows_module():
  """A published config.json read during the audit (e.g. DINOv2's image_size 518: 1370 position
  embeddings) gives, through the converter, the module the row's builder makes."""
  checked = 0
  for entry in hub_rows():
    config = layout(entry.weights.location)["texts"].get("config.json")
    if entry.weights.kind != "huggingface" or config is None:
      continue
    family = huggingface.FAMILIES[config["model_type"]]
    converted = zoo.abstract.eval_shape(lambda: family.build(config))
    built = zoo.abstract.eval_shape(lambda: zoo.build(entry))
    assert param_shapes(converted) == param_shapes(built), \
        (entry.name, set(param_shapes(converted).items()) ^ set(param_shapes(built).items()))
    checked += 1
  assert checked >= 2
