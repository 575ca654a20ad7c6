"""Where a second BLAS thread starts to pay: an LSTM language model's training step on 1 and 2
threads, interleaved in one process, for growing hidden sizes.

The CLI and the demos run on one BLAS thread by default (tinygrad_rnn/engine/threads.py); this
is the measurement that default comes from. Each row is the training step `tinygrad-rnn train`
runs (embedding 32, LSTM, linear head, Adam, norm clipping) on the built-in corpus.

    python -m benchmarks.threads                         # hidden 128, 256, 512, 1024 at batch 32
    python -m benchmarks.threads --hidden 256 --hidden 2048 --batch 64 --seq-len 32
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from benchmarks.timing import interleaved
from tinygrad_rnn import manual_seed, optim
from tinygrad_rnn.data import CharVocab, StreamBatches, corpus
from tinygrad_rnn.engine.threads import get_num_threads, set_num_threads
from tinygrad_rnn.lm import LanguageModel, ModelConfig
from tinygrad_rnn.nn.utils import clip_grad_norm_

__all__ = ["measure", "main"]


def _training_step(hidden: int, batch: int, seq_len: int, threads: int):
    """One training step of an LSTM language model, run on `threads` BLAS threads."""
    manual_seed(0)
    text = corpus()
    vocab = CharVocab.from_text(text)
    batches = StreamBatches(vocab.encode(text), batch, seq_len)
    model = LanguageModel(ModelConfig(len(vocab), "lstm", hidden, embed=32))
    params = list(model.parameters())
    optimizer = optim.Adam(params, lr=3e-3)

    def step() -> float:
        set_num_threads(threads)
        x, y = batches.next()                                                    # (T, B) each
        logits, _ = model(x)                                                     # (T, B, V)
        loss = model.loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(params, 1.0)
        optimizer.step()
        return loss.item()

    return step


def measure(hiddens: list[int], batch: int, seq_len: int, blocks: int,
            console: Console) -> list[dict[str, float]]:
    """Seconds per step on 1 and 2 threads, and their ratio, for each hidden size."""
    rows = []
    for hidden in hiddens:
        console.print(f"[dim]hidden {hidden} …[/dim]")
        steps = {n: _training_step(hidden, batch, seq_len, n) for n in (1, 2)}
        timed = interleaved(steps, blocks, block_seconds=0.5, budget_seconds=30.0)
        rows.append({"hidden": hidden, "one": timed[1].median, "two": timed[2].median,
                     "ratio": timed[2].median / timed[1].median,
                     "best_ratio": min(timed[2].blocks) / min(timed[1].blocks)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.threads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden", type=int, action="append", help="hidden sizes (repeatable)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=7)
    args = parser.parse_args(argv)
    before = get_num_threads()
    console = Console()
    rows = measure(args.hidden or [128, 256, 512, 1024], args.batch, args.seq_len, args.blocks,
                   console)
    set_num_threads(before)
    table = Table(title=f"LSTM LM training step, batch {args.batch}, T {args.seq_len} "
                        "(median of interleaved blocks)",
                  caption="2 / 1 above 1: one thread is faster; best: the fastest block of "
                          "each (what a quiet machine gives)")
    for column in ("hidden", "1 thread", "2 threads", "2 / 1", "best 2 / best 1"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(str(row["hidden"]), f"{row['one'] * 1e3:.1f} ms",
                      f"{row['two'] * 1e3:.1f} ms", f"{row['ratio']:.2f}",
                      f"{row['best_ratio']:.2f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
