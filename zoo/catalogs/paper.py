"""The ``paper`` catalog: the models of Gontijo-Lopes et al. (ICLR 2022) mapped to the public
checkpoints our converters read (timm and transformers safetensors on the Hub, Google .npz,
open_clip's CLIP files), grouped by the paper's categories relative to the base.

The paper's own checkpoints (an in-house RandAugment ResNet-50 and its 51-model sweep, ALIGN on
the ALIGN data, ViT-G/14, MPL) are not public; rows substitute the closest public models and
their ``note`` says so. Categories are never written here: they follow from each row's
training-method fields (``zoo.pair_category``). Every row carries :class:`Provenance`
(license, paper, where ``top1`` was published) and the preprocessing that number was measured
with; timm's numbers are its ``results-imagenet.csv`` at the listed resolution and crop.

**Audit (issue 23).** Every value a row pins says where it was read (``Provenance.sources``): timm
rows from timm 1.0.31's ``pretrained_cfg`` (preprocessing, Hub id, license) and
:data:`TIMM_RESULTS` (top-1); Hub rows from the repo's file listing at the revision the row
requests (``WeightSource.revision``: a commit or ``refs/pr/N`` actually read, else unpinned) and
``WeightSource.files``, exactly what the row's converter reads. Where a transformers repo has no
``model.safetensors`` (the loader never opens pickles), the row names a Hub pull request that
adds it, or the same weights as timm re-hosts them, and its note says which.
tests/hub_layouts records each repo as read; tests/test_paper_audit.py checks the catalog
against timm's records and those layouts.

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

# Where the pinned values were read. timm rows: timm 1.0.31's pretrained_cfg (preprocessing, Hub id,
# license: timm's push_to_hf_hub writes the model card's ``license:`` from it) and timm's results table
# at the commit below (the newest change of results-imagenet.csv in the stored snapshot of
# huggingface/pytorch-image-models at aa4b5850, read 2026-12-05).
TIMM_CFG = "timm 1.0.31 pretrained_cfg {} (timm.models.get_pretrained_cfg)"
TIMM_RESULTS = "huggingface/pytorch-image-models@4e5207c7bb6592474ca56e28b2cf85be8f1a550f:results/results-imagenet.csv"
TIMM_FILES = ("config.json", "model.safetensors")  # what zoo.converters.timm.load_timm reads
HF_FILES = ("config.json", "model.safetensors")  # what zoo.converters.huggingface.load_pretrained reads
CLIP_TOKENIZER_FILES = ("vocab.json", "merges.txt")  # zoo.architectures.clip_tokenizer.ClipTokenizer
_HUB = "https://huggingface.co/{}/tree/{}"  # a Hub repo's file listing at a revision
# transformers rows' preprocessing: the values of their preprocessor_config.json, recorded (and checked against
# transformers' processors) in this test.
_PUBLISHED_PREPROCESSING = "tests/test_zoo_preprocessing_parity.py PUBLISHED (the repo's preprocessor_config.json)"

# Licenses as the checkpoints' model cards state them.
APACHE, BSD3, MIT, CC_BY_NC = "apache-2.0", "bsd-3-clause", "mit", "cc-by-nc-4.0"


def _row(name, builder, kind, location, preprocessing, *, objective=SUPERVISED, data=IN1K, architecture,
         hparams=(), top1=None, note="", license=None, paper, top1_source=None, head="classifier", seed=0,
         files=(), revision=None, sources=()):
  if preprocessing.transformers_sizes and _PUBLISHED_PREPROCESSING not in sources:
    sources = (*sources, _PUBLISHED_PREPROCESSING)
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource(kind, location, revision=revision, files=tuple(files)),
      preprocessing=preprocessing,
      num_classes=1000, objective=objective, pretraining_data=data, architecture=architecture,
      hparams=tuple(sorted(hparams.items())) if isinstance(hparams, dict) else hparams, seed=seed, top1=top1,
      catalog="paper", note=note, head=head,
      provenance=Provenance(license=license, paper=paper, top1_source=top1_source, sources=tuple(sources))))


def _module(cls, config_cls, **fields):
  return lambda rngs: cls(config_cls(**fields), rngs=rngs)


def _timm_module(architecture: str, rngs=None, num_classes: int = 1000):
  """The nnx module of a timm architecture, from the timm converter's family table."""
  from zoo.converters.timm import family_of
  return family_of(architecture).build(architecture, {"architecture": architecture, "num_classes": num_classes})


def _hf_module(model_type: str, classifier: str | None, config: dict, rngs=None):
  """The nnx module of a transformers ``model_type`` from a config (defaults: transformers')."""
  from zoo.converters import huggingface
  full = {"model_type": model_type, "architectures": [classifier] if classifier else [], **config}
  if classifier:
    full["num_labels"] = 1000
  return huggingface.FAMILIES[model_type].build(full)


