"""One of two jax.distributed processes on 127.0.0.1 comparing their weights-lock entries
(a test helper):

  python tests/jobs/weights_lock_job.py PROCESS_ID PORT SAME|DIFFERENT

Each process makes the entry of a row as its own download would give it (process 1's file hash
differs under DIFFERENT) and calls launch.weights_lock.agree_across_processes; exit 0 when they
agree, 3 with the message on stdout when it raises LockMismatch.
"""

import sys
from pathlib import Path

import jax

process_id, port, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=2, process_id=process_id)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's packages

from launch import weights_lock  # noqa: E402

digest = "1" * 64 if mode == "DIFFERENT" and process_id == 1 else "0" * 64
entry = weights_lock.Locked("timm", "org/repo", None, "c" * 40, {"model.safetensors": digest})
try:
  weights_lock.agree_across_processes("row.a", entry)
except weights_lock.LockMismatch as error:
  print(error, flush=True)
  sys.exit(3)
print("agreed", flush=True)
