"""BERT's uncased WordPiece tokenizer (Devlin et al. 2019; ALIGN's text tower), read from
a checkpoint's ``vocab.txt``.

Basic tokenisation: drop control characters, map whitespace to spaces, space out CJK
characters, lower-case and strip accents (NFD, drop combining marks), split on
whitespace and punctuation. Each word is then split greedily into the longest vocabulary
pieces (continuations prefixed ``##``); a word with no split is ``[UNK]``. Prompts become
``[CLS] … [SEP]`` padded with ``[PAD]`` to the context length (ALIGN: 64).
"""

from __future__ import annotations

import unicodedata

import numpy as np
from etils import epath

_MAX_WORD_CHARACTERS = 100  # longer words are [UNK], as in BERT


def _is_punctuation(char: str) -> bool:
  code = ord(char)
  return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or \
      unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
  return any(low <= code <= high for low, high in (
      (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
      (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))


def _clean(text: str) -> str:
  chars = []
  for char in text:
    code = ord(char)
    if code in (0, 0xFFFD) or (unicodedata.category(char).startswith("C") and char not in "\t\n\r"):
      continue
    if char in "\t\n\r " or unicodedata.category(char) == "Zs":
      chars.append(" ")
    elif _is_cjk(code):
      chars.append(f" {char} ")
    else:
      chars.append(char)
  return "".join(chars)


def basic_words(text: str, lowercase: bool = True) -> list[str]:
  """BERT's BasicTokenizer: cleaned, (lower-cased, accent-stripped) words and punctuation marks."""
  words = []
  for token in _clean(text).split():
    if lowercase:
      token = "".join(c for c in unicodedata.normalize("NFD", token.lower()) if unicodedata.category(c) != "Mn")
    current = ""
    for char in token:
      if _is_punctuation(char):
        words += [current, char] if current else [char]
        current = ""
      else:
        current += char
    if current:
      words.append(current)
  return words


class BertTokenizer:
  """``tokenizer(["a photo of a dog", ...])`` → int32 [N, context_length]."""

  def __init__(self, vocab: dict[str, int], context_length: int = 64, lowercase: bool = True):
    missing = [t for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]") if t not in vocab]
    if missing:
      raise ValueError(f"BERT vocabulary lacks the special tokens {missing}.")
    self.vocab, self.context_length, self.lowercase = vocab, context_length, lowercase
    self.start, self.end, self.pad, self.unknown = (vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"))

  @classmethod
  def from_directory(cls, directory, context_length: int = 64) -> "BertTokenizer":
    """From a checkpoint directory holding vocab.txt (one token a line, id = line number)."""
    file = epath.Path(directory) / "vocab.txt"
    if not file.exists():
      raise FileNotFoundError(f"{directory} lacks vocab.txt: BERT's WordPiece vocabulary (download it with the "
                              "checkpoint: --include '*.txt').")
    lines = file.read_text(encoding="utf-8").split("\n")
    return cls({token.rstrip("\r"): i for i, token in enumerate(lines) if token.rstrip("\r")}, context_length)

  def _wordpiece(self, word: str) -> list[int]:
    if len(word) > _MAX_WORD_CHARACTERS:
      return [self.unknown]
    ids, start = [], 0
    while start < len(word):
      for end in range(len(word), start, -1):  # the longest piece in the vocabulary first
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in self.vocab:
          ids.append(self.vocab[piece])
          start = end
          break
      else:
        return [self.unknown]
    return ids

  def encode(self, text: str) -> list[int]:
    """Token ids of one text, without [CLS] / [SEP]."""
    return [i for word in basic_words(text, self.lowercase) for i in self._wordpiece(word)]

  def __call__(self, texts: list[str]) -> np.ndarray:
    out = np.full((len(texts), self.context_length), self.pad, np.int32)
    for row, text in enumerate(texts):
      ids = [self.start] + self.encode(text)[: self.context_length - 2] + [self.end]
      out[row, : len(ids)] = ids
    return out