def _timm_row(tag, top1, size, crop, interpolation, *, name=None, architecture=None, norm=_IMAGENET, license=APACHE,
              paper, sources=(), num_classes=1000, top1_source=None, **fields):
  """A timm checkpoint ``arch.tag`` (its Hub repo ``timm/<tag>``: config.json + model.safetensors,
  as timm's ``push_to_hf_hub`` writes them); preprocessing (with torchvision's size and offset
  rules, as timm's eval transform) as timm 1.0.31's pretrained_cfg (its ``test_input_size`` /
  ``test_crop_pct`` where it has them) and top-1 as timm's results table at that preprocessing
  (:data:`TIMM_RESULTS`)."""
  arch = tag.split(".")[0]
  return _row(name or tag, functools.partial(_timm_module, arch, num_classes=num_classes), "timm", f"timm/{tag}",
              Preprocessing(size, crop, interpolation, **norm, torchvision_sizes=True), architecture=architecture or arch,
              top1=top1, license=license, paper=paper,
              top1_source=top1_source or _TIMM_CSV.format(size, crop, interpolation),
              files=TIMM_FILES, sources=(TIMM_CFG.format(tag), *(() if top1_source else (TIMM_RESULTS,)), *sources),
              **fields)


_vit = functools.partial(_module, VisionTransformer, ViTConfig)
_TINY = dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768)
_SMALL = dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536)
_LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)

# ---------------------------------------------------------------------------------------------
# Base: torchvision's ResNet-50 (v1.5) recipe, the "de-facto standard baseline" (paper: 76.5 %).
TORCHVISION = "He et al. 2016, Deep Residual Learning (torchvision reference recipe)"
BASE = _timm_row("resnet50.tv_in1k", 76.156, 224, 0.875, "bilinear", name="resnet50.base", license=BSD3,
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
    ("a1", 81.240, 288, 1.0, "bicubic", RSB), ("a2", 80.774, 288, 1.0, "bicubic", RSB),
    ("a3", 78.052, 224, 0.95, "bicubic", RSB), ("a1h", 80.654, 224, 1.0, "bicubic", TIMM_RECIPE.format("a1h")),
    ("b1k", 80.708, 288, 1.0, "bicubic", TIMM_RECIPE.format("b1k")),
    ("b2k", 80.466, 288, 1.0, "bicubic", TIMM_RECIPE.format("b2k")),
    ("c1", 80.928, 288, 1.0, "bicubic", TIMM_RECIPE.format("c1")),
    ("c2", 80.862, 288, 1.0, "bicubic", TIMM_RECIPE.format("c2")),
    ("d", 81.012, 288, 1.0, "bicubic", TIMM_RECIPE.format("d")),
    ("ram", 79.982, 288, 0.95, "bicubic", "Cubuk et al. 2020, RandAugment (timm's RandAugment + mixup recipe)"),
    ("am", 79.004, 224, 0.875, "bicubic", "Hendrycks et al. 2020, AugMix (timm recipe)"),
    ("ra", 79.864, 288, 0.95, "bicubic", TIMM_RECIPE.format("ra (RandAugment)")),
    ("bt", 79.652, 288, 0.95, "bicubic", "He et al. 2019, Bag of Tricks (timm recipe)"),
    ("gluon", 77.580, 224, 0.875, "bicubic", "He et al. 2019, Bag of Tricks (GluonCV)"),
    ("tv2", 80.846, 224, 0.965, "bilinear", "Vryniotis 2021, How to Train State-of-the-Art Models (torchvision)")):
  _timm_row(f"resnet50.{_tag}_in1k", _top1, _size, _crop, _interp, architecture="resnet50", hparams={"recipe": _tag},
            license=BSD3 if _tag == "tv2" else APACHE, paper=_paper)
_row("resnet50.hf_microsoft", _module(ResNet, ResNetConfig), "huggingface", "microsoft/resnet-50",
     Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF), architecture="resnet50",
     hparams={"recipe": "microsoft/resnet-50 (not stated)"}, license=APACHE, paper=TORCHVISION, files=HF_FILES,
     sources=(_HUB.format("microsoft/resnet-50", "refs%2Fpr%2F9"),
              "https://huggingface.co/microsoft/resnet-50/discussions/4 (safetensors PR merged into main)"),
     note="transformers' ResNet-50 v1.5; its card does not state the recipe, so it is its own recipe here; "
          "main has model.safetensors (PR #4 merged; unpinned: no main commit read)")

