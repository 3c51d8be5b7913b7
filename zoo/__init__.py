"""Model zoo: registry rows (architecture + weights + preprocessing + training method), nnx modules."""

from zoo import catalog_small  # noqa: F401  (registers the small catalog)
from zoo.loading import WeightsUnavailable, build, load, save_weights
from zoo.preprocessing import Preprocessing
from zoo.registry import (CATEGORIES, ModelEntry, WeightSource, get, list_models, pair_category, register,
                          resolve_patterns)
