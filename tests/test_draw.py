"""tg.draw: the SVG has one element per node and per edge, each node's value and gradient norm
(checked against numpy), gate names, a layered layout, watch(); `graph --svg` and `--unroll`."""

import os
import re
import shlex
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, cli, nn
from tinygrad_rnn.engine.tensor import ShapeError
from tinygrad_rnn.teach.graph_view import unrolled
from tinygrad_rnn.viz.draw import BOX_W, _place, layers_of

SVG = "{http://www.w3.org/2000/svg}"


def _example(seed=0):
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 3)))
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    return x, w, b


def _nodes(svg: str) -> dict[str, ET.Element]:
    """Each node group of the SVG by its first (bold) text line."""
    root = ET.fromstring(svg)
    groups = [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    return {g.findall(f"{SVG}text")[0].text: g for g in groups}


def _lines(group: ET.Element) -> list[str]:
    return [t.text for t in group.findall(f"{SVG}text")]


def _edges(svg: str) -> list[ET.Element]:
    return [p for p in ET.fromstring(svg).iter(f"{SVG}path") if p.get("class") == "edge"]


def test_one_element_per_node_and_per_edge_and_the_values_are_numpys():
    x, w, b = _example()
    with tg.watch():
        y = (x @ w + b).tanh()
        loss = y.sum()
        loss.backward()
    svg = tg.draw(loss, names={"x": x, "w": w, "b": b}).svg()
    nodes = _nodes(svg)
    assert sorted(nodes) == ["add", "b", "matmul", "sum", "tanh", "w", "x"]
    assert len(_edges(svg)) == 6           # x, w → matmul; matmul, b → add; add → tanh → sum
    expected_y = np.tanh(x.data @ w.data + b.data)
    dy = 1 - expected_y ** 2                        # ∂L/∂(xw + b) for L = Σ tanh(xw + b)
    tanh = _lines(nodes["tanh"])
    assert tanh[1] == "(4, 2)"
    assert tanh[2] == (f"μ {expected_y.mean():.3g}  in [{expected_y.min():.3g}, "
                       f"{expected_y.max():.3g}]")
    assert tanh[3] == f"‖∇‖ {np.sqrt(8):.4g}"     # ∂L/∂y is all ones
    assert _lines(nodes["w"])[3] == f"‖∇‖ {np.linalg.norm(x.data.T @ dy):.4g}"
    assert _lines(nodes["add"])[3] == f"‖∇‖ {np.linalg.norm(dy):.4g}"
    assert _lines(nodes["sum"])[2] == f"= {expected_y.sum():.4g}"
    assert _lines(nodes["x"])[3] == "no grad"


def test_without_watch_only_leaves_and_the_root_keep_values():
    x, w, b = _example()
    loss = (x @ w + b).tanh().sum()
    loss.backward()
    nodes = _nodes(tg.draw(loss, {"w": w}).svg())
    assert _lines(nodes["tanh"])[2:] == ["…", "∇ not computed"]
    assert _lines(nodes["sum"])[2].startswith("= ")
    assert _lines(nodes["w"])[3].startswith("‖∇‖")          # a leaf's gradient is kept
    assert "tg.watch()" in tg.draw(loss).svg()                       # and the picture says so


def test_watch_keeps_nothing_when_off_and_restores_itself():
    x, w, b = _example()
    y = x @ w
    assert y._ctx.retained is None
    with tg.watch():
        z = x @ w
    assert z._ctx.retained() is z
    assert (x @ w)._ctx.retained is None


def test_gradient_colours_follow_one_log_scale_with_a_numbered_legend():
    x, w, b = _example()
    with tg.watch():
        loss = ((x @ w + b).tanh() * 100.0).sum()
        loss.backward()
    svg = tg.draw(loss, names={"x": x, "w": w, "b": b}).svg()
    swatches = [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("class") == "swatch"]
    assert len(swatches) == 8
    assert re.search(r">1e[+-]\d\d<", svg)                 # the scale's ends carry numbers
    fills = {name: g.find(f"{SVG}rect").get("fill") for name, g in _nodes(svg).items()}
    assert fills["x"] == "white"                           # no gradient: no colour
    order = [s.get("fill") for s in swatches]
    # ‖∂L/∂(100·tanh(…))‖ = ‖ones(4, 2)‖ = √8 is darker than ‖∂L/∂L‖ = 1
    assert order.index(fills["mul"]) > order.index(fills["sum"])


def test_layers_put_every_input_above_its_user():
    cell = nn.LSTMCell(3, 4).double()
    h, c = cell(Tensor(np.ones((2, 3))), (Tensor(np.ones((2, 4)), requires_grad=True),
                                          Tensor(np.ones((2, 4)), requires_grad=True)))
    drawing = tg.draw(h)
    row = {i: r for r, layer in enumerate(layers_of(drawing.nodes)) for i in layer}
    assert len(row) == len(drawing.nodes)
    for i, node in enumerate(drawing.nodes):
        assert all(row[j] < row[i] for j in node.inputs)
    assert row[len(drawing.nodes) - 1] == max(row.values())         # the output at the bottom


def test_an_edge_that_skips_layers_passes_between_the_boxes():
    run = unrolled("lstm", 2)
    nodes = tg.draw(run.loss, run.names).nodes
    layers = layers_of(nodes)
    where, lanes, _ = _place(nodes, layers)
    row = {i: r for r, layer in enumerate(layers) for i in layer}
    assert lanes                                               # a graph with long edges
    for (i, slot), xs in lanes.items():
        start = row[nodes[i].inputs[slot]]
        assert len(xs) == row[i] - start - 1                   # one lane per layer between
        for k, x in enumerate(xs):
            boxes = [where[j][0] for j in layers[start + 1 + k]]
            assert all(not (left <= x <= left + BOX_W) for left in boxes)


@pytest.mark.parametrize("cell, gates", [(nn.GRUCell, ["x_r", "x_z", "x_n", "h_r", "h_z", "h_n"]),
                                         (nn.LSTMCell, ["i", "f", "g", "o"])])
def test_gate_nodes_carry_the_cells_names(cell, gates):
    step = cell(3, 4).double()                              # float64 like x and h
    x, h = Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)), requires_grad=True)
    out = step(x, (h, h)) if cell is nn.LSTMCell else step(x, h)
    out = out[0] if isinstance(out, tuple) else out
    nodes = _nodes(tg.draw(out).svg())
    assert sorted(n for n in nodes if n.endswith("= getitem")) == sorted(
        f"{g} = getitem" for g in gates)
    assert "getitem" not in nodes                           # no anonymous chunk left


