"""The ``paper`` catalog: the models of Gontijo-Lopes et al. (ICLR 2022) mapped to the public
checkpoints our converters read (timm and transformers safetensors on the Hub, Google .npz,
open_clip's CLIP files), grouped by the paper's categories relative to the base.

The paper's own checkpoints (an in-house RandAugment ResNet-50 and its 51-model sweep, ALIGN on
the ALIGN data, ViT-G/14, MPL) are not public; rows substitute the closest public models and
their ``note`` says so. Categories are never written here: they follow from each row's
training-method fields (``zoo.pair_category``). Every row carries :class:`Provenance`
(license, paper, where ``top1`` was published) and the preprocessing that number was measured
with; timm's numbers are its ``results-imagenet.csv`` at the listed resolution and crop.

**Reinit.** No ImageNet ResNet-50s that differ only in their seed are on the Hub; three row
groups read directories written by ``python -m launch.zoo import --source=FILE --row=NAME``
(zoo.converters.torchvision_import: a torchvision-format state dict → timm's format; the README
lists the download and import steps). A reinit pair must differ *only* in its seed, so each
group has its own ``recipe`` and pairs as reinit within itself; relative to the base
(torchvision's weights) the two public groups are hyper-parameter pairs:

- ``resnet50.tv_seed{1..5}``: the base's own recipe (torchvision's
  ``references/classification/train.py --model resnet50``, whose defaults are that recipe), one
  run per row; nobody publishes these. The script has no ``--seed`` argument (pytorch/vision's
  train.py: runs differ in their unseeded initialisation and data order) and its checkpoints
  pickle ``args`` beside ``"model"``: re-save ``checkpoint["model"]`` as a bare state dict, import.
- ``resnet50.ens_seed{1..5}`` (recipe ``pytorch-ensembles``): the deep-ensemble ResNet-50s of
  Ashukha et al. (ICLR 2020), SamsungLabs/pytorch-ensembles' "Deep Ensembles on ImageNet"
  archive. Their train/imagenet/train_imagenet.py is pytorch/examples' ImageNet script
  (torchvision ``resnet50``, SGD lr 0.1, momentum 0.9, weight decay 1e-4, batch 256, lr ÷10
  every 30 epochs) run by train/train_imagenet.sh for **130 epochs** (torchvision's weights: 90)
  with no ``--seed`` (members differ in their unseeded initialisation and data order).
- ``resnet50.rrl_seed{0..9}`` (recipe ``rrl``): the ten ImageNet ResNet-50s of Zhang & Bottou
  (ICML 2023), TjuJianyu/RRL's ``checkpoint_run{0..9}.pth.tar``. Their
  scripts/supervised_transfer/imagenet/supervised_pretrain/resnet50.sh uses torchvision's v1
  hyper-parameters (90 epochs, SGD lr 0.1, momentum 0.9, wd 1e-4, 8 × 32 images, steps at 30 and
  60) in RRL's own code (a SwAV-style ResNet-50, the same function as torchvision's); the paper
  says the runs differ in their random seed, while the published script passes no ``--seed``
  (supervised.py's default is 31): not confirmed from the code.

All three are evaluated with the base's preprocessing (the scripts' Resize(256), CenterCrop(224),
ImageNet mean/std). Rows whose directory is missing raise WeightsUnavailable; the paper study
config leaves them out and says how to add them.

**Framework.** SimCLR has no public safetensors checkpoint in a format read here (Google's are
TF checkpoints); DINO, MAE, data2vec, FCMAE (ConvNeXt V2), distillation and adversarial
training stand in for the paper's SimCLR and distilled models.
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
from zoo.registry import ModelEntry, Provenance, WeightSource, register, set_base

_HALF = dict(mean=(0.5,) * 3, std=(0.5,) * 3, channels=3)
_IMAGENET = dict(mean=IMAGENET_MEAN, std=IMAGENET_STD, channels=3)
_CLIP_NORM = dict(mean=(0.48145466, 0.4578275, 0.40821073), std=(0.26862954, 0.26130258, 0.27577711), channels=3)
# transformers rows: sizes as the checkpoint's image processor computes them (the long side
# truncated, crop offsets floored); processors that resize to (height, width) squash the image.
# tests/test_zoo_preprocessing_parity.py checks each row against its published processor.
_HF = dict(transformers_sizes=True)
_HF_SQUASH = dict(transformers_sizes=True, crop_mode="squash")
IN1K, IN21K, WIT = "imagenet-1k", "imagenet-21k", "wit-400m"
SUPERVISED, CONTRASTIVE = "supervised", "contrastive image-text"
_TIMM_CSV = "timm results-imagenet.csv ({} px, crop {}, {})"

# Licenses as the checkpoints' model cards state them.
APACHE, BSD3, MIT, CC_BY_NC = "apache-2.0", "bsd-3-clause", "mit", "cc-by-nc-4.0"


def _row(name, builder, kind, location, preprocessing, *, objective=SUPERVISED, data=IN1K, architecture,
         hparams=(), top1=None, note="", license=None, paper, top1_source=None, head="classifier", seed=0):
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource(kind, location), preprocessing=preprocessing,
      num_classes=1000, objective=objective, pretraining_data=data, architecture=architecture,
      hparams=tuple(sorted(hparams.items())) if isinstance(hparams, dict) else hparams, seed=seed, top1=top1,
      catalog="paper", note=note, head=head,
      provenance=Provenance(license=license, paper=paper, top1_source=top1_source)))


def _module(cls, config_cls, **fields):
  return lambda rngs: cls(config_cls(**fields), rngs=rngs)


def _timm_module(architecture: str, rngs=None):
  """The nnx module of a timm architecture, from the timm converter's family table."""
  from zoo.converters.timm import family_of
  return family_of(architecture).build(architecture, {"architecture": architecture, "num_classes": 1000})


