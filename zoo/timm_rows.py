"""timm's pretrained tags as zoo rows, made on demand: ``row_for_tag("convnext_tiny.fb_in1k")``.

The facts come from a snapshot of timm 1.0.31's own registry (``zoo/data/timm_1_0_31_pretrained.json``,
written by ``scripts/timm_pretrained_snapshot.py`` from ``timm.list_pretrained()`` and each tag's
``PretrainedCfg``): architecture, classes, preprocessing, Hub id, license, paper. The
training-method fields the paper's categories are derived from (pretraining data, objective,
architecture, hyper-parameters) follow from the tag and that metadata by the rules of
:data:`RULES`, the only place they are written; :func:`derive` says which rule fired for each.

A row's name is ``timm:<architecture>.<tag>`` (its weights: the Hub repo ``timm/<architecture>.<tag>``,
read by :func:`zoo.load_timm`); only architectures a family of :mod:`zoo.converters.timm` builds
are covered, and a tag outside them is refused with the nearest covered family named.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import importlib.resources
import json
import re
from typing import Any, NamedTuple

from zoo.preprocessing import Preprocessing
from zoo.registry import ModelEntry, Provenance, WeightSource

PREFIX = "timm:"
SNAPSHOT = "timm_1_0_31_pretrained.json"
CATALOG = "timm"
IMAGENET_CLASSES = 1000


class TimmTagError(ValueError):
  """A timm tag that is unknown to the snapshot or not covered by the converter's families."""


@dataclasses.dataclass(frozen=True)
class Rule:
  """One derivation rule: where ``pattern`` matches (``on`` "tag": a run of whole ``_``-separated
  tokens of the pretrained tag; "architecture": a regex search in the architecture name), the
  ``field`` gets ``value``. ``field`` "dataset": every match, in the tag's order, is a stage of
  the training data (the first is the pretraining data, the rest the fine-tuning chain);
  "objective": the first rule in table order that matches decides. ``source``: where the
  meaning of the token is stated."""
  field: str
  on: str
  pattern: str
  value: str
  source: str

  def matches(self, architecture: str, tag: str) -> list[re.Match]:
    """Every match of the rule, left to right."""
    if self.on == "architecture":
      return list(re.finditer(self.pattern, architecture))
    return list(re.finditer(rf"(?:^|_)(?:{self.pattern})(?=_|$)", tag))


IN1K, IN12K, IN21K, WIT = "imagenet-1k", "imagenet-12k", "imagenet-21k", "wit-400m"  # as zoo.catalogs.paper
_CFG = "timm 1.0.31 default_cfgs of timm/models/{}.py"
_FT = ", then fine-tuned"

