"""The ``paper`` catalog: the models of Gontijo-Lopes et al. (ICLR 2022) mapped to the best
public checkpoints our converters read (transformers safetensors on the Hub, Google .npz).

The paper's own checkpoints (an in-house RandAugment ResNet-50, its 51-model sweep, ALIGN,
ViT-G/14, MPL) are not public; each row's ``note`` says what it substitutes for. Not yet
rows: SimCLR (its public weights are TF checkpoints / timm-style PyTorch files, neither
read here), ALIGN (transformers' ``align`` type, no converter yet) and timm's 74–78 %
architectures (timm's tensor names; no timm converter yet). ``top1``
is the ImageNet top-1 published for that checkpoint where known (source in the note);
categories relative to the base follow from the fields, never per pair.
"""

from __future__ import annotations

import functools

from zoo.architectures.bit import BiT, BitConfig
from zoo.architectures.clip import CLIP, TextConfig
from zoo.architectures.clip_resnet import ClipResNetConfig
from zoo.architectures.efficientnet import EfficientNet, EfficientNetConfig
from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.converters.big_vision import augreg_hparams
from zoo.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from zoo.registry import ModelEntry, WeightSource, register, set_base

_HALF = dict(mean=(0.5,) * 3, std=(0.5,) * 3, channels=3)
_IMAGENET = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD, channels=3)
_CLIP_NORM = dict(mean=(0.48145466, 0.4578275, 0.40821073), std=(0.26862954, 0.26130258, 0.27577711), channels=3)
IN1K, IN21K, WIT = "imagenet-1k", "imagenet-21k", "wit-400m"


def _row(name, builder, kind, location, preprocessing, *, objective="supervised", data=IN1K, architecture,
         hparams=(), top1=None, note=""):
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource(kind, location), preprocessing=preprocessing,
      num_classes=1000, objective=objective, pretraining_data=data, architecture=architecture,
      hparams=tuple(sorted(hparams.items())) if isinstance(hparams, dict) else hparams, top1=top1,
      catalog="paper", note=note))


def _module(cls, config_cls, **fields):
  return lambda rngs: cls(config_cls(**fields), rngs=rngs)


_vit = functools.partial(_module, VisionTransformer, ViTConfig)
_TINY = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768)
_SMALL = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536)

BASE = _row("resnet50.base", _module(ResNet, ResNetConfig), "huggingface", "microsoft/resnet-50",
            Preprocessing(224, 0.875, "bicubic", **_IMAGENET), architecture="resnet50",
            hparams={"recipe": "torchvision-style 90 epochs"},
            note="substitute for the paper's in-house ResNet-50 + RandAugment base (76.5 %); expect ≈76 %")
set_base("paper", BASE.name)

# Architecture: supervised on ImageNet-1k, other architectures (paper: 17 models, 74-78 % band).
_row("deit_tiny.in1k", _vit(**_TINY), "huggingface", "facebook/deit-tiny-patch16-224",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), architecture="vit_tiny16", top1=72.2,
     note="DeiT paper, Table 7")
_row("deit_small.in1k", _vit(**_SMALL), "huggingface", "facebook/deit-small-patch16-224",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), architecture="vit_small16", top1=79.8,
     note="DeiT paper, Table 7 (above the 74-78 % band)")
_row("efficientnet_b0.in1k", _module(EfficientNet, EfficientNetConfig), "huggingface", "google/efficientnet-b0",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), architecture="efficientnet_b0", top1=77.1,
     note="EfficientNet paper; the paper's Fig. 6 feature-mixing partner")
_row("efficientnet_b3.in1k", _module(EfficientNet, EfficientNetConfig, width_coefficient=1.2, depth_coefficient=1.4,
                                     hidden_dim=1536), "huggingface", "google/efficientnet-b3",
     Preprocessing(300, 0.904, "bicubic", **_IMAGENET), architecture="efficientnet_b3", top1=81.6,
     note="EfficientNet paper; the paper's high-accuracy architecture model (80.9 % there)")
_row("mixer_b16.in1k", _module(MlpMixer, MixerConfig), "npz", "gs://mixer_models/imagenet1k/Mixer-B_16.npz",
     Preprocessing(224, 0.875, "bicubic", **_HALF), architecture="mixer_b16", top1=76.44,
     note="MLP-Mixer paper (ImageNet-1k only); timm's mixer_b16_224 is in the paper's candidate list")

