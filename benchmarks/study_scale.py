r"""Budget of the study's analysis + report at the paper's scale, from stored logits (issue 11:
N=82, E=50,000, K=1,000; peak RSS ≤ 16 GB and ≤ 5 min on a 2-core CPU, evaluation excluded).

  flock /tmp/overlap-heavy.lock timeout 360 .venv/bin/python benchmarks/study_scale.py [--models 82]
      [--examples 50000] [--classes 1000] [--dim 2048] [--logits_dtype float16] [--probes paper|light]

Writes synthetic logits (a shared signal plus per-model noise of growing scale, so models
agree, err and rank like real ones) and float32 embeddings through the store's
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
models and 3,321 pairs, a separate budget; the benchmark sets ``downstream.dataset`` empty)
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


def write_store(root: Path, models: int, examples: int, classes: int, dim: int, dtype: str, splits) -> None:
  """Synthetic outputs of ``models`` models. Logits: a shared signal (label + 3) plus noise of
  scale 1 + i/N for model i; embeddings: the label's class centroid plus noise. The noise
  of each (model, chunk) is one of 16 blocks drawn per split, rolled along its columns by a
  model-dependent shift (drawing 5·10⁹ fresh normals would dominate the write), so models
  err on different examples. Deterministic: a store completed over several runs holds the
  same data."""
  from launch import store
  for split_index, (split, count) in enumerate(splits):
    rng = np.random.default_rng(split_index)
    labels = rng.integers(0, classes, count)
    signal = rng.standard_normal((count, classes), np.float32)
    signal[np.arange(count), labels] += 3.0
    centroids = rng.standard_normal((classes, dim), np.float32)   # class-informative features, as real ones
    logit_noise = rng.standard_normal((16, CHUNK, classes), np.float32)
    feature_noise = rng.standard_normal((16, CHUNK, dim), np.float32)
    for model in range(models):
      writer = store.ChunkWriter(root, "synthetic", split, f"m{model:02d}", {"weights_sha256": f"{model}"}, count,
                                 CHUNK, logits_dtype=dtype)
      scale = np.float32(1.0 + model / max(models, 1))
      for index in writer.missing_chunks():
        start, stop = writer.rows(index)
        block = (model * 5 + index) % 16
        noise = np.roll(logit_noise[block, :stop - start], 37 * model + 1, axis=1)
        embeddings = np.roll(feature_noise[block, :stop - start], 11 * model, axis=1)
        embeddings += centroids[labels[start:stop]]
        writer.write_chunk(index, {"logits": signal[start:stop] + scale * noise, "embeddings": embeddings,
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
              calibration_split="calibration", test_split="test", downstream=dict(dataset=""), **args["analysis"])
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
stored = {{role: store.lazy_read(args["root"], "synthetic", split, names) for role, split in
          (("calibration", "calibration"), ("test", "test"))}}
timings = Stages()
timings["read (lazy: ids, labels)"] = time.perf_counter() - start
located = {{n: zoo_stage.Located(None, "loaded") for n in names}}
results = pipeline.analyse(config, names, stored, [], {{n: n for n in names}}, located, timings=timings)
analysed = time.perf_counter()
report.write(results, args["out"])
timings["report"] = time.perf_counter() - analysed
print(json.dumps({{"done": True}}), flush=True)
"""

PAPER_ANALYSIS = ("resamples", "greedy_starts", "greedy_steps", "mixing_rates", "mixing_seeds", "probe_l2_grid",
                  "probe_iterations", "diversity_step", "diversity_target", "class_groups")


def analysis_fields(probes: str, dim: int, resamples: int | None) -> dict:
  """The paper config's analysis sizes (``light``: cheaper probes)."""
  from launch.study.configs import paper
  config = paper.get_config()
  fields = {key: list(config[key]) if isinstance(config[key], tuple) else config[key] for key in PAPER_ANALYSIS}
  if probes == "light":
    fields.update(mixing_seeds=1, probe_l2_grid=[1e-2], probe_iterations=100, diversity_step=max(1, dim // 8))
  if resamples:
    fields["resamples"] = resamples
  return fields


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--models", type=int, default=82)
  parser.add_argument("--examples", type=int, default=50000)
  parser.add_argument("--calibration", type=int, default=10000)
  parser.add_argument("--classes", type=int, default=1000)
  parser.add_argument("--dim", type=int, default=2048)
  parser.add_argument("--resamples", type=int, default=None, help="default: the paper config's (1,000)")
  parser.add_argument("--logits_dtype", default="float16")
  parser.add_argument("--probes", choices=("paper", "light"), default="paper")
  parser.add_argument("--skip_probes", action="store_true")
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
    shape = dict(models=args.models, examples=args.examples, calibration=args.calibration, classes=args.classes,
                 dim=args.dim, logits_dtype=args.logits_dtype)
    marker = root / "complete.json"         # a kept store written whole: reused without rehashing its chunks
    if not (marker.exists() and json.loads(marker.read_text()) == shape):
      write_store(root, args.models, args.examples, args.classes, args.dim, args.logits_dtype,
                  (("calibration", args.calibration), ("test", args.examples)))
      marker.write_text(json.dumps(shape))
    if args.write_only:
      print(f"store written in {time.perf_counter() - start:.0f} s")
      return
    print(f"store ready ({args.models} models, {args.examples} test + {args.calibration} calibration examples, "
          f"K={args.classes}, {args.logits_dtype} logits, {args.dim}-d float32 embeddings) in "
          f"{time.perf_counter() - start:.0f} s; load average {os.getloadavg()[0]:.2f}", flush=True)
    fields = analysis_fields(args.probes, args.dim, args.resamples)
    analysed = args.analyse_models or args.models
    payload = json.dumps({"root": str(root), "out": str(scratch / "report"), "models": analysed,
                          "classes": args.classes, "analysis": fields, "skip_probes": args.skip_probes,
                          "stop_after": args.stop_after, "cheap_intervals": args.cheap_intervals})
    print(f"analysis sizes: {json.dumps(fields)}{' (Fig. 6 probes skipped)' if args.skip_probes else ''}")
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
