"""The ``small`` catalog: Fashion-MNIST models around one base CNN, one row per model.

Their weights are orbax checkpoints under the zoo directory, written by the training
recipes of the default study. Categories relative to the base follow from the fields.
"""

from __future__ import annotations

import functools

from zoo.architectures import small
from zoo.architectures.mixer import MixerConfig, MlpMixer
from zoo.architectures.resnet import ResNet, ResNetConfig
from zoo.architectures.vit import ViTConfig, VisionTransformer
from zoo.preprocessing import Preprocessing
from zoo.registry import ModelEntry, WeightSource, register, set_base

FASHION_MNIST = Preprocessing(resolution=28, mean=(0.2860,), std=(0.3530,), channels=1)
_BASE_HPARAMS = (("learning_rate", 3e-3), ("weight_decay", 1e-4), ("dropout", 0.0))


def _row(name, builder, architecture, seed=0, hparams=_BASE_HPARAMS, objective="supervised",
         pretraining_data="fashion_mnist"):
  return register(ModelEntry(
      name=name, builder=builder, weights=WeightSource("checkpoint", f"small/{name}"), preprocessing=FASHION_MNIST,
      num_classes=10, objective=objective, pretraining_data=pretraining_data, architecture=architecture,
      hparams=hparams, seed=seed, catalog="small"))


_cnn = lambda rngs, dropout=0.0: small.SmallCNN(1, 10, dropout=dropout, rngs=rngs)
_mlp = lambda rngs: small.MLP(28 * 28, 10, rngs=rngs)

BASE = _row("small_cnn.s0", _cnn, "small_cnn")
set_base("small", BASE.name)
_row("small_cnn.s1", _cnn, "small_cnn", seed=1)
_row("small_cnn.s2", _cnn, "small_cnn", seed=2)
_row("small_cnn.dropout", functools.partial(_cnn, dropout=0.3), "small_cnn",
     hparams=(("learning_rate", 3e-3), ("weight_decay", 1e-4), ("dropout", 0.3)))
_row("mlp.s0", _mlp, "mlp")
# Same supervised recipe, other architecture families, built from the ImageNet modules.
_row("small_resnet.s0", lambda rngs: ResNet(ResNetConfig(
    stem="small", embedding_size=16, hidden_sizes=(16, 32, 64), depths=(1, 1, 1), layer_type="basic",
    num_channels=1, num_classes=10), rngs=rngs), "small_resnet")
_row("tiny_vit.s0", lambda rngs: VisionTransformer(ViTConfig(
    image_size=28, patch_size=4, num_channels=1, hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
    intermediate_size=128, layer_norm_eps=1e-6, num_classes=10), rngs=rngs), "tiny_vit")
_row("tiny_mixer.s0", lambda rngs: MlpMixer(MixerConfig(
    image_size=28, patch_size=4, num_channels=1, hidden_size=64, num_blocks=3, tokens_mlp_dim=64,
    channels_mlp_dim=128, num_classes=10), rngs=rngs), "tiny_mixer")
