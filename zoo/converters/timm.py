"""timm checkpoints (Hub repo id such as ``timm/resnet50.a1_in1k``, or a local directory as
timm's ``save_for_hf`` / ``push_to_hf_hub`` write it) → nnx models.

A timm export holds ``config.json`` (``architecture``, ``num_classes``, ``num_features``,
optional ``model_args``: the keyword arguments the model was built with, and
``pretrained_cfg``: the preprocessing) and ``model.safetensors`` (timm's own tensor names).
``load_timm`` picks the :class:`TimmFamily` whose pattern fully matches the architecture,
builds its nnx module, maps every tensor with :func:`zoo.converters.mapping.load_into` and
caches the converted state like :func:`zoo.converters.huggingface.load_pretrained`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Callable

from flax import nnx

from zoo.abstract import eval_shape
from zoo.architectures.densenet import DenseNet, DenseNetConfig
from zoo.architectures.inception import InceptionV3
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.vgg import LAYERS as VGG_LAYERS, VGG, VGGConfig
from zoo.converters.huggingface import _read_config, _resolve, _weight_files, cached_conversion, read_safetensors
from zoo.converters.mapping import ConversionError, load_into
from zoo.converters.timm_byob import ENTRIES as _BYOB
from zoo.converters.timm_convnets import ENTRIES as _CONVNETS
from zoo.converters.timm_efficientnets import ENTRIES as _EFFICIENTNETS
from zoo.converters.timm_maxxvit import ENTRIES as _MAXXVIT
from zoo.converters.timm_families import ENTRIES as _MORE_FAMILIES
from zoo.converters.timm_metaformers import ENTRIES as _METAFORMERS
from zoo.converters.timm_mobile import ENTRIES as _MOBILE
from zoo.converters.timm_more import ENTRIES as _LATER_FAMILIES
from zoo.converters.timm_resnets import ENTRIES as _RESNETS
from zoo.converters.timm_small import ENTRIES as _SMALL_FAMILIES
from zoo.converters.timm_tfeff import ENTRIES as _TFEFF
from zoo.converters.timm_tfcsp import ENTRIES as _TFCSP
from zoo.converters.timm_tfcoat import ENTRIES as _TFCOAT
from zoo.converters.timm_tfcpu import ENTRIES as _TFCPU
from zoo.converters.timm_tfhg import ENTRIES as _TFHG
from zoo.converters.timm_tfpvt import ENTRIES as _TFPVT
from zoo.converters.timm_tfnext import ENTRIES as _TFNEXT
from zoo.converters.timm_tfvim import ENTRIES as _TFVIM
from zoo.converters.timm_tfrdnet import ENTRIES as _TFRDNET
from zoo.converters.timm_tfdavit import ENTRIES as _TFDAVIT
from zoo.converters.timm_vits import ENTRIES as _TRANSFORMER_FAMILIES
from zoo.converters.timm_vit_variants import ENTRIES as _VIT_VARIANTS
from zoo.preprocessing import Preprocessing

_ALWAYS_IGNORED = (r"num_batches_tracked$",)
# Model arguments that change training only (dropout, init): accepted and ignored at inference.
_TRAINING_ONLY_ARGS = frozenset({"drop_rate", "drop_path_rate", "drop_block_rate", "proj_drop_rate", "zero_init_last",
                                 "memory_efficient", "aux_logits", "pretrained_cfg_overlay"})


@dataclasses.dataclass(frozen=True)
class TimmFamily:
  """How timm architectures become an nnx module: ``build(architecture, config)`` (config =
  the export's config.json; called under zoo.abstract.eval_shape), regex ``renames`` from timm tensor
  names to nnx dotted paths (as :mod:`zoo.converters.mapping` expects) and names to ``ignore``."""
  build: Callable[[str, dict], nnx.Module]
  renames: tuple[tuple[str, str], ...]
  ignore: tuple[str, ...] = ()


def model_args(architecture: str, config: dict, supported: set[str]) -> dict[str, Any]:
  """The export's ``model_args`` (keyword arguments of timm's model function), after checking
  that each one is ``supported`` by the family or training-only; ``in_chans`` and
  ``global_pool`` are checked here (3 channels or any, average pooling only)."""
  args = dict(config.get("model_args") or {})
  pool = args.pop("global_pool", config.get("global_pool", "avg"))
  if pool != "avg":
    raise ConversionError(f"timm model {architecture!r}: global_pool {pool!r} is not supported (only 'avg').")
  unknown = sorted(set(args) - supported - _TRAINING_ONLY_ARGS - {"num_classes", "in_chans"})
  if unknown:
    raise ConversionError(f"timm model {architecture!r}: model_args {unknown} are not supported by the nnx "
                          f"family (supported: {sorted(supported)}).")
  return {k: v for k, v in args.items() if k not in _TRAINING_ONLY_ARGS}


def num_classes(config: dict) -> int:
  """Classifier outputs; 0 means no head (the model returns the pooled embedding twice)."""
  return int(config.get("num_classes", (config.get("model_args") or {}).get("num_classes", 1000)))


# ResNet family (timm's resnet.py): depth → (block, blocks per stage); name suffix → stem and shortcut.
_RESNET_DEPTHS = {10: ("basic", (1, 1, 1, 1)), 14: ("bottleneck", (1, 1, 1, 1)), 18: ("basic", (2, 2, 2, 2)),
                  26: ("bottleneck", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                  101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3)),
                  200: ("bottleneck", (3, 24, 36, 3)), 269: ("bottleneck", (3, 30, 48, 8))}
_RESNET_VARIANTS = {"": {}, "b": {}, "c": dict(stem_width=32, stem_type="deep"),
                    "d": dict(stem_width=32, stem_type="deep", avg_down=True),
                    "e": dict(stem_width=64, stem_type="deep", avg_down=True),
                    "s": dict(stem_width=64, stem_type="deep"),
                    "t": dict(stem_width=32, stem_type="deep_tiered", avg_down=True)}
# Architectures whose names the pattern's parts do not spell out (timm's model functions, resnet.py).
_RS_SE = {"attn_layer": "se", "rd_ratio": 0.25}  # timm's partial(get_attn('se'), rd_ratio=0.25)
_RESNET_NAMED = {
    "ecaresnetlight": dict(block="bottleneck", layers=(1, 1, 11, 3), stem_width=32, avg_down=True,
                           block_args={"attn_layer": "eca"}),
    "seresnextaa201d_32x8d": dict(block="bottleneck", layers=(3, 24, 36, 4), cardinality=32, base_width=8,
                                  stem_width=64, stem_type="deep", avg_down=True, aa_layer="avgpool",
                                  block_args={"attn_layer": "se"}),
    **{f"resnetrs{depth}": dict(block="bottleneck", layers=layers, stem_width=32, stem_type="deep",
                                replace_stem_pool=True, avg_down=True, block_args=_RS_SE)
       for depth, layers in ((50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)), (152, (3, 8, 36, 3)), (200, (3, 24, 36, 3)),
                             (270, (4, 29, 53, 4)), (350, (4, 36, 72, 4)), (420, (4, 44, 87, 4)))},
}
RESNET_PATTERN = (r"(?P<attn>se|eca)?res(?:net|next)(?P<aa>aa|blur)?(?P<depth>10|14|18|26|34|50|101|152|200|269)"
                  r"(?P<variant>[bcdest]?)(?:_(?P<cardinality>\d+)x(?P<width>\d+)d)?|wide_resnet(?P<wide>50|101)_2|"
                  + "|".join(_RESNET_NAMED))
_RESNET_ARGS = {"layers", "channels", "cardinality", "base_width", "stem_width", "stem_type", "avg_down",
                "block_args", "down_kernel_size", "output_stride", "act_layer"}


def _resnet_defaults(architecture: str) -> dict[str, Any]:
  """timm's model-function arguments for a resnet.py architecture name."""
  if architecture in _RESNET_NAMED:
    return dict(_RESNET_NAMED[architecture])
  match = re.fullmatch(RESNET_PATTERN, architecture)
  if match["wide"]:
    return dict(block="bottleneck", layers=_RESNET_DEPTHS[int(match["wide"])][1], base_width=128)
  block, depth_layers = _RESNET_DEPTHS[int(match["depth"])]
  args = dict(block=block, layers=depth_layers, **_RESNET_VARIANTS[match["variant"]])
  if match["cardinality"]:
    args.update(cardinality=int(match["cardinality"]), base_width=int(match["width"]))
  if match["attn"]:
    args["block_args"] = {"attn_layer": match["attn"]}
  if match["aa"]:  # timm's aa_layer=nn.AvgPool2d (aa) or BlurPool2d (blur)
    args["aa_layer"] = {"aa": "avgpool", "blur": "blurpool"}[match["aa"]]
  return args


