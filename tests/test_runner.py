"""The sharded evaluation runner: exact on 1 and 8 devices and 2 processes, resumable, refuses NaN.

The multi-device and multi-process cases run tests/jobs/evaluate_job.py in subprocesses
(XLA_FLAGS fake CPU devices; jax.distributed on 127.0.0.1 with gloo collectives).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import portpicker
import pytest

from launch import data, runner, store

JOB = str(Path(__file__).parent / "jobs" / "evaluate_job.py")
SPLIT = "test[:203]"  # not a multiple of the batch, the chunk or the device count

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist (scripts/setup.sh installs it)")


def run_job(out, *extra, devices=1, split=SPLIT, batch=12, chunk=48, wait=True):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
  command = [sys.executable, JOB, str(out), split, str(batch), str(chunk), *extra]
  if not wait:
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout


def read(out, split=SPLIT):
  return store.read(out, "fashion_mnist", split, ["tiny_cnn"])


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
  out = tmp_path_factory.mktemp("one_device")
  run_job(out)
  return read(out)


def test_every_example_exactly_once(one_device):
  source = data.load_source("fashion_mnist", SPLIT)
  np.testing.assert_array_equal(one_device.ids, [source[i]["id"] for i in range(len(source))])
  np.testing.assert_array_equal(one_device.labels, source.labels)
  assert one_device.logits.shape == (1, 203, 10) and one_device.embeddings["tiny_cnn"].shape == (203, 8)


def test_eight_devices_match_one(tmp_path, one_device):
  output = run_job(tmp_path, devices=8)
  assert "devices=8" in output
  eight = read(tmp_path)
  np.testing.assert_array_equal(eight.ids, one_device.ids)
  np.testing.assert_allclose(eight.logits, one_device.logits, atol=1e-5)
  np.testing.assert_allclose(eight.embeddings["tiny_cnn"], one_device.embeddings["tiny_cnn"], atol=1e-5)


def test_two_processes_match_one(tmp_path, one_device):
  port = portpicker.pick_unused_port()
  jobs = [run_job(tmp_path, str(i), "2", str(port), wait=False) for i in range(2)]
  outputs = [job.communicate(timeout=900)[0] for job in jobs]
  assert all(job.returncode == 0 for job in jobs), outputs
  two = read(tmp_path)
  np.testing.assert_array_equal(two.ids, one_device.ids)
  np.testing.assert_allclose(two.logits, one_device.logits, atol=1e-5)


def test_sigkill_then_rerun_is_identical_and_skips_done_chunks(tmp_path, one_device):
  job = run_job(tmp_path, "--slow", wait=False)
  directory = store.model_dir(tmp_path, "fashion_mnist", SPLIT, "tiny_cnn")
  deadline = time.time() + 120
  while time.time() < deadline and len(list(Path(directory).glob("chunk_*.json"))) < 2:
    time.sleep(0.05)
  job.send_signal(signal.SIGKILL)
  job.wait()
  done = sorted(Path(directory).glob("chunk_*.json"))
  assert 2 <= len(done) < 5, "the run must be killed part-way"
  stamps = {p.name: p.stat().st_mtime_ns for p in Path(directory).glob("chunk_*.npz") if p.with_suffix(".json").exists()}
  output = run_job(tmp_path)
  assert f"skipped={len(done)}" in output and f"computed={5 - len(done)}" in output
  resumed = read(tmp_path)
  np.testing.assert_array_equal(resumed.logits, one_device.logits)
  np.testing.assert_array_equal(resumed.embeddings["tiny_cnn"], one_device.embeddings["tiny_cnn"])
  for name, stamp in stamps.items():
    assert (Path(directory) / name).stat().st_mtime_ns == stamp, f"{name} was recomputed"


def test_corrupted_chunk_is_recomputed(tmp_path, one_device):
  run_job(tmp_path)
  chunk = Path(store.model_dir(tmp_path, "fashion_mnist", SPLIT, "tiny_cnn")) / "chunk_00003.npz"
  content = bytearray(chunk.read_bytes())
  content[-100] ^= 0xFF
  chunk.write_bytes(bytes(content))
  with pytest.raises(ValueError, match=r"chunks \[3\]"):
    read(tmp_path)
  assert "computed=1 skipped=4" in run_job(tmp_path)
  np.testing.assert_array_equal(read(tmp_path).logits, one_device.logits)


def test_nan_outputs_are_refused_and_not_written(tmp_path):
  source = data.load_source("fashion_mnist", "test[:40]")
  writer = store.ChunkWriter(tmp_path, "fashion_mnist", "test[:40]", "broken", {}, len(source), 16)
  apply = lambda params, images: (jnp.full((images.shape[0], 10), jnp.nan), jnp.zeros((images.shape[0], 2)))
  with pytest.raises(runner.NonFiniteOutputs, match="NaN or infinite logits"):
    runner.evaluate(apply, {}, source, writer, batch_size=8)
  assert writer.missing_chunks() == [0, 1, 2]


def test_chunk_must_hold_whole_batches(tmp_path):
  source = data.load_source("fashion_mnist", "test[:40]")
  writer = store.ChunkWriter(tmp_path, "fashion_mnist", "test[:40]", "m", {}, len(source), 10)
  with pytest.raises(ValueError, match="multiple of the global batch"):
    runner.evaluate(lambda p, x: (x, x), {}, source, writer, batch_size=8, mesh=runner.data_mesh(jax.devices()[:1]))


def test_bfloat16_forward_stays_close_and_stores_float32(tmp_path):
  source = data.load_source("fashion_mnist", "test[:64]")
  kernel = np.random.default_rng(0).normal(size=(28 * 28, 10)).astype(np.float32) / 28.0
  apply = lambda params, images: (images.reshape(images.shape[0], -1).astype(params.dtype) / 255.0 @ params,
                                  images.reshape(images.shape[0], -1)[:, :4].astype(params.dtype))
  results = {}
  for dtype in (jnp.float32, jnp.bfloat16):
    writer = store.ChunkWriter(tmp_path / str(dtype.dtype), "fashion_mnist", "test[:64]", "linear", {}, 64, 32)
    runner.evaluate(apply, kernel, source, writer, batch_size=16, compute_dtype=dtype)
    results[dtype] = store.read(tmp_path / str(dtype.dtype), "fashion_mnist", "test[:64]")
  assert results[jnp.bfloat16].logits.dtype == np.float32
  np.testing.assert_allclose(results[jnp.bfloat16].logits, results[jnp.float32].logits, atol=0.1)
  assert not np.array_equal(results[jnp.bfloat16].logits, results[jnp.float32].logits)


def test_variable_size_images_are_resized_on_the_host(tmp_path):
  from zoo.preprocessing import Preprocessing
  rng = np.random.default_rng(1)
  images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in [(40, 60), (50, 32), (33, 33)] * 7]

  class VariableSource:
    fixed_image_shape = False

    def __len__(self):
      return len(images)

    def __getitem__(self, index):
      return {"image": images[index], "label": index % 3, "id": 100 + index}

  preprocess = Preprocessing(24, 0.875, "bicubic", (0.5,) * 3, (0.25,) * 3, channels=3)
  apply = lambda params, x: (preprocess(x).mean(axis=(1, 2)) @ params, preprocess(x).mean(axis=(1, 2)))
  weights = rng.normal(size=(3, 3)).astype(np.float32)
  writer = store.ChunkWriter(tmp_path, "toy", "all", "m", {}, len(images), 8)
  runner.evaluate(apply, weights, VariableSource(), writer, batch_size=4, host_transform=preprocess.host_resize)
  result = store.read(tmp_path, "toy", "all")
  expected = np.stack([np.asarray(apply(weights, jnp.asarray(preprocess.host_resize(im))[None])[0][0])
                       for im in images])
  np.testing.assert_allclose(result.logits[0], expected, atol=1e-5)
  assert preprocess.host_resize(images[0]).shape == (24, 24, 3)


def test_forward_is_shared_per_architecture_and_built_alone_for_unhashable_graphdefs():
  """Identical architectures share one apply function (so one compiled forward); a module
  whose static attributes hold a list gets its own, with the same outputs."""
  import jax.numpy as jnp
  from flax import nnx
  from launch import runner
  preprocess = lambda images: images
  tupled = nnx.Conv(1, 2, (3, 3), padding=((1, 1), (1, 1)), rngs=nnx.Rngs(0))
  listed = nnx.Conv(1, 2, (3, 3), padding=[(1, 1), (1, 1)], rngs=nnx.Rngs(0))
  shared = runner._zoo_apply(nnx.graphdef(tupled), preprocess, jnp.dtype(jnp.float32))
  assert shared is runner._zoo_apply(nnx.graphdef(tupled), preprocess, jnp.dtype(jnp.float32))
  alone = runner._zoo_apply(nnx.graphdef(listed), preprocess, jnp.dtype(jnp.float32))
  images = jnp.ones((1, 5, 5, 1))
  assert jnp.array_equal(shared(nnx.state(tupled), images), alone(nnx.state(listed), images))
