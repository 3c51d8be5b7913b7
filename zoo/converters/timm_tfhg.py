"""timm families as data: PP-HGNet / PP-HGNetV2 (zoo.architectures.hgnet).

Each family is a table of architectures (``*_VARIANTS``): each name's configuration as timm
1.0.31's model function passes it to the model class (``timm/models/hgnet.py``: ``model_cfgs``
and the ``use_lab`` keyword); a checkpoint's ``model_args`` (its config.json) override the
keywords. ``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.hgnet import HgNet, HgNetConfig, HgStage
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names


# --- PP-HGNet / PP-HGNetV2 (timm's hgnet.py) ---------------------------------------------------

def _stages(*rows) -> tuple[HgStage, ...]:
  return tuple(HgStage(*row) for row in rows)


# timm's model_cfgs: stem type, stem widths, stages (in, mid, out, blocks, downsample, light, kernel, layers);
# the hgnetv2_b0..b3 model functions pass use_lab=True.
HGNET_VARIANTS: dict[str, dict] = {
    "hgnet_tiny": dict(stem_type="v1", stem_channels=(48, 48, 96), use_lab=False, stages=_stages(
        (96, 96, 224, 1, False, False, 3, 5), (224, 128, 448, 1, True, False, 3, 5),
        (448, 160, 512, 2, True, False, 3, 5), (512, 192, 768, 1, True, False, 3, 5))),
    "hgnet_small": dict(stem_type="v1", stem_channels=(64, 64, 128), use_lab=False, stages=_stages(
        (128, 128, 256, 1, False, False, 3, 6), (256, 160, 512, 1, True, False, 3, 6),
        (512, 192, 768, 2, True, False, 3, 6), (768, 224, 1024, 1, True, False, 3, 6))),
    "hgnet_base": dict(stem_type="v1", stem_channels=(96, 96, 160), use_lab=False, stages=_stages(
        (160, 192, 320, 1, False, False, 3, 7), (320, 224, 640, 2, True, False, 3, 7),
        (640, 256, 960, 3, True, False, 3, 7), (960, 288, 1280, 2, True, False, 3, 7))),
    "hgnetv2_b0": dict(stem_type="v2", stem_channels=(16, 16), use_lab=True, stages=_stages(
        (16, 16, 64, 1, False, False, 3, 3), (64, 32, 256, 1, True, False, 3, 3),
        (256, 64, 512, 2, True, True, 5, 3), (512, 128, 1024, 1, True, True, 5, 3))),
    "hgnetv2_b1": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 64, 1, False, False, 3, 3), (64, 48, 256, 1, True, False, 3, 3),
        (256, 96, 512, 2, True, True, 5, 3), (512, 192, 1024, 1, True, True, 5, 3))),
    "hgnetv2_b2": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 96, 1, False, False, 3, 4), (96, 64, 384, 1, True, False, 3, 4),
        (384, 128, 768, 3, True, True, 5, 4), (768, 256, 1536, 1, True, True, 5, 4))),
    "hgnetv2_b3": dict(stem_type="v2", stem_channels=(24, 32), use_lab=True, stages=_stages(
        (32, 32, 128, 1, False, False, 3, 5), (128, 64, 512, 1, True, False, 3, 5),
        (512, 128, 1024, 3, True, True, 5, 5), (1024, 256, 2048, 1, True, True, 5, 5))),
    "hgnetv2_b4": dict(stem_type="v2", stem_channels=(32, 48), use_lab=False, stages=_stages(
        (48, 48, 128, 1, False, False, 3, 6), (128, 96, 512, 1, True, False, 3, 6),
        (512, 192, 1024, 3, True, True, 5, 6), (1024, 384, 2048, 1, True, True, 5, 6))),
    "hgnetv2_b5": dict(stem_type="v2", stem_channels=(32, 64), use_lab=False, stages=_stages(
        (64, 64, 128, 1, False, False, 3, 6), (128, 128, 512, 2, True, False, 3, 6),
        (512, 256, 1024, 5, True, True, 5, 6), (1024, 512, 2048, 2, True, True, 5, 6))),
    "hgnetv2_b6": dict(stem_type="v2", stem_channels=(48, 96), use_lab=False, stages=_stages(
        (96, 96, 192, 2, False, False, 3, 6), (192, 192, 512, 3, True, False, 3, 6),
        (512, 384, 1024, 6, True, True, 5, 6), (1024, 768, 2048, 3, True, True, 5, 6))),
}
_HGNET_ARGS = {"global_pool", "head_hidden_size", "use_lab"}


def build_hgnet(name: str, config: dict) -> nnx.Module:
  """timm's HighPerfGpuNet: the variant's model_cfg, ``use_lab`` and ``head_hidden_size`` (2048
  unless model_args say otherwise; None = no conv after pooling)."""
  arguments = _arguments(name, config, _HGNET_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  variant = HGNET_VARIANTS[name]
  hidden = arguments.get("head_hidden_size", 2048)
  if hidden is not None and (not isinstance(hidden, int) or hidden <= 0):
    raise ConversionError(f"timm model {name!r}: head_hidden_size {hidden!r} is not supported (a positive int or "
                          "None).")
  return HgNet(HgNetConfig(
      stem_type=variant["stem_type"], stem_channels=variant["stem_channels"], stages=variant["stages"],
      use_lab=bool(arguments.get("use_lab", variant["use_lab"])), head_hidden_size=hidden or 0,
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


HGNET_RENAMES = (
    (r"^head\.last_conv\.0\.", "head.last_conv."),  # Sequential(conv, ReLU, LearnableAffineBlock)
    (r"^head\.last_conv\.2\.", "head.lab."),
)


ENTRIES: dict[str, dict] = {
    _names(HGNET_VARIANTS): dict(build=build_hgnet, renames=HGNET_RENAMES),
}
