"""fastinit.torch's layer defaults are what torch's own construction draws.

Each standard layer is built once with torch's in-place init methods recorded
(``Tensor.uniform_``, ``normal_``, ``fill_``, ``zero_``): the last whole-tensor call on
each parameter and buffer is what torch drew for it. ``init_module`` must plan exactly
that distribution, with the same floating-point arguments, and its values must pass a
KS test against it and stay within its bounds.
"""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

import fastinit.torch as ft
from fastinit import Generator, Normal, Uniform
from fastinit.schemes import Constant
from fastinit.torch.plan import schemes, targets

LAYERS = {
    "Linear": lambda: nn.Linear(300, 40),
    "Linear(bias=False)": lambda: nn.Linear(300, 40, bias=False),
    "Bilinear": lambda: nn.Bilinear(20, 30, 40),
    "Conv1d": lambda: nn.Conv1d(16, 32, 5),
    "Conv2d(groups=2)": lambda: nn.Conv2d(16, 32, 3, groups=2),
    "Conv3d": lambda: nn.Conv3d(4, 8, 3),
    "ConvTranspose1d": lambda: nn.ConvTranspose1d(16, 32, 5),
    "ConvTranspose2d(groups=2)": lambda: nn.ConvTranspose2d(16, 32, 3, groups=2),
    "ConvTranspose3d": lambda: nn.ConvTranspose3d(4, 8, 3),
    "Embedding(padding_idx=0)": lambda: nn.Embedding(500, 16, padding_idx=0),
    "Embedding(padding_idx=-1)": lambda: nn.Embedding(500, 16, padding_idx=-1),
    "EmbeddingBag": lambda: nn.EmbeddingBag(500, 16, padding_idx=7),
    "LayerNorm": lambda: nn.LayerNorm(64),
    "LayerNorm(bias=False)": lambda: nn.LayerNorm(64, bias=False),
    "RMSNorm": lambda: nn.RMSNorm(64),
    "GroupNorm": lambda: nn.GroupNorm(4, 64),
    "BatchNorm1d": lambda: nn.BatchNorm1d(64),
    "BatchNorm2d": lambda: nn.BatchNorm2d(64),
    "BatchNorm3d(affine=False)": lambda: nn.BatchNorm3d(64, affine=False),
    "InstanceNorm2d": lambda: nn.InstanceNorm2d(64, affine=True, track_running_stats=True),
    "MultiheadAttention": lambda: nn.MultiheadAttention(64, 4),
    "MultiheadAttention(kdim, vdim, bias_kv)": lambda: nn.MultiheadAttention(
        64, 4, kdim=32, vdim=48, add_bias_kv=True),
    "MultiheadAttention(bias=False)": lambda: nn.MultiheadAttention(64, 4, bias=False),
    "RNN": lambda: nn.RNN(30, 40, num_layers=2),
    "LSTM(bidirectional, proj_size)": lambda: nn.LSTM(30, 40, bidirectional=True, proj_size=20),
    "GRU": lambda: nn.GRU(30, 40, num_layers=2),
    "RNNCell": lambda: nn.RNNCell(30, 40),
    "LSTMCell": lambda: nn.LSTMCell(30, 40),
    "GRUCell": lambda: nn.GRUCell(30, 40),
    "PReLU": lambda: nn.PReLU(3, init=0.1),
    "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(64, 4, dim_feedforward=128,
                                                                        batch_first=True),
    "Transformer": lambda: nn.Transformer(64, 4, num_encoder_layers=1, num_decoder_layers=1,
                                          dim_feedforward=128, batch_first=True),
}


