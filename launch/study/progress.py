"""The study's own console output: stage lines and progress bars with rate and ETA.

On a terminal the bar redraws in place; elsewhere (a log file, a pipe) it prints a line
at most every ``interval_s`` seconds and once at the end, so logs stay short. Only
process 0 prints (every process runs the same steps).
"""

from __future__ import annotations

import sys
import time


def _is_main_process() -> bool:
  import jax
  return jax.process_index() == 0


def say(message: str) -> None:
  """One line of study output (process 0 only)."""
  if _is_main_process():
    print(message, flush=True)


def _duration(seconds: float) -> str:
  seconds = max(0, int(round(seconds)))
  return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class Bar:
  """``Bar(label, total, unit)``; ``update(done)`` with the absolute count; ``close()``.
  ``redraw``: None redraws in place on a terminal; False prints whole lines only (bars that
  run concurrently, which would overwrite each other's line)."""

  def __init__(self, label: str, total: int, unit: str = "examples", interval_s: float = 10.0, stream=None,
               redraw: bool | None = None):
    self.label, self.total, self.unit = label, max(int(total), 1), unit
    self.stream = stream or sys.stdout
    self.interactive = self.stream.isatty() if redraw is None else redraw and self.stream.isatty()
    self.interval_s = 0.2 if self.interactive else interval_s
    self.started = time.perf_counter()
    # A terminal draws at once; a log gets its first line after interval_s (short runs: one line).
    self.last = self.started - self.interval_s if self.interactive else self.started
    self.done = 0
    self.enabled = _is_main_process()

  def line(self) -> str:
    elapsed = time.perf_counter() - self.started
    rate = self.done / elapsed if elapsed > 0 else 0.0
    fraction = min(self.done / self.total, 1.0)
    filled = int(24 * fraction)
    eta = (self.total - self.done) / rate if rate > 0 else float("nan")
    eta_text = _duration(eta) if eta == eta else "?"
    return (f"  {self.label} [{'#' * filled}{'.' * (24 - filled)}] {100 * fraction:3.0f}% "
            f"{self.done}/{self.total} {self.unit}, {rate:,.0f} {self.unit}/s, ETA {eta_text}")

  def update(self, done: int, total: int | None = None) -> None:
    if total is not None:
      self.total = max(int(total), 1)
    self.done = int(done)
    now = time.perf_counter()
    if not self.enabled or now - self.last < self.interval_s:
      return
    self.last = now
    if self.interactive:
      self.stream.write("\r" + self.line() + "\x1b[K")
    elif self.done < self.total:
      self.stream.write(self.line() + "\n")
    self.stream.flush()

  def close(self, suffix: str = "") -> None:
    if not self.enabled:
      return
    elapsed = time.perf_counter() - self.started
    text = (f"  {self.label}: {self.done} {self.unit} in {_duration(elapsed)}"
            f" ({self.done / elapsed if elapsed > 0 else 0:,.0f} {self.unit}/s){suffix}")
    self.stream.write(("\r" + text + "\x1b[K\n") if self.interactive else text + "\n")
    self.stream.flush()
