"""timm's GCViT (zoo.architectures.gcvit) and EfficientViM (zoo.architectures.efficientvim) as data.

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as timm
1.0.31's model function passes them to the model class (``timm/models/gcvit.py``, ``efficientvim.py``); a checkpoint's
``model_args`` (its config.json) override them. ``ENTRIES`` maps a regex that fully matches the
architecture names to ``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.efficientvim import EfficientVim, EfficientVimConfig
from zoo.architectures.gcvit import GcVit, GcVitConfig
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square

# --- GCViT (timm's gcvit.py) -------------------------------------------------------------------

GCVIT_VARIANTS: dict[str, dict] = {
    "gcvit_xxtiny": dict(depths=(2, 2, 6, 2), num_heads=(2, 4, 8, 16)),
    "gcvit_xtiny": dict(depths=(3, 4, 6, 5), num_heads=(2, 4, 8, 16)),
    "gcvit_tiny": dict(depths=(3, 4, 19, 5), num_heads=(2, 4, 8, 16)),
    "gcvit_small": dict(depths=(3, 4, 19, 5), num_heads=(3, 6, 12, 24), embed_dim=96, mlp_ratio=2, layer_scale=1e-5),
    "gcvit_base": dict(depths=(3, 4, 19, 5), num_heads=(4, 8, 16, 32), embed_dim=128, mlp_ratio=2, layer_scale=1e-5),
}
_GCVIT_ARGS = {"img_size", "window_ratio", "window_size", "embed_dim", "depths", "num_heads", "mlp_ratio", "qkv_bias",
               "layer_scale", "act_layer", "norm_layer", "norm_layer_cl", "norm_eps", "weight_init", "attn_drop_rate",
               "global_pool"}
# GlobalContextVit's defaults for the arguments the nnx module models only at these values.
_GCVIT_FIXED = {"act_layer": "gelu", "norm_layer": "layernorm2d", "norm_layer_cl": "layernorm"}


def _per_stage(name: str, value, stages: int, what: str) -> tuple[int, ...]:
  """timm's to_ntuple: an int for every stage, or one per stage; square windows only."""
  values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * stages
  if len(values) != stages:
    raise ConversionError(f"timm model {name!r}: {what} {value!r} needs one value per stage ({stages}).")
  return tuple(_square(name, v) if isinstance(v, (list, tuple)) else int(v) for v in values)


