"""Training recipes: supervised (alone and vmapped), distillation, SimCLR, autoencoding, other-data
rows with linear probes; deterministic, refusing bad input."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import zoo
from launch import data, procedural
from zoo import fitting, training
from zoo.training import EpochDone, SupervisedRecipe, train_supervised

pytestmark = pytest.mark.skipif(not (data.DEBIAN_FASHION_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                reason="needs Debian's dataset-fashion-mnist")


def accuracy(model, entry, images, labels):
  logits, _ = model(entry.preprocessing(jnp.asarray(images)))
  return float(np.mean(np.argmax(np.asarray(logits), 1) == labels))


def test_training_learns_fashion_mnist_and_is_deterministic():
  source = data.load_source("fashion_mnist", "test[:3000]")
  train_x, train_y = source.images[:2000], source.labels[:2000]
  held_x, held_y = source.images[2000:], source.labels[2000:]
  entry = zoo.get("mlp.s0")
  recipe = SupervisedRecipe(learning_rate=2e-3, epochs=2, batch_size=100, random_shift=1)
  runs = []
  for _ in range(2):
    model = zoo.build(entry)
    before = accuracy(model, entry, held_x, held_y)
    history = train_supervised(model, train_x, train_y, recipe, entry.preprocessing)
    runs.append((history, accuracy(model, entry, held_x, held_y)))
  (history, after), (history_again, after_again) = runs
  assert history[1] < history[0]
  assert after > 0.7 > before + 0.3
  assert history == history_again and after == after_again


def test_bad_input():
  entry = zoo.get("mlp.s0")
  with pytest.raises(ValueError, match="labels has 3"):
    train_supervised(zoo.build(entry), np.zeros((4, 28, 28, 1), np.uint8), np.zeros(3, int), SupervisedRecipe())
  with pytest.raises(ValueError, match="at least batch_size=128"):
    train_supervised(zoo.build(entry), np.zeros((4, 28, 28, 1), np.uint8), np.zeros(4, int), SupervisedRecipe())


def test_vmapped_training_equals_one_model_at_a_time():
  source = data.load_source("fashion_mnist", "test[:640]")
  entries = [zoo.get(n) for n in ("cnn.s0", "cnn.s1")]
  recipes = [fitting.recipe_of(e, epochs=1) for e in entries]
  recipes = [dataclasses.replace(r, batch_size=64, random_shift=1) for r in recipes]
  together = [zoo.build(e) for e in entries]
  histories = training.train_supervised_many(together, source.images, source.labels, recipes,
                                             entries[0].preprocessing)
  for entry, recipe, model, history in zip(entries, recipes, together, histories):
    alone = zoo.build(entry)
    expected = train_supervised(alone, source.images, source.labels, recipe, entry.preprocessing)
    np.testing.assert_allclose(history, expected, rtol=1e-4)
    for a, b in zip(jax.tree.leaves(nnx.state(alone, nnx.Param)), jax.tree.leaves(nnx.state(model, nnx.Param))):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-4)
  with pytest.raises(ValueError, match="differ only in seed"):
    training.train_supervised_many(together, source.images, source.labels,
                                   [recipes[0], dataclasses.replace(recipes[1], learning_rate=1.0)])


@pytest.mark.parametrize("name", ["cnn.simclr", "cnn.autoencoder", "cnn.distilled", "cnn.shapes", "cnn.shapes.top"])
def test_every_objective_trains_a_usable_classifier(name):
  """Each non-supervised row (and an other-data row) ends as a Fashion-MNIST classifier
  clearly above chance after a short run, its loss falling."""
  train = data.load_source("fashion_mnist", "train[:3000]")
  held = data.load_source("fashion_mnist", "test[:1000]")
  shapes = procedural.shapes(3000, seed=1)
  datasets = {"fashion_mnist": (train.images, train.labels), "procedural_shapes": shapes}
  entry = zoo.get(name)
  teacher = None
  if entry.objective == "distillation":
    teacher = zoo.build(zoo.get("cnn.s0"))
    train_supervised(teacher, train.images, train.labels, fitting.recipe_of(zoo.get("cnn.s0"), 2),
                     entry.preprocessing)
  losses = []
  model = fitting.fit_row(entry, datasets, epochs=2, probe_data="fashion_mnist", teacher=teacher,
                          log=lambda event: losses.append(event.loss) if isinstance(event, EpochDone) else None)
  assert losses[1] < losses[0]
  assert accuracy(model, entry, held.images, held.labels) > 0.6


def test_one_cycle_schedule_and_step_cost():
  """Warm-up from 0 to the peak over the first 20% of steps, cosine down to 0; the
  compiled step's FLOPs match a hand count of the MLP's matmuls."""
  recipe = SupervisedRecipe(learning_rate=3e-3, warmup=0.2)
  rate = training.schedule(recipe, 100)
  assert float(rate(0)) == 0.0 and float(rate(20)) == pytest.approx(3e-3) and float(rate(10)) == pytest.approx(1.5e-3)
  assert float(rate(60)) == pytest.approx(1.5e-3, rel=1e-5) and float(rate(100)) == pytest.approx(0.0, abs=1e-12)
  with pytest.raises(ValueError, match="warmup"):
    training.schedule(SupervisedRecipe(warmup=1.0), 100)
  model = zoo.build(zoo.get("mlp.s0"))
  batch = (jnp.zeros((32, 28, 28, 1)), jnp.zeros(32, jnp.int32))
  step, state = training.compiled_step(model, training.cross_entropy_loss, batch, recipe, 100)
  layers = [(784, 256), (256, 256), (256, 10)]
  # forward and weight-gradient matmuls for every layer, input gradients for all but the
  # first (no gradient w.r.t. the images); 2 FLOPs per multiply-add.
  matmul_flops = 2 * 32 * (2 * sum(a * b for a, b in layers) + sum(a * b for a, b in layers[1:]))
  num_params = sum(a * b + b for a, b in layers)
  flops = training.step_flops(step)
  assert matmul_flops <= flops <= matmul_flops + 20 * num_params  # + AdamW and activations, elementwise


def test_procedural_data_is_deterministic_and_balanced():
  for generate in (procedural.shapes, procedural.textures):
    images, labels = generate(600, seed=3)
    again, _ = generate(600, seed=3)
    assert images.shape == (600, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, again)
    assert np.bincount(labels).min() > 60 and images.std() > 10


def test_patch_conv_equals_lax_convolution():
  """small.PatchConv (im2col + matmul) against XLA's convolution, stride 1 and 2, odd and
  even sides, several channel counts, random kernels."""
  from zoo.architectures import small
  rng = np.random.default_rng(0)
  for kernel_size, stride, side, cin, cout in [(3, 1, 28, 1, 32), (3, 2, 14, 32, 16), (5, 2, 9, 3, 4), (1, 1, 5, 2, 3)]:
    layer = small.PatchConv(cin, cout, kernel_size, stride=stride, rngs=nnx.Rngs(1))
    layer.bias[...] = jnp.asarray(rng.normal(size=cout), jnp.float32)
    x = jnp.asarray(rng.normal(size=(2, side, side, cin)), jnp.float32)
    pad = kernel_size // 2
    expected = jax.lax.conv_general_dilated(x, layer.kernel[...], (stride, stride), [(pad, pad)] * 2,
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                            precision=jax.lax.Precision.HIGHEST) + layer.bias[...]
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(expected), rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match="downsample"):
    small.ConvNet(1, 10, channels=(8, 8), downsample=("pool",), rngs=nnx.Rngs(0))
  for side in (28, 7):  # even and odd (VALID pooling drops the last row and column)
    x = jnp.asarray(rng.normal(size=(2, side, side, 3)), jnp.float32)
    np.testing.assert_array_equal(np.asarray(small.max_pool2(x)),
                                  np.asarray(nnx.max_pool(x, window_shape=(2, 2), strides=(2, 2))))
    grad = jax.grad(lambda v: jnp.sum(small.max_pool2(v) * jnp.arange(1.0, 4.0)))(x)
    expected = jax.grad(lambda v: jnp.sum(nnx.max_pool(v, (2, 2), strides=(2, 2)) * jnp.arange(1.0, 4.0)))(x)
    np.testing.assert_array_equal(np.asarray(grad), np.asarray(expected))  # no ties in random data


def test_identical_backbones_train_once_and_top_rows_retrain_over_them():
  """fit_row with a shared backbone cache: a second row whose backbone trains identically
  (here the same autoencoder row again) starts from the first one's trained backbone
  instead of training it, and its Retrained top still classifies."""
  train = data.load_source("fashion_mnist", "train[:512]")
  datasets = {"fashion_mnist": (train.images, train.labels)}
  entry = zoo.get("cnn.autoencoder.top")
  cache, lines = {}, []
  first = fitting.fit_row(entry, datasets, epochs=1, probe_data="fashion_mnist", backbones=cache, log=lines.append)
  assert not any("shared" in line for line in lines)
  second = fitting.fit_row(entry, datasets, epochs=1, probe_data="fashion_mnist", backbones=cache, log=lines.append)
  assert any("backbone shared with cnn.autoencoder.top" in line for line in lines)
  untrained = jax.tree.leaves(nnx.state(zoo.build(entry).backbone, nnx.Param))
  for a, b, c in zip(jax.tree.leaves(nnx.state(first.backbone, nnx.Param)),
                     jax.tree.leaves(nnx.state(second.backbone, nnx.Param)), untrained):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert any(not np.array_equal(np.asarray(a), np.asarray(c)) for a, c in
             zip(jax.tree.leaves(nnx.state(first.backbone, nnx.Param)), untrained))
  assert accuracy(second, entry, train.images, train.labels) > 0.3


def test_backbone_key_is_none_for_unhashable_graphdefs_and_equal_for_identical_rows():
  """The shared-backbone cache (zoo.fitting.fit_row) keys on the graphdef: a module whose static
  attributes hold a list (here nnx.Conv's padding) cannot be keyed and is trained on its own,
  not crashed on; every catalog row's architecture can be keyed."""
  from flax import nnx
  import zoo.catalogs.small  # noqa: F401  (registers the rows)
  from zoo import fitting, get
  from zoo.loading import build
  base = get("cnn.s0")
  listed = nnx.Conv(1, 2, (3, 3), padding=[(1, 1), (1, 1)], rngs=nnx.Rngs(0))
  assert fitting._backbone_key(base, listed, fitting.recipe_of(base, 1)) is None
  resnet = get("small_resnet.s0")
  assert fitting._backbone_key(resnet, build(resnet), fitting.recipe_of(resnet, 1)) is not None
  first = fitting._backbone_key(base, build(base), fitting.recipe_of(base, 1))
  assert first is not None and first == fitting._backbone_key(base, build(base), fitting.recipe_of(base, 1))


def _shift_reference(images, offsets, max_shift):
  """Plain numpy: zero-pad by max_shift, crop H × W at each example's (dy, dx)."""
  padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)))
  height, width = images.shape[1:3]
  return np.stack([p[dy:dy + height, dx:dx + width] for p, (dy, dx) in zip(padded, offsets)])


