"""The `tinygrad-rnn` command (also `python -m tinygrad_rnn`).

    tinygrad-rnn train --corpus python-names --lines --steps 3000 --out runs/names
    tinygrad-rnn sample runs/names --n 10 --temperature 0.8
    tinygrad-rnn train --steps 2000 --out runs/help             # the built-in python-help text
    tinygrad-rnn sample runs/help --prime "The " --max-len 300 --top-p 0.9
    tinygrad-rnn score runs/help "The apple and pair salad." "The apple and pear salad."
    tinygrad-rnn eval runs/help --data notes.txt --json
    tinygrad-rnn gradcheck
    tinygrad-rnn vanishing --quick --svg vanishing.svg
    tinygrad-rnn graph "tanh(x @ w + b)" --input x=2,3 --input w=3,2 --input b=2 --trace
    tinygrad-rnn graph --cell lstm --dot lstm.dot
    tinygrad-rnn graph --unroll 6 --svg bptt.svg
    tinygrad-rnn learn list
    tinygrad-rnn plot runs/names runs/help --svg loss.svg
    tinygrad-rnn report runs/names

Bad input exits with status 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields, replace
from typing import Any, NoReturn

import numpy as np
from rich.console import Console
from rich.table import Table

from tinygrad_rnn.data import (
    CORPORA,
    DataError,
    line_eval_batches,
    read_text,
    stream_eval_batches,
    text_lines,
)
from tinygrad_rnn.engine.allocator import reuse_freed_memory
from tinygrad_rnn.engine.threads import add_threads_flag, use_threads
from tinygrad_rnn.lm.checkpoint import CheckpointError
from tinygrad_rnn.lm.generate import GenerationError
from tinygrad_rnn.lm.model import (
    CELLS,
    ConfigError,
    beam_texts,
    bits,
    boundary_id,
    mean_loss,
    perplexity,
    sample_text,
    score_text,
)
from tinygrad_rnn.lm.plot import add_plot_command
from tinygrad_rnn.lm.report import add_report_command
from tinygrad_rnn.lm.runs import RunError
from tinygrad_rnn.lm.train import (
    BEST,
    LAST,
    OPTIMIZERS,
    TrainConfig,
    TrainError,
    load_model,
    run_config,
    train,
)
from tinygrad_rnn.teach.learn.command import LearnError
from tinygrad_rnn.teach.learn.command import add_parser as add_learn_parser
from tinygrad_rnn.teach.tour import all_checks, op_checks, op_names, run_checks

__all__ = ["main", "build_parser", "UsageError", "quiet_broken_pipe"]

EXPECTED = (DataError, CheckpointError, TrainError, GenerationError, ConfigError, LearnError,
            RunError)


class UsageError(ValueError):
    """A combination of arguments that argparse cannot check on its own."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")   # one line

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's parse, except that texts may follow a flag: `score RUN --json "text"`."""
        namespace, extra = self.parse_known_args(args, namespace)
        if extra and isinstance(getattr(namespace, "texts", None), list) \
                and not any(word.startswith("-") for word in extra):
            namespace.texts += extra
        elif extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return namespace


# ---- flag value checks ----------------------------------------------------------------------
def _number(text: str, kind: Callable[[str], Any]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a {'whole ' if kind is int else ''}number, "
                                         f"got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _flag_type(kind: Callable[[str], Any], ok: Callable[[Any], bool],
               rule: str) -> Callable[[str], Any]:
    """An argparse type: the text read as `kind`, refused unless ok(value) ("must be RULE")."""

    def parse(text: str) -> Any:
        value = _number(text, kind)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    return parse


