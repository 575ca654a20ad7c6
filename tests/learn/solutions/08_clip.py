"""Reference answer to exercise 8."""

import numpy as np


def clip(gradients, maxValue):
    return {k: np.clip(g, -maxValue, maxValue) for k, g in gradients.items()}


def clip_by_norm(gradients, max_norm):
    total = np.sqrt(sum((g ** 2).sum() for g in gradients.values()))
    if total > max_norm:
        return {k: g * (max_norm / (total + 1e-6)) for k, g in gradients.items()}
    return dict(gradients)