# Architecture: supervised on ImageNet-1k, other architectures (the paper's 17, 74-78 % band).
TV_NETS = "torchvision reference weights"
for _tag, _top1, _size, _crop, _interp, _paper, _license, _norm in (
    ("resnext50_32x4d.tv_in1k", 77.632, 224, 0.875, "bilinear", "Xie et al. 2017, ResNeXt", BSD3, _IMAGENET),
    ("seresnext26d_32x4d.bt_in1k", 78.816, 288, 0.95, "bicubic", "Hu et al. 2018, Squeeze-and-Excitation Networks",
     APACHE, _IMAGENET),
    # SE-ResNet-50: timm's legacy_seresnet50.in1k (Cadene's port) has no Hub repo (its pretrained_cfg has
    # no hf_hub_id, only a GitHub-release .pth); seresnet50.a3_in1k is the Hub-hosted SE-ResNet-50 in the band.
    ("seresnet50.a3_in1k", 77.036, 224, 0.95, "bicubic", "Hu et al. 2018, Squeeze-and-Excitation Networks",
     APACHE, _IMAGENET),
    # timm's port of torchvision's weights expects Inception's [-1, 1] scaling (torchvision's transform_input
    # folded into the data config): mean = std = 0.5 in its pretrained_cfg.
    ("inception_v3.tv_in1k", 77.472, 299, 0.875, "bicubic", "Szegedy et al. 2016, Rethinking Inception", APACHE,
     _HALF),
    ("inception_v3.tf_in1k", 77.866, 299, 0.875, "bicubic", "Szegedy et al. 2016, Rethinking Inception", APACHE,
     _HALF),
    ("densenet121.tv_in1k", 74.750, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", APACHE, _IMAGENET),
    ("densenet161.tv_in1k", 77.384, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", APACHE, _IMAGENET),
    ("densenet169.tv_in1k", 75.922, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", APACHE, _IMAGENET),
    ("densenet201.tv_in1k", 77.284, 224, 0.875, "bicubic", "Huang et al. 2017, DenseNet", APACHE, _IMAGENET),
    ("vgg19_bn.tv_in1k", 74.230, 224, 0.875, "bilinear", "Simonyan & Zisserman 2015, VGG", BSD3, _IMAGENET),
    ("mobilenetv2_120d.ra_in1k", 77.300, 224, 0.875, "bicubic", "Sandler et al. 2018, MobileNetV2", APACHE,
     _IMAGENET),
    ("mobilenetv2_140.ra_in1k", 76.528, 224, 0.875, "bicubic", "Sandler et al. 2018, MobileNetV2", APACHE,
     _IMAGENET),
    ("dla34.in1k", 74.632, 224, 0.875, "bilinear", "Yu et al. 2018, Deep Layer Aggregation", BSD3, _IMAGENET),
    ("dla60.in1k", 77.036, 224, 0.875, "bilinear", "Yu et al. 2018, Deep Layer Aggregation", BSD3, _IMAGENET),
    ("efficientnet_b0.ra_in1k", 77.698, 224, 0.875, "bicubic", "Tan & Le 2019, EfficientNet", APACHE, _IMAGENET),
    ("tf_efficientnet_b0.in1k", 76.542, 224, 0.875, "bicubic", "Tan & Le 2019, EfficientNet (TF weights)", APACHE,
     _IMAGENET),
    ("tf_efficientnet_b3.in1k", 80.878, 300, 0.904, "bicubic", "Tan & Le 2019, EfficientNet (TF weights)", APACHE,
     _IMAGENET)):
  _timm_row(_tag, _top1, _size, _crop, _interp, paper=_paper, license=_license, norm=_norm,
            note="the paper's high-accuracy EfficientNet-B3 (80.9 %)" if _tag.startswith("tf_efficientnet_b3") else "")

DEIT = "Touvron et al. 2021, Training data-efficient image transformers (DeiT), Table 7"
# DeiT: transformers' facebook/deit-* repos have only pytorch_model.bin on main (issue 23); their cards say
# the weights "were converted from the timm repository", which re-hosts them as safetensors.
_DEIT_NOTE = "facebook/deit-{} {}: the same DeiT weights as timm re-hosts them (safetensors)"
_timm_row("deit_tiny_patch16_224.fb_in1k", 72.190, 224, 0.9, "bicubic", name="deit_tiny.in1k",
          architecture="vit_tiny16", paper=DEIT, note=_DEIT_NOTE.format("tiny-patch16-224", "has only pytorch_model.bin (an unmerged safetensors PR, refs/pr/3)"),
          sources=("https://huggingface.co/facebook/deit-tiny-patch16-224/resolve/main/README.md",
                   _HUB.format("facebook/deit-tiny-patch16-224", "31e864296b1068d7dafa1d488992fbcf9e3b1672"),
                   "https://huggingface.co/facebook/deit-tiny-patch16-224/commits/refs%2Fpr%2F3",
                   _HUB.format("timm/deit_tiny_patch16_224.fb_in1k", "main")))
_timm_row("deit_small_patch16_224.fb_in1k", 79.856, 224, 0.9, "bicubic", name="deit_small.in1k",
          architecture="vit_small16", paper=DEIT, note=_DEIT_NOTE.format("small-patch16-224", "has no model.safetensors on main (issue 23)"),
          sources=("https://huggingface.co/facebook/deit-small-patch16-224 (card: weights converted from timm)",))
# EfficientNet-B0/B3 from Google's TF checkpoints (AutoAugment, the paper's Table 2 recipe): transformers'
# google/efficientnet-b{0,3} have no model.safetensors on main (issue 23); timm re-hosts the TF weights.
_EFFNET_NOTE = ("google/efficientnet-{} has no model.safetensors on main: Google's TF EfficientNet-{} (AutoAugment) "
                "as timm re-hosts it")
_timm_row("tf_efficientnet_b0.aa_in1k", 76.882, 224, 0.875, "bicubic", name="efficientnet_b0.in1k",
          hparams={"recipe": "aa"}, paper="Tan & Le 2019, EfficientNet",
          note="the paper's Fig. 6 feature-mixing partner; " + _EFFNET_NOTE.format("b0", "B0"))
_timm_row("tf_efficientnet_b3.aa_in1k", 81.648, 300, 0.904, "bicubic", name="efficientnet_b3.in1k",
          hparams={"recipe": "aa"}, paper="Tan & Le 2019, EfficientNet", note=_EFFNET_NOTE.format("b3", "B3"))
MIXER = "Tolstikhin et al. 2021, MLP-Mixer"
_row("mixer_b16.in1k", _module(MlpMixer, MixerConfig), "npz", "gs://mixer_models/imagenet1k/Mixer-B_16.npz",
     Preprocessing(224, 0.875, "bicubic", **_HALF), architecture="mixer_b16", top1=76.44, license=APACHE,
     paper=MIXER, top1_source="MLP-Mixer paper, ImageNet-1k only",
     sources=("google-research/vision_transformer@c6de1e5378c9831a8477feb30994971bdc409e46:vit_jax.ipynb "
              "(gsutil listing of gs://mixer_models/imagenet1k/)",
              "timm 1.0.31 pretrained_cfg mixer_b16_224.goog_in21k_ft_in1k (preprocessing of Google's Mixer weights)"),
     note="also served over HTTPS as https://storage.googleapis.com/mixer_models/imagenet1k/Mixer-B_16.npz")
_row("convnext_tiny.in1k", functools.partial(_hf_module, "convnext", "ConvNextForImageClassification",
                                             {"depths": [3, 3, 9, 3], "hidden_sizes": [96, 192, 384, 768]}),
     "huggingface", "facebook/convnext-tiny-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     architecture="convnext_tiny", top1=82.1, license=APACHE, paper="Liu et al. 2022, A ConvNet for the 2020s",
     top1_source="ConvNeXt paper, Table 1", revision="refs/pr/4", files=HF_FILES,
     sources=(_HUB.format("facebook/convnext-tiny-224", "refs%2Fpr%2F4"),),
     note="main has only pytorch_model.bin: model.safetensors is in the unmerged Hub PR refs/pr/4")
_row("swin_tiny.in1k", functools.partial(_hf_module, "swin", "SwinForImageClassification",
                                         {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24],
                                          "window_size": 7, "image_size": 224}),
     "huggingface", "microsoft/swin-tiny-patch4-window7-224",
     Preprocessing(224, 1.0, "bicubic", **_IMAGENET, **_HF_SQUASH),
     architecture="swin_tiny", top1=81.2, license=APACHE, paper="Liu et al. 2021, Swin Transformer",
     top1_source="Swin paper, Table 1", revision="refs/pr/3", files=HF_FILES,
     sources=(_HUB.format("microsoft/swin-tiny-patch4-window7-224", "refs%2Fpr%2F3"),),
     note="main has only pytorch_model.bin: model.safetensors is in the unmerged Hub PR refs/pr/3")
_row("regnet_y_040.in1k", functools.partial(_hf_module, "regnet", "RegNetForImageClassification",
                                            {"depths": [2, 6, 12, 2], "hidden_sizes": [128, 192, 512, 1088],
                                             "groups_width": 64, "layer_type": "y"}),
     "huggingface", "facebook/regnet-y-040", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     architecture="regnet_y_040", license=APACHE, paper="Radosavovic et al. 2020, Designing Network Design Spaces",
     revision="refs/pr/4", files=HF_FILES, sources=(_HUB.format("facebook/regnet-y-040", "refs%2Fpr%2F4"),),
     note="RegNetY-4.0GF; its card states no top-1; main has only pytorch_model.bin: model.safetensors is in the "
          "unmerged Hub PR refs/pr/4")

# Framework: ImageNet-1k, another objective (distillation, adversarial, self-supervised then probed/fine-tuned).
_timm_row("deit_tiny_distilled_patch16_224.fb_in1k", 74.538, 224, 0.9, "bicubic", name="deit_tiny_distilled.in1k",
          objective="distillation", architecture="vit_tiny16", paper=DEIT,
          note="the paper's likely 'model trained with distillation'; "
               + _DEIT_NOTE.format("tiny-distilled-patch16-224", "has only pytorch_model.bin (listing 5fd3806)"),
          sources=(_HUB.format("facebook/deit-tiny-distilled-patch16-224", "5fd3806edbee08be6f41560005ec8f0f5085d130"),
                   _HUB.format("timm/deit_tiny_distilled_patch16_224.fb_in1k", "main")))
_timm_row("deit_small_distilled_patch16_224.fb_in1k", 81.204, 224, 0.9, "bicubic", name="deit_small_distilled.in1k",
          objective="distillation", architecture="vit_small16", paper=DEIT,
          note=_DEIT_NOTE.format("small-distilled-patch16-224", "(listing not read) is converted like the others"))
_timm_row("inception_v3.tf_adv_in1k", 77.598, 299, 0.875, "bicubic", norm=_HALF, objective="adversarial training",
          paper="Kurakin et al. 2017, Adversarial Machine Learning at Scale",
          note="the paper cites it (adv_inception_v3)")
DINO = "Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers (DINO), Table 2 (linear)"
# DINO: transformers' facebook/dino-vit* have only pytorch_model.bin on main (issue 23); timm re-hosts the
# same backbones. Preprocessing: DINO's linear evaluation (resize 256 bicubic, centre crop 224), which its
# top-1 was measured with, not timm's crop 0.9 (tests/test_paper_audit.py lists this exception).
_DINO_NOTE = ("facebook/dino-{} has no model.safetensors on main: the DINO backbone as timm re-hosts it; "
              "preprocessing of DINO's linear evaluation (eval_linear.py: Resize(256, bicubic), CenterCrop(224))")
_timm_row("vit_small_patch16_224.dino", 77.0, 224, 0.875, "bicubic", name="dino_vits16.in1k", num_classes=0,
          objective="self-distillation (DINO)", architecture="vit_small16", paper=DINO, top1_source=DINO,
          head="linear-probe", note=_DINO_NOTE.format("vits16"))
_timm_row("vit_base_patch16_224.dino", 78.2, 224, 0.875, "bicubic", name="dino_vitb16.in1k", num_classes=0,
          objective="self-distillation (DINO)", architecture="vit_base16", paper=DINO, top1_source=DINO,
          head="linear-probe", note=_DINO_NOTE.format("vitb16"))
MAE = "He et al. 2022, Masked Autoencoders Are Scalable Vision Learners (MAE), Table 1 (linear)"
_row("mae_vitb16.in1k", functools.partial(_hf_module, "vit_mae", None, {"mask_ratio": 0.0}), "huggingface",
     "facebook/vit-mae-base", Preprocessing(224, 0.875, "bicubic", **_IMAGENET), objective="masked autoencoding",
     architecture="vit_base16", top1=68.0, license=APACHE, paper=MAE, top1_source=MAE, head="linear-probe",
     files=HF_FILES,
     sources=(_HUB.format("facebook/vit-mae-base", "main"), TIMM_CFG.format("vit_base_patch16_224.mae")),
     note="license as the Hub card states it (apache-2.0); timm's pretrained_cfg for the same MAE weights says "
          "cc-by-nc-4.0, the upstream's: check before commercial use; main has model.safetensors (PR #2 merged; "
          "unpinned)")
_row("data2vec_vitb16.in1k_ft", functools.partial(_hf_module, "data2vec-vision",
                                                  "Data2VecVisionForImageClassification",
                                                  {"use_relative_position_bias": True, "use_mean_pooling": True,
                                                   "layer_scale_init_value": 0.1}),
     "huggingface", "facebook/data2vec-vision-base-ft1k", Preprocessing(224, 1.0, "bicubic", **_HALF, **_HF_SQUASH),
     objective="data2vec, then fine-tuned", architecture="beit_base16", top1=84.2, license=APACHE,
     paper="Baevski et al. 2022, data2vec", top1_source="data2vec paper, Table 1", revision="refs/pr/1",
     files=HF_FILES, sources=(_HUB.format("facebook/data2vec-vision-base-ft1k", "refs%2Fpr%2F1"),),
     note="main has only pytorch_model.bin: model.safetensors is in the unmerged Hub PR refs/pr/1")
_row("convnextv2_tiny.fcmae_ft_in1k", functools.partial(_hf_module, "convnextv2", "ConvNextV2ForImageClassification",
                                                        {"depths": [3, 3, 9, 3], "hidden_sizes": [96, 192, 384, 768]}),
     "huggingface", "facebook/convnextv2-tiny-1k-224", Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF),
     objective="masked autoencoding (FCMAE), then fine-tuned", architecture="convnextv2_tiny", top1=83.0,
     license=APACHE, paper="Woo et al. 2023, ConvNeXt V2", top1_source="ConvNeXt V2 paper, Table 10",
     files=HF_FILES,
     sources=(_HUB.format("facebook/convnextv2-tiny-1k-224", "main"),
              _HUB.format("facebook/convnextv2-tiny-1k-224", "3f533b966e3fa5362839d05a5955749c502c24f8")),
     note="main (f4db009, PR #4) has model.safetensors with GRN tensors named grn.weight / grn.bias, the names the "
          "converter maps; the older safetensors of PR #3 (3f533b9) still name them grn.gamma / grn.beta. Unpinned: "
          "main's full commit hash was not read")

# Dataset: larger or different pre-training data.
AUGREG = "Steiner et al. 2022, How to train your ViT (AugReg)"
# An AugReg ImageNet-21k upstream fine-tuned on ImageNet-1k for 20k steps at 224 px with learning rate lr.
_AUGREG = "gs://vit_models/augreg/{}--imagenet2012-steps_20k-lr_{}-res_224.npz"
# The fine-tunes timm loads (vision_transformer.py default_cfgs): their names are confirmed public.
_AUGREG_IN_TIMM = {"S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0",
                   "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0"}
for _file, _architecture, _size in (
    ("S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("S_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("S_16-i21k-300ep-lr_0.001-aug_medium2-wd_0.03-do_0.0-sd_0.0", "vit_small16", _SMALL),
    ("Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0", "vit_tiny16", _TINY)):
  _hparams = augreg_hparams(_file)
  _row(f"augreg_{_file.split('-')[0].lower()}.{_hparams['aug']}_wd{_hparams['wd']}",
       _vit(**_size, hidden_act="gelu_new", layer_norm_eps=1e-6), "npz", _AUGREG.format(_file, "0.03"),
       Preprocessing(224, 0.9, "bicubic", **_HALF), data=IN21K, architecture=_architecture,
       hparams={k: v for k, v in _hparams.items() if k not in ("arch", "data")}, license=APACHE, paper=AUGREG,
       top1_source="AugReg index.csv (adapted_top1 of this file)",
       sources=("google-research/vision_transformer@c6de1e5378c9831a8477feb30994971bdc409e46:README.md (gs://vit_models/augreg)",
                "huggingface/pytorch-image-models@aa4b5850c1543fa488abf260f18390eda46cf85d:timm/models/vision_transformer.py "
                "(the S/16 light1 and Ti/16 files are timm's augreg_in21k_ft_in1k sources)"),
       note="pairs among these rows are a hyper-parameter category (same data, objective, architecture)"
            + ("" if _file in _AUGREG_IN_TIMM else "; this fine-tune's file name follows the AugReg naming but was "
               "not seen in a public listing here (gs://vit_models/augreg/index.csv not read): unverified"))
_row("augreg_l_16.medium1_wd0.1", _vit(**_LARGE, hidden_act="gelu_new", layer_norm_eps=1e-6),
     "npz", _AUGREG.format("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1", "0.01"),
     Preprocessing(224, 0.9, "bicubic", **_HALF), data=IN21K, architecture="vit_large16",
     hparams={k: v for k, v in augreg_hparams("L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1").items()
              if k not in ("arch", "data")}, license=APACHE, paper=AUGREG,
     sources=("huggingface/pytorch-image-models@aa4b5850c1543fa488abf260f18390eda46cf85d:timm/models/"
              "vision_transformer.py (vit_large_patch16_224.augreg_in21k_ft_in1k: its ImageNet fine-tune is lr_0.01)",),
     note="high-accuracy substitute for the paper's MPL and ViT-G/14 (JFT; not public)")
_timm_row("vit_small_patch32_224.augreg_in21k_ft_in1k", 76.010, 224, 0.9, "bicubic", norm=_HALF, data=IN21K,
          architecture="vit_small32", paper=AUGREG, note="in the paper's 74-78 % candidate list")
_timm_row("vit_tiny_patch16_224.augreg_in21k_ft_in1k", 75.452, 224, 0.9, "bicubic", norm=_HALF, data=IN21K,
          architecture="vit_tiny16", paper=AUGREG, note="in the paper's 74-78 % candidate list")
_timm_row("mixer_b16_224.goog_in21k_ft_in1k", 76.616, 224, 0.875, "bicubic", norm=_HALF, data=IN21K,
          architecture="mixer_b16", paper=MIXER, note="in the paper's 74-78 % candidate list")
_row("vit_b16.in21k_ft_in1k", _vit(), "huggingface", "google/vit-base-patch16-224",
     Preprocessing(224, 1.0, "bilinear", **_HALF, **_HF_SQUASH), data=IN21K, architecture="vit_base16", license=APACHE,
     paper="Dosovitskiy et al. 2021, An Image is Worth 16x16 Words", files=HF_FILES,
     sources=(_HUB.format("google/vit-base-patch16-224", "main"),),
     note="original ViT-B/16; main has model.safetensors (PR #7 merged; unpinned)")
BIT = "Kolesnikov et al. 2020, Big Transfer (BiT)"
_row("bit_m_r50x1.in21k_ft_in1k", _module(BiT, BitConfig), "huggingface", "google/bit-50",
     Preprocessing(448, 1.0, "bilinear", **_HALF, **_HF), data=IN21K, architecture="bit_r50x1", top1=80.386,
     license=APACHE,
     paper=BIT, top1_source="timm results-imagenet.csv, resnetv2_50x1_bit.goog_in21k_ft_in1k (448 px)",
     files=HF_FILES, revision="9e9a281aa096247270860f9cda4f68daacca33d0",
     sources=(_HUB.format("google/bit-50", "9e9a281aa096247270860f9cda4f68daacca33d0"), TIMM_RESULTS),
     note="BiT-M; high-accuracy start, substitute for the paper's BiT-1k (JFT, 82.9 %), which is not public; "
          "pinned to the safetensors PR's commit (its listing read; main has no model.safetensors)")
SEMI_WEAK = "Yalniz et al. 2019, Billion-scale semi-supervised learning"
_timm_row("resnet50.fb_ssl_yfcc100m_ft_in1k", 79.252, 224, 0.875, "bilinear", data="yfcc-100m (semi-supervised)",
          architecture="resnet50", hparams={"recipe": "fb_ssl"}, license=CC_BY_NC, paper=SEMI_WEAK)
_timm_row("resnet50.fb_swsl_ig1b_ft_in1k", 81.146, 224, 0.875, "bilinear",
          data="instagram-1b (semi-weakly supervised)", architecture="resnet50", hparams={"recipe": "fb_swsl"},
          license=CC_BY_NC, paper=SEMI_WEAK)
CLIP_PAPER = "Radford et al. 2021, Learning Transferable Visual Models From Natural Language Supervision (CLIP)"
def _openai_clip_b32(act: str):
  """CLIP ViT-B/32 as zoo.converters.openai_clip.clip_configs reads it off OpenAI-format tensors."""
  return lambda rngs: CLIP(ViTConfig(patch_size=32, pre_norm=True, patch_bias=False, hidden_act=act,
                                     layer_norm_eps=1e-5, projection_dim=512, num_classes=0),
                           TextConfig(hidden_act=act, eos_token_id=2), rngs=rngs)
_CLIP = dict(objective=CONTRASTIVE, data=WIT, license=MIT, paper=CLIP_PAPER, head="zero-shot")
# OpenAI's ViT-B/32: transformers' openai/clip-vit-base-patch32 has no model.safetensors on main (issue 23); timm
# re-hosts OpenAI's weights in open_clip's format with the tokenizer files (listing of commit ab5b8ef read).
_TIMM_CLIP_B32 = "ab5b8ef490e86faa07d3523926b842c765de1de5"
_row("clip_vit_b32.zeroshot", _openai_clip_b32("quick_gelu"), "openai_clip", "timm/vit_base_patch32_clip_224.openai",
     Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM), architecture="vit_base32", top1=63.2,
     top1_source="CLIP paper, Table 11 (zero-shot, 80 prompts)", revision=_TIMM_CLIP_B32,
     files=("open_clip_model.safetensors", "open_clip_config.json", *CLIP_TOKENIZER_FILES),
     sources=(_HUB.format("timm/vit_base_patch32_clip_224.openai", _TIMM_CLIP_B32),
              f"https://huggingface.co/timm/vit_base_patch32_clip_224.openai/blob/{_TIMM_CLIP_B32}/open_clip_config.json"
              " (quick_gelu, preprocess_cfg: bicubic, CLIP mean/std)"),
     note="the paper's CLIP-S-ZeroShot (63.3 %); its linear-probe CLIP-S (75.7 %) is a probe on this embedding; "
          "OpenAI's weights as timm re-hosts them (openai/clip-vit-base-patch32 has no safetensors on main)",
     **{**_CLIP, "license": APACHE})
_row("clip_vit_b16.zeroshot", lambda rngs: CLIP(
    ViTConfig(patch_size=16, pre_norm=True, patch_bias=False, hidden_act="quick_gelu", layer_norm_eps=1e-5,
              projection_dim=512, num_classes=0), TextConfig(), rngs=rngs),
     "huggingface", "openai/clip-vit-base-patch16", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM, **_HF),
     architecture="vit_base16", top1=68.3, top1_source="CLIP paper, Table 11 (zero-shot)",
     files=(*HF_FILES, *CLIP_TOKENIZER_FILES),
     sources=(_HUB.format("openai/clip-vit-base-patch16", "8b66648c6b95eed571f639a83ecfa445ad2f6d98"),),
     note="OPEN: the newest listing read (8b66648) has only pytorch_model.bin / flax_model.msgpack, no "
          "model.safetensors, and no safetensors PR was found: this row needs a revision with safetensors or "
          "timm's re-host (timm/vit_base_patch16_clip_224.openai, listing not read); the Hub page states no "
          "license (openai/CLIP's code is MIT)", **{**_CLIP, "license": None})
