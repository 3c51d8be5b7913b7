"""Linear probes and feature-combination experiments on embedding arrays (paper §4.6–4.7).

Pure functions of arrays: no files, no flags.
"""

from probes.logistic import (KORNBLITH_L2_GRID, fit_linear_head, fit_logistic, fit_logistic_subsets, logistic_probe,
                             minimize_lbfgs, standardize, subset_probes)
from probes.mixing import DIVERSITY_RANKINGS, concatenate, diversity_order, mixture_indices, random_mixture
from probes.multilabel import eleven_point_average_precision, fit_one_vs_rest, mean_average_precision, multilabel_probe
from probes.ridge import ridge_path, ridge_probe, sample_k_shot
from probes.complementarity import Complementarity, pairwise_complementarity
from probes.splits import DenseClassSplit, dense_class_split