def _resnet(architecture: str, config: dict) -> ResNet:
  args = {**_resnet_defaults(architecture), **model_args(architecture, config, _RESNET_ARGS)}
  block_args = args.get("block_args") or {}
  attention = block_args.get("attn_layer")
  if set(block_args) - {"attn_layer", "rd_ratio"} or attention not in (None, "se", "eca"):
    raise ConversionError(f"timm model {architecture!r}: block_args {args['block_args']} are not supported "
                          "(only attn_layer='se' (with rd_ratio) or 'eca').")
  aa_pool = {None: "", "avgpool": "avg", "blurpool": "blur"}.get(args.get("aa_layer"))
  if aa_pool is None or (aa_pool and args.get("replace_stem_pool")):
    raise ConversionError(f"timm model {architecture!r}: aa_layer={args['aa_layer']!r} is not supported (only "
                          "nn.AvgPool2d or BlurPool2d, without replace_stem_pool).")
  for name, default in (("down_kernel_size", 1), ("output_stride", 32), ("act_layer", "relu")):
    if args.get(name, default) != default:
      raise ConversionError(f"timm model {architecture!r}: {name}={args[name]!r} is not supported ({default!r} only).")
  stem = {"": "imagenet", "deep": "deep", "deep_tiered": "deep_tiered"}.get(args.get("stem_type", ""))
  if stem is None:
    raise ConversionError(f"timm model {architecture!r}: stem_type {args['stem_type']!r} is not supported.")
  expansion = 4 if args["block"] == "bottleneck" else 1
  stem_width = args.get("stem_width", 64)
  return ResNet(ResNetConfig(
      depths=tuple(args["layers"]), hidden_sizes=tuple(c * expansion for c in args.get("channels", (64, 128, 256, 512))),
      embedding_size=stem_width * 2 if stem != "imagenet" else 64, layer_type=args["block"], stem=stem,
      stem_width=stem_width, avg_down=bool(args.get("avg_down", False)), cardinality=args.get("cardinality", 1),
      base_width=args.get("base_width", 64), se_divisor=8, eca=attention == "eca",
      se_reduction=round(1 / block_args.get("rd_ratio", 1 / 16)) if attention == "se" else 0,
      stem_pool=aa_pool or ("conv" if args.get("replace_stem_pool") else "max"), aa_pool=aa_pool,
      indexed_shortcut=True, num_channels=_in_channels(config),
      num_classes=num_classes(config)), rngs=nnx.Rngs(0))