class Recorder:
    """Torch's in-place init methods, recorded per (data pointer, numel); a clone
    inherits the record of what it was cloned from."""

    METHODS = {
        "uniform_": lambda a=0.0, b=1.0, **_: Uniform(a, b),
        "normal_": lambda mean=0.0, std=1.0, **_: Normal(mean, std),
        "fill_": lambda value: Constant(float(value)),
        "zero_": lambda: Constant(0.0),
    }

    def __init__(self, monkeypatch):
        self.calls = {}
        for name, as_scheme in self.METHODS.items():
            original = getattr(torch.Tensor, name)

            def patched(tensor, *args, _original=original, _as_scheme=as_scheme, **kwargs):
                self.calls[(tensor.data_ptr(), tensor.numel())] = _as_scheme(*args, **kwargs)
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, patched)
        clone = torch.Tensor.clone

        def cloned(tensor, *args, **kwargs):  # deep copies (nn.Transformer's layer clones)
            result = clone(tensor, *args, **kwargs)
            key = (tensor.data_ptr(), tensor.numel())
            if key in self.calls:
                self.calls[(result.data_ptr(), result.numel())] = self.calls[key]
            return result

        monkeypatch.setattr(torch.Tensor, "clone", cloned)

    def drawn(self, tensor):
        return self.calls[(tensor.data_ptr(), tensor.numel())]


def torch_draws(make, monkeypatch):
    """The layer, and {name: what torch's construction last drew for it}."""
    with monkeypatch.context() as patch:
        recorder = Recorder(patch)
        layer = make()
    state = dict(layer.named_parameters()) | dict(layer.named_buffers())
    return layer, {name: recorder.drawn(tensor) for name, tensor in state.items()}


def planned(layer):
    """{name: the concrete distribution or constant fastinit draws}."""
    result = {}
    for target in targets(layer, schemes(layer)):
        scheme = target.scheme
        if hasattr(scheme, "distribution"):
            scheme = scheme.distribution(tuple(target.tensor.shape))
        result[target.name] = scheme
    return result


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_draws_exactly_what_torch_draws(name, monkeypatch):
    layer, expected = torch_draws(LAYERS[name], monkeypatch)
    assert planned(layer) == expected


def _values(tensor):
    return tensor.detach().double().numpy().ravel()


def poison(layer):
    """Every parameter and buffer of ``layer`` overwritten (NaN, -1 in integer ones), so
    that what it holds after ``init_module`` is what fastinit wrote, not torch's draws."""
    with torch.no_grad():
        for tensor in [*layer.parameters(), *layer.buffers()]:
            tensor.fill_(math.nan if tensor.is_floating_point() else -1)


@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_passes_a_ks_test_against_torch_distribution(name, monkeypatch):
    layer, expected = torch_draws(LAYERS[name], monkeypatch)
    poison(layer)
    ft.init_module(layer, seed=3)
    state = dict(layer.named_parameters()) | dict(layer.named_buffers())
    for param, dist in expected.items():
        values = _values(state[param])
        if param == "weight" and getattr(layer, "padding_idx", None) is not None:
            assert not values.reshape(state[param].shape[0], -1)[layer.padding_idx].any()
            values = np.delete(values.reshape(state[param].shape[0], -1), layer.padding_idx,
                               axis=0).ravel()
        if isinstance(dist, Constant):
            assert torch.equal(state[param], torch.full_like(state[param], dist.value)), param
            continue
        if isinstance(dist, Uniform):
            assert dist.low <= values.min() and values.max() < dist.high, param
            cdf = scipy.stats.uniform(dist.low, dist.high - dist.low).cdf
        else:
            cdf = scipy.stats.norm(dist.mean, dist.std).cdf
        if values.size >= 200:
            assert scipy.stats.kstest(values, cdf).pvalue > 1e-4, param


def test_padding_rows_are_zeroed_after_drawing():
    layer = nn.Embedding(10, 4, padding_idx=3)
    poison(layer)
    ft.init_module(layer, seed=0)
    drawn = Generator(0, ft.stream_of("weight")).fill(torch.empty(10, 4), Normal(0.0, 1.0))
    drawn[3] = 0.0
    assert torch.equal(layer.weight, drawn)


def test_linear_bias_bound_comes_from_the_weight_fan_in():
    layer = nn.Conv2d(6, 4, (3, 5))
    bias = dict(planned(layer))["bias"]
    assert bias == Uniform(-1 / math.sqrt(6 * 3 * 5), 1 / math.sqrt(6 * 3 * 5))
