"""Reference answer to exercise 3."""

import numpy as np


def unbroadcast(grad, shape):
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return np.reshape(grad.sum(axis=stretched, keepdims=True), shape)
