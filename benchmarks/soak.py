"""Soak: many training steps of the language model, resident memory sampled as it goes.

Truncated BPTT on the built-in corpus, the way `tinygrad-rnn train` runs it: the hidden state is
carried across windows and detached (reset at each new pass), Adam, gradients clipped by norm. A
leak — a graph kept alive through the carried state, saved arrays never released, optimizer state
that grows — shows as resident memory that climbs with the step count instead of staying flat.

    python -m benchmarks.soak                               # 20,000 steps, a sample every 1,000
    python -m benchmarks.soak --steps 2000 --every 200      # a short run
    python -m benchmarks.soak --cell lstm --json            # the samples as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

# Before numpy is imported: one BLAS thread, as in the other benchmarks.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

from rich.console import Console  # noqa: E402  (after the thread settings, on purpose)
from rich.table import Table  # noqa: E402

from benchmarks.memory import status_kib  # noqa: E402
from tinygrad_rnn import clip, manual_seed, optim  # noqa: E402
from tinygrad_rnn.data import CharVocab, StreamBatches, corpus  # noqa: E402
from tinygrad_rnn.lm import LanguageModel, ModelConfig, detach_state  # noqa: E402


@dataclass(frozen=True)
class Settings:
    steps: int = 20_000      # training steps
    every: int = 1_000       # sample resident memory every this many steps
    cell: str = "gru"        # rnn, gru or lstm
    hidden: int = 128        # the CLI's default model size
    embed: int = 32
    batch: int = 16
    seq_len: int = 25        # min-char-rnn's window
    lr: float = 2e-3
    clip: float = 5.0        # gradient norm clipping
    seed: int = 0


def soak(settings: Settings, console: Console) -> dict[str, Any]:
    """Train for settings.steps steps; return the settings, the samples and the memory growth."""
    manual_seed(settings.seed)
    text = corpus()
    vocab = CharVocab.from_text(text)
    batches = StreamBatches(vocab.encode(text), settings.batch, settings.seq_len)
    model = LanguageModel(ModelConfig(len(vocab), settings.cell, settings.hidden,
                                      embed=settings.embed))
    parameters = list(model.parameters())
    optimizer = optim.Adam(parameters, lr=settings.lr)
    state = None
    samples = []
    started = time.perf_counter()
    for step in range(1, settings.steps + 1):
        x, y = batches.next()                                                    # (T, B) each
        if batches.new_epoch:
            state = None
        logits, state = model(x, detach_state(state))                            # (T, B, V)
        loss = model.loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        clip.clip_grad_norm_(parameters, settings.clip)
        optimizer.step()
        if step % settings.every == 0 or step == 1:
            sample = {"step": step, "rss_mib": status_kib("VmRSS") / 1024,
                      "loss": loss.item(), "seconds": time.perf_counter() - started}
            samples.append(sample)
            console.print(f"[dim]step {step:>7,}  rss {sample['rss_mib']:7.1f} MiB  "
                          f"loss {sample['loss']:.3f}  {sample['seconds']:6.0f} s[/dim]")
    settled = samples[1] if len(samples) > 1 else samples[0]     # after the first allocations
    return {"settings": asdict(settings), "samples": samples,
            "growth_mib": samples[-1]["rss_mib"] - settled["rss_mib"],
            "peak_mib": max(s["rss_mib"] for s in samples)}


def render(result: dict[str, Any], console: Console) -> None:
    """A table of the samples and a line on whether memory stayed flat."""
    table = Table(title=f"Soak: {result['settings']['steps']:,} steps "
                        f"({result['settings']['cell']}, hidden {result['settings']['hidden']})")
    for column in ("step", "resident MiB", "loss", "seconds"):
        table.add_column(column, justify="right")
    for s in result["samples"]:
        table.add_row(f"{s['step']:,}", f"{s['rss_mib']:.1f}", f"{s['loss']:.3f}",
                      f"{s['seconds']:.0f}")
    console.print(table)
    console.print(f"growth after the first sample interval: {result['growth_mib']:+.1f} MiB "
                  f"(peak {result['peak_mib']:.1f} MiB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = Settings()
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--every", type=int, default=defaults.every)
    parser.add_argument("--cell", choices=("rnn", "gru", "lstm"), default=defaults.cell)
    parser.add_argument("--hidden", type=int, default=defaults.hidden)
    parser.add_argument("--json", action="store_true", help="print the samples as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.every < 1:
        parser.error("--steps and --every must be at least 1")
    settings = Settings(steps=args.steps, every=args.every, cell=args.cell, hidden=args.hidden)
    console = Console(stderr=args.json)
    result = soak(settings, console)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        render(result, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
