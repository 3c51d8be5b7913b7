"""The ``small`` catalog: the Fashion-MNIST study's zoo around one base ConvNet.

At least three models per category of the paper, each defined relative to the base
only by the training-method fields (categories are derived, never written per pair):

- reinit: the base recipe with other seeds;
- hyper-parameters: learning rate, weight decay, dropout, augmentation, batch size;
- architecture: MLP, global-pool CNN, ResNet, ViT, Mixer (built from the ImageNet modules);
- framework (objective): SimCLR-style contrastive and autoencoding + linear probe,
  distillation from the base;
- dataset: supervised on other data (procedural shapes, procedural textures, a disjoint
  half of Fashion-MNIST's classes) + linear probe on Fashion-MNIST.

``hparams`` are the recipe's (zoo.training.SupervisedRecipe fields + dropout); how each
objective trains is :func:`zoo.fitting.fit_row`. Weights are orbax checkpoints under
the zoo directory.
"""

from __future__ import annotations

from zoo.architectures import small
from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.preprocessing import Preprocessing
from zoo.registry import ModelEntry, WeightSource, register, set_base

FASHION_MNIST = Preprocessing(resolution=28, mean=(0.2860,), std=(0.3530,), channels=1)
BASE_HPARAMS = {"learning_rate": 2e-3, "weight_decay": 1e-4, "dropout": 0.0, "batch_size": 128, "random_shift": 0}
EMBEDDING = 128  # the ConvNet's embedding width
# Other-data classes: procedural generators in launch.data, and Fashion-MNIST's first 5 classes.
PRETRAINING_CLASSES = {"procedural_shapes": 6, "procedural_textures": 6, "fashion_mnist_classes_0-4": 5}


def _row(name, builder, architecture, *, seed=0, objective="supervised", pretraining_data="fashion_mnist",
         **changes):
  hparams = {**BASE_HPARAMS, **changes}
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource("checkpoint", f"small/{name}"), preprocessing=FASHION_MNIST,
      num_classes=10, objective=objective, pretraining_data=pretraining_data, architecture=architecture,
      hparams=tuple(sorted(hparams.items())), seed=seed, catalog="small"))


def _convnet(dropout=0.0, num_classes=10):
  return lambda rngs: small.ConvNet(1, num_classes, dropout=dropout, hidden=EMBEDDING, rngs=rngs)


def _probed(backbone):
  """A backbone + the linear classifier fitted on Fashion-MNIST (zoo.training.fit_linear_head)."""
  return lambda rngs: small.LinearProbed(backbone(rngs), EMBEDDING, 10, rngs=rngs)


_CONVNET = _convnet()  # one builder: rows differing only in seed can train together (zoo.fitting.vmap_groups)
BASE = _row("cnn.s0", _CONVNET, "convnet")
set_base("small", BASE.name)
for _seed in (1, 2, 3):
  _row(f"cnn.s{_seed}", _CONVNET, "convnet", seed=_seed)

_row("cnn.lr5e-4", _CONVNET, "convnet", learning_rate=5e-4)
_row("cnn.wd5e-2", _CONVNET, "convnet", weight_decay=5e-2)
_row("cnn.dropout0.3", _convnet(0.3), "convnet", dropout=0.3)
_row("cnn.shift2", _CONVNET, "convnet", random_shift=2)
_row("cnn.bs32", _CONVNET, "convnet", batch_size=32)

_row("mlp.s0", lambda rngs: small.MLP(28 * 28, 10, width=256, rngs=rngs), "mlp")
_row("small_cnn.s0", lambda rngs: small.SmallCNN(1, 10, rngs=rngs), "global_pool_cnn")
_row("small_resnet.s0", lambda rngs: ResNet(ResNetConfig(
    stem="small", embedding_size=16, hidden_sizes=(16, 32, 64), depths=(1, 1, 1), layer_type="basic",
    num_channels=1, num_classes=10), rngs=rngs), "small_resnet")
_row("tiny_vit.s0", lambda rngs: VisionTransformer(ViTConfig(
    image_size=28, patch_size=4, num_channels=1, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
    intermediate_size=128, layer_norm_eps=1e-6, num_classes=10), rngs=rngs), "tiny_vit")
_row("tiny_mixer.s0", lambda rngs: MlpMixer(MixerConfig(
    image_size=28, patch_size=4, num_channels=1, hidden_size=64, num_blocks=3, tokens_mlp_dim=64,
    channels_mlp_dim=128, num_classes=10), rngs=rngs), "tiny_mixer")

# Framework: same data and architecture family, another objective (the ConvNet head is
# SimCLR's 64-d projection; the autoencoder's code is the embedding).
_row("cnn.simclr", _probed(_convnet(num_classes=64)), "convnet", objective="contrastive (SimCLR)")
_row("cnn.autoencoder", _probed(lambda rngs: small.ConvAutoencoder(1, features=EMBEDDING, rngs=rngs)), "convnet",
     objective="autoencoding")
_row("cnn.distilled", _CONVNET, "convnet", objective="distillation")

# Dataset: the same supervised objective on other data, then a linear probe.
for _data, _classes in PRETRAINING_CLASSES.items():
  _row(f"cnn.{_data.removeprefix('procedural_').replace('fashion_mnist_classes_', 'fmnist')}",
       _probed(_convnet(num_classes=_classes)), "convnet", pretraining_data=_data)
