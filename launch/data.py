"""Input sources: TFDS ArrayRecord datasets through ``tfds.data_source``, and offline Fashion-MNIST.

A *source* is random access (``len(source)``, ``source[i]``), which is what the
evaluation runner needs; every record is ``{"image": uint8[H, W, C], "label": int (or
a multi-hot int vector [C] for multi-label datasets such as voc/2007), "id": int}``,
where ``id`` is stable across runs (the position in the dataset's splits laid end to
end, or the row of the IDX file).

Fashion-MNIST is read from IDX files (``--data_dir``, or Debian's
``dataset-fashion-mnist`` package at /usr/share/datasets/fashion-mnist/), so the
default study runs with no network. Split strings follow TFDS (``"train[:10%]"``,
``"train[50000:]+test"``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FASHION_MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
_NO_FASHION_MNIST = (
    "Fashion-MNIST IDX files ({names}) were not found in {where}. Get them with "
    "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files land in /usr/share/datasets/fashion-mnist), "
    "or download the four *-ubyte.gz files of Fashion-MNIST on a networked machine and pass --data_dir=DIR.")


def read_idx(path: Path) -> np.ndarray:
  """Reads an IDX file (optionally gzipped): big-endian magic, dimensions, then uint8 data."""
  opener = gzip.open if str(path).endswith(".gz") else open
  try:
    with opener(path, "rb") as handle:
      content = handle.read()
  except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # a truncated or damaged download
    raise ValueError(f"{path} is damaged ({type(error).__name__}: {error or 'truncated'}); download it again or "
                     "reinstall it (apt-get install --reinstall dataset-fashion-mnist).") from None
  if len(content) < 4:
    raise ValueError(f"{path} is not an IDX file (only {len(content)} bytes).")
  zero, dtype_code, ndim = struct.unpack(">HBB", content[:4])
  if zero != 0 or dtype_code != 0x08:
    raise ValueError(f"{path} is not an unsigned-byte IDX file (magic {content[:4].hex()}).")
  if len(content) < 4 + 4 * ndim:
    raise ValueError(f"{path} is truncated: its header names {ndim} dimensions but the file holds {len(content)} "
                     "bytes; download it again.")
  shape = struct.unpack(f">{ndim}I", content[4:4 + 4 * ndim])
  data = np.frombuffer(content, np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(shape)):
    raise ValueError(f"{path} is truncated: header says {shape} ({int(np.prod(shape))} bytes), "
                     f"found {data.size} bytes of data.")
  return data.reshape(shape)


def _find(directory: Path, name: str) -> Path | None:
  for candidate in (directory / f"{name}.gz", directory / name):
    if candidate.exists():
      return candidate
  return None


def fashion_mnist_arrays(split_name: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8[N, 28, 28, 1], labels int64[N]) of "train" or "test" from IDX files."""
  directories = [Path(data_dir)] if data_dir else [DEBIAN_FASHION_MNIST]
  names = _FASHION_MNIST_FILES[split_name]
  for directory in directories:
    images_path, labels_path = _find(directory, names[0]), _find(directory, names[1])
    if images_path and labels_path:
      images, labels = read_idx(images_path), read_idx(labels_path)
      if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels.")
      return images[..., None], labels.astype(np.int64)
  raise FileNotFoundError(_NO_FASHION_MNIST.format(names=", ".join(names), where=", ".join(map(str, directories))))


class _Sizes(dict):
  """TFDS's split-size mapping, as ReadInstruction.to_absolute expects it."""

  def __init__(self, sizes):
    super().__init__({name: type("SplitInfo", (), {"num_examples": size})() for name, size in sizes.items()})


def resolve_split(spec: str, sizes: dict[str, int]) -> list[tuple[str, int, int]]:
  """TFDS split syntax → [(split name, start, stop)], e.g. "train[:10%]" → [("train", 0, 6000)]."""
  try:
    import tensorflow_datasets as tfds
  except ImportError:  # without TFDS installed, plain "name" and "name[start:stop]" still work
    return [_plain_split(spec, sizes)]
  try:
    instructions = tfds.core.ReadInstruction.from_spec(spec).to_absolute(_Sizes(sizes))
  except (ValueError, AssertionError, KeyError) as error:
    raise ValueError(f"cannot read split {spec!r} (known splits: {sorted(sizes)}): {error}") from None
  return [(i.splitname, i.from_ or 0, sizes[i.splitname] if i.to is None else i.to) for i in instructions]


