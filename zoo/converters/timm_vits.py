"""timm's transformer families as data: VisionTransformer (ViT, AugReg, DeiT / DeiT III,
CLIP / OpenCLIP image towers fine-tuned on ImageNet, SigLIP with MAP or mean pooling,
register / GAP models, FlexiViT, EVA-L, BEiT-3, ResPostBlock ViT, DINOv2 in timm's layout,
...), BEiT / BEiT v2 and EVA-g (zoo.architectures.beit), Swin V1 / S3 / V2
(zoo.architectures.swin) and CaiT (zoo.architectures.cait).

Each family is a table of architectures (``*_VARIANTS``): each name's keyword arguments as
timm 1.0.31's model function passes them to the model class (``timm/models/
vision_transformer.py``, ``deit.py``, ``beit.py``, ``eva.py``, ``swin_transformer.py``,
``swin_transformer_v2.py``, ``cait.py``), with ``img_size`` where the architecture's default
pretrained config is not 224², ``norm_eps`` for a ``norm_layer=partial(LayerNorm, eps=…)`` and
``block_fn`` by its class name. A checkpoint's ``model_args`` (its config.json) override them.
``ENTRIES`` maps a regex that fully matches the architecture names to
``dict(build=..., renames=..., ignore=...)``; zoo.converters.timm wraps each in a ``TimmFamily``.
"""

from __future__ import annotations

from flax import nnx

from zoo.architectures.beit import Beit, BeitConfig
from zoo.architectures.cait import Cait, CaitConfig
from zoo.architectures.swin import Swin, SwinConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.converters.mapping import ATTENTION_PROJECTIONS, ConversionError
from zoo.converters.timm_families import _arguments, _names, _square

