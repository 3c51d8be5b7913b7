"""Where launch/ keeps what it downloads and converts: the one reader of ``$OVERLAP_CACHE``.

The library (zoo/) takes every cache directory as an argument and reads no environment;
these are the defaults the entry points pass it:

  root()       $OVERLAP_CACHE, else ~/.cache/overlap
  converted()  root()/converted   converted checkpoints (zoo.load's ``convert_cache``)
  downloads()  root()/downloads   gs:// checkpoints (zoo.load's ``download_cache``)
  study()      root()/study       the study's trained checkpoints and result store
"""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
  """$OVERLAP_CACHE, else ~/.cache/overlap."""
  return Path(os.environ.get("OVERLAP_CACHE") or Path.home() / ".cache" / "overlap")


def converted() -> Path:
  """root()/converted: converted checkpoints, keyed by source and the sha256 of its files."""
  return root() / "converted"


def downloads() -> Path:
  """root()/downloads: gs:// checkpoints fetched over HTTPS."""
  return root() / "downloads"


def study() -> Path:
  """root()/study: the study's trained checkpoints and result store."""
  return root() / "study"


def zoo_load() -> dict[str, Path]:
  """zoo.load's cache arguments: ``download_cache`` and ``convert_cache``."""
  return {"download_cache": downloads(), "convert_cache": converted()}
