"""The language-model application, built on nn, optim and data.

    model.py       LanguageModel (embedding, recurrent layers, head), loss, scoring, sampling
    generate.py    greedy, temperature, top-k, top-p and beam search decoding
    config.py      the training settings and their checks
    train.py       the training loop, top to bottom: TBPTT, validation, checkpoints, resume
    run_dir.py     the run directory: config, vocabulary, metrics, checkpoints, resume state
    checkpoint.py  .npz checkpoints with a checksum, written atomically, loaded without pickle
    sizes.py       the memory a run's flags ask for, estimated before anything is allocated
    dashboard.py   the live rich view of a run with its loss chart (plain lines off a terminal)
    runs.py        reading a run directory back: settings, vocabulary, metrics
    plot.py        `tinygrad-rnn plot`: loss curves of one or more runs
    report.py      `tinygrad-rnn report`: one self-contained HTML page about a run

`from tinygrad_rnn.lm import LanguageModel, sample_text` takes the model's names from model.py.
"""

from tinygrad_rnn.lm.model import (
    CELLS,
    ConfigError,
    LanguageModel,
    ModelConfig,
    Score,
    State,
    beam_texts,
    bits,
    boundary_id,
    detach_state,
    mean_loss,
    perplexity,
    sample_text,
    score_ids,
    score_text,
)

__all__ = ["CELLS", "ConfigError", "ModelConfig", "LanguageModel", "State", "detach_state",
           "mean_loss", "bits", "perplexity", "Score", "score_ids", "boundary_id", "score_text",
           "sample_text", "beam_texts"]
