"""Runs one command's bad inputs in one process (tests/test_bad_inputs.py): each case's
flags are parsed and its main() called as ``python -m launch.<command>`` would
(launch.cli), with stdout/stderr captured; prints one JSON object per case.

  python tests/jobs/bad_inputs_job.py launch.evaluate evaluate CASES.json SANDBOX
"""

import contextlib
import importlib
import io
import json
import os
import sys
import traceback


def snapshot(root):
  """Every file under ``root`` with its size and mtime (what a case must not change)."""
  files = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      stat = os.lstat(path)
      files[os.path.relpath(path, root)] = (stat.st_size, stat.st_mtime_ns)
  return files


def main():
  module_name, command, cases_path, sandbox = sys.argv[1:5]
  os.chdir(sandbox)
  from absl import flags
  module = importlib.import_module(module_name)
  from launch import cli
  from launch.configs import ConfigError  # every command's config mistakes (launch.configs)
  refused = (ConfigError,)
  for argv in json.load(open(cases_path)):
    flags.FLAGS.unparse_flags()
    before = snapshot(sandbox)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
      try:
        remaining = cli._flags_parser(command)([f"launch.{command}", *argv])
        status = cli.guarded(module.main, command, refused)(remaining)
      except SystemExit as exit:
        status = exit.code
      except BaseException:  # what the test must never see: a traceback for a user's mistake
        traceback.print_exc()
        status = "raised"
    changed = sorted(set(snapshot(sandbox).items()) ^ set(before.items()))
    print(json.dumps({"argv": argv, "status": status, "stdout": out.getvalue(), "stderr": err.getvalue(),
                      "changed": [c[0] for c in changed]}), flush=True)


if __name__ == "__main__":
  main()
