"""CLIP's byte-level BPE tokenizer (Radford et al. 2021), read from a checkpoint's
``vocab.json`` + ``merges.txt``, so zero-shot classifiers need no tokenizer library.

Text is NFC-normalised, whitespace-collapsed and lower-cased, split into words, numbers
and punctuation, mapped byte-wise to printable characters and merged by BPE rank; each
prompt becomes ``<|startoftext|> … <|endoftext|>`` padded with 0 to the context length.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata

import numpy as np
from etils import epath

# Words (letters), single digits, runs of other non-space characters; contractions first.
_SPLIT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+",
                    re.IGNORECASE)


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
  """GPT-2/CLIP's reversible byte → printable character map."""
  printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
      list(range(ord("®"), ord("ÿ") + 1))
  codes, extra = list(printable), 0
  for byte in range(256):
    if byte not in printable:
      printable.append(byte)
      codes.append(256 + extra)
      extra += 1
  return dict(zip(printable, map(chr, codes)))


class ClipTokenizer:
  """``tokenizer(["a photo of a dog", ...])`` → int32 [N, context_length]."""

  def __init__(self, vocab: dict[str, int], merges: list[tuple[str, str]], context_length: int = 77):
    self.vocab, self.context_length = vocab, context_length
    self.ranks = {pair: rank for rank, pair in enumerate(merges)}
    self.start, self.end = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    self.byte_map = bytes_to_unicode()
    self._cache: dict[str, list[int]] = {}

  @classmethod
  def from_directory(cls, directory, context_length: int = 77) -> "ClipTokenizer":
    """From a checkpoint directory holding vocab.json and merges.txt."""
    directory = epath.Path(directory)
    missing = [f for f in ("vocab.json", "merges.txt") if not (directory / f).exists()]
    if missing:
      raise FileNotFoundError(f"{directory} lacks {missing}: CLIP's tokenizer files (download them with the "
                              "checkpoint: --include '*.json' '*.txt').")
    vocab = json.loads((directory / "vocab.json").read_text())
    lines = (directory / "merges.txt").read_text(encoding="utf-8").splitlines()
    merges = [tuple(line.split()) for line in lines if line and not line.startswith("#version")]
    return cls(vocab, merges, context_length)

  def _bpe(self, word: str) -> list[int]:
    if word in self._cache:
      return self._cache[word]
    symbols = list(word[:-1]) + [word[-1] + "</w>"]
    while len(symbols) > 1:
      pairs = [(self.ranks.get(pair, float("inf")), i) for i, pair in enumerate(zip(symbols, symbols[1:]))]
      rank, i = min(pairs)
      if rank == float("inf"):
        break
      first, second = symbols[i], symbols[i + 1]
      merged, j = [], 0
      while j < len(symbols):  # merge every occurrence of the best pair, left to right
        if j < len(symbols) - 1 and symbols[j] == first and symbols[j + 1] == second:
          merged.append(first + second)
          j += 2
        else:
          merged.append(symbols[j])
          j += 1
      symbols = merged
    ids = [self.vocab[s] for s in symbols]
    self._cache[word] = ids
    return ids

  def encode(self, text: str) -> list[int]:
    """Token ids of one text, without start/end tokens."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().lower()
    ids: list[int] = []
    for word in _SPLIT.findall(text):
      ids.extend(self._bpe("".join(self.byte_map[b] for b in word.encode("utf-8"))))
    return ids

  def __call__(self, texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), self.context_length), np.int32)
    for row, text in enumerate(texts):
      ids = [self.start] + self.encode(text)[: self.context_length - 2] + [self.end]
      out[row, : len(ids)] = ids
    return out


def prompt_token_ids(tokenizer: ClipTokenizer, class_names: list[str], templates: list[str]) -> np.ndarray:
  """Token ids [classes, templates, context] of every template filled with every class name
  (templates use ``{}``, e.g. "a photo of a {}.")."""
  texts = [template.format(name) for name in class_names for template in templates]
  return tokenizer(texts).reshape(len(class_names), len(templates), -1)