def _hf_module(model_type: str, classifier: str | None, config: dict, rngs=None):
  """The nnx module of a transformers ``model_type`` from a config (defaults: transformers')."""
  from zoo.converters import huggingface
  full = {"model_type": model_type, "architectures": [classifier] if classifier else [], **config}
  if classifier:
    full["num_labels"] = 1000
  return huggingface.FAMILIES[model_type].build(full)


def _timm_row(tag, top1, size, crop, interpolation, *, name=None, architecture=None, norm=_IMAGENET, license=APACHE,
              paper, **fields):
  """A timm checkpoint ``arch.tag``; preprocessing (with torchvision's size and offset rules, as
  timm's eval transform) and top-1 as in timm's results table."""
  arch = tag.split(".")[0]
  return _row(name or tag, functools.partial(_timm_module, arch), "timm", f"timm/{tag}",
              Preprocessing(size, crop, interpolation, **norm, torchvision_sizes=True), architecture=architecture or arch, top1=top1,
              license=license, paper=paper, top1_source=_TIMM_CSV.format(size, crop, interpolation), **fields)


_vit = functools.partial(_module, VisionTransformer, ViTConfig)
_TINY = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768)
_SMALL = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536)
_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)

# ---------------------------------------------------------------------------------------------
# Base: torchvision's ResNet-50 (v1.5) recipe, the "de-facto standard baseline" (paper: 76.5 %).
TORCHVISION = "He et al. 2016, Deep Residual Learning (torchvision reference recipe)"
BASE = _timm_row("resnet50.tv_in1k", 76.130, 224, 0.875, "bilinear", name="resnet50.base", license=BSD3,
                 paper=TORCHVISION,
                 architecture="resnet50", hparams={"recipe": "tv"},
                 note="base; substitute for the paper's in-house ResNet-50 + RandAugment (76.5 %)")
set_base("paper", BASE.name)

# Reinit: ResNet-50s that differ only in their seed. None is on the Hub: these rows read directories
# that `python -m launch.zoo import` writes from the publishers' PyTorch files (module docstring).
# A row's weights.sha256, where pinned, is the sha256 of that source file (launch.zoo import checks it).
def _seed_rows(stem, seeds, recipe, paper, license, note) -> tuple[str, ...]:
  """ResNet-50 rows ``resnet50.<stem><seed>`` of one recipe, read from ``<zoo_dir>/paper/<name>``."""
  for seed in seeds:
    name = f"resnet50.{stem}{seed}"
    _row(name, functools.partial(_timm_module, "resnet50"), "timm", f"./paper/{name}", BASE.preprocessing,
         architecture="resnet50", hparams={"recipe": recipe}, seed=seed, paper=paper, license=license,
         note=note.format(seed=seed))
  return tuple(f"resnet50.{stem}{seed}" for seed in seeds)