# timm VisionTransformer(**kwargs) per architecture (timm 1.0.31's entry points).
VIT_VARIANTS: dict[str, dict] = {
    "vit_base_patch16_rpn_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False,
                                     init_values=1e-05, class_token=False, block_fn="ResPostBlock",
                                     global_pool="avg"),
    "beit3_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
                                   scale_attn_norm=True, scale_mlp_norm=True, class_token=True, global_pool='avg',
                                   norm_eps=1e-05),
    "beit3_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, mlp_ratio=4,
                                    scale_attn_norm=True, scale_mlp_norm=True, class_token=True, global_pool='avg',
                                    norm_eps=1e-05),
    "beit3_giant_patch14_224": dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.3637,
                                    scale_attn_norm=True, scale_mlp_norm=True, class_token=True, global_pool='avg',
                                    norm_eps=1e-05),
    "beit3_giant_patch14_336": dict(img_size=336, patch_size=14, embed_dim=1408, depth=40, num_heads=16,
                                    mlp_ratio=4.3637, scale_attn_norm=True, scale_mlp_norm=True, class_token=True,
                                    global_pool='avg', norm_eps=1e-05),
    "deit3_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, no_embed_class=True,
                                   init_values=1e-06),
    "deit3_base_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, no_embed_class=True,
                                   init_values=1e-06, img_size=384),
    "deit3_huge_patch14_224": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, no_embed_class=True,
                                   init_values=1e-06),
    "deit3_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, no_embed_class=True,
                                    init_values=1e-06),
    "deit3_large_patch16_384": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, no_embed_class=True,
                                    init_values=1e-06, img_size=384),
    "deit3_medium_patch16_224": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, no_embed_class=True,
                                     init_values=1e-06),
    "deit3_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, no_embed_class=True,
                                    init_values=1e-06),
    "deit3_small_patch16_384": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, no_embed_class=True,
                                    init_values=1e-06, img_size=384),
    "deit_base_distilled_patch16_224": dict(distilled=True, patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_base_distilled_patch16_384": dict(distilled=True, patch_size=16, embed_dim=768, depth=12, num_heads=12,
                                            img_size=384),
    "deit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "deit_base_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, img_size=384),
    "deit_small_distilled_patch16_224": dict(distilled=True, patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "deit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "deit_tiny_distilled_patch16_224": dict(distilled=True, patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "deit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "eva_large_patch14_196": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, global_pool='avg',
                                  img_size=196),
    "eva_large_patch14_336": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, global_pool='avg',
                                  img_size=336),
    "flexivit_base": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, no_embed_class=True, img_size=240),
    "flexivit_large": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, no_embed_class=True, img_size=240),
    "flexivit_small": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, no_embed_class=True, img_size=240),
    "vit_base_patch14_dinov2": dict(patch_size=14, embed_dim=768, depth=12, num_heads=12, init_values=1e-05,
                                    img_size=518),
    "vit_base_patch14_reg1_tipsv2": dict(patch_size=14, embed_dim=768, depth=12, num_heads=12, init_values=1.0,
                                         reg_tokens=1, no_embed_class=True, img_size=448),
    "vit_base_patch14_reg4_dinov2": dict(patch_size=14, embed_dim=768, depth=12, num_heads=12, init_values=1e-05,
                                         reg_tokens=4, no_embed_class=True, img_size=518),
    "vit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    "vit_base_patch16_224_miil": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False),
    "vit_base_patch16_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, img_size=384),
    "vit_base_patch16_clip_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05),
    "vit_base_patch16_clip_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05, img_size=384),
    "vit_base_patch16_clip_quickgelu_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                                act_layer='quick_gelu', norm_eps=1e-05),
    "vit_base_patch16_gap_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=16, class_token=False,
                                     global_pool='avg', fc_norm=False),
    "vit_base_patch16_plus_240": dict(patch_size=16, embed_dim=896, depth=12, num_heads=14, init_values=1e-05,
                                      img_size=240),
    "vit_base_patch16_plus_clip_240": dict(patch_size=16, embed_dim=896, depth=12, num_heads=14, pre_norm=True,
                                           norm_eps=1e-05, img_size=240),
    "vit_base_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                          no_embed_class=True, global_pool='avg', reg_tokens=4, img_size=256),
    "vit_base_patch16_siglip_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                        global_pool='map'),
    "vit_base_patch16_siglip_256": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                        global_pool='map', img_size=256),
    "vit_base_patch16_siglip_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                        global_pool='map', img_size=384),
    "vit_base_patch16_siglip_512": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                        global_pool='map', img_size=512),
    "vit_base_patch16_siglip_gap_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                            global_pool='avg', fc_norm=False),
    "vit_base_patch16_siglip_gap_256": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                            global_pool='avg', fc_norm=False, img_size=256),
    "vit_base_patch16_siglip_gap_384": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                            global_pool='avg', fc_norm=False, img_size=384),
    "vit_base_patch16_siglip_gap_512": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                            global_pool='avg', fc_norm=False, img_size=512),
    "vit_base_patch32_224": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12),
    "vit_base_patch32_384": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, img_size=384),
    "vit_base_patch32_clip_224": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05),
    "vit_base_patch32_clip_256": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05, img_size=256),
    "vit_base_patch32_clip_384": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05, img_size=384),
    "vit_base_patch32_clip_448": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                      norm_eps=1e-05, img_size=448),
    "vit_base_patch32_clip_quickgelu_224": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, pre_norm=True,
                                                act_layer='quick_gelu', norm_eps=1e-05),
    "vit_base_patch32_plus_256": dict(patch_size=32, embed_dim=896, depth=12, num_heads=14, init_values=1e-05,
                                      img_size=256),
    "vit_base_patch32_siglip_256": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                        global_pool='map', act_layer='gelu_tanh', img_size=256),
    "vit_base_patch32_siglip_gap_256": dict(patch_size=32, embed_dim=768, depth=12, num_heads=12, class_token=False,
                                            global_pool='avg', fc_norm=False, act_layer='gelu_tanh', img_size=256),
    "vit_base_patch8_224": dict(patch_size=8, embed_dim=768, depth=12, num_heads=12),
    "vit_betwixt_patch16_gap_256": dict(patch_size=16, embed_dim=640, depth=12, num_heads=10, class_token=False,
                                        global_pool='avg', qkv_bias=False, init_values=1e-06, fc_norm=False,
                                        img_size=256),
    "vit_betwixt_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=640, depth=12, num_heads=10, init_values=1e-05,
                                             class_token=False, no_embed_class=True, reg_tokens=1, global_pool='avg',
                                             img_size=256),
    "vit_betwixt_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=640, depth=12, num_heads=10, init_values=1e-05,
                                             class_token=False, no_embed_class=True, reg_tokens=4, global_pool='avg',
                                             img_size=256),
    "vit_betwixt_patch16_reg4_gap_384": dict(patch_size=16, embed_dim=640, depth=12, num_heads=10, init_values=1e-05,
                                             class_token=False, no_embed_class=True, reg_tokens=4, global_pool='avg',
                                             img_size=384),
    "vit_betwixt_patch32_clip_224": dict(patch_size=32, embed_dim=640, depth=12, num_heads=10, pre_norm=True,
                                         norm_eps=1e-05),
    "vit_giant_patch14_224": dict(patch_size=14, embed_dim=1408, mlp_ratio=4.363636363636363, depth=40, num_heads=16),
    "vit_giant_patch14_clip_224": dict(patch_size=14, embed_dim=1408, mlp_ratio=4.363636363636363, depth=40,
                                       num_heads=16, pre_norm=True, norm_eps=1e-05),
    "vit_giant_patch16_gap_224": dict(patch_size=16, embed_dim=1408, depth=40, num_heads=16,
                                      mlp_ratio=4.363636363636363, class_token=False, global_pool='avg',
                                      fc_norm=False),
    "vit_giantopt_patch16_siglip_256": dict(patch_size=16, embed_dim=1536, depth=40, num_heads=16, class_token=False,
                                            global_pool='map', act_layer='gelu_tanh', img_size=256),
    "vit_giantopt_patch16_siglip_384": dict(patch_size=16, embed_dim=1536, depth=40, num_heads=16, class_token=False,
                                            global_pool='map', act_layer='gelu_tanh', img_size=384),
    "vit_giantopt_patch16_siglip_gap_256": dict(patch_size=16, embed_dim=1536, depth=40, num_heads=16,
                                                class_token=False, global_pool='avg', fc_norm=False,
                                                act_layer='gelu_tanh', img_size=256),
    "vit_giantopt_patch16_siglip_gap_384": dict(patch_size=16, embed_dim=1536, depth=40, num_heads=16,
                                                class_token=False, global_pool='avg', fc_norm=False,
                                                act_layer='gelu_tanh', img_size=384),
    "vit_gigantic_patch14_224": dict(patch_size=14, embed_dim=1664, mlp_ratio=4.923076923076923, depth=48,
                                     num_heads=16),
    "vit_gigantic_patch14_clip_224": dict(patch_size=14, embed_dim=1664, mlp_ratio=4.923076923076923, depth=48,
                                          num_heads=16, pre_norm=True, norm_eps=1e-05),
    "vit_gigantic_patch14_clip_378": dict(patch_size=14, embed_dim=1664, mlp_ratio=4.923076923076923, depth=48,
                                          num_heads=16, pre_norm=True, norm_eps=1e-05, img_size=378),
    "vit_gigantic_patch14_clip_quickgelu_224": dict(patch_size=14, embed_dim=1664, mlp_ratio=4.923076923076923,
                                                    depth=48, num_heads=16, pre_norm=True, act_layer='quick_gelu',
                                                    norm_eps=1e-05),
    "vit_huge_patch14_224": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16),
    "vit_huge_patch14_clip_224": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, pre_norm=True,
                                      norm_eps=1e-05),
    "vit_huge_patch14_clip_336": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, pre_norm=True,
                                      norm_eps=1e-05, img_size=336),
    "vit_huge_patch14_clip_378": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, pre_norm=True,
                                      norm_eps=1e-05, img_size=378),
    "vit_huge_patch14_clip_quickgelu_224": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, pre_norm=True,
                                                act_layer='quick_gelu', norm_eps=1e-05),
    "vit_huge_patch14_clip_quickgelu_378": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, pre_norm=True,
                                                act_layer='quick_gelu', norm_eps=1e-05, img_size=378),
    "vit_huge_patch14_gap_224": dict(patch_size=14, embed_dim=1280, depth=32, num_heads=16, class_token=False,
                                     global_pool='avg', fc_norm=False),
    "vit_huge_patch16_gap_448": dict(patch_size=16, embed_dim=1280, depth=32, num_heads=16, class_token=False,
                                     global_pool='avg', fc_norm=False, img_size=448),
    "vit_large_patch14_224": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16),
    "vit_large_patch14_clip_224": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, pre_norm=True,
                                       norm_eps=1e-05),
    "vit_large_patch14_clip_336": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, pre_norm=True,
                                       norm_eps=1e-05, img_size=336),
    "vit_large_patch14_clip_quickgelu_224": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, pre_norm=True,
                                                 act_layer='quick_gelu', norm_eps=1e-05),
    "vit_large_patch14_clip_quickgelu_336": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, pre_norm=True,
                                                 act_layer='quick_gelu', norm_eps=1e-05, img_size=336),
    "vit_large_patch14_dinov2": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, init_values=1e-05,
                                     img_size=518),
    "vit_large_patch14_reg1_tipsv2": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, init_values=1.0,
                                          reg_tokens=1, no_embed_class=True, img_size=448),
    "vit_large_patch14_reg4_dinov2": dict(patch_size=14, embed_dim=1024, depth=24, num_heads=16, init_values=1e-05,
                                          reg_tokens=4, no_embed_class=True, img_size=518),
    "vit_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16),
    "vit_large_patch16_384": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, img_size=384),
    "vit_large_patch16_siglip_256": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                         global_pool='map', img_size=256),
    "vit_large_patch16_siglip_384": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                         global_pool='map', img_size=384),
    "vit_large_patch16_siglip_512": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                         global_pool='map', act_layer='gelu_tanh', img_size=512),
    "vit_large_patch16_siglip_gap_256": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                             global_pool='avg', fc_norm=False, img_size=256),
    "vit_large_patch16_siglip_gap_384": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                             global_pool='avg', fc_norm=False, img_size=384),
    "vit_large_patch16_siglip_gap_512": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, class_token=False,
                                             global_pool='avg', fc_norm=False, act_layer='gelu_tanh', img_size=512),
    "vit_large_patch32_224": dict(patch_size=32, embed_dim=1024, depth=24, num_heads=16),
    "vit_large_patch32_384": dict(patch_size=32, embed_dim=1024, depth=24, num_heads=16, img_size=384),
    "vit_little_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=320, depth=14, num_heads=5, init_values=1e-05,
                                            mlp_ratio=5.6, class_token=False, no_embed_class=True, reg_tokens=1,
                                            global_pool='avg', img_size=256),
    "vit_little_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=320, depth=14, num_heads=5, init_values=1e-05,
                                            mlp_ratio=5.6, class_token=False, no_embed_class=True, reg_tokens=4,
                                            global_pool='avg', img_size=256),
    "vit_medium_patch16_clip_224": dict(embed_dim=512, depth=12, num_heads=8, pre_norm=True, norm_eps=1e-05),
    "vit_medium_patch16_gap_240": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, class_token=False,
                                       global_pool='avg', qkv_bias=False, init_values=1e-06, fc_norm=False,
                                       img_size=240),
    "vit_medium_patch16_gap_256": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, class_token=False,
                                       global_pool='avg', qkv_bias=False, init_values=1e-06, fc_norm=False,
                                       img_size=256),
    "vit_medium_patch16_gap_384": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, class_token=False,
                                       global_pool='avg', qkv_bias=False, init_values=1e-06, fc_norm=False,
                                       img_size=384),
    "vit_medium_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, init_values=1e-05,
                                            class_token=False, no_embed_class=True, reg_tokens=1, global_pool='avg',
                                            img_size=256),
    "vit_medium_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, init_values=1e-05,
                                            class_token=False, no_embed_class=True, reg_tokens=4, global_pool='avg',
                                            img_size=256),
    "vit_medium_patch32_clip_224": dict(patch_size=32, embed_dim=512, depth=12, num_heads=8, pre_norm=True,
                                        norm_eps=1e-05),
    "vit_mediumd_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=512, depth=20, num_heads=8, init_values=1e-05,
                                             class_token=False, no_embed_class=True, reg_tokens=4, global_pool='avg',
                                             img_size=256),
    "vit_mediumd_patch16_reg4_gap_384": dict(patch_size=16, embed_dim=512, depth=20, num_heads=8, init_values=1e-05,
                                             class_token=False, no_embed_class=True, reg_tokens=4, global_pool='avg',
                                             img_size=384),
    "vit_small_patch14_dinov2": dict(patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-05,
                                     img_size=518),
    "vit_small_patch14_reg4_dinov2": dict(patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-05,
                                          reg_tokens=4, no_embed_class=True, img_size=518),
    "vit_small_patch16_224": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
    "vit_small_patch16_36x1_224": dict(patch_size=16, embed_dim=384, depth=36, num_heads=6, init_values=1e-05),
    "vit_small_patch16_384": dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, img_size=384),
    "vit_small_patch32_224": dict(patch_size=32, embed_dim=384, depth=12, num_heads=6),
    "vit_small_patch32_384": dict(patch_size=32, embed_dim=384, depth=12, num_heads=6, img_size=384),
    "vit_small_patch8_224": dict(patch_size=8, embed_dim=384, depth=12, num_heads=6),
    "vit_so150m2_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=832, depth=21, num_heads=13,
                                             mlp_ratio=2.6153846153846154, init_values=1e-05, qkv_bias=False,
                                             class_token=False, reg_tokens=1, global_pool='avg', img_size=256),
    "vit_so150m2_patch16_reg1_gap_384": dict(patch_size=16, embed_dim=832, depth=21, num_heads=13,
                                             mlp_ratio=2.6153846153846154, init_values=1e-05, qkv_bias=False,
                                             class_token=False, reg_tokens=1, global_pool='avg', img_size=384),
    "vit_so150m2_patch16_reg1_gap_448": dict(patch_size=16, embed_dim=832, depth=21, num_heads=13,
                                             mlp_ratio=2.6153846153846154, init_values=1e-05, qkv_bias=False,
                                             class_token=False, reg_tokens=1, global_pool='avg', img_size=448),
    "vit_so150m_patch16_reg4_gap_256": dict(patch_size=16, embed_dim=896, depth=18, num_heads=14, mlp_ratio=2.572,
                                            class_token=False, reg_tokens=4, global_pool='avg', fc_norm=False,
                                            img_size=256),
    "vit_so150m_patch16_reg4_gap_384": dict(patch_size=16, embed_dim=896, depth=18, num_heads=14, mlp_ratio=2.572,
                                            class_token=False, reg_tokens=4, global_pool='avg', fc_norm=False,
                                            img_size=384),
    "vit_so150m_patch16_reg4_map_256": dict(patch_size=16, embed_dim=896, depth=18, num_heads=14, mlp_ratio=2.572,
                                            class_token=False, reg_tokens=4, global_pool='map', img_size=256),
    "vit_so400m_patch14_reg1_tipsv2": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, init_values=1.0,
                                           mlp_ratio=3.736111111111111, reg_tokens=1, no_embed_class=True,
                                           img_size=448),
    "vit_so400m_patch14_siglip_224": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map'),
    "vit_so400m_patch14_siglip_378": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map', img_size=378),
    "vit_so400m_patch14_siglip_384": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map', img_size=384),
    "vit_so400m_patch14_siglip_gap_224": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False),
    "vit_so400m_patch14_siglip_gap_378": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False, img_size=378),
    "vit_so400m_patch14_siglip_gap_384": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False, img_size=384),
    "vit_so400m_patch14_siglip_gap_448": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False, img_size=448),
    "vit_so400m_patch14_siglip_gap_896": dict(patch_size=14, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False, img_size=896),
    "vit_so400m_patch16_siglip_256": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map', act_layer='gelu_tanh', img_size=256),
    "vit_so400m_patch16_siglip_384": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map', act_layer='gelu_tanh', img_size=384),
    "vit_so400m_patch16_siglip_512": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                          class_token=False, global_pool='map', act_layer='gelu_tanh', img_size=512),
    "vit_so400m_patch16_siglip_gap_256": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False,
                                              act_layer='gelu_tanh', img_size=256),
    "vit_so400m_patch16_siglip_gap_384": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False,
                                              act_layer='gelu_tanh', img_size=384),
    "vit_so400m_patch16_siglip_gap_512": dict(patch_size=16, embed_dim=1152, depth=27, num_heads=16, mlp_ratio=3.7362,
                                              class_token=False, global_pool='avg', fc_norm=False,
                                              act_layer='gelu_tanh', img_size=512),
    "vit_tiny_patch16_224": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
    "vit_tiny_patch16_384": dict(patch_size=16, embed_dim=192, depth=12, num_heads=3, img_size=384),
    "vit_wee_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=256, depth=14, num_heads=4, init_values=1e-05,
                                         mlp_ratio=5, class_token=False, no_embed_class=True, reg_tokens=1,
                                         global_pool='avg', img_size=256),
    "vit_xsmall_patch16_clip_224": dict(embed_dim=256, depth=10, num_heads=4, pre_norm=True, norm_eps=1e-05),
    # timm's SBB ViTs with differential attention and / or parallel blocks
    "vit_dwee_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=256, depth=14, num_heads=4, init_values=1e-05,
                                          mlp_ratio=5, class_token=False, no_embed_class=True, reg_tokens=1,
                                          global_pool='avg', attn_layer='diff', img_size=256),
    "vit_pwee_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=256, depth=16, num_heads=4, init_values=1e-05,
                                          mlp_ratio=5, class_token=False, no_embed_class=True, reg_tokens=1,
                                          global_pool='avg', block_fn="ParallelScalingBlock", img_size=256),
    "vit_dpwee_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=256, depth=16, num_heads=4, init_values=1e-05,
                                           mlp_ratio=5, class_token=False, no_embed_class=True, reg_tokens=1,
                                           global_pool='avg', block_fn="DiffParallelScalingBlock", img_size=256),
    "vit_dlittle_patch16_reg1_gap_256": dict(patch_size=16, embed_dim=320, depth=14, num_heads=5, init_values=1e-05,
                                             mlp_ratio=5.6, class_token=False, no_embed_class=True, reg_tokens=1,
                                             global_pool='avg', attn_layer='diff', img_size=256),
    "test_vit": dict(patch_size=16, embed_dim=64, depth=6, num_heads=2, mlp_ratio=3, dynamic_img_size=True,
                     img_size=160),
    "test_vit2": dict(patch_size=16, embed_dim=64, depth=8, num_heads=2, mlp_ratio=3, class_token=False, reg_tokens=1,
                      global_pool='avg', init_values=1e-05, dynamic_img_size=True, img_size=160),
    "test_vit3": dict(patch_size=16, embed_dim=96, depth=9, num_heads=3, mlp_ratio=2, class_token=False, reg_tokens=1,
                      global_pool='map', pool_include_prefix=True, init_values=1e-05, img_size=160),
}

