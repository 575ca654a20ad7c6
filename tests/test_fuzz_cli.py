"""Fuzzing the command line in-process: random values for every numeric and choice flag of
train, sample, score and eval. The only outcomes allowed: status 0 with a silent stderr, or
status 2 with exactly one line on stderr, never another exception, never a changed run.

Valid sizes are kept tiny so each example is quick; hostile values include non-numbers, signs,
NaN/Inf, out-of-range fractions and numbers too large to allocate (which must fail at once).
"""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_rnn import cli
from tinygrad_rnn.lm.train import LAST

HOSTILE = st.sampled_from(["", "x", "-1", "0", "1.5", "nan", "inf", "-inf", "1e400", "0x10",
                           " 2", "٣", "--", "-0"])
HUGE = st.just("9" * 25)


def whole(low: int, high: int, huge: bool = False) -> st.SearchStrategy[str]:
    """A small valid whole number, or something hostile (or, where it fails fast, a huge one)."""
    return st.integers(low, high).map(str) | HOSTILE | (HUGE if huge else st.nothing())


def real(low: float, high: float) -> st.SearchStrategy[str]:
    """A number in [low, high] (often outside the flag's range), or something hostile."""
    return st.floats(low, high, allow_nan=False).map(repr) | HOSTILE


def choice(*valid: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*valid, "nope", ""])


TEXT = st.lists(st.sampled_from(list("ab c.\n\t\ufeffé€😀,") + ["<unk>", "\x00"]),
                max_size=12).map("".join)

TRAIN_FLAGS = {
    "--hidden": whole(1, 8, huge=True), "--layers": whole(1, 2), "--embed": whole(0, 6, True),
    "--dropout": real(-0.5, 1.5), "--seq-len": whole(1, 12, True),
    "--batch-size": whole(1, 6, True), "--steps": whole(1, 3), "--minutes": real(-1, 1),
    "--optim": choice("sgd", "adam", "adamw", "rmsprop", "adagrad"),
    "--lr": real(0, 1e32), "--schedule": choice("constant", "cosine"), "--clip": real(-1, 10),
    "--clip-mode": choice("norm", "value"), "--val-frac": real(-0.5, 1.5),
    "--eval-every": whole(1, 3), "--seed": whole(0, 2**40, True), "--level": choice("char",
                                                                                  "word"),
    "--cell": choice("rnn", "gru", "lstm"),
}
SAMPLE_FLAGS = {
    "--n": whole(1, 3), "--max-len": whole(1, 20), "--temperature": real(-1, 1e300),
    "--top-k": whole(1, 50), "--top-p": real(-0.5, 1.5), "--beam": whole(1, 4),
    "--seed": whole(0, 2**40, True), "--prime": TEXT,
}


def flags(table: dict, switches: tuple[str, ...] = ()) -> st.SearchStrategy[list[str]]:
    """A random subset of the flags as `--flag=value` (so "-1" stays a value), plus switches."""
    values = st.fixed_dictionaries({name: st.none() | value for name, value in table.items()})
    return st.tuples(values, st.lists(st.sampled_from(switches), unique=True) if switches
                     else st.just([])).map(
        lambda vs: [f"{k}={v}" for k, v in vs[0].items() if v is not None] + vs[1])


FILES = {"names": "anna\nbob\ncarla\ndave\nemma\nfred\n" * 4,
         "prose": "the cat sat on the mat. a dog sat on a log. " * 12,
         "empty": "", "binary": "\x00\x01bin", "short": "ab"}
TINY = ["--hidden", "8", "--embed", "4", "--batch-size", "2", "--seq-len", "6", "--steps", "2",
        "--eval-every", "2", "--plain"]
RUNS = {"lines": ["--data", "names.txt", "--lines"],
        "words": ["--data", "prose.txt", "--level", "word"]}
DIRS = st.sampled_from(["lines", "words", "missing", "names.txt", f"lines/{LAST}"])
DATA = st.sampled_from([f"{name}.txt" for name in (*FILES, "missing")])
FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
_counter = itertools.count()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Text files and two tiny trained runs (line mode, word level), made once."""
    path = tmp_path_factory.mktemp("fuzz-cli")
    for name, text in FILES.items():
        (path / f"{name}.txt").write_text(text, encoding="utf-8")
    for name, source in RUNS.items():
        source = [str(path / a) if a.endswith(".txt") else a for a in source]
        assert cli.main(["train", *source, *TINY, "--out", str(path / name)]) == 0
    return path


def check(root, argv: list[str], capsys) -> int:
    """Run the CLI (paths relative to root); assert the contract; return the status."""
    before = {name: (root / name / LAST).read_bytes() for name in RUNS}
    try:
        code = cli.main(argv)
    except SystemExit as stop:                                # argparse's own refusals
        code = stop.code
    _, err = capsys.readouterr()
    assert code in (0, 2), (argv, code, err)
    if code == 0:
        assert err == "", (argv, err)
    else:
        assert err.count("\n") == 1 and err.endswith("\n") and "error" in err, (argv, err)
        assert "Traceback" not in err
    assert {name: (root / name / LAST).read_bytes() for name in RUNS} == before, argv
    return code


@FUZZ
@given(options=flags(TRAIN_FLAGS, ("--lines",)), source=DATA | st.just("corpus"))
def test_train_flags(root, options, source, capsys):
    data = ["--corpus", "python-names"] if source == "corpus" else ["--data", str(root / source)]
    out = str(root / f"train-{next(_counter)}")
    check(root, ["train", *data, "--plain", "--out", out, "--steps", "2", *options], capsys)


@FUZZ
@given(run=DIRS, options=flags(SAMPLE_FLAGS, ("--greedy",)))
def test_sample_flags(root, run, options, capsys):
    check(root, ["sample", str(root / run), *options], capsys)


@FUZZ
@given(run=DIRS, texts=st.lists(TEXT, max_size=3), file=st.none() | DATA, json=st.booleans())
def test_score_arguments(root, run, texts, file, json, capsys):
    check(root, ["score", str(root / run), *texts, *(["--file", str(root / file)] if file else []),
                 *(["--json"] if json else [])], capsys)


@FUZZ
@given(run=DIRS, data=DATA, json=st.booleans())
def test_eval_arguments(root, run, data, json, capsys):
    check(root, ["eval", str(root / run), "--data", str(root / data),
                 *(["--json"] if json else [])], capsys)


def test_the_contract_checker_sees_both_outcomes(root, capsys):
    """Negative control: a good command passes with status 0, a bad one with status 2."""
    assert check(root, ["sample", str(root / "lines"), "--n", "2"], capsys) == 0
    assert check(root, ["sample", str(root / "lines"), "--n", "0"], capsys) == 2
