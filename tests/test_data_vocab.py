"""Character and word vocabularies: ids, tokenisation, options, unknowns and JSON files."""

import json

import numpy as np
import pytest

from tinygrad_rnn.data import (
    EOS,
    UNK,
    CharVocab,
    DataError,
    WordVocab,
    load_vocab,
    tokenize,
    vocab_from_json,
)

# ---------------------------------------------------------------- characters


def test_char_ids_are_the_sorted_characters():
    vocab = CharVocab.from_text("hello")
    assert vocab.itos == ["e", "h", "l", "o"]
    assert len(vocab) == 4
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 0, 2, 2, 3]
    assert vocab.decode(ids) == "hello"
    assert vocab.decode([3, 1]) == "oh"


def test_char_ids_do_not_depend_on_the_order_of_the_text():
    assert CharVocab.from_text("banana!") == CharVocab.from_text("!ananab")


def test_vocab_equality_can_fail():
    assert CharVocab.from_text("abc") != CharVocab.from_text("abd")
    assert CharVocab.from_text("abc") != WordVocab.from_text("abc")


def test_line_mode_always_has_the_newline_boundary():
    vocab = CharVocab.from_text("emma", lines=True)
    assert vocab.itos == ["\n", "a", "e", "m"]
    assert vocab.boundary_id == 0
    with pytest.raises(DataError, match="lines=True"):
        _ = CharVocab.from_text("emma").boundary_id


def test_unknown_character_is_named_with_its_position():
    vocab = CharVocab.from_text("abc")
    with pytest.raises(DataError, match=r"'x' \(U\+0078\) at position 2"):
        vocab.encode("abxcy")
    assert vocab.unknown("abxcy") == {"x", "y"}
    assert vocab.unknown("cab") == set()


def test_empty_text_has_no_vocabulary():
    with pytest.raises(DataError, match="empty"):
        CharVocab.from_text("")


def test_decode_rejects_ids_outside_the_vocabulary():
    vocab = CharVocab.from_text("ab")
    with pytest.raises(DataError, match="id 2 is outside"):
        vocab.decode([0, 2])
    with pytest.raises(DataError, match="id -1 is outside"):
        vocab.decode(np.array([-1]))
    with pytest.raises(DataError, match="1-D"):
        vocab.decode(np.zeros((2, 2), dtype=np.int64))
    assert vocab.decode([]) == ""


# ---------------------------------------------------------------- words


def test_tokenize_splits_words_and_punctuation():
    assert tokenize("Hello, world! It's 3pm.\nBye") == [
        "Hello", ",", "world", "!", "It", "'", "s", "3pm", ".", EOS, "Bye"]
    assert tokenize("Hello WORLD", lower=True) == ["hello", "world"]


def test_word_ids_by_frequency_then_alphabet():
    vocab = WordVocab.from_text("the cat the dog the cat .")
    # counts: the 3, cat 2, "." 1, dog 1; ties sorted, and "." < "dog"
    assert vocab.itos == [UNK, EOS, "the", "cat", ".", "dog"]
    assert vocab.encode("the dog .").tolist() == [2, 5, 4]


def test_min_count_and_max_size():
    text = "the cat the dog the cat ."
    assert WordVocab.from_text(text, min_count=2).itos == [UNK, EOS, "the", "cat"]
    assert WordVocab.from_text(text, max_size=3).itos == [UNK, EOS, "the"]
    assert WordVocab.from_text(text, max_size=100).itos == [UNK, EOS, "the", "cat", ".", "dog"]


def test_lower_option():
    assert WordVocab.from_text("The the THE", lower=True).itos == [UNK, EOS, "the"]
    assert WordVocab.from_text("The the THE").itos == [UNK, EOS, "THE", "The", "the"]
    assert WordVocab.from_text("a b", lower=True).encode("A B").tolist() == [2, 3]


@pytest.mark.parametrize("options, message", [
    ({"min_count": 0}, "min_count"), ({"min_count": 1.5}, "min_count"),
    ({"max_size": 2}, "max_size"), ({"max_size": "10"}, "max_size"),
    ({"min_count": 9}, "min_count=9"),
])
def test_bad_word_options(options, message):
    with pytest.raises(DataError, match=message):
        WordVocab.from_text("a b a", **options)


def test_unknown_words_become_unk():
    vocab = WordVocab.from_text("the cat sat")
    assert vocab.encode("the dog sat").tolist() == [vocab.stoi["the"], 0, vocab.stoi["sat"]]
    assert vocab.unknown("the dog sat on") == {"dog", "on"}


def test_word_decode_puts_lines_back():
    vocab = WordVocab.from_text("the cat\nthe dog\n")
    ids = vocab.encode("the cat\nthe dog\n")
    assert ids.tolist() == [2, 3, 1, 2, 4, 1]
    assert vocab.decode(ids) == "the cat\nthe dog\n"
    assert vocab.decode([2, 0]) == "the <unk>"
    assert vocab.encode(vocab.decode([2, 0, 1, 3])).tolist() == [2, 0, 1, 3]
    assert vocab.boundary_id == 1 and vocab.unk_id == 0


# ---------------------------------------------------------------- JSON files


@pytest.mark.parametrize("vocab", [
    CharVocab.from_text("héllo\twörld\n"),
    WordVocab.from_text("Hello, hello world", lower=True),
    WordVocab.from_text("Hello, hello world"),
])
def test_json_round_trip(vocab, tmp_path):
    assert type(vocab).from_json(vocab.to_json()) == vocab
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert type(vocab).load(path) == vocab
    assert load_vocab(path) == vocab
    assert json.loads(path.read_text(encoding="utf-8"))["kind"] == vocab.kind
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]


def test_lower_survives_the_round_trip():
    vocab = WordVocab.from_json(WordVocab.from_text("a b", lower=True).to_json())
    assert vocab.lower is True
    assert vocab.encode("A").tolist() == [2]


def test_wrong_kind_is_an_error(tmp_path):
    path = tmp_path / "vocab.json"
    WordVocab.from_text("a b").save(path)
    with pytest.raises(DataError, match="word vocabulary, not a char one"):
        CharVocab.load(path)


@pytest.mark.parametrize("content, message", [
    ("{not json", "bad JSON"),
    ("[1, 2]", "not a vocabulary file"),
    ('{"kind": "bpe", "tokens": ["a"]}', "not a vocabulary file"),
    ('{"kind": "char"}', "non-empty list"),
    ('{"kind": "char", "tokens": []}', "non-empty list"),
    ('{"kind": "char", "tokens": ["a", "bc"]}', "single characters"),
    ('{"kind": "char", "tokens": ["a", 1]}', "single characters"),
    ('{"kind": "char", "tokens": ["a", "b", "a"]}', "more than once"),
    ('{"kind": "word", "lower": false, "tokens": ["a", "b"]}', "starts with"),
    ('{"kind": "word", "lower": false, "tokens": ["<unk>", "<eos>", "a b"]}', "non-empty words"),
    ('{"kind": "word", "tokens": ["<unk>", "<eos>"]}', "lower"),
])
def test_corrupt_vocabulary_files(content, message, tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        load_vocab(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match=message):
        vocab_from_json(content)


def test_missing_and_empty_vocabulary_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        CharVocab.load(tmp_path / "missing.json")
    (tmp_path / "empty.json").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_vocab(tmp_path / "empty.json")
