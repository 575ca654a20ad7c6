"""Decoding tests on tiny hand-written step functions (Markov chains over V = 3 or 4 tokens).

Expected values are worked by hand on small distributions or found by brute-force enumeration of
every sequence; sampling is checked against the filtered distribution with a chi-square test.
"""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn.lm.generate import (
    GenerationError,
    beam_search,
    filter_logits,
    generate,
    sample_next,
    select_state,
)

# ---------------------------------------------------------------- step functions and references


def markov_step(probs):
    """First-order chain: the logits of the next token are log P[previous token]; no state."""
    log_p = np.log(np.asarray(probs, dtype=np.float64))

    def step(tokens, state):
        return log_p[tokens], state
    return step


def second_order_step(log_q):
    """Second-order chain: logits = log_q[token before previous, previous]. The state carries the
    token before previous as ((1, B) array,), so beam search must reorder it correctly."""
    def step(tokens, state):
        (before,) = state
        return log_q[before[0], tokens], (tokens[None, :],)
    return step


def recording(step):
    """Wrap a step function, recording the token ids it is fed."""
    fed = []

    def wrapped(tokens, state):
        fed.append(tokens.tolist())
        return step(tokens, state)
    return wrapped, fed


def enumerate_hypotheses(log_q, first_before, prime_last, max_len, stop_id, length_penalty):
    """Brute force: every complete hypothesis of the second-order chain with its score, sorted."""
    V = log_q.shape[0]
    found = {}
    for seq in itertools.product(range(V), repeat=max_len):
        if stop_id in seq:
            seq = seq[: seq.index(stop_id) + 1]       # stops at (and scores) its first stop_id
        before, prev, total = first_before, prime_last, 0.0
        for token in seq:
            total += log_q[before, prev, token]
            before, prev = prev, token
        ids = [t for t in seq if t != stop_id]
        found[tuple(seq)] = (ids, total / len(seq) ** length_penalty)
    return sorted(found.values(), key=lambda beam: -beam[1])


def random_log_table(seed, shape):
    table = np.random.default_rng(seed).random(shape) + 0.05
    return np.log(table / table.sum(axis=-1, keepdims=True))


CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27}    # chi-square quantiles at 0.999 (standard tables)


def assert_frequencies_match(samples, probs):
    """Samples stay on the support of probs and their counts pass a chi-square test at 0.1 %."""
    probs = np.asarray(probs, dtype=np.float64)
    counts = np.bincount(samples, minlength=len(probs))
    support = probs > 0
    assert counts[~support].sum() == 0, f"samples outside the support: {counts}"
    expected = len(samples) * probs[support]
    stat = (((counts[support] - expected) ** 2) / expected).sum()
    assert stat < CHI2_999[support.sum() - 1], f"chi-square {stat:.1f}: counts {counts}"


# ---------------------------------------------------------------- filter_logits

def test_temperature_matches_hand_formula():
    logits = np.log([1.0, 2.0, 4.0])              # softmax at T = 1: [1, 2, 4] / 7
    np.testing.assert_allclose(filter_logits(logits), np.array([1, 2, 4]) / 7)
    np.testing.assert_allclose(filter_logits(logits, temperature=0.5),      # squares: [1, 4, 16]
                               np.array([1, 4, 16]) / 21)
    r2 = math.sqrt(2)                                                       # roots: [1, √2, 2]
    np.testing.assert_allclose(filter_logits(logits, temperature=2.0),
                               np.array([1, r2, 2]) / (3 + r2))


def test_low_temperature_concentrates_on_argmax():
    logits = np.array([1.0, 2.0, 1.5, -3.0])
    probs = filter_logits(logits, temperature=1e-3)
    assert probs[1] == pytest.approx(1.0) and probs[[0, 2, 3]].max() < 1e-100
    draws = sample_next(np.tile(logits, (500, 1)), np.random.default_rng(0), temperature=1e-3)
    assert (draws == 1).all()


def test_filter_works_row_by_row_and_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 1000.0 + math.log(3)], [0.0, -np.inf]])
    np.testing.assert_allclose(filter_logits(logits), [[0.25, 0.75], [1.0, 0.0]])


@pytest.mark.parametrize("k, kept", [(1, [1]), (2, [1, 3]), (3, [0, 1, 3]), (4, [0, 1, 2, 3]),
                                     (9, [0, 1, 2, 3])])
def test_top_k_keeps_exactly_the_k_largest(k, kept):
    logits = np.log([0.2, 0.4, 0.1, 0.3])
    probs = filter_logits(logits, top_k=k)
    assert np.flatnonzero(probs).tolist() == kept
    full = np.array([0.2, 0.4, 0.1, 0.3])
    np.testing.assert_allclose(probs[kept], full[kept] / full[kept].sum())


