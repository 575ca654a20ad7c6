"""mean_loss scores in chunks of at most EVAL_LOGITS logits: the same loss, bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_rows import peak_bytes

from tinygrad_rnn import manual_seed, no_grad
from tinygrad_rnn.lm import LanguageModel, ModelConfig, mean_loss
from tinygrad_rnn.lm import model as lm_model
from tinygrad_rnn.nn.functional import cross_entropy

VOCAB = 500


def model_and_batches(cell: str = "lstm") -> tuple[LanguageModel, list]:
    manual_seed(0)
    model = LanguageModel(ModelConfig(VOCAB, cell, hidden=8, embed=4)).eval()
    rng = np.random.default_rng(0)
    batches = []
    for length in (30, 7):                          # consecutive windows of 3 streams
        x = rng.integers(0, VOCAB, (length, 3))
        y = np.where(rng.random((length, 3)) < 0.2, -100, rng.integers(0, VOCAB, (length, 3)))
        batches.append((x, y))
    return model, batches


def whole_batch_loss(model: LanguageModel, batches: list) -> float:
    """The loss from every batch's full logits at once, the state carried."""
    total, count, state = 0.0, 0, None
    with no_grad():
        for x, y in batches:
            logits, state = model(x, state)
            total += cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1),
                                   reduction="sum").item()
            count += int((y != -100).sum())
    return total / count


@pytest.mark.parametrize("rows", [1, 7, 64, 10_000])
def test_chunks_of_any_size_give_the_whole_batch_loss(rows: int,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    model, batches = model_and_batches()
    monkeypatch.setattr(lm_model, "EVAL_LOGITS", rows * VOCAB)
    loss, count = mean_loss(model, batches, carry_state=True)
    assert count == sum(int((y != -100).sum()) for _, y in batches)
    assert loss == pytest.approx(whole_batch_loss(model, batches), rel=1e-6)


def test_a_long_batch_needs_no_more_than_a_chunk_of_logits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """(400, 4) positions × 2,000 classes: 12.8 MB of logits at once; chunks of 100 rows:
    0.8 MB (the recurrent layer's own arrays come on top of either)."""
    manual_seed(0)
    vocab = 2000
    model = LanguageModel(ModelConfig(vocab, "lstm", hidden=8, embed=4)).eval()
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, vocab, (400, 4)), rng.integers(0, vocab, (400, 4))
    monkeypatch.setattr(lm_model, "EVAL_LOGITS", 100 * vocab)
    whole = 400 * 4 * vocab * 4                                    # bytes of float32 logits
    chunked = peak_bytes(lambda: mean_loss(model, [(x, y)], carry_state=False))
    assert chunked < whole / 4, f"mean_loss held {chunked:,} bytes at its peak"

    def all_at_once() -> None:
        with no_grad():
            model(x)
    assert peak_bytes(all_at_once) >= whole                        # the probe sees full logits
