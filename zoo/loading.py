"""Building zoo models and loading their weights (orbax checkpoints of nnx state)."""

from __future__ import annotations

import hashlib
import threading
from typing import NamedTuple

import jax
from etils import epath
from flax import nnx

from zoo.abstract import eval_shape, init, init_program
from zoo.registry import ModelEntry, weights_location, weights_path

# Orbax checkpoint saves and restores one at a time: two at once from two threads of one
# process (launch.study trains rows concurrently) collide in orbax's temporary-path
# bookkeeping (seen once: FileExistsError on "<name>.orbax-checkpoint-tmp" in a study saving two rows).
_ORBAX_LOCK = threading.Lock()


class WeightsUnavailable(FileNotFoundError):
  """A model's weights cannot be found or read."""


class WeightsDamaged(WeightsUnavailable):
  """A checkpoint that is there but damaged: its weights do not hash to the sha256 recorded
  when it was saved, its record is missing or unreadable, or orbax cannot read it. Callers
  that retrain or re-download catch this type (never a message's wording)."""


def recorded_sha256_path(path) -> epath.Path:
  """``<checkpoint>.sha256``: the :func:`weights_sha256` of the weights saved at ``path`` on
  its first line, then ``<sha256> <relative path>`` of every file of the checkpoint."""
  path = epath.Path(path)
  return path.parent / f"{path.name}.sha256"


def _file_sha256s(path) -> dict[str, str]:
  """sha256 of every file of a local checkpoint directory by relative path ({} for a remote
  one: listing a bucket recursively is many requests; its weights hash still checks it)."""
  import pathlib
  if "://" in str(path):
    return {}
  root = pathlib.Path(str(path))
  return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
          for f in sorted(root.rglob("*")) if f.is_file()}


def build(entry: ModelEntry, seed: int | None = None) -> nnx.Module:
  """A freshly initialised module for ``entry`` (its own seed unless given), its initialisers
  compiled as one program (zoo.abstract.init)."""
  return init(entry.builder, entry.seed if seed is None else seed)


def abstract_build(entry: ModelEntry, seed: int | None = None) -> nnx.Module:
  """``build(entry, seed)`` as an abstract module (shape/dtype structs, no FLOPs), traced at a
  cost linear in its number of RNG draws (zoo.abstract.eval_shape)."""
  return eval_shape(lambda: build(entry, seed))  # inside the trace, init runs the builder as is


def architecture_key(*parts) -> tuple | None:
  """``parts`` (a module's graphdef and what else fixes a computation on it) as a key for
  caches shared by identical architectures, or None when they do not hash: a user module
  whose static attributes hold a list (e.g. ``nnx.Conv(padding=[(1, 1), (1, 1)])``) then
  shares nothing, and is computed on its own rather than refused."""
  try:
    hash(parts)
  except TypeError:
    return None
  return parts


def _describe(node) -> str:
  """A node of a module graph as text that is the same in every process: a variable's type,
  shape and dtype; a module's class; a plain value's repr; a function's qualified name."""
  if isinstance(node, nnx.Variable):
    value = node.get_value()
    return f"{type(node).__name__} {tuple(getattr(value, 'shape', ()))} {getattr(value, 'dtype', type(value).__name__)}"
  if isinstance(node, (bool, int, float, str, type(None))) or (
      isinstance(node, tuple) and all(isinstance(item, (bool, int, float, str, type(None))) for item in node)):
    return repr(node)
  if isinstance(node, type) or callable(node) and hasattr(node, "__qualname__"):
    return f"{getattr(node, '__module__', '')}.{node.__qualname__}"
  kind = type(node)
  return f"{kind.__module__}.{kind.__qualname__}"


def architecture_digest(entry: ModelEntry) -> str:
  """sha256 of the structure ``entry``'s builder makes, short of the weights' values: every
  node of the module graph by path (each submodule's class, its plain attributes such as
  strides, kernel sizes and epsilons, the functions it holds, every variable's type, shape
  and dtype). Caches keyed by it (launch.study.zoo_stage.training_key) cannot serve a
  checkpoint trained for a row whose architecture has since changed. Code alone is not in
  it: an edit to a module's forward pass that keeps its structure needs a new
  ``zoo_stage.KEY_VERSION``."""
  model = abstract_build(entry)
  lines = [f"{'/'.join(map(str, path))}: {_describe(node)}" for path, node in nnx.iter_graph(model)
           if not any(str(part).startswith("_pytree__") for part in path)]
  return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()


def initialisation_digest(entry: ModelEntry) -> str:
  """sha256 of the program that draws ``entry``'s initial weights: the jaxpr of
  ``key ↦ nnx.state(build(entry))`` (every random draw, which key it folds from, in which
  order, its distribution and scale, every constant), traced without running it. The
  architecture digest cannot see the order of the draws: a builder that makes the same
  modules in another order gives every variable other initial values under the same seed
  (seen: the shared Mixer trunk built its blocks before its stem). The text is the same in
  every process for a given JAX version; a new JAX may print it differently, which only
  retrains."""
  return hashlib.sha256(str(init_program(entry.builder, entry.seed)).encode()).hexdigest()


