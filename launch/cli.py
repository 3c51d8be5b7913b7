"""What every ``python -m launch.*`` command does with a user's mistake: one paragraph on
stderr, exit status 2, no traceback (``--debug`` shows it), nothing written.

  if __name__ == "__main__":
    cli.run(main, "evaluate")

A command raises :class:`BadInput` (or absl's ``app.UsageError``) for bad input, before
any work; flag-parsing errors (an unknown flag, a value of the wrong type or out of its
bounds) take the same way.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

from absl import app, flags

DEBUG = flags.DEFINE_bool("debug", False, "Show the Python traceback of a refused input (for bug reports).")
EXIT_BAD_INPUT = 2


class BadInput(ValueError):
  """A user's mistake: the message names the flag, file or field and the fix."""


def refuse(command: str, message: str) -> None:
  """Prints ``overlap <command>: <message>`` as one paragraph on stderr."""
  text = " ".join(str(message).split())  # one paragraph (one line), however the message was built
  print(f"overlap {command}: {text}", file=sys.stderr)


def _flags_parser(command: str):
  def parse(argv):
    try:
      return flags.FLAGS(argv)
    except Exception as error:  # flags.Error, or a --config file that cannot be read or run
      if "--debug" in argv:
        raise
      detail = str(error).strip().rstrip(".") if isinstance(error, flags.Error) else f"{type(error).__name__}: {error}"
      refuse(command, f"{detail}. Run `python -m launch.{command} --helpfull` for every flag.")
      sys.exit(EXIT_BAD_INPUT)
  return parse


def guarded(main, command: str, refused: tuple[type[BaseException], ...] = ()):
  """``main`` with :class:`BadInput`, ``app.UsageError`` and ``refused`` turned into
  :func:`refuse` and exit 2 (re-raised under ``--debug``); its return value is the exit status."""
  def call(argv) -> int:
    try:
      return main(argv) or 0
    except (BadInput, app.UsageError, *refused) as error:
      if flags.FLAGS.is_parsed() and DEBUG.value:
        raise
      refuse(command, str(error))
      return EXIT_BAD_INPUT
  return call


def run(main, command: str, refused: tuple[type[BaseException], ...] = ()) -> None:
  """``app.run`` of :func:`guarded` ``main`` with flag errors refused (exit 2)."""
  app.run(lambda argv: sys.exit(guarded(main, command, refused)(argv)), flags_parser=_flags_parser(command))


def check_output_dir(flag: str, value) -> Path:
  """``--flag=value`` names a directory that exists or can be created and written (it is
  not created here): a file there, or an unwritable parent, is :class:`BadInput`."""
  path = Path(value).expanduser().absolute()
  if path.exists() and not path.is_dir():
    raise BadInput(f"--{flag}={value} is a file; pass a directory (new or existing), e.g. --{flag}={value}_dir.")
  existing = next((p for p in [path, *path.parents] if p.exists()), None)
  if existing is None or not existing.is_dir():
    raise BadInput(f"--{flag}={value}: {existing} is a file, not a directory; pass --{flag}=DIR in a writable place.")
  probe = existing / f".overlap-write-test-{uuid.uuid4().hex}"
  try:
    probe.write_bytes(b"")
    probe.unlink()
  except OSError as error:
    raise BadInput(f"--{flag}={value}: {existing} cannot be written ({error.strerror}); pass --{flag}=DIR in a "
                   "writable place.") from None
  return path


def check_input_dir(flag: str, value) -> None:
  """``--flag=value`` names an existing directory (local paths only; ``gs://`` is not checked)."""
  if "://" in str(value):
    return
  path = Path(value).expanduser()
  if not path.exists():
    raise BadInput(f"--{flag}={value} does not exist; pass the directory it should name.")
  if not path.is_dir():
    raise BadInput(f"--{flag}={value} is a file, not a directory; pass the directory it should name.")
  if not os.access(path, os.R_OK | os.X_OK):
    raise BadInput(f"--{flag}={value} cannot be read; fix its permissions.")
