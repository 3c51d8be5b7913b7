r"""How much of timm's ImageNet model world ``zoo.load_timm`` loads, proven tag by tag.

    .venv/bin/python benchmarks/timm_coverage.py [--families=resnet,efficientnet] [--limit=N] \
        [--jobs=2] [--per_process=4] [--max_params=400e6] [--out=benchmarks/timm_coverage]
        [--resume | --report] [--merge=a.csv,b.csv]

Every 1,000-class pretrained tag of timm 1.0.31 (zoo/data/timm_1_0_31_pretrained.json, the
snapshot of timm's registry) is counted. A tag is **covered** when (1) a family of
zoo.converters.timm matches its architecture (read at run time: families added since count),
(2) the architecture passes the parity check and (3) the tag's row derives
(zoo.timm_rows.row_for_tag: its preprocessing is expressible). The parity check depends on the
architecture only (a tag is pretrained weights and preprocessing), so it runs once per
architecture: timm's module with random weights and every norm and statistic moved from its
default (tests/timm_reference.py's ``randomize``), saved in timm's Hub format, loaded by
``zoo.load_timm``; logits and embedding (vs ``forward_head(..., pre_logits=True)``) must agree
with relative error max|ours − timm| / max|timm| ≤ 1e-4 in float32, at the smallest input the
model accepts among 64 px, 128 px and its own size (benchmarks/timm_coverage_reference.py).
Each worker process checks ``--per_process`` architectures (its timm reference in .venv-timm,
then the JAX side) and exits, which bounds memory; ``--jobs`` workers run at once. Prints
covered / total overall and per timm model file ("family"), with the reason of every failure,
and writes <out>.csv (one row per tag) and <out>.md (the tables), rewritten as workers finish.
``--merge`` adds other runs' CSVs (e.g. one family each, run elsewhere): with ``--report`` the tables
are rebuilt from all of them, every status re-derived from the current family table.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOLERANCE = 1e-4
REFERENCE = ROOT / "benchmarks" / "timm_coverage_reference.py"


def timm_python() -> str:
  return os.environ.get("OVERLAP_TIMM_PYTHON") or str(ROOT / ".venv-timm" / "bin" / "python")


def relative_error(ours, reference) -> float:
  """max|ours − reference| / max|reference| (inf when the shapes differ)."""
  import numpy as np
  ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
  if ours.shape != reference.shape:
    return float("inf")
  return float(np.abs(ours - reference).max() / max(np.abs(reference).max(), 1e-30))


def check_export(directory: Path, cache_dir: Path) -> dict:
  """Loads timm's export in ``directory`` with zoo.load_timm and compares its outputs with timm's:
  {"status": "ok" | "parity" | "load", "reason", "logits_rel", "embedding_rel"}."""
  import jax
  import numpy as np
  from flax import nnx
  import zoo
  try:
    model = zoo.load_timm(str(directory), cache_dir=cache_dir)
    graphdef, state = nnx.split(model)
    logits, embedding = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x))(state, np.load(directory / "images.npy"))
  except Exception as error:  # the converter's reason (ConversionError names tensor / argument)
    return {"status": "load", "reason": f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"}
  errors = {"logits_rel": relative_error(logits, np.load(directory / "logits.npy")),
            "embedding_rel": relative_error(embedding, np.load(directory / "pre_logits.npy"))}
  worst = max(errors.values())
  if worst <= TOLERANCE:
    return {"status": "ok", "reason": "", **errors}
  return {"status": "parity", "reason": f"relative error logits {errors['logits_rel']:.1e}, embedding "
                                        f"{errors['embedding_rel']:.1e} > {TOLERANCE:g}", **errors}


def worker(architectures: list[str], result_file: Path) -> None:
  """One process: timm's exports of ``architectures``, then the JAX side of each; JSON to ``result_file``."""
  with tempfile.TemporaryDirectory(prefix="timm_coverage_") as scratch:
    scratch = Path(scratch)
    (scratch / "cases.json").write_text(json.dumps({"architectures": architectures}))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}
    reference = subprocess.run([timm_python(), str(REFERENCE), str(scratch / "cases.json"), str(scratch / "out")],
                               env=env, capture_output=True, text=True)
    results = {}
    for architecture in architectures:
      directory = scratch / "out" / architecture
      status_file = directory / "status.json"
      if not status_file.exists():
        tail = " ".join(reference.stderr.strip().splitlines()[-1:])[:300]
        results[architecture] = {"status": "reference", "reason": f"timm reference exited {reference.returncode}: "
                                                                  f"{tail}"}
        continue
      status = json.loads(status_file.read_text())
      if status["status"] != "ok":
        results[architecture] = {**status, "status": "reference"}
      else:
        start = time.perf_counter()
        results[architecture] = {**check_export(directory, scratch / "cache"), "resolution": status["resolution"],
                                 "seconds": round(status["seconds"] + time.perf_counter() - start, 2)}
      shutil.rmtree(directory, ignore_errors=True)  # exports are hundreds of MB
  result_file.write_text(json.dumps(results))


