"""timm's ByobNet family (timm/models/byobnet.py: GERNet, RepVGG, ResNet-*ts / *q with SE / ECA / GC /
bilinear attention, RegNetZ with batch norm or EvoNorm, MobileOne) and its self-attention models
(timm/models/byoanet.py: BoTNet, HaloNet, LambdaNet) as data for zoo.architectures.byobnet.

``BYOB_VARIANTS`` / ``BYOA_VARIANTS`` are timm 1.0.31's ``model_cfgs`` tables translated row by row
(each architecture's ``ByoModelCfg`` as a :class:`ByobConfig`, its ``ByoBlockCfg`` rows as
:class:`ByoBlock`), with timm's helpers ``_rep_vgg_bcfg``, ``_mobileone_bcfg`` and ``interleave_blocks``
re-expressed as the functions below. Not here: ``regnetz_b16_evos`` (no pretrained tag) and the CLIP
ResNets (attention-pool / MLP heads, no 1,000-class tags): their names do not match the patterns, so
``zoo.load_timm`` names them unsupported instead of building something else. ``ENTRIES`` maps the
regex of the names to ``dict(build=..., renames=...)`` for zoo.converters.timm (one per timm file).
``CS3_VARIANTS``: timm's cspnet.py models built by ``_cs3_cfg`` (zoo.architectures.cspnet's Cs3Net);
``CSP_VARIANTS``: its other pretrained CSPNets (DarkNet-53, DarkNet-AA-53, CSPDarkNet-53, CSPResNet(X)-50:
dark / cross stages, leaky ReLU; zoo.architectures.cspnet's CspNet), timm's ``model_cfgs`` rows translated.
"""

from __future__ import annotations

import dataclasses

from flax import nnx

from zoo.architectures.byobnet import Attention, BlockOptions, ByobConfig, ByobNet, ByoBlock, SelfAttention
from zoo.architectures.cspnet import Cs3Config, Cs3Net, CspConfig, CspNet, CspStage
from zoo.architectures.layers import make_divisible
from zoo.converters.mapping import ConversionError
from zoo.converters.timm_families import _arguments, _check_pool, _names, _square

_SE_QUARTER = Attention("se", rd_ratio=0.25)


def _rep_vgg(depths=(4, 6, 16, 1), widths=(1.0, 1.0, 1.0, 1.0), groups: int = 0) -> tuple:
  """timm's _rep_vgg_bcfg: four ``rep`` stages of 64/128/256/512 · width channels; with ``groups``,
  the odd blocks of each stage are grouped (group size channels / groups)."""
  return tuple((ByoBlock("rep", d, c * w, alternate_groups=groups),)
               for d, c, w in zip(depths, (64, 128, 256, 512), widths))


def _mobileone(widths, se_blocks=(0, 0, 0, 0), branches: int = 1, depths=(2, 8, 10, 1)) -> tuple:
  """timm's _mobileone_bcfg: each block is a depthwise k×k ``one`` block then a pointwise 1×1 one
  (the last ``se_blocks`` of a stage with SE attention), every stage's first block with stride 2."""
  stages, previous = [], min(64, 64 * widths[0])
  for depth, channels, width, se in zip(depths, (64, 128, 256, 512), widths, se_blocks):
    rows = []
    for index in range(depth):
      attn = Attention("se") if index >= depth - se else None
      rows += [ByoBlock("one", 1, previous, group_size=1, attn=attn, options=BlockOptions(num_conv_branches=branches)),
               ByoBlock("one", 1, channels * width, attn=attn,
                        options=BlockOptions(kernel_size=1, num_conv_branches=branches))]
      previous = channels * width
    stages.append(tuple(rows))
  return tuple(stages)


def _bottles(depths, channels, group_size=0, ratio=0.25, first_stride=1) -> tuple:
  """Four ``bottle`` stages (the ResNet-like rows of timm's table), the first with ``first_stride``."""
  return tuple((ByoBlock("bottle", d, c, first_stride if i == 0 else 2, group_size, ratio),)
               for i, (d, c) in enumerate(zip(depths, channels)))


def _gernet(first, second, third, fourth, fifth) -> tuple:
  """GERNet rows (Lin et al. 2020): two basic stages, three bottleneck stages (the last stride 1)."""
  return ((ByoBlock("basic", first[0], first[1]),), (ByoBlock("basic", second[0], second[1]),),
          (ByoBlock("bottle", third[0], third[1], bottle_ratio=0.25),),
          (ByoBlock("bottle", fourth[0], fourth[1], group_size=1, bottle_ratio=3.0),),
          (ByoBlock("bottle", fifth[0], fifth[1], 1, group_size=1, bottle_ratio=3.0),))


