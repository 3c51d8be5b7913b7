"""flax.nnx architectures. Every image model's ``__call__(images)`` on preprocessed float32
NHWC images returns ``(logits, embedding)``: the embedding is the pre-logit
representation (timm's ``forward_head(pre_logits=True)``), from the same forward."""
