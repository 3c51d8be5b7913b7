"""SigLIP's SentencePiece tokenizer (big_vision's ``c4_en`` model, transformers'
``SiglipTokenizer``), read from a checkpoint's ``spiece.model``.

Text is lower-cased, ASCII punctuation (``string.punctuation``) is removed and whitespace
collapsed; SentencePiece segments it; ``</s>`` ends every prompt (kept when truncating),
and rows are padded with the pad token (``</s>`` as well) to the context length, 64:
SigLIP's text tower reads the last position, so prompts must be padded to its length.
"""

from __future__ import annotations

import re
import string

import numpy as np
from etils import epath

_PUNCTUATION = str.maketrans("", "", string.punctuation)


def canonicalize(text: str, lowercase: bool = True) -> str:
  """big_vision / transformers' SigLIP text canonicalisation: lower-case, drop punctuation,
  collapse whitespace, strip."""
  if lowercase:
    text = text.lower()
  return re.sub(r"\s+", " ", text.translate(_PUNCTUATION)).strip()


class SiglipTokenizer:
  """``tokenizer(["a photo of a dog", ...])`` → int32 [N, context_length]."""

  def __init__(self, model_file, context_length: int = 64, lowercase: bool = True):
    import sentencepiece  # the C++ SentencePiece runtime: segmentation + the model's own normaliser
    self.processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
    self.context_length, self.lowercase = context_length, lowercase
    self.end = self.processor.piece_to_id("</s>")
    if self.processor.id_to_piece(self.end) != "</s>":
      raise ValueError(f"{model_file} has no '</s>' piece: not a SigLIP (T5-style) SentencePiece model.")
    self.pad = self.end  # transformers' SiglipTokenizer pads with </s>

  @classmethod
  def from_directory(cls, directory, context_length: int = 64) -> "SiglipTokenizer":
    """From a checkpoint directory holding spiece.model."""
    model_file = epath.Path(directory) / "spiece.model"
    if not model_file.exists():
      raise FileNotFoundError(f"{directory} lacks spiece.model: SigLIP's tokenizer (download it with the "
                              "checkpoint: --include '*.model').")
    return cls(model_file, context_length)

  def encode(self, text: str) -> list[int]:
    """Token ids of one text, without the end token."""
    return self.processor.encode(canonicalize(text, self.lowercase))

  def __call__(self, texts: list[str]) -> np.ndarray:
    out = np.full((len(texts), self.context_length), self.pad, np.int32)
    for row, text in enumerate(texts):
      ids = self.encode(text)[: self.context_length - 1] + [self.end]
      out[row, : len(ids)] = ids
    return out
