"""graph_tree / to_dot of tanh(x @ w + b), the expression parser, and `tinygrad-rnn graph`."""

import re

import numpy as np
import pytest
from rich.console import Console

from tinygrad_rnn import Tensor, cli
from tinygrad_rnn.teach.expression import ExpressionError, evaluate, expression_names
from tinygrad_rnn.viz import graph_nodes, graph_tree, to_dot


def _example():
    x = Tensor(np.ones((4, 3)))
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    b = Tensor(np.zeros(2), requires_grad=True)
    names = {"x": x, "w": w, "b": b}
    return (x @ w + b).tanh(), names


def _render(tree) -> str:
    console = Console(width=100, record=True, file=open("/dev/null", "w"))
    console.print(tree)
    return console.export_text()


def test_tree_of_the_docs_example():
    y, names = _example()
    assert _render(graph_tree(y, names)).splitlines() == [
        "tanh  (4, 2)",
        "└── add  (4, 2)",
        "    ├── matmul  (4, 2)",
        "    │   ├── x  (4, 3)  no grad",
        "    │   └── w  (3, 2)  needs grad",
        "    └── b  (2,)  needs grad",
    ]


def test_dot_of_the_docs_example_has_exactly_these_nodes_and_edges():
    y, names = _example()
    dot = to_dot(y, names)
    assert re.fullmatch(r"digraph \{\n(.*\n)*\}\n", dot)
    nodes = dict(re.findall(r'^  (n\d+) \[label="([^"]*)"', dot, re.M))
    labels = {key: label.split("\\n")[0] for key, label in nodes.items()}
    assert sorted(labels.values()) == ["add", "b", "matmul", "tanh", "w", "x"]
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"^  (n\d+) -> (n\d+);$", dot, re.M)}
    assert edges == {("x", "matmul"), ("w", "matmul"), ("matmul", "add"), ("b", "add"),
                     ("add", "tanh")}
    assert len([line for line in dot.splitlines() if "[label=" in line]) == 6
    assert dot.count("->") == 5
    assert 'label="w\\n(3, 2)", shape=box, style=filled' in dot       # needs grad: filled
    assert 'label="x\\n(4, 3)", shape=box];' in dot                   # no grad: plain


def test_a_tensor_used_twice_is_one_node_with_two_edges():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * x
    nodes = graph_nodes(y, {"x": x})
    assert [n.label for n in nodes] == ["x", "mul"] and nodes[1].inputs == (0, 0)
    assert to_dot(y).count("n0 -> n1;") == 2
    assert "(shown above)" in _render(graph_tree(y, {"x": x}))


def test_a_deep_graph_does_not_recurse():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y + 1.0
    assert len(graph_nodes(y)) == 1 + 2 * 3000


def test_expressions_evaluate_like_python():
    x, w = Tensor(np.arange(6.0).reshape(2, 3)), Tensor(np.ones((3, 2)))
    got = evaluate("tanh(x @ w) * 2 - x.sum(1).reshape(2, 1) ** 2 / 3", {"x": x, "w": w})
    expected = np.tanh(x.data @ w.data) * 2 - x.data.sum(1).reshape(2, 1) ** 2 / 3
    np.testing.assert_allclose(got.data, expected)
    assert expression_names("tanh(x @ w + b)") == ["x", "w", "b"]


@pytest.mark.parametrize("text", ["__import__('os')", "x.data", "x +", "q + 1", "open(x)",
                                  "tanh(x, 1.5)", "x.sum(dim=1)", "'a'", "3 + 4"])
def test_expressions_refuse_everything_else(text):
    with pytest.raises(ExpressionError):
        evaluate(text, {"x": Tensor(np.ones(3))})


def test_cli_graph_default_cell_dot_and_trace(tmp_path, capsys):
    assert cli.main(["graph"]) == 0
    assert "w  (3, 2)  needs grad" in capsys.readouterr().out
    dot = tmp_path / "lstm.dot"
    assert cli.main(["graph", "--cell", "lstm", "--dot", str(dot), "--trace"]) == 0
    out = capsys.readouterr().out
    assert "weight_hh  (16, 4)  needs grad" in out and "through sigmoid" in out
    assert dot.read_text().startswith("digraph {")


@pytest.mark.parametrize("argv", [
    ["graph", "x @ w", "--input", "x=2,3", "--input", "w=2,2"],      # shapes do not fit
    ["graph", "x @ q", "--input", "x=2,3"],                          # q has no shape
    ["graph", "x", "--input", "x=two"],                              # bad shape
    ["graph", "eval(x)", "--input", "x=2"],                          # not allowed
    ["graph", "--cell", "gru", "--input", "x=2"],                    # both
    ["graph", "--dot", "/no/such/dir/g.dot"],
    ["graph", "--cell", "transformer"],
])
def test_cli_graph_bad_input_is_one_line_exit_2(argv, capsys):
    if "transformer" in argv:                                        # argparse refuses it
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
    else:
        assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err

