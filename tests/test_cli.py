"""The tinygrad-rnn command: train → sample → score → eval in both modes, and every bad input."""

import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.lm.train import LAST

NAMES = "".join(f"{n}\n" for n in ["anna", "bob", "carla", "dave", "emma", "fred", "gina",
                                   "hank", "ivy", "jack", "kim", "liam", "mona"] * 3)
PROSE = "The apple and pear salad. The pair of pears is in the tart. " * 10
TINY = ["--hidden", "12", "--embed", "6", "--batch-size", "4", "--steps", "12",
        "--eval-every", "6", "--plain"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "names.txt").write_text(NAMES, encoding="utf-8")
    (root / "prose.txt").write_text(PROSE, encoding="utf-8")
    assert cli.main(["train", "--data", str(root / "names.txt"), "--lines", "--out",
                     str(root / "names"), *TINY]) == 0
    assert cli.main(["train", "--data", str(root / "prose.txt"), "--seq-len", "8", "--out",
                     str(root / "prose"), *TINY]) == 0
    return root


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_prints_one_plain_line_per_evaluation(runs, tmp_path, capsys):
    code, out, _ = run(capsys, "train", "--data", runs / "names.txt", "--lines", "--out",
                       tmp_path / "r", *TINY)
    assert code == 0
    assert [line.split()[1] for line in out.splitlines() if line.startswith("step")] == \
        ["6/12", "12/12"]
    assert os.path.isfile(tmp_path / "r" / LAST)


def test_sample_lines_and_stream(runs, capsys):
    code, out, _ = run(capsys, "sample", runs / "names", "--n", 4, "--seed", 3)
    assert code == 0 and len(out.splitlines()) == 4
    assert run(capsys, "sample", runs / "names", "--n", 4, "--seed", 3)[1] == out
    code, out, _ = run(capsys, "sample", runs / "prose", "--prime", "The ", "--max-len", 20,
                       "--top-k", 3, "--top-p", 0.9, "--temperature", 0.7)
    assert code == 0 and out.startswith("The ") and len(out.rstrip("\n")) <= 24
    for flags, lines in ((["--greedy"], 10), (["--beam", 3, "--n", 2], 2)):
        code, out, _ = run(capsys, "sample", runs / "names", *flags)   # may be empty names
        assert code == 0 and out.count("\n") == lines


def test_score_ranks_texts_and_prints_json(runs, capsys):
    code, out, _ = run(capsys, "score", runs / "prose", "The apple and pair salad.",
                       "The apple and pear salad.", "--json")
    assert code == 0
    rows = json.loads(out)
    assert sorted(r["text"] for r in rows) == ["The apple and pair salad.",
                                               "The apple and pear salad."]
    assert rows[0]["log_prob"] >= rows[1]["log_prob"]          # most probable first
    for r in rows:
        assert r["tokens"] == len(r["text"]) - 1    # no "\n" in PROSE: the first char is context
        assert r["loss"] == pytest.approx(-r["log_prob"] / r["tokens"])
        assert r["perplexity"] == pytest.approx(math.exp(r["loss"]))
    code, out, _ = run(capsys, "score", runs / "prose", "The apple and pear salad.")
    assert code == 0 and "pear" in out and "perplexity" in out


def test_score_reads_a_file(runs, tmp_path, capsys):
    (tmp_path / "t.txt").write_text("anna\nbob\n", encoding="utf-8")
    code, out, _ = run(capsys, "score", runs / "names", "--file", tmp_path / "t.txt", "--json")
    assert code == 0 and sorted(r["text"] for r in json.loads(out)) == ["anna", "bob"]
    assert {r["text"]: r["tokens"] for r in json.loads(out)} == {"anna": 5, "bob": 4}


