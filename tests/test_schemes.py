"""Fans, gains and the variance-scaling rule (fastinit.schemes)."""

import math

import numpy as np
import pytest
import scipy.stats
import torch

from fastinit import Normal, TruncatedNormal, Uniform
from fastinit.schemes import (TRUNCATED_NORMAL_STD, calculate_gain, correct_fan,
                              fan_in_and_fan_out, jax_fans, variance_scaling_dist)


def outcome(call, *args):
    """What a call did: ("returns", value) or ("raises", type, message)."""
    try:
        return ("returns", call(*args))
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return ("raises", type(e), str(e))


# --- calculate_gain: torch's, value for value and error for error -----------------

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu", "gelu", "Relu", "", None]
PARAMS = [None, 0, 0.2, 1, -0.5, np.float64(0.3), True, False, "0.2", np.float32(0.3),
          torch.tensor(0.2)]


@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("param", PARAMS, ids=repr)
def test_calculate_gain_is_torchs(nonlinearity, param):
    ours = outcome(calculate_gain, nonlinearity, param)
    assert ours == outcome(torch.nn.init.calculate_gain, nonlinearity, param)
    if ours[0] == "returns":
        assert type(ours[1]) is type(torch.nn.init.calculate_gain(nonlinearity, param))


def test_gain_values():
    assert calculate_gain("linear") == 1
    assert calculate_gain("tanh") == 5.0 / 3
    assert calculate_gain("relu") == math.sqrt(2.0)
    assert calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert calculate_gain("selu") == 0.75


# --- torch-layout fans ---------------------------------------------------------------

TORCH_SHAPES = [(), (4,), (3, 5), (5, 3), (1, 1), (0, 5), (5, 0), (6, 3, 5),
                (16, 8, 3, 3), (4, 2, 3, 3, 3), (2, 2, 2, 2, 2, 2), (3, 0, 3, 3)]


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
def test_fans_are_torchs(shape):
    torch_fans = torch.nn.init._calculate_fan_in_and_fan_out
    assert outcome(fan_in_and_fan_out, shape) == outcome(torch_fans, torch.empty(shape))


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "FAN_OUT", "Fan_In", "fan_avg", "x"])
def test_correct_fan_is_torchs(shape, mode):
    torch_fan = torch.nn.init._calculate_correct_fan
    assert outcome(correct_fan, shape, mode) == outcome(torch_fan, torch.empty(shape), mode)


def test_torch_layout_is_out_in_receptive_field():
    assert fan_in_and_fan_out((32, 16, 3, 3)) == (16 * 9, 32 * 9)


# --- JAX-layout fans -----------------------------------------------------------------

@pytest.mark.parametrize("shape, axes, fans", [
    ((3, 5), {}, (3, 5)),
    ((3, 3, 16, 32), {}, (16 * 9, 32 * 9)),                      # HWIO conv kernel
    ((32, 16, 3, 3), {"in_axis": 1, "out_axis": 0}, (16 * 9, 32 * 9)),  # torch's OIHW
    ((4, 5, 6), {"in_axis": (0, 1)}, (20, 6)),                   # several input axes
    ((4, 5, 6, 7), {"in_axis": [0, 1], "out_axis": (2, 3)}, (20, 42)),
    ((8, 3, 5), {"batch_axis": 0}, (3, 5)),                      # batch axes are no fan
    ((8, 2, 3, 5), {"batch_axis": (0,)}, (2 * 3, 2 * 5)),
    ((3, 5, 8), {"in_axis": 0, "out_axis": 1, "batch_axis": -1}, (3, 5)),
    ((5, 3), {"in_axis": -1, "out_axis": -2}, (3, 5)),
    ((0, 5), {}, (0, 5)),
    ((2, 0, 5), {}, (0, 10)),
    ((3, 5), {"in_axis": np.int64(0)}, (3, 5)),
])
def test_jax_fans(shape, axes, fans):
    assert jax_fans(shape, **axes) == fans


@pytest.mark.parametrize("shape", [(), (7,)])
def test_jax_fans_need_two_dimensions(shape):
    """JAX raised a bare IndexError for a 1-D shape; here it is a ValueError that says why."""
    with pytest.raises(ValueError, match=f"{len(shape)}-dimensional .* at least 2D"):
        jax_fans(shape)


@pytest.mark.parametrize("axes, error, match", [
    ({"in_axis": 2}, ValueError, "in_axis=2 is out of range"),
    ({"out_axis": -3}, ValueError, "out_axis=-3 is out of range"),
    ({"batch_axis": (0, 5)}, ValueError, "batch_axis"),
    ({"in_axis": 0, "out_axis": -2}, ValueError, "distinct axes"),
    ({"in_axis": 0, "out_axis": 1, "batch_axis": 0}, ValueError, "distinct axes"),
    ({"in_axis": 0.0}, TypeError, "in_axis must be an int"),
    ({"out_axis": True}, TypeError, "out_axis must be an int"),
])
def test_jax_fans_reject_bad_axes(axes, error, match):
    with pytest.raises(error, match=match):
        jax_fans((3, 5), **axes)


# --- the variance-scaling rule -------------------------------------------------------

def test_truncated_normal_constant_is_the_std_of_a_unit_normal_truncated_to_2():
    assert TRUNCATED_NORMAL_STD == pytest.approx(scipy.stats.truncnorm(-2, 2).std(), rel=1e-15)


@pytest.mark.parametrize("mode, n", [("fan_in", 30), ("fan_out", 50), ("fan_avg", 40)])
def test_variance_scaling_rules(mode, n):
    variance = 2.0 / n
    std = math.sqrt(variance) / TRUNCATED_NORMAL_STD
    assert variance_scaling_dist(2.0, mode, "truncated_normal", 30, 50) == \
        TruncatedNormal(0.0, std, -2 * std, 2 * std)
    assert variance_scaling_dist(2.0, mode, "normal", 30, 50) == Normal(0.0, math.sqrt(variance))
    limit = math.sqrt(3 * variance)
    assert variance_scaling_dist(2.0, mode, "uniform", 30, 50) == Uniform(-limit, limit)


@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_every_variance_scaling_distribution_has_the_variance_it_names(distribution):
    dist = variance_scaling_dist(3.0, "fan_in", distribution, 12, 7)
    frozen = {
        TruncatedNormal: lambda d: scipy.stats.truncnorm(d.a / d.std, d.b / d.std, 0, d.std),
        Normal: lambda d: scipy.stats.norm(d.mean, d.std),
        Uniform: lambda d: scipy.stats.uniform(d.low, d.high - d.low),
    }[type(dist)](dist)
    assert frozen.var() == pytest.approx(3.0 / 12, rel=1e-12)


@pytest.mark.parametrize("args, match", [
    ((1.0, "fan_sum", "normal"), "invalid mode for variance scaling initializer: fan_sum"),
    ((1.0, "FAN_IN", "normal"), "invalid mode"),
    ((1.0, "fan_in", "gaussian"), "invalid distribution for variance scaling initializer"),
    ((0.0, "fan_in", "normal"), "scale must be positive"),
    ((-1.0, "fan_in", "normal"), "scale must be positive"),
    ((float("nan"), "fan_in", "normal"), "scale must be positive"),
])
def test_variance_scaling_rejects_bad_schemes(args, match):
    with pytest.raises(ValueError, match=match):
        variance_scaling_dist(*args, 3, 5)