_TS = dict(stem_channels=64, stem_type="tiered", act="silu")  # the "ts" models: tiered stem, SiLU
_RESNEXT26 = dict(stages=_bottles((2, 2, 2, 2), (256, 512, 1024, 2048), 32), stem_pool="maxpool", **_TS)
_RESNET33 = dict(stages=_bottles((2, 3, 3, 2), (256, 512, 1536, 1536)), num_features=1280, **_TS)
_REGNETZ = dict(downsample="", act="silu", attn=_SE_QUARTER, options=BlockOptions(bottle_in=True, linear_out=True))


def _regnetz(depths, channels, group_size, ratio, first_stride, **fields) -> ByobConfig:
  return ByobConfig(stages=_bottles(depths, channels, group_size, ratio, first_stride), **_REGNETZ, **fields)


BYOB_VARIANTS: dict[str, ByobConfig] = {
    "gernet_l": ByobConfig(_gernet((1, 128), (2, 192), (6, 640), (5, 640), (4, 640)), num_features=2560),
    "gernet_m": ByobConfig(_gernet((1, 128), (2, 192), (6, 640), (4, 640), (1, 640)), num_features=2560),
    "gernet_s": ByobConfig(_gernet((1, 48), (3, 48), (7, 384), (2, 560), (1, 256)), stem_channels=13,
                           num_features=1920),
    "repvgg_a0": ByobConfig(_rep_vgg((2, 4, 14, 1), (0.75, 0.75, 0.75, 2.5)), stem_type="rep", stem_channels=48),
    "repvgg_a1": ByobConfig(_rep_vgg((2, 4, 14, 1), (1, 1, 1, 2.5)), stem_type="rep", stem_channels=64),
    "repvgg_a2": ByobConfig(_rep_vgg((2, 4, 14, 1), (1.5, 1.5, 1.5, 2.75)), stem_type="rep", stem_channels=64),
    "repvgg_b0": ByobConfig(_rep_vgg(widths=(1, 1, 1, 2.5)), stem_type="rep", stem_channels=64),
    "repvgg_b1": ByobConfig(_rep_vgg(widths=(2, 2, 2, 4)), stem_type="rep", stem_channels=64),
    "repvgg_b1g4": ByobConfig(_rep_vgg(widths=(2, 2, 2, 4), groups=4), stem_type="rep", stem_channels=64),
    "repvgg_b2": ByobConfig(_rep_vgg(widths=(2.5, 2.5, 2.5, 5)), stem_type="rep", stem_channels=64),
    "repvgg_b2g4": ByobConfig(_rep_vgg(widths=(2.5, 2.5, 2.5, 5), groups=4), stem_type="rep", stem_channels=64),
    "repvgg_b3": ByobConfig(_rep_vgg(widths=(3, 3, 3, 5)), stem_type="rep", stem_channels=64),
    "repvgg_b3g4": ByobConfig(_rep_vgg(widths=(3, 3, 3, 5), groups=4), stem_type="rep", stem_channels=64),
    "repvgg_d2se": ByobConfig(_rep_vgg((8, 14, 24, 1), (2.5, 2.5, 2.5, 5)), stem_type="rep", stem_channels=64,
                              attn=Attention("se", rd_ratio=0.0625, rd_divisor=1)),
    "resnet51q": ByobConfig(
        ((ByoBlock("bottle", 2, 256, 1, 32, 0.25),), (ByoBlock("bottle", 4, 512, 2, 32, 0.25),),
         (ByoBlock("bottle", 6, 1536, 2, 32, 0.25),), (ByoBlock("bottle", 4, 1536, 2, 1, 1.0),)),
        stem_channels=128, stem_type="quad2", num_features=2048, act="silu"),
    "resnet61q": ByobConfig(
        ((ByoBlock("edge", 1, 256, 1, 0, 1.0, options=BlockOptions()),), (ByoBlock("bottle", 4, 512, 2, 32, 0.25),),
         (ByoBlock("bottle", 6, 1536, 2, 32, 0.25),), (ByoBlock("bottle", 4, 1536, 2, 1, 1.0),)),
        stem_channels=128, stem_type="quad", num_features=2048, act="silu", options=BlockOptions(extra_conv=True)),
    "resnext26ts": ByobConfig(**_RESNEXT26),
    "gcresnext26ts": ByobConfig(**_RESNEXT26, attn=Attention("gca")),
    "seresnext26ts": ByobConfig(**_RESNEXT26, attn=Attention("se")),
    "eca_resnext26ts": ByobConfig(**_RESNEXT26, attn=Attention("eca")),
    "bat_resnext26ts": ByobConfig(**_RESNEXT26, attn=Attention("bat", block_size=8)),
    "resnet32ts": ByobConfig(**{**_RESNET33, "num_features": 0}),
    "resnet33ts": ByobConfig(**_RESNET33),
    "gcresnet33ts": ByobConfig(**_RESNET33, attn=Attention("gca")),
    "seresnet33ts": ByobConfig(**_RESNET33, attn=Attention("se")),
    "eca_resnet33ts": ByobConfig(**_RESNET33, attn=Attention("eca")),
    "gcresnet50t": ByobConfig(_bottles((3, 4, 6, 3), (256, 512, 1024, 2048)), stem_channels=64, stem_type="tiered",
                              attn=Attention("gca")),
    "gcresnext50ts": ByobConfig(_bottles((3, 4, 6, 3), (256, 512, 1024, 2048), 32), stem_pool="maxpool",
                                attn=Attention("gca"), **_TS),
    "regnetz_b16": _regnetz((2, 6, 12, 2), (48, 96, 192, 288), 16, 3, 2, stem_channels=32, num_features=1536),
    "regnetz_c16": _regnetz((2, 6, 12, 2), (48, 96, 192, 288), 16, 4, 2, stem_channels=32, num_features=1536),
    "regnetz_d32": _regnetz((3, 6, 12, 3), (64, 128, 256, 384), 32, 4, 1, stem_channels=64, stem_type="tiered",
                            num_features=1792),
    "regnetz_d8": _regnetz((3, 6, 12, 3), (64, 128, 256, 384), 8, 4, 1, stem_channels=64, stem_type="tiered",
                           num_features=1792),
    "regnetz_e8": _regnetz((3, 8, 16, 3), (96, 192, 384, 512), 8, 4, 1, stem_channels=64, stem_type="tiered",
                           num_features=2048),
    # timm's norm_layer=partial(EvoNorm2dS0a, group_size=16); regnetz_d8_evos: a 3-conv "deep" stem
    "regnetz_c16_evos": _regnetz((2, 6, 12, 2), (48, 96, 192, 288), 16, 4, 2, stem_channels=32, num_features=1536,
                                 norm="evonorm_s0a"),
    "regnetz_d8_evos": _regnetz((3, 6, 12, 3), (64, 128, 256, 384), 8, 4, 1, stem_channels=64, stem_type="deep",
                                num_features=1792, norm="evonorm_s0a"),
    "mobileone_s0": ByobConfig(_mobileone((0.75, 1.0, 1.0, 2.0), branches=4), stem_type="one", stem_channels=48),
    "mobileone_s1": ByobConfig(_mobileone((1.5, 1.5, 2.0, 2.5)), stem_type="one", stem_channels=64),
    "mobileone_s2": ByobConfig(_mobileone((1.5, 2.0, 2.5, 4.0)), stem_type="one", stem_channels=64),
    "mobileone_s3": ByobConfig(_mobileone((2.0, 2.5, 3.0, 4.0)), stem_type="one", stem_channels=64),
    "mobileone_s4": ByobConfig(_mobileone((3.0, 3.5, 3.5, 4.0), se_blocks=(0, 0, 5, 1)), stem_type="one",
                               stem_channels=64),
    "test_byobnet": ByobConfig(
        ((ByoBlock("edge", 1, 32, 2, 0, 0.5),), (ByoBlock("dark", 1, 64, 2, 0, 0.5),),
         (ByoBlock("basic", 1, 128, 2, 32, 0.25),), (ByoBlock("bottle", 1, 256, 2, 64, 0.25),)),
        stem_channels=24, downsample="avg", attn=_SE_QUARTER),
}