# timm's VisionTransformer arguments this converter models (others: a ConversionError).
_VIT_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "init_values",
             "class_token", "no_embed_class", "reg_tokens", "global_pool", "fc_norm", "pre_norm", "act_layer",
             "distilled", "dynamic_img_size", "weight_init", "fix_init", "scale_attn_norm", "scale_mlp_norm",
             "block_fn", "pool_include_prefix", "attn_layer"}
# timm block_fn class names this converter models.
_VIT_BLOCKS = ("Block", "ResPostBlock", "ParallelScalingBlock", "DiffParallelScalingBlock")
# timm global_pool → ViTConfig.pooling.
_VIT_POOLINGS = {"token": "cls", "avg": "avg", "map": "map"}
# timm act_layer names → zoo.architectures.layers activations (timm's default: exact GELU).
_VIT_ACTIVATIONS = {None: "gelu", "gelu": "gelu", "quick_gelu": "quick_gelu", "gelu_tanh": "gelu_pytorch_tanh"}


def _pretrained_img_size(config: dict) -> dict:
  """timm's rule (``_builder._update_default_model_kwargs``): without an ``img_size`` argument, a
  pretrained config with ``fixed_input_size`` sets it to its ``input_size``."""
  pretrained = config.get("pretrained_cfg") or {}
  if pretrained.get("fixed_input_size") and pretrained.get("input_size"):
    return {"img_size": list(pretrained["input_size"][-2:])}
  return {}


