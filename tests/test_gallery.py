"""The architecture gallery: each demo, run in --quick mode in-process, reaches the bar its
docstring states, and the same script with --steps 0 (an untrained model) does not, so each bar
measures learning. The data generators are checked against independent definitions."""

from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "demos"))  # demos import _gallery

import date_translation  # noqa: E402
import many_to_one  # noqa: E402
import name_tagging  # noqa: E402
import one_to_many  # noqa: E402
import one_to_one  # noqa: E402

QUICK = ["--quick", "--plain"]
UNTRAINED = ["--quick", "--plain", "--steps", "0"]


def stated(module: object, bar: str) -> None:
    """The demo's docstring states the bar this test checks."""
    assert bar.lower() in " ".join(module.__doc__.split()).lower(), module.__name__


# ---- many-to-one ------------------------------------------------------------------------------

def test_many_to_one_data_labels_match_a_string_search() -> None:
    x, y = many_to_one.make_data(500, 12, np.random.default_rng(5))
    found = [re.search(r"(^| )7 3( |$)", " ".join(map(str, seq))) is not None for seq in x]
    assert list(y) == [int(f) for f in found]
    assert y.mean() == 0.5
    negatives_with_3_after_7 = [s for s, label in zip(x, y, strict=True) if label == 0
                                and 7 in s and 3 in s[list(s).index(7):]]
    assert len(negatives_with_3_after_7) > 50        # decoys: order, not counts, decides


def test_many_to_one_learns(capsys: pytest.CaptureFixture[str]) -> None:
    stated(many_to_one, "the bar for --quick is 0.90")
    assert many_to_one.main(QUICK) >= 0.90
    out = capsys.readouterr().out
    assert "held-out accuracy" in out and "\x1b[" not in out   # plain text through a pipe


def test_many_to_one_untrained_misses_the_bar() -> None:
    assert many_to_one.main(UNTRAINED) < 0.70


# ---- many-to-many, Tx = Ty ----------------------------------------------------------------------

def test_name_tagging_tags_names_and_only_names() -> None:
    rng = np.random.default_rng(3)
    cue_words = {t.split()[1] for t in name_tagging.AS_NAME}
    names = set(name_tagging.FIRST_NAMES) | set(name_tagging.SURNAMES)
    for _ in range(300):
        words, tags, at = name_tagging.sentence(rng)
        assert len(words) == len(tags)
        for word, tag in zip(words, tags, strict=True):
            if tag == 1:
                assert word in names | set(name_tagging.FLOWERS + name_tagging.GEMS)
            else:
                assert word not in names
        if at >= 0:    # the ambiguous word is a name exactly when the next word says so
            assert tags[at] == int(words[at + 1] in cue_words)
            assert at == 0 or words[at - 1] in {"yesterday", "then", "morning"}


def test_name_tagging_bidirectional_beats_unidirectional_where_the_cue_comes_after() -> None:
    stated(name_tagging, "bars for --quick: the bidirectional GRU tags held-out words with "
                         "accuracy at least 0.95, and beats the unidirectional one on the "
                         "ambiguous words by at least 0.30")
    result = name_tagging.main(QUICK)
    assert result["bi"] >= 0.95
    assert result["bi_ambiguous"] - result["uni_ambiguous"] >= 0.30


def test_name_tagging_bar_is_above_guessing_no_names() -> None:
    rng = np.random.default_rng(4)
    tags = [t for _ in range(1000) for t in name_tagging.sentence(rng)[1]]
    assert 1 - np.mean(tags) < 0.90        # "nobody is a name" scores well below 0.95
    assert name_tagging.main(UNTRAINED)["bi"] < 0.95


# ---- many-to-many, Tx ≠ Ty ----------------------------------------------------------------------

