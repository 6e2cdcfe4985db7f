"""The CUDA C in kernels/ writes what the CPU backend writes, bit for bit.

``tests/kernels_host.cpp`` compiles ``kernels/fill.cuh`` as plain C++17 through
``kernels/emulation.h`` (built once per session with the system C++ compiler, ``-O2
-ffp-contract=off``); an emulated launch runs every thread of every block in turn, so these
tests check what the kernels compute on any GPU, not how fast. Against
``fastinit.backends.cpu.fill`` on numpy buffers of the storage dtype, bit for bit:

- every (rule, store) pair a fastinit dtype uses, with awkward parameters (far one-sided
  tails, 1000-sigma bounds, p = 0 and 1, low == high);
- any grid and block shape, more threads than Philox blocks included;
- any shard ``[start, start + n)``: starting inside a Philox block or a CPU chunk, past 2**32,
  with ``block0`` near 2**32 and wrapping past 2**64, 64-bit seeds and streams;
- destinations not aligned for vector stores, sizes not a multiple of a block, n = 1 and 0;
- strided destinations (transposes, step slices, negative strides, 3-D);
- nothing outside the destination is written: a poison pattern before, after and between the
  destination's elements stays as it was;
- ``fill_constant`` and ``fill_constant_strided`` for every word size;
- ``fill_many``: one launch over a table of destinations of one dtype, every random family and
  constants mixed, writes each row what ``cpu.fill_many`` writes (sizes 0 to thousands of
  elements, shards as above, misaligned rows, thousands of rows, any launch shape) and nothing
  in the poisoned guard bands around each row;
- the Philox block function on Random123's known answers, and each transform of
  ``kernels/transforms.cuh`` against ``fastinit.core`` on edge inputs;
- ``kernels/constants.cuh`` is ``fastinit._constants.cuda_header()``, and the CUDA sources
  include no system header (NVRTC has none).

With ``nvcc`` on PATH, every kernel instantiation compiles to PTX for sm_90 with
``--fmad=false``, holds no ``fma`` instruction, and ``fill`` and ``fill_many`` store a whole
aligned Philox block (and ``fill_many`` a constant's 16-byte group) with one store as wide as
the block (16 bytes at most).
"""

import ctypes
import itertools
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import host_view, load_kat
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform, core
from fastinit._constants import cuda_header
from fastinit.arrays import constant_bits
from fastinit.backends import ENTRY, STORAGE, Draw, Table, cpu
from fastinit.registry import ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES, cuda_rules
from fastinit.distributions import rule_for

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ROOT / "kernels"

# fastinit dtype -> the store of kernels/fill.cuh that writes it, and the numpy storage dtype.
STORE = {"float32": "f32", "float64": "f64", "uint32": "u32", "bfloat16": "bf16",
         "float16": "f16", "bool": "u8", "uint8": "u8", "int8": "u8", "int16": "u16",
         "uint16": "u16", "int32": "u32", "int64": "u64", "uint64": "u64"}
FLOATS = ("float16", "bfloat16", "float32", "float64")

CASES = (
    [(Raw(), "uint32")]
    + [(Bernoulli(0.3), t) for t in ("bool", "uint8") + FLOATS]
    + [(Bernoulli(1.0), "bool"), (Bernoulli(0.0), "float16")]
    + [(Uniform(-1, 1), t) for t in FLOATS]
    + [(Uniform(3, 3), "float32"), (Uniform(-2.5, 1e-3), "bfloat16")]
    + [(Normal(0.5, 2), t) for t in FLOATS]
    + [(TruncatedNormal(0, 1, 3, 10), t) for t in FLOATS]
    + [(TruncatedNormal(0, 0.002, -2, 2), t) for t in FLOATS]
    + [(TruncatedNormal(1, 2, -math.inf, -9), t) for t in ("float32", "float64")]
    + [(Integers(-3, 1000), t) for t in ("int16", "int32", "int64")]
    + [(Integers(0, 1), "bool"), (Integers(-128, 127), "int8"), (Integers(0, 65535), "uint16")]
    # spans just above a power of two: about half of all tries are rejected
    + [(Integers(0, 2**31), "uint32"), (Integers(-2**63, 2**62), "int64")]
    + [(Integers(-2**63, 2**63 - 1), "int64"), (Integers(5, 2**64 - 1), "uint64")]
)


def case_id(case):
    if isinstance(case, str):
        return case
    return re.sub(r"\w+=", "", str(case)).replace(" ", "")


# Every (rule, store) pair, and the bytes of one Philox block's values in storage.
PAIRS = sorted({(rule_for(d, t).name, STORE[t]) for d, t in CASES})
WORD_BYTES = {"u8": 1, "u16": 2, "f16": 2, "bf16": 2, "u32": 4, "f32": 4, "u64": 8, "f64": 8}


def block_bytes(rule, store):
    return ELEMENTS_PER_BLOCK[rule] * WORD_BYTES[store]


def test_cases_cover_every_rule_and_store():
    assert len(PAIRS) == 23
    assert {r for r, _ in PAIRS} == set(ELEMENTS_PER_BLOCK)


