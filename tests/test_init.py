"""fastinit.init is torch.nn.init, drawn from the Philox stream.

One table drives every function against torch: for each (function, arguments, shape)
both raise the same exception with the same message, or both warn alike and draw the
same distribution (recorded at torch's ``Tensor.uniform_``/``normal_``/trunc-normal
helper and at fastinit's ``Generator.fill``), and the deterministic ones write the same
values.
"""

import inspect
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import scipy.stats
import torch

from fastinit import Generator, Normal, Raw, TruncatedNormal, Uniform, init, schemes

NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32,
         "float64": np.float64}
TORCH = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
         "float64": torch.float64}


def storage(x):
    """A numpy array holding the bits of ``x``, a numpy array or a torch tensor of any dtype."""
    if isinstance(x, torch.Tensor):
        return x.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[x.element_size()]).numpy()
    return x


# --- the table -----------------------------------------------------------------------

SHAPES = [(), (5,), (0,), (1, 1), (3, 5), (5, 3), (1, 7), (7, 1), (4, 4), (0, 5), (5, 0),
          (0, 0), (6, 3, 5), (4, 2, 0), (6, 2, 3, 3), (2, 4, 3, 3), (3, 0, 3, 3),
          (3, 2, 2, 3, 3), (4, 4, 1, 1, 1), (2, 2, 2, 2, 2, 2), (1, 9, 2)]

CASES = [
    ("uniform_", {}),
    ("uniform_", {"a": -0.5, "b": 2.0}),
    ("normal_", {}),
    ("normal_", {"mean": 1.0, "std": 0.02}),
    ("trunc_normal_", {}),
    ("trunc_normal_", {"mean": 0.1, "std": 0.5, "a": -0.3, "b": 0.9}),
    ("constant_", {"val": 0.3}),
    ("ones_", {}),
    ("zeros_", {}),
    ("eye_", {}),
    ("dirac_", {}),
    ("dirac_", {"groups": 2}),
    ("dirac_", {"groups": 3}),
    ("xavier_uniform_", {}),
    ("xavier_uniform_", {"gain": math.sqrt(2.0)}),
    ("xavier_normal_", {}),
    ("xavier_normal_", {"gain": 0.5}),
    ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),  # what torch.nn.Linear uses
    ("kaiming_uniform_", {"a": 0.2, "mode": "fan_out"}),
    ("kaiming_uniform_", {"mode": "FAN_OUT", "nonlinearity": "relu"}),
    ("kaiming_uniform_", {"mode": "fan_avg"}),
    ("kaiming_uniform_", {"nonlinearity": "swish"}),
    ("kaiming_uniform_", {"a": True}),
    ("kaiming_normal_", {}),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "selu"}),
    ("kaiming_normal_", {"nonlinearity": "tanh", "a": "ignored"}),
    ("orthogonal_", {}),
    ("orthogonal_", {"gain": 2.0}),
    ("sparse_", {"sparsity": 0.1}),
    ("sparse_", {"sparsity": 0.5, "std": 0.3}),
]
DETERMINISTIC = {"constant_", "ones_", "zeros_", "eye_", "dirac_"}


