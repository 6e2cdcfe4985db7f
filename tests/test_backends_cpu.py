"""The CPU kernel: independent of how its chunks are split, and the same code runs
as plain Python (NUMBA_DISABLE_JIT=1), as the CUDA simulator will run it. The
multi-tensor fill writes into each row of its table exactly what a fill of that row
alone writes, and nothing else."""

import concurrent.futures
import os
import select
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from conftest import host_view
from fastinit.arrays import constant_bits
from fastinit.backends import ENTRY, STORAGE, Draw, Table, cpu
from fastinit.registry import FAMILIES, FAMILY_RULES
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
        cpu.fill(host_view(buf, dtype), Draw(rule_for(dist, dtype), 5, 9, 123, 1000))
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
    cpu.fill(host_view(out, dtype), Draw(rule_for(dist, dtype), 11, int(row["stream"]),
                                        int(row["block0"]), int(row["start"])))
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
    cpu.fill_many(Table(rows, dtype, None, 0))
    assert np.array_equal(buf, expected)


@pytest.mark.parametrize("dtype", list(FAMILY_RULES))
def test_fill_many_of_empty_rows_writes_nothing(dtype):
    """A table of no rows, and one of empty rows of every family pointing into a
    poisoned buffer, leave every byte as it was."""
    buf = np.full(256, 0x5A, np.uint8)
    cpu.fill_many(Table(np.zeros(0, ENTRY), dtype, None, 0))
    rows = np.zeros(2 * len(FAMILIES), ENTRY)
    rows["ptr"] = buf.ctypes.data + 16 * np.arange(len(rows))
    rows["family"] = np.arange(len(rows)) % len(FAMILIES)
    rows["start"] = np.arange(len(rows)) * 5
    rows["params"][:, :2] = (0.0, 1.0)
    rows["bits"] = 0xFFFF
    cpu.fill_many(Table(rows, dtype, None, 0))
    assert (buf == 0x5A).all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_fills_in_parallel_too():
    """The pool's threads do not survive fork: a child that fills after its parent did
    starts its own (a child that reused the parent's pool would wait forever)."""
    n = 2 * cpu.TASK_CHUNKS * cpu.CHUNK  # large enough to run in parallel
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
    draw = Draw(rule, 5, 9, 123, 77)
    cpu.fill(host_view(want, "bfloat16"), draw)
    flat = storage.reshape(-1)
    origin = (view.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // 2
    strides = tuple(s // 2 for s in view.strides)
    cpu.fill(host_view(flat, "bfloat16", origin, view.shape, strides), draw)
    assert view.reshape(-1).tolist() == want.tolist()
    untouched = np.ones(storage.shape, bool)
    untouched[index] = False
    assert (storage[untouched] == 0xBEEF).all()


@pytest.mark.parametrize("dtype", ["bool", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("index", [np.s_[:], np.s_[::-1, 1::2, :], np.s_[2:9, 0, ::-3]],
                         ids=["contiguous", "3-d-negative", "2-d"])
def test_fill_constant_writes_the_word_into_the_view_and_nothing_else(dtype, index):
    word = np.dtype(f"u{np.dtype(STORAGE[dtype]).itemsize}")
    storage = np.full((10, 12, 45), POISON.get(word.itemsize, 0x5A), word)
    view = storage[index]
    flat = storage.reshape(-1)
    origin = (view.__array_interface__["data"][0] - flat.__array_interface__["data"][0])
    strides = () if index == np.s_[:] else tuple(s // word.itemsize for s in view.strides)
    shape = () if index == np.s_[:] else view.shape
    bits = constant_bits(dtype, 0.7)
    cpu.fill_constant(host_view(flat, dtype, origin // word.itemsize, shape, strides,
                                view.size), bits)
    assert (view == bits).all()
    untouched = np.ones(storage.shape, bool)
    untouched[index] = False
    assert (storage[untouched] == POISON.get(word.itemsize, 0x5A)).all()


# --- fill_runs ----------------------------------------------------------------------

# (run length, starts): single elements scattered, runs inside one Philox block and one
# chunk, runs across chunk boundaries and longer than a chunk, in any order, past 2**32
RUNS = [(1, [0, 5, 4095, 4096, 9, 2**32 + 1]),
        (3, [1, 6, 4094, 8190, 2]),
        (cpu.CHUNK + 5, [4093, 0, 3 * cpu.CHUNK - 1]),
        (1000, [7 + 4000 * r for r in range(40)])]


@pytest.mark.parametrize("dist, dtype", CASES, ids=str)
@pytest.mark.parametrize("parts", [1, 3, 64])
def test_fill_runs_writes_each_run_what_its_own_fill_writes(dist, dtype, parts, monkeypatch):
    """Runs laid end to end in one buffer, each with its own start, in one call: each
    run gets what a contiguous fill of it alone gets, on any split over threads, and
    the poisoned guard bands around the buffer keep every byte."""
    monkeypatch.setattr(cpu, "_parts", lambda chunks: parts)
    rule = rule_for(dist, dtype)
    word = np.dtype(f"u{np.dtype(STORAGE[dtype]).itemsize}")
    for n, starts in RUNS:
        guard = 5
        raw = np.full(2 * guard + n * len(starts), POISON.get(word.itemsize, 0x5A), word)
        buf = raw[guard:-guard].view(STORAGE[dtype])
        cpu.fill_runs(host_view(buf, dtype), Draw(rule, 5, 9, 2**64 - 7, 0),
                      np.array(starts, np.int64))
        for r, start in enumerate(starts):
            alone = np.empty(n, STORAGE[dtype])
            cpu.fill(host_view(alone, dtype), Draw(rule, 5, 9, 2**64 - 7, start))
            assert buf[r * n:(r + 1) * n].tobytes() == alone.tobytes()
        assert (raw[:guard] == raw[0]).all() and (raw[-guard:] == raw[0]).all()


def test_short_runs_compute_only_their_own_blocks(monkeypatch):
    """A run computes only the Philox blocks that hold its elements, not the whole
    chunk around them: runs of 100 out of every 4000 elements cost about what the
    same number of contiguous elements costs (the kernel counts every block it
    computes through core.philox_words when run as Python)."""
    script = """
import numpy as np
from fastinit import arrays, core
from fastinit.backends import Draw, cpu
from fastinit.distributions import Normal, rule_for
calls = [0]
philox = core.philox_words
def counting(*args):
    calls[0] += 1
    return philox(*args)
core.philox_words = counting
buf = np.empty(300)
cpu.fill_runs(arrays.view_of(buf), Draw(rule_for(Normal(), "float64"), 1, 0, 0, 0),
              np.arange(3) * 4000 + 7)
print(calls[0])
"""
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, check=True, timeout=600)
    assert int(out.stdout) == 3 * 51  # elements 7..106 of each row: blocks 3..53


def test_a_helper_that_has_not_started_is_not_waited_for(monkeypatch):
    """On a busy machine a helper thread may start long after the calling thread has
    done every run itself: the fill returns without waiting for it, and the helper,
    once it runs, does nothing."""
    blocker = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.submit(blocker.wait)  # the pool's one thread is busy: no helper can start
    monkeypatch.setattr(cpu, "_executor", lambda: pool)
    ran, done = [], threading.Event()
    caller = threading.Thread(target=lambda: (cpu._on_threads(2, lambda: ran.append(1)),
                                              done.set()))
    try:
        caller.start()
        assert done.wait(120), "the fill waited for a helper that had not started"
        assert ran == [1]
    finally:
        blocker.set()
        pool.shutdown()
    assert ran == [1]


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_a_fill_below_the_parallel_size_runs_on_the_calling_thread_only(layout, monkeypatch):
    """Below 2 * TASK_CHUNKS chunks a fill never asks for a helper thread, whatever the
    thread count; from there on, with two threads, it splits into two runs."""
    monkeypatch.setattr(cpu, "get_num_threads", lambda: 2)
    monkeypatch.setattr(cpu, "_executor", lambda: pytest.fail("a helper thread was asked for"))
    rule = rule_for(Normal(0.0, 1.0), "float32")
    n = (2 * cpu.TASK_CHUNKS - 1) * cpu.CHUNK
    buf = np.empty(2 * n if layout == "strided" else n, np.float32)
    shape, strides = ((n,), (2,)) if layout == "strided" else ((), ())
    cpu.fill(host_view(buf, "float32", 0, shape, strides, n), Draw(rule, 1, 0, 0, 0))
    assert cpu._parts(2 * cpu.TASK_CHUNKS - 1) == 1
    assert cpu._parts(2 * cpu.TASK_CHUNKS) == 2


# Bounds (in sigma) whose fills reach each set of the inverse CDF's branches, and fills
# whose rows reach different sets (one pass of the kernel over their hull).
BRANCH_BOUNDS = [(-2.0, 2.0), (-0.5, 0.5), (3.0, 6.0), (7.0, 9.0), (-9.0, -7.0), (4.0, 8.0),
                 (-9.0, 0.0), (-12.0, -1.34), (1.43, 1.46), (1.44, 1.46), (-40.0, 0.3),
                 (1.6, 2.0), (2.0, 2.1), (-2.06, 2.06), (1.6, 9.0)]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
@pytest.mark.parametrize("a, b", BRANCH_BOUNDS)
def test_truncnorm32_by_branch_set_writes_the_reference_values(a, b, dtype):
    import reference

    rule = rule_for(TruncatedNormal(0.5, 2.0, 0.5 + 2 * a, 0.5 + 2 * b), dtype)
    n = 3 * cpu.CHUNK + 5
    buf = np.full(n, 0xAB, STORAGE[dtype])
    cpu.fill(host_view(buf, dtype), Draw(rule, 11, 3, 0, 0))
    want = reference.generate(rule, dtype, n, 11, 3)
    np.testing.assert_array_equal(buf.view(np.uint8), want.view(np.uint8))


def test_a_table_of_rows_reaching_different_branches_writes_each_rows_values():
    rules = [rule_for(TruncatedNormal(0.0, 1.0, a, b), "float32") for a, b in BRANCH_BOUNDS]
    n = 1000
    bufs = [np.full(n, np.nan, np.float32) for _ in rules]
    rows = np.zeros(len(rules), ENTRY)
    for row, buf, rule in zip(rows, bufs, rules):
        row["ptr"], row["n"], row["seed"], row["stream"] = buf.ctypes.data, n, 5, 1
        row["family"] = FAMILY_RULES["float32"].index(rule.name)
        row["params"][:len(rule.params)] = rule.params
    cpu.fill_many(Table(rows, "float32", None, 0))
    for buf, rule in zip(bufs, rules):
        alone = np.full(n, np.nan, np.float32)
        cpu.fill(host_view(alone, "float32"), Draw(rule, 5, 1, 0, 0))
        np.testing.assert_array_equal(buf.view(np.uint32), alone.view(np.uint32))