_row("clip_vit_l14.zeroshot", lambda rngs: CLIP(
    ViTConfig(patch_size=14, **_LARGE, pre_norm=True, patch_bias=False, hidden_act="quick_gelu",
              layer_norm_eps=1e-5, projection_dim=768, num_classes=0),
    TextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, projection_dim=768), rngs=rngs),
     "huggingface", "openai/clip-vit-large-patch14", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM, **_HF),
     architecture="vit_large14", top1=75.3, top1_source="CLIP paper, Table 11 (zero-shot)",
     files=(*HF_FILES, *CLIP_TOKENIZER_FILES), sources=(_PUBLISHED_PREPROCESSING,),
     note="the paper's high-accuracy CLIP-L (85.1 % with an L-BFGS probe on its embedding); Hub listing and card "
          "not read here (unverified: model.safetensors on main, license)", **_CLIP)
_row("clip_rn50.zeroshot", lambda rngs: CLIP(ClipResNetConfig(), TextConfig(eos_token_id=2, projection_dim=1024),
                                             rngs=rngs),
     "openai_clip", "timm/resnet50_clip.openai", Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM),
     architecture="clip_resnet50", top1=59.6, top1_source="CLIP paper, Table 11 (zero-shot)",
     revision="00fd56258d8020fda2c9a8b683cf883d477ad3eb",
     files=("open_clip_model.safetensors", "open_clip_config.json", *CLIP_TOKENIZER_FILES),
     sources=(_HUB.format("timm/resnet50_clip.openai", "00fd56258d8020fda2c9a8b683cf883d477ad3eb"),),
     note="CLIP's modified ResNet-50; a CLIP-S candidate; the repo has no config.json (open_clip's format): the "
          "tokenizer is its vocab.json + merges.txt; crop 1.0 as OpenAI's own transform (timm's pretrained_cfg "
          "says crop_pct 0.9 for its image tower alone)", **_CLIP)