def test_device_augmentation_matches_numpy_references():
  """random_shift and simclr_views (run on the device inside the compiled step) against
  numpy loops fed the same random draws."""
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (16, 9, 9, 1)).astype(np.uint8)
  key = jax.random.key(3)
  offsets = np.asarray(jax.random.randint(key, (16, 2), 0, 5))
  np.testing.assert_array_equal(np.asarray(training.random_shift(jnp.asarray(images), key, 2)),
                                _shift_reference(images, offsets, 2))
  assert (offsets.min(), offsets.max()) == (0, 4)
  np.testing.assert_array_equal(np.asarray(training.random_shift(jnp.asarray(images), key, 0)), images)

  views = np.asarray(training.simclr_views(jnp.asarray(images), key, 2))
  shift_key, flip_key, erase_key, bright_key = jax.random.split(key, 4)
  expected = _shift_reference(images, np.asarray(jax.random.randint(shift_key, (16, 2), 0, 5)), 2).astype(np.float32)
  flips = np.asarray(jax.random.bernoulli(flip_key, 0.5, (16, 1, 1, 1)))[:, 0, 0, 0]
  corners = np.asarray(jax.random.randint(erase_key, (16, 2), 0, 9 - 3))
  brightness = np.asarray(jax.random.uniform(bright_key, (16, 1, 1, 1), minval=0.6, maxval=1.4))[:, 0, 0, 0]
  for view, flip, (top, left), scale in zip(expected, flips, corners, brightness):
    if flip:
      view[:] = view[:, ::-1].copy()
    view[top:top + 3, left:left + 3] = 0
    view *= scale
  expected = np.clip(expected, 0, 255).astype(np.uint8)
  assert views.dtype == np.uint8 and 0 < flips.sum() < 16
  # float32 products may round across an integer boundary: at most 1 grey level apart.
  assert np.abs(views.astype(int) - expected.astype(int)).max() <= 1
  assert np.mean(views == expected) > 0.99