# timm's legacy senet.py (Cadene's SENet port): v1 blocks (stride in conv1) except SE-ResNeXt.
LEGACY_SENET_PATTERN = r"legacy_seres(?P<kind>net|next)(?P<depth>18|26|34|50|101|152)(?:_32x4d)?"


def _legacy_senet(architecture: str, config: dict) -> ResNet:
  match = re.fullmatch(LEGACY_SENET_PATTERN, architecture)
  model_args(architecture, config, set())
  block, depth_layers = _RESNET_DEPTHS[int(match["depth"])]
  resnext = match["kind"] == "next"
  expansion = 4 if block == "bottleneck" else 1
  return ResNet(ResNetConfig(
      depths=depth_layers, hidden_sizes=tuple(c * expansion for c in (64, 128, 256, 512)), layer_type=block,
      downsample_in_bottleneck=not resnext, cardinality=32 if resnext else 1, base_width=4 if resnext else 64,
      stem_pool_ceil=True, se_reduction=16, se_divisor=1, indexed_shortcut=True, act_before_se=block == "basic",
      num_channels=_in_channels(config), num_classes=num_classes(config)), rngs=nnx.Rngs(0))


def _in_channels(config: dict) -> int:
  return int((config.get("model_args") or {}).get("in_chans", 3))


