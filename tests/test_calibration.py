"""Temperature scaling vs. scipy's bounded scalar minimiser on a naive NLL."""

import numpy as np
import pytest
import scipy.optimize
import scipy.special

import metrics


def naive_nll(logits, labels, temperature):
  scaled = logits / temperature
  return np.mean(scipy.special.logsumexp(scaled, axis=1) - scaled[np.arange(len(labels)), labels])


def test_fitted_temperature_minimises_nll(rng):
  labels = rng.integers(0, 10, 800)
  logits = rng.normal(size=(4, 800, 10)) * np.array([0.5, 2.0, 4.0, 8.0])[:, None, None]
  logits[:, np.arange(800), labels] += np.array([0.5, 2.0, 5.0, 9.0])[:, None]
  temperatures = metrics.fit_temperature(logits, labels)
  for model in range(4):
    reference = scipy.optimize.minimize_scalar(lambda t: naive_nll(logits[model], labels, t), bounds=(0.01, 100),
                                               method="bounded", options={"xatol": 1e-9})
    assert temperatures[model] == pytest.approx(reference.x, rel=1e-4)
    assert naive_nll(logits[model], labels, temperatures[model]) <= reference.fun + 1e-7
  nll = metrics.negative_log_likelihood(logits, labels, temperatures)
  np.testing.assert_allclose(nll, [naive_nll(logits[m], labels, temperatures[m]) for m in range(4)], rtol=1e-5)


def test_single_model_and_boundary(rng):
  labels = rng.integers(0, 3, 200)
  separable = np.eye(3)[labels] * 5.0  # perfectly separable: NLL keeps falling as T → 0
  assert metrics.fit_temperature(separable, labels, min_temperature=0.05) == pytest.approx(0.05)
  hopeless = np.eye(3)[(labels + 1) % 3] * 5.0  # always wrong: best is T → ∞
  assert metrics.fit_temperature(hopeless, labels, max_temperature=50.0) == pytest.approx(50.0)


def test_apply_temperature_is_softmax(rng):
  logits = rng.normal(size=(2, 30, 5))
  probs = np.asarray(metrics.apply_temperature(logits, [0.5, 2.0]))
  np.testing.assert_allclose(probs[0], scipy.special.softmax(logits[0] / 0.5, axis=-1), rtol=1e-5)
  np.testing.assert_allclose(probs[1], scipy.special.softmax(logits[1] / 2.0, axis=-1), rtol=1e-5)


def test_calibration_improves_ensemble_inputs(rng):
  labels = rng.integers(0, 10, 500)
  logits = rng.normal(size=(2, 500, 10)) * 6
  logits[:, np.arange(500), labels] += 6
  temperatures = metrics.fit_temperature(logits, labels)
  before = metrics.negative_log_likelihood(logits, labels)
  after = metrics.negative_log_likelihood(logits, labels, temperatures)
  assert np.all(after < before)


def test_bad_input(rng):
  with pytest.raises(ValueError, match="NaN or infinite"):
    metrics.fit_temperature(np.full((1, 4, 3), np.nan), np.zeros(4, int))
  with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
    metrics.fit_temperature(np.zeros((1, 4, 3)), np.array([0, 1, 2, 3]))
  with pytest.raises(ValueError, match="temperature must be positive"):
    metrics.apply_temperature(np.zeros((1, 4, 3)), [0.0])
  with pytest.raises(ValueError, match=r"temperature \[N\]"):
    metrics.apply_temperature(np.zeros((2, 4, 3)), [1.0])