def test_a_layer_under_watch_draws_every_op_with_its_gates():
    gru = nn.GRU(3, 4).double()                             # float64 like its input
    with tg.watch():
        out, _ = gru(Tensor(np.ones((3, 1, 3))))
    labels = [n.label for n in tg.draw(out).nodes]
    assert "scan" not in labels and labels.count("x_r") == 3


def test_a_graph_too_large_to_read_is_refused_with_advice():
    y = Tensor(np.ones(2), requires_grad=True)
    for _ in range(1200):
        y = y * 1.0
    with pytest.raises(ValueError, match="draw: the graph has 2401 nodes"):
        tg.draw(y)


def test_chunk_names_must_match_the_pieces():
    with pytest.raises(ShapeError, match="split: 2 names for 3 pieces"):
        Tensor(np.ones((2, 6)), requires_grad=True).chunk(3, 1, names=("a", "b"))


def test_repr_svg_dot_and_save(tmp_path):
    x, w, b = _example()
    drawing = tg.draw((x @ w + b).tanh(), names={"x": x})
    assert drawing._repr_svg_() == drawing.svg()
    assert drawing.dot().startswith("digraph {")
    path = drawing.save(str(tmp_path / "g.svg"))
    ET.parse(path)
    with pytest.raises(TypeError, match="draw: expected a Tensor"):
        tg.draw(np.ones(3))


