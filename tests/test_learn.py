"""`tinygrad-rnn learn`: every reference answer passes its exercise, every stub fails as "not
started", planted bugs (at least two an exercise) fail with the right diagnosis, and the command
survives whatever a learner's file does (syntax errors, infinite loops, sys.exit, os._exit).

The answers live in tests/learn/solutions/ (never in the package: `learn start` writes stubs).
A planted bug is an edit of the answer's source that must apply exactly once."""

from __future__ import annotations

import json
import re
import shlex
import types
from pathlib import Path

import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.teach.grading import Wrong
from tinygrad_rnn.teach.learn import EXERCISES
from tinygrad_rnn.teach.learn.exercise import grade

SOLUTIONS = Path(__file__).parent / "learn" / "solutions"
NUMBERS = range(1, len(EXERCISES) + 1)
SLOW = 60.0   # a generous time limit for checks that must finish (the machine may be busy)


def answer_path(number: int) -> Path:
    return SOLUTIONS / f"{number:02d}_{EXERCISES[number - 1].slug}.py"


def module_from(source: str, name: str = "answer") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def planted(number: int, edits: list[tuple[str, str]]) -> types.ModuleType:
    source = answer_path(number).read_text()
    for old, new in edits:
        assert source.count(old) == 1, f"exercise {number}: edit {old!r} does not apply once"
        source = source.replace(old, new)
    return module_from(source, f"planted_{number}")


def test_the_path_has_a_dozen_exercises_and_an_answer_for_each():
    assert len(EXERCISES) == 12
    assert sorted(p.name for p in SOLUTIONS.glob("*.py")) == \
        [answer_path(n).name for n in NUMBERS]


@pytest.mark.parametrize("number", NUMBERS, ids=[e.slug for e in EXERCISES])
def test_the_reference_answer_passes(number):
    graded = grade(EXERCISES[number - 1], module_from(answer_path(number).read_text()))
    assert graded.fixed >= 1 and graded.generated >= 5


@pytest.mark.parametrize("number", NUMBERS, ids=[e.slug for e in EXERCISES])
def test_the_stub_is_not_started_and_gives_no_answer(number):
    exercise = EXERCISES[number - 1]
    with pytest.raises(NotImplementedError):
        grade(exercise, module_from(exercise.stub))
    compile(exercise.stub, "stub", "exec")
    assert exercise.stub.count("raise NotImplementedError") >= len(exercise.functions)
    assert f"learn check {number}" in exercise.stub and len(exercise.hints) >= 2
    assert all(len(line) <= 100 for line in exercise.stub.splitlines())