def test_scanned_and_per_step_epochs_agree_and_programs_are_shared(monkeypatch):
  """The two loops (one lax.scan per epoch, one jitted call per step) train identically;
  rows differing only in seed reuse one compiled program, another recipe compiles anew."""
  source = data.load_source("fashion_mnist", "test[:640]")
  entry = zoo.get("mlp.s0")
  recipe = SupervisedRecipe(learning_rate=2e-3, epochs=2, batch_size=64, random_shift=1)
  results = {}
  for scan in (True, False):
    monkeypatch.setattr(training, "scans_epochs", lambda model, scan=scan: scan)
    model = zoo.build(entry)
    results[scan] = (train_supervised(model, source.images, source.labels, recipe, entry.preprocessing),
                     jax.tree.leaves(nnx.state(model, nnx.Param)))
  np.testing.assert_allclose(results[True][0], results[False][0], rtol=1e-5)
  for a, b in zip(results[True][1], results[False][1]):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
  monkeypatch.setattr(training, "scans_epochs", lambda model: True)
  misses = training._program.cache_info().misses
  train_supervised(zoo.build(entry, 1), source.images, source.labels, dataclasses.replace(recipe, seed=1),
                   entry.preprocessing)
  assert training._program.cache_info().misses == misses
  train_supervised(zoo.build(entry), source.images, source.labels, dataclasses.replace(recipe, learning_rate=1e-3),
                   entry.preprocessing)
  assert training._program.cache_info().misses == misses + 1