_row("clip_vit_b32.laion2b", _openai_clip_b32("gelu"), "openai_clip", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
     Preprocessing(224, 1.0, "bicubic", **_CLIP_NORM), objective=CONTRASTIVE, data="laion-2b",
     architecture="vit_base32", top1=66.6, license=MIT, head="zero-shot",
     paper="Cherti et al. 2023, Reproducible scaling laws for contrastive language-image learning (OpenCLIP)",
     top1_source="open_clip results table (zero-shot)",
     files=("open_clip_model.safetensors", "open_clip_config.json", *CLIP_TOKENIZER_FILES),
     sources=("mlfoundations/open_clip src/open_clip/pretrained.py: laion2b_s34b_b79k under _VITB32 (ViT-B-32, "
              "not -quickgelu: nn.GELU)", "https://pypi.org/project/open-clip-torch/2.9.2 (README: ViT-B/32 on LAION-2B "
              "66.6 % zero-shot top-1)"),
     note="trained with exact GELU, not OpenAI's quick_gelu: zoo.load passes the builder's gelu and "
          "zoo.converters.openai_clip.load_openai_clip refuses it if open_clip_config.json says quick_gelu "
          "(launch.zoo check compares them before any download); Hub listing not read here (unverified)")
_row("siglip_b16.webli", functools.partial(_hf_module, "siglip", None, {"vision_config": {}, "text_config": {}}),
     "huggingface", "google/siglip-base-patch16-224", Preprocessing(224, 1.0, "bicubic", **_HALF, **_HF_SQUASH),
     objective="sigmoid contrastive image-text", data="webli", architecture="vit_base16", license=APACHE,
     head="zero-shot", paper="Zhai et al. 2023, Sigmoid Loss for Language Image Pre-Training (SigLIP)",
     files=(*HF_FILES, "spiece.model"), revision="d9049814fd748f55717e7f6e8e330574f955bd0a",
     sources=(_HUB.format("google/siglip-base-patch16-224", "d9049814fd748f55717e7f6e8e330574f955bd0a"),),
     note="zero-shot head from its text tower (no published top-1 for this exact checkpoint on its card)")