# number -> [(what, edits, the diagnosis' kind)]
PLANTED = {
    1: [("tanh: sign", [("grad * (1 - y * y)", "grad * (y * y - 1)")], "sign"),
        ("sigmoid: no upstream", [("grad * y * (1 - y)", "y * (1 - y)")], "upstream"),
        ("exp: doubled", [("return grad * y\n", "return 2 * grad * y\n")], "scaled"),
        ("log: divides by zero", [("grad / x", "grad / (x - x)")], "nonfinite")],
    2: [("da transposed", [("da = grad @ np.swapaxes(b, -1, -2)",
                            "da = b @ np.swapaxes(grad, -1, -2)")], "transposed"),
        ("returns (db, da)", [("return da, db", "return db, da")], "swapped"),
        ("one batch entry's db", [("db = db.sum(axis=tuple(range(db.ndim - b.ndim)))",
                                   "db = db[0]")], "broadcast"),
        ("db not summed", [("db = db.sum(axis=tuple(range(db.ndim - b.ndim)))", "pass")],
         "broadcast")],
    3: [("mean, not sum", [("grad.sum(axis=tuple(range(lead)))",
                            "grad.mean(axis=tuple(range(lead)))")], "scaled"),
        ("the first slice", [("grad.sum(axis=tuple(range(lead)))", "grad[(0,) * lead]")],
         "broadcast")],
    4: [("no 1/N", [("(p - y) / len(targets)", "(p - y)")], "scaled"),
        ("y - p", [("(p - y) / len(targets)", "(y - p) / len(targets)")], "sign"),
        ("naive softmax", [("np.exp(logits - logits.max(axis=1, keepdims=True))",
                            "np.exp(logits)")], "nonfinite")],
    5: [("outputs swapped", [("return a_next, yt_pred, (", "return yt_pred, a_next, (")],
         "swapped"),
        ("naive softmax", [("np.exp(z - z.max(axis=0, keepdims=True))", "np.exp(z)")],
         "nonfinite"),
        ("softmax over examples", [("z.max(axis=0,", "z.max(axis=1,"),
                                   ("e.sum(axis=0,", "e.sum(axis=1,")], "softmax_axis")],
    6: [("dWax transposed", [("dWax = dz @ xt.T", "dWax = xt @ dz.T")], "transposed"),
        ("dba not summed", [("dba = np.sum(dz, axis=1, keepdims=True)", "dba = dz")],
         "broadcast"),
        ("dWax and dWaa swapped", [('"dWax": dWax, "dWaa": dWaa', '"dWax": dWaa, "dWaa": dWax')],
         "swapped")],
    7: [("= instead of +=", [('dWax += gradients["dWax"]', 'dWax = gradients["dWax"]')],
         "accumulation"),
        ("dx one step early", [('dx[:, :, t] = gradients["dxt"]',
                                'dx[:, :, t - 1] = gradients["dxt"]')], "time_shift"),
        ("no carried da_prev", [("da[:, :, t] + da_prevt", "da[:, :, t]")], "no_carry")],
    8: [("clips from above only", [("np.clip(g, -maxValue, maxValue)",
                                    "np.minimum(g, maxValue)")], "upper_only"),
        ("scales small gradients up", [("    if total > max_norm:\n        return",
                                        "    return")], "scaled"),
        ("each by its own norm", [("g * (max_norm / (total + 1e-6))",
                                   "g * min(1.0, max_norm / (np.sqrt((g ** 2).sum()) + 1e-6))"),
                                  ("if total > max_norm:", "if True:")], "own_norm"),
        ("0 / 0 on zero gradients", [("    if total > max_norm:\n        return {k: g * "
                                      "(max_norm / (total + 1e-6))",
                                      "    return {k: g / total * min(total, max_norm)")],
         "nonfinite")],
    9: [("multiplies by T", [("z = logits / temperature", "z = logits * temperature")],
         "times_t"),
        ("not normalised", [("return e / e.sum()", "return e")], "scaled"),
        ("greedy", [("return int(rng.choice(len(p), p=p))", "return int(np.argmax(p))")],
         "greedy"),
        ("naive softmax", [("np.exp(z - z.max())", "np.exp(z)")], "nonfinite")],
    10: [("dWf and dWi swapped", [('"dWf": dWf, "dWi": dWi', '"dWf": dWi, "dWi": dWf')],
          "swapped"),
         ("biases not summed", [("(np.sum(d, axis=1, keepdims=True) for", "(d for")],
          "broadcast"),
         ("weights transposed", [("(d @ concat.T for", "(concat @ d.T for")], "transposed")],
    11: [("the course's reset", [("h_r, h_z, h_n = ", "h_r, h_z, _ = "),
                                 ("n = (x_n + r * h_n).tanh()",
                                  "w_n, b_n = weight_hh[2 * h.shape[1]:], bias_hh[2 * h.shape[1]:]"
                                  "\n    n = (x_n + (r * h) @ w_n.T + b_n).tanh()")],
          "reset_before"),
         ("z's roles swapped", [("(1 - z) * n + z * h", "z * n + (1 - z) * h")], "z_roles"),
         ("left the graph", [("return (1 - z) * n + z * h",
                              "return type(h)(((1 - z) * n + z * h).data)")], "detached")],
    12: [("no bias correction", [("m_hat = m / (1 - beta1 ** t)", "m_hat = m"),
                                 ("v_hat = v / (1 - beta2 ** t)", "v_hat = v")], "scaled"),
         ("steps uphill", [("return param - lr", "return param + lr")], "sign")],
}
CASES = [(n, what, edits, kind) for n, bugs in PLANTED.items() for what, edits, kind in bugs]