# The single table of derivation rules (order matters for "objective": first match wins).
RULES: tuple[Rule, ...] = (
    # --- training data, stage by stage (every match, in the tag's order) -------------------------
    Rule("dataset", "tag", "in1k", IN1K, "timm tag token in1k: ImageNet-1k (ILSVRC 2012 train)"),
    Rule("dataset", "tag", "in12k", IN12K, "timm tag token in12k: timm's 11,821-class ImageNet-22k subset "
         "(timm/models/vision_transformer.py, the in12k tags' notes)"),
    Rule("dataset", "tag", "in21k|in22k", IN21K, "timm tag tokens in21k / in22k: ImageNet-21k (fall 2011, "
         "21,841 classes); timm uses both spellings for it"),
    Rule("dataset", "tag", "openai", WIT, "timm tag token openai: OpenAI CLIP weights, trained on WIT-400M "
         "(Radford et al. 2021)"),
    Rule("dataset", "tag", "laion2b", "laion-2b", "timm tag token laion2b: LAION-2B (open_clip weights)"),
    Rule("dataset", "tag", "laiona", "laion-aesthetics", "timm tag token laiona: open_clip's LAION-Aesthetics "
         "weights (timm/models/convnext.py)"),
    Rule("dataset", "tag", "clip(?=_ft_)", "image-text pairs (not named by the tag)", "timm tag 'clip_ft_*' "
         "without a dataset token (EVA-CLIP weights, timm/models/eva.py)"),
    Rule("dataset", "tag", "webli", "webli", "timm tag token webli: Google's WebLI (SigLIP, Zhai et al. 2023)"),
    Rule("dataset", "tag", "jft", "jft-300m", "timm tag ns_jft: Noisy Student on unlabelled JFT-300M "
         "(Xie et al. 2020)"),
    Rule("dataset", "tag", "ig1b", "instagram-1b", "timm tags fb_swsl_ig1b / fb_wsl_ig1b: Instagram hashtag "
         "images (Yalniz et al. 2019; Mahajan et al. 2018)"),
    Rule("dataset", "tag", "yfcc100m", "yfcc-100m", "timm tag fb_ssl_yfcc100m: YFCC-100M unlabelled "
         "(Yalniz et al. 2019)"),
    Rule("dataset", "tag", "swag", "instagram-3.6b", "timm tag swag: SWAG, weakly supervised on 3.6B Instagram "
         "images (Singh et al. 2022)"),
    Rule("dataset", "tag", "seer", "instagram (uncurated, SEER)", "timm tag seer: SEER, self-supervised on "
         "uncurated Instagram images (Goyal et al. 2021)"),
    Rule("dataset", "tag", "m38m", "merged-38m", "timm tag m38m: EVA-02's Merged-38M (Fang et al. 2023)"),
    Rule("dataset", "tag", "m30m", "merged-30m", "timm tag m30m: EVA's Merged-30M (Fang et al. 2022)"),
    Rule("dataset", "tag", "6m", "ssld-6m", "timm tag bd_ssld_6m: PaddleClas SSLD's 6M-image distillation set"),
    # --- objective (first match in this order) -------------------------------------------------
    Rule("objective", "tag", "dino", "self-distillation (DINO)", "timm tag fb_dino: DINO weights (Caron et al. 2021)"),
    Rule("objective", "tag", "fcmae", "masked autoencoding (FCMAE)" + _FT, "timm tag fcmae: ConvNeXt V2 "
         "(Woo et al. 2023)"),
    Rule("objective", "tag", "mae", "masked autoencoding (MAE)" + _FT, "timm tag mae: MAE pretraining "
         "(He et al. 2022)"),
    Rule("objective", "tag", "mim", "masked image modelling (EVA)" + _FT, "timm tag mim: EVA-02 MIM pretraining"),
    Rule("objective", "architecture", "^beit", "masked image modelling (BEiT)" + _FT, "timm/models/beit.py "
         "(BEiT / BEiT v2 / BEiT-3 pretrain by masked modelling)"),
    Rule("objective", "tag", "seer", "self-supervised (SEER)" + _FT, "timm tag seer (Goyal et al. 2021)"),
    Rule("objective", "architecture", "siglip", "sigmoid contrastive image-text" + _FT, "SigLIP "
         "(Zhai et al. 2023); timm/models/vision_transformer.py"),
    Rule("objective", "tag", "clip|openai|laion2b|laiona", "contrastive image-text" + _FT, "CLIP-style image tower, "
         "fine-tuned by timm (the tag's _ft_ stages)"),
    Rule("objective", "tag", "ns", "semi-supervised (Noisy Student)", "timm tag ns_jft (Xie et al. 2020)"),
    Rule("objective", "tag", "ssl", "semi-supervised" + _FT, "timm tag fb_ssl (Yalniz et al. 2019)"),
    Rule("objective", "tag", "swsl", "semi-weakly supervised" + _FT, "timm tag fb_swsl (Yalniz et al. 2019)"),
    Rule("objective", "tag", "wsl|swag", "weakly supervised" + _FT, "timm tags fb_wsl (Mahajan et al. 2018), swag "
         "(Singh et al. 2022)"),
    Rule("objective", "tag", "ap", "adversarial propagation (AdvProp)", "timm tag ap: AdvProp (Xie et al. 2020)"),
    Rule("objective", "tag", "adv|ens_adv", "adversarial training", "timm tags tf_adv / tf_ens_adv "
         "(Kurakin et al. 2018; Tramèr et al. 2018)"),
    Rule("objective", "tag", "ssld", "distillation (SSLD)", "timm tag ssld: PaddleClas semi-supervised label "
         "distillation"),
    Rule("objective", "tag", "usi", "distillation (USI)", "timm tag usi: USI weights (timm/models/edgenext.py cites "
         "Ridnik et al. 2022, 'Solving ImageNet', arXiv 2204.03475: knowledge distillation from a teacher)"),
    Rule("objective", "architecture", "_ssld$", "distillation (SSLD)", "timm architectures hrnet_w18_ssld / "
         "hrnet_w48_ssld (paddle_in1k tags): PaddleClas SSLD weights; timm/models/hrnet.py cites Cui et al. 2021, "
         "'Beyond Self-Supervision' (arXiv 2103.05959)"),
    Rule("objective", "tag", "dist|distilled", "distillation", "timm tags *_dist_* / *_distilled_*: trained "
         "with a teacher (e.g. DeiT III's fb_dist, MobileCLIP's apple_dist)"),
    Rule("objective", "architecture", "distilled", "distillation", "timm architectures *_distilled_*: DeiT-style "
         "distillation token (Touvron et al. 2021)"),
    Rule("objective", "architecture", r"^efficientvim_m\d_dist$", "distillation", "timm architectures "
         "efficientvim_m*_dist: EfficientViMDistilled, a second (distillation) head trained against a teacher "
         "(timm/models/efficientvim.py: 'EfficientViM-M1, distilled', heads_dist, 'mirroring LevitDistilled')"),
    Rule("objective", "tag", ".*", "supervised", "default: a timm ImageNet classifier tag naming no other method"),
)
FIELDS = ("dataset", "objective")


