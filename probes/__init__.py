"""Linear probes and feature-combination experiments on embedding arrays (in progress)."""
