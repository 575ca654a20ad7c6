"""The language model: shapes, loss, scoring as a product of conditionals, step, sampling."""

import itertools
import json
import math

import numpy as np
import pytest

from tinygrad_rnn import gradcheck, manual_seed
from tinygrad_rnn.data import CharVocab
from tinygrad_rnn.lm import (
    ConfigError,
    LanguageModel,
    ModelConfig,
    bits,
    detach_state,
    perplexity,
    sample_text,
    score_ids,
    score_text,
)


def model_of(cell="gru", embed=8, layers=1, vocab=5, hidden=12, dropout=0.0):
    manual_seed(0)
    return LanguageModel(ModelConfig(vocab, cell, hidden, layers, embed, dropout))


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("embed", [0, 6])
def test_forward_shapes_and_state(cell, embed):
    model = model_of(cell, embed, layers=2)
    ids = np.random.default_rng(0).integers(0, 5, (7, 3))
    logits, state = model(ids)
    assert logits.shape == (7, 3, 5)
    parts = state if cell == "lstm" else (state,)
    assert all(p.shape == (2, 3, 12) for p in parts)


def test_loss_is_mean_cross_entropy_over_unignored_targets():
    model = model_of()
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, 5, (4, 3)), rng.integers(0, 5, (4, 3))
    targets[3, 1] = targets[2, 0] = -100
    logits, _ = model(ids)
    logp = log_softmax(logits.data.astype(np.float64))
    keep = targets != -100
    expected = -np.mean([logp[t, b, targets[t, b]] for t, b in np.argwhere(keep)])
    assert model.loss(logits, targets).item() == pytest.approx(expected, rel=1e-5)


def test_untrained_loss_is_near_uniform():
    model = model_of(vocab=20, embed=0)
    ids = np.random.default_rng(2).integers(0, 20, (30, 4))
    logits, _ = model(ids)
    assert abs(model.loss(logits, ids).item() - math.log(20)) < 0.3


def test_probabilities_of_all_continuations_sum_to_one():
    model = model_of(vocab=3, embed=4).eval()
    total = sum(math.exp(score_ids(model, np.array([0, *seq])).log_prob)
                for seq in itertools.product(range(3), repeat=3))
    assert total == pytest.approx(1.0, abs=1e-5)


def test_score_is_the_sum_of_the_step_conditionals():
    model = model_of("lstm", layers=2).eval()
    ids = [1, 4, 0, 2, 3]
    state, expected = None, 0.0
    for prev, nxt in zip(ids[:-1], ids[1:], strict=True):
        logits, state = model.step(np.array([prev]), state)
        expected += log_softmax(logits.astype(np.float64))[0, nxt]
    score = score_ids(model, np.array(ids))
    assert score.tokens == 4
    assert score.log_prob == pytest.approx(expected, rel=1e-5)
    assert score.loss == pytest.approx(-expected / 4, rel=1e-5)
    assert score.perplexity == pytest.approx(math.exp(-expected / 4), rel=1e-5)


def test_step_matches_the_whole_sequence_forward():
    model = model_of("gru", layers=2).eval()
    ids = np.array([[1], [2], [3], [0]])
    whole, _ = model(ids)
    state = None
    for t in range(4):
        logits, state = model.step(ids[t], state)
        np.testing.assert_allclose(logits, whole.data[t], rtol=1e-5, atol=1e-6)


def test_units():
    assert bits(math.log(2)) == pytest.approx(1.0)
    assert perplexity(math.log(7)) == pytest.approx(7.0)


def test_detach_state_cuts_the_graph_and_keeps_values():
    model = model_of("lstm")
    _, state = model(np.array([[1, 2]]))
    cut = detach_state(state)
    assert all(not s.requires_grad for s in cut)
    np.testing.assert_array_equal(cut[0].data, state[0].data)
    assert detach_state(None) is None


@pytest.mark.parametrize("embed", [3, 0])                 # 0: one-hot inputs in the model's dtype
def test_model_gradients_match_central_differences(embed):
    model = model_of("gru", embed=embed, hidden=4, vocab=4).double()
    ids, targets = np.array([[0, 1], [2, 3], [1, 1]]), np.array([[1, 2], [3, 0], [2, -100]])
    params = [model.rnn.weight_hh_l0, model.head.weight]
    params += [model.embedding.weight] if embed else []
    assert gradcheck(lambda *_: model.loss(model(ids)[0], targets), params)


def test_the_gradient_check_catches_a_cut_path():
    model = model_of("rnn", embed=3, hidden=4, vocab=4).double()
    ids = np.array([[0, 1], [2, 3]])
    w = model.head.weight

    def cut_loss(w):
        out, _ = model.rnn(model.embedding(ids))                  # (T, B, H)
        return model.loss(out @ w.detach().T + model.head.bias, ids)  # no gradient reaches w

    assert not gradcheck(cut_loss, [w], raise_exception=False)


def test_config_validation_and_json_round_trip():
    config = ModelConfig(10, "lstm", 32, 2, 0, 0.25)
    assert ModelConfig.from_dict(json.loads(config.to_json())) == config
    for bad in (dict(cell="cnn"), dict(hidden=0), dict(layers=-1), dict(embed=-1),
                dict(dropout=1.0), dict(hidden=2.5)):
        with pytest.raises(ConfigError):
            ModelConfig(10, **bad)
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"vocab_size": 3, "colour": "red"})


def test_sampling_is_seeded_and_line_mode_stops_at_the_end_of_line():
    vocab = CharVocab.from_text("abc", lines=True)
    model = model_of(vocab=len(vocab))
    one = sample_text(model, vocab, np.random.default_rng(5), lines=True, max_len=30)
    two = sample_text(model, vocab, np.random.default_rng(5), lines=True, max_len=30)
    assert one == two and "\n" not in one and len(one) <= 30
    stream = sample_text(model, vocab, np.random.default_rng(5), prime="ab", max_len=40)
    assert stream.startswith("ab") and len(stream) == 42
    with pytest.raises(TypeError, match="positional"):      # lines is keyword-only: no bare bool
        sample_text(model, vocab, True, np.random.default_rng(5))


def test_score_text_line_mode_scores_the_end_of_line_too():
    vocab = CharVocab.from_text("abc", lines=True)
    model = model_of(vocab=len(vocab)).eval()
    assert score_text(model, vocab, "abc", lines=True).tokens == 4
    assert score_text(model, vocab, "abc", lines=False).tokens == 3
    with pytest.raises(Exception, match="unknown character"):
        score_text(model, vocab, "abz", lines=True)
