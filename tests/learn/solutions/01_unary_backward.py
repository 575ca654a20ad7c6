"""Reference answer to exercise 1 (tests only; `learn start` never writes answers)."""

import numpy as np


def tanh_backward(x, y, grad):
    return grad * (1 - y * y)


def sigmoid_backward(x, y, grad):
    return grad * y * (1 - y)


def exp_backward(x, y, grad):
    return grad * y


def log_backward(x, y, grad):
    return grad / x


assert np  # the stub imports numpy; so does the answer
