"""fastinit.init is torch.nn.init, drawn from the Philox stream.

One table drives every function against torch: for each (function, arguments, shape)
both raise the same exception with the same message, or both warn alike and draw the
same distribution (recorded at torch's ``Tensor.uniform_``/``normal_``/trunc-normal
helper and at fastinit's ``Generator.fill``), and the deterministic ones write the same
values. Then: torch's deprecated aliases and fan helpers; torch's generators deciding
the draw where torch's would (docs/stream.md, section 6); torch's exception classes and
warnings; and the checks of PyTorch's own test/nn/test_init.py, ported.
"""

import inspect
import math
import re
import warnings

import ml_dtypes
import numpy as np
import pytest
import scipy.stats
import torch

import fastinit
from fastinit import Generator, Normal, Raw, TruncatedNormal, Uniform, init, schemes
from fastinit.distributions import DtypeError, ParameterError

from conftest import OTHER_POISON, poisoned, poisoned_tensor

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
FUNCTIONS = [name for name in init.__all__ if name.endswith("_")]
DEPRECATED = [name for name in init.__all__ if not name.endswith("_") and name != "calculate_gain"]


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
        m.setattr(init, "fresh_key", lambda *args: None)  # every draw through a Generator
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
    assert {name for name, _ in CASES} == set(FUNCTIONS)
    assert len(SHAPES) >= 20


# --- the API is torch's ----------------------------------------------------------------

def test_names_are_torchs():
    assert init.__all__ == torch.nn.init.__all__
    assert len(FUNCTIONS) == 14 and len(DEPRECATED) == 11
    assert init.calculate_gain is schemes.calculate_gain


def test_the_top_level_has_the_functions_but_not_the_deprecated_aliases():
    assert {"calculate_gain", *FUNCTIONS} <= set(fastinit.__all__)
    assert all(getattr(fastinit, name) is getattr(init, name) for name in FUNCTIONS)
    assert not set(DEPRECATED) & set(fastinit.__all__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signatures_are_torchs_plus_seed_and_backend(name):
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    torch_args = [(p.name, p.default, p.kind) for p in theirs.values()]
    assert [(p.name, p.default, p.kind) for p in ours.values()][:len(theirs)] == torch_args
    extra = [(p.name, p.default, p.kind) for p in ours.values()][len(theirs):]
    keyword = inspect.Parameter.KEYWORD_ONLY
    assert extra == ([("seed", None, keyword), ("backend", None, keyword)]
                     if "generator" in theirs else [])


def parameters(fn):
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", DEPRECATED + ["_calculate_fan_in_and_fan_out",
                                               "_calculate_correct_fan"])
def test_deprecated_aliases_and_fan_helpers_have_torchs_signatures(name):
    assert parameters(getattr(init, name)) == parameters(getattr(torch.nn.init, name))


# --- torch's deprecated aliases -------------------------------------------------------

ALIASES = {  # name: (shape, arguments after the tensor)
    "uniform": ((6, 10), (-1.0, 2.0)),
    "normal": ((6, 10), (0.5, 2.0)),
    "constant": ((6, 10), (0.3,)),
    "eye": ((6, 10), ()),
    "dirac": ((4, 2, 3), (2,)),
    "xavier_uniform": ((6, 10), (1.5,)),
    "xavier_normal": ((6, 10), (0.5,)),
    "kaiming_uniform": ((6, 10), (0.2, "fan_out")),
    "kaiming_normal": ((6, 10), (0.0, "fan_out", "relu")),
    "orthogonal": ((6, 10), (2.0,)),
    "sparse": ((6, 10), (0.3, 0.1)),
}


