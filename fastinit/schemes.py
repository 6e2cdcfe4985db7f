"""Schemes: fans, gains, and the rule that turns a variance-scaling scheme into a distribution.

Two layouts name the fans of a weight shape:

- torch's (``fan_in_and_fan_out``): dim 0 is the output, dim 1 the input, the rest the
  receptive field, as ``torch.nn.init`` computes them;
- JAX's (``jax_fans``): ``in_axis``, ``out_axis`` and ``batch_axis`` name the axes, the
  receptive field is the product of the other axes, as ``jax.nn.initializers`` does.

A variance-scaling scheme is the data ``(scale, mode, distribution)``;
``variance_scaling_dist`` turns it and the fans into the ``Normal``, ``Uniform`` or
``TruncatedNormal`` to draw, by JAX's rule.

The named schemes of ``torch.nn.init`` are data too: ``XavierUniform(gain)``,
``KaimingNormal(a, mode, nonlinearity)``, ... each with ``distribution(shape)``, the
distribution a weight of that shape draws from; ``Constant(value)`` fills a value.
``fastinit.init`` and ``fastinit.torch`` draw through them.
"""

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

from .distributions import Normal, ParameterError, TruncatedNormal, Uniform

# Standard deviation of a unit normal truncated to [-2, 2] (JAX's constant).
TRUNCATED_NORMAL_STD = 0.87962566103423978

VARIANCE_SCALING_MODES = ("fan_in", "fan_out", "fan_avg")
VARIANCE_SCALING_DISTRIBUTIONS = ("truncated_normal", "normal", "uniform")


def calculate_gain(nonlinearity, param=None):
    r"""The recommended gain for ``nonlinearity``, exactly as ``torch.nn.init.calculate_gain``.

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    ``param`` is leaky_relu's negative slope (default 0.01); it must be an int (not a
    bool) or a float. Anything else, or an unknown nonlinearity, is a ValueError.

    Examples:
        >>> calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d",
                  "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, int) or isinstance(param, float):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # found empirically (pytorch/pytorch#50664)
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def fan_in_and_fan_out(shape):
    """(fan_in, fan_out) of a weight ``shape`` in torch's layout (out, in, *receptive field)."""
    if len(shape) < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field_size = math.prod(shape[2:])
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def correct_fan(shape, mode):
    """fan_in or fan_out of ``shape`` (torch's layout), as ``mode`` (case-insensitive) says."""
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _axes(name, axis, ndim):
    """``axis`` (an int or a sequence of ints) as a tuple of non-negative axes of ``ndim``."""
    axes = tuple(axis) if isinstance(axis, Sequence) else (axis,)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral):
            raise TypeError(f"{name} must be an int or a sequence of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}={axis!r} is out of range for a {ndim}-dimensional shape")
    return tuple(int(a) % ndim for a in axes)


def jax_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of ``shape`` in JAX's layout.

    fan_in is the size of ``in_axis`` times the receptive field, fan_out the size of
    ``out_axis`` times the receptive field; the receptive field is the product of the
    axes that are neither in, out nor batch axes. Each axis argument is an int or a
    sequence of ints (their sizes multiply). Shapes of fewer than 2 dimensions and
    out-of-range or overlapping axes are ValueErrors.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"Can't compute input and output sizes of a {len(shape)}-dimensional "
                         "weights tensor. Must be at least 2D.")
    ins = _axes("in_axis", in_axis, len(shape))
    outs = _axes("out_axis", out_axis, len(shape))
    batches = _axes("batch_axis", batch_axis, len(shape))
    named = ins + outs + batches
    if len(set(named)) != len(named):
        raise ValueError(f"in_axis={in_axis!r}, out_axis={out_axis!r} and "
                         f"batch_axis={batch_axis!r} must name distinct axes")
    receptive_field_size = math.prod(n for i, n in enumerate(shape) if i not in named)
    in_size = math.prod(shape[i] for i in ins)
    out_size = math.prod(shape[i] for i in outs)
    return in_size * receptive_field_size, out_size * receptive_field_size


