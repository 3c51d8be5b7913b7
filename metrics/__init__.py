"""Pairwise metrics of the study, as jitted array operations over all pairs of models.

Pure functions of arrays: no files, no flags. See each function's docstring for its
formula and the paper figure it serves.
"""

from metrics._checks import PredictionStack
from metrics.agreement import accuracy, cohen_kappa, error_inconsistency, outcome_rates, top1_correct
from metrics.ensemble import (PairwiseOutcomes, example_mesh, pair_indices, pairwise_ensemble, pairwise_outcomes,
                              summarize)
from metrics.greedy import GreedyResult, greedy_selection
from metrics.bootstrap import Interval, paired_bootstrap, pairwise_intervals, resample_counts
from metrics.calibration import apply_temperature, fit_temperature, negative_log_likelihood
from metrics.fit import linear_fit, pair_values
from metrics.specialisation import (OUTCOME_GROUPS, class_specialisation, inconsistent_anywhere, outcome_group,
                                    per_class_outcomes, theta, theta_histograms, top1_confidence)
from metrics.similarity import (MEASURES, NeighbourGraphs, NullCalibration, cka, cka_intervals, cknna, knn_graphs,
                                mutual_knn, mutual_knn_intervals, permutation_null, scores_from_graphs)
from metrics.error_consistency import (ErrorConsistency, copy_probability, error_consistency_statistics,
                                       kappa_bounds, kappa_significance, unbiased_kappa)