def vit_arguments(name: str, config: dict) -> dict:
  """The variant's timm arguments updated by the checkpoint's ``model_args`` (each checked)."""
  arguments = {k: v for k, v in _arguments(name, config, _VIT_ARGS).items() if v is not None}
  arguments = {**VIT_VARIANTS[name], **_pretrained_img_size(config), **arguments}
  if arguments.get("scale_attn_norm", False) != arguments.get("scale_mlp_norm", False):
    raise ConversionError(f"timm model {name!r}: scale_attn_norm and scale_mlp_norm must agree (BEiT-3: both).")
  if arguments.get("global_pool", "token") not in _VIT_POOLINGS:
    raise ConversionError(f"timm model {name!r}: global_pool {arguments['global_pool']!r} is not supported "
                          f"(only {sorted(_VIT_POOLINGS)}).")
  if arguments.get("block_fn", "Block") not in _VIT_BLOCKS:
    raise ConversionError(f"timm model {name!r}: block_fn {arguments['block_fn']!r} is not supported "
                          f"(only {', '.join(_VIT_BLOCKS)}).")
  if arguments.get("attn_layer", "") not in ("", "attn", "diff"):
    raise ConversionError(f"timm model {name!r}: attn_layer {arguments['attn_layer']!r} is not supported "
                          "('attn' or 'diff').")
  parallel = arguments.get("block_fn", "Block") in ("ParallelScalingBlock", "DiffParallelScalingBlock")
  if parallel and (arguments.get("scale_attn_norm") or arguments.get("attn_layer")):
    raise ConversionError(f"timm model {name!r}: {arguments['block_fn']} takes no scale norms or attn_layer.")
  if arguments.get("act_layer") not in _VIT_ACTIVATIONS:
    raise ConversionError(f"timm model {name!r}: act_layer {arguments['act_layer']!r} is not supported "
                          f"(only {sorted(k for k in _VIT_ACTIVATIONS if k)}).")
  return arguments


