"""A word-level language model at a real vocabulary: one training step, ours against torch.

The step `tinygrad-rnn train --level word --cell lstm` takes: embedding 32 → LSTM 128 → a linear
head over V = 13,333 words, the mean cross-entropy over T·B = 64·32 positions, backward, clip the
gradient norm at 1, Adam. Ours and torch's same model (nn.Embedding, nn.LSTM, nn.Linear, loaded
with our initial weights, so the first losses agree) take turns in interleaved blocks, inside
`reuse_freed_memory()` as the CLI trains; both the wall and the CPU seconds per step are
reported (the CPU figure is the steadier one on a shared machine). Peak memory of one step is
measured in a fresh process per contender, with glibc's usual allocator settings.

The text: Python's pydoc topics and the standard library's docstrings (every CPython install
has them; nothing is downloaded), up to the line where the vocabulary reaches V words.

    python -m benchmarks.word_lm                       # the table (about a minute)
    python -m benchmarks.word_lm --quick --json        # V = 2,000, T = 16, B = 8, as JSON
    python -m benchmarks.word_lm --profile             # cProfile of our step
    python -m benchmarks.word_lm --write-corpus words.txt   # the text, for tinygrad-rnn train
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")          # before numpy (or torch) loads its BLAS

import argparse  # noqa: E402
import cProfile  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402

from benchmarks import pytorch  # noqa: E402
from benchmarks.memory import status_kib  # noqa: E402
from benchmarks.report import Goal, Result, Section  # noqa: E402
from benchmarks.step import Step, Unavailable  # noqa: E402
from tinygrad_rnn import manual_seed, optim  # noqa: E402
from tinygrad_rnn.data import StreamBatches, WordVocab, corpus  # noqa: E402
from tinygrad_rnn.data.vocab import tokenize  # noqa: E402
from tinygrad_rnn.engine.allocator import reuse_freed_memory  # noqa: E402
from tinygrad_rnn.lm import LanguageModel, ModelConfig  # noqa: E402
from tinygrad_rnn.nn.utils import clip_grad_norm_  # noqa: E402

__all__ = ["Settings", "SECTION", "word_text", "first_batch", "CONTENDERS", "measure", "main"]

REPO = Path(__file__).resolve().parent.parent
DOCSTRING = re.compile(r'"""(.*?)"""', re.S)
SKIPPED_DIRS = {"site-packages", "test", "tests", "idlelib"}


@dataclass(frozen=True)
class Settings:
    """The step issue 19 profiled; --quick shrinks it to a smoke test."""

    vocab: int = 13_333      # words in the vocabulary (with <unk> and <eos>)
    embed: int = 32          # embedding width
    hidden: int = 128        # LSTM units
    seq_len: int = 64        # T
    batch: int = 32          # B
    lr: float = 2e-3         # Adam
    clip: float = 1.0        # gradient norm


QUICK = Settings(vocab=2_000, seq_len=16, batch=8)


def _texts() -> Iterator[str]:
    """The pydoc topics, then every docstring of the standard library's modules, file by file."""
    yield corpus("python-help")
    root = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if not SKIPPED_DIRS & set(path.relative_to(root).parts):
            yield from DOCSTRING.findall(path.read_text(encoding="utf-8", errors="replace"))


def word_text(vocab: int) -> str:
    """Python's own documentation, up to the line where its vocabulary reaches `vocab` words."""
    seen: set[str] = set()
    lines: list[str] = []
    for text in _texts():
        for line in text.splitlines():
            seen.update(tokenize(line))
            lines.append(line)
            if len(seen - {"<unk>", "<eos>"}) + 2 >= vocab:
                return "\n".join(lines) + "\n"
    raise Unavailable(f"Python's documentation has fewer than {vocab} distinct words")


def first_batch(s: Settings) -> tuple[int, np.ndarray, np.ndarray]:
    """(vocabulary size, inputs (T, B), next-word targets (T, B)) of the text's first window."""
    text = word_text(s.vocab)
    vocab = WordVocab.from_text(text, max_size=s.vocab)     # the last line's extra words: <unk>
    x, y = StreamBatches(vocab.encode(text), s.batch, s.seq_len).next()
    return len(vocab), x, y


