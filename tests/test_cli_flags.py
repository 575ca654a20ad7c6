"""Every numeric flag type of the CLI: accepted values at its bounds, refused values just past
them, and the one-line rule it states when refusing."""

import argparse

import pytest

from tinygrad_rnn import cli

# (flag type, values it accepts, values it refuses, the rule it states)
RULES = [
    (cli.positive_int, ["1", "7"], ["0", "-3"], "must be a whole number >= 1"),
    (cli.natural, ["0", "5"], ["-1"], "must be a whole number >= 0"),
    (cli.positive, ["1e-9", "2.5"], ["0", "-0.1"], "must be a number > 0"),
    (cli.non_negative, ["0", "0.5"], ["-1e-9"], "must be a number >= 0"),
    (cli.fraction, ["0", "0.999"], ["1", "-0.01"], "must be a number in [0, 1)"),
    (cli.top_p, ["1", "0.001"], ["0", "1.01"], "must be a number in (0, 1]"),
]


@pytest.mark.parametrize("kind, good, bad, rule", RULES, ids=lambda r: getattr(r, "__name__", ""))
def test_bounds_and_the_rule_each_flag_type_states(kind, good, bad, rule):
    for text in good:
        assert kind(text) == float(text)
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError) as info:
            kind(text)
        assert str(info.value) == f"{rule}, got {text!r}"


@pytest.mark.parametrize("kind", [cli.positive_int, cli.natural])
def test_whole_number_flags_refuse_fractions(kind):
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected a whole number, got '1.5'$"):
        kind("1.5")


@pytest.mark.parametrize("kind", [cli.positive, cli.non_negative, cli.fraction, cli.top_p])
@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "x"])
def test_number_flags_refuse_non_finite_and_non_numbers(kind, text):
    expected = "a finite number" if text != "x" else "a number"
    with pytest.raises(argparse.ArgumentTypeError, match=f"^expected {expected}, got '{text}'$"):
        kind(text)


def test_a_refused_flag_is_one_line_and_status_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "--val-frac", "1", "--plain"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == "tinygrad-rnn train: error: argument --val-frac: must be a number in [0, 1), " \
                  "got '1'\n"