def test_epochs_scan_except_sliding_window_nnx_conv_models_on_cpu():
  assert training.scans_epochs(zoo.build(zoo.get("cnn.s0")))  # PatchConv only
  assert not training.scans_epochs(zoo.build(zoo.get("small_resnet.s0")))  # 3×3 nnx.Conv, on this CPU
  assert training.scans_epochs(zoo.build(zoo.get("tiny_mixer.s0")))  # its only nnx.Conv: a patchify stem
  conv = lambda kernel, strides: nnx.Conv(1, 1, kernel, strides=strides, rngs=nnx.Rngs(0))
  assert training.scans_epochs(nnx.Sequential(conv((4, 4), 4), conv((2, 2), (2, 2))))
  assert not training.scans_epochs(nnx.Sequential(conv((4, 4), 4), conv((4, 4), (4, 2))))  # overlaps on one axis
  assert not training.scans_epochs(nnx.Sequential(conv((3,), 1)))
  dilated = nnx.Conv(1, 1, (2, 2), strides=2, kernel_dilation=2, rngs=nnx.Rngs(0))
  assert not training.scans_epochs(nnx.Sequential(dilated))


def test_shared_backbone_is_a_snapshot_and_finetuning_trains_every_layer():
  """A dataset row's three transfers share one pretrained backbone: fine-tuning it (the
  .finetune row) must not change what the .top row starts from; the fine-tuned row's
  backbone moves away from the pretrained weights and classifies Fashion-MNIST."""
  train = data.load_source("fashion_mnist", "train[:2048]")
  held = data.load_source("fashion_mnist", "test[:1000]")
  datasets = {"fashion_mnist": (train.images, train.labels), "procedural_shapes": procedural.shapes(1024, seed=1)}
  backbones = {}
  tuned_entry = zoo.get("cnn.shapes.finetune")
  tuned = fitting.fit_row(tuned_entry, datasets, epochs=1, probe_data="fashion_mnist", backbones=backbones)
  top = fitting.fit_row(zoo.get("cnn.shapes.top"), datasets, epochs=1, probe_data="fashion_mnist", backbones=backbones)
  pretrained = next(state for state in backbones.values() if not isinstance(state, str))
  kernel = lambda model: np.asarray(model.backbone.convs[0].kernel[...])
  np.testing.assert_array_equal(kernel(top), np.asarray(pretrained["convs"][0]["kernel"][...]))
  assert np.abs(kernel(tuned) - kernel(top)).max() > 1e-3
  assert accuracy(tuned, tuned_entry, held.images, held.labels) > 0.6


