"""Runs ``python -m launch.study`` inside ``tfds.testing.mock_data`` (a test helper).

  python tests/jobs/study_job.py NUM_EXAMPLES [launch.study flags ...]

Every TFDS dataset (imagenet2012, voc/2007, ...) then yields NUM_EXAMPLES random
examples per split, deterministically, so the paper config runs offline; the flags are
the study's own (also the multi-host ones: --coordinator_address, --num_processes,
--process_id).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's packages, not another install's

import tensorflow_datasets as tfds  # noqa: E402
from absl import app  # noqa: E402

import launch.study.__main__ as study_main  # noqa: E402


def main():
  num_examples, flags = int(sys.argv[1]), sys.argv[2:]
  with tfds.testing.mock_data(num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_CODE):
    app.run(lambda argv: sys.exit(study_main.main(argv)), argv=[sys.argv[0], *flags])


if __name__ == "__main__":
  main()
