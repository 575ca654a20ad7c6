"""Speed and memory benchmarks (issue 7): our engine against hand-derived numpy BPTT and torch.

    make bench                              # python -m benchmarks: the full report
    python -m benchmarks --quick --json     # a short run, as JSON
    python -m benchmarks.numpy_bptt         # the hand-derived baseline on its own
    python -m benchmarks.soak --steps 20000 # memory over a long training run
    python -m benchmarks.hotspots           # cProfile of our engine on one workload

Modules: workloads (sizes), numpy_bptt (the baseline), ours / pytorch / contenders (the
implementations), step (the shared loop body), timing (interleaved blocks), memory
(fresh-process peaks), report (tables), run (the command line), soak, hotspots; lm_quality
(the GRU language model against PyTorch) stands apart.
"""
