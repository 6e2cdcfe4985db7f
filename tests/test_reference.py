"""The numpy reference is the oracle: it meets Random123's known answers, and the
Numba CPU backend equals it bit for bit for every rule, dtype and parameter set."""

import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import fastinit
from conftest import host_view
from fastinit.backends import Draw, cpu
from fastinit.distributions import (
    Bernoulli,
    Integers,
    Normal,
    Raw,
    TruncatedNormal,
    Uniform,
    blocks_for,
    rule_for,
)

import reference

KAT = Path(__file__).parent / "data" / "philox4x32_kat.txt"

NUMPY = {
    "float16": np.dtype(np.float16),
    "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32),
    "float64": np.dtype(np.float64),
    "bool": np.dtype(np.bool_),
    "uint8": np.dtype(np.uint8),
    "uint32": np.dtype(np.uint32),
    **{name: np.dtype(name) for name in ("int8", "int16", "uint16", "int32", "int64", "uint64")},
}
STORAGE = {"float16": np.uint16, "bfloat16": np.uint16, "bool": np.uint8}
BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

N = 10007  # not a multiple of 4096, 8, 4 or 2
SEED = 0x0123456789ABCDEF  # both key words non-zero
STREAM = 0xFEDCBA98_00000007  # both stream words non-zero


def _kat():
    rows = []
    for line in KAT.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, rounds, *hexes = line.split()
        assert name == "philox4x32" and len(hexes) == 10
        vals = [int(h, 16) for h in hexes]
        rows.append((int(rounds), vals[0:4], vals[4:6], vals[6:10]))
    return rows


def test_kat_file_has_both_round_counts():
    assert sorted({r for r, *_ in _kat()}) == [7, 10]


@pytest.mark.parametrize("rounds, ctr, key, expected", _kat())
def test_philox_known_answers(rounds, ctr, key, expected):
    out = reference.philox4x32(np.array(ctr, np.uint32), np.array(key, np.uint32), rounds)
    assert out.dtype == np.uint32
    assert out.tolist() == expected


def test_philox_batched_known_answers():
    for rounds in (7, 10):
        rows = [r for r in _kat() if r[0] == rounds]
        ctr = np.array([r[1] for r in rows], np.uint32)
        key = np.array([r[2] for r in rows], np.uint32)
        assert reference.philox4x32(ctr, key, rounds).tolist() == [r[3] for r in rows]


def test_philox_matches_package_primitive():
    rng = np.random.default_rng(1)
    ctr = rng.integers(0, 2**32, (257, 4), dtype=np.uint32)
    key = rng.integers(0, 2**32, (257, 2), dtype=np.uint32)
    for rounds in (1, 7, 10):
        np.testing.assert_array_equal(reference.philox4x32(ctr, key, rounds),
                                      fastinit.philox4x32(ctr, key, rounds))
    # broadcasting one key over many counters
    np.testing.assert_array_equal(reference.philox4x32(ctr, key[0]),
                                  fastinit.philox4x32(ctr, key[0]))


def test_words_layout():
    seed, stream, block = 2**40 + 9, 2**35 + 3, 2**33 + 5
    w = reference.words(seed, stream, block, 3)
    ctr = [[(block + j) & 0xFFFFFFFF, (block + j) >> 32, stream & 0xFFFFFFFF, stream >> 32]
           for j in range(3)]
    key = [seed & 0xFFFFFFFF, seed >> 32]
    np.testing.assert_array_equal(w, fastinit.philox4x32(np.array(ctr, np.uint32),
                                                         np.array(key, np.uint32)))
    # the block counter wraps modulo 2**64
    wrap = reference.words(seed, stream, 2**64 - 1, 2)
    np.testing.assert_array_equal(wrap[1], reference.words(seed, stream, 0, 1)[0])


# --- every rule, dtype and parameter set ---------------------------------------

FLOATS = ("float16", "bfloat16", "float32", "float64")

