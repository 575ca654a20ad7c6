"""Linear, Embedding, Dropout and nn.init: values vs numpy, gradients vs gradcheck."""

import numpy as np
import pytest

from tinygrad_rnn import ShapeError, Tensor, gradcheck, manual_seed, nn
from tinygrad_rnn.nn import init


def randn(seed, *shape, grad=False):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


def test_linear_forward_gradients_and_init():
    manual_seed(0)
    layer = nn.Linear(16, 3)
    assert layer.weight.shape == (3, 16) and layer.bias.shape == (3,)
    values = np.concatenate([layer.weight.data.ravel(), layer.bias.data])
    assert 0.2 < np.abs(values).max() <= 0.25                          # U(-1/√16, 1/√16)
    layer = nn.Linear(3, 2).double()
    x = randn(1, 4, 5, 3, grad=True)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T + layer.bias.data)
    assert gradcheck(lambda *_: layer(x), [x, layer.weight, layer.bias])
    no_bias = nn.Linear(3, 2, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    with pytest.raises(ShapeError, match=r"Linear: input of shape \(4, 2\) does not end in "
                                         r"in_features=3"):
        layer(randn(2, 4, 2))


def test_embedding_lookup_padding_and_scatter_add_gradient():
    manual_seed(0)
    embed = nn.Embedding(6, 4, padding_idx=-1).double()
    assert embed.padding_idx == 5
    np.testing.assert_array_equal(embed.weight.data[5], np.zeros(4))
    idx = np.array([[1, 5, 1], [0, 1, 3]])
    np.testing.assert_array_equal(embed(idx).data, embed.weight.data[idx])
    upstream = np.random.default_rng(1).standard_normal((2, 3, 4))
    (embed(Tensor(idx)) * upstream).sum().backward()
    want = np.zeros((6, 4))
    for (b, t), row in np.ndenumerate(idx):
        if row != 5:
            want[row] += upstream[b, t]
    np.testing.assert_allclose(embed.weight.grad, want)    # row 1 summed three times, row 5 none
    plain = nn.Embedding(6, 4).double()
    assert gradcheck(lambda *_: plain(idx), [plain.weight])
    with pytest.raises(ValueError, match="padding_idx 6 is out of range"):
        nn.Embedding(6, 4, padding_idx=6)
    with pytest.raises(TypeError, match="target must hold integer"):
        plain(np.array([0.5]))


def test_embedding_init_is_standard_normal():
    manual_seed(3)
    values = nn.Embedding(400, 50).weight.data
    assert abs(values.mean()) < 0.02 and abs(values.std() - 1.0) < 0.02


def test_dropout_scales_in_training_and_is_identity_in_eval():
    manual_seed(0)
    layer = nn.Dropout(0.25)
    x = Tensor(np.ones((200, 200)))
    y = layer(x).data
    assert set(np.unique(y)) == {0.0, 1.0 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert layer.eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros((200, 200)))
    with pytest.raises(ValueError, match=r"Dropout: p must be in \[0, 1\], got 1.2"):
        nn.Dropout(1.2)


def test_dropout_gradient_uses_the_same_mask():
    manual_seed(0)
    x = randn(1, 5, 6, grad=True)
    y = nn.Dropout(0.5)(x)
    y.backward(np.ones((5, 6)))
    np.testing.assert_array_equal(x.grad, (y.data != 0) * 2.0)


def test_init_helpers_fill_in_place_with_the_right_distribution():
    t = Tensor(np.zeros((300, 200), dtype=np.float32))
    assert init.uniform_(t, -0.5, 0.5) is t and t.dtype == np.float32
    assert -0.5 <= t.data.min() < -0.49 and 0.49 < t.data.max() < 0.5
    init.normal_(t, 2.0, 0.5)
    assert abs(t.data.mean() - 2.0) < 0.01 and abs(t.data.std() - 0.5) < 0.01
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * np.sqrt(6.0 / 500)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.xavier_normal_(t)
    assert abs(t.data.std() - np.sqrt(2.0 / 500)) < 0.002
    np.testing.assert_array_equal(init.zeros_(t).data, 0.0)
    np.testing.assert_array_equal(init.ones_(t).data, 1.0)
    np.testing.assert_array_equal(init.constant_(t, 3.5).data, 3.5)
    assert init.fan_in_and_fan_out(Tensor(np.zeros((4, 3, 5)))) == (15, 20)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = init.orthogonal_(Tensor(np.zeros(shape)), gain=1.5).data
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)


def test_init_is_repeatable_from_the_seed_and_checks_shapes():
    manual_seed(7)
    a = init.normal_(Tensor(np.zeros(5))).data.copy()
    manual_seed(7)
    np.testing.assert_array_equal(init.normal_(Tensor(np.zeros(5))).data, a)
    with pytest.raises(ShapeError, match=r"need at least 2 dims, got shape \(5,\)"):
        init.xavier_uniform_(Tensor(np.zeros(5)))