def _plain_split(spec: str, sizes: dict[str, int]) -> tuple[str, int, int]:
  name, _, rest = spec.partition("[")
  if name not in sizes:
    raise ValueError(f"unknown split {name!r} (known splits: {sorted(sizes)}).")
  if not rest:
    return name, 0, sizes[name]
  start, _, stop = rest.rstrip("]").partition(":")
  return name, int(start or 0), int(stop) if stop else sizes[name]


@dataclasses.dataclass
class ArraySource:
  """Random-access source over in-memory images/labels with stable ids."""
  images: np.ndarray
  labels: np.ndarray
  ids: np.ndarray
  num_classes: int
  class_names: tuple[str, ...] = ()
  multi_label = False

  def __len__(self) -> int:
    return len(self.labels)

  def __getitem__(self, index: int) -> dict:
    return {"image": self.images[index], "label": int(self.labels[index]), "id": int(self.ids[index])}

  @property
  def fixed_image_shape(self) -> bool:
    return True

  def get_batch(self, indices: np.ndarray) -> dict:
    """Vectorised read of many records (what the runner uses)."""
    return {"image": self.images[indices], "label": self.labels[indices], "id": self.ids[indices]}


def fashion_mnist_source(split: str, data_dir=None) -> ArraySource:
  """Offline Fashion-MNIST; ids are "train" rows 0..59999 and "test" rows 60000..69999."""
  pieces = resolve_split(split, OFFLINE_SPLIT_SIZES["fashion_mnist"])
  images, labels, ids = [], [], []
  for name, start, stop in pieces:
    split_images, split_labels = fashion_mnist_arrays(name, data_dir)
    offset = 0 if name == "train" else 60000
    images.append(split_images[start:stop])
    labels.append(split_labels[start:stop])
    ids.append(np.arange(start, stop) + offset)
  return ArraySource(np.concatenate(images), np.concatenate(labels), np.concatenate(ids), num_classes=10,
                     class_names=FASHION_MNIST_CLASSES)


class TfdsSource:
  """A ``tfds.data_source`` (ArrayRecord, no TensorFlow) with the record layout above."""

  def __init__(self, name: str, split: str, data_dir=None, image_key: str = "image", label_key: str = "label"):
    import tensorflow_datasets as tfds
    try:
      self._source = tfds.data_source(name, split=split, data_dir=data_dir, download=False)
    except Exception as error:  # TFDS raises several types; all mean "not prepared as ArrayRecord here"
      raise FileNotFoundError(
          f"TFDS dataset {name!r} split {split!r} is not available as ArrayRecord under "
          f"{data_dir or '~/tensorflow_datasets'} ({type(error).__name__}: {error}). Prepare it once on a machine "
          f"with network: `tfds build {name} --file_format=array_record` (or `tfds.builder(name, "
          f"file_format='array_record').download_and_prepare()`), then pass --data_dir. TFRecord-only copies "
          "cannot be read without TensorFlow: rebuild them as array_record.") from None
    info = self._source.dataset_info
    features = info.features
    if label_key not in features and "labels" in features:  # multi-label datasets, e.g. voc/2007
      label_key = "labels"
    self._image_key, self._label_key = image_key, label_key
    self.fixed_image_shape = None not in tuple(features[image_key].shape)
    label_feature = features[label_key]
    # A Sequence of class labels (VOC) becomes a multi-hot vector: labels are then [C].
    self.multi_label = isinstance(label_feature, tfds.features.Sequence)
    class_label = label_feature.feature if self.multi_label else label_feature
    self.num_classes = class_label.num_classes
    self.class_names = tuple(class_label.names or ())  # the dataset's own names (ImageNet: WordNet ids)
    sizes = {name: split_info.num_examples for name, split_info in info.splits.items()}
    # Stable ids: splits laid end to end in the dataset's split order, so an example's
    # id is the same whatever slice of whatever split it is read through.
    bases = dict(zip(sizes, np.cumsum([0] + list(sizes.values()))[:-1].tolist()))
    if sizes:
      self._pieces = [(bases[name] + start, stop - start) for name, start, stop in resolve_split(split, sizes)]
    else:  # no split metadata (e.g. a mocked dataset): ids are positions in this source
      self._pieces = [(0, len(self._source))]

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict:
    record = self._source[index]
    if self.multi_label:
      label = np.zeros(self.num_classes, np.int64)
      label[np.asarray(record[self._label_key], np.int64)] = 1
    else:
      label = int(record[self._label_key])
    image = np.asarray(record[self._image_key])
    return {"image": image if image.ndim == 3 else image[..., None], "label": label, "id": self._stable_id(index)}

  def id_ranges(self) -> list[tuple[int, int]]:
    """The stable ids of this source as [start, stop) ranges."""
    return [(first, first + size) for first, size in self._pieces]

  def record_bytes(self, indices) -> list[bytes]:
    """The serialized records at ``indices``, undecoded (for content hashes without decoding images)."""
    raw = getattr(self._source, "data_source", None)
    if raw is None:
      raise AttributeError("this TFDS data source exposes no raw records")
    return list(raw.__getitems__([int(i) for i in indices]))

  def _stable_id(self, index: int) -> int:
    for first_id, size in self._pieces:
      if index < size:
        return first_id + index
      index -= size
    raise IndexError(index)


