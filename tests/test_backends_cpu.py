"""The CPU kernel: independent of how its chunks are split, and the same code runs
as plain Python (NUMBA_DISABLE_JIT=1), as the CUDA simulator will run it. The
multi-tensor fill writes into each row of its table exactly what a fill of that row
alone writes, and nothing else."""

import os
import select
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from fastinit.arrays import constant_bits
from fastinit.backends import ENTRY, FAMILIES, FAMILY_RULES, STORAGE, cpu
from fastinit.distributions import rule_for

CASES = [(Raw(), "uint32"), (Bernoulli(0.4), "bool"), (Bernoulli(0.4), "float32")] + [
    (d, t) for d in (Uniform(-1, 2), Normal(0.5, 2), TruncatedNormal(0, 1, -1, 3))
    for t in ("float16", "bfloat16", "float32", "float64")] + [
    # spans just above a power of two: about half the tries are rejected and redrawn
    (Integers(-7, 2**31 - 7), "int32"), (Integers(-2**63, 2**62), "int64"),
    (Integers(0, 9), "uint8")]


@pytest.mark.parametrize("dist, dtype", CASES, ids=str)
def test_any_split_into_parallel_runs_gives_the_same_values(dist, dtype, monkeypatch):
    n = 5 * cpu.CHUNK + 77
    results = []
    for parts in (1, 2, 3, 7, 64):
        monkeypatch.setattr(cpu, "_parts", lambda chunks, parts=parts: parts)
        buf = np.zeros(n, STORAGE[dtype])
        cpu.fill(buf, 0, (), (), rule_for(dist, dtype), dtype, 5, 9, 123, 1000, n)
        results.append(buf.tobytes())
    assert len(set(results)) == 1


_SCRIPT = """
import sys, numpy as np, fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from fastinit.generator import numpy_dtype
for dist, dtype in {cases}:
    out = np.empty(37, numpy_dtype(dtype))
    fastinit.Generator(3, 1).fill(out, dist, start=4090, numel=4200)
    sys.stdout.write(out.tobytes().hex() + "\\n")
"""


def test_pure_python_run_equals_the_compiled_kernel():
    script = _SCRIPT.format(cases=repr(CASES))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    python = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True, timeout=600)
    compiled = []
    for dist, dtype in CASES:
        from fastinit.generator import numpy_dtype

        out = np.empty(37, numpy_dtype(dtype))
        fastinit.Generator(3, 1).fill(out, dist, start=4090, numel=4200)
        compiled.append(out.tobytes().hex())
    assert python.stdout.split() == compiled


# --- fill_many ----------------------------------------------------------------------

POISON = {2: 0xDEAD, 4: 0xDEADBEEF, 8: 0xDEADBEEFDEADBEEF}
MANY = [Uniform(-0.5, 0.25), Normal(0.5, 0.02), TruncatedNormal(0.0, 1.0, -2.0, 0.5), 0.3]
# (n, start): single elements, a chunk and a bit, shards starting inside a Philox block
# and inside a chunk, a shard past 2**32 elements
SIZES = [(1, 0), (7, 0), (cpu.CHUNK + 3, 0), (3 * cpu.CHUNK + 5, 4093), (17, 5),
         (9, 2**32 + 3), (0, 0)]


def _row(dist, dtype, n, start, ptr, stream):
    row = np.zeros((), ENTRY)
    row["ptr"], row["n"], row["start"], row["seed"], row["stream"] = ptr, n, start, 11, stream
    row["block0"] = 2**64 - 3 if stream % 3 == 0 else 0  # the block counter wraps
    if isinstance(dist, float):
        row["family"], row["bits"] = FAMILIES.index("constant"), constant_bits(dtype, dist)
    else:
        rule = rule_for(dist, dtype)
        row["family"] = FAMILY_RULES[dtype].index(rule.name)
        row["params"][:len(rule.params)] = [float(v) for v in rule.params]
    return row