def test_date_formats_parse_back_to_the_same_date() -> None:
    patterns = ["%d of %B %Y", "%b %d, %y", "%A %d %B %Y", "%d.%m.%Y", "%B %d, %Y"]
    for day in range(0, 14610, 37):
        date = datetime.date(2000, 1, 1) + datetime.timedelta(days=day)
        texts = date_translation.human(date)
        texts[0] = re.sub(r"^(\d+)(st|nd|rd|th)", r"\1", texts[0])
        for text, pattern in zip(texts, patterns, strict=True):
            assert datetime.datetime.strptime(text, pattern).date() == date, text
    assert date_translation.human(datetime.date(2026, 11, 25)) == [
        "25th of November 2026", "nov 25, 26", "Wednesday 25 November 2026", "25.11.2026",
        "November 25, 2026"]
    assert [date_translation.human(datetime.date(2001, 1, d))[0][:4] for d in (1, 2, 3, 11, 22)] \
        == ["1st ", "2nd ", "3rd ", "11th", "22nd"]


def test_date_translation_learns() -> None:
    stated(date_translation, "the bar for --quick is 0.80")
    assert date_translation.main(QUICK) >= 0.80


def test_date_translation_untrained_misses_the_bar() -> None:
    assert date_translation.main(UNTRAINED) < 0.05


# ---- one-to-many ---------------------------------------------------------------------------------

def test_one_to_many_targets_are_the_inputs_shifted() -> None:
    letters, inputs, targets = one_to_many.batch(["ann", "bob", "christopher"])
    chars = one_to_many.CHARS
    assert list(letters) == [0, 1, 2]
    assert "".join(chars[i] for i in inputs[:4, 0]) == "^ann"
    assert "".join(chars[i] for i in targets[:4, 0]) == "ann$"
    assert (targets[4:, 0] == -100).all() and (targets[:, 2] != -100).all()


def test_one_to_many_learns() -> None:
    stated(one_to_many, "the bar for --quick is 0.90")
    assert one_to_many.main(QUICK) >= 0.90


def test_one_to_many_untrained_misses_the_bar() -> None:
    assert one_to_many.main(UNTRAINED) < 0.30


# ---- one-to-one ----------------------------------------------------------------------------------

def test_one_to_one_spirals_are_not_linearly_separable() -> None:
    points, arms = one_to_one.spirals(900, 0.2, np.random.default_rng(2))
    assert np.bincount(arms).tolist() == [300, 300, 300]
    features = np.hstack([points, np.ones((900, 1))])                  # least squares, one-hot
    weights, *_ = np.linalg.lstsq(features, np.eye(3)[arms], rcond=None)
    assert ((features @ weights).argmax(axis=1) == arms).mean() < 0.6


def test_one_to_one_learns() -> None:
    stated(one_to_one, "the bar for --quick is 0.90")
    assert one_to_one.main(QUICK) >= 0.90


def test_one_to_one_untrained_misses_the_bar() -> None:
    assert one_to_one.main(UNTRAINED) < 0.60


def test_char_generation_says_when_it_starts_to_memorise(monkeypatch, capsys):
    """When the validation loss turns up while training goes on, the script says so and samples
    from the best weights (it used to go from val 2.486 to 2.659 without a word)."""
    import char_generation
    losses = iter([3.0, 2.5, 2.7])                              # evaluations at steps 20, 40, 60
    monkeypatch.setattr(char_generation, "validate", lambda *args: next(losses))
    monkeypatch.setattr("sys.argv", ["char_generation.py", "--quick", "--plain"])
    assert char_generation.main() == 0
    out = capsys.readouterr().out
    assert "val rose (2.500 at step 40, now 2.700)" in out and "overfitting" in out
    assert "best val 2.500 at step 40; samples from those weights" in out


def test_char_generation_is_quiet_about_memorising_while_val_falls(monkeypatch, capsys):
    import char_generation
    losses = iter([3.0, 2.9, 2.8])
    monkeypatch.setattr(char_generation, "validate", lambda *args: next(losses))
    monkeypatch.setattr("sys.argv", ["char_generation.py", "--quick"])
    assert char_generation.main() == 0
    assert "overfitting" not in capsys.readouterr().out