ENSEMBLES = ("Ashukha et al. 2020, Pitfalls of In-Domain Uncertainty Estimation and Ensembling in Deep Learning "
             "(ICLR; github.com/SamsungLabs/pytorch-ensembles)")
RRL = ("Zhang & Bottou 2023, Learning useful representations for shifting tasks and distributions "
       "(ICML; github.com/TjuJianyu/RRL)")
# The rows launch.zoo import fills, by where their weights come from. tv: the base's own recipe (reinit
# pairs with the base); the public groups pair as reinit among themselves and as hyper-parameters with the
# base (pytorch-ensembles: 130 epochs; RRL: torchvision's hyper-parameters in other training code).
IMPORTED = {
    "torchvision reference recipe (your own run)": _seed_rows(
        "tv_seed", range(1, 6), "tv", TORCHVISION, None,
        "not public: your run {seed} of the base's recipe, imported with launch.zoo import (module docstring)"),
    "SamsungLabs/pytorch-ensembles": _seed_rows(
        "ens_seed", range(1, 6), "pytorch-ensembles", ENSEMBLES, "bsd-2-clause",
        "a deep-ensemble member from pytorch-ensembles' ImageNet archive (the file is chosen at import): "
        "pytorch/examples' ImageNet recipe for 130 epochs, unseeded"),
    "TjuJianyu/RRL": _seed_rows(
        "rrl_seed", range(10), "rrl", RRL, None,
        "RRL's ImageNet ResNet-50 run {seed} (checkpoint_run{seed}.pth.tar): torchvision's v1 hyper-parameters "
        "in RRL's own training code"),
}

# Hyper-parameters: one architecture and dataset, different training recipes (the paper's 51-model sweep).
RSB = "Wightman, Touvron & Jégou 2021, ResNet strikes back (arXiv:2110.00476)"
TIMM_RECIPE = "Wightman 2019, PyTorch Image Models (timm) training recipe '{}'"
for _tag, _top1, _size, _crop, _interp, _paper in (
    ("a1", 81.214, 288, 1.0, "bicubic", RSB), ("a2", 80.772, 288, 1.0, "bicubic", RSB),
    ("a3", 78.048, 224, 0.95, "bicubic", RSB), ("a1h", 80.676, 224, 1.0, "bicubic", TIMM_RECIPE.format("a1h")),
    ("b1k", 80.706, 288, 1.0, "bicubic", TIMM_RECIPE.format("b1k")),
    ("b2k", 80.454, 288, 1.0, "bicubic", TIMM_RECIPE.format("b2k")),
    ("c1", 80.912, 288, 1.0, "bicubic", TIMM_RECIPE.format("c1")),
    ("c2", 80.870, 288, 1.0, "bicubic", TIMM_RECIPE.format("c2")),
    ("d", 80.972, 288, 1.0, "bicubic", TIMM_RECIPE.format("d")),
    ("ram", 79.976, 288, 0.95, "bicubic", "Cubuk et al. 2020, RandAugment (timm's RandAugment + mixup recipe)"),
    ("am", 78.998, 224, 0.875, "bicubic", "Hendrycks et al. 2020, AugMix (timm recipe)"),
    ("ra", 79.836, 288, 0.95, "bicubic", TIMM_RECIPE.format("ra (RandAugment)")),
    ("bt", 79.640, 288, 0.95, "bicubic", "He et al. 2019, Bag of Tricks (timm recipe)"),
    ("gluon", 77.580, 224, 0.875, "bicubic", "He et al. 2019, Bag of Tricks (GluonCV)"),
    ("tv2", 80.850, 224, 0.965, "bilinear", "Vryniotis 2021, How to Train State-of-the-Art Models (torchvision)")):
  _timm_row(f"resnet50.{_tag}_in1k", _top1, _size, _crop, _interp, architecture="resnet50", hparams={"recipe": _tag},
            license=BSD3 if _tag == "tv2" else APACHE, paper=_paper)