# --- the host build -------------------------------------------------------------------------


_P, _N, _U64, _INT, _UINT, _D = (ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int,
                                  ctypes.c_uint, ctypes.c_double)
SIGNATURES = {  # tests/kernels_host.cpp's entry points
    "fastinit_fill": [ctypes.c_char_p, ctypes.c_char_p, _P, _U64, _U64, _U64, _N, _N, _P, _P, _P,
                      _INT, _UINT, _UINT],
    "fastinit_fill_constant": [_INT, _P, _N, _U64, _P, _P, _INT, _UINT, _UINT],
    "fastinit_fill_many": [ctypes.c_char_p, _P, _P, _INT, _N, _UINT, _UINT],
    "fastinit_launch": [ctypes.c_char_p, _UINT, _UINT, _P],
    "fastinit_philox_words": [_P, _P, _INT, _P],
    "fastinit_log32": [_P, _P, _N],
    "fastinit_log64": [_P, _P, _N],
    "fastinit_sincos_turn24": [_P, _P, _P, _N],
    "fastinit_sincos_turn53": [_P, _P, _P, _N],
    "fastinit_ndtri_lower": [_P, _P, _N],
    "fastinit_truncnorm_std": [_P, _D, _D, _D, _P, _N],
    "fastinit_neglog32": [_P, _P, _N],
    "fastinit_ndtri_lower32": [_P, _P, _N],
    "fastinit_truncnorm_std32": [_P, _D, _D, _D, _P, _N],
    "fastinit_bf16_bits": [_P, _P, _N],
    "fastinit_f16_bits": [_P, _P, _N],
    "fastinit_uniforms": [_P] * 9 + [_N],
}


class HostKernels:
    """kernels/fill.cuh through ctypes; each fill is one emulated launch of grid x block."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        for name, argtypes in SIGNATURES.items():
            getattr(self.lib, name).argtypes = argtypes

    @staticmethod
    def _layout(layout):
        if layout is None:
            return None, None, -1
        shape, strides = (np.ascontiguousarray(a, np.int64) for a in layout)
        return shape.ctypes.data, strides.ctypes.data, shape.size

    def fill(self, rule, store, buf, origin, *, seed, stream, block0, start, n, layout=None,
             grid=3, block=7):
        """fill<rule, store> (or fill_strided with layout = (shape, strides)) with dst at
        element ``origin`` of numpy array ``buf``."""
        params = np.zeros(7)
        params[:len(rule.params)] = [float(x) for x in rule.params]
        shape, strides, ndim = self._layout(layout)
        rc = self.lib.fastinit_fill(rule.name.encode(), store.encode(),
                                    buf.ctypes.data + origin * buf.itemsize, seed, stream,
                                    block0, start, n, params.ctypes.data, shape, strides, ndim,
                                    grid, block)
        assert rc == 0, f"no kernel for {rule.name}/{store}"

    def fill_constant(self, buf, origin, n, value, layout=None, grid=3, block=7):
        shape, strides, ndim = self._layout(layout)
        rc = self.lib.fastinit_fill_constant(buf.itemsize, buf.ctypes.data + origin * buf.itemsize,
                                             n, value, shape, strides, ndim, grid, block)
        assert rc == 0

    def fill_many(self, dtype, table, first, grid=3, block=7):
        """fill_many<store of dtype> over ``table`` (an ENTRY array) with prefix ``first``."""
        table, first = np.ascontiguousarray(table, ENTRY), np.ascontiguousarray(first, np.int64)
        rc = self.lib.fastinit_fill_many(STORE[dtype].encode(), table.ctypes.data,
                                         first.ctypes.data, len(table), int(first[-1]), grid,
                                         block)
        assert rc == 0, f"no fill_many for {dtype}"

    def transform(self, name, outputs, *inputs, scalars=()):
        """``fastinit_<name>(inputs..., scalars..., outputs..., n)`` over n-element input
        arrays; returns new output arrays, ``outputs`` = [(dtype, values per input)]."""
        n = len(inputs[0])
        outs = [np.zeros(n * k, dtype) for dtype, k in outputs]
        getattr(self.lib, f"fastinit_{name}")(*[a.ctypes.data for a in inputs], *scalars,
                                              *[o.ctypes.data for o in outs], n)
        return outs


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("clang++")
    if not cxx:
        pytest.skip("no C++ compiler (g++ or clang++; or set CXX) to build the host emulation")
    out = tmp_path_factory.mktemp("kernels_host") / "kernels_host.so"
    cmd = [cxx, "-std=c++17", "-O2", "-ffp-contract=off", "-shared", "-fPIC", "-I", str(KERNELS),
           str(ROOT / "tests" / "kernels_host.cpp"), "-o", str(out)]
    build = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert build.returncode == 0, f"{' '.join(cmd)}\n{build.stderr}"
    return HostKernels(out)


# --- buffers ----------------------------------------------------------------------------------

POISON = 0xA5  # every byte of a buffer before a fill


def poisoned(size, storage, align=64):
    """``size`` elements of ``storage``, every byte POISON, the first aligned to ``align``."""
    itemsize = np.dtype(storage).itemsize
    raw = np.full(size * itemsize + align, POISON, np.uint8)
    skip = -raw.ctypes.data % align
    return raw[skip:skip + size * itemsize].view(storage)


def as_bits(a):
    return a.view(f"u{a.itemsize}")


def assert_same_bits(actual, expected):
    a, e = as_bits(actual), as_bits(expected)
    diff = np.flatnonzero(a != e)
    assert diff.size == 0, (f"{diff.size} of {a.size} elements differ; first at {diff[0]}: "
                            f"kernel {int(a[diff[0]]):#x}, CPU {int(e[diff[0]]):#x}")


def assert_untouched(buf, written):
    """Every element of ``buf`` outside the offsets ``written`` still holds the poison."""
    keep = np.ones(buf.size, bool)
    keep[written] = False
    assert (buf.view(np.uint8).reshape(buf.size, -1)[keep] == POISON).all(), "wrote outside"


GUARD = 8  # poison elements on either side; keeps an unshifted destination 16-byte aligned
SEED, STREAM, BLOCK0 = 2**40 + 7, 2**35 + 9, 123


def check_fill(host, dist, dtype, *, n, start=0, shift=0, seed=SEED, stream=STREAM,
               block0=BLOCK0, grid=3, block=7):
    """A contiguous fill of n elements at GUARD + shift in a poisoned buffer: the kernel's
    buffer equals the CPU backend's, guards included, and the guards are untouched.
    Returns the kernel's n values."""
    rule, storage, origin = rule_for(dist, dtype), STORAGE[dtype], GUARD + shift
    expected = poisoned(origin + n + GUARD, storage)
    cpu.fill(host_view(expected, dtype, origin, n=n), Draw(rule, seed, stream, block0, start))
    actual = poisoned(origin + n + GUARD, storage)
    host.fill(rule, STORE[dtype], actual, origin, seed=seed, stream=stream, block0=block0,
              start=start, n=n, grid=grid, block=block)
    assert_same_bits(actual, expected)
    assert_untouched(actual, np.arange(origin, origin + n))
    return actual[origin:origin + n]


