"""Small random-weight stand-ins of the paper catalog's architectures (a ``zoo_modules`` entry for tests).

Rows of catalog "standin", one per category relative to ``standin.resnet50``: ResNet,
ViT and Mixer modules at 32 px with 1,000 classes, orbax checkpoints of their random
initialisation (``write_random_weights``). The paper config runs on them offline with
``tfds.testing.mock_data`` for imagenet2012 and voc/2007.
"""

from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.loading import build, save_weights
from zoo.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from zoo.registry import ModelEntry, WeightSource, list_models, get, register, set_base

PREPROCESSING = Preprocessing(32, 0.875, "bicubic", mean=IMAGENET_MEAN, std=IMAGENET_STD, channels=3)


def _resnet(rngs):
  return ResNet(ResNetConfig(embedding_size=8, hidden_sizes=(8, 16), depths=(1, 1), layer_type="basic",
                             num_channels=3, num_classes=1000), rngs=rngs)


def _vit(rngs):
  return VisionTransformer(ViTConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, num_classes=1000), rngs=rngs)


def _mixer(rngs):
  return MlpMixer(MixerConfig(image_size=32, patch_size=8, num_channels=3, hidden_size=16, num_blocks=1,
                              tokens_mlp_dim=16, channels_mlp_dim=32, num_classes=1000), rngs=rngs)


def _row(name, builder, architecture, seed=0, objective="supervised", data="imagenet-1k", hparams=()):
  register(ModelEntry(name=name, builder=builder, weights=WeightSource("checkpoint", f"standin/{name}"),
                      preprocessing=PREPROCESSING, num_classes=1000, objective=objective, pretraining_data=data,
                      architecture=architecture, hparams=hparams, seed=seed, catalog="standin"))


_row("standin.resnet50", _resnet, "resnet50")
set_base("standin", "standin.resnet50")
_row("standin.resnet50.s1", _resnet, "resnet50", seed=1)
_row("standin.resnet50.wd", _resnet, "resnet50", seed=2, hparams=(("weight_decay", 0.1),))
_row("standin.vit", _vit, "vit", seed=3)
_row("standin.mixer.distilled", _mixer, "mixer", seed=4, objective="distillation")
_row("standin.vit.in21k", _vit, "vit", seed=5, data="imagenet-21k")


def write_random_weights(zoo_dir) -> None:
  """Each stand-in's seeded random initialisation as its checkpoint under ``zoo_dir``."""
  for name in list_models("standin.*"):
    save_weights(get(name), build(get(name)), zoo_dir)