def test_top_k_ties_go_to_the_lower_id():
    assert np.flatnonzero(filter_logits(np.array([1.0, 3.0, 3.0, 0.0]), top_k=1)).tolist() == [1]


@pytest.mark.parametrize("p, expected", [
    (0.3, [0, 1, 0, 0]),                        # 0.4 alone already reaches 0.3
    (0.65, [0, 4 / 7, 0, 3 / 7]),               # 0.4 + 0.3 = 0.7 >= 0.65
    (0.75, [0, 4 / 9, 2 / 9, 3 / 9]),           # 0.4 + 0.3 + 0.2 = 0.9 >= 0.75
    (1.0, [0.1, 0.4, 0.2, 0.3]),                # everything
])
def test_top_p_matches_hand_worked_nucleus(p, expected):
    np.testing.assert_allclose(filter_logits(np.log([0.1, 0.4, 0.2, 0.3]), top_p=p), expected)


def test_top_p_ties_go_to_the_lower_id_and_keep_one_token():
    probs = filter_logits(np.log([0.2, 0.3, 0.2, 0.3]), top_p=0.1)
    assert probs.tolist() == [0.0, 1.0, 0.0, 0.0]


def test_top_k_then_top_p_then_temperature_combine():
    # temperature 0.5 squares [0.1, 0.4, 0.2, 0.3] -> [1, 16, 4, 9] / 30; top-k 3 drops id 0
    # -> [16, 4, 9] / 29; top-p 0.6: 16/29 = 0.55 < 0.6, 25/29 >= 0.6 keeps ids 1, 3 -> [16, 9] / 25
    probs = filter_logits(np.log([0.1, 0.4, 0.2, 0.3]), temperature=0.5, top_k=3, top_p=0.6)
    np.testing.assert_allclose(probs, [0, 16 / 25, 0, 9 / 25])


# ---------------------------------------------------------------- sampling

@pytest.mark.parametrize("kwargs, probs", [
    ({}, [0.1, 0.4, 0.2, 0.3]),
    ({"temperature": 0.5}, np.array([1, 16, 4, 9]) / 30),
    ({"top_k": 2}, [0, 4 / 7, 0, 3 / 7]),
    ({"top_p": 0.75}, [0, 4 / 9, 2 / 9, 3 / 9]),
])
def test_sampling_frequencies_match_the_filtered_distribution(kwargs, probs):
    logits = np.tile(np.log([0.1, 0.4, 0.2, 0.3]), (20_000, 1))
    assert_frequencies_match(sample_next(logits, np.random.default_rng(1), **kwargs), probs)


def test_frequency_checker_rejects_the_wrong_distribution():
    logits = np.tile(np.log([0.1, 0.4, 0.2, 0.3]), (20_000, 1))
    unfiltered = sample_next(logits, np.random.default_rng(1))
    with pytest.raises(AssertionError, match="outside the support"):
        assert_frequencies_match(unfiltered, [0, 4 / 7, 0, 3 / 7])
    with pytest.raises(AssertionError, match="chi-square"):
        assert_frequencies_match(unfiltered, [0.25, 0.25, 0.25, 0.25])


def test_greedy_is_argmax_and_draws_nothing():
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    logits = np.array([[0.0, 2.0, 2.0], [5.0, 1.0, -1.0]])
    assert sample_next(logits, rng, greedy=True).tolist() == [1, 0]     # tie -> lower id
    assert rng.bit_generator.state == before


# ---------------------------------------------------------------- generate

CHAIN = np.array([           # CHAIN[prev, next]; greedy from 0 walks 0 -> 1 -> 2 -> 3 -> 0 -> ...
    [0.10, 0.60, 0.20, 0.10],
    [0.30, 0.10, 0.40, 0.20],
    [0.20, 0.20, 0.10, 0.50],
    [0.45, 0.25, 0.15, 0.15],
])


def test_greedy_generate_follows_the_argmax_path():
    assert generate(markov_step(CHAIN), None, [0], max_len=6, greedy=True) == [1, 2, 3, 0, 1, 2]


def test_prime_is_fed_in_order_and_its_last_token_starts_generation():
    step, fed = recording(markov_step(CHAIN))
    assert generate(step, None, [3, 1], max_len=2, greedy=True) == [2, 3]
    assert fed == [[3], [1], [2]]           # the last new token is never fed: no wasted step


def test_stop_id_stops_and_is_excluded():
    step, fed = recording(markov_step(CHAIN))
    assert generate(step, None, [0], max_len=50, greedy=True, stop_id=3) == [1, 2]
    assert fed == [[0], [1], [2]]


def test_sampled_generation_never_contains_stop_id_and_respects_max_len():
    lengths = set()
    for seed in range(40):
        out = generate(markov_step(CHAIN), None, [0], max_len=8, rng=np.random.default_rng(seed),
                       stop_id=0)
        assert 0 not in out and len(out) <= 8
        lengths.add(len(out))
    assert len(lengths) > 2                  # the stop really ends some runs early
    assert len(generate(markov_step(CHAIN), None, [0], max_len=8, rng=np.random.default_rng(0))
               ) == 8