# Datasets read offline from their own files (no TFDS preparation needed), by name.
OFFLINE_SOURCES = {"fashion_mnist": fashion_mnist_source}
OFFLINE_SPLIT_SIZES = {"fashion_mnist": {"train": 60000, "test": 10000}}  # examples per split of each offline source


def load_source(dataset: str, split: str, data_dir=None):
  """A random-access source for ``dataset``/``split``: an offline source (IDX files) where
  one exists for the name, else TFDS. Every source has ``num_classes``, ``class_names``
  (the dataset's own list; may be empty) and ``multi_label``."""
  if data_dir is not None and "://" not in str(data_dir):
    directory = Path(data_dir).expanduser()
    if not directory.is_dir():
      raise FileNotFoundError(f"data_dir {data_dir} {'is a file, not a directory' if directory.exists() else 'does not exist'}; "
                              "pass the directory holding the prepared dataset (TFDS data_dir, or the IDX files of "
                              "Fashion-MNIST).")
  if dataset in OFFLINE_SOURCES:
    try:
      return OFFLINE_SOURCES[dataset](split, data_dir)
    except FileNotFoundError:
      if data_dir is None:
        raise
      return TfdsSource(dataset, split, data_dir)
  return TfdsSource(dataset, split, data_dir)


def id_ranges(source) -> list[tuple[int, int]]:
  """The stable example ids of ``source`` as sorted, merged [start, stop) ranges."""
  if hasattr(source, "id_ranges"):
    ranges = sorted(source.id_ranges())
  else:
    ids = np.unique(np.asarray(source.ids, np.int64))
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    ranges = [(int(run[0]), int(run[-1]) + 1) for run in np.split(ids, breaks) if run.size]
  merged: list[tuple[int, int]] = []
  for start, stop in ranges:
    if merged and start <= merged[-1][1]:
      merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
    else:
      merged.append((start, stop))
  return merged


def shared_examples(a, b) -> int:
  """How many stable example ids sources ``a`` and ``b`` (of one dataset) have in common."""
  return sum(max(0, min(stop_a, stop_b) - max(start_a, start_b))
             for start_a, stop_a in id_ranges(a) for start_b, stop_b in id_ranges(b))


def content_sha256(source, batch_size: int = 1024) -> str:
  """sha256 of everything a source serves: every example's id, label and image, in order
  (TFDS sources hash their serialized records, so no image is decoded). Other files under
  the same dataset and split name give another hash."""
  digest = hashlib.sha256()
  digest.update(f"{type(source).__name__}:{len(source)};".encode())
  if isinstance(source, ArraySource):
    for array in (source.images, np.asarray(source.labels, np.int64), np.asarray(source.ids, np.int64)):
      digest.update(f"{array.dtype.str}{array.shape}".encode())
      digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
  for start in range(0, len(source), batch_size):
    indices = range(start, min(start + batch_size, len(source)))
    try:
      records = source.record_bytes(indices)
    except AttributeError:
      records = None
    if records is not None:
      for index, record in zip(indices, records):
        digest.update(f"{source._stable_id(index)}:{len(record)};".encode())
        digest.update(bytes(record))
      continue
    for index in indices:
      example = source[index]
      image = np.ascontiguousarray(example["image"])
      digest.update(f"{example['id']}:{np.asarray(example['label']).tolist()}:{image.dtype.str}{image.shape};".encode())
      digest.update(image.tobytes())
  return digest.hexdigest()


def as_arrays(source) -> tuple[np.ndarray, np.ndarray]:
  """(uint8 images [N, H, W, C], labels [N]) of a whole source, for training (fixed-size
  images only: variable-size ones would need each model's resize first)."""
  if isinstance(source, ArraySource):
    return source.images, source.labels
  if not getattr(source, "fixed_image_shape", False):
    raise ValueError(f"{type(source).__name__} has variable-size images; training needs a fixed-size dataset.")
  records = [source[i] for i in range(len(source))]
  return np.stack([r["image"] for r in records]), np.asarray([r["label"] for r in records])