_row("resnet50.hf_microsoft", _module(ResNet, ResNetConfig), "huggingface", "microsoft/resnet-50",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF), architecture="resnet50",
     hparams={"recipe": "microsoft/resnet-50 (not stated)"}, license=APACHE, paper=TORCHVISION,
     note="transformers' ResNet-50 v1.5; its card does not state the recipe, so it is its own recipe here")

# Architecture: supervised on ImageNet-1k, other architectures (the paper's 17, 74-78 % band).
TV_NETS = "torchvision reference weights"
for _tag, _top1, _size, _crop, _interp, _paper, _license, _norm in (
    ("resnext50_32x4d.tv_in1k", 77.618, 224, 0.875, "bilinear", "Xie et al. 2017, ResNeXt", BSD3, _IMAGENET),
    ("seresnext26d_32x4d.bt_in1k", 78.814, 288, 0.95, "bicubic", "Hu et al. 2018, Squeeze-and-Excitation Networks",
     APACHE, _IMAGENET),
    ("legacy_seresnet50.in1k", 77.644, 224, 0.875, "bilinear", "Hu et al. 2018, Squeeze-and-Excitation Networks",
     APACHE, _IMAGENET),
    ("inception_v3.tv_in1k", 77.434, 299, 0.875, "bicubic", "Szegedy et al. 2016, Rethinking Inception", BSD3,
     _IMAGENET),
    ("inception_v3.tf_in1k", 77.862, 299, 0.875, "bicubic", "Szegedy et al. 2016, Rethinking Inception", APACHE,
     _HALF),
    ("densenet121.tv_in1k", 74.764, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", BSD3, _IMAGENET),
    ("densenet161.tv_in1k", 77.358, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", BSD3, _IMAGENET),
    ("densenet169.tv_in1k", 75.900, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", BSD3, _IMAGENET),
    ("densenet201.tv_in1k", 77.286, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", BSD3, _IMAGENET),
    ("vgg19_bn.tv_in1k", 74.216, 224, 0.875, "bilinear", "Simonyan & Zisserman 2015, VGG", BSD3, _IMAGENET),
    ("mobilenetv2_120d.ra_in1k", 77.302, 224, 0.875, "bicubic", "Sandler et al. 2018, MobileNetV2", APACHE,
     _IMAGENET),
    ("mobilenetv2_140.ra_in1k", 76.520, 224, 0.875, "bicubic", "Sandler et al. 2018, MobileNetV2", APACHE,
     _IMAGENET),
    ("dla34.in1k", 74.638, 224, 0.875, "bilinear", "Yu et al. 2018, Deep Layer Aggregation", BSD3, _IMAGENET),
    ("dla60.in1k", 77.046, 224, 0.875, "bilinear", "Yu et al. 2018, Deep Layer Aggregation", BSD3, _IMAGENET),
    ("efficientnet_b0.ra_in1k", 77.694, 224, 0.875, "bicubic", "Tan & Le 2019, EfficientNet", APACHE, _IMAGENET),
    ("tf_efficientnet_b0.in1k", 76.532, 224, 0.875, "bicubic", "Tan & Le 2019, EfficientNet (TF weights)", APACHE,
     _IMAGENET),
    ("tf_efficientnet_b3.in1k", 80.878, 300, 0.904, "bicubic", "Tan & Le 2019, EfficientNet (TF weights)", APACHE,
     _IMAGENET)):
  _timm_row(_tag, _top1, _size, _crop, _interp, paper=_paper, license=_license, norm=_norm,
            note="the paper's high-accuracy EfficientNet-B3 (80.9 %)" if _tag.startswith("tf_efficientnet_b3") else "")

DEIT = "Touvron et al. 2021, Training data-efficient image transformers (DeiT), Table 7"
_row("deit_tiny.in1k", _vit(**_TINY), "huggingface", "facebook/deit-tiny-patch16-224",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF_SQUASH), architecture="vit_tiny16", top1=72.2,
     license=APACHE,
     paper=DEIT, top1_source=DEIT)
_row("deit_small.in1k", _vit(**_SMALL), "huggingface", "facebook/deit-small-patch16-224",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF_SQUASH), architecture="vit_small16", top1=79.8,
     license=APACHE,
     paper=DEIT, top1_source=DEIT)
_row("efficientnet_b0.in1k", _module(EfficientNet, EfficientNetConfig), "huggingface", "google/efficientnet-b0",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), architecture="efficientnet_b0", top1=77.1, license=APACHE,
     paper="Tan & Le 2019, EfficientNet", top1_source="EfficientNet paper, Table 2",
     note="the paper's Fig. 6 feature-mixing partner")
_row("efficientnet_b3.in1k", _module(EfficientNet, EfficientNetConfig, width_coefficient=1.2, depth_coefficient=1.4,
                                     hidden_dim=1536), "huggingface", "google/efficientnet-b3",
     Preprocessing(300, 0.904, "bicubic", **_IMAGENET), architecture="efficientnet_b3", top1=81.6, license=APACHE,
     paper="Tan & Le 2019, EfficientNet", top1_source="EfficientNet paper, Table 2")
MIXER = "Tolstikhin et al. 2021, MLP-Mixer"
_row("mixer_b16.in1k", _module(MlpMixer, MixerConfig), "npz", "gs://mixer_models/imagenet1k/Mixer-B_16.npz",
     Preprocessing(224, 0.875, "bicubic", **_HALF), architecture="mixer_b16", top1=76.44, license=APACHE,
     paper=MIXER, top1_source="MLP-Mixer paper, ImageNet-1k only")
_row("convnext_tiny.in1k", functools.partial(_hf_module, "convnext", "ConvNextForImageClassification",
                                             {"depths": [3, 3, 9, 3], "hidden_sizes": [96, 192, 384, 768]}),
     "huggingface", "facebook/convnext-tiny-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     architecture="convnext_tiny", top1=82.1, license=APACHE, paper="Liu et al. 2022, A ConvNet for the 2020s",
     top1_source="ConvNeXt paper, Table 1")
_row("swin_tiny.in1k", functools.partial(_hf_module, "swin", "SwinForImageClassification",
                                         {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24],
                                          "window_size": 7, "image_size": 224}),
     "huggingface", "microsoft/swin-tiny-patch4-window7-224",
     Preprocessing(224, 1.0, "bicubic", **_IMAGENET, **_HF_SQUASH),
     architecture="swin_tiny", top1=81.2, license=APACHE, paper="Liu et al. 2021, Swin Transformer",
     top1_source="Swin paper, Table 1")
