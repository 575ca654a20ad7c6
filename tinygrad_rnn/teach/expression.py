"""A small, safe evaluator of Tensor expressions such as "tanh(x @ w + b)" over named inputs.

Only these are allowed: input names, numbers, + − * / ** @, unary minus, `.T`, and the functions
below called as `f(t, ints…)` or `t.f(ints…)`. Anything else (attributes, imports, keywords,
strings) is refused with a one-line ExpressionError: nothing is ever passed to eval().
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from typing import Any

from tinygrad_rnn.engine.tensor import Tensor

__all__ = ["ExpressionError", "FUNCTIONS", "evaluate", "expression_names"]

FUNCTIONS = ("tanh", "sigmoid", "relu", "exp", "log", "sqrt", "abs", "sum", "mean", "max",
             "amax", "softmax", "log_softmax", "logsumexp", "reshape", "transpose")
BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul}


class ExpressionError(ValueError):
    """The expression cannot be parsed or uses something that is not allowed."""


def _parse(text: str) -> ast.expr:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ExpressionError(f"expression {text!r}: invalid syntax at column "
                              f"{e.offset or 0}") from None


def expression_names(text: str) -> list[str]:
    """The input names an expression uses (function names excluded), in order of appearance."""
    found = [node for node in ast.walk(_parse(text))
             if isinstance(node, ast.Name) and node.id not in FUNCTIONS]
    found.sort(key=lambda node: (node.lineno, node.col_offset))
    return list(dict.fromkeys(node.id for node in found))


def _integer(node: ast.expr) -> int:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_integer(node.operand)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    raise ExpressionError(f"expression: function arguments after the tensor must be whole "
                          f"numbers, got {ast.unparse(node)!r}")


def _call(name: str, tensor: Any, args: list[ast.expr]) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise ExpressionError(f"expression: {name}() needs a tensor, got {tensor!r}")
    result = getattr(tensor, name)(*[_integer(a) for a in args])
    if not isinstance(result, Tensor):  # max(t, dim): (values, indices), as in PyTorch
        raise ExpressionError(f"expression: {name}(t, dim) gives (values, indices) as in "
                              f"PyTorch; use amax(t, dim) for the values alone")
    return result


def _eval(node: ast.expr, inputs: Mapping[str, Tensor]) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in inputs:
            raise ExpressionError(f"expression: unknown name {node.id!r} (inputs: "
                                  f"{', '.join(inputs) or 'none'})")
        return inputs[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return BINARY[type(node.op)](_eval(node.left, inputs), _eval(node.right, inputs))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, inputs)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return _eval(node.value, inputs).T
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS and node.args:
            return _call(func.id, _eval(node.args[0], inputs), node.args[1:])
        if isinstance(func, ast.Attribute) and func.attr in FUNCTIONS:
            return _call(func.attr, _eval(func.value, inputs), node.args)
    raise ExpressionError(f"expression: {ast.unparse(node)!r} is not allowed (use input names, "
                          f"numbers, + - * / ** @, .T and {', '.join(FUNCTIONS)})")


def evaluate(text: str, inputs: Mapping[str, Tensor]) -> Tensor:
    """The Tensor an expression computes from `inputs` (recording its graph)."""
    result = _eval(_parse(text), inputs)
    if not isinstance(result, Tensor):
        raise ExpressionError(f"expression {text!r} uses no input, so it has no graph")
    return result
