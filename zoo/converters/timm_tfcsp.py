"""timm's Aligned Xception (timm/models/xception_aligned.py) as data for zoo.architectures.xception_aligned.

``XCEPTION_VARIANTS``: timm 1.0.31's model functions ``xception41`` / ``65`` / ``71`` / ``41p`` / ``65p``
translated row by row (their ``block_cfg`` lists as :class:`XceptionBlock` rows; ``norm_layer``'s eps as
``epsilon``). ``ENTRIES`` maps the regex of the names to ``dict(build=..., renames=...)`` for
zoo.converters.timm.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

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


ENTRIES: dict[str, dict] = {
    _names(XCEPTION_VARIANTS): dict(build=build_xception_aligned, renames=XCEPTION_RENAMES),
}
