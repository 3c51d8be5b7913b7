"""Runs the all-pairs metrics over a mesh of every device and saves the outcomes to an .npz
(a test helper):

  python tests/jobs/pairwise_devices_job.py OUT NUM_MODELS NUM_EXAMPLES NUM_CLASSES SEED [PROCESS_ID NUM_PROCESSES PORT]

XLA_FLAGS gives fake CPU devices; with the last three arguments it is one of several
jax.distributed processes on 127.0.0.1 (gloo collectives), and only process 0 saves.
"""

import sys
from pathlib import Path

import jax

args = sys.argv[1:]
if len(args) > 5:
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=f"127.0.0.1:{args[7]}", num_processes=int(args[6]),
                             process_id=int(args[5]))

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))            # this checkout's packages
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))            # tests/conftest.py

import numpy as np  # noqa: E402

import metrics  # noqa: E402
from conftest import random_probs  # noqa: E402


def main():
  out, num_models, num_examples, num_classes, seed = args[0], *map(int, args[1:5])
  rng = np.random.default_rng(seed)
  probs = random_probs(rng, num_models, num_examples, num_classes, ties=True, scale=1.0)
  labels = rng.integers(0, num_classes, num_examples)
  outcomes = metrics.pairwise_outcomes(list(probs), labels, num_candidates=2)
  saved = dict(devices=jax.device_count(), processes=jax.process_count(), probs=probs, labels=labels,
               ensemble_correct=np.asarray(outcomes.ensemble_correct), correct=np.asarray(outcomes.correct),
               num_recomputed=outcomes.num_recomputed, **{f"count_{k}": v for k, v in outcomes.counts.items()})
  if jax.process_index() == 0:
    np.savez(out, **saved)


if __name__ == "__main__":
  main()
