"""One launch for any study: the paper's analysis as a config over any catalog and dataset.

From a notebook::

  from launch import study
  config, _ = study.load_config("launch/study/configs/fashion_mnist.py:smoke")
  config = study.apply_overrides(config, ["epochs=2"])
  results = study.run(config, "/tmp/report")      # every table of the report, as dicts

``python -m launch.study`` is a thin wrapper around :func:`run` (see __main__.py).
"""

from launch.study.config import ConfigError, apply_overrides, defaults
from launch.study.config import load as load_config
from launch.study.pipeline import run

__all__ = ["ConfigError", "apply_overrides", "defaults", "load_config", "run"]