_row("align_base.coyo", functools.partial(_hf_module, "align", None, {"vision_config": {}, "text_config": {}}),
     "huggingface", "kakaobrain/align-base", Preprocessing(289, 289 / 346, "bilinear", **_HALF, **_HF_SQUASH),
     objective=CONTRASTIVE, data="coyo-700m", architecture="efficientnet_b7", license=APACHE, head="zero-shot",
     paper="Jia et al. 2021, Scaling Up Visual and Vision-Language Representation Learning With Noisy Text "
           "Supervision (ALIGN)",
     files=(*HF_FILES, "vocab.txt"), sources=(_PUBLISHED_PREPROCESSING,),
     note="Kakao Brain's ALIGN on COYO-700M: the public stand-in for the paper's ALIGN-ZS (75.5 %) and ALIGN "
          "(84.7 % with a probe), whose ALIGN-dataset weights are not public; Hub listing not read here "
          "(unverified that main has model.safetensors)")
DINOV2 = "Oquab et al. 2024, DINOv2, Table 4 (linear)"
_DINOV2_PRE = Preprocessing(224, 0.875, "bicubic", **_IMAGENET, **_HF)
_DINOV2 = dict(objective="self-distillation (DINOv2)", data="lvd-142m", license=APACHE, head="linear-probe",
               files=HF_FILES)
