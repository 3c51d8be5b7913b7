"""Temperature scaling (Guo et al., 2017): one scalar temperature per model.

The paper calibrates every model before ensembling (§2.5). Temperatures are fitted on
a held-out split by minimising the mean negative log-likelihood

  NLL(T) = (1/E) Σ_e [ logsumexp_k(z_e,k / T) − z_e,y_e / T ],

which is convex in β = 1/T: dNLL/dβ = mean_e(E_softmax(βz)[z] − z_y) and
d²NLL/dβ² = mean_e Var_softmax(βz)[z] ≥ 0. We run Newton's method on β, safeguarded by
bisection inside a bracket, so it converges in a handful of full passes.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks


def _nll_terms(beta, logits, labels):
  """(NLL, dNLL/dβ, d²NLL/dβ²) at inverse temperature β for one model's logits [E, K]."""
  z = logits.astype(jnp.float32)
  log_p = jax.nn.log_softmax(beta * z, axis=-1)
  p = jnp.exp(log_p)
  z_label = jnp.take_along_axis(z, labels[:, None], axis=1)[:, 0]
  mean_z = jnp.sum(p * z, axis=-1)
  var_z = jnp.sum(p * jnp.square(z - mean_z[:, None]), axis=-1)
  nll = -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1)[:, 0])
  return nll, jnp.mean(mean_z - z_label), jnp.mean(var_z)


@functools.partial(jax.jit, static_argnames=("max_iterations",))
def _fit_inverse_temperature(logits, labels, beta_low, beta_high, tolerance, max_iterations):
  """Safeguarded Newton on the convex NLL(β) over [beta_low, beta_high]."""
  gradient = lambda beta: _nll_terms(beta, logits, labels)[1]

  def cond(state):
    low, high, _, step, it = state
    return (it < max_iterations) & (high - low > tolerance * high) & (jnp.abs(step) > tolerance * high)

  def body(state):
    low, high, beta, _, it = state
    _, grad, hess = _nll_terms(beta, logits, labels)
    low = jnp.where(grad < 0, beta, low)
    high = jnp.where(grad > 0, beta, high)
    newton = beta - grad / jnp.maximum(hess, 1e-30)
    inside = (newton > low) & (newton < high) & jnp.isfinite(newton)
    proposal = jnp.where(inside, newton, jnp.sqrt(low * high))
    converged = grad == 0
    return low, high, jnp.where(converged, beta, proposal), jnp.where(converged, 0.0, proposal - beta), it + 1

  at_low, at_high = gradient(beta_low), gradient(beta_high)
  start = jnp.clip(1.0, beta_low, beta_high)
  low, high, beta, _, _ = jax.lax.while_loop(cond, body, (beta_low, beta_high, start, jnp.inf, 0))
  # A minimum on the boundary: the gradient does not change sign inside the bracket.
  beta = jnp.where(at_low >= 0, beta_low, jnp.where(at_high <= 0, beta_high, beta))
  return beta


def fit_temperature(logits, labels, *, min_temperature: float = 0.01, max_temperature: float = 100.0,
                    tolerance: float = 1e-6, max_iterations: int = 100) -> np.ndarray:
  """Fits one temperature per model by minimising NLL on a held-out split.

  Args:
    logits: float[N, E, K] (or [E, K] for one model) held-out logits.
    labels: int[E].
    min_temperature, max_temperature: the search bracket; a model whose NLL keeps
      falling past it gets the boundary value.
  Returns:
    float64[N] temperatures T (use with :func:`apply_temperature`).
  """
  logits = np.asarray(logits) if not hasattr(logits, "shape") else logits
  single = len(logits.shape) == 2
  if single:
    logits = logits[None]
  num_models, num_examples, num_classes = _checks.check_prediction_stack(logits, "logits")
  labels = jnp.asarray(_checks.as_labels(labels, num_examples, num_classes))
  if not 0 < min_temperature < max_temperature:
    raise ValueError(f"need 0 < min_temperature < max_temperature; got {min_temperature}, {max_temperature}.")
  temperatures = []
  for model in range(num_models):
    model_logits = jnp.asarray(logits[model])
    if not bool(jnp.all(jnp.isfinite(model_logits))):
      raise ValueError(f"logits[{model}] holds NaN or infinite values.")
    beta = _fit_inverse_temperature(model_logits, labels, jnp.float32(1 / max_temperature),
                                    jnp.float32(1 / min_temperature), jnp.float32(tolerance), max_iterations)
    temperatures.append(1.0 / float(beta))
  return np.asarray(temperatures[0] if single else temperatures, np.float64)


@jax.jit
def _apply(logits, temperature):
  return jax.nn.softmax(logits.astype(jnp.float32) / temperature[:, None, None], axis=-1)


def apply_temperature(logits, temperature) -> jax.Array:
  """Calibrated probabilities softmax(z / T), float32[N, E, K], with T float[N] per model."""
  logits = jnp.asarray(logits)
  temperature = jnp.asarray(temperature, jnp.float32).reshape(-1)
  if logits.ndim != 3 or temperature.shape[0] != logits.shape[0]:
    raise ValueError(f"logits must be [N, E, K] and temperature [N]; got {logits.shape} and {temperature.shape}.")
  if not bool(jnp.all(temperature > 0)):
    raise ValueError(f"temperature must be positive; got {np.asarray(temperature)}.")
  return _apply(logits, temperature)


def negative_log_likelihood(logits, labels, temperature=1.0) -> np.ndarray:
  """Mean NLL of softmax(z / T) per model, float[N] (reported before/after calibration)."""
  logits = jnp.asarray(logits)
  temperature = jnp.broadcast_to(jnp.asarray(temperature, jnp.float32), (logits.shape[0],))
  labels = jnp.asarray(_checks.as_labels(labels, logits.shape[1], logits.shape[2]))
  return np.asarray(jax.vmap(lambda z, t: _nll_terms(1.0 / t, z, labels)[0])(logits, temperature))
