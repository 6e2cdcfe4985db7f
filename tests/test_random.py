"""fastinit.random: numpy.random's module functions (and, in fastinit.random.cupy, cupy.random's)
on fastinit's stream. A program written against numpy.random runs unchanged with the module
swapped; the names, arguments, defaults, dtypes, scalar results and errors are numpy's and
CuPy's; the values are Generator(seed)'s stream, the same on the CPU and the GPU."""

import inspect
import re

import cupy.random
import numpy as np
import numpy.random
import pytest

import fastinit
import fastinit.random
import fastinit.random.cupy
from fastinit.backends import cupy as cupy_backend

# A program written against numpy.random's module functions, run as it is with `random`
# bound to numpy.random, then to fastinit.random (and, on a GPU, to cupy.random and
# fastinit.random.cupy, with `xp` numpy or CuPy).
PROGRAM = """
random.seed(1234)
weights = random.randn(64, 32)
noise = random.rand(10)
one = random.rand()
gauss = random.standard_normal(size=(3, 4))
dice = random.randint(1, 7, size=1000)
index = random.randint(10)
small = random.randint(-5, 5, size=(2, 2), dtype=xp.int8)
u = random.uniform(-2.0, 3.0, size=500)
backwards = random.uniform(3.0, -2.0, size=500)
n = random.normal(1.0, 0.5, size=(10, 10))
s = random.random_sample((4,))
r = random.random(7)
random.seed(1234)
again = random.randn(64, 32)
"""


def run(module, xp=np):
    scope = {"random": module, "xp": xp}
    exec(PROGRAM, scope)  # noqa: S102 -- the test's own program text
    return {k: v for k, v in scope.items() if k not in ("random", "xp", "__builtins__")}


def check_like(ours, theirs):
    """The same names, each of the same type, shape and dtype, and values in the same ranges."""
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert type(ours[name]) is type(theirs[name]), name
        assert np.shape(ours[name]) == np.shape(theirs[name]), name
        if hasattr(theirs[name], "dtype"):
            assert ours[name].dtype == theirs[name].dtype, name
    assert set(np.unique(_host(ours["dice"])).tolist()) == set(range(1, 7))
    assert 0 <= int(ours["index"]) < 10
    assert -5 <= _host(ours["small"]).min() and _host(ours["small"]).max() < 5
    u, backwards = _host(ours["u"]), _host(ours["backwards"])
    assert -2.0 <= u.min() and u.max() < 3.0
    assert -2.0 < backwards.min() and backwards.max() <= 3.0  # numpy's (high, low]
    for name in ("noise", "s", "r"):
        assert ((0 <= _host(ours[name])) & (_host(ours[name]) < 1)).all(), name
    assert (_host(ours["again"]) == _host(ours["weights"])).all()  # seed() restarts


def _host(x):
    return x.get() if hasattr(x, "get") else np.asarray(x)


def test_a_numpy_random_program_runs_unchanged_and_reproducibly():
    ours, theirs = run(fastinit.random), run(numpy.random)
    check_like(ours, theirs)
    twice = run(fastinit.random)
    for name in ours:
        assert _host(twice[name]).tobytes() == _host(ours[name]).tobytes(), name


def test_the_values_are_the_generators_stream_in_call_order():
    ours = run(fastinit.random)
    g = fastinit.Generator(1234)
    assert (ours["weights"] == g.standard_normal((64, 32))).all()
    assert (ours["noise"] == g.random(10)).all()
    assert ours["one"] == g.random()
    assert (ours["gauss"] == g.standard_normal((3, 4))).all()
    assert (ours["dice"] == g.integers(1, 7, size=1000)).all()


_gpu, _why = cupy_backend.available()


@pytest.mark.skipif(not _gpu, reason=f"no GPU for CuPy: {_why}")
def test_a_cupy_random_program_runs_unchanged_with_the_host_modules_values():
    import cupy

    ours, theirs = run(fastinit.random.cupy, cupy), run(cupy.random, cupy)
    check_like(ours, theirs)
    host = run(fastinit.random)
    for name in ours:
        assert _host(ours[name]).tobytes() == np.asarray(host[name]).tobytes(), name


# --- names, signatures, dtypes, results ---------------------------------------------

NAMES = ["seed", "rand", "randn", "random", "random_sample", "ranf", "sample", "uniform",
         "normal", "standard_normal", "randint", "default_rng", "RandomState"]