# --- contiguous fills -------------------------------------------------------------------------


@pytest.mark.parametrize("start", [0, 1, 3, 5, 4095], ids=lambda s: f"start={s}")
@pytest.mark.parametrize("dist, dtype", CASES, ids=case_id)
def test_every_rule_and_store_matches_the_cpu_backend(host, dist, dtype, start):
    for n in (1, 6, 2503):
        check_fill(host, dist, dtype, start=start, n=n)


LAUNCHES = [(1, 1), (1, 32), (3, 7), (5, 64), (64, 128), (1000, 1)]


@pytest.mark.parametrize("grid, block", LAUNCHES, ids=[f"{g}x{b}" for g, b in LAUNCHES])
def test_any_launch_shape_gives_the_same_values(host, grid, block):
    for dist, dtype in CASES:
        check_fill(host, dist, dtype, start=5, n=2503, grid=grid, block=block)


ADDRESSING = {
    "start past 2**32": {"start": 2**32 + 3},
    "start past 2**36 at a block edge": {"start": 2**36},
    "block0 carries into the high counter word": {"block0": 2**32 - 5},
    "block0 wraps past 2**64": {"block0": 2**64 - 7},
    "64-bit seed and stream": {"seed": 0xFEDCBA9876543210, "stream": 2**64 - 1},
}


@pytest.mark.parametrize("where", ADDRESSING.values(), ids=ADDRESSING.keys())
def test_counter_addressing_of_any_shard(host, where):
    """Only (seed, stream, block0 + i // E) names element i's block; 64-bit throughout."""
    for dist, dtype in CASES:
        check_fill(host, dist, dtype, n=300, **where)


@pytest.mark.parametrize("shift", [1, 2, 3], ids=lambda s: f"shift={s}")
def test_destinations_not_aligned_for_vector_stores(host, shift):
    for dist, dtype in CASES:
        for start in (0, 8):
            check_fill(host, dist, dtype, start=start, n=1001, shift=shift)


def test_clip_breaks_ties_as_numbas_max_and_min(host):
    """Uniform(-0.0, 1) at a word whose top 24 bits are 0 (seed 7, block 6107189, word 2):
    -0.0 + 1 * 0.0 = +0.0 ties with the lower limit -0.0, and Numba's max(v, lo) keeps v."""
    values = check_fill(host, Uniform(-0.0, 1), "float32", seed=7, stream=0, block0=6107189, n=4)
    assert as_bits(values)[2] == 0


def test_empty_fill_writes_nothing(host):
    for dist, dtype in CASES:
        buf = poisoned(16, STORAGE[dtype])
        host.fill(rule_for(dist, dtype), STORE[dtype], buf, 4, seed=1, stream=2, block0=3,
                  start=5, n=0)
        assert_untouched(buf, [])


