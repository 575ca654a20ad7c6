"""A small, safe evaluator of Tensor expressions such as "tanh(x @ w + b)" over named inputs.

Only these are allowed: input names, numbers, + − * / ** @, unary minus, `.T`, and the functions
below called as `f(t, ints…)` or `t.f(ints…)`. Anything else (attributes, imports, keywords,
strings) is refused with a one-line ExpressionError: nothing is ever passed to eval(). The
evaluation walks the parsed tree with an explicit stack, so a long expression (a sum of thousands
of terms) needs no recursion; one nested deeper than Python's parser takes is refused in one line.
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
        raise ExpressionError(f"expression {text[:40]!r}: invalid syntax at column "
                              f"{e.offset or 0}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"expression of {len(text):,} characters is nested too deeply "
                              f"for Python's parser: split it into shorter ones") from None


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


def _operands(node: ast.expr) -> list[ast.expr]:
    """The sub-expressions `node` computes from (evaluated first); an error if not allowed."""
    if isinstance(node, (ast.Constant, ast.Name)):
        return []
    if isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return [node.operand]
    if isinstance(node, ast.Attribute) and node.attr == "T":
        return [node.value]
    if isinstance(node, ast.Call) and not node.keywords:
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS and node.args:
            return [node.args[0]]
        if isinstance(func, ast.Attribute) and func.attr in FUNCTIONS:
            return [func.value]
    try:
        shown = ast.unparse(node)[:60]
    except RecursionError:
        shown = type(node).__name__
    raise ExpressionError(f"expression: {shown!r} is not allowed (use input names, "
                          f"numbers, + - * / ** @, .T and {', '.join(FUNCTIONS)})")


def _value(node: ast.expr, operands: list[Any], inputs: Mapping[str, Tensor]) -> Any:
    """What `node` computes, given the values of its operands."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.Constant):
        raise ExpressionError(f"expression: {node.value!r} is not allowed (numbers only)")
    if isinstance(node, ast.Name):
        if node.id not in inputs:
            raise ExpressionError(f"expression: unknown name {node.id!r} (inputs: "
                                  f"{', '.join(inputs) or 'none'})")
        return inputs[node.id]
    if isinstance(node, ast.BinOp):
        return BINARY[type(node.op)](*operands)
    if isinstance(node, ast.UnaryOp):
        return -operands[0] if isinstance(node.op, ast.USub) else operands[0]
    if isinstance(node, ast.Attribute):
        if not isinstance(operands[0], Tensor):
            raise ExpressionError(f"expression: .T needs a tensor, got {operands[0]!r}")
        return operands[0].T
    func = node.func  # a call: f(t, ints…) or t.f(ints…)
    if isinstance(func, ast.Name):
        return _call(func.id, operands[0], node.args[1:])
    return _call(func.attr, operands[0], node.args)


def _eval(root: ast.expr, inputs: Mapping[str, Tensor]) -> Any:
    """Evaluate the tree bottom-up with an explicit stack (operands left to right)."""
    values: dict[int, Any] = {}
    stack: list[tuple[ast.expr, bool]] = [(root, False)]
    while stack:
        node, ready = stack.pop()
        operands = _operands(node)
        if not ready:                   # first its operands, then (ready) the node itself
            stack.append((node, True))
            stack.extend((operand, False) for operand in reversed(operands))
            continue
        values[id(node)] = _value(node, [values.pop(id(o)) for o in operands], inputs)
    return values[id(root)]


def evaluate(text: str, inputs: Mapping[str, Tensor]) -> Tensor:
    """The Tensor an expression computes from `inputs` (recording its graph)."""
    result = _eval(_parse(text), inputs)
    if not isinstance(result, Tensor):
        raise ExpressionError(f"expression {text!r} uses no input, so it has no graph")
    return result