UNIFORMS = [
    Uniform(0.0, 1.0),
    Uniform(-1.0, 1.0),
    Uniform(0.5, 0.5),  # low == high
    Uniform(-3.0, -3.0),
    Uniform(1.0, 1.0 + 2.0**-20),  # narrower than a float16/bfloat16 ulp
    Uniform(1e-30, 3e-30),  # tiny: subnormal or zero in 16 bits
    Uniform(-1e-7, 1e-7),  # float16 subnormals
    Uniform(-1e30, 1e30),  # huge: beyond float16's range
    Uniform(-1e38, 1e38),  # near float32's range
    Uniform(-65504.0, 65504.0),  # float16's finite range exactly
    Uniform(123.25, 123.75),
]
NORMALS = [
    Normal(0.0, 1.0),
    Normal(0.0, 0.02),
    Normal(3.0, 0.0),  # std 0
    Normal(-2.5, 1e4),  # overflows float16
    Normal(1e-3, 1e-6),
]
TRUNCNORMS = [
    TruncatedNormal(0.0, 1.0, -2.0, 2.0),
    TruncatedNormal(0.0, 1.0, 3.0, 10.0),  # one-sided far tail
    TruncatedNormal(0.0, 1.0, -10.0, -3.0),  # the mirror tail
    TruncatedNormal(0.0, 1.0, -1000.0, 1000.0),  # 1000 sigma: the whole normal
    TruncatedNormal(0.0, 0.002, -2.0, 2.0),  # 1000 sigma, torch's default bounds
    TruncatedNormal(1.0, 2.0, 71.0, math.inf),  # 35 sigma, unbounded above
    TruncatedNormal(0.0, 1.0, -math.inf, -30.0),
    TruncatedNormal(0.5, 0.1, 0.45, 0.46),  # narrow interval
    TruncatedNormal(0.0, 1.0, -0.01, 1e-3),  # around the mean
]
BERNOULLIS = [Bernoulli(0.5), Bernoulli(0.1), Bernoulli(0.0), Bernoulli(1.0), Bernoulli(1e-9)]
MASKS = ("bool", "uint8", "float32", "float16", "bfloat16", "float64")
INTEGERS = [  # (distribution, dtypes)
    (Integers(0, 1), ("bool", "uint8", "int64")),
    (Integers(-128, 127), ("int8", "int16")),  # int8's whole range
    (Integers(0, 65535), ("uint16", "int32")),
    (Integers(7, 7), ("int8", "uint64")),  # one value: nothing is random
    (Integers(-3, 1000), ("int16", "int32", "int64")),
    (Integers(0, 2**31), ("uint32", "int64")),  # 2**31 + 1 values: half the tries rejected
    (Integers(-2**31, 2**31 - 1), ("int32",)),  # 2**32 values: no try rejected
    (Integers(0, 2**32), ("int64", "uint64")),  # the narrowest 64-bit span
    (Integers(-2**63, 2**62), ("int64",)),  # 3 * 2**62 + 1 values: a quarter rejected
    (Integers(0, 2**63), ("uint64",)),  # 2**63 + 1 values: half rejected
    (Integers(-2**63, 2**63 - 1), ("int64",)),  # 2**64 values
    (Integers(2**64 - 10, 2**64 - 1), ("uint64",)),
]

CASES = (
    [(Raw(), "uint32")]
    + [(d, t) for d in UNIFORMS for t in FLOATS
       if not (d == Uniform(1e-30, 3e-30) and t == "float16")]  # no float16 value: an error
    + [(d, t) for d in NORMALS for t in FLOATS]
    + [(d, t) for d in TRUNCNORMS for t in FLOATS]
    + [(d, t) for d in BERNOULLIS for t in MASKS]
    + [(d, t) for d, dtypes in INTEGERS for t in dtypes]
)
# one representative per (rule, dtype), for the costlier offset variants
FIRST_CASES = [(d, t) for i, (d, t) in enumerate(CASES)
               if all(type(d) is not type(e) or t != s for e, s in CASES[:i])]


def _id(case):
    return f"{case!r}"


def _bits(a):
    """Bit patterns, so NaN payloads and -0.0 compare exactly."""
    a = np.ascontiguousarray(a)
    return a.view(BITS[a.dtype.itemsize])


def _assert_same(expected, actual, what, names=("reference", "backend")):
    e, a = _bits(expected), _bits(actual)
    bad = np.flatnonzero(e != a)
    if bad.size:
        i = bad[0]
        raise AssertionError(
            f"{what}: {bad.size} of {e.size} elements differ; first at local index {i}: "
            f"{names[0]} {expected[i]!r} (0x{int(e[i]):x}) vs {names[1]} {actual[i]!r} "
            f"(0x{int(a[i]):x})")


@pytest.mark.parametrize("dist, dtype", CASES, ids=[_id(c) for c in CASES])
def test_generator_equals_reference(dist, dtype):
    rule = rule_for(dist, dtype)
    expected = reference.generate(rule, dtype, N, SEED, STREAM)
    assert expected.dtype == NUMPY[dtype] and expected.shape == (N,)
    actual = fastinit.Generator(SEED, STREAM).fill(np.empty(N, NUMPY[dtype]), dist)
    _assert_same(expected, actual, f"{dist} {dtype} ({rule.name})")


def _backend(rule, dtype, n, seed, stream, block0, start):
    buf = np.empty(n, STORAGE.get(dtype, NUMPY[dtype]))
    cpu.fill(host_view(buf, dtype), Draw(rule, seed, stream, block0, start))
    return buf.view(NUMPY[dtype])