@dataclasses.dataclass(frozen=True)
class Derivation:
  """A tag's row and why: ``family`` the zoo.converters.timm pattern that builds it, ``module`` timm's
  model file, ``fired`` (field, value, rule source) for each rule that set a field, ``stages`` the data
  stages in training order."""
  entry: ModelEntry
  family: str
  module: str
  fired: tuple[tuple[str, str, str], ...]
  stages: tuple[str, ...]


@functools.cache
def _snapshot() -> dict[str, Any]:
  return json.loads(importlib.resources.files("zoo").joinpath("data", SNAPSHOT).read_text())


def snapshot() -> dict[str, dict[str, Any]]:
  """Every pretrained tag of timm 1.0.31 → its metadata (the packaged snapshot)."""
  return _snapshot()["tags"]


def parameters(architecture: str) -> int | None:
  """Parameters of timm 1.0.31's default model of ``architecture`` (the snapshot's meta-device count)."""
  return _snapshot()["parameters"].get(architecture)


def family_pattern(architecture: str) -> str | None:
  """The zoo.converters.timm FAMILIES pattern that fully matches ``architecture`` (None: not covered)."""
  from zoo.converters.timm import FAMILIES  # at call time: families registered since import count
  return next((p for p in FAMILIES if re.fullmatch(p, architecture)), None)


def is_covered(name: str) -> bool:
  """Whether tag ``name`` has a Hub copy in timm's format (``hf_hub_id``: zoo.load_timm reads no
  other) and the converter has a family for its architecture."""
  meta = snapshot()[name]
  return bool(meta.get("hf_hub_id")) and family_pattern(meta["architecture"]) is not None