def test_every_exercise_has_at_least_two_planted_bugs():
    assert sorted(PLANTED) == list(NUMBERS)
    assert all(len(bugs) >= 2 for bugs in PLANTED.values())


@pytest.mark.parametrize(("number", "what", "edits", "kind"), CASES,
                         ids=[f"{n} {EXERCISES[n - 1].slug}: {w}" for n, w, _, _ in CASES])
def test_a_planted_bug_fails_with_its_diagnosis(number, what, edits, kind):
    with pytest.raises(Wrong) as info:
        grade(EXERCISES[number - 1], planted(number, edits))
    assert info.value.kind == kind, str(info.value)
    assert "\n" not in str(info.value)


# ---- the command, end to end (each check is a child process) -------------------------------
def learn(tmp_path: Path, capsys: pytest.CaptureFixture, *words: str) -> tuple[int, str, str]:
    try:
        code = cli.main(["learn", *words, "--dir", str(tmp_path / "work")])
    except SystemExit as exit_:                    # argparse refused a flag
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, number: int, text: str) -> Path:
    path = tmp_path / "work" / f"{number:02d}_{EXERCISES[number - 1].slug}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_a_session_start_wrong_then_right(tmp_path, capsys):
    code, out, _ = learn(tmp_path, capsys, "start", "6")
    path = tmp_path / "work" / "06_rnn_cell_backward.py"
    assert code == 0 and path.read_text() == EXERCISES[5].stub and "wrote" in out
    code, out, _ = learn(tmp_path, capsys, "check", "6", "--timeout", str(SLOW))
    assert code == 1 and "not started: rnn_cell_backward still raises" in out
    answer = answer_path(6).read_text()
    path.write_text(answer.replace("dWax = dz @ xt.T", "dWax = xt @ dz.T"))
    code, out, _ = learn(tmp_path, capsys, "check", "6", "--timeout", str(SLOW))
    assert code == 1 and "dWax: it is transposed" in out and "✗" in out
    path.write_text(answer)
    code, out, _ = learn(tmp_path, capsys, "check", "6", "--timeout", str(SLOW))
    assert code == 0 and "✓ passed: 4 fixed cases and 12 generated" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    progress = json.loads((tmp_path / "work" / "progress.json").read_text())
    assert progress["6"]["status"] == "passed" and progress["6"]["checks"] == 3
    code, out, _ = learn(tmp_path, capsys, "list")
    assert "  6  ✓ passed" in out and "1 of 12 passed" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_start_never_overwrites_a_learners_file(tmp_path, capsys):
    path = write(tmp_path, 3, "# my own work\n")
    code, out, _ = learn(tmp_path, capsys, "start", "unbroadcast")
    assert code == 0 and "kept" in out and path.read_text() == "# my own work\n"


@pytest.mark.parametrize(("text", "says"), [
    ("def unbroadcast(grad, shape)\n    return grad\n", "line 1: SyntaxError"),
    ("def unbroadcast(grad, shape):\n    while True:\n        pass\n",
     "stopped after 1 s of CPU time: your code was still running (an infinite loop?)"),
    ("import sys\n\ndef unbroadcast(grad, shape):\n    sys.exit(4)\n", "called sys.exit(4)"),
    ("import sys\nsys.exit()\n", "calls sys.exit(None) when it is imported"),
    ("import os\n\ndef unbroadcast(grad, shape):\n    os._exit(5)\n", "exit status 5"),
    ("def unbroadcast(grad, shape):\n    return grad.nope\n",
     "raised AttributeError: 'numpy.ndarray' object has no attribute 'nope' (line 2"),
], ids=["syntax error", "infinite loop", "sys.exit", "exit on import", "os._exit", "a crash"])
def test_check_survives_the_learners_code(tmp_path, capsys, text, says):
    write(tmp_path, 3, text)
    timeout = "1" if "while True" in text else str(SLOW)
    code, out, err = learn(tmp_path, capsys, "check", "3", "--timeout", timeout)
    assert code == 1 and says in " ".join(out.split()), out
    assert "Traceback" not in out + err and err == ""


