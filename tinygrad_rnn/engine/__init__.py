"""The engine, the bottom layer: read it first.

    tensor.py     Tensor, Function, the graph and backward(), no_grad
    functions.py  every primitive op: its forward and its backward side by side
    creation.py   zeros, randn, cat, stack, where, ...
    random.py     the one seeded generator behind every random number
    scan.py       runs a recurrent cell's step over time as one graph node
    scan_compile.py  turns scan's traced step into generated Python source (forward, backward)
    threads.py    how many BLAS threads numpy uses (one, unless told otherwise)
    allocator.py  keeps freed memory for the next big array (no page faults per training step)

It imports numpy and nothing above it.
"""

from tinygrad_rnn.engine.tensor import Function, ShapeError, Tensor, enable_grad, no_grad

__all__ = ["Tensor", "Function", "ShapeError", "no_grad", "enable_grad"]
