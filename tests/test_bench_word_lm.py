"""benchmarks/word_lm.py: its text reaches the vocabulary it promises, its two contenders train
the same model (the same losses step after step), and its pieces report what they measured.
Timings are not checked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks import word_lm
from tinygrad_rnn.data import WordVocab

TINY = dataclasses.replace(word_lm.QUICK, vocab=300, seq_len=4, batch=2)


def test_the_text_stops_at_the_line_that_reaches_the_vocabulary() -> None:
    text = word_lm.word_text(500)
    assert len(WordVocab.from_text(text)) >= 500
    shorter = "\n".join(text.splitlines()[:-1]) + "\n"
    assert len(WordVocab.from_text(shorter)) < 500


def test_the_first_batch_has_the_vocabulary_and_next_word_targets() -> None:
    vocab, x, y = word_lm.first_batch(TINY)
    assert vocab == TINY.vocab
    assert x.shape == y.shape == (TINY.seq_len, TINY.batch)
    np.testing.assert_array_equal(x[1:], y[:-1])          # y is x one word on
    assert x.max() < vocab


def test_our_step_learns_and_the_timer_reports_both_clocks() -> None:
    vocab, x, y = word_lm.first_batch(TINY)
    step, _ = word_lm.ours(TINY, vocab, x, y)
    timed = word_lm._timed({"ours": step}, blocks=2, repeats=2)["ours"]
    assert timed["first_loss"] == pytest.approx(np.log(vocab), rel=0.05)   # starts near uniform
    assert len(timed["wall"]) == len(timed["cpu"]) == 2
    assert all(w > 0 for w in timed["wall"])
    assert step() < timed["first_loss"]                    # five Adam steps on one batch


def test_the_memory_probe_reports_a_peak() -> None:
    probed = word_lm.probe("ours", quick=True)
    assert probed["status"] == "ok" and probed["peak_mib"] >= 0 and np.isfinite(probed["loss"])


def test_ratios_and_the_table() -> None:
    rows = {"ours": {"label": "ours LanguageModel", "status": "ok", "wall": 1.0, "cpu": 0.4,
                     "first_loss": 9.5, "memory": {"peak_mib": 200.0}},
            "torch": {"label": "torch nn.LSTM model", "status": "ok", "wall": 2.0, "cpu": 0.5,
                      "first_loss": 9.5, "memory": {"peak_mib": 400.0}}}
    assert word_lm.ratios(rows) == {"wall": 0.5, "cpu": 0.8, "memory": 0.5}
    report = {"settings": {**dataclasses.asdict(word_lm.Settings()), "vocab": 13_333},
              "blocks": 7, "rows": rows, "ratios": word_lm.ratios(rows)}
    table = word_lm.render(report)
    assert "ours / torch: wall 0.50x, cpu 0.80x, memory 0.50x" in table
    assert max(len(line) for line in table.splitlines()) <= 80
    rows["torch"] = {"label": "torch nn.LSTM model", "status": "skipped: torch not installed",
                     "memory": {"status": "skipped: torch not installed"}}
    assert word_lm.ratios(rows) == {"wall": None, "cpu": None, "memory": None}


@pytest.mark.torch
def test_ours_and_torch_take_the_same_steps() -> None:
    """From the same weights, the same losses over four steps: the model, the loss, the
    clipping (active: the norm is far above 1) and Adam agree."""
    pytest.importorskip("torch")
    vocab, x, y = word_lm.first_batch(TINY)
    ours, _ = word_lm.ours(TINY, vocab, x, y)
    theirs = word_lm.theirs(TINY, vocab, x, y)
    mine, reference = [ours() for _ in range(4)], [theirs() for _ in range(4)]
    np.testing.assert_allclose(mine, reference, rtol=2e-5)
