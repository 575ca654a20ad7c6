"""Adaptive softmax (Grave et al. 2017, as torch.nn.AdaptiveLogSoftmaxWithLoss): a cheap head for
a large vocabulary whose words are sorted from most to least frequent.

The `cutoffs` split the classes into a shortlist [0, c₁) and clusters [c₁, c₂), …, [c_k, V).
The head is a Linear onto the shortlist's words plus one entry per cluster; cluster i has its own
two-layer projection, in → ⌊in / div_valueⁱ⌋ → its words (rarer words: a narrower layer). So
    log p(w) = log softmax(head(x))[w]                                         w in the shortlist
    log p(w) = log softmax(head(x))[c₁ + i − 1] + log softmax(tailᵢ(x))[w − cᵢ]   w in cluster i
and a training step evaluates a cluster only on the rows whose target falls in it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinygrad_rnn.engine.creation import cat
from tinygrad_rnn.engine.tensor import ShapeError, Tensor
from tinygrad_rnn.nn.layers import Linear
from tinygrad_rnn.nn.module import Module, ModuleList, Sequential

__all__ = ["AdaptiveLogSoftmaxWithLoss", "ASMOutput"]


class ASMOutput(NamedTuple):
    """What the adaptive softmax returns: each target's log-probability and their mean loss."""

    output: Tensor       # (N,) or (): log p(target)
    loss: Tensor         # (): mean of -output


class AdaptiveLogSoftmaxWithLoss(Module):
    """The adaptive softmax head with PyTorch's arguments, parameter names and results:
    `asm(x (N, in), target (N,))` → ASMOutput(output (N,), loss ()); `log_prob(x)` → (N, V)."""

    def __init__(self, in_features: int, n_classes: int, cutoffs: Any, div_value: float = 4.0,
                 head_bias: bool = False) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if (not cutoffs or cutoffs != sorted(cutoffs) or len(set(cutoffs)) != len(cutoffs)
                or any(isinstance(c, bool) or int(c) != c for c in cutoffs)
                or min(cutoffs) < 1 or max(cutoffs) > n_classes - 1):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: cutoffs must be unique whole numbers "
                             f"in increasing order, each in [1, n_classes - 1] = "
                             f"[1, {n_classes - 1}], got {cutoffs}")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = [int(c) for c in cutoffs] + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias)
        self.tail = ModuleList([
            Sequential(Linear(in_features, int(in_features // div_value ** (i + 1)), bias=False),
                       Linear(int(in_features // div_value ** (i + 1)),
                              self.cutoffs[i + 1] - self.cutoffs[i], bias=False))
            for i in range(self.n_clusters)])

    def forward(self, input: Tensor, target: Any) -> ASMOutput:
        """input (N, in) with target (N,), or (in,) with () → log p(target) and the mean loss."""
        target = np.asarray(target.data if isinstance(target, Tensor) else target)
        if not np.issubdtype(target.dtype, np.integer):
            raise TypeError(f"AdaptiveLogSoftmaxWithLoss: target must hold integer class "
                            f"indices, got dtype {target.dtype}")
        if target.ndim > 1 or input.ndim != target.ndim + 1 or input.shape[:1] != (
                target.shape[:1] if target.ndim else input.shape[:1]):
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss: input {input.shape} and target "
                             f"{target.shape}: give input (N, in_features) with target (N,), "
                             f"or (in_features,) with ()")
        batched = target.ndim == 1
        x = input if batched else input.reshape(1, -1)                      # (N, in)
        t = target if batched else target.reshape(1)                        # (N,)
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise ValueError(f"AdaptiveLogSoftmaxWithLoss: targets must lie in "
                             f"[0, {self.n_classes - 1}], got {t.min()}..{t.max()}")
        cluster = np.searchsorted(self.cutoffs, t, side="right")            # 0: the shortlist
        in_head = np.where(cluster == 0, t, self.shortlist_size + cluster - 1)
        head_lp = self.head(x).log_softmax(1)                               # (N, head_size)
        output = head_lp[np.arange(len(t)), in_head]                        # (N,)
        pieces, positions = [], np.full(len(t), 0)
        used = 0
        for i, projection in enumerate(self.tail, start=1):
            rows = np.flatnonzero(cluster == i)
            if rows.size == 0:
                continue                                  # a cluster no target falls in: skipped
            local_lp = projection(x[rows]).log_softmax(1)                   # (rows, words)
            pieces.append(local_lp[np.arange(rows.size), t[rows] - self.cutoffs[i - 1]])
            positions[rows] = used + np.arange(rows.size)
            used += rows.size
        if pieces:                  # each tail row adds its log p(word | cluster); others add 0
            positions[cluster == 0] = used
            within = cat([*pieces, Tensor(np.zeros(1, dtype=output.dtype))])  # (used + 1,)
            output = output + within[positions]
        loss = (-output).mean()
        return ASMOutput(output if batched else output.reshape(()), loss)

    def log_prob(self, input: Tensor) -> Tensor:
        """input (N, in) → log-probabilities of every class (N, n_classes)."""
        head_lp = self.head(input).log_softmax(1)                           # (N, head_size)
        parts = [head_lp[:, :self.shortlist_size]]
        for i, projection in enumerate(self.tail):
            cluster_lp = head_lp[:, self.shortlist_size + i:self.shortlist_size + i + 1]
            parts.append(projection(input).log_softmax(1) + cluster_lp)     # (N, words)
        return cat(parts, dim=1)

    def predict(self, input: Tensor) -> Tensor:
        """input (N, in) → the most probable class of each row (N,), int64."""
        return self.log_prob(input).argmax(1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, "
                f"cutoffs={self.cutoffs[:-1]}, div_value={self.div_value}, "
                f"head_bias={self.head_bias}")