# --- ByoaNet (timm's byoanet.py: the same builder with self-attention blocks) ------------------------


def _interleave(depth: int, channels: int, every=1, self_attn: SelfAttention | None = None, **fields) -> tuple:
  """timm's interleave_blocks(('bottle', 'self_attn'), ...): ``depth`` single blocks, self-attention at
  the positions ``every`` lists (an int n: every (n+1)-th from n, or the last when none)."""
  positions = every if isinstance(every, list) else list(range(every, depth, every + 1)) or [depth - 1]
  return tuple(ByoBlock("self_attn" if i in positions else "bottle", 1, channels, self_attn=self_attn, **fields)
               for i in range(depth))


def _resnet26_attn(group_size: int = 0) -> tuple:
  """BoTNet-26 / HaloNet-26 / LambdaNet-26 rows: two bottleneck stages, an interleaved one, a self-attention one."""
  bottle = dict(group_size=group_size, bottle_ratio=0.25)
  return ((ByoBlock("bottle", 2, 256, 1, **bottle),), (ByoBlock("bottle", 2, 512, **bottle),),
          _interleave(2, 1024, **bottle), (ByoBlock("self_attn", 2, 2048, **bottle),))


def _resnet33_attn() -> tuple:
  """SE-BoTNet-33 / SE-HaloNet-33 rows: self-attention last in stages 2-3, then a self-attention stage."""
  bottle = dict(bottle_ratio=0.25)
  return ((ByoBlock("bottle", 2, 256, 1, **bottle),), _interleave(3, 512, [2], **bottle),
          _interleave(3, 1024, [2], **bottle), (ByoBlock("self_attn", 2, 1536, bottle_ratio=0.333),))


