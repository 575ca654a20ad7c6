"""Character and word vocabularies: token ↔ id maps, saved as JSON next to a checkpoint.

Line mode needs one boundary token that both starts and ends a line (makemore uses "."):
- char level: the newline "\\n" itself (a line of text ends with one anyway);
  `CharVocab.from_text(text, lines=True)` includes it even when the text has a single line;
- word level: `<eos>`, which is also what every "\\n" in the text becomes, so a word model
  trained on a stream learns where lines end too.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from tinygrad_rnn.data.errors import DataError
from tinygrad_rnn.data.text import read_text

__all__ = ["CharVocab", "WordVocab", "tokenize", "vocab_from_json", "load_vocab",
           "UNK", "EOS", "LINE_BOUNDARY"]

UNK, EOS = "<unk>", "<eos>"
LINE_BOUNDARY = "\n"
_FIX = "re-create it with `tinygrad-rnn train`"
_V = TypeVar("_V", bound="_Vocab")
_TOKEN = re.compile(r"<unk>|<eos>|\n|\w+|[^\w\s]")
_WORD = re.compile(r"\w+")
_CLOSING, _OPENING = set(".,;:!?)]}%"), set("([{")   # no space before / after these
_SUFFIXES = {"s", "t", "re", "ve", "ll", "d", "m"}      # don't, it's, we're, I've, ...


def tokenize(text: str, lower: bool = False) -> list[str]:
    """Words and punctuation marks as separate tokens; each "\\n" becomes `<eos>`."""
    if lower:
        text = text.lower()
    return [EOS if t == "\n" else t for t in _TOKEN.findall(text)]


class _Vocab:
    """What both vocabularies share: the id ↔ token tables, decoding checks and JSON files."""

    kind = ""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            dup = next(t for t, n in Counter(self.itos).items() if n > 1)
            raise DataError(f"vocabulary token {dup!r} appears more than once")

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._json_fields() == other._json_fields()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} tokens)"

    def _json_fields(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokens": self.itos}

    def _tokens_of(self, ids: Iterable[int]) -> list[str]:
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
        if ids.ndim != 1:
            raise DataError(f"decode takes a 1-D sequence of ids, got shape {ids.shape}")
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise DataError(f"decode needs integer ids, got dtype {ids.dtype}")
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise DataError(f"id {int(bad[0])} is outside the vocabulary of {len(self)} tokens")
        return [self.itos[i] for i in ids.tolist()]

    def to_json(self) -> str:
        """The vocabulary as a JSON document (`from_json` reads it back)."""
        return json.dumps(self._json_fields(), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls: type[_V], text: str, source: str = "vocabulary") -> _V:
        """Read a vocabulary of this class from `to_json()` output; DataError if it is not one."""
        vocab = vocab_from_json(text, source)
        if not isinstance(vocab, cls):
            raise DataError(f"{source} is a {vocab.kind} vocabulary, not a {cls.kind} one: "
                            f"use the matching --level or {_FIX}")
        return vocab

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the JSON file atomically (a crash never leaves half a file behind)."""
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls: type[_V], path: str | os.PathLike[str]) -> _V:
        """Read a file written by `save`; DataError if it is missing, corrupt or the wrong kind."""
        return cls.from_json(read_text(path), os.fspath(path))


