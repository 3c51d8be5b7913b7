"""The result store: logits, embeddings, labels and example ids per (dataset, split, model).

Layout (a local directory or a ``gs://`` bucket, through ``etils.epath``)::

  <root>/<dataset>/<split>/<model>/
      manifest.json           what was evaluated: model, weights hash, preprocessing,
                              dataset, split, example count, chunk size, array specs
      chunk_00000.npz         rows [0, chunk_size): logits, embeddings, labels, ids
      chunk_00000.json        {"rows": [start, stop], "sha256": <of the .npz>}
      ...

Properties:

* **Atomic.** Every file is written under a temporary name and renamed into place; a
  chunk counts only once its ``.json`` sidecar (written after the ``.npz``) exists,
  so a run killed at any moment leaves nothing that reads as complete.
* **Resumable.** :meth:`ChunkWriter.missing_chunks` lists the chunks still to compute:
  absent, or present but failing their checksum (reported, then recomputed).
* **Multi-host.** Chunks are independent files, so every process writes its own.
* **No pickle.** Arrays are ``.npz`` read with ``allow_pickle=False``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import os
import struct
import threading
import uuid
import zipfile
from typing import Any, Iterable

import numpy as np
from absl import logging
from etils import epath

ARRAYS = ("logits", "embeddings", "labels", "ids")
MANIFEST_VERSION = 1
LOGITS_DTYPES = ("float32", "float16", "bfloat16")


def _safe(name: str) -> str:
  """A dataset, split or model name as one path component ('voc/2007' → 'voc__2007')."""
  return name.replace("/", "__")


def model_dir(root, dataset: str, split: str, model: str) -> epath.Path:
  """<root>/<dataset>/<split>/<model>, with '/' in names made path-safe."""
  return epath.Path(root) / _safe(dataset) / _safe(split) / _safe(model)


def _atomic_write(path: epath.Path, data: bytes) -> None:
  temporary = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
  temporary.write_bytes(data)
  temporary.replace(path)


class DamagedFile(ValueError):
  """A store file that cannot be parsed (truncated, edited): names the file and the fix."""


def read_json(path: epath.Path, fix: str = "delete it to have it recomputed") -> dict:
  """The JSON object in ``path``; :class:`DamagedFile` naming the file if it is not one
  (FileNotFoundError if it is absent)."""
  try:
    value = json.loads(path.read_text())
  except (ValueError, UnicodeDecodeError) as error:
    raise DamagedFile(f"{path} is damaged (not valid JSON: {error}); {fix}.") from None
  if not isinstance(value, dict):
    raise DamagedFile(f"{path} is damaged (not a JSON object); {fix}.")
  return value


def _chunk_name(index: int) -> str:
  return f"chunk_{index:05d}"


def chunk_is_valid(directory: epath.Path, index: int, rows: tuple[int, int] | None = None) -> bool:
  """True if chunk ``index`` is complete, its checksum matches and (if given) its sidecar
  holds ``rows``; logs damage (a sidecar that does not parse is damage too)."""
  sidecar = directory / f"{_chunk_name(index)}.json"
  data = directory / f"{_chunk_name(index)}.npz"
  if not sidecar.exists():
    return False
  if not data.exists():
    logging.warning("store: %s has a sidecar but no data; it will be recomputed.", data)
    return False
  try:
    expected = read_json(sidecar)
    checksum, stored_rows = expected["sha256"], expected.get("rows")
  except (DamagedFile, KeyError):
    logging.warning("store: %s is damaged (not a chunk sidecar); the chunk will be recomputed.", sidecar)
    return False
  if rows is not None and stored_rows != list(rows):
    logging.warning("store: %s holds rows %s, not %s (damaged); the chunk will be recomputed.", sidecar, stored_rows,
                    list(rows))
    return False
  if hashlib.sha256(data.read_bytes()).hexdigest() != checksum:
    logging.warning("store: checksum mismatch between %s and its sidecar %s (damaged); the chunk will be "
                    "recomputed.", data, sidecar)
    return False
  return True


class ChunkWriter:
  """Writes one model's outputs on one split, chunk by chunk, resumably.

  Args:
    root, dataset, split, model: where (see module docstring).
    metadata: JSON-serialisable description of what is evaluated (weights hash,
      preprocessing, ...). A store written with different metadata is refused, so a
      rerun never mixes outputs of two different models under one name.
    num_examples: examples in the split; chunk_size: rows per chunk file.
    logits_dtype: storage dtype of the logits (float32, float16 or bfloat16; computed in
      float32 and rounded to nearest on write). Part of the manifest.
    replace_stale: if the stored manifest differs (other weights, preprocessing, ...),
      delete the stored chunks and start over instead of refusing; ``replaced`` then
      holds the old manifest so the caller can say so. Only the writing process
      (process 0) may pass True.
  """

  def __init__(self, root, dataset: str, split: str, model: str, metadata: dict[str, Any], num_examples: int,
               chunk_size: int, *, logits_dtype: str = "float32", replace_stale: bool = False):
    if num_examples < 1 or chunk_size < 1:
      raise ValueError(f"num_examples and chunk_size must be >= 1; got {num_examples}, {chunk_size}.")
    if logits_dtype not in LOGITS_DTYPES:
      raise ValueError(f"logits_dtype must be one of {LOGITS_DTYPES}; got {logits_dtype!r}.")
    self.directory = model_dir(root, dataset, split, model)
    self.num_examples, self.chunk_size = num_examples, chunk_size
    self.num_chunks = -(-num_examples // chunk_size)
    self.logits_dtype = logits_dtype
    self.manifest = {"version": MANIFEST_VERSION, "model": model, "dataset": dataset, "split": split,
                     "num_examples": num_examples, "chunk_size": chunk_size, "logits_dtype": logits_dtype,
                     "metadata": metadata}
    self.replaced: dict | None = None
    self._check_or_write_manifest(replace_stale)

  def _check_or_write_manifest(self, replace_stale: bool) -> None:
    path = self.directory / "manifest.json"
    if path.exists():
      try:
        existing = read_json(path)
      except DamagedFile as error:
        if not replace_stale:
          raise DamagedFile(f"{error} Delete {self.directory} to recompute these outputs.") from None
        logging.warning("store: %s; its outputs will be recomputed.", error)
        existing = {"damaged": str(path)}
      existing.setdefault("logits_dtype", "float32")  # stores written before the option held float32
      if {k: existing.get(k) for k in self.manifest} != self.manifest and replace_stale:
        # Stale outputs under a known name: remove them (sidecars first, so nothing reads
        # as complete meanwhile), then write the new manifest.
        # (iterdir, not glob: split names such as "test[:64]" would be read as glob patterns)
        files = sorted(self.directory.iterdir(), key=lambda f: (not f.name.endswith(".json"), f.name))
        for file in files:
          if file.name.startswith("chunk_") or file.name == "manifest.json":
            file.unlink()
        self.replaced = existing
      elif {k: existing.get(k) for k in self.manifest} != self.manifest:
        raise ValueError(
            f"{path} describes a different evaluation than this run (e.g. other weights, preprocessing or "
            f"chunking): stored {existing}, now {self.manifest}. Use another --out, or delete {self.directory} "
            "to recompute.")
      else:
        return
    self.directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, json.dumps(self.manifest, indent=1, sort_keys=True).encode())

  def rows(self, index: int) -> tuple[int, int]:
    """[start, stop) example rows of chunk ``index``."""
    return index * self.chunk_size, min((index + 1) * self.chunk_size, self.num_examples)

  def missing_chunks(self, indices: Iterable[int] | None = None) -> list[int]:
    """Chunks (of ``indices``, default all) that are absent or corrupted (corruption is logged)."""
    indices = range(self.num_chunks) if indices is None else indices
    return [i for i in indices if not chunk_is_valid(self.directory, i, self.rows(i))]

  def write_chunk(self, index: int, arrays: dict[str, np.ndarray]) -> None:
    """Writes chunk ``index`` atomically: the .npz, then its checksum sidecar."""
    start, stop = self.rows(index)
    missing = [name for name in ARRAYS if name not in arrays]
    if missing:
      raise ValueError(f"chunk {index} of {self.directory} lacks arrays {missing}.")
    for name in ARRAYS:
      if arrays[name].shape[0] != stop - start:
        raise ValueError(f"chunk {index} of {self.directory}: {name} has {arrays[name].shape[0]} rows, "
                         f"expected {stop - start} (rows [{start}, {stop})).")
    buffer = io.BytesIO()
    stored = {name: np.asarray(arrays[name]) for name in ARRAYS}
    stored["logits"] = _encode_logits(stored["logits"], self.logits_dtype)
    np.savez(buffer, **stored)
    data = buffer.getvalue()
    _atomic_write(self.directory / f"{_chunk_name(index)}.npz", data)
    sidecar = {"rows": [start, stop], "sha256": hashlib.sha256(data).hexdigest()}
    _atomic_write(self.directory / f"{_chunk_name(index)}.json", json.dumps(sidecar).encode())


def _encode_logits(logits: np.ndarray, dtype: str) -> np.ndarray:
  """Logits in the storage dtype; bfloat16 as its uint16 bit pattern (.npz has no bfloat16)."""
  if dtype == "bfloat16":
    import ml_dtypes
    return np.asarray(logits, np.float32).astype(ml_dtypes.bfloat16).view(np.uint16)
  return np.asarray(logits, np.float32).astype(dtype)


def _decode_logits(stored: np.ndarray, dtype: str) -> np.ndarray:
  if dtype == "bfloat16":
    import ml_dtypes
    return stored.view(ml_dtypes.bfloat16)
  return stored


@dataclasses.dataclass(frozen=True)
class Results:
  """Aligned outputs of several models on one split.

  Attributes:
    models: model names, in order.
    logits: [N, E, K] in the stored dtype (float32 unless written with another
      ``logits_dtype``; models stored in different dtypes are widened to float32).
    embeddings: model name → float[E, D_model].
    labels: int[E]; ids: [E] example ids (the same order for every model).
    manifests: model name → its manifest.
  """
  models: list[str]
  logits: np.ndarray
  embeddings: dict[str, np.ndarray]
  labels: np.ndarray
  ids: np.ndarray
  manifests: dict[str, dict]


def list_models(root, dataset: str, split: str) -> list[str]:
  """Models with a manifest under <root>/<dataset>/<split>, sorted."""
  directory = epath.Path(root) / _safe(dataset) / _safe(split)
  if not directory.exists():
    return []
  return sorted(read_json(d / "manifest.json").get("model", d.name)
                for d in directory.iterdir() if (d / "manifest.json").exists())


def read_model(root, dataset: str, split: str, model: str) -> tuple[dict, dict[str, np.ndarray]]:
  """One model's manifest and full arrays; refuses incomplete or corrupted stores."""
  directory = model_dir(root, dataset, split, model)
  manifest_path = directory / "manifest.json"
  if not manifest_path.exists():
    available = list_models(root, dataset, split)
    raise FileNotFoundError(f"no results for model {model!r} on {dataset}/{split} under {root} "
                            f"(have: {available}); run launch.evaluate for it first.")
  manifest = read_json(manifest_path, "rerun the same launch.evaluate command to recompute these outputs")
  num_chunks = -(-manifest["num_examples"] // manifest["chunk_size"])
  missing = [i for i in range(num_chunks) if not chunk_is_valid(directory, i)]
  if missing:
    raise ValueError(f"results of model {model!r} on {dataset}/{split} are incomplete or corrupted: chunks "
                     f"{missing[:10]}{'...' if len(missing) > 10 else ''} of {num_chunks} are missing "
                     "or fail their checksum; rerun the same launch.evaluate command to complete them.")
  parts = {name: [] for name in ARRAYS}
  for index in range(num_chunks):
    with np.load(io.BytesIO((directory / f"{_chunk_name(index)}.npz").read_bytes()), allow_pickle=False) as chunk:
      for name in ARRAYS:
        parts[name].append(chunk[name])
  arrays = {name: np.concatenate(values) for name, values in parts.items()}
  arrays["logits"] = _decode_logits(arrays["logits"], manifest.get("logits_dtype", "float32"))
  return manifest, arrays


def read(root, dataset: str, split: str, models: list[str] | None = None) -> Results:
  """Reads several models' outputs aligned by example id.

  Every model must hold the same set of example ids with the same labels; rows are
  put in the first model's id order. Raises ValueError naming the models otherwise.
  """
  models = list_models(root, dataset, split) if models is None else list(models)
  if not models:
    raise FileNotFoundError(f"no results for {dataset}/{split} under {root}.")
  manifests, arrays = {}, {}
  for model in models:
    manifests[model], arrays[model] = read_model(root, dataset, split, model)
  reference = models[0]
  ids, labels = arrays[reference]["ids"], arrays[reference]["labels"]
  if len(np.unique(ids)) != len(ids):
    raise ValueError(f"model {reference!r} has duplicate example ids on {dataset}/{split}.")
  position = {key: row for row, key in enumerate(ids.tolist())}
  logits, embeddings = [], {}
  for model in models:
    model_ids = arrays[model]["ids"]
    if len(model_ids) != len(ids) or set(model_ids.tolist()) != set(position):
      raise ValueError(f"models {reference!r} and {model!r} were evaluated on different examples of "
                       f"{dataset}/{split} ({len(ids)} vs {len(model_ids)} ids); evaluate both on the same split.")
    order = np.empty(len(ids), np.int64)
    order[[position[key] for key in model_ids.tolist()]] = np.arange(len(ids))
    if not np.array_equal(arrays[model]["labels"][order], labels):
      raise ValueError(f"models {reference!r} and {model!r} disagree on the labels of some examples of "
                       f"{dataset}/{split}; their stores come from different data.")
    logits.append(arrays[model]["logits"][order])
    embeddings[model] = arrays[model]["embeddings"][order]
  shapes = {m: l.shape[1:] for m, l in zip(models, logits)}
  if len(set(shapes.values())) != 1:
    raise ValueError(f"models have different logit shapes {shapes}; they cannot be stacked.")
  if len({l.dtype for l in logits}) > 1:
    logits = [l.astype(np.float32) for l in logits]
  return Results(models=models, logits=np.stack(logits), embeddings=embeddings, labels=labels, ids=ids,
                 manifests=manifests)


class LazyLogits:
  """One model's logits on one split as a lazy [E, K] array, read chunk by chunk.

  An array-like (``shape``, ``dtype``, ``ndim``, ``__getitem__`` over rows,
  ``__array__``) that the metrics read model by model, so a thousand models'
  outputs never need to fit in memory together. Rows follow ``row_order`` (stored
  row of each output row; :func:`lazy_read` aligns every model to one id order).
  With ``temperature`` it holds the calibrated probabilities
  ``metrics.apply_temperature`` gives (float32 softmax(z / T)), the metrics' input.

  Each chunk's checksum is verified (the whole file read once) the first time the
  chunk is read; afterwards only the array itself is read, and a few rows are read
  through a memory map of the uncompressed .npz member, so the exact fallbacks of the
  metrics cost the rows they need, not whole chunks. Whole chunks are calibrated
  padded to the chunk size, row subsets padded to a power of two of at least 8 rows
  (XLA:CPU computes a row's softmax alike at every such shape; the store's tests check
  that rows and whole reads agree bit for bit).
  """

  member = "logits"

  def __init__(self, root, dataset: str, split: str, model: str, *, temperature: float | None = None,
               row_order: np.ndarray | None = None):
    self.name, self.directory = model, model_dir(root, dataset, split, model)
    self.manifest = _complete_manifest(root, dataset, split, model)
    self.num_examples, self.chunk_size = self.manifest["num_examples"], self.manifest["chunk_size"]
    self.row_order = np.arange(self.num_examples) if row_order is None else np.asarray(row_order, np.int64)
    if temperature is not None and not temperature > 0:
      raise ValueError(f"temperature of model {model!r} must be positive; got {temperature}.")
    self.temperature = temperature
    self._verified, self._lock = set(), threading.Lock()
    self._locations = {}     # chunk index → its member's (offset, shape, dtype) in the file, or None
    shape, stored_dtype = _member_spec(self._path(0), self.member)   # the header only: no data read yet
    self.shape = (len(self.row_order),) + tuple(shape[1:])
    self._raw_dtype = self._decoded(np.zeros(0, stored_dtype)).dtype
    self.dtype = np.dtype(np.float32) if temperature is not None else self._raw_dtype

  @property
  def ndim(self) -> int:
    return len(self.shape)

  def __len__(self) -> int:
    return self.shape[0]

  def calibrated(self, temperature: float) -> "LazyLogits":
    """The same reader giving calibrated probabilities softmax(z / ``temperature``), float32
    (chunks this reader has verified count as verified for both)."""
    if self.member != "logits" or self.temperature is not None:
      raise ValueError(f"only raw logits can be calibrated; {self.name!r} holds {self.member}"
                       f"{' already calibrated' if self.temperature is not None else ''}.")
    if not temperature > 0:
      raise ValueError(f"temperature of model {self.name!r} must be positive; got {temperature}.")
    out = copy.copy(self)
    out.temperature, out.dtype = float(temperature), np.dtype(np.float32)
    return out

  def _path(self, index: int) -> epath.Path:
    return self.directory / f"{_chunk_name(index)}.npz"

  def _verify(self, index: int) -> bytes | None:
    """The chunk's bytes if this is its first read (checksum verified), else None."""
    with self._lock:
      if index in self._verified:
        return None
    name = _chunk_name(index)
    data = self._path(index).read_bytes()
    expected = read_json(self.directory / f"{name}.json",
                         "rerun the same launch.evaluate command to recompute it").get("sha256")
    if hashlib.sha256(data).hexdigest() != expected:
      raise ValueError(f"chunk {index} of model {self.name!r} ({self.directory}) fails its checksum (corrupted); "
                       "rerun the same launch.evaluate command to recompute it.")
    with self._lock:
      self._verified.add(index)
    return data

  def _mapped(self, index: int) -> np.ndarray | None:
    """A read-only memory map of chunk ``index``'s member (None if the file is not local or
    the member is not stored plainly). Its place in the file is parsed once per reader: the
    exact fallbacks read a few rows of every chunk many times."""
    if index not in self._locations:
      self._locations[index] = _npz_member_location(self._path(index), self.member)
    location = self._locations[index]
    if location is None:
      return None
    offset, shape, dtype = location
    try:
      return np.memmap(os.fspath(self._path(index)), dtype, "r", offset, shape)
    except (OSError, ValueError, TypeError):
      return None

  def _decoded(self, values: np.ndarray) -> np.ndarray:
    if self.member == "logits":
      return _decode_logits(values, self.manifest.get("logits_dtype", "float32"))
    return values

  def _chunk(self, index: int) -> np.ndarray:
    """Chunk ``index``'s array (decoded; probabilities if a temperature is set), checksum verified."""
    data = self._verify(index)
    values = _npz_member(data, self.member) if data is not None else None
    if values is None and data is None:
      mapped = self._mapped(index)
      if mapped is not None:
        values = np.array(mapped)
        del mapped
    if values is None:                         # not a plain stored member: numpy's own reader
      source = io.BytesIO(data) if data is not None else self._path(index).open("rb")
      with source as file, np.load(file, allow_pickle=False) as chunk, _HEADER_LOCK:
        values = chunk[self.member]
    values = self._decoded(values)
    return self._calibrated(values, self.chunk_size) if self.temperature is not None else values

  def _calibrated(self, logits: np.ndarray, padded_rows: int) -> np.ndarray:
    import metrics
    rows = logits.shape[0]
    padded = np.zeros((1, padded_rows) + logits.shape[1:], logits.dtype)
    padded[0, :rows] = logits
    return np.asarray(metrics.apply_temperature(padded, [self.temperature]))[0, :rows]

  def _raw_rows(self, index: int, rows: np.ndarray) -> np.ndarray:
    """Decoded stored rows (chunk-relative) of chunk ``index``, not calibrated; a memory-mapped
    read of just those rows once the chunk is verified."""
    if self._verify(index) is None:
      mapped = self._mapped(index)
      if mapped is not None:
        values = np.array(mapped[rows])
        del mapped
        return self._decoded(values)
    raw = copy.copy(self)
    raw.temperature = None
    return raw._chunk(index)[rows]

  def _rows(self, rows: np.ndarray) -> np.ndarray:
    stored = self.row_order[rows]
    if self.temperature is not None and len(stored) * 4 > self.num_examples:
      return np.asarray(self)[rows]                   # most of the model: whole chunks
    out = np.empty((len(stored),) + self.shape[1:], self._raw_dtype)
    chunks = stored // self.chunk_size
    for index in np.unique(chunks):                   # each needed chunk read once
      hit = np.flatnonzero(chunks == index)
      out[hit] = self._raw_rows(int(index), stored[hit] - index * self.chunk_size)
    if self.temperature is None:
      return out
    # One calibration for all the rows (padded to a power of two of at least 8 rows): a
    # row's softmax does not depend on the other rows of such a block (the tests check it).
    bucket = max(8, 1 << int(len(out) - 1).bit_length())
    return self._calibrated(out, bucket)

  def __getitem__(self, key):
    rows, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
    if isinstance(rows, (int, np.integer)):
      return self._rows(np.arange(self.shape[0])[[rows]])[(0,) + rest]
    return self._rows(np.arange(self.shape[0])[rows])[(slice(None),) + rest]

  def __array__(self, dtype=None, copy=None):
    out = np.empty(self.shape, self.dtype)
    position = np.empty(self.num_examples, np.int64)
    position[self.row_order] = np.arange(len(self.row_order))
    for index in range(-(-self.num_examples // self.chunk_size)):
      start = index * self.chunk_size
      values = self._chunk(index)
      out[position[start:start + len(values)]] = values
    return out if dtype is None else out.astype(dtype)


class LazyEmbeddings(LazyLogits):
  """One model's embeddings on one split as a lazy [E, D] array (see :class:`LazyLogits`)."""

  member = "embeddings"

  def __init__(self, root, dataset: str, split: str, model: str, *, row_order: np.ndarray | None = None):
    super().__init__(root, dataset, split, model, row_order=row_order)


# numpy parses a .npy header with ast.literal_eval, which CPython 3.11 does not make safe
# across threads ("SystemError: AST constructor recursion depth mismatch", python/cpython
# gh-106905): the study reads chunks from a few threads at once.
_HEADER_LOCK = threading.Lock()


def _npy_header(file) -> tuple[tuple[int, ...], bool, np.dtype]:
  """(shape, fortran_order, dtype) of the .npy array starting at ``file``'s position."""
  version = np.lib.format.read_magic(file)
  read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
  with _HEADER_LOCK:
    return read_header(file)


def _member_spec(path, member: str) -> tuple[tuple[int, ...], np.dtype]:
  """(shape, dtype) of an .npz member, from its .npy header alone."""
  with epath.Path(path).open("rb") as file, zipfile.ZipFile(file) as archive, archive.open(f"{member}.npy") as npy:
    shape, _, dtype = _npy_header(npy)
  return shape, dtype


def _member_location(file, member: str):
  """(offset, shape, dtype) of an uncompressed .npz member's raw array in ``file`` (a binary
  file object), or None: np.savez stores members uncompressed, each a .npy file (header,
  then the raw C-order array) after its zip local header."""
  try:
    with zipfile.ZipFile(file) as archive:
      info = archive.getinfo(f"{member}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
      return None
    file.seek(info.header_offset)
    header = file.read(30)
    if header[:4] != b"PK\x03\x04":
      return None
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    file.seek(info.header_offset + 30 + name_length + extra_length)
    shape, fortran, dtype = _npy_header(file)
    if fortran or dtype.hasobject:
      return None
    return file.tell(), shape, dtype
  except (OSError, ValueError, KeyError, TypeError, struct.error, zipfile.BadZipFile):
    return None


def _npz_member(data: bytes, member: str) -> np.ndarray | None:
  """An .npz member's array read straight from the file's bytes (a copy), or None."""
  location = _member_location(io.BytesIO(data), member)
  if location is None:
    return None
  offset, shape, dtype = location
  count = int(np.prod(shape))
  if offset + count * dtype.itemsize > len(data):
    return None
  return np.frombuffer(data, dtype, count, offset).reshape(shape).copy()


def _npz_member_location(path, member: str):
  """(offset, shape, dtype) of an uncompressed .npz member's array in the local file ``path``,
  or None (not a local file, or the member is not stored plainly)."""
  try:
    with open(os.fspath(path), "rb") as file:
      return _member_location(file, member)
  except (OSError, ValueError, TypeError):
    return None


def _complete_manifest(root, dataset: str, split: str, model: str) -> dict:
  """A model's manifest, after checking that every chunk is present (checksums are verified on read)."""
  directory = model_dir(root, dataset, split, model)
  if not (directory / "manifest.json").exists():
    raise FileNotFoundError(f"no results for model {model!r} on {dataset}/{split} under {root} "
                            f"(have: {list_models(root, dataset, split)}); run launch.evaluate for it first.")
  manifest = read_json(directory / "manifest.json", "rerun the same launch.evaluate command to recompute these outputs")
  num_chunks = -(-manifest["num_examples"] // manifest["chunk_size"])
  missing = [i for i in range(num_chunks) if not (directory / f"{_chunk_name(i)}.json").exists()
             or not (directory / f"{_chunk_name(i)}.npz").exists()]
  if missing:
    raise ValueError(f"results of model {model!r} on {dataset}/{split} are incomplete: chunks "
                     f"{missing[:10]}{'...' if len(missing) > 10 else ''} of {num_chunks} are missing; "
                     "rerun the same launch.evaluate command to complete them.")
  return manifest


def _ids_and_labels(directory: epath.Path, num_chunks: int) -> tuple[np.ndarray, np.ndarray]:
  """A model's example ids and labels, reading only those members of each chunk."""
  ids, labels = [], []
  for index in range(num_chunks):
    with (directory / f"{_chunk_name(index)}.npz").open("rb") as file, np.load(file, allow_pickle=False) as chunk:
      ids.append(chunk["ids"])
      labels.append(chunk["labels"])
  return np.concatenate(ids), np.concatenate(labels)


@dataclasses.dataclass(frozen=True)
class LazyResults:
  """Several models' outputs on one split, aligned by example id, read lazily.

  Attributes:
    models: model names, in order.
    logits: one :class:`LazyLogits` [E, K] per model (a sequence the metrics take as is).
    labels: int[E]; ids: [E] example ids (the first model's order).
    manifests: model name → its manifest.
    embeddings: model name → its :class:`LazyEmbeddings` [E, D] (same row order).
  """
  models: list[str]
  logits: list[LazyLogits]
  labels: np.ndarray
  ids: np.ndarray
  manifests: dict[str, dict]
  embeddings: dict[str, LazyEmbeddings] = dataclasses.field(default_factory=dict)


def lazy_read(root, dataset: str, split: str, models: list[str] | None = None, *,
              temperatures=None) -> LazyResults:
  """:func:`read` without loading any logits: ids and labels are read and checked as
  :func:`read` checks them (same ids, same labels, rows in the first model's id order),
  logits come as per-model :class:`LazyLogits`, embeddings as :class:`LazyEmbeddings`. ``temperatures`` (one per model) turns
  them into calibrated probabilities, ready for ``metrics.pairwise_ensemble`` and
  ``metrics.greedy_selection``."""
  models = list_models(root, dataset, split) if models is None else list(models)
  if not models:
    raise FileNotFoundError(f"no results for {dataset}/{split} under {root}.")
  temperatures = [None] * len(models) if temperatures is None else list(temperatures)
  if len(temperatures) != len(models):
    raise ValueError(f"temperatures has {len(temperatures)} entries for {len(models)} models; give one per model.")
  manifests = {model: _complete_manifest(root, dataset, split, model) for model in models}
  ids = labels = position = None
  logits, embeddings = [], {}
  for model, temperature in zip(models, temperatures):
    manifest = manifests[model]
    num_chunks = -(-manifest["num_examples"] // manifest["chunk_size"])
    model_ids, model_labels = _ids_and_labels(model_dir(root, dataset, split, model), num_chunks)
    if ids is None:
      ids, labels = model_ids, model_labels
      if len(np.unique(ids)) != len(ids):
        raise ValueError(f"model {model!r} has duplicate example ids on {dataset}/{split}.")
      position = {key: row for row, key in enumerate(ids.tolist())}
    if len(model_ids) != len(ids) or set(model_ids.tolist()) != set(position):
      raise ValueError(f"models {models[0]!r} and {model!r} were evaluated on different examples of "
                       f"{dataset}/{split} ({len(ids)} vs {len(model_ids)} ids); evaluate both on the same split.")
    order = np.empty(len(ids), np.int64)
    order[[position[key] for key in model_ids.tolist()]] = np.arange(len(ids))
    if not np.array_equal(model_labels[order], labels):
      raise ValueError(f"models {models[0]!r} and {model!r} disagree on the labels of some examples of "
                       f"{dataset}/{split}; their stores come from different data.")
    logits.append(LazyLogits(root, dataset, split, model, temperature=temperature, row_order=order))
    embeddings[model] = LazyEmbeddings(root, dataset, split, model, row_order=order)
  shapes = {lazy.name: lazy.shape[1:] for lazy in logits}
  if len(set(shapes.values())) != 1:
    raise ValueError(f"models have different logit shapes {shapes}; they cannot be used together.")
  return LazyResults(models=models, logits=logits, labels=labels, ids=ids, manifests=manifests,
                     embeddings=embeddings)