def _inception_v3(architecture: str, config: dict) -> InceptionV3:
  args = model_args(architecture, config, {"norm_eps", "act_layer", "norm_layer"})
  for name, default in (("norm_eps", 1e-3), ("act_layer", "relu"), ("norm_layer", "batchnorm2d")):
    if args.get(name, default) != default:
      raise ConversionError(f"timm model {architecture!r}: {name}={args[name]!r} is not supported ({default!r} only).")
  return InceptionV3(num_classes(config), _in_channels(config), rngs=nnx.Rngs(0))


_DENSENETS = {"densenet121": (32, (6, 12, 24, 16)), "densenet161": (48, (6, 12, 36, 24)),
              "densenet169": (32, (6, 12, 32, 32)), "densenet201": (32, (6, 12, 48, 32))}


def _densenet(architecture: str, config: dict) -> DenseNet:
  growth_rate, block_config = _DENSENETS[architecture]
  args = model_args(architecture, config, {"growth_rate", "block_config", "bn_size", "stem_type"})
  if args.get("stem_type", ""):
    raise ConversionError(f"timm model {architecture!r}: stem_type {args['stem_type']!r} is not supported.")
  return DenseNet(DenseNetConfig(growth_rate=args.get("growth_rate", growth_rate),
                                 block_config=tuple(args.get("block_config", block_config)),
                                 bn_size=args.get("bn_size", 4), num_channels=_in_channels(config),
                                 num_classes=num_classes(config)), rngs=nnx.Rngs(0))


def _dense_layer(match: re.Match) -> str:
  """``denseblock{i}.denselayer{j}.(norm|conv)(1|2).`` → ``blocks.{i-1}.{j-1}.(bottleneck|expand).…``."""
  unit = "bottleneck" if match[4] == "1" else "expand"
  return f"blocks.{int(match[1]) - 1}.{int(match[2]) - 1}.{unit}.{match[3]}."


def _vgg(architecture: str, config: dict) -> VGG:
  args = model_args(architecture, config, {"mlp_ratio"})
  return VGG(VGGConfig(layers=VGG_LAYERS[architecture.removesuffix("_bn")], batch_norm=architecture.endswith("_bn"),
                       mlp_ratio=float(args.get("mlp_ratio", 1.0)), num_channels=_in_channels(config),
                       num_classes=num_classes(config)), rngs=nnx.Rngs(0))


def _stage(match: re.Match) -> str:
  """``layer{i}.{j}.`` (timm, 1-based stages) → ``stages.{i-1}.{j}.``."""
  return f"stages.{int(match[1]) - 1}.{match[2]}."


def _block_layer(match: re.Match) -> str:
  """``stages.i.j.conv{k}`` / ``bn{k}`` → ``stages.i.j.layers.{k-1}.conv`` / ``.bn``."""
  return f"{match[1]}.layers.{int(match[3]) - 1}.{match[2]}."


_BLOCK_RENAMES = (
    (r"^layer(\d+)\.(\d+)\.", _stage),
    (r"^(stages\.\d+\.\d+)\.(conv|bn)(\d)\.", _block_layer),
    (r"\.se_module\.", ".se."),
    (r"\.downsample\.", ".shortcut."),
)

FAMILIES: dict[str, TimmFamily] = {
    RESNET_PATTERN: TimmFamily(_resnet, (
        (r"^conv1\.weight$", "stem.conv.weight"),
        (r"^conv1\.0\.", "stem.layers.0.conv."), (r"^conv1\.1\.", "stem.layers.0.bn."),
        (r"^conv1\.3\.", "stem.layers.1.conv."), (r"^conv1\.4\.", "stem.layers.1.bn."),
        (r"^conv1\.6\.", "stem.conv."), (r"^bn1\.", "stem.bn."),
        (r"^maxpool\.0\.", "stem_pool.conv."), (r"^maxpool\.1\.", "stem_pool.bn."),  # replace_stem_pool
        *_BLOCK_RENAMES,
        (r"^fc\.", "head."))),
    LEGACY_SENET_PATTERN: TimmFamily(_legacy_senet, (
        (r"^layer0\.conv1\.", "stem.conv."), (r"^layer0\.bn1\.", "stem.bn."),
        *_BLOCK_RENAMES,
        (r"^last_linear\.", "head."))),
    r"inception_v3": TimmFamily(_inception_v3, ((r"^fc\.", "head."),), ignore=(r"^AuxLogits\.",)),
    r"densenet(121|161|169|201)": TimmFamily(_densenet, (
        (r"^features\.conv0\.", "stem_conv."), (r"^features\.norm0\.", "stem_norm."),
        (r"^features\.denseblock(\d+)\.denselayer(\d+)\.(norm|conv)(1|2)\.", _dense_layer),
        (r"^features\.transition(\d+)\.", lambda m: f"transitions.{int(m[1]) - 1}."),
        (r"^features\.norm5\.", "final_norm."),
        (r"^classifier\.", "head."))),
    r"vgg(11|13|16|19)(_bn)?": TimmFamily(_vgg, ((r"^head\.fc\.", "head."),)),
}