def run(call, tensor, calls, deterministic):
    """What a call did: ("raises", type, message), or ("returns", draws, warnings, values)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call(tensor)
        except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
            return ("raises", type(e), str(e))
    assert result is tensor
    messages = [str(w.message) for w in caught if w.category is UserWarning]
    return ("returns", calls, messages, tensor.tolist() if deterministic else None)


def torch_outcome(monkeypatch, name, kwargs, shape):
    calls = []
    uniform_, normal_ = torch.Tensor.uniform_, torch.Tensor.normal_

    def record_uniform(self, a=0.0, b=1.0, generator=None):
        calls.append((Uniform(a, b), tuple(self.shape)))
        return uniform_(self, a, b, generator=generator)

    def record_normal(self, mean=0.0, std=1.0, generator=None):
        calls.append((Normal(mean, std), tuple(self.shape)))
        return normal_(self, mean, std, generator=generator)

    def record_trunc_normal(tensor, mean, std, a, b, generator=None):
        calls.append((TruncatedNormal(mean, std, a, b), tuple(tensor.shape)))
        return tensor

    with monkeypatch.context() as m:
        m.setattr(torch.Tensor, "uniform_", record_uniform)
        m.setattr(torch.Tensor, "normal_", record_normal)
        m.setattr(torch.nn.init, "_no_grad_trunc_normal_", record_trunc_normal)
        call = getattr(torch.nn.init, name)
        return run(lambda t: call(t, **kwargs), torch.full(shape, 7.0), calls,
                   name in DETERMINISTIC)


def fastinit_outcome(monkeypatch, name, kwargs, tensor):
    calls = []
    fill = Generator.fill

    def record_fill(self, out, dist, **where):
        if not isinstance(dist, Raw):  # sparse_'s row choice: fastinit's own, by design
            calls.append((dist, tuple(out.shape)))
        return fill(self, out, dist, **where)

    with monkeypatch.context() as m:
        m.setattr(Generator, "fill", record_fill)
        call = getattr(init, name)
        seed = {} if name in DETERMINISTIC else {"seed": 0}
        return run(lambda t: call(t, **kwargs, **seed), tensor, calls, name in DETERMINISTIC)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}{k}" for n, k in CASES])
def test_every_function_does_what_torch_does(monkeypatch, name, kwargs, shape):
    expected = torch_outcome(monkeypatch, name, kwargs, shape)
    assert fastinit_outcome(monkeypatch, name, kwargs, torch.full(shape, 7.0)) == expected
    on_numpy = fastinit_outcome(monkeypatch, name, kwargs, np.full(shape, 7.0, np.float32))
    if expected[:2] == ("raises", IndexError):  # dirac_ with an empty spatial dimension:
        on_numpy = on_numpy[:2] + expected[2:]  # numpy words its IndexError its own way
    assert on_numpy == expected


def test_the_table_covers_every_function():
    assert {name for name, _ in CASES} == set(init.__all__) - {"calculate_gain"}
    assert len(SHAPES) >= 20


# --- the API is torch's ----------------------------------------------------------------

def test_names_are_torchs():
    deprecated = {"uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
                  "xavier_normal", "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"}
    assert init.__all__ == [n for n in torch.nn.init.__all__ if n not in deprecated]
    assert init.calculate_gain is schemes.calculate_gain


@pytest.mark.parametrize("name", [n for n in init.__all__ if n != "calculate_gain"])
def test_signatures_are_torchs_plus_seed_and_backend(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    torch_args = [(p.name, p.default, p.kind) for p in theirs.values()]
    assert [(p.name, p.default, p.kind) for p in ours.values()][:len(theirs)] == torch_args
    extra = [(p.name, p.default, p.kind) for p in ours.values()][len(theirs):]
    keyword = inspect.Parameter.KEYWORD_ONLY
    assert extra == ([("seed", None, keyword), ("backend", None, keyword)]
                     if "generator" in theirs else [])


# --- numpy and torch, seeds and generators --------------------------------------------

RANDOM = [
    ("uniform_", {"a": -1.0, "b": 2.0}),
    ("normal_", {"mean": 0.5, "std": 2.0}),
    ("trunc_normal_", {"std": 0.5, "a": -0.4, "b": 1.0}),
    ("xavier_uniform_", {}),
    ("xavier_normal_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_normal_", {"nonlinearity": "relu"}),
    ("orthogonal_", {"gain": 1.5}),
    ("sparse_", {"sparsity": 0.3}),
]
RANDOM_IDS = [name for name, _ in RANDOM]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_numpy_arrays_and_torch_tensors_get_the_same_bits(name, kwargs, dtype, bits):
    array = getattr(init, name)(np.empty((6, 10), NUMPY[dtype]), **kwargs, seed=5)
    tensor = getattr(init, name)(torch.empty(6, 10, dtype=TORCH[dtype]), **kwargs, seed=5)
    np.testing.assert_array_equal(bits(array), bits(storage(tensor)))


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_a_seed_fixes_the_values_and_a_generator_moves_on(name, kwargs):
    fill = getattr(init, name)
    first = fill(np.empty((6, 10), np.float32), **kwargs, seed=3)
    np.testing.assert_array_equal(fill(np.empty((6, 10), np.float32), **kwargs, seed=3), first)
    gen = Generator(3)
    np.testing.assert_array_equal(fill(np.empty((6, 10), np.float32), **kwargs, generator=gen),
                                  first)
    assert not np.array_equal(fill(np.empty((6, 10), np.float32), **kwargs, generator=gen), first)
    assert not np.array_equal(fill(np.empty((6, 10), np.float32), **kwargs, seed=4), first)


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_torch_tensors_that_require_grad_are_filled_without_grad(name, kwargs):
    weight = torch.nn.Parameter(torch.empty(6, 10))
    assert getattr(init, name)(weight, **kwargs, seed=1) is weight
    assert weight.requires_grad and weight.grad_fn is None
    assert torch.isfinite(weight).all()


def test_views_are_filled_in_logical_order():
    base = np.zeros((10, 6), np.float32)
    init.kaiming_uniform_(base.T, seed=2)
    np.testing.assert_array_equal(base.T, init.kaiming_uniform_(np.empty((6, 10), np.float32),
                                                                seed=2))


def test_zero_dimensional_arrays_are_filled():
    assert init.uniform_(np.full((), 7.0, np.float32), seed=0) != 7.0
    assert init.normal_(torch.full((), 7.0), seed=0) != 7.0


@pytest.mark.parametrize("dtype", list(NUMPY))
@pytest.mark.parametrize("name, kwargs, shape", [
    ("constant_", {"val": 0.1}, (3, 5)),
    ("constant_", {"val": -1e-30}, (3, 5)),
    ("ones_", {}, (2, 3, 4)),
    ("zeros_", {}, (7,)),
    ("eye_", {}, (3, 5)),
    ("eye_", {}, (5, 3)),
    ("dirac_", {"groups": 2}, (4, 3, 5)),
    ("dirac_", {}, (4, 2, 3, 3)),
    ("dirac_", {"groups": 3}, (6, 4, 2, 3, 3)),
])
def test_deterministic_fills_equal_torchs_in_every_dtype(dtype, name, kwargs, shape, bits):
    expected = getattr(torch.nn.init, name)(torch.full(shape, 7.0, dtype=TORCH[dtype]), **kwargs)
    array = getattr(init, name)(np.full(shape, 7.0, NUMPY[dtype]), **kwargs)
    tensor = getattr(init, name)(torch.full(shape, 7.0, dtype=TORCH[dtype]), **kwargs)
    np.testing.assert_array_equal(bits(array), bits(storage(expected)))
    np.testing.assert_array_equal(bits(storage(tensor)), bits(storage(expected)))


# --- the values ------------------------------------------------------------------------

def kstest(values, cdf):
    return scipy.stats.kstest(np.asarray(values, np.float64).ravel(), cdf).pvalue


def test_kaiming_uniform_statistics():
    w = init.kaiming_uniform_(torch.empty(256, 128), nonlinearity="relu", seed=11).numpy()
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 128)
    assert -bound <= w.min() and w.max() < bound
    assert w.std() == pytest.approx(math.sqrt(2.0 / 128), rel=0.02)
    assert kstest(w, scipy.stats.uniform(-bound, 2 * bound).cdf) > 1e-4


def test_xavier_normal_statistics():
    w = init.xavier_normal_(np.empty((128, 64, 3, 3), np.float32), gain=2.0, seed=12)
    std = 2.0 * math.sqrt(2.0 / (64 * 9 + 128 * 9))
    assert w.mean() == pytest.approx(0.0, abs=0.02 * std)
    assert w.std() == pytest.approx(std, rel=0.02)
    assert kstest(w, scipy.stats.norm(0, std).cdf) > 1e-4


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04),
                                             (0.0, 1.0, 3.0, 5.0), (10.0, 1.0, -1.0, 1.0)])
def test_trunc_normal_statistics_even_far_from_the_mean(mean, std, a, b):
    """torch warns that it may be wrong when [a, b] is far from the mean; fastinit is exact."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        w = init.trunc_normal_(np.empty(50_000), mean, std, a, b, seed=13)
    assert a <= w.min() and w.max() <= b
    expected = scipy.stats.truncnorm((a - mean) / std, (b - mean) / std, mean, std)
    assert w.std() == pytest.approx(expected.std(), rel=0.03)
    assert kstest(w, expected.cdf) > 1e-4


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (8, 2, 3, 3), (2, 3, 5)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal_rows_or_columns_are_orthonormal_times_gain(shape, gain):
    w = init.orthogonal_(np.empty(shape), gain, seed=1).reshape(shape[0], -1)
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-12)