# Their config.json (read, tests/hub_layouts) sets image_size 518: 37×37 + 1 position embeddings, not the 224
# that transformers' Dinov2Config defaults to.
_row("dinov2_vits14.lvd142m", functools.partial(_hf_module, "dinov2", None, {"hidden_size": 384,
                                                                           "num_attention_heads": 6,
                                                                           "image_size": 518}),
     "huggingface", "facebook/dinov2-small", _DINOV2_PRE, architecture="vit_small14", top1=81.1, paper=DINOV2,
     top1_source=DINOV2, sources=(_HUB.format("facebook/dinov2-small", "main"),
                                  "https://huggingface.co/facebook/dinov2-small/blob/150c8e7bb7cef2d30ec31b13a517af14840ee3f7/config.json"),
     **_DINOV2)
_row("dinov2_vitb14.lvd142m", functools.partial(_hf_module, "dinov2", None, {"image_size": 518}), "huggingface",
     "facebook/dinov2-base", _DINOV2_PRE, architecture="vit_base14", top1=84.5, paper=DINOV2, top1_source=DINOV2,
     sources=(_HUB.format("facebook/dinov2-base", "main"),
              "https://huggingface.co/facebook/dinov2-base/blame/main/config.json"), **_DINOV2)
_row("dinov2_vits14_reg.lvd142m", functools.partial(_hf_module, "dinov2_with_registers", None,
                                                    {"hidden_size": 384, "num_attention_heads": 6,
                                                     "num_register_tokens": 4}),
     "huggingface", "facebook/dinov2-with-registers-small", _DINOV2_PRE, architecture="vit_small14_reg4",
     paper="Darcet et al. 2024, Vision Transformers Need Registers", sources=(_PUBLISHED_PREPROCESSING,),
     note="Hub listing and config.json not read here (unverified: image_size as transformers' default)", **_DINOV2)
