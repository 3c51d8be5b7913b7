"""Model registry, Flax (nnx) architectures and weight converters (in progress)."""
