"""Learning-rate schedules: each sets every group's lr from a closed form in the step count.

Use them as in PyTorch: build the scheduler after the optimizer, call `optimizer.step()` and then
`scheduler.step()` once per epoch (or per iteration). Constructing a scheduler sets each group's
`initial_lr` (once, so several schedulers share it) and applies the lr of step 0; after n calls
to `step()` the lr is the closed form at n:

    StepLR              lr₀ · γ^⌊n / step_size⌋
    ExponentialLR       lr₀ · γⁿ
    CosineAnnealingLR   η_min + (lr₀ − η_min)(1 + cos(πn / T_max)) / 2
    LinearWarmup        lr₀ · (f + (1 − f) · n / W)  for n < W, then the `then` schedule at n − W

LinearWarmup is how schedules compose: it runs for `warmup_steps` steps and then hands over to the
scheduler given as `then` (built first, on the same optimizer), which starts again from its own step
0. This is torch's `SequentialLR([LinearLR(opt, f, 1.0, W), then], milestones=[W])`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from tinygrad_rnn.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearWarmup"]


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def _positive(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{owner}: {name} must be a positive number, got {value!r}")
    return float(value)


class LRScheduler:
    """Base class: subclasses give `lr_at(n)`, the lr of each group after n calls to `step()`."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, n: int) -> list[float]:
        """The lr of each param group after n calls to `step()`."""
        raise NotImplementedError

    def _apply(self) -> None:
        self._last_lr = [float(lr) for lr in self.lr_at(self.last_epoch)]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr, strict=True):
            group["lr"] = lr

    def step(self) -> None:
        """Advance one step and set the new lr on the optimizer."""
        self.last_epoch += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The lr of each param group as last set by this scheduler."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """The step count and base lrs (JSON-able); hyper-parameters come from the constructor."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume at the saved step: sets the step count, base lrs and the optimizer's lr."""
        name = type(self).__name__
        base_lrs, last_epoch = state_dict.get("base_lrs"), state_dict.get("last_epoch")
        if not isinstance(base_lrs, list) or len(base_lrs) != len(self.base_lrs):
            raise ValueError(f"{name}.load_state_dict: expected base_lrs for "
                             f"{len(self.base_lrs)} param groups, got {base_lrs!r}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < 0:
            raise ValueError(f"{name}.load_state_dict: last_epoch must be a non-negative "
                             f"integer, got {last_epoch!r}")
        self.base_lrs, self.last_epoch = [float(lr) for lr in base_lrs], last_epoch
        self._apply()


class StepLR(LRScheduler):
    """Multiply the lr by `gamma` every `step_size` steps: lr₀ · γ^⌊n / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = _positive("StepLR", "gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, n: int) -> list[float]:
        return [lr * self.gamma ** (n // self.step_size) for lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by `gamma` every step: lr₀ · γⁿ."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        self.gamma = _positive("ExponentialLR", "gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, n: int) -> list[float]:
        return [lr * self.gamma**n for lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from lr₀ down to eta_min over T_max steps (and back up after, as torch)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        if isinstance(eta_min, bool) or not isinstance(eta_min, numbers.Real) or eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: eta_min must be a non-negative number, "
                             f"got {eta_min!r}")
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, n: int) -> list[float]:
        cosine = (1.0 + math.cos(math.pi * n / self.T_max)) / 2.0
        return [self.eta_min + (lr - self.eta_min) * cosine for lr in self.base_lrs]


class LinearWarmup(LRScheduler):
    """Ramp the lr linearly from start_factor·lr₀ to lr₀ over warmup_steps, then follow `then`."""

    def __init__(self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 1.0 / 3.0,
                 then: LRScheduler | None = None) -> None:
        self.warmup_steps = _positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        if isinstance(start_factor, bool) or not isinstance(start_factor, numbers.Real) \
                or not 0.0 < start_factor <= 1.0:
            raise ValueError(f"LinearWarmup: start_factor must be in (0, 1], got {start_factor!r}")
        if then is not None and (not isinstance(then, LRScheduler)
                                 or then.optimizer is not optimizer):
            raise ValueError("LinearWarmup: then must be a scheduler built on the same optimizer")
        self.start_factor, self.then = float(start_factor), then
        super().__init__(optimizer)

    def lr_at(self, n: int) -> list[float]:
        if n >= self.warmup_steps and self.then is not None:
            return self.then.lr_at(n - self.warmup_steps)
        progress = min(n, self.warmup_steps) / self.warmup_steps
        factor = self.start_factor + (1.0 - self.start_factor) * progress
        return [lr * factor for lr in self.base_lrs]

    def _apply(self) -> None:
        if self.then is not None:  # keep the follower's own count in step, for its get_last_lr
            self.then.last_epoch = max(self.last_epoch - self.warmup_steps, 0)
            self.then._last_lr = self.then.lr_at(self.then.last_epoch)
        super()._apply()

    def state_dict(self) -> dict[str, Any]:
        then = None if self.then is None else self.then.state_dict()
        return {**super().state_dict(), "then": then}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if self.then is not None:
            self.then.load_state_dict(state_dict.get("then") or {})
        super().load_state_dict(state_dict)