@pytest.mark.parametrize(("words", "says"), [
    (["check", "4"], "04_softmax_cross_entropy.py does not exist: start exercise 4"),
    (["start", "13"], "no exercise '13': give a number from 1 to 12"),
    (["hint", "lstm"], "no exercise 'lstm'"),
    (["check", "1", "--timeout", "0"], "--timeout must be a finite number of seconds > 0"),
    (["check", "1", "--timeout", "inf"], "got inf"),
    (["check", "1", "--timeout", "soon"], "argument --timeout: invalid float value: 'soon'"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, words, says):
    code, out, err = learn(tmp_path, capsys, *words)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1 and out == ""


def test_a_corrupt_progress_file_is_reported_not_a_traceback(tmp_path, capsys):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "progress.json").write_text("{not json")
    code, _, err = learn(tmp_path, capsys, "list")
    assert code == 2 and "progress.json is unreadable" in err and "delete it" in err


def test_hints_come_one_at_a_time_and_are_remembered(tmp_path, capsys):
    hints = EXERCISES[1].hints
    outs = [learn(tmp_path, capsys, "hint", "2")[1] for _ in range(len(hints) + 1)]
    assert outs[0].startswith(f"hint 1 of {len(hints)}") and "hint 2 of" not in outs[0]
    assert outs[1].startswith(f"hint 2 of {len(hints)}") and "hint 1 of" not in outs[1]
    assert "another: tinygrad-rnn learn hint 2 --dir" in outs[0]
    assert all(f"hint {k} of" in outs[-1] for k in range(1, len(hints) + 1))   # all, at the end
    assert "another" not in outs[-1]


# ---- docs/course.md: its session runs as written and prints what the chapter shows -----------
COURSE_MD = Path(__file__).resolve().parent.parent / "docs" / "course.md"


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every ``` block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```$", text, flags=re.S | re.M)


def learn_commands(text: str) -> list[list[str]]:
    """The `tinygrad-rnn learn …` lines of the ```bash blocks, comments removed, as words."""
    return [shlex.split(line.split(" #")[0]) for language, body in fenced_blocks(text)
            if language == "bash" for line in body.splitlines()
            if line.startswith("tinygrad-rnn learn")]


def test_the_chapters_session_prints_what_it_shows(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    section = COURSE_MD.read_text().split("## A session, as printed", 1)[1].split("\n## ", 1)[0]
    compared = 0
    output = ""
    for language, body in fenced_blocks(section):
        if language == "bash":
            [line] = body.splitlines()
            words = shlex.split(line, comments=True)      # as a shell reads it
            assert words[:2] == ["tinygrad-rnn", "learn"]
            cli.main(words[1:])
            output = capsys.readouterr().out
        elif language == "python":                 # the learner's next version of the file
            (tmp_path / "learn" / "06_rnn_cell_backward.py").write_text(body)
        elif language == "text":
            assert output == body, f"the chapter shows:\n{body}\nthe command printed:\n{output}"
            compared += 1
    assert compared == 3


def test_every_learn_command_in_the_chapter_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    commands = learn_commands(COURSE_MD.read_text())
    assert len(commands) >= 5 and {w[2] for w in commands} == {"list", "start", "check", "hint"}
    for words in commands:
        code = cli.main(words[1:])
        assert code in (0, 1), words                  # 1: a check that did not pass (a stub)
        out, err = capsys.readouterr()
        assert err == "" and all(len(line) <= 80 for line in out.splitlines())