# --- strided fills ----------------------------------------------------------------------------

# name -> a view of a 1-D base of 720 elements
LAYOUTS = {
    "transpose": lambda a: a[:720].reshape(24, 30).T,
    "step slice": lambda a: a[5::7],
    "negative stride": lambda a: a[::-1],
    "negative 2-D": lambda a: a.reshape(20, 36)[::-1, 1::3],
    "3-D mixed": lambda a: a.reshape(6, 10, 12)[:, ::-2, 1:11].transpose(2, 0, 1),
}


def view_layout(make_view):
    """(origin, shape, strides) in elements of the view ``make_view`` takes of a 1-D base,
    and the offsets of the view's elements in C order."""
    base = np.arange(720, dtype=np.int64)
    view = make_view(base)
    origin = (view.ctypes.data - base.ctypes.data) // base.itemsize
    strides = tuple(s // base.itemsize for s in view.strides)
    return origin, view.shape, strides, view.ravel()


@pytest.mark.parametrize("make_view", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_strided_destinations(host, make_view):
    origin, shape, strides, offsets = view_layout(make_view)
    for dist, dtype in CASES:
        rule, storage = rule_for(dist, dtype), STORAGE[dtype]
        for start in (0, 3):
            expected = poisoned(720, storage)
            cpu.fill(host_view(expected, dtype, origin, shape, strides, offsets.size),
                     Draw(rule, SEED, STREAM, BLOCK0, start))
            actual = poisoned(720, storage)
            host.fill(rule, STORE[dtype], actual, origin, seed=SEED, stream=STREAM,
                      block0=BLOCK0, start=start, n=offsets.size, layout=(shape, strides))
            assert_same_bits(actual, expected)
            assert_untouched(actual, offsets)


# --- constant fills ---------------------------------------------------------------------------

CONSTANTS = {np.uint8: 0x5A, np.uint16: 0xBEEF, np.uint32: 0x3F800001,
             np.uint64: 0x0123456789ABCDEF}


@pytest.mark.parametrize("word", CONSTANTS, ids=lambda w: np.dtype(w).name)
def test_fill_constant_writes_exactly_n_words(host, word):
    value = CONSTANTS[word]
    for grid, block in [(1, 1), (3, 7), (64, 128)]:
        for shift in range(4):
            for n in (0, 1, 5, 37, 1000):
                buf = poisoned(GUARD + shift + n + GUARD, word)
                host.fill_constant(buf, GUARD + shift, n, value, grid=grid, block=block)
                assert (buf[GUARD + shift:GUARD + shift + n] == value).all()
                assert_untouched(buf, np.arange(GUARD + shift, GUARD + shift + n))


@pytest.mark.parametrize("word", CONSTANTS, ids=lambda w: np.dtype(w).name)
def test_fill_constant_strided(host, word):
    value = CONSTANTS[word]
    for make_view in LAYOUTS.values():
        origin, shape, strides, offsets = view_layout(make_view)
        buf = poisoned(720, word)
        host.fill_constant(buf, origin, offsets.size, value, layout=(shape, strides))
        assert (buf[offsets] == value).all()
        assert_untouched(buf, offsets)


# --- many destinations in one launch ---------------------------------------------------------


def many_first(dtype, table):
    """fill_many's ``first``: the prefix sums, from 0, of the rows' work items as
    kernels/README.md defines them: the Philox blocks [start // E, ceil((start + n) / E)) of a
    random row, the 16-byte groups covering a constant row (the first one starting at the
    16-byte boundary at or below ptr), none when n is 0."""
    itemsize = np.dtype(STORAGE[dtype]).itemsize
    group = 16 // itemsize
    counts = []
    for row in table:
        n, start, ptr = int(row["n"]), int(row["start"]), int(row["ptr"])
        if n == 0:
            counts.append(0)
        elif FAMILIES[row["family"]] == "constant":
            phase = ptr % 16 // itemsize if ptr % itemsize == 0 else 0
            counts.append(-(-(phase + n) // group))
        else:
            epb = ELEMENTS_PER_BLOCK[FAMILY_RULES[dtype][row["family"]]]
            counts.append(-(-(start + n) // epb) - start // epb)
    return np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])


MANY_DTYPES = tuple(FAMILY_RULES)
# a random distribution, or a float for a constant row of that value
MANY_FILLS = [Uniform(-1, 1), Normal(0.5, 2), TruncatedNormal(0, 1, 3, 10), 0.7,
              Uniform(-2.5, 1e-3), TruncatedNormal(0, 0.002, -2, 2), -3.25,
              TruncatedNormal(1, 2, -math.inf, -9)]  # the last for float32 and float64 only
MANY_SIZES = (1, 2, 3, 7, 8, 9, 17, 0, 100, 1001, 4099)  # 11: coprime with the combinations
MANY_STARTS = (0, 1, 3, 5, 4095, 2**32 + 3, 2**36)
MANY_SHIFTS = (0, 1, 2, 3)  # elements past a 16-byte boundary
MANY_BLOCK0S = (BLOCK0, 2**32 - 5, 2**64 - 7)
ROW_SPACING = 8  # rows begin at multiples of 8 elements (16-byte aligned) plus their shift


def many_fills(dtype):
    return MANY_FILLS if dtype in ("float32", "float64") else MANY_FILLS[:-1]


def many_specs(dtype, count=None, sizes=MANY_SIZES):
    """Rows over every (start, shift, fill) combination (``count`` rows: cycling through them
    or stopping early), with sizes and block0s cycling beside, each row on its own stream."""
    combos = list(itertools.product(MANY_STARTS, MANY_SHIFTS, many_fills(dtype)))
    count = len(combos) if count is None else count
    return [{"start": start, "shift": shift, "fill": fill, "n": sizes[r % len(sizes)],
             "block0": MANY_BLOCK0S[r % len(MANY_BLOCK0S)], "stream": STREAM + r}
            for r, (start, shift, fill) in zip(range(count), itertools.cycle(combos))]


def many_layout(specs):
    """Element offsets of the rows in one buffer, and its length: GUARD poisoned elements
    before and after each row."""
    offsets, at = [], 0
    for spec in specs:
        offsets.append(at + GUARD + spec["shift"])
        at += -(-(GUARD + spec["shift"] + spec["n"] + GUARD) // ROW_SPACING) * ROW_SPACING
    return offsets, at


def many_table(address, dtype, specs, offsets):
    """The ENTRY table of ``specs``, rows at element ``offsets`` of a buffer at ``address``."""
    itemsize = np.dtype(STORAGE[dtype]).itemsize
    table = np.zeros(len(specs), ENTRY)
    for row, spec, offset in zip(table, specs, offsets):
        row["ptr"] = address + offset * itemsize
        row["n"], row["start"], row["seed"] = spec["n"], spec["start"], SEED
        row["stream"], row["block0"] = spec["stream"], spec["block0"]
        if isinstance(spec["fill"], float):
            row["family"] = FAMILIES.index("constant")
            row["bits"] = constant_bits(dtype, spec["fill"])
        else:
            rule = rule_for(spec["fill"], dtype)
            row["family"] = FAMILY_RULES[dtype].index(rule.name)
            row["params"][:len(rule.params)] = [float(v) for v in rule.params]
    return table


def check_fill_many(host, dtype, specs, grid=3, block=7):
    """fill_many over rows laid out with guard bands in a poisoned buffer: the buffer equals
    the one ``cpu.fill_many`` writes, guards included, and every guard is untouched."""
    offsets, length = many_layout(specs)
    storage = STORAGE[dtype]
    expected = poisoned(length, storage)
    cpu.fill_many(Table(many_table(expected.ctypes.data, dtype, specs, offsets), dtype, None, 0))
    actual = poisoned(length, storage)
    table = many_table(actual.ctypes.data, dtype, specs, offsets)
    host.fill_many(dtype, table, many_first(dtype, table), grid=grid, block=block)
    assert_same_bits(actual, expected)
    written = [np.arange(o, o + s["n"]) for o, s in zip(offsets, specs)]
    assert_untouched(actual, np.concatenate(written + [np.zeros(0, np.int64)]))


@pytest.mark.parametrize("grid, block", LAUNCHES, ids=[f"{g}x{b}" for g, b in LAUNCHES])
@pytest.mark.parametrize("dtype", MANY_DTYPES)
def test_fill_many_writes_every_row_what_the_cpu_backend_writes(host, dtype, grid, block):
    """One table mixing every family and constants: sizes 0 to 4099 elements, shards starting
    inside a Philox block and past 2**32, block0 carrying into the high word and wrapping past
    2**64, rows 16-byte aligned and not; on any launch shape."""
    check_fill_many(host, dtype, many_specs(dtype), grid=grid, block=block)


@pytest.mark.parametrize("grid, block", [(1, 1), (2, 5), (64, 128)])
def test_fill_many_thousands_of_small_rows(host, grid, block):
    """Threads leave a row after one item and skip many rows at once, empty ones among them."""
    for dtype in MANY_DTYPES:
        check_fill_many(host, dtype, many_specs(dtype, 3000, sizes=(1, 0, 5, 2, 9, 0, 3, 4, 1)),
                        grid=grid, block=block)


def test_fill_many_of_empty_tables_writes_nothing(host):
    for dtype in MANY_DTYPES:
        host.fill_many(dtype, np.zeros(0, ENTRY), np.zeros(1, np.int64))
        specs = [dict(spec, n=0) for spec in many_specs(dtype, 9)]
        offsets, length = many_layout(specs)
        buf = poisoned(length, STORAGE[dtype])
        table = many_table(buf.ctypes.data, dtype, specs, offsets)
        first = many_first(dtype, table)
        assert first.tolist() == [0] * 10
        host.fill_many(dtype, table, first)
        assert_untouched(buf, [])


# --- Philox and the transforms ----------------------------------------------------------------


@pytest.mark.parametrize("rounds, counter, key, expected", load_kat())
def test_philox_known_answers(host, rounds, counter, key, expected):
    out = np.zeros(4, np.uint32)
    host.lib.fastinit_philox_words(np.array(counter, np.uint32).ctypes.data,
                                   np.array(key, np.uint32).ctypes.data, rounds, out.ctypes.data)
    assert out.tolist() == expected


RNG = np.random.default_rng(20240521)
EDGE_WORDS = np.array([0, 1, 2, 0xFF, 0x100, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x7FFFFFFF,
                       0x80000000, 0xFFFFFF00, 0xFFFFFFFE, 0xFFFFFFFF], np.uint32)
WORDS = np.concatenate([EDGE_WORDS, RNG.integers(0, 2**32, 500, dtype=np.uint32)])


def core_map(fn, *inputs):
    """fastinit.core's ``fn`` (Numba-compiled) over the elements of ``inputs``."""
    return [fn(*args) for args in zip(*inputs)]


def test_uniforms_and_box_muller_match_core(host):
    wa, wb = WORDS, np.roll(WORDS[::-1], 3)
    u24, u16, u53, open32, open53, bm32, bm64 = host.transform(
        "uniforms", [(np.float32, 1), (np.float32, 1), (np.float64, 1), (np.float64, 1),
                     (np.float64, 1), (np.float32, 2), (np.float64, 2)], wa, wb)
    assert_same_bits(u24, np.array(core_map(core.u01_24, wa), np.float32))
    assert_same_bits(u16, np.array(core_map(core.u01_16, wa & np.uint32(0xFFFF)), np.float32))
    assert_same_bits(u53, np.array(core_map(core.u01_53, wa, wb)))
    assert_same_bits(open32, np.array(core_map(core.u01_open32, wa)))
    assert_same_bits(open53, np.array(core_map(core.u01_open53, wa, wb)))
    assert_same_bits(bm32, np.array(core_map(core.box_muller32, wa, wb), np.float32).ravel())
    assert_same_bits(bm64, np.array(core_map(core.box_muller64, wa, wb, wb, wa)).ravel())


def _positive(bits, dtype):
    return bits.view(dtype)[np.isfinite(bits.view(dtype)) & (bits.view(dtype) > 0)]


def test_log_matches_core(host):
    x32 = np.concatenate([
        np.array([np.finfo(np.float32).tiny, 2.0**-24, 0.5, 0.7071067, 0.70710677, 0.7071068,
                  1 - 2.0**-24, 1.0, 1.0000001, 1.4142135, 1.4142137, 2.0, 3.4e38], np.float32),
        _positive(RNG.integers(0x00800000, 0x7F800000, 500, dtype=np.uint32), np.float32)])
    assert_same_bits(host.transform("log32", [(np.float32, 1)], x32)[0],
                     np.array(core_map(core.log32, x32), np.float32))
    x64 = np.concatenate([
        np.array([5e-324, 2.0**-1074 * 3, 2.0**-1023, 2.0**-1023 * 1.5,
                  2.0**-1022 * (1 - 2.0**-52), 2.0**-1022, 2.0**-53, 0.5, 1 - 2.0**-53, 1.0,
                  1 + 2.0**-52, math.sqrt(2), 2.0, 1.7e308]),
        RNG.integers(1, 2**52, 100, dtype=np.uint64).view(np.float64),  # subnormals
        _positive(RNG.integers(1, 0x7FF0000000000000, 500, dtype=np.uint64), np.float64)])
    assert_same_bits(host.transform("log64", [(np.float64, 1)], x64)[0],
                     np.array(core_map(core.log64, x64)))


def test_sincos_of_turns_matches_core(host):
    quarter24, quarter53 = 1 << 22, 1 << 51
    k24 = np.concatenate([
        np.array([q * quarter24 + d for q in range(4) for d in (0, 1, (1 << 21) - 1, 1 << 21)]
                 + [(1 << 24) - 1], np.uint32),
        RNG.integers(0, 1 << 24, 500, dtype=np.uint32)])
    s, c = host.transform("sincos_turn24", [(np.float32, 1), (np.float32, 1)], k24)
    sc = np.array(core_map(core.sincos_turn24, k24), np.float32)
    assert_same_bits(s, sc[:, 0])
    assert_same_bits(c, sc[:, 1])
    k53 = np.concatenate([
        np.array([q * quarter53 + d for q in range(4) for d in (0, 1, (1 << 50) - 1, 1 << 50)]
                 + [(1 << 53) - 1], np.uint64),
        RNG.integers(0, 1 << 53, 500, dtype=np.uint64)])
    s, c = host.transform("sincos_turn53", [(np.float64, 1), (np.float64, 1)], k53)
    sc = np.array(core_map(core.sincos_turn53, k53))
    assert_same_bits(s, sc[:, 0])
    assert_same_bits(c, sc[:, 1])


def test_inverse_normal_cdf_matches_core(host):
    """Each of AS241's three branches and their edges (p = 0.075; -log p = 25)."""
    p = np.concatenate([
        np.array([5e-324, 1e-300, 1e-20, math.exp(-25) * 0.999, math.exp(-25),
                  math.exp(-25) * 1.001, 0.075 - 1e-17, 0.075, 0.075 + 1e-17, 0.3, 0.5]),
        10.0 ** RNG.uniform(-300, math.log10(0.5), 500)])
    assert_same_bits(host.transform("ndtri_lower", [(np.float64, 1)], p)[0],
                     np.array(core_map(core.ndtri_lower, p)))
    u = np.concatenate([[2.0**-53, 2.0**-33, 0.5, 1 - 2.0**-33, 1 - 2.0**-53],
                        RNG.uniform(0, 1, 300)])
    for dist in (TruncatedNormal(0, 1, 3, 10), TruncatedNormal(0, 1, -math.inf, -9),
                 TruncatedNormal(0, 1, -8, 8)):
        pa, qb, mass = rule_for(dist, "float64").params[:3]
        got = host.transform("truncnorm_std", [(np.float64, 1)], u, scalars=(pa, qb, mass))[0]
        assert_same_bits(got, np.array([core.truncnorm_std(x, pa, qb, mass) for x in u]))
        got = host.transform("truncnorm_std32", [(np.float32, 1)], u, scalars=(pa, qb, mass))[0]
        assert_same_bits(got, np.array([core.truncnorm_std32(x, pa, qb, mass) for x in u],
                                       np.float32))


def test_inverse_normal_cdf_of_32_bit_outputs_matches_core(host):
    """PPND7's three branches, fastinit's band, and their edges, and -log p down to
    subnormal p."""
    p = np.concatenate([
        np.array([5e-324, 1e-310, 2.0**-1022, 1e-300, 1e-40, 1e-20, math.exp(-25) * 0.999,
                  math.exp(-25), math.exp(-25) * 1.001, 0.02 - 1e-9, 0.02, 0.02 + 1e-9,
                  0.075 - 1e-9, 0.075, 0.075 + 1e-9, 0.3, 0.5 - 1e-12, 0.5]),
        10.0 ** RNG.uniform(-320, math.log10(0.5), 500), RNG.uniform(0.0, 0.5, 1000),
        RNG.uniform(0.02, 0.075, 500)])
    assert_same_bits(host.transform("neglog32", [(np.float32, 1)], p)[0],
                     np.array(core_map(core.neglog32, p), np.float32))
    assert_same_bits(host.transform("ndtri_lower32", [(np.float32, 1)], p)[0],
                     np.array(core_map(core.ndtri_lower32, p), np.float32))


def test_rounding_to_16_bits_matches_core(host):
    """Ties to even, half subnormals, the overflow edge, signed zeros."""
    edges = [0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e10, -1e10, 2.0**-14,
             2.0**-24, 2.0**-25, 2.0**-25 * 3, 2.0**-26, 1e-40, -1e-40, 3.4e38]
    ties = (np.arange(1, 400, dtype=np.uint32) << np.uint32(12)) | np.uint32(0x3F800000)
    x = np.concatenate([np.array(edges, np.float32), ties.view(np.float32),
                        ties.view(np.float32) / np.float32(2.0**20),
                        (ties | np.uint32(0x1000)).view(np.float32),
                        _positive(RNG.integers(0, 0x7F800000, 500, dtype=np.uint32), np.float32)])
    x = np.concatenate([x, -x])
    for name, fn in (("bf16_bits", core.bf16_bits), ("f16_bits", core.f16_bits)):
        got = host.transform(name, [(np.uint16, 1)], x)[0]
        assert_same_bits(got, np.array(core_map(fn, x), np.uint16))


# --- the sources ------------------------------------------------------------------------------


def test_constants_header_is_generated_from_the_python_constants():
    assert (KERNELS / "constants.cuh").read_text() == cuda_header(), (
        "kernels/constants.cuh is stale; regenerate it as kernels/README.md says")


def test_rules_header_is_generated_from_the_registry():
    assert (KERNELS / "rules.cuh").read_text() == cuda_rules(), (
        "kernels/rules.cuh is stale; regenerate it as kernels/README.md says")


def test_constants_header_literals_are_exact():
    """Each hex literal is the Python value beside it: rounded to float32 once (np.float32,
    as fastinit.core does) where it has an f suffix, else the double itself."""
    literals = re.findall(r"(-?0x[0-9a-f.]+p[-+]\d+)(f?)[,;]  // (\S+)", cuda_header())
    assert len(literals) == 137
    for literal, suffix, value in literals:
        exact = np.float32(float(value)) if suffix else float(value)
        assert float.fromhex(literal) == exact, literal


def test_cuda_sources_include_no_system_header():
    """NVRTC has no system headers: outside `#ifndef __CUDACC__` blocks, only kernels/ files."""
    for path in sorted(KERNELS.glob("*.cu*")):
        host_only = 0
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("#ifndef __CUDACC__"):
                host_only += 1
            elif line.startswith("#endif") and host_only:
                host_only -= 1
            elif line.startswith("#include") and not host_only:
                name = re.fullmatch(r'#include\s+"([\w.]+)"', line)
                assert name and (KERNELS / name[1]).is_file(), f"{path.name}: {line}"


# --- nvcc -----------------------------------------------------------------------------------

WORDS_C = ("unsigned char", "unsigned short", "unsigned int", "unsigned long long")
RULE_ARGS = "void*, Counter, long long, long long, Params"
MANY_ARGS = "const Entry*, const long long*, int, long long"


def instantiations():
    lines = ['#include "fastinit.cu"', "namespace fastinit {"]
    for rule, store in PAIRS:
        lines.append(f"template __global__ void fill<rule::{rule}, store::{store}>({RULE_ARGS});")
        lines.append(f"template __global__ void fill_strided<rule::{rule}, store::{store}>"
                     f"({RULE_ARGS}, Layout);")
    for word in WORDS_C:
        lines.append(f"template __global__ void fill_constant<{word}>(void*, long long, {word});")
        lines.append(f"template __global__ void fill_constant_strided<{word}>"
                     f"(void*, long long, {word}, Layout);")
    for dtype in MANY_DTYPES:
        lines.append(f"template __global__ void fill_many<store::{STORE[dtype]}>({MANY_ARGS});")
    return "\n".join(lines + ["}", ""])


@pytest.fixture(scope="module")
def ptx(tmp_path_factory):
    """PTX of every kernel instantiation, by demangled-ish name ("fill<normal32,f16>")."""
    nvcc = shutil.which("nvcc")
    if not nvcc:
        pytest.skip("nvcc is not on PATH")
    tmp = tmp_path_factory.mktemp("ptx")
    (tmp / "instances.cu").write_text(instantiations())
    cmd = [nvcc, "-ptx", "-arch=sm_90", "--fmad=false", "-std=c++17", "-I", str(KERNELS),
           str(tmp / "instances.cu"), "-o", str(tmp / "instances.ptx")]
    build = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert build.returncode == 0, f"{' '.join(cmd)}\n{build.stderr}"
    functions = re.split(r"(?=\.visible \.entry )", (tmp / "instances.ptx").read_text())[1:]
    return {kernel_name(re.match(r"\.visible \.entry (\w+)\(", f)[1]): f for f in functions}


ITANIUM_WORDS = {"h": "u8", "t": "u16", "j": "u32", "y": "u64"}  # template argument codes


def kernel_name(mangled):
    """"fill<normal32,f16>", "fill_constant<u16>" or "fill_many<f16>" from a kernel's mangled
    name."""
    length = re.match(r"_ZN8fastinit(\d+)", mangled)
    end = length.end() + int(length[1])
    kernel = mangled[length.end():end]
    if kernel.startswith("fill_constant"):
        return f"{kernel}<{ITANIUM_WORDS[mangled[end + 1]]}>"
    names = []
    for part in ("4rule", "5store"):
        length = re.search(part + r"(\d+)", mangled)
        if length:
            names.append(mangled[length.end():length.end() + int(length[1])])
    return f"{kernel}<{','.join(names)}>"


def test_every_kernel_compiles_to_ptx_without_fma(ptx):
    assert len(ptx) == 2 * len(PAIRS) + 2 * len(WORDS_C) + len(MANY_DTYPES)
    with_fma = [name for name, body in ptx.items() if "fma." in body]
    assert not with_fma


def widest_store(body):
    """Bytes of the widest global store instruction in a PTX function."""
    widths = [int(vec or 1) * int(bits) // 8 for vec, bits in
              re.findall(r"st\.global(?:\.v(\d))?\.[bfsu](\d+)", body)]
    return max(widths)


@pytest.mark.parametrize("rule, store", PAIRS, ids=lambda x: x)
def test_fill_stores_an_aligned_block_with_one_vector_store(ptx, rule, store):
    body = ptx[f"fill<{rule},{store}>"]
    assert widest_store(body) == min(block_bytes(rule, store), 16)
    stores_16 = len(re.findall(r"st\.global\.v4\.", body))
    assert stores_16 == block_bytes(rule, store) // 16


def test_fill_constant_uses_16_byte_stores(ptx):
    for word in ITANIUM_WORDS.values():
        assert widest_store(ptx[f"fill_constant<{word}>"]) == 16, word


@pytest.mark.parametrize("dtype", MANY_DTYPES)
def test_fill_many_stores_aligned_blocks_with_one_vector_store_each(ptx, dtype):
    """Each random family's whole aligned block goes out in one store as wide as the block,
    a constant's 16-byte group in one 16-byte store; every store is to global memory."""
    body = ptx[f"fill_many<{STORE[dtype]}>"]
    widths = [block_bytes(rule, STORE[dtype]) for rule in FAMILY_RULES[dtype]] + [16]
    expected = {"v4": sum(w // 16 for w in widths), "v2": sum(w == 8 for w in widths)}
    for vector, count in expected.items():
        assert len(re.findall(rf"st\.global\.{vector}\.", body)) == count, vector
    stores = re.findall(r"\bst\.(\w+)", body)
    assert stores and set(stores) == {"global"}