def test_same_seed_same_output_different_seeds_differ():
    def run(seed):
        return generate(markov_step(CHAIN), None, [0], max_len=40, rng=np.random.default_rng(seed),
                        temperature=1.2, top_p=0.9)
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_generate_passes_state_through():
    def counting_step(tokens, state):
        return np.log(CHAIN[tokens]), state + 1
    seen = []

    def step(tokens, state):
        seen.append(state)
        return counting_step(tokens, state)
    generate(step, 10, [0, 0], max_len=3, greedy=True)
    assert seen == [10, 11, 12, 13]


# ---------------------------------------------------------------- beam search

# From 0, greedy takes 1 (0.5) then anything (0.25): 0.125. The best pair is 2 then 3: 0.4 * 0.9.
TRAP = np.array([
    [0.02, 0.50, 0.40, 0.08],
    [0.25, 0.25, 0.25, 0.25],
    [0.03, 0.03, 0.04, 0.90],
    [0.70, 0.10, 0.10, 0.10],
])


def test_beam_search_finds_the_best_sequence_where_greedy_does_not():
    log_q = np.broadcast_to(np.log(TRAP), (4, 4, 4))      # first order, seen as second order
    best_ids, best_score = enumerate_hypotheses(log_q, 0, 0, 3, None, 0.0)[0]
    greedy = generate(markov_step(TRAP), None, [0], max_len=3, greedy=True)
    assert best_ids == [2, 3, 0] and greedy != best_ids
    (ids, score), _ = beam_search(markov_step(TRAP), None, [0], beam_width=2, max_len=3)
    assert ids == best_ids
    assert score == pytest.approx(best_score) == pytest.approx(math.log(0.4 * 0.9 * 0.7))


@given(seed=st.integers(0, 2**32 - 1), stop_id=st.sampled_from([None, 0, 2]),
       max_len=st.integers(1, 6))
def test_beam_width_one_equals_greedy(seed, stop_id, max_len):
    log_p = random_log_table(seed, (3, 3))
    greedy = generate(markov_step(np.exp(log_p)), None, [1], max_len=max_len, greedy=True,
                      stop_id=stop_id)
    [(ids, score)] = beam_search(markov_step(np.exp(log_p)), None, [1], beam_width=1,
                                 max_len=max_len, stop_id=stop_id)
    assert ids == greedy
    path = [1] + greedy + ([stop_id] if len(greedy) < max_len else [])
    assert score == pytest.approx(sum(log_p[a, b] for a, b in itertools.pairwise(path)))


@given(seed=st.integers(0, 2**32 - 1), V=st.integers(2, 3), max_len=st.integers(1, 3),
       stop_id=st.sampled_from([None, 0]), length_penalty=st.sampled_from([0.0, 0.5, 1.0]))
def test_unpruned_beam_search_equals_brute_force_enumeration(seed, V, max_len, stop_id,
                                                             length_penalty):
    log_q = random_log_table(seed, (V, V, V))
    expected = enumerate_hypotheses(log_q, 1, V - 1, max_len, stop_id, length_penalty)
    state = (np.array([[1]]),)                                   # token before the prime: 1
    beams = beam_search(second_order_step(log_q), state, [V - 1], beam_width=len(expected),
                        max_len=max_len, stop_id=stop_id, length_penalty=length_penalty)
    assert [ids for ids, _ in beams] == [ids for ids, _ in expected]
    np.testing.assert_allclose([s for _, s in beams], [s for _, s in expected], rtol=1e-12)


def test_enumeration_check_catches_a_wrong_select_state():
    log_q = random_log_table(0, (3, 3, 3))
    expected = enumerate_hypotheses(log_q, 1, 2, 3, None, 0.0)
    beams = beam_search(second_order_step(log_q), (np.array([[1]]),), [2], beam_width=27,
                        max_len=3, select_state=lambda s, idx: select_state(s, idx[::-1]))
    assert [ids for ids, _ in beams] != [ids for ids, _ in expected]


def test_finished_beams_are_kept_and_returned_without_stop_id():
    # From 0: stop (3) at once with 0.45, or 1 then stop (0.35 * 0.9). Width 2 keeps both.
    chain = np.array([[0.05, 0.35, 0.15, 0.45], [0.05, 0.03, 0.02, 0.90],
                      [0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25]])
    beams = beam_search(markov_step(chain), None, [0], beam_width=2, max_len=5, stop_id=3)
    assert [ids for ids, _ in beams] == [[], [1]]
    np.testing.assert_allclose([s for _, s in beams], np.log([0.45, 0.35 * 0.9]))
    # length_penalty=1 ranks by mean log-prob per token: log(0.315) / 2 = -0.58 > log(0.45) = -0.80
    normed = beam_search(markov_step(chain), None, [0], beam_width=2, max_len=5, stop_id=3,
                         length_penalty=1.0)
    assert [ids for ids, _ in normed] == [[1], []]
    assert normed[0][1] == pytest.approx(math.log(0.35 * 0.9) / 2)