def warned(call):
    """(category, message, filename) of each warning ``call()`` emits."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [(w.category, str(w.message), w.filename) for w in caught]


def test_the_alias_table_covers_every_alias():
    assert set(ALIASES) == set(DEPRECATED)


@pytest.mark.parametrize("name", DEPRECATED)
def test_deprecated_aliases_warn_as_torchs_do_then_fill(name):
    shape, args = ALIASES[name]
    seed = {} if f"{name}_" in DETERMINISTIC else {"seed": 4}
    expected = [(FutureWarning, f"`nn.init.{name}` is now deprecated in favor of "
                                f"`nn.init.{name}_`.", __file__)]
    assert warned(lambda: getattr(torch.nn.init, name)(torch.empty(shape), *args)) == expected
    got = torch.full(shape, 7.0)
    assert warned(lambda: getattr(init, name)(got, *args, **seed)) == expected
    torch.testing.assert_close(got, getattr(init, f"{name}_")(torch.empty(shape), *args, **seed),
                               rtol=0, atol=0)
    assert getattr(init, name).__name__ == name


def test_a_warning_under_a_deprecated_alias_points_where_torchs_does():
    """torch's zero-element warning (stacklevel 2) lands in its deprecated wrapper."""
    def where(module):
        return [(category, file == __file__, file == module.__file__)
                for category, _, file in warned(lambda: module.kaiming_uniform(torch.empty(0, 3)))]
    assert where(init) == where(torch.nn.init) == [(FutureWarning, True, False),
                                                   (UserWarning, False, True)]


# --- torch's fan helpers, on numpy arrays and torch tensors -----------------------------

def outcome(fn, *args):
    try:
        return ("returns", fn(*args))
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return ("raises", type(e), str(e))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_fan_in_and_fan_out_is_torchs(shape):
    expected = outcome(torch.nn.init._calculate_fan_in_and_fan_out, torch.empty(shape))
    assert outcome(init._calculate_fan_in_and_fan_out, torch.empty(shape)) == expected
    assert outcome(init._calculate_fan_in_and_fan_out, np.empty(shape, np.float32)) == expected


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "FAN_In", "fan_avg", None])
@pytest.mark.parametrize("shape", [(), (5,), (3, 5), (6, 2, 3, 3), (0, 4)], ids=str)
def test_correct_fan_is_torchs(shape, mode):
    expected = outcome(torch.nn.init._calculate_correct_fan, torch.empty(shape), mode)
    assert outcome(init._calculate_correct_fan, torch.empty(shape), mode) == expected
    assert outcome(init._calculate_correct_fan, np.empty(shape, np.float32), mode) == expected


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
    array = getattr(init, name)(poisoned((6, 10), NUMPY[dtype]), **kwargs, seed=5)
    tensor = getattr(init, name)(poisoned_tensor((6, 10), TORCH[dtype], OTHER_POISON), **kwargs,
                                 seed=5)
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
    weight = torch.nn.Parameter(torch.full((6, 10), math.nan))
    assert getattr(init, name)(weight, **kwargs, seed=1) is weight
    assert weight.requires_grad and weight.grad_fn is None
    assert torch.isfinite(weight).all()  # every element written


@pytest.mark.parametrize("module", [torch.nn.init, init], ids=["torch", "fastinit"])
@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_a_fill_of_a_tensor_autograd_saved_makes_backward_refuse_as_torchs_does(name, kwargs,
                                                                                 module):
    """An init call is an in-place write: the tensor's version counter goes up, so a
    graph that saved the old values refuses to backpropagate (fastinit writes through
    the data pointer, and says so to autograd)."""
    weight = torch.nn.Parameter(torch.ones(6, 10))
    loss = (weight * weight).sum()  # saves weight
    version = weight._version
    getattr(module, name)(weight, **kwargs)
    assert weight._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_a_generator_fill_of_a_tensor_is_an_in_place_write_too():
    tensor = torch.empty(3, 4)
    version = tensor._version
    Generator(1).fill(tensor, Normal())
    Generator(1).fill(tensor[:, ::2], Normal())
    assert tensor._version == version + 2