def test_unrolled_rnn_gradients_are_the_hand_derived_bptt():
    run = unrolled("rnn", 6)
    hs = [run.names[f"h⟨{t}⟩"].data for t in range(7)]
    w_hh = run.names["weight_hh"].data
    g = run.loss._ctx.parents[0].parents[1].data   # L = Σ h⟨6⟩ ⊙ R: R is the mul's 2nd input
    expected = [np.linalg.norm(g)]
    for t in range(6, 0, -1):                      # ∂L/∂h⟨t−1⟩ = (∂L/∂h⟨t⟩ ⊙ (1 − h⟨t⟩²)) W_hh
        g = (g * (1 - hs[t] ** 2)) @ w_hh
        expected.append(np.linalg.norm(g))
    np.testing.assert_allclose(run.norms, expected[::-1], rtol=1e-10)


def test_draw_on_an_unrolled_loss_colours_each_state_by_its_gradient():
    run = unrolled("rnn", 6)
    drawing = tg.draw(run.loss, run.names)
    norms = dict(zip([n.label for n in drawing.nodes], drawing.norms(), strict=True))
    for t in range(7):
        name = "h⟨0⟩" if t == 0 else f"h⟨{t}⟩"
        assert norms[name] == pytest.approx(run.norms[t], rel=1e-12)
    fills = {name: g.find(f"{SVG}rect").get("fill") for name, g in _nodes(drawing.svg()).items()}
    assert fills["h⟨0⟩"] != fills["h⟨6⟩ = tanh"]             # 2e-3 and 1.7 differ in colour


def _run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_graph_svg_of_each_cell(tmp_path, capsys):
    for kind in ("rnn", "gru", "lstm"):
        path = tmp_path / f"{kind}.svg"
        code, out, _ = _run(["graph", "--cell", kind, "--svg", str(path)], capsys)
        assert code == 0 and f"wrote {path}" in out
        svg = path.read_text()
        nodes = _nodes(svg)
        assert "h" in nodes and "weight_hh" in nodes
        assert all(_lines(g)[3] != "∇ not computed" for g in nodes.values())


def test_graph_unroll_draws_every_state_and_step(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    path = tmp_path / "bptt.svg"
    code, out, _ = _run(["graph", "--unroll", "6", "--svg", str(path)], capsys)
    assert code == 0
    svg = path.read_text()
    groups = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if "node" in g.get("class", "")]
    assert len(groups) == 4 * 7 + 4           # RNN h, GRU h, LSTM h and c: 7 states and an L
    assert len(_edges(svg)) == 4 * 7
    run = unrolled("gru", 6)
    assert f"{run.norms[0]:.2e}" in out and f"{run.norms[0]:.3g}" in svg
    assert all(len(line) <= 80 for line in out.splitlines())
    code, out, _ = _run(["graph", "--cell", "rnn", "--unroll", "3"], capsys)
    assert code == 0 and "RNN h" in out and "GRU" not in out


def test_graph_refuses_unroll_with_an_expression(capsys):
    code, _, err = _run(["graph", "x * 2", "--unroll", "3"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--unroll" in err


def test_the_graph_commands_help_examples_run_as_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["graph", "--help"])
    helptext = capsys.readouterr().out
    examples = [line.strip() for line in helptext.split("examples:", 1)[1].splitlines()
                if line.strip()]
    assert len(examples) >= 5
    for example in examples:
        words = shlex.split(example.split("   ")[0])     # the command, not its note
        assert words[0] == "tinygrad-rnn"
        code, _, err = _run(words[1:], capsys)
        assert code == 0, (example, err)
    assert {"graph.svg", "gru.svg", "bptt.svg", "lstm.dot"} <= set(os.listdir(tmp_path))
