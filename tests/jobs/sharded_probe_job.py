"""Prints a logistic probe's results with and without example sharding (a test helper).

Run with XLA_FLAGS=--xla_force_host_platform_device_count=8.
"""

import json

import jax
import numpy as np

import probes
from launch import runner

rng = np.random.default_rng(0)
centers = rng.normal(size=(4, 12))
labels = rng.integers(0, 4, 301)                     # not a multiple of 8 devices
features = (centers[labels] + 2.5 * rng.normal(size=(301, 12))).astype(np.float32)
split = lambda a: (a[:181], a[181:241], a[241:])
(x_train, x_val, x_test), (y_train, y_val, y_test) = split(features), split(labels)
results = {}
for name, mesh in (("single", None), ("sharded", runner.data_mesh())):
  r = probes.logistic_probe(x_train, y_train, x_val, y_val, x_test, y_test, l2_grid=[1e-3, 1e-1, 10.0], mesh=mesh)
  results[name] = {"test_accuracy": r["test_accuracy"], "l2": r["l2"], "val": r["val_accuracy"].tolist(),
                   "weights": np.asarray(r["params"][0]).ravel()[:20].tolist()}
results["devices"] = jax.device_count()
print(json.dumps(results))