# EfficientNet / tf_EfficientNet / MobileNetV2, DLA, Mixer (zoo.converters.timm_families); ViT / DeiT / CLIP /
# SigLIP / ... (zoo.converters.timm_vits).
FAMILIES.update({pattern: TimmFamily(**entry)
                 for pattern, entry in {**_MORE_FAMILIES, **_TRANSFORMER_FAMILIES, **_LATER_FAMILIES}.items()})
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _CONVNETS.items()})  # timm_convnets: ConvNeXt, RegNet, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _EFFICIENTNETS.items()})  # EfficientNetV2, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _MOBILE.items()})  # timm_mobile: MobileNetV4, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _SMALL_FAMILIES.items()})  # timm_small: ConvMixer, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _RESNETS.items()})  # timm_resnets: ResNetV2
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _METAFORMERS.items()})  # timm_metaformers: PoolFormer, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _VIT_VARIANTS.items()})  # EVA-02, RoPE ViTs, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _BYOB.items()})  # timm_byob: ByobNet, ByoaNet, CS3
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFEFF.items()})  # timm_tfeff: EfficientViT, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFHG.items()})  # timm_tfhg: HGNet, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _MAXXVIT.items()})  # timm_maxxvit: CoAtNet, MaxViT
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFPVT.items()})  # timm_tfpvt: PVT v2, Twins
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFNEXT.items()})  # timm_tfnext: Next-ViT, …
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFVIM.items()})  # timm_tfvim: GCViT, EfficientViM
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFCSP.items()})  # timm_tfcsp: Aligned Xception, CSPNeXt
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFRDNET.items()})  # timm_tfrdnet: RDNet
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFDAVIT.items()})  # timm_tfdavit: DaViT, SwiftFormer
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFCOAT.items()})  # timm_tfcoat: CoaT-Lite
FAMILIES.update({pattern: TimmFamily(**entry) for pattern, entry in _TFCPU.items()})  # timm_tfcpu: CPUBone, LowFormer


def family_of(architecture: str, source: str = "") -> TimmFamily:
  """The family whose pattern fully matches ``architecture``; a ConversionError listing the
  supported patterns otherwise."""
  for pattern, family in FAMILIES.items():
    if re.fullmatch(pattern, architecture or ""):
      return family
  patterns = "\n  ".join(FAMILIES)
  raise ConversionError(f"timm model {source!r}: architecture {architecture!r} is not supported; supported "
                        f"architecture patterns (zoo.converters.timm.FAMILIES):\n  {patterns}")


def build_timm(architecture: str, num_classes: int = 1000, **kwargs) -> nnx.Module:
  """A freshly initialised nnx module of a timm architecture (``kwargs`` as timm's model
  arguments, e.g. ``layers=[1, 1, 1, 1]``): the builder of a zoo row whose weights come from
  ``WeightSource("timm", ...)``."""
  config = {"architecture": architecture, "num_classes": num_classes, "model_args": kwargs}
  return family_of(architecture).build(architecture, config)


# The files of a timm export its converter reads (the Hub download when a row names none).
TIMM_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")