def test_zero_probability_tokens_are_never_beams():
    chain = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    with np.errstate(divide="ignore"):
        beams = beam_search(markov_step(chain), None, [0], beam_width=3, max_len=4)
    assert beams == [([1, 2, 0, 1], 0.0)]


def test_select_state_takes_batch_entries_of_nested_states():
    h = np.arange(2 * 3 * 2).reshape(2, 3, 2)               # (layers, B, H)
    c = -h
    idx = np.array([2, 0, 0])
    out = select_state((h, [c, None]), idx)
    assert isinstance(out, tuple) and isinstance(out[1], list) and out[1][1] is None
    np.testing.assert_array_equal(out[0], h[:, [2, 0, 0]])
    np.testing.assert_array_equal(out[1][0], c[:, [2, 0, 0]])
    np.testing.assert_array_equal(select_state(h[0], idx, axis=0), h[0][[2, 0, 0]])


# ---------------------------------------------------------------- bad input: one clear line each

def one_line_error(excinfo, *words):
    message = str(excinfo.value)
    assert "\n" not in message and all(w in message for w in words), message


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf")])
def test_bad_temperature(temperature):
    with pytest.raises(GenerationError) as excinfo:
        filter_logits(np.zeros(3), temperature=temperature)
    one_line_error(excinfo, "temperature", "> 0")
    with pytest.raises(GenerationError):
        generate(markov_step(CHAIN), None, [0], max_len=3, temperature=temperature)


@pytest.mark.parametrize("top_p", [0, -0.1, 1.5, float("nan")])
def test_bad_top_p(top_p):
    with pytest.raises(GenerationError) as excinfo:
        sample_next(np.zeros(3), top_p=top_p)
    one_line_error(excinfo, "top_p", "(0, 1]")


@pytest.mark.parametrize("top_k", [0, -2, 2.5, True])
def test_bad_top_k(top_k):
    with pytest.raises(GenerationError) as excinfo:
        generate(markov_step(CHAIN), None, [0], max_len=3, top_k=top_k)
    one_line_error(excinfo, "top_k", ">= 1")


@pytest.mark.parametrize("beam_width", [0, -1, 1.0])
def test_bad_beam_width(beam_width):
    with pytest.raises(GenerationError) as excinfo:
        beam_search(markov_step(CHAIN), None, [0], beam_width=beam_width, max_len=3)
    one_line_error(excinfo, "beam_width", ">= 1")


@pytest.mark.parametrize("max_len", [0, -5])
def test_bad_max_len(max_len):
    with pytest.raises(GenerationError) as excinfo:
        generate(markov_step(CHAIN), None, [0], max_len=max_len)
    one_line_error(excinfo, "max_len", ">= 1")
    with pytest.raises(GenerationError):
        beam_search(markov_step(CHAIN), None, [0], beam_width=2, max_len=max_len)


def test_bad_length_penalty():
    with pytest.raises(GenerationError) as excinfo:
        beam_search(markov_step(CHAIN), None, [0], beam_width=2, max_len=3,
                    length_penalty=float("nan"))
    one_line_error(excinfo, "length_penalty", "finite")


def test_empty_or_non_integer_prime():
    with pytest.raises(GenerationError) as excinfo:
        generate(markov_step(CHAIN), None, [], max_len=3)
    one_line_error(excinfo, "prime_ids", "start id")
    with pytest.raises(GenerationError):
        beam_search(markov_step(CHAIN), None, [0.5], beam_width=2, max_len=3)


def test_bad_logits():
    with pytest.raises(GenerationError) as excinfo:
        filter_logits(np.array([0.0, np.nan]))
    one_line_error(excinfo, "NaN")
    with pytest.raises(GenerationError) as excinfo:
        sample_next(np.array([[0.0, 1.0], [-np.inf, -np.inf]]), greedy=True)
    one_line_error(excinfo, "-inf")


def test_step_returning_the_wrong_shape():
    with pytest.raises(GenerationError) as excinfo:
        generate(lambda tokens, state: (np.zeros(4), state), None, [0], max_len=3)
    one_line_error(excinfo, "step", "(B, V)", "(4,)")


def test_unsupported_state_for_default_select_state():
    with pytest.raises(TypeError, match="select_state=") as excinfo:
        beam_search(markov_step(CHAIN), {"h": np.zeros((1, 1, 2))}, [0], beam_width=2, max_len=3)
    one_line_error(excinfo, "dict")
