"""Input sources: TFDS ArrayRecord via tfds.testing.mock_data, offline Fashion-MNIST, split syntax."""

import gzip

import numpy as np
import pytest
import tensorflow_datasets as tfds

from launch import data


@pytest.mark.parametrize("name, split, shape", [("mnist", "train[:12]", (28, 28, 1)),
                                                ("cifar10", "test", (32, 32, 3))])
def test_tfds_data_source_through_mock_data(name, split, shape):
  with tfds.testing.mock_data(num_examples=20, policy=tfds.testing.MockPolicy.USE_CODE):
    source = data.load_source(name, split)
    record = source[3]
    assert record["image"].shape == shape and record["image"].dtype == np.uint8
    assert 0 <= record["label"] < source.num_classes
    ids = [source[i]["id"] for i in range(len(source))]
    assert len(set(ids)) == len(source)


def test_tfrecord_only_dataset_explains_how_to_prepare(tmp_path):
  with pytest.raises(FileNotFoundError, match="array_record"):
    data.TfdsSource("imagenet2012", "validation", data_dir=str(tmp_path))


def write_idx(path, array):
  header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
  with gzip.open(path, "wb") as handle:
    handle.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_a_data_dir_with_split_syntax(tmp_path, rng):
  images = rng.integers(0, 256, (50, 28, 28))
  labels = rng.integers(0, 10, 50)
  for prefix in ("train", "t10k"):
    write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
  source = data.load_source("fashion_mnist", "train[10:20]+test[:5]", str(tmp_path))
  assert len(source) == 15
  np.testing.assert_array_equal(source[0]["image"][..., 0], images[10])
  assert [source[i]["id"] for i in (0, 9, 10, 14)] == [10, 19, 60000, 60004]
  batch = source.get_batch(np.array([1, 12]))
  np.testing.assert_array_equal(batch["label"], [labels[11], labels[2]])


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
  with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist.*--data_dir"):
    data.fashion_mnist_source("test", str(tmp_path))


def test_truncated_idx_is_named(tmp_path):
  path = tmp_path / "t10k-labels-idx1-ubyte.gz"
  with gzip.open(path, "wb") as handle:
    handle.write(bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(10))
  with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz is truncated"):
    data.read_idx(path)


def test_bad_split_is_refused():
  with pytest.raises(ValueError, match="cannot read split"):
    data.resolve_split("validation", {"train": 10, "test": 5})


def test_voc_labels_become_multi_hot_and_images_are_resized_on_the_host(tmp_path):
  import jax.numpy as jnp

  from launch import runner, store
  from zoo.preprocessing import Preprocessing
  with tfds.testing.mock_data(num_examples=10, policy=tfds.testing.MockPolicy.USE_CODE):
    source = data.load_source("voc/2007", "test")
    assert source.multi_label and not source.fixed_image_shape and source.num_classes == 20
    record = source[0]
    assert record["label"].shape == (20,) and set(np.unique(record["label"])) <= {0, 1}
    preprocess = Preprocessing(16, 1.0, "bilinear", (0.5,) * 3, (0.5,) * 3, channels=3)
    apply = lambda params, x: (preprocess(x).mean(axis=(1, 2)) @ params, preprocess(x).mean(axis=(1, 2)))
    writer = store.ChunkWriter(tmp_path, "voc/2007", "test", "m", {}, len(source), 8)
    runner.evaluate(apply, jnp.ones((3, 20)), source, writer, batch_size=4, host_transform=preprocess.host_resize)
  result = store.read(tmp_path, "voc/2007", "test")
  assert result.labels.shape == (10, 20) and result.logits.shape == (1, 10, 20)
  np.testing.assert_array_equal(result.labels[0], record["label"])
