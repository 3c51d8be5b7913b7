"""The result store: atomic chunks, resume, corruption detection, aligned reads."""

import numpy as np
import pytest

from launch import store


def outputs(rng, ids, num_classes=4, dim=3):
  return {"logits": rng.normal(size=(len(ids), num_classes)).astype(np.float32),
          "embeddings": rng.normal(size=(len(ids), dim)).astype(np.float32),
          "labels": (np.asarray(ids) * 7) % num_classes, "ids": np.asarray(ids)}


def write_all(tmp_path, rng, model, ids, chunk_size=4, metadata=None):
  writer = store.ChunkWriter(tmp_path, "fashion_mnist", "test", model, metadata or {"weights": model},
                             len(ids), chunk_size)
  full = outputs(rng, ids)
  for index in writer.missing_chunks():
    start, stop = writer.rows(index)
    writer.write_chunk(index, {k: v[start:stop] for k, v in full.items()})
  return writer, full


def test_roundtrip_and_alignment_by_id(tmp_path, rng):
  ids = np.arange(10)
  _, first = write_all(tmp_path, rng, "a", ids)
  shuffled = rng.permutation(ids)
  _, second = write_all(tmp_path, rng, "b/tag", shuffled)
  result = store.read(tmp_path, "fashion_mnist", "test", ["a", "b/tag"])
  assert result.models == ["a", "b/tag"]
  np.testing.assert_array_equal(result.ids, ids)
  np.testing.assert_array_equal(result.labels, first["labels"])
  np.testing.assert_array_equal(result.logits[0], first["logits"])
  order = np.argsort(shuffled)
  np.testing.assert_array_equal(result.logits[1], second["logits"][order])
  np.testing.assert_array_equal(result.embeddings["b/tag"], second["embeddings"][order])
  assert store.list_models(tmp_path, "fashion_mnist", "test") == ["a", "b/tag"]


def test_resume_computes_only_missing_and_detects_corruption(tmp_path, rng):
  writer = store.ChunkWriter(tmp_path, "d", "s", "m", {}, 10, 4)
  assert writer.missing_chunks() == [0, 1, 2]
  full = outputs(rng, np.arange(10))
  writer.write_chunk(1, {k: v[4:8] for k, v in full.items()})
  assert writer.missing_chunks() == [0, 2]
  chunk = writer.directory / "chunk_00001.npz"
  data = bytearray(chunk.read_bytes())
  data[len(data) // 2] ^= 0xFF
  chunk.write_bytes(bytes(data))
  assert writer.missing_chunks() == [0, 1, 2]
  (writer.directory / "chunk_00002.npz").write_bytes(b"half a file")   # data without sidecar: a killed write
  assert 2 in writer.missing_chunks()


def test_incomplete_store_is_refused_with_instructions(tmp_path, rng):
  writer = store.ChunkWriter(tmp_path, "d", "s", "m", {}, 10, 4)
  full = outputs(rng, np.arange(10))
  writer.write_chunk(0, {k: v[:4] for k, v in full.items()})
  with pytest.raises(ValueError, match=r"chunks \[1, 2\] of 3 are missing.*rerun the same launch.evaluate"):
    store.read(tmp_path, "d", "s", ["m"])


def test_different_metadata_is_refused(tmp_path):
  store.ChunkWriter(tmp_path, "d", "s", "m", {"weights": "sha-1"}, 10, 4)
  with pytest.raises(ValueError, match="describes a different evaluation"):
    store.ChunkWriter(tmp_path, "d", "s", "m", {"weights": "sha-2"}, 10, 4)


def test_disagreeing_models_are_named(tmp_path, rng):
  write_all(tmp_path, rng, "a", np.arange(8))
  write_all(tmp_path, rng, "b", np.arange(1, 9))
  with pytest.raises(ValueError, match="models 'a' and 'b' were evaluated on different examples"):
    store.read(tmp_path, "fashion_mnist", "test", ["a", "b"])


def test_label_disagreement_is_named(tmp_path, rng):
  write_all(tmp_path, rng, "a", np.arange(8))
  writer = store.ChunkWriter(tmp_path, "fashion_mnist", "test", "c", {}, 8, 8)
  bad = outputs(rng, np.arange(8))
  bad["labels"] = (bad["labels"] + 1) % 4
  writer.write_chunk(0, bad)
  with pytest.raises(ValueError, match="models 'a' and 'c' disagree on the labels"):
    store.read(tmp_path, "fashion_mnist", "test", ["a", "c"])


def test_unknown_model_lists_available(tmp_path, rng):
  write_all(tmp_path, rng, "a", np.arange(4))
  with pytest.raises(FileNotFoundError, match=r"no results for model 'zz'.*\['a'\]"):
    store.read(tmp_path, "fashion_mnist", "test", ["zz"])


def test_wrong_chunk_rows_are_refused(tmp_path, rng):
  writer = store.ChunkWriter(tmp_path, "d", "s", "m", {}, 10, 4)
  with pytest.raises(ValueError, match="expected 4"):
    writer.write_chunk(0, outputs(rng, np.arange(3)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_logits_storage_dtype_rounds_to_nearest_and_reads_back(tmp_path, rng, dtype):
  import ml_dtypes
  writer = store.ChunkWriter(tmp_path, "d", "s", "m", {}, 10, 4, logits_dtype=dtype)
  full = outputs(rng, np.arange(10))
  for index in writer.missing_chunks():
    start, stop = writer.rows(index)
    writer.write_chunk(index, {k: v[start:stop] for k, v in full.items()})
  result = store.read(tmp_path, "d", "s", ["m"])
  expected = full["logits"].astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16)
  assert result.logits.dtype == expected.dtype and result.manifests["m"]["logits_dtype"] == dtype
  np.testing.assert_array_equal(result.logits[0].astype(np.float32), expected.astype(np.float32))
  np.testing.assert_array_equal(result.embeddings["m"], full["embeddings"])  # embeddings stay float32
  with pytest.raises(ValueError, match="describes a different evaluation"):  # the dtype is part of the manifest
    store.ChunkWriter(tmp_path, "d", "s", "m", {}, 10, 4)
  with pytest.raises(ValueError, match="logits_dtype must be one of"):
    store.ChunkWriter(tmp_path, "d", "s", "n", {}, 10, 4, logits_dtype="int8")


def test_stale_outputs_are_replaced_only_when_asked(tmp_path, rng):
  writer, _ = write_all(tmp_path, rng, "m", np.arange(10), metadata={"weights_sha256": "aaa"})
  assert writer.missing_chunks() == [] and writer.replaced is None
  same = store.ChunkWriter(tmp_path, "fashion_mnist", "test", "m", {"weights_sha256": "aaa"}, 10, 4,
                           replace_stale=True)
  assert same.replaced is None and same.missing_chunks() == []        # same weights: nothing to redo
  changed = store.ChunkWriter(tmp_path, "fashion_mnist", "test", "m", {"weights_sha256": "bbb"}, 10, 4,
                              replace_stale=True)
  assert changed.replaced["metadata"] == {"weights_sha256": "aaa"}
  assert changed.missing_chunks() == [0, 1, 2]                         # every chunk recomputed
  with pytest.raises(ValueError, match="incomplete or corrupted"):    # old chunks are gone, never served
    store.read(tmp_path, "fashion_mnist", "test", ["m"])