def vit_config(name: str, config: dict) -> ViTConfig:
  """timm's VisionTransformer arguments as a :class:`ViTConfig`: fused qkv, LayerNorm ε 1e-6
  (1e-5 for CLIP towers), layer scale when ``init_values``, the final norm after the pool
  (``fc_norm``) by default for mean pooling, positions on the prefix tokens unless
  ``no_embed_class``, no patch bias with ``pre_norm``."""
  arguments = vit_arguments(name, config)
  width, pool = arguments.get("embed_dim", 768), arguments.get("global_pool", "token")
  fc_norm, pre_norm = arguments.get("fc_norm"), bool(arguments.get("pre_norm", False))
  distilled = bool(arguments.get("distilled", False))
  post_norm = arguments.get("block_fn") == "ResPostBlock"  # init_values then only initialise its norms
  return ViTConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 16),
      num_channels=arguments["in_chans"], hidden_size=width, num_hidden_layers=arguments.get("depth", 12),
      num_attention_heads=arguments.get("num_heads", 12),
      intermediate_size=int(width * arguments.get("mlp_ratio", 4.0)),
      hidden_act=_VIT_ACTIVATIONS[arguments.get("act_layer")], layer_norm_eps=arguments.get("norm_eps", 1e-6),
      qkv_bias=arguments.get("qkv_bias", True), patch_bias=not pre_norm, pre_norm=pre_norm,
      distillation_token=distilled, distilled_head=distilled, num_classes=arguments["num_classes"],
      num_register_tokens=arguments.get("reg_tokens", 0),
      pooling=_VIT_POOLINGS[pool], fused_qkv=True, class_token=arguments.get("class_token", True),
      prefix_positions="none" if arguments.get("no_embed_class") else "all",
      norm_after_pool=pool == "avg" if fc_norm is None else bool(fc_norm),
      scale_norms=bool(arguments.get("scale_attn_norm", False)), post_norm=post_norm,
      layer_scale=bool(arguments.get("init_values")) and not post_norm,
      pool_prefix_tokens=bool(arguments.get("pool_include_prefix", False)),
      parallel_blocks=arguments.get("block_fn") in ("ParallelScalingBlock", "DiffParallelScalingBlock"),
      parallel_fused_out=arguments.get("block_fn") == "DiffParallelScalingBlock",
      differential_attention=arguments.get("attn_layer") == "diff" or arguments.get("block_fn") == "DiffParallelScalingBlock",
      # timm's dynamic_img_size: the position table resampled to the input's grid (resample_abs_pos_embed:
      # bicubic, antialiased)
      position_interpolation="bicubic_antialias" if arguments.get("dynamic_img_size") else None)