def test_distillation_teacher_inside_the_step_matches_precomputed_logits():
  """With augmentation the teacher runs inside the compiled step on the shifted batch; at
  shift 0 that path must give the very logits the precomputed path gathers, and with
  shifts the student still learns (loss falls)."""
  source = data.load_source("fashion_mnist", "test[:640]")
  entry = zoo.get("cnn.s0")
  teacher = zoo.build(entry)
  recipe = dataclasses.replace(fitting.recipe_of(entry, 1), batch_size=64)
  train_supervised(teacher, source.images, source.labels, recipe, entry.preprocessing)
  teacher.eval()
  graphdef, state = nnx.split(teacher)
  logits = training.embed(teacher, source.images, entry.preprocessing, output=training.logits_output)
  indices, key = jnp.arange(5, 69), jax.random.key(0)
  common = {"preprocess": entry.preprocessing, "shift": 0, "temperature": 4.0}
  gathered = training._distillation_batch((jnp.asarray(source.images), jnp.asarray(logits)), indices, key,
                                          teacher=None, **common)
  inside = training._distillation_batch((jnp.asarray(source.images), state), indices, key, teacher=graphdef, **common)
  np.testing.assert_allclose(np.asarray(inside[1]), np.asarray(gathered[1]), rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(np.asarray(inside[0]), np.asarray(gathered[0]))
  student = zoo.build(zoo.get("cnn.distilled"))
  history = training.train_distillation(student, teacher, source.images,
                                        dataclasses.replace(recipe, random_shift=1, epochs=2), entry.preprocessing)
  assert history[1] < history[0]


def test_custom_calls_name_kernels_and_leave_sharding_annotations_out():
  """zoo.concurrency finds the LAPACK kernels of a program (what may not overlap) and nothing
  in plain or sharding-annotated programs."""
  from zoo import concurrency
  eigh = jax.jit(jnp.linalg.eigh).lower(jnp.eye(4))
  assert concurrency.custom_calls(eigh) == {"lapack_ssyevd_ffi"}
  assert concurrency.custom_calls(jax.jit(jnp.linalg.inv).lower(jnp.eye(4))) >= {"lapack_sgetrf_ffi"}
  mesh = jax.make_mesh((1,), ("x",), axis_types=(jax.sharding.AxisType.Auto,))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("x"))
  constrained = jax.jit(lambda x: jax.lax.with_sharding_constraint(jnp.tanh(x @ x), sharding)).lower(jnp.eye(4))
  assert concurrency.custom_calls(constrained) == set()
  assert concurrency.guard(eigh) is concurrency.EXCLUSIVE
  assert concurrency.guard(constrained) is not concurrency.EXCLUSIVE


class _Linear(nnx.Module):
  """(logits, embedding) of a linear classifier; ``eigh``: its forward pass also runs a LAPACK
  kernel (the eigenvalues of the kernel's Gram, weighted by 0)."""

  def __init__(self, eigh: bool, rngs):
    self.dense, self.eigh = nnx.Linear(28 * 28, 10, rngs=rngs), eigh

  def __call__(self, x):
    features = x.reshape(x.shape[0], -1).astype(jnp.float32) / 255.0
    logits = self.dense(features)
    if self.eigh:
      logits = logits + 0.0 * jnp.linalg.eigvalsh(self.dense.kernel[...].T @ self.dense.kernel[...]).sum()
    return logits, features