OFFSETS = [
    # (n, start, block0)
    (5003, 1, 0),
    (N, 4099, 3),  # straddles a chunk edge
    (777, 12345, 2**33 + 7),  # block counter above 32 bits
    (N, 2**32 + 6, 2**64 - 1000),  # counter wraps past 2**64 inside the draw
]


@pytest.mark.parametrize("n, start, block0", OFFSETS)
@pytest.mark.parametrize("dist, dtype", FIRST_CASES, ids=[_id(c) for c in FIRST_CASES])
def test_backend_shards_equal_reference(dist, dtype, n, start, block0):
    rule = rule_for(dist, dtype)
    expected = reference.generate(rule, dtype, n, SEED, STREAM, block0, start)
    actual = _backend(rule, dtype, n, SEED, STREAM, block0, start)
    _assert_same(expected, actual, f"{dist} {dtype} ({rule.name}) start={start} block0={block0}")


@pytest.mark.parametrize("dist, dtype", [(TruncatedNormal(0.0, 0.002, -2.0, 2.0), "bfloat16"),
                                         (Normal(), "float64"), (Uniform(-1, 1), "float16")])
def test_seeds_and_streams_at_the_edges(dist, dtype):
    rule = rule_for(dist, dtype)
    for seed, stream in ((0, 0), (2**64 - 1, 2**64 - 1), (2**32, 1), (1, 2**32)):
        expected = reference.generate(rule, dtype, 1001, seed, stream, 5, 3)
        actual = _backend(rule, dtype, 1001, seed, stream, 5, 3)
        _assert_same(expected, actual, f"{dist} {dtype} seed={seed} stream={stream}")


@pytest.mark.parametrize("dist, dtype", FIRST_CASES, ids=[_id(c) for c in FIRST_CASES])
def test_reference_shards_are_slices_of_the_whole(dist, dtype):
    rule = rule_for(dist, dtype)
    whole = reference.generate(rule, dtype, 3000, 7, 11, 2)
    for start, stop in ((0, 1), (1, 2), (3, 1000), (999, 3000), (2999, 3000), (5, 5)):
        part = reference.generate(rule, dtype, stop - start, 7, 11, 2, start)
        np.testing.assert_array_equal(_bits(part), _bits(whole[start:stop]))


def test_successive_fills_follow_the_stream():
    """A second fill starts at the block after the first tensor: the reference with
    block0 = blocks_for(rule, n) is the generator's second call."""
    g = fastinit.Generator(SEED, STREAM)
    dist = Normal(0.0, 1.0)
    rule = rule_for(dist, "float32")
    g.fill(np.empty(N, np.float32), dist)
    second = g.fill(np.empty(101, np.float32), dist)
    expected = reference.generate(rule, "float32", 101, SEED, STREAM, blocks_for(rule, N))
    _assert_same(expected, second, "second fill")


# --- the reference keeps the interval contract it is the oracle of --------------


def test_reference_values_respect_intervals():
    for dist, dtype in CASES:
        rule = rule_for(dist, dtype)
        v = reference.generate(rule, dtype, 4096, 3, 4).astype(np.float64)
        if isinstance(dist, Uniform):
            if dist.low == dist.high:
                assert np.all(v == dist.low), (dist, dtype)
            else:
                assert np.all((v >= dist.low) & (v < dist.high)), (dist, dtype)
        elif isinstance(dist, TruncatedNormal):
            assert np.all((v >= dist.a) & (v <= dist.b)), (dist, dtype)
        elif isinstance(dist, Bernoulli):
            assert set(np.unique(v)) <= {0.0, 1.0}, (dist, dtype)
        elif isinstance(dist, Integers):
            exact = reference.generate(rule, dtype, 4096, 3, 4).astype(object)
            assert dist.low <= exact.min() and exact.max() <= dist.high, (dist, dtype)
        elif isinstance(dist, Normal) and dtype in ("float32", "float64"):
            assert np.all(np.isfinite(v)), (dist, dtype)


def test_uniform_interval_without_a_value_of_the_dtype_is_an_error():
    """docs/stream.md: an interval holding no value of the dtype is an error."""
    with pytest.raises(ValueError):
        rule_for(Uniform(1e-30, 3e-30), "float16")


# --- transforms at the words where branches turn, against core's scalar rules ---------

EDGE_WORDS = sorted({0, 1, 0xFF, 0x100, 0x1FF, 0x7FFFFFFF, 0x80000000, 0x800000FF,
                     0xFFFFFF00, 0xFFFFFFFE, 0xFFFFFFFF, 0x00200000, 0x001FFFFF, 0x3FFFFF00,
                     0x40000000, 0x5FFFFF00, 0x60000000, 0x9FFFFFFF, 0xA0000000,
                     0xDFFFFFFF, 0xE0000000, 0x6A09E667, 0xB504F300, 0xB504F400}
                    | set(np.random.default_rng(5).integers(0, 2**32, 200).tolist()))