def build_vit(name: str, config: dict) -> nnx.Module:
  """Any architecture of :data:`VIT_VARIANTS` (ViT, DeiT / DeiT III, CLIP, SigLIP, registers, ...)."""
  return VisionTransformer(vit_config(name, config), rngs=nnx.Rngs(0))


VIT_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"blocks.\1.attn.out."),
    (r"^blocks\.(\d+)\.ls([12])\.gamma$", r"blocks.\1.ls\2"),
    (r"^fc_norm\.", "norm."),  # timm's norm after the pool: the module's one final norm
    (r"^attn_pool\.latent$", "attn_pool.probe"),
    (r"^attn_pool\.proj\.", "attn_pool.out."),
    # differential attention's λ vectors and sub-norm (in the attention, or in a DiffParallelScalingBlock)
    (r"^(blocks\.\d+\.(?:attn\.)?)(lambda_[qk][12]$|sub_norm\.)", r"\1differential.\2"),
    (r"^blocks\.(\d+)\.ls\.gamma$", r"blocks.\1.ls"),  # the parallel block's one layer scale
)


# --- BEiT / BEiT v2 (timm's beit.py) and EVA-g without rotary positions (eva.py) ------------------

BEIT_VARIANTS: dict[str, dict] = {
    "beit_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
                                  use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1),
    "beit_base_patch16_384": dict(img_size=384, patch_size=16, embed_dim=768, depth=12, num_heads=12,
                                  use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=0.1),
    "beit_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, use_abs_pos_emb=False,
                                   use_rel_pos_bias=True, init_values=1e-05),
    "beit_large_patch16_384": dict(img_size=384, patch_size=16, embed_dim=1024, depth=24, num_heads=16,
                                   use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=1e-05),
    "beit_large_patch16_512": dict(img_size=512, patch_size=16, embed_dim=1024, depth=24, num_heads=16,
                                   use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=1e-05),
    "beitv2_base_patch16_224": dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4,
                                    use_abs_pos_emb=False, use_rel_pos_bias=True, init_values=1e-05),
    "beitv2_large_patch16_224": dict(patch_size=16, embed_dim=1024, depth=24, num_heads=16, use_abs_pos_emb=False,
                                     use_rel_pos_bias=True, init_values=1e-05),
}
# timm's Eva defaults (absolute positions, q/v biases, no layer scale, mean pooling + fc_norm) are BEiT's
# network without relative position biases.
EVA_VARIANTS: dict[str, dict] = {
    "eva_giant_patch14_224": dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.363636363636363),
    "eva_giant_patch14_336": dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.363636363636363,
                                  img_size=336),
    "eva_giant_patch14_560": dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16, mlp_ratio=4.363636363636363,
                                  img_size=560),
    "eva_giant_patch14_clip_224": dict(patch_size=14, embed_dim=1408, depth=40, num_heads=16,
                                       mlp_ratio=4.363636363636363, global_pool="token"),
}
_BEIT_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "init_values", "global_pool",
              "use_abs_pos_emb", "use_rel_pos_bias", "use_shared_rel_pos_bias", "use_fc_norm", "qkv_bias",
              "swiglu_mlp", "scale_mlp", "head_init_scale"}
_EVA_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "init_values", "global_pool",
             "use_abs_pos_emb", "use_fc_norm", "qkv_bias", "qkv_fused", "class_token", "use_rot_pos_emb",
             "swiglu_mlp", "scale_mlp", "scale_attn_inner", "num_reg_tokens", "no_embed_class"}
# Arguments whose only modelled value is timm's default (for either family).
_BEIT_FIXED = dict(qkv_bias=True, swiglu_mlp=False, scale_mlp=False, qkv_fused=True, class_token=True,
                   use_rot_pos_emb=False, scale_attn_inner=False, num_reg_tokens=0, no_embed_class=False)


def build_beit(name: str, config: dict) -> nnx.Module:
  """timm's BEiT / BEiT v2 and EVA-g (no rotary positions) as :class:`Beit`: pre-norm blocks with a
  fused bias-free qkv plus q_bias / v_bias, layer scale when ``init_values``, relative position
  biases per block (or shared), LayerNorm ε 1e-6; ``avg`` pooling = mean patch token then
  ``fc_norm``, ``token`` = the class token after the final norm."""
  eva = name in EVA_VARIANTS
  arguments = _arguments(name, config, _EVA_ARGS if eva else _BEIT_ARGS)
  arguments = {**(EVA_VARIANTS if eva else BEIT_VARIANTS)[name],
               **{k: v for k, v in arguments.items() if v is not None}}
  for key, value in _BEIT_FIXED.items():
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  pool = arguments.get("global_pool", "avg")
  fc_norm = arguments.get("use_fc_norm")
  if pool not in ("avg", "token") or (fc_norm is not None and bool(fc_norm) != (pool == "avg")):
    raise ConversionError(f"timm model {name!r}: global_pool {pool!r} with use_fc_norm={fc_norm!r} is not supported "
                          "('avg' with the norm after the pool, or 'token').")
  width = arguments.get("embed_dim", 768)
  return Beit(BeitConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 16),
      num_channels=arguments["in_chans"], hidden_size=width, num_hidden_layers=arguments.get("depth", 12),
      num_attention_heads=arguments.get("num_heads", 12),
      intermediate_size=int(width * arguments.get("mlp_ratio", 4.0)),
      hidden_act="gelu", layer_norm_eps=1e-6, use_absolute_position_embeddings=arguments.get("use_abs_pos_emb", True),
      use_relative_position_bias=arguments.get("use_rel_pos_bias", False),
      use_shared_relative_position_bias=arguments.get("use_shared_rel_pos_bias", False),
      layer_scale_init_value=arguments.get("init_values") or 0.0, use_mean_pooling=pool == "avg", pooler=True,
      fused_qkv=True, num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


