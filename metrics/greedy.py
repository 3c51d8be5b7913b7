"""Greedy ensemble selection (paper Fig. 5, §3.8).

From a start model, repeatedly add the pool model (without replacement) that
maximises the accuracy of the ensemble argmax_k Σ_{m ∈ S} score_m[k], the members
summed in selection order in float32 (the average of calibrated probabilities; the
1/|S| factor is left out so that no rounding of the division can create ties).
Ties between candidates go to the lowest model index; ties between classes to the
lowest class id, as ``numpy.argmax``.

Each step scores every remaining candidate on every example at once through the
certified candidate view (:mod:`metrics.candidates`), recomputing over all K classes
only the cases the bound does not decide.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from metrics import _checks
from metrics import candidates as candidates_lib


@dataclasses.dataclass(frozen=True)
class GreedyResult:
  """Outcome of :func:`greedy_selection`.

  Attributes:
    members: model indices in the order they joined; ``members[0]`` is the start.
    accuracy: float64[steps + 1] accuracy on the selection split after each step
      (entry 0: the start model alone).
    eval_accuracy: the same ensembles' accuracy on the report split, if given.
  """
  members: list[int]
  accuracy: np.ndarray
  eval_accuracy: np.ndarray | None = None

  @property
  def added(self) -> list[int]:
    return self.members[1:]


@jax.jit
def _score_candidates(running, candidate_label, candidate_margins, candidate_magnitude, candidate_outside,
                      num_members):
  """Certifies S ∪ {c} for every candidate c: (certain_correct, undecided) bool[C, E]."""
  label, margins, magnitude, outside = running
  tolerance = candidates_lib.rounding_tolerance(num_members + 1, magnitude[None] + candidate_magnitude)
  return candidates_lib.certify(label[None] + candidate_label, margins[None] + candidate_margins,
                                tolerance, outside[None] + candidate_outside)


class _Ensemble:
  """Running candidate-view sums of an ensemble on one split, members in order."""

  def __init__(self, stack: _checks.PredictionStack, view: candidates_lib.CandidateView, combine: str, start: int):
    self.stack, self.view, self.combine = stack, view, combine
    self.members = [start]
    self.running = (view.label_scores[start], view.margins[start], view.magnitude[start], view.outside[start])

  def correct_with(self, candidates: list[int], capacity: int | None = None) -> np.ndarray:
    """bool[C, E]: correctness of the current members plus each candidate. The candidates are
    padded to ``capacity`` rows (repeating the first), so every step of a selection runs
    the one compiled scoring kernel."""
    index = np.asarray(candidates, np.int64)
    padded = np.pad(index, (0, max(0, (capacity or len(index)) - len(index))), mode="edge")
    view = self.view
    certain, undecided = _score_candidates(self.running, view.label_scores[padded], view.margins[padded],
                                           view.magnitude[padded], view.outside[padded], len(self.members))
    certain = np.array(np.asarray(certain)[:len(index)])
    rows, examples = np.nonzero(np.asarray(undecided)[:len(index)])
    if rows.size:
      members = np.concatenate([np.broadcast_to(np.asarray(self.members, np.int64), (rows.size, len(self.members))),
                                index[rows][:, None]], axis=1)
      certain[rows, examples] = candidates_lib.full_sum_correct(
          self.stack, members, examples, view.labels, self.combine)
    return certain

  def add(self, model: int) -> None:
    self.members.append(model)
    view = self.view
    self.running = tuple(total + part[model] for total, part in
                         zip(self.running, (view.label_scores, view.margins, view.magnitude, view.outside)))


def greedy_selection(probs, labels, start: int, pool, steps: int, *, eval_probs=None,
                     eval_labels=None, combine: str = "prob", num_candidates: int = 8,
                     atol: float | None = None) -> GreedyResult:
  """Greedy forward selection of ensemble members (paper Fig. 5).

  Args:
    probs: float[N, E, K] calibrated probabilities on the selection split, or a
      sequence of N per-model float[E, K] array-likes (memmaps, the store's lazy
      reader), read model by model.
    labels: int[E].
    start: index of the (high-accuracy) start model.
    pool: indices of the candidate models (must not contain ``start``).
    steps: number of models to add, 1 <= steps <= len(pool).
    eval_probs, eval_labels: optional float[N, E', K] (or N × [E', K]) / int[E'] of a held-out report
      split: selection uses ``probs`` only, and the chosen ensembles are also scored here.
    combine: "prob" or "logit" (sum of log-probabilities).
  Returns:
    :class:`GreedyResult`.
  """
  stack = _checks.as_prediction_stack(probs, "probs")
  num_models = stack.num_models
  start = _checks.check_index_list([start], num_models, "start")[0]
  pool = _checks.check_index_list(pool, num_models, "pool")
  pool = sorted(i for i in pool if i != start) if start not in pool else None
  if pool is None:
    raise ValueError(f"pool contains the start model {start}; remove it from the pool.")
  if not 1 <= steps <= len(pool):
    raise ValueError(f"steps must be in [1, len(pool)={len(pool)}]; got {steps}.")
  if (eval_probs is None) != (eval_labels is None):
    raise ValueError("eval_probs and eval_labels must be given together.")

  view = candidates_lib.build_candidate_view(stack, labels, combine, num_candidates, atol)
  ensemble = _Ensemble(stack, view, combine, start)
  accuracy = [float(np.mean(np.asarray(view.correct[start])))]
  report = None
  if eval_probs is not None:
    eval_stack = _checks.as_prediction_stack(eval_probs, "eval_probs")
    if eval_stack.num_models != num_models or eval_stack.num_classes != stack.num_classes:
      raise ValueError(f"eval_probs has shape {eval_stack.shape}; it must hold the same "
                       f"{num_models} models and {stack.num_classes} classes as probs {stack.shape}.")
    eval_view = candidates_lib.build_candidate_view(eval_stack, eval_labels, combine, num_candidates, atol)
    report = _Ensemble(eval_stack, eval_view, combine, start)
    eval_accuracy = [float(np.mean(np.asarray(eval_view.correct[start])))]

  remaining = list(pool)
  for _ in range(steps):
    counts = ensemble.correct_with(remaining, capacity=len(pool)).sum(axis=1)
    best = int(np.argmax(counts))          # first maximum: the lowest model index
    chosen = remaining.pop(best)
    ensemble.add(chosen)
    accuracy.append(counts[best] / view.correct.shape[1])
    if report is not None:
      eval_accuracy.append(float(report.correct_with([chosen])[0].mean()))
      report.add(chosen)
  return GreedyResult(members=ensemble.members, accuracy=np.asarray(accuracy, np.float64),
                      eval_accuracy=None if report is None else np.asarray(eval_accuracy, np.float64))