_row("beit_b16.in22k_ft_in1k", functools.partial(_hf_module, "beit", "BeitForImageClassification",
                                                 {"use_relative_position_bias": True, "use_mean_pooling": True,
                                                  "layer_scale_init_value": 0.1}),
     "huggingface", "microsoft/beit-base-patch16-224", Preprocessing(224, 1.0, "bilinear", **_HALF, **_HF_SQUASH),
     objective="masked image modelling (BEiT), then fine-tuned", data=IN21K, architecture="beit_base16", top1=85.2,
     license=APACHE, paper="Bao et al. 2022, BEiT: BERT Pre-Training of Image Transformers",
     top1_source="BEiT paper, Table 1 (22k pre-training)", files=HF_FILES,
     sources=(_HUB.format("microsoft/beit-base-patch16-224", "main"),),
     note="main has model.safetensors (PR #1 merged; unpinned)")

# Fig. 5: high-accuracy starts (paper: CLIP-L, ALIGN, BiT-1k, EfficientNet-B3) and the paper's low-accuracy
# pool members that have public checkpoints (SEResNeXt-26d, TF-Inception-V3, Inception-v3).
GREEDY_STARTS = ("clip_vit_l14.zeroshot", "align_base.coyo", "bit_m_r50x1.in21k_ft_in1k", "tf_efficientnet_b3.in1k")
GREEDY_POOL = ("seresnext26d_32x4d.bt_in1k", "inception_v3.tf_in1k", "inception_v3.tv_in1k")