# Framework: same data, different objective.
_row("deit_tiny_distilled.in1k", _vit(**_TINY, distillation_token=True, distilled_head=True), "huggingface",
     "facebook/deit-tiny-distilled-patch16-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET),
     objective="distillation", architecture="vit_tiny16", top1=74.5,
     note="DeiT paper; the paper's likely 'model trained with distillation'. SimCLR (the other framework "
          "model) has no transformers/npz checkpoint: add a row when one is converted")

# Dataset: larger or different pre-training data.
_AUGREG = "gs://vit_models/augreg/{}--imagenet2012-steps_20k-lr_0.03-res_224.npz"
for _file, _architecture, _size in (
    ("S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("S_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("S_16-i21k-300ep-lr_0.001-aug_medium2-wd_0.03-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0", "vit_tiny16", _TINY)):
  _hparams = augreg_hparams(_file)
  _row(f"augreg_{_file.split('-')[0].lower()}.{_hparams['aug']}_wd{_hparams['wd']}",
       _vit(**_size, hidden_act="gelu_new", layer_norm_eps=1e-6), "npz", _AUGREG.format(_file),
       Preprocessing(224, 0.9, "bicubic", **_HALF), data=IN21K, architecture=_architecture,
       hparams={k: v for k, v in _hparams.items() if k not in ("arch", "data")},
       note="AugReg (Steiner et al. 2022); top-1 in the AugReg index.csv. Pairs among these rows are a "
            "hyper-parameter category (same data, objective, architecture)")
_row("vit_b16.in21k_ft_in1k", _vit(), "huggingface", "google/vit-base-patch16-224",
     Preprocessing(224, 1.0, "bilinear", **_HALF), data=IN21K, architecture="vit_base16",
     note="original ViT-B/16 (ImageNet-21k pre-training, 1k fine-tuning)")
_row("bit_m_r50x1.in21k_ft_in1k", _module(BiT, BitConfig), "huggingface", "google/bit-50",
     Preprocessing(448, 1.0, "bilinear", **_HALF), data=IN21K, architecture="bit_r50x1",
     note="BiT-M; substitute for the paper's BiT-1k (JFT, 82.9 %), which is not public")
_clip_b32 = lambda rngs: CLIP(ViTConfig(patch_size=32, pre_norm=True, patch_bias=False, hidden_act="quick_gelu",
                                        layer_norm_eps=1e-5, projection_dim=512, num_classes=0),
                              TextConfig(), rngs=rngs)
_row("clip_vit_b32.zeroshot", _clip_b32, "huggingface", "openai/clip-vit-base-patch32",
     Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM), objective="contrastive image-text", data=WIT,
     architecture="vit_base32", top1=63.2,
     note="CLIP paper (zero-shot, 80 prompts); the paper's CLIP-S-ZeroShot (63.3 %). Classify with "
          "zoo.architectures.clip.ZeroShotClassifier; the linear-probe CLIP-S (75.7 %) is a probes/ fit on its "
          "embedding")
_row("clip_vit_l14.zeroshot", lambda rngs: CLIP(
    ViTConfig(patch_size=14, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
              pre_norm=True, patch_bias=False, hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=768,
              num_classes=0),
    TextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, projection_dim=768), rngs=rngs),
     "huggingface", "openai/clip-vit-large-patch14", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM),
     objective="contrastive image-text", data=WIT, architecture="vit_large14", top1=75.3,
     note="CLIP paper (zero-shot); the paper's high-accuracy CLIP-L (85.1 % with an L-BFGS probe on its embedding)")
_row("augreg_l_16.medium1_wd0.1", _vit(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                                       intermediate_size=4096, hidden_act="gelu_new", layer_norm_eps=1e-6),
     "npz", _AUGREG.format("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1"),
     Preprocessing(224, 0.9, "bicubic", **_HALF), data=IN21K, architecture="vit_large16",
     hparams={k: v for k, v in augreg_hparams("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1").items()
              if k not in ("arch", "data")},
     note="high-accuracy substitute for the paper's MPL and ViT-G/14 (JFT; not public)")
_row("clip_rn50.zeroshot", lambda rngs: CLIP(ClipResNetConfig(), TextConfig(eos_token_id=2, projection_dim=1024),
                                             rngs=rngs),
     "openai_clip", "timm/resnet50_clip.openai", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM),
     objective="contrastive image-text", data=WIT, architecture="clip_resnet50",
     note="CLIP's modified ResNet-50 (OpenAI weights in open_clip's safetensors); a CLIP-S candidate")
