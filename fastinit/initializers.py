"""``jax.nn.initializers``, drawn from fastinit's Philox stream.

Each factory returns ``init(shape, dtype=None, *, seed=None, generator=None, out=None,
backend=None)``, which returns a new numpy array of ``shape`` (of ``dtype``, else the
factory's dtype), or fills ``out`` (a numpy array, a torch tensor on the CPU or a CUDA
device, a CuPy array, ...: whatever ``Generator.fill`` takes) of that shape in place and
returns it. Randomness comes from ``generator`` (a fastinit ``Generator``, or a
``torch.Generator`` that keys a fresh one with one draw), a fresh ``Generator(seed)``,
or the default generator, in place of JAX's ``key``; ``backend`` picks what fills, as in
``fastinit.init``. Shapes with no elements give empty arrays.

Every named scheme is one line over ``variance_scaling(scale, mode, distribution)``;
fans are JAX's (``in_axis=-2``, ``out_axis=-1``: ``shape = (..., in, out)``, the
transpose of torch's layout).

Naming trap: ``glorot_normal`` (= ``xavier_normal``), ``he_normal`` (= ``kaiming_normal``)
and ``lecun_normal`` draw a *truncated* normal (at +-2 std units, rescaled so the std
is still sqrt(scale / fan)), as in JAX; torch's ``xavier_normal_`` and
``kaiming_normal_`` (``fastinit.init``) draw a plain normal.
"""

import math
import operator

import numpy as np

from . import arrays
from .distributions import Normal, TruncatedNormal, Uniform
from .generator import dtype_name_of, numpy_dtype, resolve
from .init import _fill, _float64_like, _write, constant_, orthogonal_
from .schemes import VarianceScaling

__all__ = [
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]


def _initializer(write, default_dtype=np.float32):
    """An init function whose destination ``write(out, gen, backend)`` fills."""

    def init(shape, dtype=None, *, seed=None, generator=None, out=None, backend=None):
        gen = resolve(generator, seed)
        shape = tuple(operator.index(n) for n in shape)
        if out is None:
            out = np.empty(shape, numpy_dtype(dtype_name_of(default_dtype if dtype is None
                                                           else dtype)))
        elif dtype is not None:
            raise ValueError("pass dtype or out, not both: out's dtype is used")
        elif arrays.shape_of(out) != shape:
            raise ValueError(f"shape {shape} does not match out's shape {arrays.shape_of(out)}")
        if math.prod(shape):
            write(out, gen, backend)
        return out

    return init


def _drawing(dist_for, dtype):
    """An init function that fills its destination with ``dist_for(shape)``."""
    def write(out, gen, backend):
        _fill(out, dist_for(arrays.shape_of(out)), gen, backend)

    return _initializer(write, dtype)