def read_config(source: str, *, revision: str | None = None, files: tuple[str, ...] = (),
                hub_cache=None) -> dict[str, Any]:
  """The export's config.json; a ConversionError when it is not timm's format."""
  config = _read_config(_resolve(source, revision=revision, files=files, hub_cache=hub_cache,
                                 default_files=TIMM_FILES), source)
  if "architecture" not in config:
    raise ConversionError(f"{source!r}: config.json has no 'architecture' (not a timm export; transformers "
                          "checkpoints load with zoo.load_pretrained).")
  return config


def load_timm(source: str, *, cache_dir=None, revision: str | None = None, files: tuple[str, ...] = (),
              hub_cache=None) -> nnx.Module:
  """The nnx model of a timm checkpoint, with its converted weights.

  ``source``: a Hub repo id (``timm/resnet50.a1_in1k``; resolved offline from the Hugging Face
  cache when HF_HUB_OFFLINE=1) or a local directory with timm's config.json and
  model.safetensors. ``model(images)`` on preprocessed float32 NHWC images returns
  ``(logits, embedding)``, the embedding being timm's
  ``forward_head(forward_features(x), pre_logits=True)``. Every tensor must map onto the
  module and every parameter must get one (ConversionError naming tensor and model
  otherwise, before anything is cached). The converted state is cached under
  ``cache_dir`` (None: converted every call, nothing written). A Hub repo is
  downloaded at ``revision``, only ``files`` (default :data:`TIMM_FILES`), into ``hub_cache``.
  """
  directory = _resolve(source, revision=revision, files=files, hub_cache=hub_cache, default_files=TIMM_FILES)
  config = read_config(str(directory))
  architecture = config["architecture"]
  family = family_of(architecture, source)
  files = _weight_files(directory, source, revision)
  try:
    abstract = eval_shape(lambda: family.build(architecture, config))
  except ConversionError as error:  # say which checkpoint asked for the unsupported configuration
    raise ConversionError(f"{source!r}: {error}") from None
  model_name = f"{source} ({architecture})"
  return cached_conversion(
      source, [directory / "config.json", *files], abstract,
      lambda module: load_into(module, _read_all(files, model_name), model_name=model_name, renames=family.renames,
                               ignore=_ALWAYS_IGNORED + family.ignore, source=", ".join(str(f) for f in files)),
      cache_dir)


def _read_all(files, model_name: str):
  tensors = {}
  for file in files:
    tensors.update(read_safetensors(file, model_name))
  return tensors


_INTERPOLATIONS = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest"}


def timm_preprocessing(source: str, *, revision: str | None = None, hub_cache=None) -> Preprocessing:
  """The evaluation preprocessing of a timm export, from its ``pretrained_cfg``
  (:func:`preprocessing_from_cfg`)."""
  cfg = read_config(source, revision=revision, hub_cache=hub_cache, files=("config.json",)).get("pretrained_cfg") or {}
  return preprocessing_from_cfg(cfg, source)


def preprocessing_from_cfg(cfg: dict, source: str) -> Preprocessing:
  """The evaluation preprocessing of a timm ``pretrained_cfg``:
  resize to ⌊input_size / crop_pct⌋ (shorter side for crop_mode "center", both sides for
  "squash", longer side then pad for "border") with its interpolation, centre-crop
  input_size² (crop_pct > 1: zero-padding the sides below it first, as torchvision's CenterCrop),
  normalise with mean / std (timm's defaults where a field is absent)."""
  channels, height, width = cfg.get("input_size", (3, 224, 224))
  if height != width:
    raise ValueError(f"timm model {source!r}: non-square input_size {cfg['input_size']} is not supported.")
  interpolation = cfg.get("interpolation", "bilinear")
  if interpolation not in _INTERPOLATIONS:
    raise ValueError(f"timm model {source!r}: interpolation {interpolation!r} is not supported "
                     f"({sorted(_INTERPOLATIONS)}).")
  crop_pct = float(cfg.get("crop_pct") or 0.875)
  if not crop_pct > 0:
    raise ValueError(f"timm model {source!r}: crop_pct {crop_pct} must be positive.")
  return Preprocessing(resolution=int(height), crop_fraction=crop_pct,
                       interpolation=_INTERPOLATIONS[interpolation], crop_mode=cfg.get("crop_mode") or "center",
                       torchvision_sizes=True, mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                       std=tuple(cfg.get("std", (0.229, 0.224, 0.225))), channels=int(channels))
