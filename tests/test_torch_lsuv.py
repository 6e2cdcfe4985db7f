"""fastinit.torch.lsuv_: LSUV initialization of whole modules.

After ``lsuv_`` every LSUV layer's output has unit variance on the batch (measured here
with hooks of the tests' own); the weights are orthogonal fills of their names' streams,
so a seed fixes them bit for bit whatever torch's RNG did; layers are scaled in the
order they run; and a bad argument or an unscalable layer raises and leaves the module
as it was.
"""

import logging
import warnings

import pytest
import torch
from torch import nn

from fastinit import Generator, init
from fastinit.torch.lsuv import LSUV_TYPES, lsuv_
from fastinit.torch.names import stream_of


def mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 24), nn.Tanh(),
                         nn.Linear(24, 16), nn.ReLU(), nn.Linear(16, 5))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(8, 8, 3, stride=2), nn.ReLU())
        self.head = nn.Linear(8 * 3 * 3, 4)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class CallOrder(nn.Module):
    """Registers ``late`` first and calls it last: named_modules order is not call order."""

    def __init__(self):
        super().__init__()
        self.late = nn.Linear(16, 6)
        self.early = nn.Linear(10, 16)

    def forward(self, x):
        return self.late(torch.tanh(self.early(x)))


class Squashed(nn.Linear):
    """A Linear (so an LSUV layer) whose output variance stays below 1/4 at any scale."""

    def forward(self, x):
        return 0.5 * torch.tanh(super().forward(x))


def batch_for(model, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = {CNN: (16, 3, 8, 8), CallOrder: (64, 10)}.get(type(model), (64, 12))
    return scale * torch.randn(shape, generator=g)


def lsuv_layers(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, LSUV_TYPES)]


def output_stats(model, batch):
    """{layer name: (population variance, mean)} of each LSUV layer's output on ``batch``."""
    stats, handles = {}, []
    for name, layer in lsuv_layers(model):
        def hook(module, inputs, output, name=name):
            out = output.detach().double()
            stats[name] = ((out - out.mean()).square().mean().item(), out.mean().item())
        handles.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        model(batch)
    for h in handles:
        h.remove()
    return stats


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def no_warnings(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


# --- unit variance -------------------------------------------------------------------

@pytest.mark.parametrize("make", [mlp, CNN, CallOrder])
@pytest.mark.parametrize("tol", [0.1, 1e-3])
def test_every_layer_has_unit_variance_on_the_batch(make, tol):
    torch.manual_seed(0)
    model = make()
    batch = batch_for(model, scale=5.0)  # far from unit variance before
    assert no_warnings(lambda: lsuv_(model, batch, seed=3, tol=tol)) is model
    stats = output_stats(model, batch)
    assert stats.keys() == {name for name, _ in lsuv_layers(model)}
    for name, (var, _) in stats.items():
        assert abs(var - 1) < tol, name


def test_center_also_gives_zero_mean():
    torch.manual_seed(0)
    model = mlp()
    batch = batch_for(model) + 3.0  # inputs with a mean
    lsuv_(model, batch, center=True, tol=1e-3)
    for name, (var, mean) in output_stats(model, batch).items():
        assert abs(var - 1) < 1e-3 and abs(mean) < 1e-3, name


def test_orthogonal_false_keeps_directions_and_biases():
    torch.manual_seed(0)
    model = mlp()
    batch = batch_for(model, scale=5.0)
    before = snapshot(model)
    lsuv_(model, batch, orthogonal=False, tol=1e-3)
    for name, layer in lsuv_layers(model):
        w0, w = before[f"{name}.weight"].double(), layer.weight.detach().double()
        c = (w * w0).sum() / (w0 * w0).sum()
        assert c > 0 and abs(c - 1) > 1e-3, name  # scaled, not left alone
        torch.testing.assert_close(w, c * w0, rtol=1e-6, atol=0)
        assert torch.equal(layer.bias, before[f"{name}.bias"]), name
    for name, (var, _) in output_stats(model, batch).items():
        assert abs(var - 1) < 1e-3, name


def test_buffers_are_restored():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))
    before = {k: v.clone() for k, v in model.named_buffers()}
    lsuv_(model, batch_for(model, scale=5.0))
    for k, v in model.named_buffers():
        assert torch.equal(v, before[k]), k


# --- reproducibility -----------------------------------------------------------------

def test_a_seed_fixes_the_weights_bit_for_bit_whatever_torch_drew():
    batch = batch_for(CNN())
    results = []
    for torch_seed in (1, 2):
        torch.manual_seed(torch_seed)
        results.append(snapshot(lsuv_(CNN(), batch, seed=7)))
    assert_same(*results)
    torch.manual_seed(1)
    other = snapshot(lsuv_(CNN(), batch, seed=8))
    for name, _ in lsuv_layers(CNN()):
        assert not torch.equal(other[f"{name}.weight"], results[0][f"{name}.weight"]), name


def test_weights_are_orthogonal_fills_of_their_names_streams():
    model = CNN()
    batch = batch_for(model, scale=5.0)
    lsuv_(model, batch, seed=11)
    for name, layer in lsuv_layers(model):
        expected = init.orthogonal_(torch.empty_like(layer.weight),
                                    generator=Generator(11, stream=stream_of(f"{name}.weight")))
        w = layer.weight.detach()
        c = (w * expected).sum() / (expected * expected).sum()
        assert c > 0, name
        torch.testing.assert_close(w, c * expected, rtol=1e-5, atol=1e-7)
        assert not layer.bias.any(), name


