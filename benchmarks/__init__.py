"""Speed and memory benchmarks: our engine against numpy BPTT written by hand, and torch.

    make bench                              # python -m benchmarks: the full report
    python -m benchmarks --quick --json     # a short run, as JSON
    python -m benchmarks.numpy_bptt         # the hand-derived baseline on its own
    python -m benchmarks.soak --steps 20000 # memory over a long training run
    python -m benchmarks.hotspots           # cProfile of our engine on one workload
    python -m benchmarks.threads            # where a second BLAS thread starts to pay

Modules: sections (the list of report parts: add a workload there), training (min-char-rnn,
LSTM, scaling), names (the CLI's line-mode training against torch), updates (an optimizer step
and a clip alone), memory (fresh-process peaks); workloads (sizes), numpy_bptt (the baseline),
ours / pytorch / contenders (the implementations), step (the shared loop body), timing
(interleaved blocks), report (results, goals, tables), run (the command line), threads (1 vs 2
BLAS threads), soak, hotspots; lm_quality (the GRU language model against PyTorch) stands apart.
"""