def _window_sizes(name: str, arguments: dict, image_size: int, stages: int) -> tuple[int, ...]:
  """timm: ``window_size`` per stage when given, else img_size // window_ratio (default 32, 32, 16, 32)."""
  if arguments.get("window_size") is not None:
    return _per_stage(name, arguments["window_size"], stages, "window_size")
  ratios = _per_stage(name, arguments.get("window_ratio", (32, 32, 16, 32)), stages, "window_ratio")
  return tuple(image_size // ratio for ratio in ratios)


def _check_windows(name: str, image_size: int, windows: tuple[int, ...]) -> None:
  """Each stage's map (image_size / 4, halved per later stage) must tile into its windows."""
  feature_size = image_size // 4
  for index, window in enumerate(windows):
    feature_size = feature_size // 2 if index else feature_size
    if window < 1 or feature_size % window:
      raise ConversionError(f"timm model {name!r}: stage {index}'s {feature_size}² map does not divide into "
                            f"{window}² windows (window_ratio / window_size do not fit img_size {image_size}).")


def build_gcvit(name: str, config: dict) -> nnx.Module:
  """timm's GlobalContextVit at its fixed input size (``img_size``, timm's default 224): GELU,
  LayerNorm ε ``norm_eps`` (1e-5), 'conv' downsampling; ``weight_init`` and ``attn_drop_rate``
  only change training."""
  arguments = _arguments(name, config, _GCVIT_ARGS)
  arguments = {**GCVIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  for key, value in _GCVIT_FIXED.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  image_size = _square(name, arguments.get("img_size", 224))
  depths = tuple(arguments["depths"])
  windows = _window_sizes(name, arguments, image_size, len(depths))
  _check_windows(name, image_size, windows)
  model_config = GcVitConfig(
      embed_dim=arguments.get("embed_dim", 64), depths=depths, num_heads=tuple(arguments["num_heads"]),
      window_sizes=windows, mlp_ratio=arguments.get("mlp_ratio", 3.0),
      qkv_bias=arguments.get("qkv_bias", True), layer_scale=arguments.get("layer_scale"),
      norm_eps=arguments.get("norm_eps", 1e-5), image_size=image_size, num_channels=arguments["in_chans"],
      num_classes=arguments["num_classes"])
  return GcVit(model_config, rngs=nnx.Rngs(0))


GCVIT_RENAMES = (
    (r"\.global_block\.blocks\.conv(\d+)\.", lambda m: f".global_block.convs.{int(m[1]) - 1}."),
    (r"\.se\.fc1\.", ".se.conv_reduce."),
    (r"\.se\.fc2\.", ".se.conv_expand."),
    (r"^head\.fc\.", "head."),
)


# --- EfficientViM (timm's efficientvim.py; ``*_dist``: EfficientViMDistilled) ---------------------

_EFFICIENTVIM_SIZES = {  # timm's model functions' model_args
    "m1": dict(embed_dim=(128, 192, 320), depths=(2, 2, 2), state_dim=(49, 25, 9)),
    "m2": dict(embed_dim=(128, 256, 512), depths=(2, 2, 2), state_dim=(49, 25, 9)),
    "m3": dict(embed_dim=(224, 320, 512), depths=(2, 2, 2), state_dim=(49, 25, 9)),
    "m4": dict(embed_dim=(224, 320, 512), depths=(3, 4, 2), state_dim=(64, 32, 16)),
}
EFFICIENTVIM_VARIANTS: dict[str, dict] = {f"efficientvim_{size}{dist}": dict(args, distilled=bool(dist))
                                          for size, args in _EFFICIENTVIM_SIZES.items() for dist in ("", "_dist")}
_EFFICIENTVIM_ARGS = {"embed_dim", "depths", "state_dim", "mlp_ratio", "ssd_expand", "global_pool"}


def build_efficientvim(name: str, config: dict) -> nnx.Module:
  """timm's EfficientViM / EfficientViMDistilled (resolution-free: any input size)."""
  arguments = _arguments(name, config, _EFFICIENTVIM_ARGS)
  arguments = {**EFFICIENTVIM_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  _check_pool(name, arguments.get("global_pool"), {"avg"})
  dims, depths, states = (tuple(arguments[k]) for k in ("embed_dim", "depths", "state_dim"))
  if not len(dims) == len(depths) == len(states):
    raise ConversionError(f"timm model {name!r}: embed_dim, depths and state_dim need one value per stage "
                          f"(got {dims}, {depths}, {states}).")
  return EfficientVim(EfficientVimConfig(
      embed_dims=dims, depths=depths, state_dims=states, mlp_ratio=arguments.get("mlp_ratio", 4.0),
      ssd_expand=arguments.get("ssd_expand", 1.0), distilled=arguments["distilled"],
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


EFFICIENTVIM_RENAMES = (
    (r"^patch_embed\.conv\.", "patch_embed."),
    (r"\.(BCdt_proj|hz_proj|out_proj)\.conv\.weight$", r".\1.weight"),
    (r"\.conv\.2\.fc1\.", ".conv.2.conv_reduce."),  # PatchMerging's SqueezeExcite
    (r"\.conv\.2\.fc2\.", ".conv.2.conv_expand."),
)


ENTRIES: dict[str, dict] = {
    _names(GCVIT_VARIANTS): dict(build=build_gcvit, renames=GCVIT_RENAMES),
    _names(EFFICIENTVIM_VARIANTS): dict(build=build_efficientvim, renames=EFFICIENTVIM_RENAMES),
}