def _resnet50_attn(second=None, third=None, fourth=None, every_second=1) -> tuple:
  """ResNet-50 rows with interleaved self-attention in stages 2-4 (each stage's own layer, or the model's)."""
  bottle = dict(bottle_ratio=0.25)
  return ((ByoBlock("bottle", 3, 256, 1, **bottle),), _interleave(4, 512, every_second, second, **bottle),
          _interleave(6, 1024, 1, third, **bottle), _interleave(3, 2048, 1, fourth, **bottle))


_BOT, _LAMBDA = SelfAttention("bottleneck"), SelfAttention("lambda")
_ATTN_TS = dict(stem_channels=64, stem_type="tiered", act="silu")
_SE33 = dict(stem_channels=64, stem_type="tiered", act="silu", num_features=1280, attn=Attention("se"),
             image_size=256)
BYOA_VARIANTS: dict[str, ByobConfig] = {
    "botnet26t_256": ByobConfig(_resnet26_attn(), stem_channels=64, stem_type="tiered", stem_pool="maxpool",
                                self_attn=_BOT, image_size=256),
    "sebotnet33ts_256": ByobConfig(_resnet33_attn(), self_attn=_BOT, **_SE33),
    "eca_botnext26ts_256": ByobConfig(_resnet26_attn(16), stem_pool="maxpool", attn=Attention("eca"),
                                      self_attn=SelfAttention("bottleneck", dim_head=16), image_size=256, **_ATTN_TS),
    "halonet26t": ByobConfig(_resnet26_attn(), stem_channels=64, stem_type="tiered", stem_pool="maxpool",
                             self_attn=SelfAttention("halo", halo_size=2)),
    "sehalonet33ts": ByobConfig(_resnet33_attn(), self_attn=SelfAttention("halo"), **{**_SE33, "image_size": None}),
    "halonet50ts": ByobConfig(_resnet50_attn(SelfAttention("halo", num_heads=4), every_second=4), stem_pool="maxpool",
                              self_attn=SelfAttention("halo"), **_ATTN_TS),
    "eca_halonext26ts": ByobConfig(_resnet26_attn(16), stem_pool="maxpool", attn=Attention("eca"),
                                   self_attn=SelfAttention("halo", dim_head=16, halo_size=2), **_ATTN_TS),
    "lambda_resnet26t": ByobConfig(_resnet26_attn(), stem_channels=64, stem_type="tiered", stem_pool="maxpool",
                                   self_attn=_LAMBDA),
    "lambda_resnet50ts": ByobConfig(_resnet50_attn(every_second=4), stem_pool="maxpool", self_attn=_LAMBDA, **_ATTN_TS),
    "lambda_resnet26rpt_256": ByobConfig(_resnet26_attn(), stem_channels=64, stem_type="tiered", stem_pool="maxpool",
                                         self_attn=SelfAttention("lambda", r=None), image_size=256),
    "haloregnetz_b": ByobConfig(
        ((ByoBlock("bottle", 2, 48, 2, 16, 3),), (ByoBlock("bottle", 6, 96, 2, 16, 3),),
         _interleave(12, 192, 3, group_size=16, bottle_ratio=3), (ByoBlock("self_attn", 2, 288, 2, 16, 3),)),
        stem_channels=32, downsample="", num_features=1536, act="silu", attn=_SE_QUARTER,
        options=BlockOptions(bottle_in=True, linear_out=True),
        self_attn=SelfAttention("halo", block_size=7, halo_size=2, qk_ratio=0.33)),
    "lamhalobotnet50ts_256": ByobConfig(_resnet50_attn(SelfAttention("lambda", r=13), SelfAttention("halo"), _BOT),
                                        image_size=256, **_ATTN_TS),
    "halo2botnet50ts_256": ByobConfig(_resnet50_attn(SelfAttention("halo"), SelfAttention("halo"), _BOT),
                                      image_size=256, **_ATTN_TS),
}


