r"""Budget of the study's analysis + report at the paper's scale, from stored logits (issue 11:
N=82, E=50,000, K=1,000; peak RSS ≤ 16 GB and ≤ 5 min on a 2-core CPU, evaluation excluded).

  flock /tmp/overlap-heavy.lock timeout 360 .venv/bin/python benchmarks/study_scale.py [--models 82]
      [--examples 50000] [--classes 1000] [--dim 2048] [--logits_dtype float16] [--probes paper|light]

Writes synthetic logits (the issue-15 benchmark's model of ImageNet classifiers: shared
confusable classes and noise, so models agree and err like real ones, test accuracies ≈ 74–81%)
and float32 embeddings through the store's
ChunkWriter (chunks of 2,048 rows, as the paper config's batch 256 × 8 batches) for a
calibration and a test split, then times, in a child process, ``store.lazy_read`` +
``pipeline.analyse`` + ``report.write`` with the paper config's analysis sizes (or
``--probes light``: one mixing seed, one L2 value, 100 probe iterations, diversity step
``dim // 8``), and prints each analysis stage's seconds and the peak RSS reached by its
end, the child's wall time and peak RSS, and their ratios to the budget. ``--skip_probes``
leaves Fig. 6 out (its stages then read 0 s) to measure the rest alone; ``--stop_after STAGE``
and ``--cheap_intervals`` split one measurement over two runs (each within a lock hold); ``--keep DIR``
writes the store there once and reuses it on later runs (``--write_only`` stops after writing,
so writing and analysing fit separate 6-minute holds of the heavy lock).

Not measured: Fig. 7 (the paper config's VOC 2007 downstream probes: linear probes of 82
models and 3,321 pairs, a separate budget; the benchmark sets ``sections.downstream.dataset`` empty)
and the evaluation itself. ``--dim`` is every model's embedding width; the paper's
ResNet-50 has 2,048 (82 models × 60,000 × 2,048 float32 = 40 GB of store, more than
this machine's shared disk holds, so full-size runs here use less and say so).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BUDGET_S, BUDGET_GB = 300.0, 16.0


CHUNK = 2048
DATA_VERSION = 2   # bump when write_store writes other data (a kept store of another version is rewritten)


def write_store(root: Path, models: int, examples: int, classes: int, dim: int, dtype: str, splits) -> None:
  """Synthetic outputs of ``models`` models, as :mod:`benchmarks.synthetic` models them (the
  issue-15 benchmark's data): model n's logits are sharpness · (signal_n · onehot(y) +
  d_e · onehot(C_e) + σ(√ρ · G + √(1−ρ) · H_n)), with confusable classes C_e and noise G shared
  by all models (so they share errors), signal_n spreading test accuracies over ≈ 74–81% as
  the paper's band (74–78%), confidences roughly calibrated. H_n of each (model, chunk) is one of
  16 standard-normal blocks drawn per split, rolled along its columns by a model-dependent
  shift (drawing 5·10⁹ fresh normals would dominate the write). Embeddings: the label's class
  centroid plus noise. Deterministic: a store completed over several runs holds the same data."""
  from launch import store
  shared_fraction, num_confusable, confusion, noise_scale, sharpness = 0.5, 5, 2.0, 0.6, 3.0
  signals = 3.85 + 0.15 * np.random.default_rng(99).uniform(-1, 1, models)   # a model's own, on every split
  own_scale = np.float32(noise_scale * np.sqrt(1 - shared_fraction))
  for split_index, (split, count) in enumerate(splits):
    rng = np.random.default_rng(split_index)
    labels = rng.integers(0, classes, count)
    confusable = (labels[:, None] + rng.integers(1, classes, (count, num_confusable))) % classes
    base = np.float32(noise_scale * np.sqrt(shared_fraction)) * rng.standard_normal((count, classes), np.float32)
    base[np.arange(count)[:, None], confusable] += (2 * confusion * rng.random(count, np.float32))[:, None]
    centroids = rng.standard_normal((classes, dim), np.float32)   # class-informative features, as real ones
    logit_noise = rng.standard_normal((16, CHUNK, classes), np.float32)
    feature_noise = rng.standard_normal((16, CHUNK, dim), np.float32)
    for model in range(models):
      writer = store.ChunkWriter(root, "synthetic", split, f"m{model:02d}", {"weights_sha256": f"{model}"}, count,
                                 CHUNK, logits_dtype=dtype)
      for index in writer.missing_chunks():
        start, stop = writer.rows(index)
        block = (model * 5 + index) % 16
        logits = base[start:stop] + own_scale * np.roll(logit_noise[block, :stop - start], 37 * model + 1, axis=1)
        logits[np.arange(stop - start), labels[start:stop]] += np.float32(signals[model])
        embeddings = np.roll(feature_noise[block, :stop - start], 11 * model, axis=1)
        embeddings += centroids[labels[start:stop]]
        writer.write_chunk(index, {"logits": np.float32(sharpness) * logits, "embeddings": embeddings,
                                   "labels": labels[start:stop], "ids": np.arange(start, stop)})


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import zoo
from launch import store
from launch.study import config as config_lib, pipeline, report, zoo_stage
from zoo.preprocessing import Preprocessing
args = json.loads(sys.argv[1])
names = [f"m{{i:02d}}" for i in range(args["models"])]
for i, name in enumerate(names):  # model i's category vs the base m00, by i % 5: every category from N=6 on
  kind = i % 5 if i else -1        # 1 reinit, 2 hyper-parameters, 3 architecture, 4 framework, 0 dataset
  zoo.register(zoo.ModelEntry(name=name, builder=lambda rngs: None, weights=zoo.WeightSource("checkpoint", name),
      preprocessing=Preprocessing(32), num_classes=args["classes"],
      objective="contrastive" if kind == 4 else "supervised", pretraining_data="other" if kind == 0 else "in1k",
      architecture="b" if kind == 3 else "a", hparams=(("lr", int(kind == 2)),), seed=i, catalog="synthetic"))
fields = dict(name="scale", catalog="synthetic", models="m*", base="m00", dataset="synthetic",
              calibration_split="calibration", selection_split="selection", test_split="test",
              **args["analysis"])
config = config_lib.merge(fields)


class Stages(dict):
  peak_gb, cpu = {{}}, [0.0]

  def __setitem__(self, key, value):
    super().__setitem__(key, value)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    self.peak_gb[key] = usage.ru_maxrss / 2 ** 20
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({{"stage": key, "seconds": value, "cpu": cpu - self.cpu[0], "peak_gb": self.peak_gb[key]}}),
          flush=True)
    self.cpu[0] = cpu
    if key == args["stop_after"]:
      import os
      os._exit(0)


if args["skip_probes"]:
  from launch.study import analysis
  analysis.mixing = lambda *a, **k: [dict(category=c, pair="-", base_rate=r, seed=0, features=0, test_accuracy=0.0)
                                     for c in ("reinit", "dataset") for r in (0.0, 0.5, 1.0)]
  analysis.diversity_curves = lambda *a, **k: []
if args["cheap_intervals"]:     # measured in another run: 2 resamples here, so later stages fit one lock hold
  import metrics
  all_pairs = metrics.pairwise_intervals
  metrics.pairwise_intervals = lambda outcomes, **options: all_pairs(outcomes, **{{**options, "num_resamples": 2}})
start = time.perf_counter()
stored = {{role: store.lazy_read(args["root"], "synthetic", role, names)
          for role in ("calibration", "selection", "test")}}
timings = Stages()
timings["read (lazy: ids, labels)"] = time.perf_counter() - start
located = {{n: zoo_stage.Located(None, "loaded") for n in names}}
results = pipeline.analyse(config, [zoo.get(n) for n in names], stored, [], {{n: n for n in names}}, located,
                           timings=timings)
analysed = time.perf_counter()
report.write(results, args["out"])
timings["report"] = time.perf_counter() - analysed
print(json.dumps({{"done": True}}), flush=True)
"""

PAPER_ANALYSIS = ("resamples", "probe_l2_grid", "sections.greedy.starts", "sections.greedy.steps",
                  "sections.mixing.rates", "sections.mixing.seeds", "sections.mixing.diversity_step",
                  "sections.mixing.diversity_target", "sections.downstream.iterations",
                  "sections.specialisation.class_groups")


def _put(fields: dict, dotted: str, value) -> None:
  """``fields[a][b][c] = value`` for ``dotted`` = ``a.b.c`` (a config file's nesting)."""
  *parents, leaf = dotted.split(".")
  for part in parents:
    fields = fields.setdefault(part, {})
  fields[leaf] = list(value) if isinstance(value, tuple) else value


def analysis_fields(probes: str, dim: int, resamples: int | None) -> dict:
  """The paper config's analysis sizes (``light``: cheaper probes), no downstream dataset."""
  from launch.study import config as config_lib
  from launch.study.configs import paper
  config = paper.get_config()
  fields = {}
  for key in PAPER_ANALYSIS:
    _put(fields, key, config_lib.value_of(config, key))
  light = {"sections.mixing.seeds": 1, "probe_l2_grid": [1e-2], "sections.downstream.iterations": 100,
           "sections.mixing.diversity_step": max(1, dim // 8)}
  for key, value in (light.items() if probes == "light" else ()):
    _put(fields, key, value)
  if resamples:
    fields["resamples"] = resamples
  _put(fields, "sections.downstream.dataset", "")
  return fields


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50000)
  parser.add_argument("--calibration", type=int, default=10000)
  parser.add_argument("--selection", type=int, default=10000, help="greedy selection's split (as the paper config's)")
  parser.add_argument("--classes", type=int, default=1000)
  parser.add_argument("--dim", type=int, default=2048)
  parser.add_argument("--resamples", type=int, default=None, help="default: the paper config's (1,000)")
  parser.add_argument("--logits_dtype", default="float16")
  parser.add_argument("--probes", choices=("paper", "light"), default="paper")
  parser.add_argument("--skip_probes", action="store_true")
  parser.add_argument("--skip_similarity", action="store_true",
                      help="sections.similarity.enabled false: no representational-similarity section (its own budget)")
  parser.add_argument("--keep", default=None, help="a directory to write the store once and reuse")
  parser.add_argument("--write_only", action="store_true", help="with --keep: write the store, analyse nothing")
  parser.add_argument("--analyse_models", type=int, default=None, help="analyse the first n of the --models")
  parser.add_argument("--stop_after", default="", help="a stage name: stop the analysis after it")
  parser.add_argument("--cheap_intervals", action="store_true",
                      help="all-pairs intervals from 2 resamples (that stage measured in a --stop_after run)")
  args = parser.parse_args()
  scratch = Path(tempfile.mkdtemp(prefix="overlap_scale_"))
  root = Path(args.keep) if args.keep else scratch / "store"
  try:
    start = time.perf_counter()
    shape = dict(models=args.models, examples=args.examples, calibration=args.calibration,
                 selection=args.selection, classes=args.classes,
                 dim=args.dim, logits_dtype=args.logits_dtype, data=DATA_VERSION)
    marker = root / "complete.json"         # a kept store written whole: reused without rehashing its chunks
    if not (marker.exists() and json.loads(marker.read_text()) == shape):
      started = root / "writing.json"       # an interrupted write of these flags and data resumes
      if (root / "synthetic").exists() and not (started.exists() and json.loads(started.read_text()) == shape):
        print(f"{root} holds a store written for other flags or data; rewriting it for {json.dumps(shape)}")
        shutil.rmtree(root / "synthetic")    # (its chunks would otherwise be kept beside new ones)
      root.mkdir(parents=True, exist_ok=True)
      started.write_text(json.dumps(shape))
      write_store(root, args.models, args.examples, args.classes, args.dim, args.logits_dtype,
                  (("calibration", args.calibration), ("test", args.examples), ("selection", args.selection)))
      marker.write_text(json.dumps(shape))
    if args.write_only:
      print(f"store written in {time.perf_counter() - start:.0f} s")
      return
    print(f"store ready ({args.models} models, {args.examples} test + {args.calibration} calibration + "
          f"{args.selection} selection examples, "
          f"K={args.classes}, {args.logits_dtype} logits, {args.dim}-d float32 embeddings) in "
          f"{time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    fields = analysis_fields(args.probes, args.dim, args.resamples)
    if args.skip_similarity:
      fields["sections"]["similarity"] = {"enabled": False}
    analysed = args.analyse_models or args.models
    payload = json.dumps({"root": str(root), "out": str(scratch / "report"), "models": analysed,
                          "classes": args.classes, "analysis": fields, "skip_probes": args.skip_probes,
                          "stop_after": args.stop_after, "cheap_intervals": args.cheap_intervals})
    skipped = [part for part, skip in (("Fig. 6 probes", args.skip_probes),
                                       ("the similarity section", args.skip_similarity)) if skip]
    print(f"analysis sizes: {json.dumps(fields)}{' (skipped: ' + ', '.join(skipped) + ')' if skipped else ''}")
    print(f"{'stage':60s} {'seconds':>8s} {'CPU s':>8s} {'peak RSS so far (GB)':>21s}", flush=True)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", CHILD.format(root=str(ROOT)), payload], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
    # A `timeout` that stops this process stops the analysis too (it would run on, unlocked).
    signal.signal(signal.SIGTERM, lambda *_: (process.kill(), sys.exit(f"stopped after {time.perf_counter() - start:.0f} s")))
    for line in process.stdout:          # each stage as it ends, so a stopped run still shows where time went
      try:
        record = json.loads(line)
      except ValueError:
        record = {}
      if "stage" in record:
        print(f"{record['stage']:60s} {record['seconds']:8.1f} {record['cpu']:8.1f} {record['peak_gb']:21.2f}",
              flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    memory = usage.ru_maxrss / 2 ** 20
    if os.waitstatus_to_exitcode(status) != 0:
      raise SystemExit(f"analysis child failed (status {status}); peak RSS {memory:.1f} GB")
    cpu = usage.ru_utime + usage.ru_stime
    print(f"N={analysed}: {wall:.0f} s wall, {cpu:.0f} CPU s (child, interpreter start included; budget "
          f"{BUDGET_S:.0f} s, wall ratio {wall / BUDGET_S:.2f}, CPU/2 ratio {cpu / 2 / BUDGET_S:.2f}); "
          f"peak RSS {memory:.2f} GB (budget {BUDGET_GB:.0f} GB, ratio "
          f"{memory / BUDGET_GB:.2f}); load average {os.getloadavg()[0]:.2f}")
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
  main()
