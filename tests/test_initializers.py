"""fastinit.initializers is jax.nn.initializers, drawn from the Philox stream."""

import math

import ml_dtypes
import numpy as np
import pytest
import scipy.stats
import torch

from fastinit import Generator, Normal, TruncatedNormal, Uniform
from fastinit import initializers as I
from fastinit.schemes import TRUNCATED_NORMAL_STD, jax_fans, variance_scaling_dist

from conftest import poisoned, poisoned_tensor

# JAX's definitions: name -> (scale, mode, distribution) of variance_scaling.
NAMED = {
    "glorot_normal": (1.0, "fan_avg", "truncated_normal"),
    "glorot_uniform": (1.0, "fan_avg", "uniform"),
    "he_normal": (2.0, "fan_in", "truncated_normal"),
    "he_uniform": (2.0, "fan_in", "uniform"),
    "lecun_normal": (1.0, "fan_in", "truncated_normal"),
    "lecun_uniform": (1.0, "fan_in", "uniform"),
}
ALIASES = {"xavier_normal": "glorot_normal", "xavier_uniform": "glorot_uniform",
           "kaiming_normal": "he_normal", "kaiming_uniform": "he_uniform"}


def recorded_draws(monkeypatch, call):
    draws = []
    fill = Generator.fill

    def record_fill(self, out, dist, **where):
        draws.append(dist)
        return fill(self, out, dist, **where)

    monkeypatch.setattr(Generator, "fill", record_fill)
    call()
    return draws


@pytest.mark.parametrize("name", NAMED)
@pytest.mark.parametrize("shape, axes", [
    ((20, 30), {}),
    ((3, 3, 16, 32), {}),
    ((32, 16, 3, 3), {"in_axis": 1, "out_axis": 0}),
    ((4, 5, 6), {"in_axis": (0, 1)}),
    ((8, 3, 5), {"batch_axis": 0}),
])
def test_each_named_initializer_is_jaxs_variance_scaling(monkeypatch, name, shape, axes):
    scale, mode, distribution = NAMED[name]
    draws = recorded_draws(monkeypatch, lambda: getattr(I, name)(**axes)(shape, seed=0))
    assert draws == [variance_scaling_dist(scale, mode, distribution, *jax_fans(shape, **axes))]


def test_aliases_are_the_same_functions():
    for alias, name in ALIASES.items():
        assert getattr(I, alias) is getattr(I, name)


def test_the_normal_ones_are_truncated_unlike_torchs():
    """The naming trap: JAX's glorot_normal truncates at 2 std units; torch's does not."""
    w = I.glorot_normal()((200, 300), seed=1)
    std = math.sqrt(1.0 / 250) / TRUNCATED_NORMAL_STD
    assert np.abs(w).max() <= 2 * std


@pytest.mark.parametrize("name", [*NAMED, *ALIASES])
def test_named_initializers_have_the_variance_they_define(name):
    scale, mode, distribution = NAMED[ALIASES.get(name, name)]
    shape = (200, 300)
    n = {"fan_in": 200, "fan_out": 300, "fan_avg": 250}[mode]
    w = getattr(I, name)()(shape, np.float64, seed=2)
    assert w.shape == shape and w.dtype == np.float64
    assert w.mean() == pytest.approx(0.0, abs=0.02 * math.sqrt(scale / n))
    assert w.var() == pytest.approx(scale / n, rel=0.03)  # sampling error: about 0.6%
    if distribution == "uniform":
        assert np.abs(w).max() < math.sqrt(3 * scale / n)
    else:
        assert np.abs(w).max() <= 2 * math.sqrt(scale / n) / TRUNCATED_NORMAL_STD


def test_axes_select_the_fans():
    w = I.he_uniform(in_axis=1, out_axis=0)((64, 16, 3, 3), seed=3)
    assert np.abs(w).max() < math.sqrt(6 / (16 * 9))
    assert np.abs(w).max() > 0.9 * math.sqrt(6 / (16 * 9))


@pytest.mark.parametrize("args, match", [
    ((1.0, "fan_sum", "normal"), "invalid mode"),
    ((1.0, "fan_in", "gaussian"), "invalid distribution"),
    ((0.0, "fan_in", "normal"), "scale must be positive"),
])
def test_variance_scaling_rejects_bad_schemes_when_built(args, match):
    with pytest.raises(ValueError, match=match):
        I.variance_scaling(*args)


@pytest.mark.parametrize("shape", [(), (10,)])
def test_variance_scaling_needs_two_dimensions(shape):
    with pytest.raises(ValueError, match="Must be at least 2D"):
        I.lecun_normal()(shape, seed=0)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (3, 0, 4)])
def test_shapes_without_elements_give_empty_arrays(shape):
    for make in (I.he_normal(), I.glorot_uniform(), I.orthogonal(), I.normal(), I.zeros):
        assert make(shape, seed=0).shape == shape


# --- the init function: dtypes, out, seeds ---------------------------------------------

def test_dtype_comes_from_the_call_else_the_factory():
    assert I.he_normal()((4, 5), seed=0).dtype == np.float32
    assert I.he_normal(dtype=np.float64)((4, 5), seed=0).dtype == np.float64
    assert I.he_normal()((4, 5), ml_dtypes.bfloat16, seed=0).dtype == ml_dtypes.bfloat16
    assert I.he_normal()((4, 5), "float16", seed=0).dtype == np.float16