def variance_scaling(scale, mode, distribution, in_axis=-2, out_axis=-1, batch_axis=(),
                     dtype=np.float32):
    r"""Initializer scaling its variance to the shape of the weights.

    With ``n`` the fan-in, fan-out or their mean (``mode`` = "fan_in", "fan_out",
    "fan_avg"), the values have variance ``scale / n``:

    .. math::
        \text{Var}(W) = \frac{\text{scale}}{n}

    - "truncated_normal": a normal truncated at +-2 of its own std units, with its std
      raised by 1/0.87962566103423978 so that the truncated values have that variance;
    - "normal": a plain normal;
    - "uniform": uniform on [-limit, limit) with ``limit = sqrt(3 * scale / n)``.

    Fans come from ``in_axis``, ``out_axis`` (ints or sequences of ints) and
    ``batch_axis``; every other axis is receptive field (see ``schemes.jax_fans``).
    ``scale`` must be positive; a bad ``mode`` or ``distribution`` is a ValueError at
    once (JAX raises when the initializer is called).

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
        >>> w = init((256, 512), seed=0)
    """
    scheme = VarianceScaling(scale, mode, distribution, in_axis, out_axis, batch_axis)
    return _drawing(scheme.distribution, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""Glorot normal initializer: a *truncated* normal scaled by the average fan.

    The method is described in `Understanding the difficulty of training deep
    feedforward neural networks` - Glorot, X. & Bengio, Y. (2010). The values follow a
    normal truncated at two of its standard deviations, rescaled so that their variance is

    .. math::
        \text{Var}(W) = \frac{2}{\text{fan\_in} + \text{fan\_out}}

    Also known as Xavier normal (``xavier_normal``). A truncated normal, as in JAX:
    torch's ``xavier_normal_`` (``fastinit.init``) is a plain normal.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.glorot_normal()
        >>> w = init((256, 512), seed=0)
    """
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis, batch_axis,
                            dtype)


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""Glorot uniform initializer: uniform on :math:`[-a, a)`, scaled by the average fan.

    The method is described in `Understanding the difficulty of training deep
    feedforward neural networks` - Glorot, X. & Bengio, Y. (2010), with

    .. math::
        a = \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    Also known as Xavier uniform (``xavier_uniform``); torch's ``xavier_uniform_`` with
    the same fans.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.glorot_uniform()
        >>> w = init((256, 512), seed=0)
    """
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""He normal initializer: a *truncated* normal scaled for rectifiers.

    The method is described in `Delving deep into rectifiers: Surpassing human-level
    performance on ImageNet classification` - He, K. et al. (2015). The values follow a
    normal truncated at two of its standard deviations, rescaled so that their variance is

    .. math::
        \text{Var}(W) = \frac{2}{\text{fan\_in}}

    Also known as Kaiming normal (``kaiming_normal``) or MSRA. A truncated normal, as in
    JAX: torch's ``kaiming_normal_`` (``fastinit.init``) is a plain normal.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.he_normal()
        >>> w = init((3, 3, 64, 128), seed=0)
    """
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""He uniform initializer: uniform on :math:`[-a, a)`, scaled for rectifiers.

    The method is described in `Delving deep into rectifiers: Surpassing human-level
    performance on ImageNet classification` - He, K. et al. (2015), with

    .. math::
        a = \sqrt{\frac{6}{\text{fan\_in}}}

    Also known as Kaiming uniform (``kaiming_uniform``) or MSRA; torch's
    ``kaiming_uniform_(nonlinearity="relu")`` with the same fans.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.he_uniform()
        >>> w = init((3, 3, 64, 128), seed=0)
    """
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""LeCun normal initializer: a *truncated* normal scaled by the fan-in.

    The method is described in `Efficient BackProp` - LeCun, Y. et al. (1998), and is
    the initialization of self-normalizing (SELU) networks (Klambauer, G. et al.,
    2017). The values follow a normal truncated at two of its standard deviations,
    rescaled so that their variance is

    .. math::
        \text{Var}(W) = \frac{1}{\text{fan\_in}}

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.lecun_normal()
        >>> w = init((256, 512), seed=0)
    """
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis, batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(), dtype=np.float32):
    r"""LeCun uniform initializer: uniform on :math:`[-a, a)` scaled by the fan-in.

    The method is described in `Efficient BackProp` - LeCun, Y. et al. (1998), with

    .. math::
        a = \sqrt{\frac{3}{\text{fan\_in}}}

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.lecun_uniform()
        >>> w = init((256, 512), seed=0)
    """
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform


def truncated_normal(stddev=1e-2, dtype=np.float32, lower=-2.0, upper=2.0):
    """Normal(0, stddev) truncated to [lower * stddev, upper * stddev], as in JAX.

    ``stddev`` is the std *before* truncation: the values' std is smaller (by
    0.8796 for the default bounds).
    """
    return _drawing(lambda shape: TruncatedNormal(0.0, stddev, lower * stddev, upper * stddev),
                    dtype)


def normal(stddev=1e-2, dtype=np.float32):
    """Normal(0, stddev)."""
    return _drawing(lambda shape: Normal(0.0, stddev), dtype)


def uniform(scale=1e-2, dtype=np.float32):
    """Uniform on [0, scale), as in JAX (not centred)."""
    return _drawing(lambda shape: Uniform(0.0, scale), dtype)


def constant(value, dtype=np.float32):
    """Every element ``value``."""
    return _initializer(lambda out, gen, backend: constant_(out, value), dtype)


zeros = constant(0.0)
zeros.__doc__ = "Initializer of zeros: ``zeros(shape, dtype=None, *, out=None)``."
ones = constant(1.0)
ones.__doc__ = "Initializer of ones: ``ones(shape, dtype=None, *, out=None)``."


def orthogonal(scale=1.0, column_axis=-1, dtype=np.float32):
    r"""Uniformly random (semi) orthogonal matrix, times ``scale``, as in JAX.

    The axis ``column_axis`` holds the columns and all other axes, flattened, the
    rows: the resulting matrix :math:`W` has orthonormal columns (tall) or rows
    (wide), times ``scale``. Shapes of fewer than 2 dimensions are a ValueError.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.orthogonal(scale=1.0)
        >>> w = init((64, 32), seed=0)
    """

    def write(out, gen, backend):
        shape = arrays.shape_of(out)
        if len(shape) < 2:
            raise ValueError("orthogonal initializer requires at least a 2D shape")
        n_cols = shape[column_axis]
        rows_shape = shape[:column_axis % len(shape)] + shape[column_axis % len(shape) + 1:]
        xp, matrix = _float64_like(out, (math.prod(rows_shape), n_cols))
        q = orthogonal_(matrix, scale, gen, backend=backend)
        _write(out, xp.moveaxis(q.reshape(rows_shape + (n_cols,)), -1, column_axis))

    return _initializer(write, dtype)


def delta_orthogonal(scale=1.0, column_axis=-1, dtype=np.float32):
    r"""Delta orthogonal kernel for convolutions (Xiao et al., 2018), as in JAX.

    For a 3-D, 4-D or 5-D shape ``(*spatial, in, out)`` with ``in <= out``, every
    spatial position is zero except the centre (index ``(k - 1) // 2`` per spatial
    axis), which holds ``orthogonal(scale, column_axis)`` of shape ``(in, out)``.

    Examples:
        >>> from fastinit import initializers
        >>> init = initializers.delta_orthogonal()
        >>> w = init((3, 3, 16, 32), seed=0)
    """
    matrix = orthogonal(scale, column_axis, np.float64)

    def write(out, gen, backend):
        shape = arrays.shape_of(out)
        if len(shape) not in (3, 4, 5):
            raise ValueError("Delta orthogonal initializer requires a 3D, 4D or 5D shape.")
        if shape[-1] < shape[-2]:
            raise ValueError("`fan_in` must be less or equal than `fan_out`. ")
        _, kernel = _float64_like(out, shape)
        kernel[...] = 0
        matrix(shape[-2:], generator=gen, backend=backend,
               out=kernel[tuple((k - 1) // 2 for k in shape[:-2])])
        _write(out, kernel)

    return _initializer(write, dtype)