def check_variance_scaling(scale, mode, distribution):
    """ValueError unless (scale, mode, distribution) is a valid variance-scaling scheme."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    if mode not in VARIANCE_SCALING_MODES:
        raise ValueError(f"invalid mode for variance scaling initializer: {mode}")
    if distribution not in VARIANCE_SCALING_DISTRIBUTIONS:
        raise ValueError(f"invalid distribution for variance scaling initializer: {distribution}")


def variance_scaling_dist(scale, mode, distribution, fan_in, fan_out):
    """The distribution JAX's ``variance_scaling(scale, mode, distribution)`` draws from.

    variance = scale / n, n being fan_in, fan_out or their mean as ``mode`` says, and

    - "truncated_normal": a normal truncated to +-2 of its own std units, whose std
      after truncation is sqrt(variance): std = sqrt(variance) / TRUNCATED_NORMAL_STD;
    - "normal": Normal(0, sqrt(variance));
    - "uniform": Uniform(-limit, limit) with limit = sqrt(3 * variance).
    """
    check_variance_scaling(scale, mode, distribution)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    variance = scale / n
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / TRUNCATED_NORMAL_STD
        return TruncatedNormal(0.0, std, -2.0 * std, 2.0 * std)
    if distribution == "normal":
        return Normal(0.0, math.sqrt(variance))
    limit = math.sqrt(3.0 * variance)
    return Uniform(-limit, limit)


# --- torch.nn.init's named schemes, as data ------------------------------------------


def _xavier_std(shape, gain):
    """gain * sqrt(2 / (fan_in + fan_out)), in torch's order of checks (fans, then a
    ParameterError unless ``gain >= 0``, which torch's uniform_/normal_ reject)."""
    fan_in, fan_out = fan_in_and_fan_out(shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    if not gain >= 0:
        raise ParameterError(f"gain must be >= 0, got {gain}")
    return std


@dataclass(frozen=True)
class XavierUniform:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""

    gain: float = 1.0

    def distribution(self, shape):
        a = math.sqrt(3.0) * _xavier_std(shape, self.gain)
        return Uniform(-a, a)


@dataclass(frozen=True)
class XavierNormal:
    """Glorot & Bengio (2010): N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""

    gain: float = 1.0

    def distribution(self, shape):
        return Normal(0.0, _xavier_std(shape, self.gain))


def _kaiming_std(shape, a, mode, nonlinearity):
    fan = correct_fan(shape, mode)  # torch's order: a bad shape or mode before a bad gain
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@dataclass(frozen=True)
class KaimingUniform:
    """He et al. (2015): U(-bound, bound), bound = gain * sqrt(3 / fan_mode)."""

    a: float = 0
    mode: str = "fan_in"
    nonlinearity: str = "leaky_relu"

    def distribution(self, shape):
        bound = math.sqrt(3.0) * _kaiming_std(shape, self.a, self.mode, self.nonlinearity)
        return Uniform(-bound, bound)


@dataclass(frozen=True)
class KaimingNormal:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan_mode)."""

    a: float = 0
    mode: str = "fan_in"
    nonlinearity: str = "leaky_relu"

    def distribution(self, shape):
        return Normal(0, _kaiming_std(shape, self.a, self.mode, self.nonlinearity))


@dataclass(frozen=True)
class VarianceScaling:
    """JAX's ``variance_scaling``, fans from JAX's layout (``jax_fans``)."""

    scale: float = 1.0
    mode: str = "fan_in"
    distribution_name: str = "truncated_normal"
    in_axis: object = -2
    out_axis: object = -1
    batch_axis: object = ()

    def __post_init__(self):
        check_variance_scaling(self.scale, self.mode, self.distribution_name)

    def distribution(self, shape):
        fan_in, fan_out = jax_fans(shape, self.in_axis, self.out_axis, self.batch_axis)
        return variance_scaling_dist(self.scale, self.mode, self.distribution_name, fan_in,
                                     fan_out)


@dataclass(frozen=True)
class Constant:
    """Every element ``value`` (rounded to the dtype as ``torch.nn.init.constant_`` does)."""

    value: float = 0.0


ZEROS = Constant(0.0)
ONES = Constant(1.0)