@pytest.mark.parametrize("make", [I.glorot_uniform(), I.he_normal(), I.orthogonal(),
                                  I.truncated_normal(0.1), I.constant(0.1)],
                         ids=["glorot_uniform", "he_normal", "orthogonal", "truncated_normal",
                              "constant"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_out_fills_numpy_arrays_and_torch_tensors_with_the_same_bits(make, dtype, bits):
    new = make((6, 10), {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16}[dtype], seed=4)
    array = poisoned((6, 10), new.dtype)
    assert make((6, 10), seed=4, out=array) is array
    np.testing.assert_array_equal(bits(array), bits(new))
    tensor = poisoned_tensor((6, 10), getattr(torch, dtype))
    assert make((6, 10), seed=4, out=tensor) is tensor
    as_int = {"float32": torch.int32, "bfloat16": torch.int16}[dtype]
    np.testing.assert_array_equal(bits(tensor.view(as_int).numpy()), bits(new))


def test_a_generator_moves_on_between_calls():
    gen = Generator(5)
    first, second = I.he_normal()((4, 5), generator=gen), I.he_normal()((4, 5), generator=gen)
    np.testing.assert_array_equal(first, I.he_normal()((4, 5), seed=5))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("kwargs, match", [
    ({"out": np.full((5, 4), 7.0, np.float32)}, "does not match out's shape"),
    ({"out": np.full((4, 5), 7.0, np.float32), "dtype": np.float32}, "dtype or out"),
    ({"out": np.full((4, 5), 7.0, np.float32), "generator": Generator(0)}, "seed or generator"),
])
def test_bad_calls_raise_and_leave_out_untouched(kwargs, match):
    with pytest.raises(ValueError, match=match):
        I.he_normal()((4, 5), seed=1, **kwargs)
    assert (kwargs["out"] == 7.0).all()


def test_a_one_dimensional_out_is_left_untouched():
    out = np.full(6, 7.0, np.float32)
    with pytest.raises(ValueError, match="at least 2D"):
        I.glorot_normal()((6,), seed=0, out=out)
    assert (out == 7.0).all()


# --- the simple ones -------------------------------------------------------------------

def test_truncated_normal_truncates_in_units_of_stddev_and_does_not_rescale():
    w = I.truncated_normal(0.5, lower=-1.0, upper=3.0)((300, 200), np.float64, seed=6)
    assert -0.5 <= w.min() and w.max() <= 1.5
    expected = scipy.stats.truncnorm(-1.0, 3.0, 0.0, 0.5)
    assert w.std() == pytest.approx(expected.std(), rel=0.03)
    assert scipy.stats.kstest(w.ravel(), expected.cdf).pvalue > 1e-4


def test_normal_and_uniform(monkeypatch):
    draws = recorded_draws(monkeypatch, lambda: (I.normal(0.3)((5, 5), seed=0),
                                                 I.uniform(0.3)((5, 5), seed=0),
                                                 I.truncated_normal()((5, 5), seed=0)))
    assert draws == [Normal(0.0, 0.3), Uniform(0.0, 0.3), TruncatedNormal(0.0, 1e-2, -2e-2, 2e-2)]


def test_constants():
    assert (I.zeros((2, 3)) == 0).all() and I.zeros((2, 3)).dtype == np.float32
    assert (I.ones((2, 3), np.float16) == 1).all()
    assert (I.constant(-0.5, dtype=np.float64)((4,)) == -0.5).all()
    tensor = torch.empty(3, 2, dtype=torch.bfloat16)
    assert (I.constant(2.0)((3, 2), out=tensor) == 2.0).all()


# --- orthogonal and delta_orthogonal ---------------------------------------------------

@pytest.mark.parametrize("shape, column_axis", [((64, 32), -1), ((32, 64), -1), ((6, 6), -1),
                                                ((3, 4, 5), -1), ((3, 4, 5), 0), ((3, 4, 5), 1),
                                                ((2, 3, 3, 16), -1)])
@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_orthogonal_columns_or_rows_are_orthonormal_times_scale(shape, column_axis, scale):
    w = I.orthogonal(scale, column_axis)(shape, np.float64, seed=7)
    matrix = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis])
    gram = matrix.T @ matrix if matrix.shape[0] >= matrix.shape[1] else matrix @ matrix.T
    np.testing.assert_allclose(gram, scale**2 * np.eye(len(gram)), atol=1e-12)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_orthogonal_needs_two_dimensions(shape):
    with pytest.raises(ValueError, match="orthogonal initializer requires at least a 2D shape"):
        I.orthogonal()(shape, seed=0)


@pytest.mark.parametrize("shape", [(3, 16, 32), (3, 5, 16, 16), (3, 3, 3, 4, 8), (1, 4, 4)])
def test_delta_orthogonal_is_an_orthogonal_matrix_at_the_centre_only(shape):
    w = I.delta_orthogonal(scale=1.5)(shape, np.float64, seed=8)
    centre = tuple((k - 1) // 2 for k in shape[:-2])
    matrix = w[centre]
    np.testing.assert_allclose(matrix @ matrix.T, 1.5**2 * np.eye(shape[-2]), atol=1e-12)
    w[centre] = 0
    assert (w == 0).all()


@pytest.mark.parametrize("shape, match", [
    ((16, 32), "requires a 3D, 4D or 5D shape"),
    ((1, 1, 1, 1, 4, 8), "requires a 3D, 4D or 5D shape"),
    ((3, 3, 32, 16), "`fan_in` must be less or equal than `fan_out`"),
])
def test_delta_orthogonal_rejects_bad_shapes(shape, match):
    with pytest.raises(ValueError, match=match):
        I.delta_orthogonal()(shape, seed=0)