def _in_families(module: str, families: str) -> bool:
  patterns = [p.strip() for p in families.split(",") if p.strip()] or ["*"]
  return any(fnmatch.fnmatchcase(module, p) for p in patterns)


def tag_rows(architecture_results: dict[str, dict], families: str = "") -> list[dict]:
  """One row per 1,000-class tag of the ``families`` (fnmatch patterns over timm's model files; ""
  = all): family, architecture, status, reason and the architecture's parity figures."""
  from zoo import timm_rows
  rows = []
  for name in timm_rows.imagenet_tags(covered_only=False):
    meta = timm_rows.snapshot()[name]
    if not _in_families(meta["module"], families):
      continue
    row = {"tag": name, "family": meta["module"], "architecture": meta["architecture"]}
    result = architecture_results.get(meta["architecture"])
    if timm_rows.family_pattern(meta["architecture"]) is None:
      row.update(status="no family", reason="no zoo.converters.timm pattern matches the architecture")
    elif result is None:
      row.update(status="not run", reason="")
    elif result["status"] != "ok":
      row.update(status=result["status"], reason=result["reason"])
    else:
      try:
        timm_rows.row_for_tag(name)
        row.update(status="covered", reason="")
      except timm_rows.TimmTagError as error:
        row.update(status="row", reason=str(error))
    row.update({k: result.get(k, "") if result else "" for k in ("logits_rel", "embedding_rel", "resolution",
                                                                   "seconds")})
    row["params"] = timm_rows.parameters(meta["architecture"])
    rows.append(row)
  return rows


def tables(rows: list[dict]) -> str:
  """Markdown: the totals, the per-family table and every failure with its reason."""
  statuses = ("covered", "no family", "load", "parity", "reference", "row", "skipped", "not run")
  per_family = collections.defaultdict(collections.Counter)
  for row in rows:
    per_family[row["family"]][row["status"]] += 1
  covered = sum(r["status"] == "covered" for r in rows)
  checked = [r for r in rows if r["status"] not in ("no family", "not run", "skipped")]
  worst = max((max(float(r["logits_rel"] or 0), float(r["embedding_rel"] or 0)) for r in rows
               if r["status"] == "covered"), default=0.0)
  lines = [f"**covered {covered} / {len(rows)}** 1,000-class tags of timm 1.0.31 ({100 * covered / len(rows):.1f}%); "
           f"of the tags whose architecture a family matches and that were checked: {covered} / {len(checked)}; "
           f"largest relative error of a covered architecture: {worst:.1e}", "",
           "| family (timm file) | tags | " + " | ".join(statuses) + " |", "|---|---:|" + "---:|" * len(statuses)]
  for family, counts in sorted(per_family.items(), key=lambda item: (-item[1]["covered"], item[0])):
    lines.append(f"| {family} | {sum(counts.values())} | " + " | ".join(str(counts[s] or "") for s in statuses) + " |")
  failures = {}
  for row in rows:
    if row["status"] in ("load", "parity", "reference", "row", "skipped"):
      failures.setdefault((row["architecture"], row["status"], row["reason"]), []).append(row["tag"])
  if failures:
    lines += ["", "| architecture | status | tags | reason |", "|---|---|---:|---|"]
    lines += [f"| {a} | {s} | {len(t)} | {r.replace('|', '/')} |" for (a, s, r), t in sorted(failures.items())]
  return "\n".join(lines) + "\n"