def imagenet_tags(covered_only: bool = True) -> list[str]:
  """The 1,000-class tags (``arch.tag``) of the snapshot, sorted; only covered ones by default."""
  return sorted(n for n, r in snapshot().items()
                if r["num_classes"] == IMAGENET_CLASSES and (not covered_only or is_covered(n)))


def nearest_covered(architecture: str) -> str:
  """A sentence naming the covered architecture closest to ``architecture`` (difflib), among those
  of the same timm module first, and the converter family pattern it belongs to."""
  tags = snapshot()
  covered = {r["architecture"]: r["module"] for n, r in tags.items() if is_covered(n)}
  if not covered:
    return "no family is covered"
  module = next((r["module"] for r in tags.values() if r["architecture"] == architecture), None)
  same_module = [a for a, m in covered.items() if m == module]
  close = difflib.get_close_matches(architecture, same_module or sorted(covered), n=1, cutoff=0.0)[0]
  return f"the nearest covered family is timm's {covered[close]} ({close}, pattern {family_pattern(close)!r})"


def _check(name: str) -> dict[str, Any]:
  tags = snapshot()
  if name not in tags:
    close = difflib.get_close_matches(name, list(tags), n=3, cutoff=0.6)
    raise TimmTagError(f"timm tag {name!r} is not a pretrained tag of timm 1.0.31 (zoo/data/{SNAPSHOT}); "
                       f"close: {close}. Write it as <architecture>.<tag>, e.g. convnext_tiny.fb_in1k.")
  meta = tags[name]
  if not meta.get("hf_hub_id"):
    raise TimmTagError(f"timm tag {name!r} has no Hub copy in timm 1.0.31 (no hf_hub_id: timm downloads it from a "
                       "non-Hub url as a pickled state dict, which zoo.load_timm does not read).")
  if family_pattern(meta["architecture"]) is None:
    raise TimmTagError(f"timm tag {name!r}: architecture {meta['architecture']!r} (timm's {meta['module']}) is not "
                       f"covered by zoo.converters.timm; {nearest_covered(meta['architecture'])}.")
  return meta


class TrainingFields(NamedTuple):
  """What :data:`RULES` derive from an architecture and a tag: the data ``stages`` in training
  order (the first is the pretraining data), the ``objective``, and (field, value, source) of
  every rule that fired."""
  stages: tuple[str, ...]
  objective: str
  fired: tuple[tuple[str, str, str], ...]


def training_fields(architecture: str, tag: str) -> TrainingFields:
  """Applies :data:`RULES` to timm ``architecture`` and pretrained ``tag`` (e.g. "resnet50",
  "fb_swsl_ig1b_ft_in1k"); no coverage check."""
  matches = sorted(((m.start(), rule) for rule in RULES if rule.field == "dataset"
                    for m in rule.matches(architecture, tag)), key=lambda match: match[0])
  stages, fired = [], []
  for _, rule in matches:
    if not stages or stages[-1] != rule.value:
      stages.append(rule.value)
    fired.append(("dataset", rule.value, rule.source))
  if not stages:
    stages.append(IN1K)
    fired.append(("dataset", IN1K, "default: a timm tag naming no dataset was trained on ImageNet-1k"))
  objective = next(r for r in RULES if r.field == "objective" and r.matches(architecture, tag))
  fired.append(("objective", objective.value, objective.source))
  return TrainingFields(tuple(stages), objective.value, tuple(fired))