def ours(s: Settings, vocab: int, x: np.ndarray, y: np.ndarray) -> tuple[Step, LanguageModel]:
    """Our LanguageModel's training step (a fresh state each step) and the model."""
    manual_seed(0)
    model = LanguageModel(ModelConfig(vocab, "lstm", s.hidden, 1, s.embed))
    params = list(model.parameters())
    optimizer = optim.Adam(params, lr=s.lr)

    def step() -> float:
        logits, _ = model(x)                                        # (T, B, V)
        loss = model.loss(logits, y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(params, s.clip)
        optimizer.step()
        return loss.item()

    return step, model


def theirs(s: Settings, vocab: int, x: np.ndarray, y: np.ndarray) -> Step:
    """The same model and step in PyTorch (one thread), from our initial weights."""
    if not pytorch.available():
        raise Unavailable("torch not installed")
    import torch

    torch.set_num_threads(1)
    _, model = ours(s, vocab, x, y)

    net = pytorch.language_model("lstm", vocab, s.embed, s.hidden)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    optimizer = torch.optim.Adam(net.parameters(), lr=s.lr)
    ids, targets = torch.from_numpy(x), torch.from_numpy(y).reshape(-1)

    def step() -> float:
        loss = torch.nn.functional.cross_entropy(net(ids).reshape(-1, vocab), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), s.clip)
        optimizer.step()
        return loss.item()

    return step


CONTENDERS = {"ours": "ours LanguageModel", "torch": "torch nn.LSTM model"}


def _build(key: str, s: Settings, vocab: int, x: np.ndarray, y: np.ndarray) -> Step:
    return ours(s, vocab, x, y)[0] if key == "ours" else theirs(s, vocab, x, y)


def _timed(steps: dict[str, Step], blocks: int, repeats: int) -> dict[str, dict[str, Any]]:
    """Wall and CPU seconds per step, in `blocks` rounds that each contender starts in turn."""
    out = {key: {"first_loss": step(), "wall": [], "cpu": []} for key, step in steps.items()}
    order = list(steps)
    for block in range(blocks):
        for key in order[block % len(order):] + order[:block % len(order)]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeats):
                steps[key]()
            out[key]["wall"].append((time.perf_counter() - wall) / repeats)
            out[key]["cpu"].append((time.process_time() - cpu) / repeats)
    return out


def probe(key: str, quick: bool) -> dict[str, Any]:
    """Peak resident memory of one steady step (after a warm-up step), in this process."""
    s = QUICK if quick else Settings()
    vocab, x, y = first_batch(s)
    try:
        step = _build(key, s, vocab, x, y)
    except Unavailable as reason:
        return {"status": f"skipped: {reason}"}
    step()                                         # the optimizer's state exists from here on
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")             # reset the high-water mark
        baseline = status_kib("VmRSS")
    except OSError:
        baseline = status_kib("VmHWM")
    loss = step()
    return {"status": "ok", "peak_mib": (status_kib("VmHWM") - baseline) / 1024, "loss": loss}


def _probe_in_fresh_process(key: str, quick: bool) -> dict[str, Any]:
    if not Path("/proc/self/status").exists():
        return {"status": "skipped: no /proc/self/status"}
    command = [sys.executable, "-m", "benchmarks.word_lm", "--probe-memory", key]
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=REPO,
                          capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        return {"status": f"failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}"}
    return json.loads(done.stdout)


def measure(quick: bool, blocks: int | None = None) -> dict[str, Any]:
    """Time ours and torch interleaved and probe each one's peak memory: the report as data."""
    s = QUICK if quick else Settings()
    blocks = blocks or (3 if quick else 7)
    vocab, x, y = first_batch(s)
    rows: dict[str, dict[str, Any]] = {key: {"label": label, "status": "ok"}
                                       for key, label in CONTENDERS.items()}
    steps: dict[str, Step] = {}
    for key in CONTENDERS:
        try:
            steps[key] = _build(key, s, vocab, x, y)
        except Unavailable as reason:
            rows[key]["status"] = f"skipped: {reason}"
    with reuse_freed_memory():
        timed = _timed(steps, blocks, repeats=1 if quick else 3)
    for key, t in timed.items():
        rows[key].update(first_loss=t["first_loss"], wall=statistics.median(t["wall"]),
                         cpu=statistics.median(t["cpu"]), wall_blocks=t["wall"],
                         cpu_blocks=t["cpu"])
    for key in CONTENDERS:
        rows[key]["memory"] = _probe_in_fresh_process(key, quick)
    return {"settings": {**asdict(s), "vocab": vocab}, "blocks": blocks, "rows": rows,
            "ratios": ratios(rows)}