def test_eval_json_in_both_modes(runs, tmp_path, capsys):
    (tmp_path / "held.txt").write_text("anna\nkim\n", encoding="utf-8")
    code, out, _ = run(capsys, "eval", runs / "names", "--data", tmp_path / "held.txt", "--json")
    result = json.loads(out)
    assert code == 0 and set(result) == {"loss", "bpc", "perplexity", "tokens"}
    assert result["tokens"] == 5 + 4                           # characters and end of each line
    assert result["bpc"] == pytest.approx(result["loss"] / math.log(2))
    assert result["perplexity"] == pytest.approx(math.exp(result["loss"]))
    code, out, _ = run(capsys, "eval", runs / "prose", "--data", runs / "prose.txt", "--json")
    assert code == 0 and json.loads(out)["tokens"] == len(PROSE) - 1


def test_gradcheck_passes(capsys):
    code, out, _ = run(capsys, "gradcheck", "--plain")
    assert code == 0 and " 0 failed" in out


def test_resume_from_the_cli_extends_the_run(runs, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(capsys, "train", "--data", runs / "names.txt", "--lines", "--out", out,
               *TINY)[0] == 0
    code, text, _ = run(capsys, "train", "--out", out, "--resume", "--steps", 18, "--plain")
    text = " ".join(text.split())                       # lines are wrapped at 80 columns
    assert code == 0 and "resuming at step 12" in text and "step 18/18" in text


# ---- bad input: status 2, one line on stderr, no traceback, checkpoints untouched -------------
def corrupt(path):
    path.write_bytes(b"not a checkpoint at all")


def truncated(path, source):
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def pickled(path):
    with open(path, "wb") as f:
        np.savez(f, weights=np.array([{"evil": 1}], dtype=object))


@pytest.fixture(scope="module")
def bad_files(runs):
    root = runs / "bad"
    root.mkdir()
    (root / "empty.txt").write_bytes(b"")
    (root / "binary.bin").write_bytes(b"\x00\x01\x02hello")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    (root / "short.txt").write_text("abc", encoding="utf-8")
    (root / "odd.txt").write_text("ann€\n", encoding="utf-8")
    for name, make in [("corrupt", corrupt), ("pickled", pickled),
                       ("truncated", lambda p: truncated(p, runs / "names" / LAST))]:
        (root / name).mkdir()
        make(root / name / LAST)
    return root


def bad_cases(r):
    names, data = r / "names", ["--data", r / "names.txt"]
    return [
        ["train", "--data", r / "missing.txt"],
        ["train", "--data", r / "bad" / "empty.txt"],
        ["train", "--data", r / "bad" / "binary.bin"],
        ["train", "--data", r / "bad" / "latin1.txt"],
        ["train", "--data", r / "bad"],
        ["train", *data, "--hidden", "0"],
        ["train", *data, "--steps", "-5"],
        ["train", *data, "--batch-size", "0"],
        ["train", *data, "--seq-len", "0"],
        ["train", *data, "--cell", "transformer"],
        ["train", *data, "--optim", "lion"],
        ["train", *data, "--lr", "fast"],
        ["train", *data, "--dropout", "1.5"],
        ["train", *data, "--val-frac", "1"],
        ["train", *data, "--minutes", "-1"],  # 0: no limit
        ["train", "--data", r / "bad" / "short.txt", "--seq-len", "500"],
        ["train", *data, "--out", names],                          # would clobber a run
        ["train", "--out", names, "--resume", "--hidden", "99"],   # different model
        ["train", "--out", r / "nowhere", "--resume"],
        ["sample", r / "nowhere"],
        ["sample", r / "bad" / "corrupt"],
        ["sample", r / "bad" / "truncated"],
        ["sample", r / "bad" / "pickled"],
        ["sample", names, "--temperature", "0"],
        ["sample", names, "--temperature", "-1"],
        ["sample", names, "--top-p", "0"],
        ["sample", names, "--top-p", "1.5"],
        ["sample", names, "--top-k", "0"],
        ["sample", names, "--prime", "xyz€"],
        ["sample", names, "--n", "many"],
        ["score", names],
        ["score", names, "caf€"],
        ["score", r / "bad" / "pickled", "anna"],
        ["eval", names, "--data", r / "bad" / "odd.txt"],
        ["eval", names, "--data", r / "missing.txt"],
        ["eval", names],
        ["frobnicate"],
    ]


def exit_code(argv):
    """cli.main's status, whether it returns it or argparse exits with it."""
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as stop:
        return stop.code


def test_every_bad_input_exits_2_with_one_line(runs, bad_files, capsys):
    before = (runs / "names" / LAST).read_bytes()
    for argv in bad_cases(runs):
        assert exit_code(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error" in err, (argv, err)
        assert "Traceback" not in err
    assert (runs / "names" / LAST).read_bytes() == before


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["sample", "somewhere", "--temperature", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--temperature: must be a number > 0" in err


# ---- as a real process ----------------------------------------------------------------------
def command(*argv):
    return [sys.executable, "-m", "tinygrad_rnn", *map(str, argv)]


def test_subprocess_bad_flag_and_bad_checkpoint(runs, bad_files):
    for argv in (["train", "--hidden", "0"], ["sample", runs / "bad" / "truncated"]):
        done = subprocess.run(command(*argv), capture_output=True, text=True, timeout=60)
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_subprocess_ctrl_c_saves_and_exits_cleanly(runs, tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen(command("train", "--data", runs / "prose.txt", "--seq-len", 8,
                                       "--hidden", 8, "--embed", 4, "--batch-size", 2,
                                       "--steps", 100000, "--eval-every", 5, "--out", out),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out / LAST).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert "interrupted at step" in stdout.splitlines()[-1]
    done = subprocess.run(command("sample", out, "--max-len", 5), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0


def test_gradcheck_tour_passes_and_a_broken_op_fails(capsys):
    assert cli.main(["gradcheck", "--plain"]) == 0
    clean = capsys.readouterr().out
    assert "FAIL" not in clean and " 0 failed" in clean
    assert cli.main(["gradcheck", "--plain", "--break", "tanh"]) == 0  # broken on purpose
    cells = [[c.strip() for c in line.split("│")] for line in capsys.readouterr().out.splitlines()]
    result = {row[2]: row[5] for row in cells if len(row) == 7}     # check name -> pass/FAIL
    assert result["tanh"] == "FAIL"                     # the op itself
    assert result["LSTMCell"] == "FAIL"                 # c' = f ⊙ c + i ⊙ tanh(g): built on tanh
    assert result["sigmoid"] == "pass"                  # never calls tanh


def test_score_takes_texts_after_its_flags(runs, capsys):
    code, out, _ = run(capsys, "score", runs / "names", "--json", "anna", "bob")
    assert code == 0 and {r["text"] for r in json.loads(out)} == {"anna", "bob"}
    assert exit_code(["score", runs / "names", "--json", "anna", "--jsn"]) == 2


def test_a_dozen_characters_train_with_the_defaults_without_validation(tmp_path, capsys):
    data = tmp_path / "tiny.txt"
    data.write_text("hello world\n", encoding="utf-8")
    code, out, err = run(capsys, "train", "--data", data, "--out", tmp_path / "r", "--steps", 3,
                         "--hidden", 8, "--plain")
    out = " ".join(out.split())
    assert code == 0, err
    assert "no validation: --val-frac 0.1 would hold out 1 of 12 tokens" in out
    assert "the text is short (12 tokens to train on): 1 stream(s) of windows of 11" in out
    assert exit_code(["train", "--data", data, "--out", tmp_path / "s", "--seq-len", "50"]) == 2


class _ClosedPipe(io.TextIOBase):
    """A stdout whose reader has gone (`| head` after its lines); its descriptor is /dev/null."""

    def __init__(self, fd):
        self.fd = fd

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        return self.fd


def test_a_closed_pipe_ends_every_command_quietly(runs, monkeypatch, capsys):
    fd = os.open(os.devnull, os.O_WRONLY)
    monkeypatch.setattr("sys.stdout", _ClosedPipe(fd))
    try:
        for argv in (["gradcheck", "--quick"], ["sample", runs / "names"], ["graph"]):
            assert exit_code(argv) == 1, argv
    finally:
        os.close(fd)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["gradcheck", "--quick"], ["graph", "--trace"]])
def test_a_pipe_closed_by_its_reader_gives_no_error(argv):
    """A reader that leaves at once (as `| head -0` would): the command still exits quietly."""
    process = subprocess.Popen(command(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) in (0, 1) and err == "", err