def test_orthogonal_in_low_precision_is_orthogonal_to_its_rounding():
    w = init.orthogonal_(torch.empty(64, 32, dtype=torch.bfloat16), seed=1).double().numpy()
    np.testing.assert_allclose(w.T @ w, np.eye(32), atol=2e-2)


def test_orthogonal_needs_two_dimensions():
    w = np.full(5, 7.0, np.float32)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(w, seed=0)
    assert (w == 7.0).all()


@pytest.mark.parametrize("rows, cols, sparsity", [(10, 4, 0.3), (7, 9, 0.5), (5, 3, 0.0),
                                                  (5, 3, 1.0), (64, 16, 0.1)])
def test_sparse_zeroes_the_same_number_of_rows_in_every_column(rows, cols, sparsity):
    w = init.sparse_(np.empty((rows, cols), np.float32), sparsity, std=0.5, seed=3)
    assert ((w == 0).sum(axis=0) == math.ceil(sparsity * rows)).all()


def test_sparse_is_fixed_by_its_seed_alone():
    """torch's sparse_ draws its rows from the global RNG, ignoring its generator; not here."""
    torch.manual_seed(0)
    np.random.seed(0)
    first = init.sparse_(torch.empty(20, 8), 0.4, seed=9)
    torch.manual_seed(1)
    np.random.seed(1)
    second = init.sparse_(torch.empty(20, 8), 0.4, seed=9)
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(first, init.sparse_(torch.empty(20, 8), 0.4, seed=10))