_row("regnet_y_040.in1k", functools.partial(_hf_module, "regnet", "RegNetForImageClassification",
                                            {"depths": [2, 6, 12, 2], "hidden_sizes": [128, 192, 512, 1088],
                                             "groups_width": 64, "layer_type": "y"}),
     "huggingface", "facebook/regnet-y-040", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     architecture="regnet_y_040", license=APACHE, paper="Radosavovic et al. 2020, Designing Network Design Spaces",
     note="RegNetY-4.0GF; its card states no top-1")

# Framework: ImageNet-1k, another objective (distillation, adversarial, self-supervised then probed/fine-tuned).
_row("deit_tiny_distilled.in1k", _vit(**_TINY, distillation_token=True, distilled_head=True), "huggingface",
     "facebook/deit-tiny-distilled-patch16-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF_SQUASH),
     objective="distillation", architecture="vit_tiny16", top1=74.5, license=APACHE, paper=DEIT, top1_source=DEIT,
     note="the paper's likely 'model trained with distillation'")
_row("deit_small_distilled.in1k", _vit(**_SMALL, distillation_token=True, distilled_head=True), "huggingface",
     "facebook/deit-small-distilled-patch16-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF_SQUASH),
     objective="distillation", architecture="vit_small16", top1=81.2, license=APACHE, paper=DEIT, top1_source=DEIT)
_timm_row("inception_v3.tf_adv_in1k", 77.592, 299, 0.875, "bicubic", norm=_HALF, objective="adversarial training",
          paper="Kurakin et al. 2017, Adversarial Machine Learning at Scale",
          note="the paper cites it (adv_inception_v3)")
DINO = "Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers (DINO), Table 2 (linear)"
_row("dino_vits16.in1k", _vit(**_SMALL, num_classes=0), "huggingface", "facebook/dino-vits16",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), objective="self-distillation (DINO)",
     architecture="vit_small16", top1=77.0, license=APACHE, paper=DINO, top1_source=DINO, head="linear-probe")