def save_weights(entry: ModelEntry, model: nnx.Module, zoo_dir) -> epath.Path:
  """Writes ``model``'s state as the orbax checkpoint ``entry`` points to."""
  import orbax.checkpoint as ocp
  path = weights_path(entry, zoo_dir)
  recorded = recorded_sha256_path(path)
  recorded.unlink(missing_ok=True)  # a save killed midway leaves no hash: the checkpoint reads as unverified
  with _ORBAX_LOCK:
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path, nnx.to_pure_dict(nnx.state(model)), force=True)
    checkpointer.wait_until_finished()
  temporary = recorded.parent / f".{recorded.name}.tmp"
  files = "".join(f"{digest} {name}\n" for name, digest in _file_sha256s(path).items())
  temporary.write_text(weights_sha256(model) + "\n" + files)
  temporary.replace(recorded)
  return path


class Download(NamedTuple):
  """A downloaded row's weights: the ``commit`` its Hub revision resolved to (None for a local
  directory or a URL) and the weight ``files`` its converter reads, as local paths."""
  commit: str | None
  files: tuple[epath.Path, ...]


def download(entry: ModelEntry, zoo_dir, *, revision: str | None = None, hub_cache=None,
             download_cache=None) -> Download | None:
  """Fetches the files ``entry``'s converter reads (a Hub repo at ``revision`` or the row's own,
  only the row's ``files`` or the converter's default set, into ``hub_cache``; a gs:// .npz into
  ``download_cache``) and says what came: None for rows whose weights are not downloaded."""
  from zoo.converters import huggingface as hf
  weights, location = entry.weights, weights_location(entry, zoo_dir)
  revision = revision or weights.revision
  if weights.kind == "npz":
    from zoo.converters.big_vision import fetch_npz
    return Download(None, (fetch_npz(location, cache_dir=download_cache),))
  if weights.kind not in ("huggingface", "timm", "openai_clip") or not hf.is_hub_id(location):
    return None
  from zoo.converters.openai_clip import OPENAI_CLIP_FILES, WEIGHT_FILE
  from zoo.converters.timm import TIMM_FILES
  defaults = {"huggingface": hf.TRANSFORMERS_FILES, "timm": TIMM_FILES, "openai_clip": OPENAI_CLIP_FILES}
  directory, commit = hf.fetch(location, revision=revision, files=weights.files, hub_cache=hub_cache,
                               default_files=defaults[weights.kind])
  if weights.kind == "openai_clip":
    if not (directory / WEIGHT_FILE).exists():
      raise hf.missing_file_error(directory, WEIGHT_FILE, location, revision)
    return Download(commit, (directory / WEIGHT_FILE,))
  return Download(commit, tuple(hf._weight_files(directory, location, revision)))


def load(entry: ModelEntry, zoo_dir, *, revision: str | None = None, hub_cache=None, download_cache=None,
         convert_cache=None, require_recorded_sha256: bool = False) -> nnx.Module:
  """The model of ``entry`` with its weights; WeightsUnavailable names the file and the fix.

  Hub rows are fetched at ``revision`` (e.g. a lock file's commit) or the row's own, only the
  row's ``files``, into ``hub_cache``; gs:// files into ``download_cache``. Converted weights
  are cached under ``convert_cache`` (None: converted on every load, nothing written). A checkpoint saved
  by :func:`save_weights` is verified against the sha256 recorded beside it
  (:func:`recorded_sha256_path`): other weights raise :class:`WeightsDamaged`. One without a
  recorded hash loads unverified, unless ``require_recorded_sha256``.
  """
  hub = dict(revision=revision or entry.weights.revision, files=entry.weights.files, hub_cache=hub_cache,
             cache_dir=convert_cache)
  if entry.weights.kind == "huggingface":
    from zoo.converters.huggingface import load_pretrained
    return load_pretrained(entry.weights.location, **hub)
  if entry.weights.kind == "npz":
    from zoo.converters.big_vision import load_npz
    return load_npz(entry.weights.location, model_name=entry.name, cache_dir=download_cache)
  if entry.weights.kind == "openai_clip":
    from zoo.converters.openai_clip import load_openai_clip
    # The row's builder fixes the activation (quick_gelu for OpenAI's weights, gelu for most
    # open_clip retrainings); the loader refuses weights whose published config says otherwise.
    return load_openai_clip(entry.weights.location, act=abstract_build(entry).text.config.hidden_act, **hub)
  if entry.weights.kind == "timm":
    location = weights_location(entry, zoo_dir)
    if entry.weights.location.startswith("./") and not epath.Path(location).exists():
      raise WeightsUnavailable(f"model {entry.name!r}: no timm-format directory at {location} ({entry.note}).")
    from zoo.converters.timm import load_timm
    return load_timm(location, **hub)
  if entry.weights.kind != "checkpoint":
    raise WeightsUnavailable(f"model {entry.name!r}: unknown weight source kind {entry.weights.kind!r} "
                             "(checkpoint, huggingface, npz, openai_clip or timm).")
  path = weights_path(entry, zoo_dir)
  if not path.exists():
    raise WeightsUnavailable(
        f"model {entry.name!r}: no checkpoint at {path}. Point --zoo_dir at the directory holding the zoo's "
        "checkpoints, or write one with zoo.save_weights(zoo.get(name), model, zoo_dir).")
  import orbax.checkpoint as ocp
  record = _read_record(entry, path, require_recorded_sha256)  # files checked before orbax reads them
  abstract = abstract_build(entry)
  graphdef, state = nnx.split(abstract)
  try:
    # An explicit target on this process's first device: without one, orbax restores
    # with the saving topology and refuses when it differs (e.g. in a multi-process job).
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device),
                          nnx.to_pure_dict(state))
    with _ORBAX_LOCK:
      restored = ocp.StandardCheckpointer().restore(path, target)
    nnx.replace_by_pure_dict(state, restored)
  except Exception as error:  # orbax raises many types for damaged or mismatched checkpoints
    raise WeightsDamaged(f"model {entry.name!r}: cannot read the checkpoint at {path} "
                             f"({type(error).__name__}: {error}); delete it and retrain.") from None
  model = nnx.merge(graphdef, jax.tree.map(lambda x: x, state))
  if record is not None:
    _verify_weights(entry, path, model, record[0])
  return model


