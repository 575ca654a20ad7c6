"""nn.AdaptiveLogSoftmaxWithLoss: PyTorch's semantics (cutoffs, div_value, head_bias), gradients
by central differences, and parity with torch.nn.AdaptiveLogSoftmaxWithLoss."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck, manual_seed
from tinygrad_rnn.engine.tensor import ShapeError
from tinygrad_rnn.nn import AdaptiveLogSoftmaxWithLoss

IN, CLASSES, CUTOFFS = 8, 12, (3, 7)          # shortlist 0-2, clusters 3-6 and 7-11


def head_of(head_bias: bool = False, div_value: float = 2.0) -> AdaptiveLogSoftmaxWithLoss:
    manual_seed(0)
    return AdaptiveLogSoftmaxWithLoss(IN, CLASSES, CUTOFFS, div_value=div_value,
                                      head_bias=head_bias).double()


def inputs(n: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n rows, and targets that visit the shortlist and both clusters."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, IN)), np.array([0, 4, 11, 2, 7, 5][:n])


def test_sizes_and_parameter_names_follow_pytorch() -> None:
    asm = head_of(head_bias=True)
    shapes = {name: p.shape for name, p in asm.named_parameters()}
    assert shapes == {"head.weight": (5, 8), "head.bias": (5,),            # 3 words + 2 clusters
                      "tail.0.0.weight": (4, 8), "tail.0.1.weight": (4, 4),  # ⌊8 / 2¹⌋, 4 words
                      "tail.1.0.weight": (2, 8), "tail.1.1.weight": (5, 2)}  # ⌊8 / 2²⌋, 5 words
    assert "head.bias" not in dict(head_of().named_parameters())


def test_log_prob_is_a_distribution_and_output_picks_from_it() -> None:
    asm = head_of()
    x, target = inputs()
    full = asm.log_prob(Tensor(x)).data                                  # (N, classes)
    np.testing.assert_allclose(np.exp(full).sum(axis=1), 1.0, rtol=1e-12)
    result = asm(Tensor(x), target)
    np.testing.assert_allclose(result.output.data, full[np.arange(len(target)), target],
                               rtol=1e-12)
    assert result.loss.item() == pytest.approx(-full[np.arange(len(target)), target].mean())
    np.testing.assert_array_equal(asm.predict(Tensor(x)).data, full.argmax(axis=1))


def test_one_row_without_a_batch() -> None:
    asm = head_of()
    x, target = inputs()
    one = asm(Tensor(x[1]), np.array(target[1]))
    assert one.output.shape == ()
    assert one.output.item() == pytest.approx(asm(Tensor(x), target).output.data[1])


@pytest.mark.parametrize("targets", [[0, 1, 2, 0], [8, 9, 11, 7], [0, 4, 11, 2, 7, 5]])
@pytest.mark.parametrize("head_bias", [False, True])
def test_gradients_by_central_differences(targets: list[int], head_bias: bool) -> None:
    """Shortlist-only, last-cluster-only and mixed batches (a skipped cluster included)."""
    asm = head_of(head_bias)
    x = Tensor(np.random.default_rng(1).standard_normal((len(targets), IN)), requires_grad=True)
    weights = np.random.default_rng(2).standard_normal(len(targets))
    params = list(asm.parameters())
    assert gradcheck(lambda x, *_: asm(x, np.array(targets)).output * Tensor(weights),
                     [x, *params])


def test_bad_arguments_say_what_is_wrong() -> None:
    for cutoffs in ([], [7, 3], [3, 3], [0, 5], [3, 12], [2.5]):
        with pytest.raises(ValueError, match=r"cutoffs must be unique whole numbers .*"
                                             r"\[1, 11\]"):
            AdaptiveLogSoftmaxWithLoss(IN, CLASSES, cutoffs)
    asm = head_of()
    x, target = inputs()
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 11\], got 0\.\.12"):
        asm(Tensor(x[:2]), np.array([0, 12]))
    with pytest.raises(ShapeError, match=r"input \(6, 8\) and target \(5,\)"):
        asm(Tensor(x), target[:5])
    with pytest.raises(TypeError, match="integer class indices"):
        asm(Tensor(x), target.astype(float))


@pytest.mark.torch
@pytest.mark.parametrize("head_bias", [False, True])
@pytest.mark.parametrize("div_value", [4.0, 2.0])
def test_matches_torch(head_bias: bool, div_value: float) -> None:
    torch = pytest.importorskip("torch")
    asm = head_of(head_bias, div_value)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(IN, CLASSES, list(CUTOFFS), div_value=div_value,
                                                 head_bias=head_bias).double()
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in asm.state_dict().items()})
    x, target = inputs()
    ours_x, torch_x = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    mine, reference = asm(ours_x, target), theirs(torch_x, torch.from_numpy(target))
    np.testing.assert_allclose(mine.output.data, reference.output.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(mine.loss.item(), reference.loss.item(), rtol=1e-10)
    weights = np.random.default_rng(3).standard_normal(len(target))
    (mine.output * Tensor(weights)).sum().backward()
    (reference.output * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(ours_x.grad, torch_x.grad.numpy(), rtol=1e-10, atol=1e-12)
    grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    for name, p in asm.named_parameters():
        np.testing.assert_allclose(p.grad, grads[name], rtol=1e-10, atol=1e-12, err_msg=name)
    with torch.no_grad():
        np.testing.assert_allclose(asm.log_prob(Tensor(x)).data,
                                   theirs.log_prob(torch.from_numpy(x)).numpy(), rtol=1e-10)
        np.testing.assert_array_equal(asm.predict(Tensor(x)).data,
                                      theirs.predict(torch.from_numpy(x)).numpy())
