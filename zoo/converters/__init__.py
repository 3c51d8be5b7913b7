"""Weight converters: PyTorch/transformers safetensors and Google .npz checkpoints → nnx state."""
