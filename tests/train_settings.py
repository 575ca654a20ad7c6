"""A tiny training configuration for the tests of the training loop (imported by test_train.py
and test_reliability_train.py): seconds per run, yet every stage (validation, checkpoints,
samples) happens several times."""

from tinygrad_rnn.lm.train import TrainConfig


def tiny_run(tmp_path, text: str, **settings) -> TrainConfig:
    """A config training on `text` (written to tmp_path/data.txt); `settings` override."""
    data = tmp_path / "data.txt"
    data.write_text(text, encoding="utf-8")
    base = dict(data=str(data), hidden=12, embed=6, seq_len=8, batch_size=4, steps=20,
                eval_every=5, val_frac=0.2)
    return TrainConfig(**{**base, **settings})
