"""Fault injection on every artefact of the study (issue 27): each is damaged (truncated, a
byte flipped, deleted, its folder made read-only) or the study is SIGKILLed in each stage;
the rerun reports the damage in one line naming the file, recomputes only that part, and
writes a report equal byte for byte to a clean run's.

One clean run of a tiny study (the smoke config with the smallest settings) is shared by
the module; reruns run in-process (compiled programs are reused), kills in subprocesses.
"""

from __future__ import annotations

import csv
import io
import math
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from launch import locks
from launch.study import config as config_lib, pipeline, verdicts
from zoo import registry

ROOT = Path(__file__).resolve().parents[1]
TINY = ["models=cnn.s0,cnn.s1,mlp.s0", "train_split=train[:512]", "pretrain_examples=512",
        "selection_split=train[59000:59400]", "calibration_split=train[59400:]", "test_split=test[:400]",
        "sections.similarity.enabled=false", "sections.mixing.diversity_step=128", "probe_l2_grid=1e-2",
        "sections.downstream.iterations=50", "sections.mixing.probe_steps=30", "sections.mixing.rates=1.0,0.0",
        "resamples=20", "batch_size=200", "chunk_batches=1"]
STORE = "store/fashion_mnist"


def tiny_config():
  config, _ = config_lib.load("fashion_mnist.py:smoke")
  return config_lib.apply_overrides(config, TINY)


def run_study(out: Path, cache: Path) -> None:
  pipeline.run(tiny_config(), out, cache_dir=cache)


def report_files(out: Path) -> dict[str, bytes]:
  return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
  """(out, cache, report files) of one clean run."""
  base = tmp_path_factory.mktemp("clean")
  run_study(base / "report", base / "cache")
  return base / "report", base / "cache", report_files(base / "report")


def copy_cache(clean_cache: Path, target: Path, parts=("trained", "store", "analysis")) -> Path:
  target.mkdir(parents=True, exist_ok=True)
  for part in parts:
    shutil.copytree(clean_cache / part, target / part)
  return target


def checkpoint(cache: Path, model: str) -> Path:
  """The orbax directory of a trained row."""
  (found,) = [p for p in (cache / "trained").glob(f"*/small/{model}") if p.is_dir()]
  return found