BEIT_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks\.(\d+)\.attn\.proj\.", r"blocks.\1.attn.out."),
    (r"^blocks\.(\d+)\.gamma_([12])$", r"blocks.\1.ls\2"),
    (r"^blocks\.(\d+)\.attn\.relative_position_bias_table$", r"relative_position_bias.\1.table"),
    (r"^rel_pos_bias\.relative_position_bias_table$", "shared_relative_position_bias.table"),
    (r"^fc_norm\.", "pooler_norm."),
)


# --- Swin Transformer V1 / S3 (timm's swin_transformer.py) and V2 ---------------------------------------------

SWIN_VARIANTS: dict[str, dict] = {
    "swin_tiny_patch4_window7_224": dict(patch_size=4, window_size=7, embed_dim=96, depths=(2, 2, 6, 2),
                                         num_heads=(3, 6, 12, 24)),
    "swin_small_patch4_window7_224": dict(patch_size=4, window_size=7, embed_dim=96, depths=(2, 2, 18, 2),
                                          num_heads=(3, 6, 12, 24)),
    "swin_base_patch4_window7_224": dict(patch_size=4, window_size=7, embed_dim=128, depths=(2, 2, 18, 2),
                                         num_heads=(4, 8, 16, 32)),
    "swin_base_patch4_window12_384": dict(patch_size=4, window_size=12, embed_dim=128, depths=(2, 2, 18, 2),
                                          num_heads=(4, 8, 16, 32), img_size=384),
    "swin_large_patch4_window7_224": dict(patch_size=4, window_size=7, embed_dim=192, depths=(2, 2, 18, 2),
                                          num_heads=(6, 12, 24, 48)),
    "swin_large_patch4_window12_384": dict(patch_size=4, window_size=12, embed_dim=192, depths=(2, 2, 18, 2),
                                           num_heads=(6, 12, 24, 48), img_size=384),
    # Swin S3 (AutoFormerV2's searched windows): one window size per stage
    "swin_s3_tiny_224": dict(patch_size=4, window_size=(7, 7, 14, 7), embed_dim=96, depths=(2, 2, 6, 2),
                             num_heads=(3, 6, 12, 24)),
    "swin_s3_small_224": dict(patch_size=4, window_size=(14, 14, 14, 7), embed_dim=96, depths=(2, 2, 18, 2),
                              num_heads=(3, 6, 12, 24)),
    "swin_s3_base_224": dict(patch_size=4, window_size=(7, 7, 14, 7), embed_dim=96, depths=(2, 2, 30, 2),
                             num_heads=(3, 6, 12, 24)),
}
# Swin V2 (timm's swin_transformer_v2.py; patch_size 4)
SWINV2_VARIANTS: dict[str, dict] = {
    "swinv2_tiny_window8_256": dict(window_size=8, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                                    img_size=256),
    "swinv2_tiny_window16_256": dict(window_size=16, embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                                     img_size=256),
    "swinv2_small_window8_256": dict(window_size=8, embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                                     img_size=256),
    "swinv2_small_window16_256": dict(window_size=16, embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24),
                                      img_size=256),
    "swinv2_base_window8_256": dict(window_size=8, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                                    img_size=256),
    "swinv2_base_window16_256": dict(window_size=16, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                                     img_size=256),
    "swinv2_base_window12_192": dict(window_size=12, embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32),
                                     img_size=192),
    "swinv2_base_window12to16_192to256": dict(window_size=16, embed_dim=128, depths=(2, 2, 18, 2),
                                              num_heads=(4, 8, 16, 32), pretrained_window_sizes=(12, 12, 12, 6),
                                              img_size=256),
    "swinv2_base_window12to24_192to384": dict(window_size=24, embed_dim=128, depths=(2, 2, 18, 2),
                                              num_heads=(4, 8, 16, 32), pretrained_window_sizes=(12, 12, 12, 6),
                                              img_size=384),
    "swinv2_large_window12_192": dict(window_size=12, embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48),
                                      img_size=192),
    "swinv2_large_window12to16_192to256": dict(window_size=16, embed_dim=192, depths=(2, 2, 18, 2),
                                               num_heads=(6, 12, 24, 48), pretrained_window_sizes=(12, 12, 12, 6),
                                               img_size=256),
    "swinv2_large_window12to24_192to384": dict(window_size=24, embed_dim=192, depths=(2, 2, 18, 2),
                                               num_heads=(6, 12, 24, 48), pretrained_window_sizes=(12, 12, 12, 6),
                                               img_size=384),
}
_SWIN_ARGS = {"img_size", "patch_size", "window_size", "embed_dim", "depths", "num_heads", "mlp_ratio", "qkv_bias",
              "global_pool", "head_dim", "always_partition", "strict_img_size", "pretrained_window_sizes"}