def _parameters(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", NAMES[:-1])
def test_signatures_are_numpys_with_cupys_dtype(name):
    for module in (fastinit.random, fastinit.random.cupy):
        ours = _parameters(getattr(module, name))
        theirs = _parameters(getattr(cupy.random, name))
        if name in ("rand", "randn"):  # CuPy: (*size, **kwarg), of which dtype=float
            theirs = theirs[:1] + [("dtype", inspect.Parameter.KEYWORD_ONLY, float)]
        if name == "randint":  # CuPy's module says 'l', its RandomState int: the same dtype
            assert np.dtype(theirs[-1][2]) == np.dtype(int)
            theirs[-1] = ("dtype", theirs[-1][1], int)
        assert ours == theirs, module.__name__
    if name not in ("rand", "randn", "ranf", "sample"):  # numpy's: (*args) or deprecated
        numpys = _parameters(getattr(numpy.random, name))
        assert _parameters(getattr(fastinit.random, name))[:len(numpys)] == numpys


def test_every_name_of_both_modules():
    for module in (fastinit.random, fastinit.random.cupy):
        assert sorted(module.__all__) == sorted(NAMES)
        assert all(hasattr(numpy.random, n) and hasattr(cupy.random, n) for n in NAMES)


@pytest.mark.parametrize("call", ["rand()", "randn()", "random_sample()", "uniform(1, 2)",
                                  "normal(0, 2)", "standard_normal()", "randint(5)",
                                  "randint(2, dtype=bool)", "randint(5, dtype=xp.int32)",
                                  "randint(5, dtype=xp.uint64)", "randint(5, dtype='int64')"])
def test_scalar_results_are_numpys(call):
    ours = eval(call, {"xp": np}, vars(fastinit.random))  # noqa: S307
    theirs = eval(call, {"xp": np}, vars(numpy.random))  # noqa: S307
    assert type(ours) is type(theirs)


def _three(name, dtype):
    fn = getattr(fastinit.random, name)
    return fn(3, dtype=dtype) if name in ("rand", "randn") else fn(size=3, dtype=dtype)


@pytest.mark.parametrize("name", ["rand", "randn", "random_sample", "uniform", "normal",
                                  "standard_normal"])
def test_float_functions_take_cupys_float32_and_float64(name):
    for dtype in (np.float32, "float32", np.float64, float):
        x = _three(name, dtype)
        assert x.dtype == np.dtype(dtype) and x.shape == (3,)
    with pytest.raises(TypeError, match=f"Unsupported dtype dtype\\('float16'\\) for {name}"):
        _three(name, np.float16)


def test_randint_takes_every_integer_dtype_and_bool():
    for dtype in (bool, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
                  np.uint64):
        high = 2 if dtype is bool else int(np.iinfo(dtype).max)
        x = fastinit.random.randint(0, high, size=1000, dtype=dtype)
        assert x.dtype == np.dtype(dtype) and x.min() >= 0 and x.max() < high


def test_default_rng_and_random_state():
    g = fastinit.random.default_rng(7)
    assert isinstance(g, fastinit.Generator) and g.device == "cpu"
    assert (g.random(5) == fastinit.Generator(7).random(5)).all()
    assert fastinit.random.default_rng(g) is g  # numpy: a Generator passes through
    assert fastinit.random.default_rng().seed != fastinit.random.default_rng().seed
    rs = fastinit.random.RandomState(7)
    fastinit.random.seed(99)  # the module's state is not the RandomState's
    assert (rs.rand(5) == fastinit.Generator(7).random(5)).all()
    rs.seed(7)
    assert (rs.randn(2, 3) == fastinit.Generator(7).standard_normal((2, 3))).all()
    assert fastinit.random.cupy.default_rng(7).device == "cuda"
    assert fastinit.random.cupy.RandomState(7)._generator.device == "cuda"
    fastinit.random.seed()
    first = fastinit.random.rand(4)
    fastinit.random.seed()
    assert (fastinit.random.rand(4) != first).all()  # fresh entropy each time


# --- bad input: numpy's exception types, nothing drawn -------------------------------

# (call, whether the message is numpy's word for word)
BAD = [("randint(5, 5)", True), ("randint(0)", True), ("randint(-1, 10, dtype=xp.uint8)", True),
       ("randint(0, 257, dtype=xp.uint8)", True), ("randint(0, 3, dtype=bool)", True),
       ("randint(0, 2**64)", True), ("randint(0, 10, dtype=xp.float32)", True),
       ("randint(0, 10, dtype='foo')", True), ("randint(0, 10, size=-1)", True),
       ("rand(-1)", True), ("rand(2.5)", True), ("randn(2, -3)", True),
       ("random_sample(-1)", True), ("random_sample(2.5)", True), ("normal(size=-1)", True),
       ("uniform(size=(2, -1))", True), ("uniform(0, xp.inf)", True),
       ("uniform(xp.nan, 1)", True), ("uniform(-1e308, 1e308)", True),
       ("normal(0, -1)", True), ("seed(-1)", False), ("seed(2**64)", False),
       ("seed(1.5)", False)]


@pytest.mark.parametrize("call, same_words", BAD, ids=[c for c, _ in BAD])
def test_bad_input_raises_numpys_exception_and_draws_nothing(call, same_words):
    with pytest.raises(Exception) as theirs:
        eval(call, {"xp": np}, vars(numpy.random))  # noqa: S307
    fastinit.random.seed(5)
    match = f"^{re.escape(str(theirs.value))}$" if same_words else None
    with pytest.raises(type(theirs.value), match=match):
        eval(call, {"xp": np}, vars(fastinit.random))  # noqa: S307
    if not call.startswith("seed"):
        assert fastinit.random.rand() == fastinit.Generator(5).random()


def test_parameters_are_scalars():
    for call in (lambda: fastinit.random.uniform(np.zeros(3), 1.0),
                 lambda: fastinit.random.normal(0.0, np.ones(2)),
                 lambda: fastinit.random.randint(np.array([1, 2]), 10)):
        with pytest.raises(TypeError, match="must be a scalar"):
            call()
