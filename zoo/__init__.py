"""Model zoo: registry rows (architecture + weights + preprocessing + training method),
flax.nnx architectures, and weight converters (transformers safetensors, Google .npz)."""

from zoo import classnames  # noqa: F401  (ImageNet class names for zero-shot heads)
from zoo.catalogs import paper, small  # noqa: F401  (importing a catalog registers its rows)
from zoo.converters.big_vision import augreg_hparams, load_npz
from zoo.converters.huggingface import load_pretrained, load_tokenizer, pretrained_preprocessing
from zoo.converters.mapping import ConversionError
from zoo.converters.openai_clip import load_openai_clip
from zoo.converters.timm import load_timm, timm_preprocessing
from zoo.loading import WeightsDamaged, WeightsUnavailable, build, load, save_weights
from zoo.preprocessing import Preprocessing
from zoo.architectures.linear_probe import LinearProbeHead
from zoo.architectures.prompts import IMAGENET_TEMPLATES
from zoo.architectures.zero_shot import ZeroShotClassifier, zero_shot_classifier, zero_shot_weights
from zoo.registry import (CATEGORIES, ModelEntry, WeightSource, base_of, get, list_models, pair_category, register,
                          resolve_patterns, set_base)

list = list_models  # noqa: A001  (timm-style ``zoo.list("vit*")``)