def artefacts(cache: Path) -> dict[str, Path]:
  """One file of each artefact kind, each of another model or split (their damages do not overlap)."""
  weights = max((p for p in checkpoint(cache, "cnn.s1").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
  (analysis,) = (cache / "analysis").glob("claims-*.json")  # one section's result (each has its own file)
  return {"checkpoint weights": weights,
          "checkpoint sha256": checkpoint(cache, "mlp.s0").with_name("mlp.s0.sha256"),
          "store chunk": cache / STORE / "test[:400]" / "mlp.s0" / "chunk_00001.npz",
          "chunk sidecar": cache / STORE / "test[:400]" / "cnn.s1" / "chunk_00000.json",
          "store manifest": cache / STORE / "train[59400:]" / "cnn.s0" / "manifest.json",
          "analysis cache": analysis}


def damage(path: Path, fault: str) -> None:
  data = path.read_bytes()
  if fault == "truncate":
    path.write_bytes(data[: len(data) // 2])
  elif fault == "flip":
    middle = len(data) // 2
    path.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:])
  else:
    path.unlink()


def leftovers(*folders: Path) -> list[Path]:
  """Temporary files or folders a run left behind."""
  return [p for folder in folders for p in folder.rglob("*")
          if ".tmp" in p.name or ".staging-" in p.name or ".partial" in p.name or "orbax-checkpoint-tmp" in p.name]


@pytest.mark.parametrize("fault", ["truncate", "flip", "delete"])
def test_damaged_artefacts_are_reported_recomputed_and_the_report_is_unchanged(clean, tmp_path, capfd, caplog,
                                                                              fault):
  out, clean_cache, expected = clean
  cache = copy_cache(clean_cache, tmp_path / "cache")
  damaged = artefacts(cache)
  untouched = cache / STORE / "test[:400]" / "cnn.s0" / "chunk_00000.npz"
  before = untouched.stat().st_mtime_ns
  for path in damaged.values():
    damage(path, fault)
  run_study(tmp_path / "report", cache)
  said = capfd.readouterr()
  text = said.out + said.err + caplog.text  # the store's warnings go through logging
  assert report_files(tmp_path / "report") == expected
  assert "Traceback" not in text
  # One line naming each damaged file (deleted files are simply recomputed: nothing to name).
  lines = text.splitlines()
  if fault != "delete":
    for kind, path in damaged.items():
      model = {"checkpoint weights": "cnn.s1", "checkpoint sha256": "mlp.s0"}.get(kind)
      named = str(checkpoint(cache, model) if model else path)
      hits = [line for line in lines if named in line and ("damaged" in line or "mismatch" in line)]
      assert hits, (kind, path, text[-3000:])
  assert any("cnn.s1: damaged checkpoint, retraining" in line for line in lines)
  assert any("mlp.s0: damaged checkpoint, retraining" in line for line in lines)
  # Only the damaged parts were recomputed: another model's chunk was not rewritten.
  assert untouched.stat().st_mtime_ns == before
  assert all(p.exists() for kind, p in damaged.items() if kind != "checkpoint weights")  # its files are renamed
  assert not leftovers(cache, tmp_path)


def test_a_rerun_on_an_intact_cache_recomputes_nothing(clean, tmp_path, capfd):
  out, clean_cache, expected = clean
  cache = copy_cache(clean_cache, tmp_path / "cache")
  stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file() and "locks" not in p.parts}
  shutil.copytree(out, tmp_path / "report")  # a previous report is replaced
  run_study(tmp_path / "report", cache)
  assert report_files(tmp_path / "report") == expected
  assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
  text = capfd.readouterr().out
  assert text.count("cached (trained checkpoint") == 3 and "damaged" not in text


def _as_nobody() -> list[str]:
  if os.geteuid() != 0:
    return []
  if not shutil.which("setpriv"):
    pytest.skip("root without setpriv: a read-only folder cannot be simulated")
  return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


READ_ONLY = {"cache": "", "trained checkpoint folder": "trained", "store folder": STORE + "/test[:400]/cnn.s1",
             "analysis folder": "analysis"}


def test_read_only_folders_are_refused_up_front_naming_the_folder(clean, capfd):
  """Each folder made read-only (as an unprivileged user: root writes anyway): the paths
  check refuses it, naming it; the study itself exits 2 before any work."""
  _, clean_cache, _ = clean
  probe = subprocess.run([*_as_nobody(), sys.executable, "-c", "import launch.study.validate"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
  if probe.returncode != 0:  # e.g. a clone under a 0700 `mktemp -d` folder: the unprivileged user cannot run it
    pytest.skip(f"the unprivileged user cannot import the checkout at {ROOT} ({probe.stderr.strip().splitlines()[-1:]});"
                " run the suite from a checkout others can read")
  base = Path(tempfile.mkdtemp(prefix="overlap-ro-", dir="/tmp"))
  try:
    os.chmod(base, 0o755)
    cache = copy_cache(clean_cache, base / "cache")
    nobody = pwd.getpwuid(65534) if os.geteuid() == 0 else None
    for path in [base, *base.rglob("*")]:
      if nobody:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    checks = []
    for kind, folder in READ_ONLY.items():
      os.chmod(cache / folder, 0o555)
      command = [*_as_nobody(), sys.executable, "-c",
                 "import sys; from launch.study import validate\n"
                 "try:\n  validate.check_paths(sys.argv[1], sys.argv[2])\nexcept validate.ConfigError as e:\n"
                 "  print(e); sys.exit(2)", str(base / "report"), str(cache)]
      checks.append((kind, folder, subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)))
      os.chmod(cache / folder, 0o755)
    for kind, folder, result in checks:
      assert result.returncode == 2, (kind, result.stdout, result.stderr)
      assert str(cache / folder).rstrip("/") in result.stdout and "cannot be written" in result.stdout, kind
    # The whole command, once: exit 2, one paragraph, no report and no training.
    os.chmod(cache / "analysis", 0o555)
    result = subprocess.run([*_as_nobody(), sys.executable, "-m", "launch.study", "--config=fashion_mnist.py:smoke",
                             *[f"--set={item}" for item in TINY], f"--out={base / 'report'}",
                             f"--cache_dir={cache}"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(cache / "analysis") in result.stderr and "1/4 zoo" not in result.stdout
    assert not (base / "report").exists()
  finally:
    for path in [base, *base.rglob("*")]:
      if path.is_dir():
        os.chmod(path, 0o755)
    shutil.rmtree(base, ignore_errors=True)


# Per stage: the cache parts present when the killed run starts (the state a run reaches
# before that stage), and the line after which it is killed.
KILLS = {"zoo": ((), "trained "), "evaluation": (("trained", "analysis"), "2/4 evaluation"),
         "analysis": (("trained", "store"), "3/4 analysis"), "report": (("trained", "store", "analysis"), "4/4 report")}


@pytest.mark.parametrize("stage", list(KILLS))
def test_a_study_killed_in_each_stage_resumes_to_the_same_report(clean, tmp_path, stage):
  out, clean_cache, expected = clean
  parts, line = KILLS[stage]
  cache = copy_cache(clean_cache, tmp_path / "cache", parts)
  report = tmp_path / "report"
  if stage == "report":
    shutil.copytree(out, report)  # the kill lands while a previous report is being replaced
  process = subprocess.Popen([sys.executable, "-m", "launch.study", "--config=fashion_mnist.py:smoke",
                              *[f"--set={item}" for item in TINY], f"--out={report}", f"--cache_dir={cache}"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
  seen = []
  for text in process.stdout:
    seen.append(text)
    if line in text:
      time.sleep(0.3)
      process.send_signal(signal.SIGKILL)
      break
  process.wait(timeout=120)
  assert process.returncode == -signal.SIGKILL, "".join(seen)[-2000:]
  if stage == "report":  # the previous report is replaced by one rename at the end: whole either way
    assert report_files(report) == expected
  run_study(report, cache)
  assert report_files(report) == expected
  assert not leftovers(cache, tmp_path)


def test_two_runs_on_one_cache_compute_the_analysis_once(clean, tmp_path):
  """Two concurrent runs, the analysis to compute: one computes it, the other waits for it and
  reads it (its lock); both reports equal the clean run's."""
  out, clean_cache, expected = clean
  cache = copy_cache(clean_cache, tmp_path / "cache", ("trained", "store"))
  command = lambda name: [sys.executable, "-m", "launch.study", "--config=fashion_mnist.py:smoke",
                          *[f"--set={item}" for item in TINY], f"--out={tmp_path / name}", f"--cache_dir={cache}"]
  first = subprocess.Popen(command("a"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
  second = subprocess.Popen(command("b"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
  outputs = [process.communicate(timeout=900) for process in (first, second)]
  assert [p.returncode for p in (first, second)] == [0, 0], [o[1][-2000:] for o in outputs]
  assert report_files(tmp_path / "a") == expected == report_files(tmp_path / "b")
  # Each section's result is computed by one run and read from the cache by the other.
  for section in config_lib.SECTIONS:
    cached = [o[0] for o in outputs if f"  {section}: cached (" in o[0].split("3/4 analysis")[1]]
    assert len(cached) == 1, (section, [o[0] for o in outputs])


def test_locks_exclude_other_processes_and_threads(tmp_path):
  """A second process blocks on a held artefact lock until it is released; a thread too."""
  held = subprocess.Popen([sys.executable, "-c",
                           "import sys, time; from launch import locks\n"
                           "with locks.hold(sys.argv[1], 'store', 'a'):\n  print('held', flush=True); time.sleep(2)",
                           str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
  assert held.stdout.readline().strip() == "held"
  waited = []
  start = time.perf_counter()
  with locks.hold(tmp_path, "store", "a", on_wait=lambda: waited.append(time.perf_counter() - start)):
    acquired = time.perf_counter() - start
  held.wait(timeout=30)
  assert waited and acquired > 1.0
  with locks.hold(tmp_path, "store", "b"):  # another artefact: no wait
    pass
  order = []
  with locks.hold(tmp_path, "store", "a"):
    def take():
      with locks.hold(tmp_path, "store", "a"):
        order.append("t")
    thread = threading.Thread(target=take)
    thread.start()
    time.sleep(0.3)
    order.append("main")
  thread.join(timeout=10)
  assert order == ["main", "t"]


def test_a_replicated_study_keeps_each_draw_apart_and_replicate_0_is_the_single_run(clean, tmp_path, monkeypatch):
  """replicates=2 on the clean run's cache: replicate 0 is served from it (same rows, same
  analysis key), replicate 1 trains its own rows and writes its own analysis; each claim's
  combined estimate is the mean of the per-replicate estimates, which the report lists in the
  claim's own unit; replicate 0's column equals the single run's verdicts."""
  _, clean_cache, files = clean
  # The run registers replicate 1's rows (<row>@r1) in the process-wide registry: gone after this test.
  monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
  cache = tmp_path / "cache"
  copy_cache(clean_cache, cache)
  config = config_lib.apply_overrides(tiny_config(), ["replicates=2"])
  results = pipeline.run(config, tmp_path / "report", cache_dir=cache)
  assert len(list((cache / "analysis").glob("*.json"))) == 2 * len(config_lib.SECTIONS)  # per draw, none shared
  assert len(list((cache / "trained").iterdir())) == 2 * len(list((clean_cache / "trained").iterdir()))
  with open(tmp_path / "report" / "claims.csv") as handle:
    replicated = list(csv.DictReader(handle))
  single = list(csv.DictReader(io.StringIO(files["claims.csv"].decode())))
  quoted = re.compile(r"r(\d): ([+-](?:nan|inf|[0-9.e+-]+)) \[[^]]*\][^;]* (holds|does not hold|inconclusive)")
  checked = 0
  for claim, alone, row in zip(results["claims"], single, replicated):
    per_replicate = quoted.findall(row["per_replicate"])
    assert [r for r, _, _ in per_replicate] == ["0", "1"], row["per_replicate"]
    assert per_replicate[0][2] == alone["verdict"]  # replicate 0 is the single run
    scale = verdicts.UNITS[int(claim["claim"].split(".")[0])][0]
    estimates = [float(value) / scale for _, value, _ in per_replicate]
    if all(map(math.isfinite, estimates)) and math.isfinite(claim["statistic"].estimate):
      assert claim["statistic"].estimate == pytest.approx(sum(estimates) / 2, rel=5e-3, abs=1e-3 / scale)
      checked += 1
  assert checked >= 1  # at this size some claims are undefined (NaN) in a draw; not all
