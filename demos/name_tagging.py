"""Many-to-many, Tx = Ty: tag every word that is part of a person's name.

    python demos/name_tagging.py             # a unidirectional and a bidirectional GRU
    python demos/name_tagging.py --quick     # fewer steps (the test runs this)
    python demos/name_tagging.py --plain     # no colours or boxes

    harry potter and hermione granger invented a new spell
      1     1     0     1       1        0     0  0   0

One output per input word: y⟨t⟩ comes from h⟨t⟩. Sentences are generated from templates and the
name lists in _gallery.py, all lowercase (capital letters would give names away). Some words are
names or not depending on the word that *follows*: "rose said that ..." (a name) against
"rose petals covered ..." (a flower). A unidirectional GRU must tag "rose" before it has read
"said" or "petals", so on those words it can only guess (about 0.5); a bidirectional GRU also
reads the sentence right to left, so its h⟨t⟩ has seen the cue. Bars for --quick: the
bidirectional GRU tags held-out words with accuracy at least 0.95, and beats the unidirectional
one on the ambiguous words by at least 0.30.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from _gallery import FIRST_NAMES, SURNAMES, Printer, gallery_parser, run_demo, run_length

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.nn.utils import clip_grad_norm_

# {p}: a person (first name, sometimes with a surname); the words of a name are tagged 1.
PLAIN_TEMPLATES = [
    "{p} and {p} invented a new spell", "yesterday {p} met {p} at the station",
    "the teacher asked {p} to read the letter", "{p} gave the book to {p}",
    "after dinner {p} played chess with {p}", "a letter from {p} arrived this morning",
    "{p} lives near the old bridge", "nobody expected {p} to win the race",
    "the new manager is {p}", "we visited {p} in the summer", "{p} and the dog went for a walk",
]
# Words that are first names and also flowers or gems: only the next word tells which.
FLOWERS = "rose lily iris daisy violet jasmine poppy heather holly ivy hazel olive".split()
GEMS = "ruby amber pearl jade coral opal".split()
# {a}: the ambiguous word at the start (after an uninformative opening), used as a name ...
AS_NAME = [
    "{a} said that the train was late", "{a} smiled at {p}", "{a} asked {p} for help",
    "{a} wrote a long letter to {p}", "{a} laughed at the joke", "{a} opened the door",
]
# ... or as a thing.
AS_FLOWER = [
    "{a} petals covered the path", "{a} seeds grow slowly in the shade",
    "{a} leaves turned brown", "{a} bushes grow by the wall", "{a} tea is good for a cold",
]
AS_GEM = [
    "{a} necklaces are expensive", "{a} earrings were found under the bed",
    "{a} beads fell on the floor", "{a} rings sell well at the market",
]
OPENINGS = ["", "yesterday", "then", "in the morning"]
Sentence = tuple[list[str], list[int], int]   # words, their tags, where the ambiguous word is


@dataclass
class Settings:
    """Everything the script trains with."""

    train_size: int = 4000     # generated training sentences
    test_size: int = 1000      # held-out sentences (none also in the training set)
    embed: int = 16            # word embedding width
    hidden: int = 32           # recurrent units per direction
    batch_size: int = 64       # sentences per step
    steps: int = 400           # optimizer steps for each model (--quick: 90)
    lr: float = 1e-2           # Adam's learning rate
    clip: float = 1.0          # max gradient norm
    log_every: int = 100       # steps between progress lines
    seed: int = 0              # data, initialisation and batches


def person(rng: np.random.Generator) -> list[str]:
    """A first name (sometimes a flower or gem name), with a surname half of the time."""
    first = str(rng.choice(FIRST_NAMES + FLOWERS + GEMS))
    return [first, str(rng.choice(SURNAMES))] if rng.random() < 0.5 else [first]


def sentence(rng: np.random.Generator) -> Sentence:
    """Words, tags (1: part of a name) and the index of the ambiguous word (-1: none)."""
    ambiguous_at = -1
    if rng.random() < 0.5:
        template = str(rng.choice(PLAIN_TEMPLATES))
    else:                                                            # half: an ambiguous opening
        word = str(rng.choice(FLOWERS + GEMS))
        if rng.random() < 0.5:
            template, tag = str(rng.choice(AS_NAME)), 1
        else:
            template, tag = str(rng.choice(AS_FLOWER if word in FLOWERS else AS_GEM)), 0
        template = f"{rng.choice(OPENINGS)} {template}".strip()
    words: list[str] = []
    tags: list[int] = []
    for token in template.split():
        if token == "{p}":
            name = person(rng)
            words += name
            tags += [1] * len(name)
        elif token == "{a}":
            ambiguous_at = len(words)
            words.append(word)
            tags.append(tag)
        else:
            words.append(token)
            tags.append(0)
    return words, tags, ambiguous_at


def make_vocab() -> dict[str, int]:
    """Every word the generator can write → an id (0 is padding)."""
    words = {w for t in PLAIN_TEMPLATES + AS_NAME + AS_FLOWER + AS_GEM + OPENINGS
             for w in t.split() if not w.startswith("{")}
    words |= set(FIRST_NAMES) | set(SURNAMES) | set(FLOWERS) | set(GEMS)
    return {w: i for i, w in enumerate(["<pad>", *sorted(words)])}


def pad(sentences: list[Sentence], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Word ids (T, B), 0 after the end, and tags (T, B), -100 after the end (ignored)."""
    steps = max(len(words) for words, _, _ in sentences)
    ids = np.zeros((steps, len(sentences)), dtype=np.int64)          # (T, B)
    tags = np.full((steps, len(sentences)), -100, dtype=np.int64)    # (T, B)
    for b, (words, word_tags, _) in enumerate(sentences):
        ids[:len(words), b] = [vocab[w] for w in words]
        tags[:len(words), b] = word_tags
    return ids, tags