def stage_windows(image_size: int, patch_size: int, depths, window) -> tuple[int, ...]:
  """timm's ``_calc_window_shift`` (always_partition=False): a stage whose map is smaller than
  its window uses the map's size as the window (and shifts nothing)."""
  windows = (window,) * len(depths) if isinstance(window, int) else tuple(window)
  grids = [image_size // patch_size // 2 ** i for i in range(len(depths))]
  return tuple(min(grid, w) for grid, w in zip(grids, windows))


def build_swin(name: str, config: dict) -> nnx.Module:
  """timm's Swin Transformer V1 / S3 and V2 as :class:`Swin` (fused qkv, LayerNorm ε 1e-5, mean
  pooling; V2: cosine attention, MLP position bias, post-norm, q/v biases)."""
  v2 = name in SWINV2_VARIANTS
  arguments = _arguments(name, config, _SWIN_ARGS)
  arguments = {**(SWINV2_VARIANTS if v2 else SWIN_VARIANTS)[name],
               **{k: v for k, v in arguments.items() if v is not None}}
  for key, value in (("global_pool", "avg"), ("head_dim", None), ("always_partition", False),
                     ("strict_img_size", True), ("qkv_bias", True)):
    if arguments.get(key, value) != value:
      raise ConversionError(f"timm model {name!r}: {key}={arguments[key]!r} is not supported ({value!r} only).")
  if "pretrained_window_sizes" in arguments and not v2:
    raise ConversionError(f"timm model {name!r}: pretrained_window_sizes is a Swin V2 argument.")
  size, patch = _square(name, arguments.get("img_size", 224)), arguments.get("patch_size", 4)
  depths = tuple(arguments["depths"])
  return Swin(SwinConfig(
      image_size=size, patch_size=patch, num_channels=arguments["in_chans"], embed_dim=arguments["embed_dim"],
      depths=depths, num_heads=tuple(arguments["num_heads"]),
      window_size=stage_windows(size, patch, depths, arguments["window_size"]),
      mlp_ratio=arguments.get("mlp_ratio", 4.0), qkv_bias=True, hidden_act="gelu", layer_norm_eps=1e-5,
      num_classes=arguments["num_classes"], fused_qkv=True, v2=v2,
      pretrained_window_size=tuple(arguments.get("pretrained_window_sizes", (0,) * len(depths)))), rngs=nnx.Rngs(0))


SWIN_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^patch_embed\.norm\.", "patch_norm."),
    (r"^layers\.(\d+)\.downsample\.", lambda m: f"stages.{int(m[1]) - 1}.downsample."),  # timm: a stage's start
    (r"^layers\.(\d+)\.blocks\.", r"stages.\1.blocks."),
    (r"\.attn\.proj\.", ".attn.out."),
    (r"\.attn\.relative_position_bias_table$", ".relative_position_bias_table"),
    (r"\.attn\.cpb_mlp\.0\.", ".cpb_fc1."), (r"\.attn\.cpb_mlp\.2\.", ".cpb_fc2."),  # V2's bias MLP
    (r"^head\.fc\.", "head."),
)


# --- CaiT (timm's cait.py) ---------------------------------------------------------------------

CAIT_VARIANTS: dict[str, dict] = {
    "cait_xxs24_224": dict(patch_size=16, embed_dim=192, depth=24, num_heads=4, init_values=1e-05),
    "cait_xxs24_384": dict(patch_size=16, embed_dim=192, depth=24, num_heads=4, init_values=1e-05, img_size=384),
    "cait_xxs36_224": dict(patch_size=16, embed_dim=192, depth=36, num_heads=4, init_values=1e-05),
    "cait_xxs36_384": dict(patch_size=16, embed_dim=192, depth=36, num_heads=4, init_values=1e-05, img_size=384),
    "cait_xs24_384": dict(patch_size=16, embed_dim=288, depth=24, num_heads=6, init_values=1e-05, img_size=384),
    "cait_s24_224": dict(patch_size=16, embed_dim=384, depth=24, num_heads=8, init_values=1e-05),
    "cait_s24_384": dict(patch_size=16, embed_dim=384, depth=24, num_heads=8, init_values=1e-05, img_size=384),
    "cait_s36_384": dict(patch_size=16, embed_dim=384, depth=36, num_heads=8, init_values=1e-06, img_size=384),
    "cait_m36_384": dict(patch_size=16, embed_dim=768, depth=36, num_heads=16, init_values=1e-06, img_size=384),
    "cait_m48_448": dict(patch_size=16, embed_dim=768, depth=48, num_heads=16, init_values=1e-06, img_size=448),
}
_CAIT_ARGS = {"img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias", "init_values",
              "global_pool", "depth_token_only", "mlp_ratio_token_only"}


def build_cait(name: str, config: dict) -> nnx.Module:
  """timm's CaiT (talking-heads self-attention blocks, then class-attention blocks; LayerNorm
  ε 1e-6; ``init_values`` only initialises the layer scales)."""
  arguments = _arguments(name, config, _CAIT_ARGS)
  arguments = {**CAIT_VARIANTS[name], **{k: v for k, v in arguments.items() if v is not None}}
  pool = arguments.get("global_pool", "token")
  if pool not in ("token", "avg"):
    raise ConversionError(f"timm model {name!r}: global_pool {pool!r} is not supported ('token' or 'avg').")
  return Cait(CaitConfig(
      image_size=_square(name, arguments.get("img_size", 224)), patch_size=arguments.get("patch_size", 16),
      num_channels=arguments["in_chans"], hidden_size=arguments.get("embed_dim", 768),
      num_hidden_layers=arguments.get("depth", 12), num_attention_heads=arguments.get("num_heads", 12),
      mlp_ratio=arguments.get("mlp_ratio", 4.0), num_class_layers=arguments.get("depth_token_only", 2),
      class_mlp_ratio=arguments.get("mlp_ratio_token_only", 4.0), qkv_bias=arguments.get("qkv_bias", True),
      pooling="cls" if pool == "token" else "avg", num_classes=arguments["num_classes"]), rngs=nnx.Rngs(0))


CAIT_RENAMES = (
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^blocks_token_only\.", "class_blocks."),
    (r"\.gamma_([12])$", r".ls\1"),
    (r"\.attn\.proj\.", ".attn.out."),
    (r"\.attn\.([qkv])\.", lambda m: f".attn.{ATTENTION_PROJECTIONS[m[1]]}."),
)


ENTRIES: dict[str, dict] = {
    _names(VIT_VARIANTS): dict(build=build_vit, renames=VIT_RENAMES),
    _names({**BEIT_VARIANTS, **EVA_VARIANTS}): dict(build=build_beit, renames=BEIT_RENAMES),
    _names({**SWIN_VARIANTS, **SWINV2_VARIANTS}): dict(build=build_swin, renames=SWIN_RENAMES),
    _names(CAIT_VARIANTS): dict(build=build_cait, renames=CAIT_RENAMES),
}
