"""The language model's data: reading text, vocabularies, built-in corpora, batching, splits.

    text = read_text("names.txt")                       # or corpus("python-names")
    train, val = split_train_val(text_lines(text), 0.1, rng_or_seed=0)
    vocab = CharVocab.from_text("\\n".join(train), lines=True)
    batches = LineBatches([vocab.encode(s) for s in train], 32, vocab.boundary_id, rng)
    x, y = batches.next()                                 # (T, B) each, y padded with -100
"""

from tinygrad_rnn.data.batching import (
    IGNORE_INDEX,
    LineBatches,
    StreamBatches,
    line_eval_batches,
    stream_eval_batches,
)
from tinygrad_rnn.data.corpora import CORPORA, DEFAULT_CORPUS, corpus
from tinygrad_rnn.data.errors import DataError
from tinygrad_rnn.data.split import split_train_val
from tinygrad_rnn.data.text import decode_text, read_text, text_lines
from tinygrad_rnn.data.vocab import (
    EOS,
    LINE_BOUNDARY,
    UNK,
    CharVocab,
    WordVocab,
    load_vocab,
    tokenize,
    vocab_from_json,
)

__all__ = [
    "DataError", "read_text", "decode_text", "text_lines",
    "CharVocab", "WordVocab", "tokenize", "vocab_from_json", "load_vocab",
    "UNK", "EOS", "LINE_BOUNDARY",
    "CORPORA", "DEFAULT_CORPUS", "corpus",
    "StreamBatches", "LineBatches", "stream_eval_batches", "line_eval_batches", "IGNORE_INDEX",
    "split_train_val",
]
