"""The optimizer base class: parameter groups, per-parameter state, zero_grad and state_dict.

A subclass declares its hyper-parameters (`defaults`) with a check for each (`checks`) and writes
two methods: `_init_state(param, group)`, the buffers a parameter starts with, and
`_update(param, grad, state, group, scratch)`, the update rule for a single parameter array.
The base class does the rest, as torch.optim.Optimizer does:

- `params` is an iterable of Tensors, or a list of dicts ("param groups"), each with a `params`
  entry and any hyper-parameters that should differ from the defaults for that group;
- hyper-parameters are checked when a group is added or loaded, never again in `step()`;
- `step()` is one pass over the parameters: it skips those whose `.grad` is None and updates
  `.data` in place (modules keep their arrays), computing in the parameter's dtype; the state
  buffers are arrays updated in place, and the update's intermediate values go through one
  reused `scratch` array, so a step allocates nothing (with default hyper-parameters);
- `state_dict()` holds only numbers, strings, lists, dicts and numpy arrays (a checkpoint stores it
  as `.npz` + JSON); the state is keyed by parameter index, counting through the groups in order.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_rnn.engine.tensor import Tensor, increment_version

__all__ = ["Optimizer", "non_negative", "fraction", "flag", "beta_pair"]

Check = Callable[[str, str, Any], Any]


def _number(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}")
    return float(value)


def non_negative(owner: str, name: str, value: Any) -> float:
    """`value` as a float, or a clear error unless it is a finite number >= 0."""
    value = _number(owner, name, value)
    if not value >= 0.0:  # also rejects nan
        raise ValueError(f"{owner}: {name} must be non-negative, got {value}")
    if value == math.inf:
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    return value


def fraction(owner: str, name: str, value: Any) -> float:
    """`value` as a float, or a clear error unless 0 <= value < 1 (a decay rate)."""
    value = _number(owner, name, value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value}")
    return value


def flag(owner: str, name: str, value: Any) -> bool:
    """`value` itself, or a clear error unless it is a bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def beta_pair(owner: str, name: str, value: Any) -> tuple[float, float]:
    """`value` as a pair of floats, or a clear error unless both are in [0, 1)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{owner}: {name} must be a pair (beta1, beta2), got {value!r}")
    return (fraction(owner, f"{name}[0]", value[0]), fraction(owner, f"{name}[1]", value[1]))


def _json_able(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class Optimizer:
    """Base class of all optimizers: holds param groups and per-parameter state."""

    checks: dict[str, Check] = {}  # hyper-parameter -> its check; every subclass fills this in

    def __init__(self, params: Tensor | Iterable[Tensor] | Iterable[dict], **hyper: Any) -> None:
        self.defaults = dict(hyper)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}  # parameter -> its buffers, made lazily
        self._flat: dict[np.dtype, np.ndarray] = {}      # dtype -> one flat work array
        self._scratch: dict[Tensor, np.ndarray] = {}     # parameter -> its view of that array
        groups = [params] if isinstance(params, (Tensor, dict)) else list(params)
        if not groups:
            raise ValueError(f"{self.name}: got an empty parameter list")
        if not all(isinstance(g, dict) for g in groups):
            if any(isinstance(g, dict) for g in groups):
                raise TypeError(f"{self.name}: params must be all Tensors or all param-group dicts")
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def name(self) -> str:
        return type(self).__name__

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{self.name}: a param group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for k, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{self.name}: params must be Tensors, got "
                                f"{type(p).__name__} at position {k}")
            if not p.is_leaf:  # as torch.optim: a computed tensor is remade by every forward
                raise ValueError(f"{self.name}: parameter {k} (shape {p.shape}) is not a leaf: "
                                 f"it was computed from other tensors; optimize those")
            if p.dtype.kind != "f":
                raise TypeError(f"{self.name}: parameter {k} (shape {p.shape}) has dtype "
                                f"{p.dtype}; only floating-point tensors can be optimized")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError(f"{self.name}: a parameter appears more than once")
        full = {**self.defaults, **group, "params": params}
        self._check_group(full)
        self.param_groups.append(full)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalise) the group's hyper-parameters in place."""
        for key, check in self.checks.items():
            group[key] = check(self.name, key, group[key])

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget all gradients: set them to None (PyTorch's default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.fill(0.0)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (one pass, no re-validation)."""
        by = f"{self.name}.step()"
        for group in self.param_groups:
            maximize = group["maximize"]
            for p in group["params"]:
                grad, param = p.grad, p.data
                if grad is None:
                    continue
                if grad.shape != param.shape:
                    raise ValueError(f"{self.name}.step: a parameter of shape {param.shape} has "
                                     f"a gradient of shape {grad.shape}")
                if grad.dtype != param.dtype:
                    grad = grad.astype(param.dtype)
                if maximize:
                    grad = -grad
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(param, group)
                scratch = self._scratch.get(p)
                if scratch is None or scratch.shape != param.shape or scratch.dtype != param.dtype:
                    scratch = self._scratch[p] = self._scratch_like(param)
                self._update(param, grad, state, group, scratch)
                increment_version(p, by)  # a graph made before this step can no longer backward

    def _scratch_like(self, param: np.ndarray) -> np.ndarray:
        """A work array of param's shape and dtype: a view of one flat array per dtype, as large
        as the largest parameter (its contents are garbage; `_update` overwrites them)."""
        flat = self._flat.get(param.dtype)
        if flat is None or flat.size < param.size:
            flat = self._flat[param.dtype] = np.empty(param.size, dtype=param.dtype)
        return flat[:param.size].reshape(param.shape)

    def _init_state(self, param: np.ndarray, group: dict[str, Any]) -> dict[str, Any]:
        """The buffers of a parameter before its first step (an empty dict: none yet)."""
        return {}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                group: dict[str, Any], scratch: np.ndarray) -> None:
        """Apply one step of the update rule to `param` in place; `state`'s arrays are updated
        in place too, `scratch` is free to overwrite, `grad` is never modified."""
        raise NotImplementedError

    # ---- checkpoints --------------------------------------------------------------------------
    def _indexed_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {name: array or number}}, 'param_groups': [{..., 'params': [i]}]}."""
        params = self._indexed_params()
        state = {
            k: {name: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                for name, v in self.state[p].items()}
            for k, p in enumerate(params) if self.state.get(p)
        }
        groups, start = [], 0
        for group in self.param_groups:
            saved = {key: _json_able(v) for key, v in group.items() if key != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and buffers saved by `state_dict` (keys may be int or str)."""
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if not isinstance(groups, list) or not isinstance(state_dict.get("state"), dict):
            raise ValueError(f"{self.name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups'")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{self.name}.load_state_dict: the state dict has {len(groups)} param "
                             f"groups, this optimizer has {len(self.param_groups)}")
        for k, (saved, group) in enumerate(zip(groups, self.param_groups, strict=True)):
            if len(saved.get("params", [])) != len(group["params"]):
                raise ValueError(f"{self.name}.load_state_dict: param group {k} has "
                                 f"{len(saved.get('params', []))} parameters in the state dict, "
                                 f"{len(group['params'])} here")
        params = self._indexed_params()
        state = {}
        for key, buffers in state_dict["state"].items():
            index = int(key)
            if not 0 <= index < len(params):
                raise ValueError(f"{self.name}.load_state_dict: state for parameter {index}, but "
                                 f"there are only {len(params)} parameters")
            state[params[index]] = self._load_buffers(index, params[index], buffers)
        new_groups = []
        for saved, group in zip(groups, self.param_groups, strict=True):
            restored = {key: tuple(v) if isinstance(v, list) else v
                        for key, v in saved.items() if key != "params"}
            restored = {**group, **restored, "params": group["params"]}
            self._check_group(restored)
            new_groups.append(restored)
        owner = {id(p): g for g in new_groups for p in g["params"]}
        for index, p in enumerate(params):
            if p in state:
                self._check_buffer_names(index, state[p], owner[id(p)])
        self.param_groups, self.state = new_groups, state

    def _check_buffer_names(self, index: int, buffers: dict[str, Any],
                            group: dict[str, Any]) -> None:
        """A clear error unless `buffers` are those a step of this group makes, each an array or
        a number as there (found by one step on a scratch parameter)."""
        param = np.zeros(1)
        made = self._init_state(param, group)
        self._update(param, np.ones(1), made, group, np.empty(1))
        kinds = {name: isinstance(value, np.ndarray) for name, value in made.items()}
        got = {name: isinstance(value, np.ndarray) for name, value in buffers.items()}
        if got != kinds:
            raise ValueError(f"{self.name}.load_state_dict: parameter {index} has buffers "
                             f"{sorted(got)}, a step here keeps {sorted(kinds)} (arrays: "
                             f"{sorted(k for k, a in kinds.items() if a)})")
        for name, value in made.items():  # a count (Adam's step) stays a whole number >= 0
            if isinstance(value, int) and not (isinstance(buffers[name], int)
                                               and buffers[name] >= 0):
                raise ValueError(f"{self.name}.load_state_dict: buffer '{name}' of parameter "
                                 f"{index} must be a whole number >= 0, got {buffers[name]!r}")

    def _load_buffers(self, index: int, param: Tensor, buffers: dict[str, Any]) -> dict[str, Any]:
        loaded = {}
        for name, value in buffers.items():
            if isinstance(value, np.ndarray):
                if value.shape != param.shape:
                    raise ValueError(f"{self.name}.load_state_dict: buffer '{name}' of parameter "
                                     f"{index} has shape {value.shape}, the parameter has "
                                     f"{param.shape}")
                value = value.astype(param.dtype, copy=True)
            elif (isinstance(value, bool) or not isinstance(value, numbers.Real)
                  or not math.isfinite(value)):
                raise ValueError(f"{self.name}.load_state_dict: buffer '{name}' of parameter "
                                 f"{index} must be an array or a finite number, got {value!r}")
            loaded[name] = value
        return loaded