_row("dino_vitb16.in1k", _vit(num_classes=0), "huggingface", "facebook/dino-vitb16",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET), objective="self-distillation (DINO)",
     architecture="vit_base16", top1=78.2, license=APACHE, paper=DINO, top1_source=DINO, head="linear-probe")
MAE = "He et al. 2022, Masked Autoencoders Are Scalable Vision Learners (MAE), Table 1 (linear)"
_row("mae_vitb16.in1k", functools.partial(_hf_module, "vit_mae", None, {"mask_ratio": 0.0}), "huggingface",
     "facebook/vit-mae-base", Preprocessing(224, 0.875, "bicubic", **_IMAGENET), objective="masked autoencoding",
     architecture="vit_base16", top1=68.0, license=CC_BY_NC, paper=MAE, top1_source=MAE, head="linear-probe")
_row("data2vec_vitb16.in1k_ft", functools.partial(_hf_module, "data2vec-vision",
                                                  "Data2VecVisionForImageClassification",
                                                  {"use_relative_position_bias": True, "use_mean_pooling": True,
                                                   "layer_scale_init_value": 0.1}),
     "huggingface", "facebook/data2vec-vision-base-ft1k", Preprocessing(224, 1.0, "bicubic", **_HALF, **_HF_SQUASH),
     objective="data2vec, then fine-tuned", architecture="beit_base16", top1=84.2, license=APACHE,
     paper="Baevski et al. 2022, data2vec", top1_source="data2vec paper, Table 1")
_row("convnextv2_tiny.fcmae_ft_in1k", functools.partial(_hf_module, "convnextv2", "ConvNextV2ForImageClassification",
                                                        {"depths": [3, 3, 9, 3], "hidden_sizes": [96, 192, 384, 768]}),
     "huggingface", "facebook/convnextv2-tiny-1k-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     objective="masked autoencoding (FCMAE), then fine-tuned", architecture="convnextv2_tiny", top1=83.0,
     license=APACHE, paper="Woo et al. 2023, ConvNeXt V2", top1_source="ConvNeXt V2 paper, Table 10")

# Dataset: larger or different pre-training data.
AUGREG = "Steiner et al. 2022, How to train your ViT (AugReg)"
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
       hparams={k: v for k, v in _hparams.items() if k not in ("arch", "data")}, license=APACHE, paper=AUGREG,
       top1_source="AugReg index.csv (adapted_top1 of this file)",
       note="pairs among these rows are a hyper-parameter category (same data, objective, architecture)")
_row("augreg_l_16.medium1_wd0.1", _vit(**_LARGE, hidden_act="gelu_new", layer_norm_eps=1e-6),
     "npz", _AUGREG.format("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1"),
     Preprocessing(224, 0.9, "bicubic", **_HALF), data=IN21K, architecture="vit_large16",
     hparams={k: v for k, v in augreg_hparams("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1").items()
              if k not in ("arch", "data")}, license=APACHE, paper=AUGREG,
     note="high-accuracy substitute for the paper's MPL and ViT-G/14 (JFT; not public)")
_timm_row("vit_small_patch32_224.augreg_in21k_ft_in1k", 75.994, 224, 0.9, "bicubic", norm=_HALF, data=IN21K,
          architecture="vit_small32", paper=AUGREG, note="in the paper's 74-78 % candidate list")
_timm_row("vit_tiny_patch16_224.augreg_in21k_ft_in1k", 75.454, 224, 0.9, "bicubic", norm=_HALF, data=IN21K,
          architecture="vit_tiny16", paper=AUGREG, note="in the paper's 74-78 % candidate list")
_timm_row("mixer_b16_224.goog_in21k_ft_in1k", 76.602, 224, 0.875, "bicubic", norm=_HALF, data=IN21K,
          architecture="mixer_b16", paper=MIXER, note="in the paper's 74-78 % candidate list")
_row("vit_b16.in21k_ft_in1k", _vit(), "huggingface", "google/vit-base-patch16-224",
     Preprocessing(224, 1.0, "bilinear", **_HALF, **_HF_SQUASH), data=IN21K, architecture="vit_base16", license=APACHE,
     paper="Dosovitskiy et al. 2021, An Image is Worth 16x16 Words", note="original ViT-B/16")
