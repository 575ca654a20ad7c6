"""The main demo (`make demo`): a GRU learns Python's help text for about a minute, then writes.

    python demos/demo.py                  # about a minute; a live dashboard on a terminal
    python demos/demo.py --minutes 5      # longer training, better samples
    python demos/demo.py --plain          # plain lines (also what a pipe or CI gets)
    python demos/demo.py --quick          # a few seconds: a smaller GRU, a glimpse of each step
    python demos/demo.py --out runs/demo  # keep the run (then: tinygrad-rnn sample runs/demo)

It trains on the built-in corpus python-help (nothing to download), prints samples at several
temperatures, and ranks the speech-recognition classic "The apple and pair salad." against
"The apple and pear salad." by their probability under the model.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import textwrap
from dataclasses import dataclass, replace

import numpy as np

from tinygrad_rnn.cli import quiet_broken_pipe
from tinygrad_rnn.engine.threads import add_threads_flag, use_threads
from tinygrad_rnn.lm import sample_text, score_text
from tinygrad_rnn.lm.dashboard import make_reporter
from tinygrad_rnn.lm.train import BEST, TrainConfig, load_model, train


@dataclass
class Settings:
    """What the demo trains (TrainConfig's defaults otherwise)."""

    minutes: float = 1.0            # the training budget
    hidden: int = 192               # GRU units: as large as a minute of CPU can train well
    seq_len: int = 48               # truncated-BPTT window
    batch_size: int = 32            # streams per step
    lr: float = 4e-3                # Adam, a little above its usual 3e-3 for a short run
    eval_every: int = 50            # steps between validations (and dashboard samples)
    temperatures: tuple[float, ...] = (0.5, 0.8, 1.0)  # for the final samples
    sentences: tuple[str, ...] = ("The apple and pair salad.", "The apple and pear salad.")
    max_len: int = 300              # characters per sample


QUICK = dict(minutes=0.05, hidden=32, eval_every=10, max_len=80)   # --quick: about 3 s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=Settings.minutes, help="training time")
    parser.add_argument("--out", help="keep the run in this directory (default: a temporary one)")
    parser.add_argument("--plain", action="store_true", help="plain lines, no dashboard")
    parser.add_argument("--quick", action="store_true", help="a few seconds, a smaller GRU")
    add_threads_flag(parser)
    args = parser.parse_args()
    use_threads(args.threads)                                # one BLAS thread by default
    s = replace(Settings(), **QUICK) if args.quick else Settings(minutes=args.minutes)
    config = TrainConfig(hidden=s.hidden, seq_len=s.seq_len, batch_size=s.batch_size, lr=s.lr,
                         eval_every=s.eval_every, steps=100_000, minutes=s.minutes)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        reporter = make_reporter(args.plain, scratch=args.out is None)
        with contextlib.closing(reporter):                              # Ctrl-C: terminal back
            train(config, out, reporter=reporter)
        best = load_model(f"{out}/{BEST}")
        model, vocab = best.model, best.vocab
        rng = np.random.default_rng(0)
        for temperature in s.temperatures:
            print(f"\n--- sample at temperature {temperature} ---")
            text = sample_text(model, vocab, rng, prime="The ", max_len=s.max_len,
                               temperature=temperature)
            print("\n".join(textwrap.fill(line, 80) for line in text.split("\n")))  # fits 80
        print("\n--- which sentence is more probable? ---")
        scores = {text: score_text(model, vocab, text, lines=False) for text in s.sentences}
        for text, score in sorted(scores.items(), key=lambda item: -item[1].log_prob):
            print(f"  ln p = {score.log_prob:8.3f}   ({score.loss:.3f} nats/char)   {text}")
        print("A model knows only its corpus: Python's help text speaks of key/value *pairs*\n"
              "and never of pears, so it may well prefer the pair salad. To hear the pear,\n"
              "train on English prose (tinygrad-rnn train --data a_novel.txt).")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BrokenPipeError:                  # `| head`: the reader has seen enough
        raise SystemExit(quiet_broken_pipe()) from None
