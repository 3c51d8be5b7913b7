"""timm's Aligned Xception (timm/models/xception_aligned.py) and CSPNeXt (timm/models/cspnext.py) as data for
zoo.architectures.xception_aligned and zoo.architectures.cspnext.

``XCEPTION_VARIANTS``: timm 1.0.31's model functions ``xception41`` / ``65`` / ``71`` / ``41p`` / ``65p``
translated row by row (their ``block_cfg`` lists as :class:`XceptionBlock` rows; ``norm_layer``'s eps as
``epsilon``). ``CSPNEXT_VARIANTS``: the ``cspnext_*`` functions' ``deepen_factor`` / ``widen_factor``.
``ENTRIES`` maps the regex of the names to ``dict(build=..., renames=...)`` for
zoo.converters.timm.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures.cspnext import CspNext, CspNextConfig
from zoo.architectures.xception_aligned import XceptionAligned, XceptionAlignedConfig, XceptionBlock
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names


def _xception_blocks(middle: int, entry=((64, 128, 2), (128, 256, 2), (256, 728, 2)), preact: bool = False) -> tuple:
  """timm's block_cfg: entry flow rows (in, out, stride), ``middle`` 728-wide blocks, the exit flow (a strided
  728/1024/1024 block, then a no-skip 1536/1536/2048 one, which in the post-activation models has ReLU after
  its convs instead of before: ``start_with_relu=False``)."""
  rows = [XceptionBlock(cin, (cout,) * 3, stride) for cin, cout, stride in entry]
  rows += [XceptionBlock(728, (728,) * 3)] * middle
  rows += [XceptionBlock(728, (728, 1024, 1024), 2),
           XceptionBlock(1024, (1536, 1536, 2048), no_skip=True, start_with_relu=preact)]
  return tuple(rows)


_TF_EPS = 1e-3  # timm: norm_layer=partial(nn.BatchNorm2d, eps=.001) for the TF-ported weights
XCEPTION_VARIANTS: dict[str, XceptionAlignedConfig] = {
    "xception41": XceptionAlignedConfig(_xception_blocks(8), epsilon=_TF_EPS),
    "xception65": XceptionAlignedConfig(_xception_blocks(16), epsilon=_TF_EPS),
    "xception71": XceptionAlignedConfig(
        _xception_blocks(16, ((64, 128, 2), (128, 256, 1), (256, 256, 2), (256, 728, 1), (728, 728, 2))),
        epsilon=_TF_EPS),
    "xception41p": XceptionAlignedConfig(_xception_blocks(8, preact=True), preact=True),  # nn.BatchNorm2d: eps 1e-5
    "xception65p": XceptionAlignedConfig(_xception_blocks(16, preact=True), preact=True, epsilon=_TF_EPS),
}


def build_xception_aligned(name: str, config: dict) -> nnx.Module:
  """timm's XceptionAligned for an architecture of ``XCEPTION_VARIANTS`` (output stride 32, average pooling)."""
  arguments = _arguments(name, config, {"global_pool", "output_stride"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  if arguments.get("output_stride", 32) != 32:
    raise ConversionError(f"timm model {name!r}: output_stride={arguments['output_stride']} is not supported "
                          "(32 only: no dilated blocks).")
  return XceptionAligned(dataclasses.replace(XCEPTION_VARIANTS[name], num_channels=arguments["in_chans"],
                                             num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


XCEPTION_RENAMES = (
    (r"^blocks\.(\d+)\.stack\.conv(\d)\.", lambda m: f"blocks.{m[1]}.convs.{int(m[2]) - 1}."),
    (r"^head\.fc\.", "head."),
)


# --- CSPNeXt (timm's cspnext.py) -------------------------------------------------------------------------------

# name → (deepen_factor, widen_factor), timm 1.0.31's cspnext_* model functions
CSPNEXT_VARIANTS: dict[str, tuple[float, float]] = {
    "cspnext_tiny": (0.167, 0.375), "cspnext_s": (0.33, 0.5), "cspnext_m": (0.67, 0.75), "cspnext_l": (1.0, 1.0),
    "cspnext_x": (1.33, 1.25),
}
_CSPNEXT_ARGS = {"global_pool", "output_stride", "depths", "channels", "deepen_factor", "widen_factor",
                 "expand_ratio", "channel_attention"}


def build_cspnext(name: str, config: dict) -> nnx.Module:
  """timm's CspNext: depths max(round(d · deepen_factor), 1) of (3, 6, 6, 3) and widths int(c · widen_factor) of
  (128, 256, 512, 1024), as CspNext.__init__ computes them (output stride 32, average pooling)."""
  arguments = _arguments(name, config, _CSPNEXT_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  if arguments.get("output_stride", 32) != 32:
    raise ConversionError(f"timm model {name!r}: output_stride={arguments['output_stride']} is not supported "
                          "(32 only: no dilated stages).")
  deepen, widen = CSPNEXT_VARIANTS[name]
  deepen, widen = arguments.get("deepen_factor", deepen), arguments.get("widen_factor", widen)
  depths, channels = arguments.get("depths", (3, 6, 6, 3)), arguments.get("channels", (128, 256, 512, 1024))
  if len(depths) != len(channels):
    raise ConversionError(f"timm model {name!r}: depths {depths} and channels {channels} differ in length.")
  return CspNext(CspNextConfig(
      depths=tuple(max(round(d * deepen), 1) for d in depths), widths=tuple(int(c * widen) for c in channels),
      expand_ratio=arguments.get("expand_ratio", 0.5), channel_attention=arguments.get("channel_attention", True),
      num_channels=arguments["in_chans"], num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


# timm's cspnext.checkpoint_filter_fn: an OpenMMLab checkpoint's 'backbone.' prefix dropped, its 'stageN.' as
# 'stages.(N-1).' (timm-format files pass unchanged)
CSPNEXT_RENAMES = (
    (r"^backbone\.", ""), (r"^stage(\d+)\.", lambda m: f"stages.{int(m[1]) - 1}."), (r"^head\.fc\.", "head."),
)

ENTRIES: dict[str, dict] = {
    _names(XCEPTION_VARIANTS): dict(build=build_xception_aligned, renames=XCEPTION_RENAMES),
    _names(CSPNEXT_VARIANTS): dict(build=build_cspnext, renames=CSPNEXT_RENAMES),
}
