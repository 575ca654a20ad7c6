"""The rich dashboard of `tinygrad-rnn train` on a forced terminal: however a run ends (done, an
error, a second Ctrl-C) the live display stops and the cursor comes back before anything else is
printed; without close() an error would leave it running (the negative test)."""

import io
import re

import numpy as np
import pytest
from rich.console import Console

from tinygrad_rnn import cli
from tinygrad_rnn.lm import dashboard as dashboard_module
from tinygrad_rnn.lm.dashboard import Dashboard
from tinygrad_rnn.lm.train import TrainConfig, TrainError, train

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
TEXT = "the cat sat on the mat. the dog sat on the log. " * 12


def terminal_dashboard() -> Dashboard:
    """A dashboard drawing on an in-memory console that claims to be a terminal."""
    return Dashboard(Console(file=io.StringIO(), force_terminal=True, width=100))


def screen(board: Dashboard) -> str:
    """Everything the dashboard wrote, escape codes included."""
    return board.console.file.getvalue()


def words(board: Dashboard) -> str:
    """What the dashboard wrote without escape codes (colours, cursor moves)."""
    return " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen(board)).split())


def restored(board: Dashboard) -> bool:
    """The live display is stopped and the cursor was shown again after it was hidden."""
    out = screen(board)
    return (not board.live.is_started and HIDE_CURSOR in out
            and out.rindex(SHOW_CURSOR) > out.rindex(HIDE_CURSOR))


def argv(tmp_path, *extra: str) -> list[str]:
    data = tmp_path / "data.txt"
    data.write_text(TEXT, encoding="utf-8")
    return ["train", "--data", str(data), "--hidden", "12", "--embed", "6", "--seq-len", "8",
            "--batch-size", "4", "--eval-every", "5", "--out", str(tmp_path / "run"), *extra]


@pytest.fixture
def board(monkeypatch) -> Dashboard:
    """The dashboard `tinygrad-rnn train` will use (as if stdout were a terminal)."""
    made = terminal_dashboard()
    monkeypatch.setattr(dashboard_module, "make_reporter", lambda plain, **_: made)
    return made


def test_a_finished_run_leaves_the_terminal_restored(tmp_path, board):
    assert cli.main(argv(tmp_path, "--steps", "6")) == 0
    assert restored(board)
    assert "done at step 6" in words(board)


def test_an_error_stops_the_dashboard_before_the_one_line_message(tmp_path, board, capsys):
    diverging = argv(tmp_path, "--steps", "40", "--optim", "sgd", "--lr", "1e30", "--clip", "0")
    assert cli.main(diverging) == 2
    assert restored(board)
    err = capsys.readouterr().err                   # not swallowed by the live display
    assert err.count("\n") == 1 and "training diverged and stopped" in err, err
    assert "training diverged" not in words(board)


class SecondCtrlC(Dashboard):
    """A dashboard whose step raises KeyboardInterrupt, as a second Ctrl-C would."""

    def step(self, step, loss, grad_norm, lr, tokens, seconds):
        super().step(step, loss, grad_norm, lr, tokens, seconds)
        if step == 3:
            raise KeyboardInterrupt


def test_a_second_ctrl_c_stops_the_dashboard(tmp_path, monkeypatch, capsys):
    made = SecondCtrlC(Console(file=io.StringIO(), force_terminal=True, width=100))
    monkeypatch.setattr(dashboard_module, "make_reporter", lambda plain, **_: made)
    assert cli.main(argv(tmp_path, "--steps", "20")) == 130
    assert restored(made)
    assert capsys.readouterr().err == "tinygrad-rnn: interrupted\n"


def test_without_close_an_error_leaves_the_live_display_running(tmp_path):
    board = terminal_dashboard()
    data = tmp_path / "data.txt"
    data.write_text(TEXT, encoding="utf-8")
    config = TrainConfig(data=str(data), hidden=12, embed=6, seq_len=8, batch_size=4, steps=40,
                         eval_every=5, optim="sgd", lr=1e30, clip=0)
    try:
        with np.errstate(all="ignore"), pytest.raises(TrainError):
            train(config, str(tmp_path / "run"), reporter=board)
        assert board.live.is_started and not restored(board)   # what close() is there for
    finally:
        board.close()
    assert restored(board)


def test_a_time_budget_is_announced_as_one_and_a_deleted_directory_is_not_shown(tmp_path):
    """`make demo` trains for a minute with a step limit of 100,000: the plain lines say the
    budget, not "100000 steps", and a temporary run directory is not printed as if kept."""
    from tinygrad_rnn.lm.dashboard import PlainReporter
    stream = io.StringIO()
    config = TrainConfig(data=None, hidden=8, embed=4, batch_size=2, seq_len=8, steps=100_000,
                         minutes=0.002, eval_every=5)
    train(config, str(tmp_path / "run"), reporter=PlainReporter(stream, scratch=True))
    out = stream.getvalue()
    assert "for 0.002 min (or 100,000 steps, whichever comes first)" in " ".join(out.split())
    assert "/100000" not in out and str(tmp_path) not in out and "temporary" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_the_live_dashboard_counts_down_the_time_budget():
    board = terminal_dashboard()
    board.start(TrainConfig(steps=100_000, minutes=1.0), 0, "about")
    board.step(3, 2.0, 0.5, 1e-3, 100, 30.0)
    task = board.progress.tasks[0]
    assert task.total == 60.0 and task.completed == 30.0 and task.description == "step 3"
    board.close()