class CharVocab(_Vocab):
    """One id per character, in the order given (`from_text` sorts them by code point)."""

    kind = "char"

    def __init__(self, chars: Sequence[str]) -> None:
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise DataError(f"a character vocabulary holds single characters, not {c!r}")
        super().__init__(chars)

    @classmethod
    def from_text(cls, text: str, lines: bool = False) -> CharVocab:
        """The sorted characters of `text` (plus "\\n" when `lines`, the line boundary)."""
        chars = set(text) | ({LINE_BOUNDARY} if lines else set())
        if not chars:
            raise DataError("cannot build a vocabulary from empty text: pass some text")
        return cls(sorted(chars))

    @property
    def boundary_id(self) -> int:
        """The id of "\\n", which starts and ends every line in line mode."""
        if LINE_BOUNDARY not in self.stoi:
            raise DataError("the vocabulary has no line boundary \"\\n\": build it with lines=True")
        return self.stoi[LINE_BOUNDARY]

    def unknown(self, text: str) -> set[str]:
        """The characters of `text` that are not in the vocabulary."""
        return set(text) - self.stoi.keys()

    def encode(self, text: str) -> np.ndarray:
        """The ids of `text`'s characters (int64); DataError naming the first unknown one."""
        try:
            return np.fromiter((self.stoi[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError:
            pos, char = next((i, c) for i, c in enumerate(text) if c not in self.stoi)
            raise DataError(f"unknown character {char!r} (U+{ord(char):04X}) at position {pos}: "
                            f"use only the {len(self)} characters of the training text") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text spelled by `ids`."""
        return "".join(self._tokens_of(ids))


class WordVocab(_Vocab):
    """`<unk>` = 0, `<eos>` = 1, then words and punctuation from most to least frequent."""

    kind = "word"

    def __init__(self, tokens: Sequence[str], lower: bool = False) -> None:
        if list(tokens[:2]) != [UNK, EOS]:
            raise DataError(f"a word vocabulary starts with {UNK!r}, {EOS!r}, "
                            f"not {list(tokens[:2])!r}")
        for t in tokens:
            if not isinstance(t, str) or not t or any(c.isspace() for c in t):
                raise DataError(f"a word vocabulary holds non-empty words, not {t!r}")
        super().__init__(tokens)
        self.lower = bool(lower)

    @classmethod
    def from_text(cls, text: str, lower: bool = False, max_size: int | None = None,
                  min_count: int = 1) -> WordVocab:
        """Words seen `min_count`+ times: the `max_size - 2` most frequent (ties sorted)."""
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise DataError(f"min_count must be a whole number >= 1, got {min_count!r}")
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < 3):
            raise DataError(f"max_size counts {UNK} and {EOS} too, so it must be >= 3, "
                            f"got {max_size!r}")
        counts = Counter(t for t in tokenize(text, lower) if t not in (UNK, EOS))
        words = sorted((w for w, n in counts.items() if n >= min_count),
                       key=lambda w: (-counts[w], w))
        if not words:
            raise DataError(f"no word occurs at least min_count={min_count} times: "
                            "pass more text or a smaller min_count")
        if max_size is not None:
            words = words[:max_size - 2]
        return cls([UNK, EOS, *words], lower)

    def _json_fields(self) -> dict[str, Any]:
        return {**super()._json_fields(), "lower": self.lower}

    @property
    def unk_id(self) -> int:
        """The id that every out-of-vocabulary word maps to."""
        return self.stoi[UNK]

    @property
    def boundary_id(self) -> int:
        """The id of `<eos>`, which starts and ends every line in line mode."""
        return self.stoi[EOS]

    def unknown(self, text: str) -> set[str]:
        """The words of `text` that are not in the vocabulary (`encode` maps them to `<unk>`)."""
        return set(tokenize(text, self.lower)) - self.stoi.keys()

    def encode(self, text: str) -> np.ndarray:
        """The ids of `text`'s tokens (int64); unknown words become `<unk>`."""
        return np.array([self.stoi.get(t, self.unk_id) for t in tokenize(text, self.lower)],
                        dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """The tokens as text, each `<eos>` a line break: "Hello, world (again)!". A space goes
        between two tokens except before . , ; : ! ? ) ] } %, after ( [ {, and on both sides of
        a contraction's apostrophe (don't, it's). Two words always keep their space, so
        `tokenize` reads the text back as the same tokens."""
        lines, words = [], []
        for token in self._tokens_of(ids):
            if token == EOS:
                lines.append(_join(words) + "\n")
                words = []
            else:
                words.append(token)
        return "".join(lines) + _join(words)


def _join(tokens: list[str]) -> str:
    """One line's tokens as text (the spacing rule of WordVocab.decode)."""
    return "".join((" " if k and _spaced(tokens, k) else "") + t for k, t in enumerate(tokens))


def _spaced(tokens: list[str], k: int) -> bool:
    """Whether a space goes between tokens[k - 1] and tokens[k]."""
    before, token = tokens[k - 1], tokens[k]
    if token in _CLOSING or before in _OPENING:
        return False
    if token == "'" and k + 1 < len(tokens):  # word ' suffix: the apostrophe of a contraction
        return not (_WORD.fullmatch(before) and tokens[k + 1].lower() in _SUFFIXES)
    if before == "'" and k >= 2:
        return not (_WORD.fullmatch(tokens[k - 2]) and token.lower() in _SUFFIXES)
    return True


def vocab_from_json(text: str, source: str = "vocabulary") -> CharVocab | WordVocab:
    """A `CharVocab` or `WordVocab` from `to_json()` output; DataError if `text` is not one."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{source} is not a valid vocabulary (bad JSON: {e.msg} at line {e.lineno} "
                        f"column {e.colno}): {_FIX}") from None
    if not isinstance(doc, dict) or doc.get("kind") not in ("char", "word"):
        raise DataError(f"{source} is not a vocabulary file (no \"kind\": \"char\" or \"word\"): "
                        f"{_FIX}")
    tokens = doc.get("tokens")
    if not isinstance(tokens, list) or not tokens:
        raise DataError(f"{source} is not a valid vocabulary (\"tokens\" must be a non-empty "
                        f"list): {_FIX}")
    try:
        if doc["kind"] == "char":
            return CharVocab(tokens)
        if not isinstance(doc.get("lower"), bool):
            raise DataError("\"lower\" must be true or false")
        return WordVocab(tokens, doc["lower"])
    except DataError as e:
        raise DataError(f"{source} is not a valid vocabulary ({e}): {_FIX}") from None


def load_vocab(path: str | os.PathLike[str]) -> CharVocab | WordVocab:
    """Read a vocabulary file of either kind."""
    return vocab_from_json(read_text(path), os.fspath(path))