def write(rows: list[dict], out: Path) -> None:
  out.parent.mkdir(parents=True, exist_ok=True)
  with open(out.with_suffix(".csv"), "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
  out.with_suffix(".md").write_text(tables(rows))


def previous_results(out: Path) -> dict[str, dict]:
  """The per-architecture results recorded in an earlier run's <out>.csv (a run that was stopped)."""
  if not out.with_suffix(".csv").exists():
    return {}
  results = {}
  with open(out.with_suffix(".csv")) as handle:
    for row in csv.DictReader(handle):
      if row["status"] in ("no family", "not run"):
        continue
      status = "ok" if row["status"] in ("covered", "row") else row["status"]
      results[row["architecture"]] = {
          "status": status, "reason": "" if status == "ok" else row["reason"], "resolution": row["resolution"],
          "seconds": row["seconds"], **{k: float(row[k]) for k in ("logits_rel", "embedding_rel") if row[k]}}
  return results


def architectures_to_check(families: str, limit: int | None) -> list[str]:
  """The architectures of 1,000-class tags that a converter family matches, in the ``families``
  (fnmatch patterns over timm's model files), the first ``limit``."""
  from zoo import timm_rows
  chosen = []
  for name in timm_rows.imagenet_tags(covered_only=False):
    meta = timm_rows.snapshot()[name]
    if (_in_families(meta["module"], families) and meta["architecture"] not in chosen
        and timm_rows.family_pattern(meta["architecture"]) is not None):
      chosen.append(meta["architecture"])
  return chosen[:limit] if limit else chosen


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--families", default="", help="fnmatch patterns over timm model files (default: all)")
  parser.add_argument("--limit", type=int, default=None, help="check at most this many architectures")
  parser.add_argument("--jobs", type=int, default=1, help="worker processes at once")
  parser.add_argument("--per_process", type=int, default=4, help="architectures per worker process")
  parser.add_argument("--max_params", type=float, default=400e6, help="larger architectures are skipped (memory)")
  parser.add_argument("--out", default=str(ROOT / "benchmarks" / "timm_coverage"), help="<out>.csv and <out>.md")
  parser.add_argument("--resume", action="store_true", help="reuse the architectures <out>.csv already checked")
  parser.add_argument("--report", action="store_true", help="only rebuild <out>.md/.csv from <out>.csv")
  parser.add_argument("--merge", default="", help="comma-separated CSVs of other runs (e.g. one family each, on "
                      "other machines): their checked architectures replace <out>.csv's, with --report or --resume")
  parser.add_argument("--worker", nargs=2, metavar=("CHUNK_JSON", "RESULT_JSON"), help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.worker:
    chunk = json.loads(Path(args.worker[0]).read_text())
    worker(chunk["architectures"], Path(args.worker[1]))
    return 0
  if not os.access(timm_python(), os.X_OK):
    print(f"error: the timm environment is missing ({timm_python()}); run scripts/setup.sh test,parity,timm or set "
          "$OVERLAP_TIMM_PYTHON.", file=sys.stderr)
    return 2
  from zoo import timm_rows
  architectures = architectures_to_check(args.families, args.limit)
  results = {a: {"status": "skipped", "reason": f"{timm_rows.parameters(a) / 1e6:.0f}M parameters > --max_params "
                                                f"{args.max_params:.0e} (memory)"}
             for a in architectures if (timm_rows.parameters(a) or 0) > args.max_params}
  merged = previous_results(Path(args.out))
  for other in filter(None, args.merge.split(",")):
    if not Path(other).is_file():
      print(f"error: --merge: {other} is not a file (a CSV another run of this benchmark wrote).", file=sys.stderr)
      return 2
    merged.update(previous_results(Path(other)))  # a later file's result for an architecture wins
  if args.report:
    rows = tag_rows(merged, args.families)
    write(rows, Path(args.out))
    print(tables(rows))
    return 0
  if args.resume:
    results.update({a: r for a, r in merged.items() if a in architectures})
  architectures = [a for a in architectures if a not in results]
  chunks = [architectures[i:i + args.per_process] for i in range(0, len(architectures), args.per_process)]
  print(f"{len(architectures)} architectures in {len(chunks)} worker processes, {args.jobs} at once", flush=True)
  start = time.perf_counter()
  with tempfile.TemporaryDirectory() as scratch, concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    def run(index: int, chunk: list[str]) -> dict:
      chunk_file, result_file = Path(scratch) / f"chunk{index}.json", Path(scratch) / f"result{index}.json"
      chunk_file.write_text(json.dumps({"architectures": chunk}))
      env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu"), "HF_HUB_OFFLINE": "1"}
      done = subprocess.run([sys.executable, __file__, "--worker", str(chunk_file), str(result_file)], env=env,
                            capture_output=True, text=True)
      if result_file.exists():
        return json.loads(result_file.read_text())
      reason = f"worker exited {done.returncode}: {' '.join(done.stderr.strip().splitlines()[-1:])[:300]}"
      return {a: {"status": "reference", "reason": reason} for a in chunk}
    futures = [pool.submit(run, i, chunk) for i, chunk in enumerate(chunks)]
    for future in concurrent.futures.as_completed(futures):
      for architecture, result in future.result().items():
        results[architecture] = result
        print(f"  {architecture}: {result['status']} {result.get('reason', '')} "
              f"({result.get('seconds', '?')} s)", flush=True)
      write(tag_rows(results, args.families), Path(args.out))
  rows = tag_rows(results, args.families)
  write(rows, Path(args.out))
  print(f"\n{tables(rows)}\n{time.perf_counter() - start:.0f} s; tables in {Path(args.out).with_suffix('.md')}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
