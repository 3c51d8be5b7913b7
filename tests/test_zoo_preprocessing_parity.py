"""Our per-row preprocessing against the reference pipelines the checkpoints were published with.

transformers rows: each checkpoint's image processor (transformers' PIL backends, built offline
from the values of the checkpoint's ``preprocessor_config.json``, written below with its Hub
id) on random PIL images of several sizes and aspect ratios, against the row's
:class:`zoo.Preprocessing` on the same uint8 images through the path the runner takes for
variable-size datasets (``host_resize`` on the host with PIL, then scale and normalise).
timm rows: timm's ``resolve_data_config`` + ``create_transform`` in the separate timm
environment (tests/timm_reference.py), against ``zoo.timm_preprocessing`` of the same
pretrained config.

Tolerance: both sides resize the same uint8 images with PIL at the same sizes and crop
offsets, so the outputs agree up to the float32 order of operations of the rescale and
normalisation (measured ≤ 2.4e-7); we allow 1e-5. (The device path, jax.image.resize for
fixed-size datasets, is another resampler and is not compared here.) A long side rounded
instead of truncated, a crop one pixel off, a squash taken for a short-side resize or bilinear
taken for bicubic gives differences of 0.2 and more on these textured images (2e4 × the tolerance)
(``test_the_tolerance_catches_a_wrong_preprocessing``).
"""

import numpy as np
import pytest
import transformers
from PIL import Image

import zoo

