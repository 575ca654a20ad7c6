"""Module: parameter discovery and names, state dicts, strict loading, modes, dtypes, zero_grad."""

import numpy as np
import pytest

from tinygrad_rnn import ShapeError, Tensor, manual_seed, nn
from tinygrad_rnn.lm.checkpoint import load_module_state, save_module


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 2)])
        self.not_a_parameter = Tensor(np.zeros(2))    # a plain tensor is not trained
        self.options = {"width": 3}

    def forward(self, idx):
        x = self.embed(idx) * self.scale
        for block in self.blocks:
            x = block(x)
        return x


EXPECTED = ["scale", "embed.weight", "blocks.0.weight", "blocks.0.bias", "blocks.2.weight",
            "blocks.2.bias"]


def test_named_parameters_are_dotted_and_in_pytorch_order():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == EXPECTED
    assert all(p.requires_grad for p in net.parameters())
    assert [name for name, _ in net.named_modules()] == ["", "embed", "blocks", "blocks.0",
                                                         "blocks.1", "blocks.2"]
    assert [type(m).__name__ for m in net.children()] == ["Embedding", "ModuleList"]


def test_shared_parameter_is_listed_once():
    net = nn.Module()
    net.a = nn.Linear(2, 2)
    net.b = nn.Linear(2, 2)
    net.b.weight = net.a.weight
    assert [name for name, _ in net.named_parameters()] == ["a.weight", "a.bias", "b.bias"]


def test_state_dict_holds_copies():
    net = Net()
    state = net.state_dict()
    assert list(state) == EXPECTED
    state["scale"][:] = 7.0
    np.testing.assert_array_equal(net.scale.data, np.ones(3))


def test_state_dict_round_trips_through_a_file(tmp_path):
    manual_seed(0)
    source = Net()
    manual_seed(1)
    target = Net()
    assert not np.array_equal(source.embed.weight.data, target.embed.weight.data)
    save_module(tmp_path / "net.npz", source, {"width": 3})
    assert load_module_state(tmp_path / "net.npz", target) == {"width": 3}
    idx = np.array([[0, 4], [2, 2]])
    source.eval(), target.eval()
    np.testing.assert_array_equal(source(idx).data, target(idx).data)


def test_strict_loading_names_missing_unexpected_and_misshapen_keys():
    net = Net()
    state = net.state_dict()
    del state["blocks.2.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"missing keys \['blocks.2.bias'\], "
                                         r"unexpected keys \['extra'\]"):
        net.load_state_dict(state)
    wrong = net.state_dict()
    wrong["blocks.0.weight"] = np.zeros((3, 4))
    with pytest.raises(ShapeError, match=r"key 'blocks.0.weight' has shape \(3, 4\), "
                                         r"the parameter has shape \(3, 3\)"):
        net.load_state_dict(wrong)


def test_failed_load_changes_nothing_and_non_strict_reports_keys():
    net = Net()
    before = net.state_dict()
    bad = {k: np.full(v.shape, 9.0) for k, v in before.items()}
    bad["scale"] = np.zeros(4)
    with pytest.raises(ShapeError):
        net.load_state_dict(bad)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    result = net.load_state_dict({"scale": np.full(3, 2.0), "junk": np.zeros(1)}, strict=False)
    assert result.missing_keys == EXPECTED[1:] and result.unexpected_keys == ["junk"]
    np.testing.assert_array_equal(net.scale.data, np.full(3, 2.0))


def test_loaded_arrays_take_the_modules_dtype_and_are_copied():
    net = nn.Linear(2, 2)
    weight = np.arange(4, dtype=np.float64).reshape(2, 2)
    net.load_state_dict({"weight": weight, "bias": np.zeros(2, dtype=np.int64)})
    assert net.weight.dtype == np.float32 and net.bias.dtype == np.float32
    weight[0, 0] = 100.0
    assert net.weight.data[0, 0] == 0.0
    with pytest.raises(TypeError, match="key 'bias' holds dtype <U1"):
        net.load_state_dict({"weight": weight, "bias": np.array(["a", "b"])})


def test_train_and_eval_reach_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert net.blocks[1].training


def test_double_and_float_convert_in_place_and_keep_identity():
    net = Net()
    scale = net.scale
    net.scale.grad = np.ones(3, dtype=np.float32)
    net.double()
    assert net.scale is scale
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    assert net.scale.grad.dtype == np.float64
    assert {v.dtype for v in net.float().state_dict().values()} == {np.dtype(np.float32)}


def test_zero_grad_forgets_every_gradient():
    net = Net()
    net(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_module_list_indexing_and_errors():
    blocks = nn.ModuleList([nn.Linear(2, 2)]).append(nn.Linear(2, 3))
    assert len(blocks) == 2 and blocks[-1].out_features == 3
    with pytest.raises(IndexError, match="index 2 out of range for 2 modules"):
        blocks[2]
    with pytest.raises(TypeError, match="expected a Module, got int"):
        blocks.append(3)


def test_forward_must_be_defined_and_repr_shows_the_tree():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)
    text = repr(Net())
    assert "(blocks): ModuleList(" in text and "(1): Dropout(p=0.5)" in text
    assert nn.Parameter(np.zeros(2)).requires_grad