def test_programs_with_custom_calls_train_under_the_exclusive_lock_and_others_do_not(monkeypatch):
  """Training (and building) a model with a LAPACK kernel in its step takes
  zoo.concurrency.EXCLUSIVE for its programs (two such programs at once can deadlock
  XLA:CPU's pool); a plain model never does, so it overlaps anything."""
  from zoo import concurrency

  class Recording:
    def __init__(self):
      self.entered = 0

    def __enter__(self):
      self.entered += 1

    def __exit__(self, *exc):
      return False

  rng = np.random.default_rng(0)
  images, labels = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8), rng.integers(0, 10, 64)
  recipe = SupervisedRecipe(epochs=2, batch_size=32)
  for eigh, expected in ((False, 0), (True, 2)):  # one per epoch
    lock = Recording()
    monkeypatch.setattr(concurrency, "EXCLUSIVE", lock)
    train_supervised(_Linear(eigh, nnx.Rngs(0)), images, labels, recipe)
    assert lock.entered == expected, (eigh, lock.entered)


def test_objectives_and_transfers_are_one_table_the_zoo_stage_reads():
  """zoo.fitting.OBJECTIVES / TRANSFERS are the only place an objective or a transfer is
  named: the study trains exactly the rows whose objective the table has."""
  from launch.study import config as config_lib, zoo_stage
  from zoo.loading import abstract_build
  from zoo.architectures.small import FineTuned, LinearProbed, Retrained
  assert fitting.objective_of("contrastive (SimCLR)") is fitting.OBJECTIVES["contrastive"]
  assert fitting.objective_of("supervised") is fitting.OBJECTIVES["supervised"]
  assert fitting.objective_of("jigsaw puzzles") is None and fitting.objective_of("autoencoding (VAE)") is None
  assert [name for name, o in fitting.OBJECTIVES.items() if o.needs_teacher] == [fitting.NEEDS_TEACHER]
  config = config_lib.defaults()
  config.dataset, config.train_split = "fashion_mnist", "train"
  small = zoo.list_models(catalog="small")
  for name in small:
    entry = zoo.get(name)
    assert zoo_stage.trainable(config, entry) == (fitting.objective_of(entry.objective) is not None)
  jigsaw = dataclasses.replace(zoo.get("cnn.s0"), name="cnn.jigsaw", objective="jigsaw puzzles")
  assert not zoo_stage.trainable(config, jigsaw)
  for name, kind in (("cnn.simclr", LinearProbed), ("cnn.autoencoder.top", Retrained),
                     ("cnn.shapes.finetune", FineTuned), ("cnn.s0", None)):
    model = abstract_build(zoo.get(name))
    assert fitting.transfer_of(model) is (fitting.TRANSFERS[kind] if kind else None), name


def test_a_probed_rows_classifier_is_the_probe_fit_the_study_uses():
  """zoo.training.fit_probed_classifier = probes.fit_linear_head on the backbone's embeddings
  (one probe fit in the project), written into the classifier: the model's logits equal that
  head applied to its embeddings, and they classify the separable training data."""
  import probes
  from zoo.architectures.small import LinearProbed

  class Backbone(nnx.Module):
    def __init__(self):
      self.projection = nnx.Param(jnp.asarray(np.random.default_rng(3).normal(size=(12, 6)), jnp.float32))

    def __call__(self, images):
      return None, jnp.tanh(images.reshape(len(images), -1) @ self.projection[...])

  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 40)
  images = (0.3 * rng.normal(size=(120, 2, 2, 3)) + labels[:, None, None, None] - 1).astype(np.float32)
  model = LinearProbed(Backbone(), 6, 3, rngs=nnx.Rngs(0))
  result = training.fit_probed_classifier(model, images, labels, l2_grid=(1e-3, 1e-1), seed=5)
  features = training.embed(model, images)
  head = probes.fit_linear_head(features, labels, 3, (1e-3, 1e-1), seed=5, max_iterations=300)
  logits, _ = model(jnp.asarray(images))
  np.testing.assert_allclose(np.asarray(logits), features @ head["weights"] + head["bias"], rtol=1e-4, atol=1e-4)
  assert result["l2"] == head["l2"] and (np.asarray(logits).argmax(1) == labels).mean() > 0.9
