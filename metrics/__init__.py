"""Pairwise metrics of the study, as jitted array operations over all pairs of models.

Pure functions of arrays: no files, no flags. See each function's docstring for its
formula and the paper figure it serves.
"""

from metrics.agreement import accuracy, cohen_kappa, error_inconsistency, outcome_rates, top1_correct
from metrics.ensemble import PairwiseOutcomes, pair_indices, pairwise_ensemble, pairwise_outcomes, summarize
from metrics.greedy import GreedyResult, greedy_selection