def test_views_are_filled_in_logical_order():
    base = poisoned((10, 6), np.float32)
    init.kaiming_uniform_(base.T, seed=2)
    contiguous = init.kaiming_uniform_(poisoned((6, 10), np.float32, OTHER_POISON), seed=2)
    np.testing.assert_array_equal(base.T, contiguous)


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
    """Far from the mean fastinit warns as torch does ("may be incorrect"), yet is exact."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
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
    (lambda w: init.uniform_(w, 1.0, 0.0, seed=0), ValueError, "a <= b"),
    (lambda w: init.uniform_(w, 0.0, float("inf"), seed=0), ValueError, "b must be finite"),
    (lambda w: init.normal_(w, 0.0, -1.0, seed=0), ValueError, "std must be >= 0"),
    (lambda w: init.normal_(w, None, seed=0), TypeError, "mean must be a real number"),
    (lambda w: init.trunc_normal_(w, a=1.0, b=-1.0, seed=0), ValueError, "a < b"),
    (lambda w: init.trunc_normal_(w, std=0.0, seed=0), ValueError, "std must be > 0"),
    (lambda w: init.kaiming_normal_(w, generator=Generator(0), seed=0), ValueError,
     "either seed or generator"),
    (lambda w: init.xavier_uniform_(w, generator=torch.Generator(), seed=0), ValueError,
     "either seed or generator"),
    (lambda w: init.orthogonal_(w, generator=np.random.default_rng()), TypeError,
     "generator must be a fastinit.Generator or a torch.Generator"),
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


# --- torch's generators decide where torch's would (docs/stream.md, section 6) ----------

@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_torch_manual_seed_decides_a_torch_tensors_values(name, kwargs, bits, torch_draw):
    fill = getattr(init, name)

    def seeded(seed):
        torch.manual_seed(seed)
        return fill(torch.empty(6, 10), **kwargs)

    first = seeded(5)
    torch.testing.assert_close(seeded(5), first, rtol=0, atol=0)
    assert not torch.equal(seeded(6), first)
    torch.manual_seed(5)
    by_key = fill(np.empty((6, 10), np.float32), **kwargs, generator=Generator(torch_draw()))
    np.testing.assert_array_equal(bits(first.numpy()), bits(by_key))


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_a_torch_generator_gives_what_the_same_default_seed_gives(name, kwargs):
    fill = getattr(init, name)
    torch.manual_seed(8)
    expected = fill(torch.empty(6, 10), **kwargs)
    state = torch.get_rng_state()
    got = fill(torch.empty(6, 10), **kwargs, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    on_numpy = fill(np.empty((6, 10), np.float32), **kwargs,
                    generator=torch.Generator().manual_seed(8))
    np.testing.assert_array_equal(on_numpy, expected.numpy())
    assert torch.equal(torch.get_rng_state(), state)  # the default generator is left alone


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_a_call_advances_torchs_generator_by_exactly_one_draw(name, kwargs, torch_draw):
    gen, twin = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    first = getattr(init, name)(torch.empty(6, 10), **kwargs, generator=gen)
    torch_draw(twin)
    assert torch.equal(gen.get_state(), twin.get_state())
    assert not torch.equal(getattr(init, name)(torch.empty(6, 10), **kwargs, generator=gen),
                           first)
    torch.manual_seed(3)
    getattr(init, name)(torch.empty(6, 10), **kwargs)
    assert torch.equal(torch.get_rng_state(), twin.get_state())


@pytest.mark.parametrize("call", [
    lambda: init.normal_(torch.empty(6, 10), seed=1),
    lambda: init.orthogonal_(torch.empty(6, 10), generator=Generator(1)),
    lambda: init.sparse_(np.empty((6, 10), np.float32), 0.5),
    lambda: init.kaiming_uniform_(torch.empty(0, 3)),
    lambda: init.orthogonal_(torch.empty(0, 4)),
], ids=["seed", "fastinit-generator", "numpy", "zero-element-kaiming", "empty-orthogonal"])
def test_seeds_fastinit_generators_numpy_and_empty_calls_leave_torchs_generator_alone(call):
    state = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        call()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
def test_a_bad_backend_is_refused_before_torchs_generator_is_drawn(name, kwargs):
    tensor, state = poisoned_tensor((4, 5), torch.float32), torch.get_rng_state()
    with pytest.raises(ValueError, match="backend must be one of"):
        getattr(init, name)(tensor, **kwargs, backend="gpu")
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(tensor, poisoned_tensor((4, 5), torch.float32))


def test_numpy_arrays_keep_fastinits_default_generator(monkeypatch):
    monkeypatch.setattr(fastinit.generator, "default_generator",
                        fastinit.generator.default_generator)  # restored after the test
    fastinit.manual_seed(5)
    torch.manual_seed(0)
    first = init.normal_(np.empty((6, 10), np.float32))
    np.testing.assert_array_equal(first, Generator(5).normal(size=(6, 10), dtype="float32"))
    fastinit.manual_seed(5)
    torch.manual_seed(1)
    np.testing.assert_array_equal(init.normal_(np.empty((6, 10), np.float32)), first)


def test_sparse_takes_its_values_and_its_zeros_from_torchs_seed():
    def zeros(seed):
        torch.manual_seed(seed)
        return init.sparse_(torch.empty(40, 8), 0.5) == 0

    assert torch.equal(zeros(1), zeros(1))
    assert not torch.equal(zeros(1), zeros(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs torch with a CUDA device")
def test_a_cuda_tensor_draws_its_key_from_its_devices_generator():
    torch.cuda.manual_seed(7)
    w = init.normal_(torch.empty(6, 10, device="cuda"))
    torch.cuda.manual_seed(7)
    key = torch.empty((), dtype=torch.int64, device="cuda").random_(-2**63, None).item()
    by_key = init.normal_(torch.empty(6, 10), generator=Generator(key % 2**64))
    torch.testing.assert_close(w.cpu(), by_key, rtol=0, atol=0)
    cuda_generator = torch.Generator("cuda").manual_seed(7)  # serves a CPU tensor too
    torch.testing.assert_close(init.normal_(torch.empty(6, 10), generator=cuda_generator), by_key,
                               rtol=0, atol=0)


# --- torch's exception classes ---------------------------------------------------------

TORCH_ERRORS = [  # (function, arguments, torch's class, fastinit's message)
    ("uniform_", (1.0, 0.0), RuntimeError, "uniform_ needs a <= b, got a=1.0, b=0.0"),
    ("uniform_", (0.0, math.inf), RuntimeError, "b must be finite, got inf"),
    ("uniform_", (math.nan, 1.0), RuntimeError, "a must be finite, got nan"),
    ("uniform_", (-3e38, 3e38), RuntimeError, "high - low = 6e+38 overflows float32"),
    ("normal_", (0.0, -1.0), RuntimeError, "std must be >= 0, got -1.0"),
    ("normal_", (0.0, math.nan), RuntimeError, "std must be finite, got nan"),
    ("trunc_normal_", (0.0, 1.0, 1.0, -1.0), RuntimeError,
     "truncated normal needs a < b, got a=1.0, b=-1.0"),
    ("trunc_normal_", (0.0, 1.0, math.nan), RuntimeError, "a and b must not be NaN"),
    ("xavier_uniform_", (-1.0,), RuntimeError, "gain must be >= 0, got -1.0"),
    ("xavier_normal_", (-1.0,), RuntimeError, "gain must be >= 0, got -1.0"),
    ("sparse_", (0.5, -1.0), RuntimeError, "std must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("name, args, theirs, message", TORCH_ERRORS,
                         ids=[f"{n}{a}" for n, a, *_ in TORCH_ERRORS])
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_a_bad_parameter_is_torchs_runtime_error_and_a_value_error(name, args, theirs, message,
                                                                   kind):
    with pytest.raises(theirs):
        getattr(torch.nn.init, name)(torch.full((4, 3), 7.0), *args)
    w = np.full((4, 3), 7.0, np.float32) if kind == "numpy" else torch.full((4, 3), 7.0)
    state = torch.get_rng_state()
    for error in (theirs, ValueError, ParameterError):
        with pytest.raises(error, match=re.escape(message)):
            getattr(init, name)(w, *args)
    assert (w == 7.0).all()
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("name, kwargs", RANDOM, ids=RANDOM_IDS)
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.bool],
                         ids=str)
def test_a_random_fill_of_a_non_float_tensor_is_torchs_error_and_a_type_error(name, kwargs,
                                                                              dtype):
    with pytest.raises(RuntimeError):  # mostly NotImplementedError ("not implemented for")
        getattr(torch.nn.init, name)(torch.zeros(6, 10, dtype=dtype), **kwargs)
    w = torch.zeros(6, 10, dtype=dtype)
    for error in (NotImplementedError, RuntimeError, TypeError, DtypeError):
        with pytest.raises(error, match=f"tensor must have a float dtype .* got {dtype}$"):
            getattr(init, name)(w, **kwargs)
    assert not w.any()


# --- torch's warnings -------------------------------------------------------------------

FAR = ("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
       "The distribution of values may be incorrect.")


def test_trunc_normal_far_from_the_mean_warns_torchs_words_from_the_init_module():
    with pytest.warns(UserWarning, match=f"^{re.escape(FAR)}$") as ours:
        init.trunc_normal_(torch.empty(10), 0.0, 1.0, 3.0, 5.0)
    with pytest.warns(UserWarning, match=f"^{re.escape(FAR)}$") as theirs:
        torch.nn.init.trunc_normal_(torch.empty(10), 0.0, 1.0, 3.0, 5.0)
    assert [w.filename for w in ours] == [init.__file__]  # torch's stacklevel=2, from a helper
    assert [w.filename for w in theirs] == [torch.nn.init.__file__]


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, 3.0, 5.0), (0.0, 1.0, -5.0, -2.5),
                                             (10.0, 1.0, -1.0, 1.0), (0.0, 1.0, 2.0, 3.0),
                                             (0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal_warns_where_torchs_does(mean, std, a, b):
    def warnings_of(module, **seed):
        call = lambda: module.trunc_normal_(torch.empty(100), mean, std, a, b, **seed)  # noqa: E731
        return [(category, message, file == module.__file__)
                for category, message, file in warned(call)]

    expected = [(UserWarning, FAR, True)] if mean < a - 2 * std or mean > b + 2 * std else []
    assert warnings_of(torch.nn.init) == expected
    assert warnings_of(init, seed=0) == expected


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("module", [torch.nn.init, init], ids=["torch", "fastinit"])
def test_zero_element_warnings_point_at_the_caller(name, module):
    with pytest.warns(UserWarning, match="^Initializing zero-element tensors is a no-op$") as w:
        getattr(module, name)(torch.empty(0, 3))
    assert [warning.filename for warning in w] == [__file__]


# --- PyTorch's own checks (test/nn/test_init.py as of torch 2.13), ported ---------------
# The statistical and structural assertions of torch's test file, run on fastinit with
# torch's seed deciding (no seed=), as a drop-in sees them. What the table and the tests
# above check exactly (deterministic fills, errors, warnings, gains) is not repeated.

def is_normal(t, mean, std):
    return kstest(t.double(), scipy.stats.norm(mean, std).cdf) > 1e-4


def is_uniform(t, a, b):
    return kstest(t.double(), scipy.stats.uniform(a, b - a).cdf) > 1e-4


def is_trunc_normal(t, mean, std, a, b):
    z = (t.double() - mean) / std
    return kstest(z, scipy.stats.truncnorm((a - mean) / std, (b - mean) / std).cdf) > 1e-4


TORCH_SHAPES = [(41,), (33, 47), (9, 8, 7, 6)]


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
def test_torch_uniform_and_normal(shape):
    torch.manual_seed(len(shape))
    assert is_uniform(init.uniform_(torch.zeros(shape), a=-1.3, b=2.1), -1.3, 2.1)
    assert is_normal(init.normal_(torch.zeros(shape), mean=2.2, std=3.1), 2.2, 3.1)


def test_torch_trunc_normal_generator():
    w = init.trunc_normal_(torch.empty(5), generator=torch.Generator().manual_seed(42))
    torch.manual_seed(42)
    torch.testing.assert_close(w, init.trunc_normal_(torch.empty(5)), rtol=0, atol=0)


def fans(shape):
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


@pytest.mark.parametrize("shape", [(23, 21), (21, 24, 22, 20)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 1.37])
def test_torch_xavier(shape, gain):
    torch.manual_seed(2)
    std = gain * math.sqrt(2.0 / sum(fans(shape)))
    bound = std * math.sqrt(3)
    assert is_uniform(init.xavier_uniform_(torch.zeros(shape), gain=gain), -bound, bound)
    assert is_normal(init.xavier_normal_(torch.zeros(shape), gain=gain), 0, std)


@pytest.mark.parametrize("shape", [(23, 21), (21, 24, 22, 20)], ids=str)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("a", [0, 0.83])
def test_torch_kaiming(shape, mode, a):
    torch.manual_seed(3)
    n = fans(shape)[mode == "fan_out"]
    std = math.sqrt(2.0 / ((1 + a**2) * n))
    bound = std * math.sqrt(3.0)
    assert is_uniform(init.kaiming_uniform_(torch.zeros(shape), a=a, mode=mode), -bound, bound)
    assert is_normal(init.kaiming_normal_(torch.zeros(shape), a=a, mode=mode), 0, std)


@pytest.mark.parametrize("std", [None, 0.13])
def test_torch_sparse_default_std(std):
    torch.manual_seed(4)
    sparsity = 0.15
    w = init.sparse_(torch.zeros(32, 34), sparsity, *([] if std is None else [std]))
    assert ((w == 0).sum(dim=0) >= math.ceil(sparsity * 32)).all()
    assert is_normal(w[w != 0], 0, 0.01 if std is None else std)


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (20, 2, 3, 4), (2, 3, 4, 5)], ids=str)
@pytest.mark.parametrize("gain", [1.0, 1.61])
def test_torch_orthogonal(shape, gain):
    torch.manual_seed(5)
    rows, cols = shape[0], math.prod(shape[1:])
    w = init.orthogonal_(torch.zeros(shape), gain=gain).view(rows, cols)
    gram = w.t() @ w if rows > cols else w @ w.t()
    torch.testing.assert_close(gram, torch.eye(min(rows, cols)) * gain**2, atol=1e-6, rtol=0)


def test_torch_deprecation():
    with pytest.warns(FutureWarning, match="deprecated"):
        init.normal(torch.randn(3, 3))


@pytest.mark.parametrize("shape", TORCH_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_torch_trunc_normal_all_dtypes(shape, dtype):
    torch.manual_seed(6)
    mean, std, a, b = -1.7, 0.43, -2.3, -1.2
    w = init.trunc_normal_(torch.zeros(shape, dtype=dtype), mean=mean, std=std, a=a, b=b)
    assert w.min() >= torch.tensor(a, dtype=dtype) and w.max() <= torch.tensor(b, dtype=dtype)
    assert is_trunc_normal(w, mean, std, a, b)


@pytest.mark.parametrize("dtype, a, b", [
    (torch.float16, -2.0, 2.0), (torch.bfloat16, -2.0, 2.0),  # low precision
    (torch.float32, 2.0, 3.0), (torch.float64, 2.0, 3.0), (torch.float16, 2.0, 3.0),  # narrow
], ids=str)
def test_torch_trunc_normal_low_precision_and_narrow_interval(dtype, a, b):
    torch.manual_seed(7)
    w = init.trunc_normal_(torch.empty(10_000, dtype=dtype), mean=0.0, std=1.0, a=a, b=b)
    assert w.min() >= a and w.max() <= b
    assert is_trunc_normal(w, 0.0, 1.0, a, b)


@pytest.mark.parametrize("dtype, min_unique", [(torch.float32, 5000), (torch.float64, 5000),
                                               (torch.float16, 3000), (torch.bfloat16, 1000)],
                         ids=str)
def test_torch_trunc_normal_unique_values_and_no_boundary_values(dtype, min_unique):
    torch.manual_seed(8)
    w = init.trunc_normal_(torch.empty(10_000, dtype=dtype), mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert w.min() >= -2.0 and w.max() <= 2.0
    assert w.unique().numel() > min_unique
    assert torch.isfinite(w).all()
    narrow = init.trunc_normal_(torch.empty(10_000, dtype=dtype), mean=0.0, std=0.1, a=-2.0,
                                b=2.0)
    assert not ((narrow == -2.0) | (narrow == 2.0)).any()


ONE_DRAW = [("uniform_", {"a": -1.0, "b": 2.0}), ("normal_", {"mean": 1.0, "std": 3.0}),
            ("trunc_normal_", {}), ("trunc_normal_", {"std": 0.02}), ("xavier_uniform_", {}),
            ("xavier_normal_", {}), ("kaiming_uniform_", {"a": 0.1}), ("kaiming_normal_", {})]


def _one_draw_destinations():
    """{name: (guarded buffer, the destination inside it)}: the kinds of destination a
    one-draw call writes its own way (a host run: a tensor, a Parameter that requires
    grad, a bfloat16 tensor, a numpy array; a strided view, through a backend's view),
    each between two poisoned guard rows of its buffer."""
    tensor, wide = poisoned_tensor((20, 33), torch.float32), poisoned_tensor((20, 66),
                                                                              torch.float32)
    parameter, bf16 = poisoned_tensor((20, 33), torch.float32), poisoned_tensor(
        (20, 33), torch.bfloat16)
    array = poisoned((20, 33), np.float32)
    return {"tensor": (tensor, tensor[2:18]),
            "parameter": (parameter, torch.nn.Parameter(parameter[2:18])),
            "bfloat16": (bf16, bf16[2:18]), "numpy": (array, array[2:18]),
            "strided": (wide, wide[2:18, ::2])}


@pytest.mark.parametrize("where", list(_one_draw_destinations()))
@pytest.mark.parametrize("seeded", [True, False], ids=["seed", "torch_generator"])
@pytest.mark.parametrize("name, kwargs", ONE_DRAW, ids=[f"{n}{k}" for n, k in ONE_DRAW])
def test_a_one_draw_call_writes_what_its_fresh_generator_would(monkeypatch, name, kwargs,
                                                                seeded, where):
    """A call that draws one tensor from a fresh generator fills it without making the
    generator, straight into its memory where that is one run of host memory: the same
    values, the same draws from torch's generators, and nothing written outside the
    destination (a numpy array without a seed draws its key from a torch generator)."""
    call = getattr(init, name)
    results = []
    for direct in (True, False):
        if not direct:
            monkeypatch.setattr(init, "fresh_key", lambda *args: None)
        buffer, out = _one_draw_destinations()[where]
        guard = storage(buffer).copy()
        key = ({"seed": 12} if seeded else {"generator": torch.Generator().manual_seed(5)}
               if where == "numpy" else {})
        torch.manual_seed(3)
        assert call(out, **kwargs, **key) is out
        written = storage(buffer) != guard
        inside = np.zeros(written.shape, bool)
        inside[2:18, ::2 if where == "strided" else 1] = True
        np.testing.assert_array_equal(written, inside)  # all of it, and nothing else
        results.append((storage(buffer).tolist(), torch.randint(0, 2**30, (4,)).tolist()))
    assert results[0] == results[1]