def _same_as_core(want, got, what):
    """Numba returns Python scalars from core: cast them back to the reference's dtype
    (exact, as each was a value of that dtype)."""
    _assert_same(np.asarray(want).astype(got.dtype), got, what, ("core", "reference"))


def _scalar(fn, *cols):
    """core's scalar rule applied element by element."""
    out = [fn(*(np.uint64(c[i]) if c.dtype.kind == "u" else c.dtype.type(c[i]) for c in cols))
           for i in range(cols[0].size)]
    if isinstance(out[0], tuple):
        return tuple(np.array([o[j] for o in out]) for j in range(len(out[0])))
    return np.array(out)


def test_transforms_equal_core_at_edge_words():
    from fastinit import core

    w = np.array(EDGE_WORDS, np.uint64)
    pairs = (np.repeat(w, w.size), np.tile(w, w.size))
    small = (pairs[0][::7], pairs[1][::7])
    for name, args in (("u01_24", (w,)), ("u01_open32", (w,)), ("u01_53", small),
                       ("u01_open53", small), ("box_muller32", small)):
        got = getattr(reference, name)(*args)
        want = _scalar(getattr(core, name), *args)
        for g, e in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            _same_as_core(e, g, name)
    quads = (small[0], small[1], small[1][::-1], small[0][::-1])
    for g, e in zip(reference.box_muller64(*quads), _scalar(core.box_muller64, *quads)):
        _same_as_core(e, g, "box_muller64")
    k24 = np.array(sorted({(i << 20) + d for i in range(17) for d in (-1, 0, 1)
                           if 0 <= (i << 20) + d < 2**24}), np.uint64)
    for g, e in zip(reference.sincos_turn24(k24), _scalar(core.sincos_turn24, k24)):
        _same_as_core(e, g, "sincos_turn24")
    k53 = np.array(sorted({(i << 49) + d for i in range(17) for d in (-1, 0, 1)
                           if 0 <= (i << 49) + d < 2**53}), np.uint64)
    for g, e in zip(reference.sincos_turn53(k53), _scalar(core.sincos_turn53, k53)):
        _same_as_core(e, g, "sincos_turn53")


def test_log_ndtri_and_rounding_equal_core():
    from fastinit import core

    x64 = np.array([5e-324, 1e-310, 2.0**-1022, 1e-300, 2.0**-53, 0.0625, 0.075, 0.07500000001,
                    0.3, 0.5 - 2.0**-54, 0.5, 0.70710678118654752, 0.7071067811865476, 1.0,
                    1.4142135623730951, 2.0, 1e300], np.float64)
    _same_as_core(_scalar(core.log64, x64), reference.log64(x64), "log64")
    x32 = x64[(x64 > 1e-37) & (x64 < 1e38)].astype(np.float32)
    _same_as_core(_scalar(core.log32, x32), reference.log32(x32), "log32")
    p = x64[x64 <= 0.5]
    _same_as_core(_scalar(core.ndtri_lower, p), reference.ndtri_lower(p), "ndtri_lower")
    u = np.array([2.0**-33, 0.25, 0.5, 0.75, 1 - 2.0**-33])
    for pa, qb, mass in ((0.0, 0.0, 1.0), (0.02275, 0.02275, 0.9545), (1e-300, 0.5, 0.5 - 1e-300),
                         (0.99, 0.0, 0.01), (0.0, 0.9, 0.1)):
        want = _scalar(lambda x: core.truncnorm_std(x, pa, qb, mass), u)
        _same_as_core(want, reference.truncnorm_std(u, pa, qb, mass), "truncnorm_std")
    f = np.concatenate([
        np.array([0.0, -0.0, 1.0, 65504.0, 65519.99, 65520.0, 1e5, 2.0**-24, 2.0**-25,
                  3 * 2.0**-26, 2.0**-14, 2.0**-14 - 2.0**-25, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11,
                  1.0 + 2.0**-8, 1.0 + 3 * 2.0**-8, 3e38, 1e-40], np.float32),
        np.random.default_rng(6).standard_normal(300).astype(np.float32)])
    f = np.concatenate([f, -f])
    _same_as_core(_scalar(core.f16_bits, f), reference.f16_bits(f), "f16_bits")
    _same_as_core(_scalar(core.bf16_bits, f), reference.bf16_bits(f), "bf16_bits")
    # both rounding rules are numpy's / ml_dtypes' round to nearest even
    with np.errstate(over="ignore"):
        as_f16 = f.astype(np.float16)
    np.testing.assert_array_equal(reference.f16_bits(f), as_f16.view(np.uint16))
    np.testing.assert_array_equal(reference.bf16_bits(f),
                                  f.astype(ml_dtypes.bfloat16).view(np.uint16))