def ratios(rows: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """ours / torch for wall time, CPU time and peak memory (None where a side is missing)."""
    mine, other = rows["ours"], rows["torch"]
    out: dict[str, float | None] = {}
    for name in ("wall", "cpu"):
        out[name] = mine[name] / other[name] if name in mine and name in other else None
    peaks = [r["memory"].get("peak_mib") for r in (mine, other)]
    out["memory"] = peaks[0] / peaks[1] if None not in peaks and peaks[1] else None
    return out


def render(report: dict[str, Any]) -> str:
    """The report as a plain table (80 columns)."""
    s = report["settings"]
    lines = [f"word-lm: embed {s['embed']}, LSTM {s['hidden']}, T {s['seq_len']}, "
             f"B {s['batch']}, V {s['vocab']:,}, Adam, clip {s['clip']:g}",
             f"(per training step: the median of {report['blocks']} interleaved blocks; "
             f"peak: one step)",
             f"{'contender':<22}{'wall s/step':>12}{'CPU s/step':>12}{'peak MiB':>10}"
             f"{'first loss':>12}"]
    for row in report["rows"].values():
        if row["status"] != "ok":
            lines.append(f"{row['label']:<22}{row['status']}")
            continue
        peak = row["memory"].get("peak_mib")
        lines.append(f"{row['label']:<22}{row['wall']:>12.3f}{row['cpu']:>12.3f}"
                     f"{'—' if peak is None else f'{peak:,.0f}':>10}{row['first_loss']:>12.5f}")
    r = report["ratios"]
    if r["wall"] is not None:
        shown = ", ".join(f"{name} {value:.2f}x" for name, value in r.items()
                          if value is not None)
        lines.append(f"ours / torch: {shown} (goal <= 1.0x, moonshot 0.8x)")
    return "\n".join(lines)


def profile(quick: bool, steps: int, top: int) -> None:
    """cProfile `steps` of our step (after a warm-up) and print the hotspots tables."""
    from rich.console import Console

    from benchmarks.hotspots import table

    s = QUICK if quick else Settings()
    step, _ = ours(s, *first_batch(s))
    with reuse_freed_memory():
        step()
        profiler = cProfile.Profile(time.process_time)      # CPU seconds: steadier when shared
        profiler.enable()
        for _ in range(steps):
            step()
        profiler.disable()
    import pstats

    stats = pstats.Stats(profiler)
    console = Console(width=100)
    console.print(table(stats, "tottime", top))
    console.print(table(stats, "cumtime", top))


def _measure(quick: bool, blocks: int, console: Console) -> list[Result]:
    """The word-lm rows of `make bench`: seconds per step (wall), then peak MiB of a step."""
    report = measure(quick, blocks)
    rows = report["rows"]
    results = [Result("word-lm", key, row["label"], row["status"], "s/step", row.get("wall"),
                      row.get("wall_blocks", []), row.get("first_loss"))
               for key, row in rows.items()]
    results += [Result("word-lm memory", key, row["label"], row["memory"]["status"], "MiB",
                       row["memory"].get("peak_mib"), loss=row["memory"].get("loss"))
                for key, row in rows.items()]
    cpu = ", ".join(f"{key} {row['cpu']:.3f}" for key, row in rows.items() if "cpu" in row)
    console.print(f"[dim]  word-lm CPU seconds per step: {cpu}[/dim]")
    return results


def _goals(quick: bool) -> list[Goal]:
    s = QUICK if quick else Settings()
    what = (f"tinygrad-rnn train --level word --cell lstm, one step (V {s.vocab:,}, "
            f"embed {s.embed}, LSTM {s.hidden}, T {s.seq_len}, B {s.batch}, Adam, clip "
            f"{s.clip:g})")
    wall = f"{what}, wall time (the ≤ 0.8 row is the moonshot)"
    return [Goal("word-lm", wall, ("word-lm", "ours"), ("word-lm", "torch"), 1.0),
            Goal("word-lm", wall, ("word-lm", "ours"), ("word-lm", "torch"), 0.8),
            Goal("word-lm memory", f"{what}, peak memory", ("word-lm memory", "ours"),
                 ("word-lm memory", "torch"), 1.0)]


SECTION = Section("word-lm", _measure, _goals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.word_lm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="V 2,000, T 16, B 8")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--blocks", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--profile", action="store_true", help="cProfile our step instead")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps (default 3)")
    parser.add_argument("--write-corpus", metavar="FILE", help="write the text and stop")
    parser.add_argument("--probe-memory", metavar="CONTENDER", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write_corpus:
        Path(args.write_corpus).write_text(word_text((QUICK if args.quick else Settings()).vocab),
                                           encoding="utf-8")
        return 0
    if args.probe_memory:
        print(json.dumps(probe(args.probe_memory, args.quick)))
        return 0
    if args.profile:
        profile(args.quick, args.steps, 15)
        return 0
    if args.blocks is not None and args.blocks < 1:
        parser.error("--blocks must be at least 1")
    report = measure(args.quick, args.blocks)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