# timm's ByobNet(cfg, **kwargs): img_size sizes the self-attention position tables, zero_init_last and
# drop_block_size only training; any other keyword would overlay the cfg and is refused.
_BYOB_ARGS = {"global_pool", "output_stride", "img_size", "zero_init_last", "drop_block_size"}


def build_byobnet(name: str, config: dict) -> nnx.Module:
  """timm's ByobNet for an architecture of ``BYOB_VARIANTS`` or ``BYOA_VARIANTS`` (output stride 32,
  average pooling; ``img_size``, when given, replaces the table's fixed input size)."""
  arguments = _arguments(name, config, _BYOB_ARGS)
  _check_pool(name, arguments["global_pool"], {"avg"})
  if arguments.get("output_stride", 32) != 32:
    raise ConversionError(f"timm model {name!r}: output_stride={arguments['output_stride']} is not supported "
                          "(32 only: no dilated stages).")
  variant = BYOB_VARIANTS.get(name) or BYOA_VARIANTS[name]
  image_size = arguments.get("img_size") or variant.image_size
  return ByobNet(dataclasses.replace(variant, num_channels=arguments["in_chans"], num_classes=arguments["num_classes"],
                                     image_size=_square(name, image_size) if image_size else None), rngs=nnx.Rngs(0))


BYOB_RENAMES = (
    (r"^stem\.conv(\d)\.", lambda m: f"stem.convs.{int(m[1]) - 1}."),  # timm's Stem: conv1, conv2, …
    (r"\.attn_last\.", ".attn."),  # one attention per block: after the middle conv (attn) or the last (attn_last)
    (r"^head\.fc\.", "head."),
)

# --- CSPNet cross-stage-3 models (timm's cspnet.py ``_cs3_cfg``: CS3-DarkNet / -SE-DarkNet / -EdgeNet) --------


def _cs3(width: float = 1.0, depth: float = 1.0, focus: bool = False, **fields) -> Cs3Config:
  """timm's _cs3_cfg: widths make_divisible(c · width) of (128, 256, 512, 1024), depths int(d · depth) of
  (3, 6, 9, 3), a (32, 64) · width stem (or one focus conv of 64 · width), SiLU."""
  stem = (make_divisible(64 * width),) if focus else tuple(make_divisible(c * width) for c in (32, 64))
  return Cs3Config(stem_widths=stem, focus=focus,
                   widths=tuple(make_divisible(c * width) for c in (128, 256, 512, 1024)),
                   depths=tuple(int(d * depth) for d in (3, 6, 9, 3)), **fields)


CS3_VARIANTS: dict[str, Cs3Config] = {
    "cs3darknet_m": _cs3(0.75, 0.67), "cs3darknet_l": _cs3(), "cs3darknet_x": _cs3(1.25, 1.33),
    "cs3darknet_focus_s": _cs3(0.5, 0.5, True), "cs3darknet_focus_m": _cs3(0.75, 0.67, True),
    "cs3darknet_focus_l": _cs3(focus=True),
    "cs3sedarknet_l": _cs3(se_ratio=0.25), "cs3sedarknet_x": _cs3(1.25, 1.33, se_ratio=1 / 16),
    "cs3edgenet_x": _cs3(1.25, 1.33, bottle_ratio=1.5, block="edge"),
    "cs3se_edgenet_x": _cs3(1.25, 1.33, bottle_ratio=1.5, block="edge", se_ratio=0.25),
}


