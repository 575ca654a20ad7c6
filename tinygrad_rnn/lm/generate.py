"""Decoding: greedy, temperature, top-k, top-p (nucleus) sampling, and beam search.

Model-agnostic: everything runs on a *step function* and plain numpy arrays (callers run the model
under `no_grad()`):

    step(token_ids, state) -> (logits, new_state)
        token_ids  int64 array (B,)   one input token per batch entry
        logits     float array (B, V) unnormalised scores of the next token
        state      opaque to this module (the model's hidden state), passed back in unchanged

Beam search also reorders and duplicates batch entries of a state, with `select_state(state,
indices)`. The default handles an ndarray, None, or nested tuples/lists of them, with the batch on
axis 1 as in PyTorch's (layers, B, H) hidden states: `h` for RNN/GRU, `(h, c)` for LSTM.

Example, with a model `lm` whose `step` follows the contract above:

    ids = generate(lm.step, lm.init_state(1), [start_id], max_len=200, rng=manual_seed(0),
                   temperature=0.8, top_p=0.95, stop_id=end_id)
    beams = beam_search(lm.step, lm.init_state(1), [start_id], beam_width=5, max_len=50)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_rnn.engine.random import generator

__all__ = [
    "GenerationError", "Step", "filter_logits", "sample_next", "generate", "select_state",
    "beam_search",
]

Step = Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]


class GenerationError(ValueError):
    """A decoding argument is out of range; the message says which one and the valid range."""


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _check_positive_int(name: str, value: object) -> None:
    if not _is_int(value) or value < 1:
        raise GenerationError(f"{name} must be an integer >= 1 (got {value!r})")


def _check_sampling_args(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if not isinstance(temperature, (int, float, np.floating, np.integer)) or isinstance(
            temperature, bool) or not (math.isfinite(temperature) and temperature > 0):
        raise GenerationError(f"temperature must be a finite number > 0 (got {temperature!r})")
    if top_k is not None:
        _check_positive_int("top_k", top_k)
    if top_p is not None and not (isinstance(top_p, (int, float, np.floating))
                                  and 0 < top_p <= 1):
        raise GenerationError(f"top_p must be in (0, 1] (got {top_p!r})")


def _as_logits(logits: np.ndarray) -> np.ndarray:
    """Logits as float64, checked: at least 1-D, no NaN or +inf, at least one finite per row."""
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 0 or z.shape[-1] == 0:
        raise GenerationError(f"logits must have shape (..., V) with V >= 1 (got {z.shape})")
    if np.isnan(z).any() or (z == np.inf).any():
        raise GenerationError("logits must be finite or -inf (got NaN or +inf)")
    if (z == -np.inf).all(axis=-1).any():
        raise GenerationError("every logit of a row is -inf: no token can be chosen")
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))   # the largest exponent is 0: no overflow
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def filter_logits(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> np.ndarray:
    """Next-token probabilities (..., V) after temperature, then top-k, then top-p filtering.

    - temperature T > 0: p ∝ exp(logit / T); T < 1 sharpens, T > 1 flattens.
    - top_k: keep the k largest logits (all of them when k >= V); ties go to the lower token id.
    - top_p: keep the smallest set of most probable tokens whose total probability is >= p
      (at least one token); ties go to the lower token id. Applied after top-k, then renormalised.
    Filtered tokens get probability exactly 0. Works on the last axis, in float64.
    """
    _check_sampling_args(temperature, top_k, top_p)
    z = _as_logits(logits) / temperature
    if top_k is not None and top_k < z.shape[-1]:
        order = np.argsort(-z, axis=-1, kind="stable")             # descending, stable on ties
        z = z.copy()
        np.put_along_axis(z, order[..., top_k:], -np.inf, axis=-1)
    probs = _softmax(z)
    if top_p is not None:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_probs = np.take_along_axis(probs, order, axis=-1)
        mass_before = np.cumsum(sorted_probs, axis=-1)
        mass_before = np.concatenate([np.zeros_like(mass_before[..., :1]),
                                      mass_before[..., :-1]], axis=-1)
        drop = np.empty(probs.shape, dtype=bool)
        np.put_along_axis(drop, order, mass_before >= top_p, axis=-1)   # the first is never dropped
        probs = np.where(drop, 0.0, probs)
        probs /= probs.sum(axis=-1, keepdims=True)
    return probs


def sample_next(logits: np.ndarray, rng: np.random.Generator | None = None,
                temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                greedy: bool = False) -> np.ndarray:
    """Next token ids, int64 of shape logits.shape[:-1]: argmax if greedy, else a filtered draw.

    Greedy decoding takes the argmax of the raw logits (lowest id on ties) and draws nothing from
    rng; the sampling arguments are still checked. rng defaults to the package's generator.
    """
    _check_sampling_args(temperature, top_k, top_p)
    if greedy:
        return np.argmax(_as_logits(logits), axis=-1).astype(np.int64)
    probs = filter_logits(logits, temperature, top_k, top_p)
    cdf = np.cumsum(probs, axis=-1)
    u = generator(rng).random(probs.shape[:-1] + (1,)) * cdf[..., -1:]   # uniform in [0, total)
    return (cdf <= u).sum(axis=-1).astype(np.int64)   # the first id whose cdf exceeds u


def _call_step(step: Step, tokens: Sequence[int], state: Any) -> tuple[np.ndarray, Any]:
    logits, state = step(np.asarray(tokens, dtype=np.int64), state)
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[0] != len(tokens):
        raise GenerationError(f"step must return logits of shape (B, V) = ({len(tokens)}, V) "
                              f"for {len(tokens)} input tokens (got {logits.shape})")
    return logits, state


def _feed_prime(step: Step, state: Any, prime_ids: Sequence[int]) -> tuple[np.ndarray, Any]:
    """Run the prime through step one token at a time; return the last logits (1, V) and state."""
    prime = list(prime_ids)
    if not prime:
        raise GenerationError("prime_ids must hold at least one token id (pass the start id)")
    if not all(_is_int(t) for t in prime):
        raise GenerationError(f"prime_ids must be integer token ids (got {prime!r})")
    for token in prime:
        logits, state = _call_step(step, [token], state)
    return logits, state


def generate(step: Step, state: Any, prime_ids: Sequence[int], *, max_len: int,
             rng: np.random.Generator | None = None, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
             stop_id: int | None = None) -> list[int]:
    """Up to max_len new token ids after prime_ids (batch of 1), stopping at (without) stop_id.

    The prime is fed through step in order; its last token's logits give the first new token.
    With the same rng state the output is the same; rng defaults to the package's generator.
    """
    _check_positive_int("max_len", max_len)
    _check_sampling_args(temperature, top_k, top_p)
    logits, state = _feed_prime(step, state, prime_ids)
    out: list[int] = []
    while True:
        token = int(sample_next(logits[0], rng, temperature, top_k, top_p, greedy))
        if token == stop_id:
            return out
        out.append(token)
        if len(out) == max_len:
            return out
        logits, state = _call_step(step, [token], state)


def select_state(state: Any, indices: np.ndarray, axis: int = 1) -> Any:
    """The state with its batch entries taken at indices (reordered, repeated) along axis.

    state is an ndarray, None, or a tuple/list nesting them; every array has its batch on `axis`
    (1 for PyTorch's (layers, B, H) hidden states). Pass your own function for other states.
    """
    if state is None:
        return None
    if isinstance(state, np.ndarray):
        return np.take(state, indices, axis=axis)
    if isinstance(state, (tuple, list)):
        return type(state)(select_state(s, indices, axis) for s in state)
    raise TypeError(f"select_state: cannot index a {type(state).__name__} state; pass "
                    f"beam_search(select_state=...) for states other than arrays/tuples/lists")


def beam_search(step: Step, state: Any, prime_ids: Sequence[int], *, beam_width: int,
                max_len: int, stop_id: int | None = None, length_penalty: float = 0.0,
                select_state: Callable[[Any, np.ndarray], Any] = select_state,
                ) -> list[tuple[list[int], float]]:
    """The beam_width best continuations of prime_ids as (token ids, score), best first.

    Each step extends every live beam by every token and keeps the best (beam_width - finished)
    extensions by total log-probability; an extension ending in stop_id is finished and leaves the
    beam, keeping its slot (the textbook beam search). The search ends when no beam is live or
    after max_len tokens. Returned ids exclude stop_id. The score is the sum of the log-probs of
    the n scored tokens (stop_id included) divided by n ** length_penalty: 0 (the default) ranks
    by probability, 1 by mean log-prob per token. The penalty only reorders the final beams, since
    all candidates of one step have the same length. beam_width=1 is greedy decoding.
    """
    _check_positive_int("beam_width", beam_width)
    _check_positive_int("max_len", max_len)
    if not isinstance(length_penalty, (int, float, np.floating)) or not math.isfinite(
            length_penalty):
        raise GenerationError(f"length_penalty must be a finite number (got {length_penalty!r})")
    logits, state = _feed_prime(step, state, prime_ids)
    beams: list[list[int]] = [[]]                    # live beams' ids, best first
    scores = np.zeros(1)                             # their summed log-probs
    finished: list[tuple[list[int], float, int]] = []    # (ids, summed log-prob, scored tokens)
    for length in range(1, max_len + 1):
        candidates = scores[:, None] + _log_softmax(_as_logits(logits))   # (live, V)
        flat = candidates.ravel()
        order = np.argsort(-flat, kind="stable")[: beam_width - len(finished)]
        order = order[np.isfinite(flat[order])]     # a token of probability 0 is no candidate
        parents, tokens = np.divmod(order, candidates.shape[1])
        live = tokens != stop_id
        finished += [(beams[p], float(flat[i]), length)
                     for p, i in zip(parents[~live], order[~live], strict=True)]
        beams = [beams[p] + [int(t)] for p, t in zip(parents[live], tokens[live], strict=True)]
        scores = flat[order[live]]
        if not beams or length == max_len:
            break
        state = select_state(state, parents[live])
        logits, state = _call_step(step, tokens[live], state)
    ranked = finished + [(ids, float(s), length) for ids, s in zip(beams, scores, strict=True)]
    ranked = [(ids, total / n ** length_penalty) for ids, total, n in ranked]
    return sorted(ranked, key=lambda beam: -beam[1])