positive_int = _flag_type(int, lambda v: v >= 1, "a whole number >= 1")
natural = _flag_type(int, lambda v: v >= 0, "a whole number >= 0")
positive = _flag_type(float, lambda v: v > 0, "a number > 0")
non_negative = _flag_type(float, lambda v: v >= 0, "a number >= 0")
fraction = _flag_type(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
top_p = _flag_type(float, lambda v: 0 < v <= 1, "a number in (0, 1]")


# ---- the parser -----------------------------------------------------------------------------
def build_parser() -> Parser:
    """The argument parser of every subcommand."""
    parser = Parser(prog="tinygrad-rnn", description="Train, sample and score recurrent "
                    "language models on a tiny numpy autograd engine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = commands.add_parser("train", help="train a language model on a text file or corpus")
    source = t.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="FILE", help="a UTF-8 text file")
    source.add_argument("--corpus", choices=list(CORPORA), help="a built-in corpus "
                        "(default python-help)")
    t.add_argument("--lines", action="store_const", const=True,
                   help="one example per line (names), sampled until the end of the line")
    t.add_argument("--level", choices=["char", "word"], help="tokens (default char)")
    t.add_argument("--cell", choices=list(CELLS), help="recurrent cell (default gru)")
    t.add_argument("--hidden", type=positive_int, help="hidden units per layer (128)")
    t.add_argument("--layers", type=positive_int, help="stacked layers (1)")
    t.add_argument("--embed", type=natural, help="embedding width, 0 for one-hot (32)")
    t.add_argument("--dropout", type=fraction, help="dropout probability (0)")
    t.add_argument("--seq-len", type=positive_int, help="truncated BPTT window (64)")
    t.add_argument("--batch-size", type=positive_int, help="streams or lines per step (32)")
    t.add_argument("--steps", type=positive_int, help="total optimizer steps (2000)")
    t.add_argument("--minutes", type=non_negative, help="stop after this many minutes of this "
                   "session (0: no limit; a --resume may change it)")
    t.add_argument("--optim", choices=list(OPTIMIZERS), help="optimizer (adam)")
    t.add_argument("--lr", type=positive, help="learning rate (the optimizer's usual value)")
    t.add_argument("--schedule", choices=["constant", "cosine"], help="lr schedule (constant)")
    t.add_argument("--clip", type=non_negative, help="gradient clipping threshold, 0 off (1.0)")
    t.add_argument("--clip-mode", choices=["norm", "value"], help="clip the norm or each value")
    t.add_argument("--val-frac", type=fraction, help="share held out for validation (0.1)")
    t.add_argument("--eval-every", type=positive_int, help="steps between evaluations (100)")
    t.add_argument("--seed", type=natural, help="random seed (0)")
    t.add_argument("--out", default="runs/lm", metavar="DIR", help="run directory (runs/lm)")
    t.add_argument("--resume", action="store_true", help="continue the run in DIR exactly")
    t.add_argument("--plain", action="store_true", help="plain lines instead of the dashboard")
    t.add_argument("--detect-anomaly", action="store_true", help="check every op for NaN/Inf and "
                   "name the first that made one (slower; for a diverging run)")
    t.set_defaults(handler=cmd_train)

    s = commands.add_parser("sample", help="generate text from a trained model")
    s.add_argument("dir", metavar="DIR", help="a run directory (or a checkpoint file)")
    s.add_argument("--n", type=positive_int, help="how many samples (1; 10 in line mode)")
    s.add_argument("--max-len", type=positive_int, help="tokens per sample (300; 50 for lines)")
    s.add_argument("--temperature", type=positive, default=1.0, help="< 1 sharper, > 1 wilder")
    s.add_argument("--top-k", type=positive_int, help="sample among the k likeliest tokens")
    s.add_argument("--top-p", type=top_p, help="sample among the likeliest tokens of mass p")
    decode = s.add_mutually_exclusive_group()
    decode.add_argument("--greedy", action="store_true", help="always the likeliest token")
    decode.add_argument("--beam", type=positive_int, metavar="W", help="beam search of width W")
    s.add_argument("--prime", default="", metavar="TEXT", help="text to continue")
    s.add_argument("--seed", type=natural, default=0, help="random seed (0)")
    s.set_defaults(handler=cmd_sample)

    c = commands.add_parser("score", help="rank texts by their probability under a model")
    c.add_argument("dir", metavar="DIR", help="a run directory (or a checkpoint file)")
    c.add_argument("texts", nargs="*", metavar="TEXT", help="texts to score")
    c.add_argument("--file", metavar="F", help="score each line of this file")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(handler=cmd_score)

    e = commands.add_parser("eval", help="mean loss and bits per char on held-out text")
    e.add_argument("dir", metavar="DIR", help="a run directory (or a checkpoint file)")
    e.add_argument("--data", required=True, metavar="FILE", help="a UTF-8 text file")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(handler=cmd_eval)

    g = commands.add_parser("gradcheck", help="every op's, cell's and layer's backward against "
                            "central differences")
    g.add_argument("--break", dest="break_op", choices=op_names(op_checks()), metavar="OP",
                   help="give OP (e.g. matmul) a wrong backward that forgets the upstream "
                        "gradient, for the whole tour: see what fails with it")
    g.add_argument("--quick", action="store_true", help="the primitive ops only (the cells and "
                   "layers are built from them)")
    g.add_argument("--plain", action="store_true", help="the same table without colours or bold")
    g.set_defaults(handler=cmd_gradcheck)

    v = commands.add_parser("vanishing", help="vanishing and exploding gradients, measured")
    v.add_argument("--quick", action="store_true", help="short sequences, a few seconds")
    v.add_argument("--seed", type=natural, default=0, help="random seed (0)")
    v.add_argument("--svg", metavar="FILE", help="also save the picture as an SVG file")
    v.add_argument("--plain", action="store_true", help="the same text without colours")
    v.set_defaults(handler=cmd_vanishing)

    d = commands.add_parser("graph", help="the computation graph of a cell step or an expression",
                            epilog=GRAPH_EXAMPLES,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("expression", nargs="?", help='a Tensor expression, e.g. "tanh(x @ w + b)" '
                   "(the default, with x=2,3 w=3,2 b=2 and x needing no grad)")
    d.add_argument("--cell", choices=["rnn", "gru", "lstm"], help="one step of this cell instead")
    d.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                   help="an input's shape, e.g. x=4,3 (repeat for each input)")
    d.add_argument("--no-grad", action="append", default=[], metavar="NAME",
                   help="this input needs no gradient (e.g. the data x)")
    d.add_argument("--unroll", type=_flag_type(int, lambda v: 1 <= v <= 100, "in 1..100"),
                   metavar="T", help="run the cell (all three without --cell) over T steps: "
                   "‖∂L/∂h⟨t⟩‖ per step")
    d.add_argument("--svg", metavar="FILE", help="also draw it as an SVG picture: each node's "
                   "value and ‖gradient‖ (no Graphviz needed)")
    d.add_argument("--dot", metavar="FILE", help="also write Graphviz DOT text to FILE")
    d.add_argument("--trace", action="store_true",
                   help="also print each op forward and each gradient backward")
    d.add_argument("--code", action="store_true",
                   help="with --cell: print the Python code scan compiles for the step "
                        "(its forward and the backward autograd derived)")
    d.add_argument("--plain", action="store_true", help="the same text without colours")
    d.set_defaults(handler=cmd_graph)
    add_plot_command(commands)
    add_report_command(commands)

    add_learn_parser(commands)          # learn list|start|check|hint: teach/learn/command.py
    for command in commands.choices.values():        # every command, including ones added later
        add_threads_flag(command)
    return parser


GRAPH_EXAMPLES = """examples:
  tinygrad-rnn graph                       tanh(x @ w + b) with x=2,3 w=3,2 b=2
  tinygrad-rnn graph "tanh(x @ w + b)" --svg graph.svg
  tinygrad-rnn graph "(a * b).sum()" --input a=3 --input b=3 --trace
  tinygrad-rnn graph --cell gru --svg gru.svg      gates named x_r, h_z, ...
  tinygrad-rnn graph --unroll 6 --svg bptt.svg     RNN, GRU, LSTM over 6 steps
  tinygrad-rnn graph --cell lstm --dot lstm.dot"""


# ---- commands -------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    """Train (or resume) a run; 130 if stopped by Ctrl-C (after saving `last`)."""
    from tinygrad_rnn.lm.dashboard import make_reporter

    names = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if given.get("minutes") == 0:
        given["minutes"] = None                                  # --minutes 0: no time limit
    config = replace(run_config(args.out), **given) if args.resume else TrainConfig(**given)
    with contextlib.closing(make_reporter(args.plain, out=args.out)) as reporter, \
            reuse_freed_memory():                                     # closed on errors too
        summary = train(config, args.out, resume=args.resume, reporter=reporter,
                        check_anomalies=args.detect_anomaly)
    return 130 if summary.stopped == "interrupt" else 0


def _checkpoint(path: str) -> str:
    """The checkpoint to read: the file itself, or a run directory's best (else last) one."""
    if not os.path.isdir(path):
        return path
    for name in (BEST, LAST):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise CheckpointError(f"{path} holds no checkpoint ({BEST} or {LAST}): train a model first")


def cmd_sample(args: argparse.Namespace) -> int:
    """Print samples (or the best beams) from a trained model."""
    model, vocab, config, _ = load_model(_checkpoint(args.dir))
    lines = config.lines
    if args.prime and (unknown := vocab.unknown(args.prime)) and vocab.kind == "char":
        char = sorted(unknown)[0]
        raise UsageError(f"--prime: character {char!r} is not in the model's vocabulary of "
                         f"{len(vocab)} characters")
    n = args.n or (10 if lines else 1)
    max_len = args.max_len or (50 if lines else 300)
    if args.beam is not None:
        texts = [text for text, _ in beam_texts(model, vocab, lines=lines, prime=args.prime,
                                                 beam_width=max(args.beam, n),
                                                 max_len=max_len)][:n]
    else:
        rng = np.random.default_rng(args.seed)
        texts = [sample_text(model, vocab, rng, lines=lines, prime=args.prime, max_len=max_len,
                             temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                             greedy=args.greedy) for _ in range(n)]
    print(("\n" if lines else "\n\n").join(texts))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Rank texts by log-probability: a table, or JSON with --json."""
    texts = list(args.texts)
    if args.file is not None:
        texts += text_lines(read_text(args.file))
    if not texts:
        raise UsageError("give at least one TEXT or a --file of texts")
    model, vocab, config, _ = load_model(_checkpoint(args.dir))
    rows = []
    for text in texts:
        try:
            score = score_text(model, vocab, text, lines=config.lines)
        except (DataError, ValueError) as e:
            raise UsageError(f"cannot score {text[:40]!r}: {e}") from None
        rows.append({"text": text, "log_prob": score.log_prob, "tokens": score.tokens,
                     "loss": score.loss, "perplexity": score.perplexity})
    ranked = sorted(rows, key=lambda r: -r["log_prob"])
    if args.json:
        print(_json(ranked, ensure_ascii=False, indent=1))
        return 0
    unit = "char" if vocab.kind == "char" else "token"
    table = Table(title=f"most probable first ({config.level}-level model)")
    for name in ("rank", "text", "log-prob (nats)", f"loss / {unit}", "perplexity"):
        table.add_column(name, justify="left" if name == "text" else "right")
    for rank, r in enumerate(ranked, 1):
        table.add_row(str(rank), r["text"], f"{r['log_prob']:.3f}", f"{r['loss']:.4f}",
                      f"{r['perplexity']:.3f}")
    Console().print(table)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Mean loss, bits per token and perplexity of a model on a text file."""
    model, vocab, config, _ = load_model(_checkpoint(args.dir))
    text = read_text(args.data)
    try:
        if config.lines:
            examples = [vocab.encode(line) for line in text_lines(text)]
            batches = line_eval_batches(examples, 32, vocab.boundary_id)
        else:
            start = boundary_id(vocab)
            ids = np.concatenate([[start] if start is not None else [], vocab.encode(text)])
            batches = stream_eval_batches(ids.astype(np.int64), 1, 256)
    except DataError as e:
        raise DataError(f"{args.data}: {e}") from None
    loss, tokens = mean_loss(model, batches, carry_state=not config.lines)
    result = {"loss": loss, "bpc": bits(loss), "perplexity": perplexity(loss), "tokens": tokens}
    if args.json:
        print(_json(result))
    else:
        unit = "char" if vocab.kind == "char" else "token"
        print(f"loss {loss:.4f} nats/{unit}  {bits(loss):.4f} bits/{unit}  "
              f"perplexity {perplexity(loss):.3f}  over {tokens} {unit}s")
    return 0


def _json(value: Any, **options: Any) -> str:
    """JSON text of `value`; NaN and Inf (not JSON) are an error instead of invalid output."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        raise UsageError("the model gives a result that is not a finite number (NaN or Inf); "
                         "refusing to print it as JSON") from None


def cmd_gradcheck(args: argparse.Namespace) -> int:
    """The gradient-check tour as a table; 1 if a check fails that was not broken on purpose."""
    results = run_checks(op_checks() if args.quick else all_checks(), break_op=args.break_op)
    table = Table(title="backward() vs central differences (float64)",
                  caption="cells and layers: every element of the input, the state and "
                          "each parameter")
    for name in ("kind", "check", "max abs err", "max rel err", "result"):
        table.add_column(name, justify="left" if name in ("kind", "check") else "right")
    for previous, r in zip([None, *results], results, strict=False):
        if previous is not None and previous.kind != r.kind:
            table.add_section()
        table.add_row(r.kind, r.name, f"{r.max_abs_error:.1e}", f"{r.max_rel_error:.1e}",
                      "pass" if r.passed else "FAIL")
    console = _console(args.plain)
    console.print(table)
    failed = sum(not r.passed for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
    if args.break_op:
        console.print(f"{args.break_op}'s backward was broken on purpose: its own row fails, and "
                      f"so does every cell and layer built on {args.break_op}")
    return 1 if failed and not args.break_op else 0


def _console(plain: bool = False, record: bool = False) -> Console:
    """A console as wide as the terminal (COLUMNS in a pipe); `plain`: the same text, no styles."""
    return Console(color_system=None if plain else "auto", record=record, highlight=False)


def _writable(path: str, flag: str) -> None:
    """Refuse an output path whose directory does not exist, before any work is done."""
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise UsageError(f"{flag} {path}: the directory does not exist")


def cmd_vanishing(args: argparse.Namespace) -> int:
    """‖∂L/∂h⟨t⟩‖ over time for RNN, GRU and LSTM, then clipping; optionally saved as SVG."""
    from tinygrad_rnn.teach.vanishing_view import QUICK, Settings, show_vanishing

    if args.svg is not None:
        _writable(args.svg, "--svg")
    console = _console(args.plain, record=args.svg is not None)
    show_vanishing(console, replace(QUICK if args.quick else Settings(), seed=args.seed))
    if args.svg is not None:
        console.save_svg(args.svg, title="tinygrad-rnn vanishing")
        print(f"saved {args.svg}")
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    """Draw the graph as a tree (or an unrolled cell as a table); optionally as SVG or DOT, and
    trace forward and backward."""
    from tinygrad_rnn.teach.expression import ExpressionError
    from tinygrad_rnn.teach.graph_view import cell_code, graph_source, show_unrolled
    from tinygrad_rnn.testing.trace import trace
    from tinygrad_rnn.viz import graph_tree, to_dot

    if args.cell and (args.expression or args.input or args.no_grad):
        raise UsageError("give either --cell or an expression (with --input/--no-grad), not both")
    if args.code:
        if not args.cell:
            raise UsageError("--code needs --cell rnn|gru|lstm (the step whose code to print)")
        print(cell_code(args.cell), end="")
        return 0
    if args.unroll and (args.expression or args.input or args.no_grad or args.trace or args.dot):
        raise UsageError("--unroll draws a cell (--cell, or all three): no expression, --trace "
                         "or --dot with it")
    for path, flag in ((args.dot, "--dot"), (args.svg, "--svg")):
        if path is not None:
            _writable(path, flag)
    console = _console(args.plain)
    if args.unroll:
        show_unrolled(console, [args.cell] if args.cell else ["rnn", "gru", "lstm"], args.unroll,
                      args.svg)
        return 0
    try:
        source = graph_source(args.cell, args.expression, args.input, args.no_grad)
    except ExpressionError as e:
        raise UsageError(str(e)) from None
    root = source.compute()
    console.print(graph_tree(root, source.names))
    if args.svg is not None:
        source.drawing().save(args.svg)
        print(f"wrote {args.svg} (open it in a browser)")
    if args.dot is not None:
        with open(args.dot, "w", encoding="utf-8") as f:
            f.write(to_dot(root, source.names))
        print(f"wrote {args.dot} (render it with: dot -Tsvg {args.dot} -o graph.svg)")
    if args.trace:
        print("forward, op by op; then backward from a random upstream gradient:")
        with trace(source.names):
            root = source.compute()
            root.backward(np.random.default_rng(0).standard_normal(root.shape))
    return 0


def quiet_broken_pipe() -> int:
    """After the reader of a pipe left (BrokenPipeError): silence stdout, so that Python's exit
    flush prints no second error, and return 1, as rich does when its print meets the same."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for bad input, with one line on stderr)."""
    args = build_parser().parse_args(argv)
    use_threads(args.threads)                # one BLAS thread unless --threads says otherwise
    try:
        with np.errstate(all="ignore"):      # non-finite values are reported once, as errors
            return args.handler(args)
    except (*EXPECTED, UsageError) as e:
        message = " ".join(str(e).split())
    except BrokenPipeError:      # `tinygrad-rnn gradcheck | head -2`: the reader has seen enough
        return quiet_broken_pipe()
    except OSError as e:
        message = f"{e.strerror or e}: {e.filename}" if e.filename else str(e)
    except KeyboardInterrupt:
        print("tinygrad-rnn: interrupted", file=sys.stderr)
        return 130

    print(f"tinygrad-rnn {args.command}: error: {message}", file=sys.stderr)
    return 2