def build_cs3net(name: str, config: dict) -> nnx.Module:
  """timm's CspNet for an architecture of ``CS3_VARIANTS`` (output stride 32, average pooling)."""
  arguments = _arguments(name, config, {"global_pool", "output_stride", "zero_init_last"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  if arguments.get("output_stride", 32) != 32:
    raise ConversionError(f"timm model {name!r}: output_stride={arguments['output_stride']} is not supported "
                          "(32 only: no dilated stages).")
  return Cs3Net(dataclasses.replace(CS3_VARIANTS[name], num_channels=arguments["in_chans"],
                                    num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


CS3_RENAMES = (
    (r"^stem\.conv(\d)\.", lambda m: f"stem.{int(m[1]) - 1}."),
    (r"\.attn\.fc1\.", ".attn.conv_reduce."), (r"\.attn\.fc2\.", ".attn.conv_expand."),
    (r"^head\.fc\.", "head."),
)


# --- The original CSPNets (timm's cspnet.py ``model_cfgs`` with 'csp' / 'dark' stages) ------------------------


def _stages(kind: str, depths, widths, strides, **per_stage) -> tuple[CspStage, ...]:
  """timm's CspStagesCfg: each field one value per stage (a tuple) or for all (a scalar); timm pads a short
  tuple with its last value (``_pad_arg``), as ``strides`` = (1, 2) means (1, 2, 2, 2) here."""
  count = len(depths)

  def pad(value):
    values = value if isinstance(value, tuple) else (value,)
    return values + (values[-1],) * (count - len(values))

  fields = {key: pad(value) for key, value in per_stage.items()}
  return tuple(CspStage(kind, depth, width, stride, **{key: values[i] for key, values in fields.items()})
               for i, (depth, width, stride) in enumerate(zip(depths, widths, pad(strides))))


_DARKNET53 = dict(depths=(1, 2, 8, 8, 4), widths=(64, 128, 256, 512, 1024), strides=2)
_CSPRESNET = dict(stem_width=64, stem_kernel=7, stem_stride=2, stem_pool=True)  # timm: stride=4, pool='max'
CSP_VARIANTS: dict[str, CspConfig] = {
    "cspresnet50": CspConfig(_stages("csp", (3, 3, 5, 2), (128, 256, 512, 1024), (1, 2), expand_ratio=2.0,
                                     bottle_ratio=0.5, cross_linear=True), **_CSPRESNET),
    "cspresnext50": CspConfig(_stages("csp", (3, 3, 5, 2), (256, 512, 1024, 2048), (1, 2), groups=32,
                                      block_ratio=0.5, cross_linear=True), **_CSPRESNET),
    "cspdarknet53": CspConfig(_stages("csp", **_DARKNET53, block="dark", expand_ratio=(2.0, 1.0),
                                      bottle_ratio=(0.5, 1.0), block_ratio=(1.0, 0.5), down_growth=True)),
    "darknet53": CspConfig(_stages("dark", **_DARKNET53, block="dark", bottle_ratio=0.5)),
    "darknetaa53": CspConfig(_stages("dark", **_DARKNET53, block="dark", bottle_ratio=0.5, avg_down=True)),
}


def build_cspnet(name: str, config: dict) -> nnx.Module:
  """timm's CspNet for an architecture of ``CSP_VARIANTS`` (output stride 32, average pooling)."""
  arguments = _arguments(name, config, {"global_pool", "output_stride", "zero_init_last"})
  _check_pool(name, arguments["global_pool"], {"avg"})
  if arguments.get("output_stride", 32) != 32:
    raise ConversionError(f"timm model {name!r}: output_stride={arguments['output_stride']} is not supported "
                          "(32 only: no dilated stages).")
  return CspNet(dataclasses.replace(CSP_VARIANTS[name], num_channels=arguments["in_chans"],
                                    num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


CSP_RENAMES = (
    (r"^stem\.conv1\.", "stem.0."),
    (r"\.conv_down\.1\.", ".conv_down."),  # avg_down: Sequential(AvgPool2d, ConvNormAct)
    (r"^head\.fc\.", "head."),
)

ENTRIES: dict[str, dict] = {
    _names(BYOB_VARIANTS): dict(build=build_byobnet, renames=BYOB_RENAMES),
    _names(BYOA_VARIANTS): dict(build=build_byobnet, renames=BYOB_RENAMES),
    _names(CS3_VARIANTS): dict(build=build_cs3net, renames=CS3_RENAMES),
    _names(CSP_VARIANTS): dict(build=build_cspnet, renames=CSP_RENAMES),
}