def test_sparse_chooses_different_rows_in_different_columns():
    w = init.sparse_(np.empty((50, 20), np.float32), 0.5, seed=4)
    assert len({tuple(np.flatnonzero(column == 0)) for column in w.T}) > 1


# --- bad inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda w: init.uniform_(w, 1.0, 0.0, seed=0), ValueError, "low <= high"),
    (lambda w: init.uniform_(w, 0.0, float("inf"), seed=0), ValueError, "high must be finite"),
    (lambda w: init.normal_(w, 0.0, -1.0, seed=0), ValueError, "std must be >= 0"),
    (lambda w: init.normal_(w, None, seed=0), TypeError, "mean must be a real number"),
    (lambda w: init.trunc_normal_(w, a=1.0, b=-1.0, seed=0), ValueError, "a < b"),
    (lambda w: init.trunc_normal_(w, std=0.0, seed=0), ValueError, "std must be > 0"),
    (lambda w: init.kaiming_normal_(w, generator=Generator(0), seed=0), ValueError,
     "either seed or generator"),
    (lambda w: init.xavier_uniform_(w, generator=torch.Generator()), TypeError,
     "generator must be a fastinit.Generator"),
    (lambda w: init.orthogonal_(w, generator=np.random.default_rng()), TypeError, "generator"),
    (lambda w: init.sparse_(w, "half", seed=0), TypeError, "must be real number"),
    (lambda w: init.dirac_(w.reshape(2, 3, 2), groups=4), ValueError, "divisible by groups"),
])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_bad_arguments_raise_and_leave_the_destination_untouched(call, error, match, kind):
    w = np.full((4, 3), 7.0, np.float32) if kind == "numpy" else torch.full((4, 3), 7.0)
    with pytest.raises(error, match=match):
        call(w)
    assert (w == 7.0).all()


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
@pytest.mark.parametrize("destination", [[[0.0] * 3] * 4, np.zeros((4, 3), np.int32),
                                         torch.zeros((4, 3), dtype=torch.int64)],
                         ids=["list", "int-array", "int-tensor"])
def test_random_fills_need_a_float_array_or_tensor(name, kwargs, destination):
    with pytest.raises(TypeError):
        getattr(init, name)(destination, **kwargs, seed=0)
    assert not np.any(np.asarray(destination))


@pytest.mark.parametrize("name", ["constant_", "eye_", "dirac_"])
def test_deterministic_fills_need_an_array_or_tensor(name):
    with pytest.raises(TypeError, match="expected a numpy array, torch tensor"):
        getattr(init, name)([[0.0] * 3] * 3, *([1.0] if name == "constant_" else []))