def _expected(row, dist, dtype, storage):
    out = np.empty(int(row["n"]), storage)
    if isinstance(dist, float):
        out[...] = np.array(int(row["bits"]), np.uint64).astype(out.dtype) if out.itemsize == 2 \
            else np.array(dist, storage)
        return out
    cpu.fill(out, 0, (), (), rule_for(dist, dtype), dtype, 11, int(row["stream"]),
             int(row["block0"]), int(row["start"]), int(row["n"]))
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("parts", [1, 3, 64])
def test_fill_many_writes_each_row_what_its_own_fill_writes(dtype, parts, monkeypatch):
    monkeypatch.setattr(cpu, "_parts", lambda chunks: parts)
    storage = STORAGE[dtype]
    word = np.dtype(f"u{np.dtype(storage).itemsize}")
    cases = [(dist, n, start) for dist in MANY for n, start in SIZES]
    gap = 3  # poisoned elements before, between and after the rows
    total = gap + sum(n + gap for _, n, _ in cases) + 1  # + 1: an odd address for 2-byte rows
    buf = np.full(total, POISON[word.itemsize], word)
    rows, expected, at = [], np.full(total, POISON[word.itemsize], word), gap + 1
    for stream, (dist, n, start) in enumerate(cases):
        row = _row(dist, dtype, n, start, buf.ctypes.data + at * word.itemsize, stream)
        rows.append(row)
        expected[at:at + n] = _expected(row, dist, dtype, storage).view(word)
        at += n + gap
    rows = np.array(rows, ENTRY)
    np.random.default_rng(0).shuffle(rows)  # the table's order changes nothing
    cpu.fill_many(dtype, rows)
    assert np.array_equal(buf, expected)


@pytest.mark.parametrize("dtype", list(FAMILY_RULES))
def test_fill_many_of_empty_rows_writes_nothing(dtype):
    """A table of no rows, and one of empty rows of every family pointing into a
    poisoned buffer, leave every byte as it was."""
    buf = np.full(256, 0x5A, np.uint8)
    cpu.fill_many(dtype, np.zeros(0, ENTRY))
    rows = np.zeros(2 * len(FAMILIES), ENTRY)
    rows["ptr"] = buf.ctypes.data + 16 * np.arange(len(rows))
    rows["family"] = np.arange(len(rows)) % len(FAMILIES)
    rows["start"] = np.arange(len(rows)) * 5
    rows["params"][:, :2] = (0.0, 1.0)
    rows["bits"] = 0xFFFF
    cpu.fill_many(dtype, rows)
    assert (buf == 0x5A).all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_fills_in_parallel_too():
    """The pool's threads do not survive fork: a child that fills after its parent did
    starts its own (a child that reused the parent's pool would wait forever)."""
    n = 64 * cpu.CHUNK
    parent = fastinit.Generator(2).normal(size=n, dtype=np.float32)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: fill, report, leave without running the parent's handlers
        try:
            child = fastinit.Generator(2).normal(size=n, dtype=np.float32)
            os.write(write, b"1" if child.tobytes() == parent.tobytes() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 120)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert ready, "the forked child's fill never finished"
    assert os.read(read, 1) == b"1" and status == 0


@pytest.mark.parametrize("slab", [1, 7, 64, 1 << 18])
@pytest.mark.parametrize("parts", [1, 3, 16, 500])  # 16, 500: more than a view's rows
@pytest.mark.parametrize("index", [np.s_[::3], np.s_[::-1, 1::2, :], np.s_[2:9, ::-2, 3:40],
                                   np.s_[:2, 0, ::2]],
                         ids=["1-d", "3-d", "3-d-negative", "2-rows"])
def test_a_strided_view_gets_its_logical_elements_in_any_slabs(slab, parts, index, monkeypatch):
    """Strided destinations are drawn in slabs of contiguous elements that numpy copies
    into the view: any slab size (rows larger than a slab included) and any split of the
    view over threads give element i the stream's element start + i, and nothing
    outside the view is written."""
    monkeypatch.setattr(cpu, "SLAB", slab)
    monkeypatch.setattr(cpu, "_parts", lambda chunks: parts)
    storage = np.full((10, 12, 45) if index != np.s_[::3] else (5000,), 0xBEEF, np.uint16)
    view = storage[index]
    rule = rule_for(Normal(0.5, 2), "bfloat16")
    n = view.size
    want = np.empty(n, np.uint16)
    cpu.fill(want, 0, (), (), rule, "bfloat16", 5, 9, 123, 77, n)
    flat = storage.reshape(-1)
    origin = (view.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // 2
    strides = tuple(s // 2 for s in view.strides)
    cpu.fill(flat, origin, view.shape, strides, rule, "bfloat16", 5, 9, 123, 77, n)
    assert view.reshape(-1).tolist() == want.tolist()
    untouched = np.ones(storage.shape, bool)
    untouched[index] = False
    assert (storage[untouched] == 0xBEEF).all()