TOLERANCE = 1e-5
IMAGENET = dict(image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
HALF = dict(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
CLIP = dict(image_mean=[0.48145466, 0.4578275, 0.40821073], image_std=[0.26862954, 0.26130258, 0.27577711])
BICUBIC, BILINEAR = 3, 2
_CONVNEXT = ("ConvNextImageProcessorPil", dict(size={"shortest_edge": 224}, crop_pct=0.875, resample=BICUBIC,
                                                **IMAGENET))
_DINOV2 = ("BitImageProcessorPil", dict(size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224},
                                         do_center_crop=True, resample=BICUBIC, **IMAGENET))
_CLIP = ("CLIPImageProcessorPil", dict(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                                        do_center_crop=True, resample=BICUBIC, **CLIP))
_SQUARE = lambda side, resample, norm: ("ViTImageProcessorPil", dict(size={"height": side, "width": side},
                                                                      resample=resample, **norm))

# Hub id → (transformers PIL image processor, the values of its preprocessor_config.json).
PUBLISHED = {
    "microsoft/resnet-50": _CONVNEXT,
    "facebook/convnext-tiny-224": _CONVNEXT,
    "facebook/convnextv2-tiny-1k-224": _CONVNEXT,
    "facebook/regnet-y-040": _CONVNEXT,  # its conversion script publishes ConvNeXt's processor
    "microsoft/swin-tiny-patch4-window7-224": _SQUARE(224, BICUBIC, IMAGENET),
    "google/vit-base-patch16-224": _SQUARE(224, BILINEAR, HALF),
    "facebook/dinov2-small": _DINOV2,
    "facebook/dinov2-base": _DINOV2,
    "facebook/dinov2-with-registers-small": _DINOV2,
    "microsoft/beit-base-patch16-224": ("BeitImageProcessorPil", dict(
        size={"height": 224, "width": 224}, do_center_crop=False, resample=BILINEAR, **HALF)),
    "facebook/data2vec-vision-base-ft1k": ("BeitImageProcessorPil", dict(
        size={"height": 224, "width": 224}, do_center_crop=False, resample=BICUBIC, **HALF)),
    "openai/clip-vit-base-patch16": _CLIP,
    "openai/clip-vit-large-patch14": _CLIP,
    "google/siglip-base-patch16-224": ("SiglipImageProcessorPil", dict(
        size={"height": 224, "width": 224}, resample=BICUBIC, **HALF)),
    "kakaobrain/align-base": ("EfficientNetImageProcessorPil", dict(
        size={"height": 346, "width": 346}, crop_size={"height": 289, "width": 289}, do_center_crop=True,
        resample=BILINEAR, rescale_factor=1 / 127.5, rescale_offset=True, do_normalize=False, include_top=False)),
    "google/bit-50": ("BitImageProcessorPil", dict(size={"shortest_edge": 448}, crop_size={"height": 448, "width": 448},
                                                   do_center_crop=True, resample=BILINEAR, **HALF)),
}
# Rows whose Hub processor is a conversion default, not the pipeline the weights were evaluated
# with: they keep their authors' evaluation preprocessing (resize 256 bicubic, centre crop 224).
AUTHORS_PIPELINE = {
    "facebook/vit-mae-base": "ViTImageProcessor defaults (squash to 224); MAE's linear probing resizes to 256 "
                             "(bicubic) and centre-crops 224",
}
# Sizes (height, width): landscape, portrait, square, odd sides, smaller than the crop.
SIZES = ((300, 451), (451, 300), (256, 256), (333, 500), (375, 281), (120, 97))


def textured_images(seed=0):
  """Random images with texture at every scale down to a few pixels (PIL bicubic upsampling of
  random coarse grids, plus fine noise), one per size of SIZES."""
  rng = np.random.default_rng(seed)
  images = []
  for height, width in SIZES:
    coarse = Image.fromarray(rng.integers(0, 256, (height // 6 + 2, width // 6 + 2, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), np.float64)
    images.append(np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8))
  return images


def processor(hub_id):
  name, values = PUBLISHED[hub_id]
  return getattr(transformers, name)(**values)


def ours(preprocessing, image):
  """The runner's path for variable-size images: host_resize, then scale and normalise."""
  resized = preprocessing.host_resize(image)
  return np.asarray(preprocessing(resized[None]))[0]


def reference(hub_id, image):
  return processor(hub_id)(images=[Image.fromarray(image)], return_tensors="np")["pixel_values"][0].transpose(1, 2, 0)


def transformers_rows():
  return {zoo.get(n).weights.location: zoo.get(n) for n in zoo.list_models(catalog="paper")
          if zoo.get(n).weights.kind == "huggingface"}


def test_every_transformers_row_has_its_published_processor_here():
  assert sorted(transformers_rows()) == sorted({**PUBLISHED, **AUTHORS_PIPELINE})
  for hub_id in AUTHORS_PIPELINE:  # their authors' pipeline: resize to resolution / crop, centre crop
    preprocessing = transformers_rows()[hub_id].preprocessing
    assert (preprocessing.interpolation, preprocessing.crop_mode) == ("bicubic", "center")
    assert round(preprocessing.resolution / preprocessing.crop_fraction) == preprocessing.resolution + 32


@pytest.mark.parametrize("hub_id", sorted(PUBLISHED))
def test_row_preprocessing_matches_the_checkpoints_image_processor(hub_id):
  entry = transformers_rows()[hub_id]
  for image in textured_images():
    expected, got = reference(hub_id, image), ours(entry.preprocessing, image)
    assert got.shape == expected.shape, (entry.name, image.shape)
    difference = np.abs(got - expected).max()
    assert difference < TOLERANCE, (entry.name, image.shape, difference)


@pytest.mark.parametrize("hub_id, wrong", [
    ("microsoft/swin-tiny-patch4-window7-224", dict(crop_mode="center")),
    ("microsoft/swin-tiny-patch4-window7-224", dict(interpolation="bilinear")),
    ("facebook/convnext-tiny-224", dict(transformers_sizes=False)),   # the long side rounded
])
def test_the_tolerance_catches_a_wrong_preprocessing(hub_id, wrong):
  import dataclasses
  preprocessing = dataclasses.replace(transformers_rows()[hub_id].preprocessing, **wrong)
  worst = max(np.abs(ours(preprocessing, image) - reference(hub_id, image)).max() for image in textured_images()[:2])
  assert worst > 0.2, (hub_id, wrong, worst)


@pytest.mark.parametrize("hub_id", sorted(set(PUBLISHED) - {"kakaobrain/align-base"}))  # ALIGN rescales to [-1, 1]
def test_preprocessing_read_from_the_processor_config_is_the_rows(hub_id):
  """zoo.pretrained_preprocessing's rule (preprocessing_from_config) on the published config
  gives the row's preprocessing exactly."""
  from zoo.converters.huggingface import preprocessing_from_config
  assert preprocessing_from_config(processor(hub_id).to_dict()) == transformers_rows()[hub_id].preprocessing