def derive(name: str) -> Derivation:
  """The row of timm tag ``name`` (``arch.tag``, with or without the ``timm:`` prefix) and the rules that fired.

  pretraining_data: the first data stage of the tag (imagenet-1k when it names none); hparams:
  ``recipe`` = the tag, ``fine_tuning`` = the data stages after the first (" → "-joined, when
  any); architecture: timm's architecture name; preprocessing: :func:`preprocessing_of`.
  """
  name = name.removeprefix(PREFIX)
  meta = _check(name)
  architecture, tag = meta["architecture"], meta["tag"]
  fields = training_fields(architecture, tag)
  stages = fields.stages
  hparams = {"recipe": tag, **({"fine_tuning": " → ".join(stages[1:])} if len(stages) > 1 else {})}
  entry = ModelEntry(
      name=PREFIX + name, builder=functools.partial(_build, architecture, meta["num_classes"]),
      weights=WeightSource("timm", meta["hf_hub_id"]), preprocessing=preprocessing_of(meta, name),
      num_classes=meta["num_classes"], objective=fields.objective, pretraining_data=stages[0], architecture=architecture,
      hparams=tuple(sorted(hparams.items())), catalog=CATALOG,
      note=f"timm 1.0.31 tag {name}: derived by zoo.timm_rows.RULES",
      provenance=Provenance(license=meta.get("license"), paper=_paper(meta), top1_source=None))
  return Derivation(entry, family_pattern(architecture), meta["module"], fields.fired, stages)


def row_for_tag(name: str) -> ModelEntry:
  """The zoo row of timm tag ``name`` (see :func:`derive`); TimmTagError when unknown or not covered."""
  return derive(name).entry


def _paper(meta: dict) -> str:
  cited = [meta.get("paper_name"), meta.get("paper_ids"), meta.get("origin_url")]
  return "; ".join(str(c) for c in cited if c) or _CFG.format(meta["module"])


def _build(architecture: str, num_classes: int, rngs=None):
  from zoo.converters.timm import build_timm
  return build_timm(architecture, num_classes)


def preprocessing_of(meta: dict, name: str) -> Preprocessing:
  """The evaluation preprocessing of a tag's pretrained config at its test size where it
  declares one (``test_input_size`` / ``test_crop_pct``: what timm's results tables are measured
  at, ``resolve_data_config(use_test_size=True)``), else its ``input_size`` / ``crop_pct``."""
  from zoo.converters.timm import preprocessing_from_cfg
  cfg = dict(meta)
  cfg["input_size"] = meta.get("test_input_size", meta["input_size"])
  cfg["crop_pct"] = meta.get("test_crop_pct", meta["crop_pct"])
  try:
    return preprocessing_from_cfg(cfg, name)
  except ValueError as error:  # the tag's own preprocessing is outside what zoo.preprocessing does
    raise TimmTagError(f"timm tag {name!r}: {error}") from None


def expand(patterns: list[str]) -> list[str]:
  """Row names (``timm:arch.tag``) for ``timm:`` names or fnmatch globs over the covered 1,000-class
  tags, in order, each once; a TimmTagError for a name that is unknown or not covered, or a glob
  that matches no covered tag."""
  names: list[str] = []
  for pattern in patterns:
    body = pattern.removeprefix(PREFIX)
    if not any(c in body for c in "*?["):
      _check(body)
      matched = [body]
    else:
      matched = [t for t in imagenet_tags() if fnmatch.fnmatchcase(t, body)]
      if not matched:
        uncovered = [t for t in imagenet_tags(covered_only=False) if fnmatch.fnmatchcase(t, body)]
        hint = (f"it matches only uncovered tags ({uncovered[:3]}...; "
                f"{nearest_covered(snapshot()[uncovered[0]]['architecture'])})" if uncovered else
                "it matches no 1,000-class tag of timm 1.0.31")
        raise TimmTagError(f"timm pattern {pattern!r}: {hint}.")
    names.extend(PREFIX + t for t in matched if PREFIX + t not in names)
  return names


_REGISTERED: dict[str, ModelEntry] = {}


def register_tags(patterns: list[str]) -> list[str]:
  """Registers the rows of :func:`expand` ``(patterns)`` in the zoo registry; their names."""
  from zoo.registry import register
  names = expand(patterns)
  for name in names:
    if name not in _REGISTERED:  # a row is registered once: its builder is a new partial every derivation
      _REGISTERED[name] = register(row_for_tag(name))
  return names