BIT = "Kolesnikov et al. 2020, Big Transfer (BiT)"
_row("bit_m_r50x1.in21k_ft_in1k", _module(BiT, BitConfig), "huggingface", "google/bit-50",
     Preprocessing(448, 1.0, "bilinear", **_HALF, **_HF), data=IN21K, architecture="bit_r50x1", top1=80.3,
     license=APACHE,
     paper=BIT, top1_source="timm results-imagenet.csv, resnetv2_50x1_bit.goog_in21k_ft_in1k (448 px)",
     note="BiT-M; high-accuracy start, substitute for the paper's BiT-1k (JFT, 82.9 %), which is not public")
SEMI_WEAK = "Yalniz et al. 2019, Billion-scale semi-supervised learning"
_timm_row("resnet50.fb_ssl_yfcc100m_ft_in1k", 79.234, 224, 0.875, "bilinear", data="yfcc-100m (semi-supervised)",
          architecture="resnet50", hparams={"recipe": "fb_ssl"}, license=CC_BY_NC, paper=SEMI_WEAK)
_timm_row("resnet50.fb_swsl_ig1b_ft_in1k", 81.182, 224, 0.875, "bilinear",
          data="instagram-1b (semi-weakly supervised)", architecture="resnet50", hparams={"recipe": "fb_swsl"},
          license=CC_BY_NC, paper=SEMI_WEAK)
CLIP_PAPER = "Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision (CLIP)"
_clip_b32 = lambda rngs: CLIP(ViTConfig(patch_size=32, pre_norm=True, patch_bias=False, hidden_act="quick_gelu",
                                        layer_norm_eps=1e-5, projection_dim=512, num_classes=0),
                              TextConfig(), rngs=rngs)
_CLIP = dict(objective=CONTRASTIVE, data=WIT, license=MIT, paper=CLIP_PAPER, head="zero-shot")
_row("clip_vit_b32.zeroshot", _clip_b32, "huggingface", "openai/clip-vit-base-patch32",
     Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM, **_HF), architecture="vit_base32", top1=63.2,
     top1_source="CLIP paper, Table 11 (zero-shot, 80 prompts)",
     note="the paper's CLIP-S-ZeroShot (63.3 %); its linear-probe CLIP-S (75.7 %) is a probe on this embedding",
     **_CLIP)
_row("clip_vit_b16.zeroshot", lambda rngs: CLIP(
    ViTConfig(patch_size=16, pre_norm=True, patch_bias=False, hidden_act="quick_gelu", layer_norm_eps=1e-5,
              projection_dim=512, num_classes=0), TextConfig(), rngs=rngs),
     "huggingface", "openai/clip-vit-base-patch16", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM, **_HF),
     architecture="vit_base16", top1=68.3, top1_source="CLIP paper, Table 11 (zero-shot)", **_CLIP)
_row("clip_vit_l14.zeroshot", lambda rngs: CLIP(
    ViTConfig(patch_size=14, **_LARGE, pre_norm=True, patch_bias=False, hidden_act="quick_gelu",
              layer_norm_eps=1e-5, projection_dim=768, num_classes=0),
    TextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, projection_dim=768), rngs=rngs),
     "huggingface", "openai/clip-vit-large-patch14", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM, **_HF),
     architecture="vit_large14", top1=75.3, top1_source="CLIP paper, Table 11 (zero-shot)",
     note="the paper's high-accuracy CLIP-L (85.1 % with an L-BFGS probe on its embedding)", **_CLIP)
_row("clip_rn50.zeroshot", lambda rngs: CLIP(ClipResNetConfig(), TextConfig(eos_token_id=2, projection_dim=1024),
                                             rngs=rngs),
     "openai_clip", "timm/resnet50_clip.openai", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM),
     architecture="clip_resnet50", top1=59.6, top1_source="CLIP paper, Table 11 (zero-shot)",
     note="CLIP's modified ResNet-50; a CLIP-S candidate", **_CLIP)
_row("clip_vit_b32.laion2b", _clip_b32, "openai_clip", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
     Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM), objective=CONTRASTIVE, data="laion-2b",
     architecture="vit_base32", top1=66.6, license=MIT, head="zero-shot",
     paper="Cherti et al. 2023, Reproducible scaling laws for contrastive language-image learning (OpenCLIP)",
     top1_source="open_clip results table (zero-shot)")
