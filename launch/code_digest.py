"""sha256 of installed code: what a cache key says about the program that computed a result.

The files hashed are found through the import system (each package's own location, as
installed: a wheel in site-packages, an editable checkout, a zipapp's extracted tree), never
through paths relative to a source checkout, and each is named by its package path
(``launch/study/verdicts.py``), so the digest is the same wherever the package lives.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def package_root(package: str) -> Path:
  """The directory the import system loads ``package`` (dotted name) from."""
  spec = importlib.util.find_spec(package)
  if spec is None or not spec.submodule_search_locations:
    raise ModuleNotFoundError(f"{package!r} is not an installed package; install the project (pip install -e .).")
  return Path(next(iter(spec.submodule_search_locations)))


def packages_sha256(packages: tuple[str, ...], root: Path | None = None, skip=lambda name: False) -> str:
  """sha256 over every .py file of ``packages`` in sorted package-path order, each as
  ``<package path>/<file> NUL <bytes> NUL``, leaving out the files whose package path ``skip``
  is true for. ``root`` (tests) reads ``root/<package path>`` instead of the installed packages."""
  files = []
  for package in packages:
    folder = package.replace(".", "/")
    directory = Path(root) / folder if root is not None else package_root(package)
    files += [(f"{folder}/{path.relative_to(directory).as_posix()}", path) for path in directory.rglob("*.py")]
  digest = hashlib.sha256()
  for name, path in sorted(files):
    if skip(name):
      continue
    digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
  return digest.hexdigest()
