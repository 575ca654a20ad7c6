"""Module: a tree of parameters and sub-modules, found by attribute (as in PyTorch).

A module's parameters are its attributes that are `Parameter`s; its children are its attributes
that are `Module`s (a `ModuleList` is one). Anything else (a tuple of cells, a number) is ignored.
Names are dotted paths (`layers.0.weight`) in a deterministic order: a module's own parameters in
the order they were assigned, then each child's, in the order the children were assigned.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_rnn.engine.tensor import ShapeError, Tensor

__all__ = ["Parameter", "Module", "ModuleList", "Sequential", "IncompatibleKeys",
           "StateDictError"]


class Parameter(Tensor):
    """A Tensor that a Module trains: it requires grad and is listed by `parameters()`."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data,
                         requires_grad=requires_grad)


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictError(ValueError):
    """A state dict's keys do not match the module's; the message lists the keys."""


class Module:
    """Base class of every layer: subclasses assign Parameters and Modules, and define forward."""

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- the tree ---------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(attribute name, module) of the direct sub-modules, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module ("" or prefix) and every descendant, with dotted names, parents first."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) of every parameter in the tree; a shared one is listed once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter in the tree (what an optimizer is given)."""
        for _, parameter in self.named_parameters():
            yield parameter

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """name → a copy of the parameter's array (keys as PyTorch's for the same module)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters. Each parameter keeps its own dtype: a float64 array
        loaded into a float32 module is cast to float32, as PyTorch's load_state_dict does. With
        strict, a missing or unexpected key is an error; a shape mismatch always is. Nothing
        changes on error."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"load_state_dict: {type(self).__name__}: missing keys {missing}, "
                            f"unexpected keys {unexpected}")
        arrays = {}
        for name, value in state.items():
            if name not in own:
                continue
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype == object or not np.issubdtype(array.dtype, np.number):
                raise TypeError(f"load_state_dict: key {name!r} holds dtype {array.dtype}, "
                                f"not a numeric array")
            if array.shape != own[name].shape:
                raise ShapeError(f"load_state_dict: key {name!r} has shape {array.shape}, "
                                 f"the parameter has shape {own[name].shape}")
            arrays[name] = array
        for name, array in arrays.items():
            own[name].data = np.array(array, dtype=own[name].dtype)  # a copy, in the module's dtype
        return IncompatibleKeys(missing, unexpected)

    # ---- modes and conversions --------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set `training` on this module and every descendant (dropout acts only in training)."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Same as `train(False)`."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set to None, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def to_dtype(self, dtype: Any) -> Module:
        """Convert every parameter (and its gradient) to `dtype` in place; return self."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            if p.grad is not None:
                p.grad = p.grad.astype(dtype)
        return self

    def double(self) -> Module:
        """Convert parameters to float64 in place (for gradcheck and parity tests)."""
        return self.to_dtype(np.float64)

    def float(self) -> Module:
        """Convert parameters to float32 in place."""
        return self.to_dtype(np.float32)

    # ---- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The constructor arguments shown by repr (subclasses override)."""
        return ""

    def __repr__(self) -> str:
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                    for name, child in self.named_children()]
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n" + "\n".join(children) + "\n)"

    def summary(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(name, shape, number of values) of every parameter, in named_parameters() order."""
        return [(name, p.shape, p.data.size) for name, p in self.named_parameters()]

    def _repr_html_(self) -> str:
        """Jupyter's view: the structure, then a table of the parameters by name and shape."""
        rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{shape}</td>"
                       f"<td style='text-align:right'>{size:,}</td></tr>"
                       for name, shape, size in self.summary())
        total = sum(size for _, _, size in self.summary())
        return (f"<pre>{html.escape(repr(self))}</pre><table><tr><th>parameter</th>"
                f"<th>shape</th><th>values</th></tr>{rows}<tr><td><b>total</b></td><td></td>"
                f"<td style='text-align:right'><b>{total:,}</b></td></tr></table>")


class ModuleList(Module):
    """A list of modules whose parameters are named `0.weight`, `1.weight`, … (as PyTorch)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._length = 0
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList.append: expected a Module, got {type(module).__name__}")
        setattr(self, str(self._length), module)
        self._length += 1
        return self

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[Module]:
        return (getattr(self, str(i)) for i in range(self._length))

    def __getitem__(self, index: int) -> Module:
        if not -self._length <= index < self._length:
            raise IndexError(f"ModuleList: index {index} out of range for {self._length} modules")
        return getattr(self, str(index % self._length))


class Sequential(ModuleList):
    """Modules applied in turn, `Sequential(Linear(2, 8), Tanh(), Linear(8, 1))(x)`; parameters
    named `0.weight`, `2.bias`, … (as PyTorch)."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        """Each module's output is the next one's input."""
        for module in self:
            x = module(x)
        return x