_row("siglip_b16.webli", functools.partial(_hf_module, "siglip", None, {"vision_config": {}, "text_config": {}}),
     "huggingface", "google/siglip-base-patch16-224", Preprocessing(224, 1.0, "bicubic", **_HALF, **_HF_SQUASH),
     objective="sigmoid contrastive image-text", data="webli", architecture="vit_base16", license=APACHE,
     head="zero-shot", paper="Zhai et al. 2023, Sigmoid Loss for Language Image Pre-Training (SigLIP)",
     note="zero-shot head from its text tower (no published top-1 for this exact checkpoint on its card)")
_row("align_base.coyo", functools.partial(_hf_module, "align", None, {"vision_config": {}, "text_config": {}}),
     "huggingface", "kakaobrain/align-base", Preprocessing(289, 289 / 346, "bilinear", **_HALF, **_HF_SQUASH),
     objective=CONTRASTIVE, data="coyo-700m", architecture="efficientnet_b7", license=APACHE, head="zero-shot",
     paper="Jia et al. 2021, Scaling Up Visual and Vision-Language Representation Learning With Noisy Text "
           "Supervision (ALIGN)",
     note="Kakao Brain's ALIGN on COYO-700M: the public stand-in for the paper's ALIGN-ZS (75.5 %) and ALIGN "
          "(84.7 % with a probe), whose ALIGN-dataset weights are not public")
DINOV2 = "Oquab et al. 2024, DINOv2, Table 4 (linear)"
_DINOV2_PRE = Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF)
_DINOV2 = dict(objective="self-distillation (DINOv2)", data="lvd-142m", license=APACHE, head="linear-probe")
_row("dinov2_vits14.lvd142m", functools.partial(_hf_module, "dinov2", None, {"hidden_size": 384,
                                                                           "num_attention_heads": 6}),
     "huggingface", "facebook/dinov2-small", _DINOV2_PRE, architecture="vit_small14", top1=81.1, paper=DINOV2,
     top1_source=DINOV2, **_DINOV2)
_row("dinov2_vitb14.lvd142m", functools.partial(_hf_module, "dinov2", None, {}), "huggingface",
     "facebook/dinov2-base", _DINOV2_PRE, architecture="vit_base14", top1=84.5, paper=DINOV2, top1_source=DINOV2,
     **_DINOV2)
_row("dinov2_vits14_reg.lvd142m", functools.partial(_hf_module, "dinov2_with_registers", None,
                                                    {"hidden_size": 384, "num_attention_heads": 6,
                                                     "num_register_tokens": 4}),
     "huggingface", "facebook/dinov2-with-registers-small", _DINOV2_PRE, architecture="vit_small14_reg4",
     paper="Darcet et al. 2024, Vision Transformers Need Registers", **_DINOV2)
_row("beit_b16.in22k_ft_in1k", functools.partial(_hf_module, "beit", "BeitForImageClassification",
                                                 {"use_relative_position_bias": True, "use_mean_pooling": True,
                                                  "layer_scale_init_value": 0.1}),
     "huggingface", "microsoft/beit-base-patch16-224", Preprocessing(224, 1.0, "bilinear", **_HALF, **_HF_SQUASH),
     objective="masked image modelling (BEiT), then fine-tuned", data=IN21K, architecture="beit_base16", top1=85.2,
     license=APACHE, paper="Bao et al. 2022, BEiT: BERT Pre-Training of Image Transformers",
     top1_source="BEiT paper, Table 1 (22k pre-training)")

# Fig. 5: high-accuracy starts (paper: CLIP-L, ALIGN, BiT-1k, EfficientNet-B3) and the paper's low-accuracy
# pool members that have public checkpoints (SEResNeXt-26d, TF-Inception-V3, Inception-v3).
GREEDY_STARTS = ("clip_vit_l14.zeroshot", "align_base.coyo", "bit_m_r50x1.in21k_ft_in1k", "tf_efficientnet_b3.in1k")
GREEDY_POOL = ("seresnext26d_32x4d.bt_in1k", "inception_v3.tf_in1k", "inception_v3.tv_in1k")