def _read_record(entry: ModelEntry, path, required: bool) -> tuple[str, dict[str, str]] | None:
  """(weights sha256, file sha256s) recorded at save, with every recorded file of the
  checkpoint checked against it (WeightsDamaged naming the file); None if there is no record
  and ``required`` is false."""
  recorded = recorded_sha256_path(path)
  try:
    lines = recorded.read_text().splitlines()
    weights = lines[0].strip()
    files = dict(reversed(line.split(" ", 1)) for line in lines[1:] if line.strip())
  except FileNotFoundError:
    if required:
      raise WeightsDamaged(f"model {entry.name!r}: the checkpoint at {path} has no recorded sha256 ({recorded}; "
                           "a save that did not finish); it must be retrained.") from None
    return None
  except (UnicodeDecodeError, OSError, IndexError, ValueError) as error:
    raise WeightsDamaged(f"model {entry.name!r}: the recorded sha256 of the checkpoint at {path} ({recorded}) is "
                         f"damaged ({type(error).__name__}); retrain it or restore the file.") from None
  if files:
    actual = _file_sha256s(path)
    wrong = sorted(name for name in files.keys() | actual.keys() if files.get(name) != actual.get(name))
    if wrong:
      raise WeightsDamaged(f"model {entry.name!r}: the checkpoint at {path} is damaged: {len(wrong)} file(s) differ "
                           f"from those saved ({', '.join(wrong[:3])}{'...' if len(wrong) > 3 else ''}; recorded in "
                           f"{recorded}); retrain it or restore the files.")
  return weights, files


def _verify_weights(entry: ModelEntry, path, model, expected: str) -> None:
  """WeightsDamaged if ``model`` (restored from ``path``) does not hash to the recorded sha256."""
  recorded = recorded_sha256_path(path)
  actual = weights_sha256(model)
  if actual != expected:
    raise WeightsDamaged(f"model {entry.name!r}: the checkpoint at {path} does not hold the weights saved there "
                         f"(sha256 {actual[:12]}, recorded {expected[:12]} in {recorded}): it is damaged; retrain it "
                         "or restore the file.")


def weights_sha256(model: nnx.Module) -> str:
  """sha256 of a model's weights (every nnx variable except RNG state): for every leaf in
  sorted path order, its path, dtype, shape and raw bytes, so equal weights hash equally
  however they were loaded, and a change of any value, shape or dtype changes the hash."""
  import numpy as np
  digest = hashlib.sha256()
  flat = nnx.to_flat_state(nnx.state(model, nnx.Not(nnx.RngState)))
  for path, leaf in sorted(((tuple(str(k) for k in p), v) for p, v in flat), key=lambda item: item[0]):
    value = leaf.get_value() if hasattr(leaf, "get_value") else getattr(leaf, "value", leaf)
    if not hasattr(value, "dtype"):  # RNG keys and other non-array state: hash their repr
      digest.update(f"{'/'.join(path)}={value!r};".encode())
      continue
    array = np.asarray(jax.random.key_data(value) if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key)
                       else value)
    digest.update(f"{'/'.join(path)}:{array.dtype.str}:{array.shape};".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
  return digest.hexdigest()