class Tagger(nn.Module):
    """ids (T, B) → embedding (T, B, E) → GRU (T, B, D·H) → two logits per word (T, B, 2)."""

    def __init__(self, vocab_size: int, s: Settings, bidirectional: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, s.embed)
        self.rnn = nn.GRU(s.embed, s.hidden, bidirectional=bidirectional)
        self.head = nn.Linear(s.hidden * (2 if bidirectional else 1), 2)

    def forward(self, ids: np.ndarray) -> tg.Tensor:
        outputs, _ = self.rnn(self.embedding(ids))                   # (T, B, D·H)
        return self.head(outputs)                                    # (T, B, 2)


def predict(model: Tagger, ids: np.ndarray) -> np.ndarray:
    """The tag of every word (T, B)."""
    model.eval()
    with tg.no_grad():
        tags = model(ids).numpy().argmax(axis=2)                     # (T, B)
    model.train()
    return tags


def train(model: Tagger, train_set: list[Sentence], vocab: dict[str, int], s: Settings,
          out: Printer, name: str) -> None:
    """Adam on random batches of the training sentences."""
    rng = np.random.default_rng(s.seed)
    optimizer = optim.Adam(model.parameters(), lr=s.lr)
    start = time.perf_counter()
    for step in range(1, s.steps + 1):
        batch = [train_set[i] for i in rng.integers(0, len(train_set), size=s.batch_size)]
        ids, tags = pad(batch, vocab)                                # (T, B) each
        logits = model(ids)                                          # forward: (T, B, 2)
        loss = nn.functional.cross_entropy(logits.reshape(-1, 2), tags.reshape(-1))  # (T·B, 2)
        optimizer.zero_grad()
        loss.backward()
        grad_norm = clip_grad_norm_(model.parameters(), s.clip)
        optimizer.step()
        if step % s.log_every == 0 or step == s.steps:
            out.line(f"{name}  step {step:4d}  loss {loss.item():.3f}  grad {grad_norm:.2f}  "
                     f"{time.perf_counter() - start:.0f}s")


def parse(argv: list[str] | None) -> tuple[Settings, bool]:
    """Settings from the command line, and whether to print plain text."""
    parser = gallery_parser(__doc__, Settings.seed)
    args = parser.parse_args(argv)
    s = Settings(seed=args.seed)
    return run_length(s, args, steps=90, train_size=1500, log_every=30), args.plain


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train both taggers; print tagged sentences and accuracies; return the accuracies."""
    s, plain = parse(argv)
    out = Printer(plain)
    vocab = make_vocab()
    data_rng = np.random.default_rng(s.seed)
    train_set = [sentence(data_rng) for _ in range(s.train_size)]
    seen = {" ".join(words) for words, _, _ in train_set}
    test_set = [x for x in (sentence(data_rng) for _ in range(3 * s.test_size))
                if " ".join(x[0]) not in seen][:s.test_size]
    out.line(f"{len(train_set)} training sentences, {len(test_set)} held out, "
             f"{len(vocab)} words", style="bold")

    ids, tags = pad(test_set, vocab)                                 # (T, N) each
    is_word = tags != -100                                           # (T, N): not padding
    ambiguous = [b for b, (_, _, t) in enumerate(test_set) if t >= 0]
    at_t = np.array([test_set[b][2] for b in ambiguous])             # where each one's word is
    result, predictions = {}, {}
    for name, bidirectional in [("uni", False), ("bi", True)]:
        tg.manual_seed(s.seed)
        model = Tagger(len(vocab), s, bidirectional)
        train(model, train_set, vocab, s, out, name)
        predictions[name] = predict(model, ids)                     # (T, N)
        right = predictions[name] == tags                            # (T, N)
        result[name] = float(right[is_word].mean())
        result[f"{name}_ambiguous"] = float(right[at_t, ambiguous].mean())

    rows = []
    plain_rows = [b for b, (_, _, t) in enumerate(test_set) if t < 0]
    for b in ambiguous[:6] + plain_rows[:3]:
        words, word_tags, _ = test_set[b]
        wrong = {name: [w for w, tag, guess in zip(words, word_tags, predictions[name][:, b],
                                                   strict=False) if tag != guess]
                 for name in ("uni", "bi")}
        rows.append([" ".join(w.upper() if tag else w for w, tag in zip(words, word_tags,
                                                                        strict=True)),
                     ", ".join(wrong["uni"]) or "-", ", ".join(wrong["bi"]) or "-"])
    out.table("held-out sentences: NAMES in capitals, and the words each tagger got wrong",
              ["sentence", "uni wrong", "bi wrong"], rows)
    out.table("accuracy on held-out words", ["", "all words", "ambiguous words"],
              [[n, f"{result[n]:.3f}", f"{result[n + '_ambiguous']:.3f}"] for n in ["uni", "bi"]])
    out.line(f"bidirectional minus unidirectional on the ambiguous words: "
             f"{result['bi_ambiguous'] - result['uni_ambiguous']:+.3f}\n(bars for --quick: "
             f"+0.30, and bi on all words 0.95)", style="bold green")
    return result


if __name__ == "__main__":
    run_demo(main)