def test_the_module_itself_can_be_the_layer():
    layer = nn.Linear(12, 3)
    batch = batch_for(layer, scale=5.0)
    lsuv_(layer, batch, seed=2, tol=1e-3)
    assert abs(layer(batch).var(correction=0).item() - 1) < 1e-3
    w = layer.weight.detach()
    gen = Generator(2, stream=stream_of("weight"))
    expected = init.orthogonal_(torch.empty_like(w), generator=gen)
    torch.testing.assert_close(w / w.norm(), expected / expected.norm())


# --- order, selection, reporting -----------------------------------------------------

def test_layers_are_scaled_in_call_order_not_registration_order(caplog):
    model = CallOrder()
    assert [n for n, _ in lsuv_layers(model)] == ["late", "early"]
    batch = batch_for(model, scale=20.0)  # saturates the tanh until `early` is scaled
    with caplog.at_level(logging.INFO, logger="fastinit.torch.lsuv"):
        lsuv_(model, batch, tol=1e-3)
    logged = [r.getMessage().split()[1].rstrip(":") for r in caplog.records]
    assert logged == ["early", "late"]
    for name, (var, _) in output_stats(model, batch).items():
        assert abs(var - 1) < 1e-3, name


def test_layers_restricts_to_the_modules_given():
    model = mlp()
    before = snapshot(model)
    lsuv_(model, batch_for(model, scale=5.0), layers=[model[4]])
    after = snapshot(model)
    assert {k for k in before if not torch.equal(before[k], after[k])} == {"4.weight", "4.bias"}


def test_layers_restricts_or_extends_the_types():
    model = CNN()
    before = snapshot(model)
    lsuv_(model, batch_for(model), layers=(nn.Conv2d,))
    assert torch.equal(model.head.weight, before["head.weight"])
    assert not torch.equal(model.features[0].weight, before["features.0.weight"])

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(4, 12))

        def forward(self, x):
            return 3.0 * x @ self.weight.T

    model = nn.Sequential(Scaled(), nn.ReLU(), nn.Linear(4, 2))
    batch = batch_for(model)
    lsuv_(model, batch, layers=LSUV_TYPES + (Scaled,), tol=1e-3)
    assert abs(model[0](batch).var(correction=0).item() - 1) < 1e-3


def test_a_layer_that_does_not_run_is_left_alone_with_a_warning():
    model = CNN()
    model.spare = nn.Linear(3, 3)
    before = model.spare.weight.clone()
    with pytest.warns(UserWarning, match="do not run on the batch: spare"):
        lsuv_(model, batch_for(model))
    assert torch.equal(model.spare.weight, before)


def test_a_layer_that_does_not_converge_warns_with_its_variance():
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), Squashed(16, 8))
    batch = batch_for(model)
    with pytest.warns(UserWarning, match=r"layer '2' did not reach .* in 3 scalings: "
                                         r"its output variance is 0\.\d+") as caught:
        assert lsuv_(model, batch, max_iter=3) is model
    assert len(caught) == 1
    assert abs(output_stats(model, batch)["0"][0] - 1) < 0.1  # the others are done


# --- errors leave the module untouched -----------------------------------------------

class NoLayers(nn.Module):
    def forward(self, x):
        return x


@pytest.mark.parametrize("kwargs, batch, error, match", [
    ({"tol": 0}, None, ValueError, "tol must be positive"),
    ({"tol": -0.5}, None, ValueError, "tol must be positive"),
    ({"tol": float("nan")}, None, ValueError, "tol must be positive"),
    ({"tol": "0.1"}, None, TypeError, "tol must be a number"),
    ({"max_iter": 0}, None, ValueError, "max_iter must be at least 1"),
    ({"max_iter": 2.0}, None, TypeError, "max_iter must be an integer"),
    ({"seed": -1}, None, ValueError, "seed must be in"),
    ({"center": 1}, None, TypeError, "center must be True or False"),
    ({}, [1.0], TypeError, "batch must be a tensor or a tuple"),
    ({}, "x", TypeError, "batch must be a tensor or a tuple"),
    ({"layers": nn.Linear}, None, TypeError, "layers must be an iterable"),
    ({"layers": ("Linear",)}, None, TypeError, "layers must hold module types or modules"),
    ({"layers": ()}, None, ValueError, "no LSUV layer"),
    ({"layers": (nn.LSTM,)}, None, ValueError, "no LSUV layer"),
    ({"layers": [nn.Linear(3, 3)]}, None, ValueError, "not a submodule"),
    ({"layers": (nn.LayerNorm,)}, None, ValueError, "'1' has a 1-D weight"),
    ({}, torch.zeros(64, 12), ValueError, r"layer '0' \(Linear\) has output variance 0\.0"),
    ({}, torch.full((64, 12), float("nan")), ValueError, "layer '0' .* variance nan"),
    ({}, torch.ones(64, 7), RuntimeError, "shapes cannot be multiplied"),
])
def test_errors_raise_and_leave_the_module_untouched(kwargs, batch, error, match):
    model = nn.Sequential(nn.Linear(12, 16), nn.LayerNorm(16), nn.Linear(16, 4))
    batch = batch_for(model, scale=5.0) if batch is None else batch
    before = snapshot(model)
    with pytest.raises(error, match=match):
        lsuv_(model, batch, **kwargs)
    assert_same(snapshot(model), before)
    assert not model[0]._forward_hooks  # no hook left behind


@pytest.mark.parametrize("module, error, match", [
    (NoLayers(), ValueError, "no LSUV layer"),
    (nn.Sequential(nn.ReLU(), nn.Tanh()), ValueError, "no LSUV layer"),
    (lambda x: x, TypeError, "module must be a torch.nn.Module"),
])
def test_modules_without_lsuv_layers_raise(module, error, match):
    with pytest.raises(error, match=match):
        lsuv_(module, torch.ones(4, 3))
