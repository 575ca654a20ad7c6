"""Reference answer to exercise 4."""

import numpy as np


def softmax_cross_entropy_backward(logits, targets):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    y = np.zeros_like(p)
    y[np.arange(len(targets)), targets] = 1
    return (p - y) / len(targets)
