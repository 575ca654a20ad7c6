"""Reference answer to exercise 2."""

import numpy as np


def matmul_backward(a, b, grad):
    da = grad @ np.swapaxes(b, -1, -2)
    db = np.swapaxes(a, -1, -2) @ grad
    if b.ndim < db.ndim:                              # b was shared by the batch
        db = db.sum(axis=tuple(range(db.ndim - b.ndim)))
    return da, db
