"""The language model: token ids → embedding (or one-hot) → RNN/GRU/LSTM stack → logits.

A language model gives a sequence the probability of a product of conditionals,
    p(x₁ … x_T) = Π_t p(x_t | x₁ … x_{t−1}),
each one a softmax over the vocabulary computed from the hidden state that has read the tokens
before it. Training minimises the mean negative log of those conditionals (nats per token);
bits per character is the same number divided by ln 2, and perplexity is its exponential.

Scoring a text needs a context for its first token. Every text starts after the line boundary
("\\n" for characters, `<eos>` for words): a line-mode model was trained that way, and a stream
model has read many texts that start a line. Line mode also scores the boundary that ends the text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor, no_grad
from tinygrad_rnn.lm.generate import beam_search, generate
from tinygrad_rnn.nn import GRU, LSTM, RNN, Dropout, Embedding, Linear, Module
from tinygrad_rnn.nn.functional import cross_entropy, one_hot

__all__ = ["CELLS", "EVAL_LOGITS", "ConfigError", "ModelConfig", "LanguageModel", "State",
           "detach_state", "mean_loss", "bits", "perplexity", "Score", "score_ids", "boundary_id",
           "score_text", "sample_text", "beam_texts"]

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
State = Any  # None, h (L, B, H), or (h, c) for an LSTM: Tensors inside the model, arrays outside
EVAL_LOGITS = 1 << 22  # logits mean_loss makes at once (16 MiB of float32), whatever the batch


class ConfigError(ValueError):
    """A model setting is out of range; the message names the setting and its valid range."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the model; saved as config.json next to its checkpoint."""

    vocab_size: int
    cell: str = "gru"       # rnn, gru or lstm
    hidden: int = 128       # hidden units per layer
    layers: int = 1         # stacked recurrent layers
    embed: int = 32         # embedding width; 0 feeds one-hot vectors instead
    dropout: float = 0.0    # on the embedding, between layers and before the head

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}")
        for name, low in (("vocab_size", 1), ("hidden", 1), ("layers", 1), ("embed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be a number in [0, 1), got {self.dropout!r}")

    def to_json(self) -> str:
        """The settings as a JSON object."""
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_dict(cls, values: Any) -> ModelConfig:
        """Settings read back from `asdict`/JSON; ConfigError if a key is missing or unknown."""
        names = {f.name for f in fields(cls)}
        if not isinstance(values, dict) or not set(values) <= names or "vocab_size" not in values:
            raise ConfigError(f"a model config is a JSON object with the keys {sorted(names)}, "
                              f"got {values!r}"[:200])
        return cls(**values)


def detach_state(state: State) -> State:
    """The same state cut from the graph: truncated BPTT keeps the values, not the history."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def _to_tensor(state: State) -> State:
    if state is None or isinstance(state, Tensor):
        return state
    if isinstance(state, tuple):
        return tuple(Tensor(s) for s in state)
    return Tensor(state)


def _to_array(state: State) -> State:
    if isinstance(state, tuple):
        return tuple(s.data for s in state)
    return state.data


class LanguageModel(Module):
    """embedding (or one-hot) → dropout → RNN/GRU/LSTM layers → dropout → linear head."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.embedding = Embedding(c.vocab_size, c.embed) if c.embed else None
        self.rnn = CELLS[c.cell](c.embed or c.vocab_size, c.hidden, num_layers=c.layers,
                                 dropout=c.dropout if c.layers > 1 else 0.0)
        self.drop = Dropout(c.dropout)
        self.head = Linear(c.hidden, c.vocab_size)

    def forward(self, ids: np.ndarray, state: State = None) -> tuple[Tensor, State]:
        """ids (T, B) integers, state None or from the last call → logits (T, B, V), state."""
        outputs, state = self.features(ids, state)                         # (T, B, H)
        return self.logits(outputs), state                                 # (T, B, V)

    def features(self, ids: np.ndarray, state: State = None) -> tuple[Tensor, State]:
        """ids (T, B) → the top layer's outputs (T, B, H), before the head, and the state."""
        ids = np.asarray(ids)
        if self.embedding is not None:
            inputs = self.embedding(ids)                                   # (T, B, E)
        else:
            dtype = self.head.weight.dtype                                 # the model's
            inputs = one_hot(ids, self.config.vocab_size).astype(dtype)    # (T, B, V)
        return self.rnn(self.drop(inputs), state)                          # (T, B, H)

    def logits(self, outputs: Tensor) -> Tensor:
        """The head on top-layer outputs (..., H) → next-token logits (..., V)."""
        return self.head(self.drop(outputs))

    def loss(self, logits: Tensor, targets: np.ndarray) -> Tensor:
        """Mean cross-entropy in nats per token; targets of -100 (line padding) are ignored."""
        return cross_entropy(logits.reshape(-1, self.config.vocab_size),     # (T·B, V)
                             np.asarray(targets).reshape(-1))                # (T·B,)

    def step(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """One token per batch entry, ids (B,) → next-token logits (B, V) and the new state.
        States are numpy arrays here (what generate.py expects); no graph is recorded."""
        with no_grad():
            logits, state = self.forward(np.asarray(ids)[None, :], _to_tensor(state))
        return logits.data[0], _to_array(state)


def mean_loss(model: LanguageModel, batches: Iterable[tuple[np.ndarray, np.ndarray]],
              carry_state: bool) -> tuple[float, int]:
    """(mean nats per scored token, scored tokens) over the batches, without a graph.
    With carry_state the batches are consecutive windows of the same streams (stream mode).
    The head runs on at most EVAL_LOGITS logits at a time, so a long batch over a large
    vocabulary needs no more memory than a short one."""
    total, count, state = 0.0, 0, None
    rows_at_once = max(1, EVAL_LOGITS // model.config.vocab_size)
    with no_grad():
        for x, y in batches:
            outputs, state = model.features(x, state if carry_state else None)   # (T, B, H)
            rows = outputs.reshape(-1, outputs.shape[-1])                        # (T·B, H)
            targets = np.asarray(y).reshape(-1)                                  # (T·B,)
            for start in range(0, len(targets), rows_at_once):
                part = slice(start, start + rows_at_once)
                logits = model.logits(rows[part])                                # (≤ rows, V)
                total += cross_entropy(logits, targets[part], reduction="sum").item()
            count += int((targets != -100).sum())
    if count == 0:
        raise ValueError("mean_loss: there is no token to score")
    return total / count, count


def bits(nats: float) -> float:
    """A loss in nats per token as bits per token (bits per character at char level)."""
    return nats / math.log(2)


def perplexity(nats: float) -> float:
    """exp(loss): the number of equally likely tokens the model is as unsure as."""
    return math.exp(min(nats, 700.0))


@dataclass(frozen=True)
class Score:
    """How probable the model finds a sequence."""

    log_prob: float      # ln p(sequence), summed over the scored tokens
    tokens: int          # how many tokens were scored

    @property
    def loss(self) -> float:
        """Mean nats per scored token."""
        return -self.log_prob / self.tokens

    @property
    def perplexity(self) -> float:
        """exp(loss)."""
        return perplexity(self.loss)


def score_ids(model: LanguageModel, ids: np.ndarray) -> Score:
    """ln p(ids[1:] | ids[0]): the first id is the context (the line boundary), the rest scored."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) < 2:
        raise ValueError("score_ids needs a context id and at least one id to score")
    x, y = ids[:-1, None], ids[1:, None]                                   # (T, 1) each
    loss, tokens = mean_loss(model, [(x, y)], carry_state=False)
    return Score(-loss * tokens, tokens)


def boundary_id(vocab: Any) -> int | None:
    """The id of the line boundary ("\\n" or `<eos>`), or None if the vocabulary has none."""
    return vocab.stoi.get("\n", vocab.stoi.get("<eos>"))


def _context(vocab: Any, prime: str, rng: np.random.Generator) -> list[int]:
    """What generation starts from: the boundary (a random token without one), then the prime."""
    start = boundary_id(vocab)
    prime_ids = [int(i) for i in vocab.encode(prime)] if prime else []
    if start is None:
        return prime_ids or [int(rng.integers(len(vocab)))]
    return [start, *prime_ids]


def score_text(model: LanguageModel, vocab: Any, text: str, *, lines: bool = False) -> Score:
    """How probable `text` is as one line (line mode: its end scored too) or after a boundary."""
    ids = [int(i) for i in vocab.encode(text)]
    start = boundary_id(vocab)
    if start is not None:
        ids = [start, *ids, *([start] if lines else [])]
    if len(ids) < 2:
        raise ValueError(f"{text!r} is too short to score: give at least two tokens")
    was_training = model.training
    try:
        return score_ids(model.eval(), np.array(ids))
    finally:
        model.train(was_training)


def sample_text(model: LanguageModel, vocab: Any, rng: np.random.Generator, *,
                lines: bool = False, prime: str = "", max_len: int = 200, temperature: float = 1.0,
                top_k: int | None = None, top_p: float | None = None,
                greedy: bool = False) -> str:
    """The prime and up to max_len sampled tokens (line mode: until the end of the line)."""
    context = _context(vocab, prime, rng)
    was_training = model.training
    try:
        new = generate(model.eval().step, None, context, max_len=max_len, rng=rng,
                       temperature=temperature, top_k=top_k, top_p=top_p, greedy=greedy,
                       stop_id=boundary_id(vocab) if lines else None)
    finally:
        model.train(was_training)
    shown = context[1:] if boundary_id(vocab) is not None else context
    return vocab.decode(shown + new)


def beam_texts(model: LanguageModel, vocab: Any, *, lines: bool = False, prime: str = "",
               beam_width: int = 5, max_len: int = 200) -> list[tuple[str, float]]:
    """The beam_width most probable continuations of the prime, as (text, ln p), best first."""
    context = _context(vocab, prime, np.random.default_rng(0))
    was_training = model.training
    try:
        beams = beam_search(model.eval().step, None, context, beam_width=beam_width,
                            max_len=max_len, stop_id=boundary_id(vocab) if lines else None)
    finally:
        model.train(was_training)
    shown = context[1:] if boundary_id(vocab) is not None else context
    return [(vocab.decode(shown + ids), score) for ids, score in beams]
