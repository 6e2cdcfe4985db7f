"""CPU backend: Numba, chunks over a thread pool, SIMD across Philox blocks within a chunk.

A chunk is ``CHUNK`` consecutive logical elements, aligned to multiples of ``CHUNK``
in the tensor's own index space. A fill lists its destinations' chunks end to end and
splits them into runs; threads take runs. Inside a chunk the kernel computes the words
of the blocks that make the elements it owns (all of the chunk's but at a row's ends:
a small tensor draws only its own blocks) in a loop LLVM vectorizes (lanes of
independent counters), turns them into values in a second loop (the bounded integers,
where any try is rejected, redraw those in a third), rounds them to the storage format
and copies them. What an element gets depends only on its index, never on the number
of threads or on where a fill starts.

One kernel serves every rule and storage format, and both are the *type* of an
argument: the rule's parameter record (``rules.CODE``) and a store marker. Numba thus
compiles, on first use, one specialization per (rule, format) with nothing else in it
(the 32-bit truncated normal: one per set of inverse-CDF branches a fill's bounds reach,
``rules.TRUNCNORM32_CODE``, chosen on the host), and keeps it in its disk cache,
keyed on the digest of every source it is built from (``fastinit._sources``). The
kernel writes contiguous memory only: a strided destination's leading rows (or pieces
of them) are split over the threads, and each thread draws its part in slabs of up to
``SLAB`` elements into a contiguous buffer that numpy copies into the view, so no
layout needs a kernel of its own. The kernel releases the GIL, and a plain thread pool
runs its runs in parallel: Numba's ``parallel=True`` passes, which tripled compile
times, are not needed. ``warmup`` compiles every specialization ahead of use.

Besides ``backends.Backend`` (whose views and tables here hold host addresses),
``fill_runs`` writes the runs of one draw that make a sub-box of a tensor in one pass.
"""

import concurrent.futures
import ctypes
import functools
import os
import struct
import threading
from collections import namedtuple

import numpy as np
from numba import config, get_num_threads, njit
from numba.core.extending import overload
from numba.np.numpy_support import as_dtype

from .. import core
from .._bits import DEVICE, device
from .._constants import PHILOX_ROUNDS
from .._sources import DIGEST
from ..registry import ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES, STORE_WORDS, STORES
from . import ENTRY, STORAGE, run_table, word_type
from .rules import CODE, CONVERT, TRUNCNORM32_CODE, array_at, row_of, row_params

CHUNK = 4096  # elements; a multiple of every rule's elements per block
SLAB = 1 << 18  # elements of a strided destination drawn per contiguous pass
# A run's least size in chunks: a fill runs in parallel from twice this many (2^19
# elements) up. Below that, handing a run to a second thread cost more than it saved on
# a shared 2-core machine (bench/cpu_threads.py), and on a busy one it always does.
TASK_CHUNKS = 64
_PARALLEL_CHUNKS = 2 * TASK_CHUNKS  # the fewest chunks a fill splits into runs

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)



def _store_marker(store):
    """The marker of a store (registry.STORES), an instance of ``<Store>Store`` of this
    module: a module attribute, as Numba's disk cache pickles the kernel's signatures."""
    marker = namedtuple(f"{store.capitalize()}Store", ())
    globals()[marker.__name__] = marker
    return marker()


# Storage formats as marker types, one per store: dtypes of one store (bool, uint8 and
# int8; int16 and uint16; ...) share one.
_MARKERS = {store: _store_marker(store) for store in STORE_WORDS}
STORE_MARKERS = {dtype: _MARKERS[store] for dtype, store in STORES.items()}
_FORMATS = {type(marker): store for store, marker in _MARKERS.items()}  # marker type -> store

_BY_CLASS = {rule.params: (rule, ELEMENTS_PER_BLOCK[name]) for name, rule in CODE.items()}
_BY_CLASS.update((rule.params, (rule, ELEMENTS_PER_BLOCK["truncnorm32"]))
                 for rule in TRUNCNORM32_CODE.values())


# Each choice below has a pure-Python version (for NUMBA_DISABLE_JIT=1 and the CUDA
# simulator) and an overload that makes it from the arguments' types while Numba compiles.


def _emit(p, w0, w1, w2, w3, vals, e):
    _BY_CLASS[type(p)][0].emit(p, w0, w1, w2, w3, vals, e)


@overload(_emit, jit_options=DEVICE)
def _emit_jit(p, w0, w1, w2, w3, vals, e):
    return _BY_CLASS[p.instance_class][0].emit


def _rejects(p, w0, w1, w2, w3):
    return _BY_CLASS[type(p)][0].rejects(p, w0, w1, w2, w3)


@overload(_rejects, jit_options=DEVICE)
def _rejects_jit(p, w0, w1, w2, w3):
    return _BY_CLASS[p.instance_class][0].rejects


def _retry(p, w0, w1, w2, w3, vals, e, at):
    _BY_CLASS[type(p)][0].retry(p, w0, w1, w2, w3, vals, e, at)


@overload(_retry, jit_options=DEVICE)
def _retry_jit(p, w0, w1, w2, w3, vals, e, at):
    return _BY_CLASS[p.instance_class][0].retry


def _elements_per_block(p):
    return _BY_CLASS[type(p)][1]


@overload(_elements_per_block, jit_options=DEVICE)
def _elements_per_block_jit(p):
    epb = _BY_CLASS[p.instance_class][1]
    return lambda p: epb


def _from_row(p, v):
    """A parameter record like ``p`` from the doubles ``v`` of a table row."""
    return _BY_CLASS[type(p)][0].from_row(v)


@overload(_from_row, jit_options=DEVICE)
def _from_row_jit(p, v):
    build = _BY_CLASS[p.instance_class][0].from_row
    return lambda p, v: build(v)


def _stored_as_is(store, precision):
    """Whether values of ``precision`` are their own storage words (of the same type)."""
    return np.dtype(precision) == np.dtype(STORE_WORDS[_FORMATS[store]])


def _new_scratch(proto, store):
    """One thread's scratch for the kernel: a chunk's words (four arrays, one per word
    of a block), its values in the rule's precision, and its storage words (the values
    themselves where they are stored as they are). Allocated here, not in the kernel,
    which then needs no allocator compiled."""
    rule, epb = _BY_CLASS[type(proto)]
    words = [np.empty(CHUNK // epb, np.uint32) for _ in range(4)]
    vals = np.empty(CHUNK, rule.precision)
    stored = vals if _stored_as_is(type(store), vals.dtype) else np.empty(
        CHUNK, STORE_WORDS[_FORMATS[type(store)]])
    return (*words, vals, stored)


def _round(store, vals, words, count):
    """A chunk's first ``count`` values rounded to their storage words."""
    if not _stored_as_is(type(store), vals.dtype):
        convert = CONVERT[_FORMATS[type(store)]]
        for k in range(count):
            words[k] = convert(vals[k])


@overload(_round, jit_options=DEVICE)
def _round_jit(store, vals, words, count):
    if _stored_as_is(store.instance_class, as_dtype(vals.dtype)):
        return lambda store, vals, words, count: None
    convert = CONVERT[_FORMATS[store.instance_class]]

    def round_chunk(store, vals, words, count):
        for k in range(count):
            words[k] = convert(vals[k])

    return round_chunk


@device
def _copy(row, words, a, b, held):
    """Elements [a, b) of the row's tensor, at words[a - held:b - held] (words[0] holds
    element ``held``), to their places at the row's address."""
    start = row["start"]
    dst = array_at(row["ptr"], row["n"], words.dtype)[a - start:b - start]
    src = words[a - held:b - held]
    for i in range(b - a):  # a loop over views: plain vector loads and stores
        dst[i] = src[i]


# --- the kernel ------------------------------------------------------------------------


def _build(digest):
    """The kernel, a closure over ``digest`` so that Numba's cache keys include it."""

    @njit(nogil=True, cache=True, error_model="numpy")
    def kernel(table, first, proto, store, lo, hi, scratch):
        """Global chunks [lo, hi) of the rows of ``table`` (a ``backends.ENTRY``
        array), whose chunks lie end to end: row ``e`` holds global chunks
        [first[e], first[e + 1]), its own chunks from ``start // CHUNK`` on. Every row
        follows the rule of ``proto``'s type with its own parameters. ``scratch`` is
        ``_new_scratch(proto, store)``."""
        digest  # noqa: B018 -- a cell of the closure, hence part of the cache key
        epb = _elements_per_block(proto)
        w0, w1, w2, w3, vals, words = scratch
        e = row_of(first, 0, lo)
        while e < len(table) and first[e] < hi:
            row = table[e]
            start = row["start"]
            end = start + row["n"]
            key, stream, block0 = row["seed"], row["stream"], row["block0"]
            k0, k1, s0, s1 = key & _MASK32, key >> _SHIFT32, stream & _MASK32, stream >> _SHIFT32
            p = _from_row(proto, row["params"])
            own = start // CHUNK - first[e]
            c_first = lo if lo > first[e] else first[e]  # max and min, written out: fewer
            c_last = hi if hi < first[e + 1] else first[e + 1]  # functions to compile
            for c in range(c_first + own, c_last + own):
                chunk0 = c * CHUNK
                a = chunk0 if chunk0 > start else start  # the chunk's elements [a, b)
                b = chunk0 + CHUNK if chunk0 + CHUNK < end else end  # that are the row's
                first_block = (a - chunk0) // epb  # they are made by `blocks` blocks
                blocks = (b - chunk0 + epb - 1) // epb - first_block  # from this one
                b0 = block0 + np.uint64(chunk0 // epb + first_block)
                for j in range(blocks):
                    bj = b0 + np.uint64(j)
                    w0[j], w1[j], w2[j], w3[j] = core.philox_words(
                        bj & _MASK32, bj >> _SHIFT32, s0, s1, k0, k1, PHILOX_ROUNDS)
                rejected = False  # for all rules but the bounded integers, a constant:
                for j in range(blocks):  # the retry loop below then compiles to nothing
                    _emit(p, w0[j], w1[j], w2[j], w3[j], vals, j * epb)
                    rejected |= _rejects(p, w0[j], w1[j], w2[j], w3[j])
                if rejected:
                    for j in range(blocks):
                        if _rejects(p, w0[j], w1[j], w2[j], w3[j]):
                            _retry(p, w0[j], w1[j], w2[j], w3[j], vals, j * epb,
                                   (b0 + np.uint64(j), s0, s1, k0, k1))
                _round(store, vals, words, blocks * epb)
                _copy(row, words, a, b, chunk0 + first_block * epb)
            e += 1

    return kernel


_kernel = _build(DIGEST)
_entries = {}  # (record type, store type) -> the kernel's compiled specialization


def _compiled(table, first, proto, store, scratch):
    """The kernel's specialization for these arguments' types, compiled (or loaded from
    the disk cache) on first use, as a function Python calls directly: Numba's
    dispatcher would type every argument again on every call (~1.5 us)."""
    key = (type(proto), type(store))
    entry = _entries.get(key)
    if entry is None:
        args = (table, first, proto, store, 0, 0, scratch)
        _kernel(*args)  # compiles or loads it; chunks [0, 0) write nothing
        entry = _entries[key] = _kernel if config.DISABLE_JIT else _kernel.get_overload(
            tuple(_kernel.typeof_pyval(arg) for arg in args))
    return entry


# A one-row table's leading fields (ptr, n, start, seed, stream, block0), written in one
# call (0.1 us): a numpy record assignment took 0.6 us, a quarter of this module's share
# of a 64-element fill.
_HEAD = struct.Struct("<" + "".join({np.dtype("<u8"): "Q", np.dtype("<i8"): "q"}[ENTRY[name]]
                                    for name in ENTRY.names[:6]))


class _ThreadState(threading.local):
    """What a thread reuses from one fill to the next: for single destinations a one-row
    table (its bytes; ``last``: the rule whose parameters it holds and the last fill's
    dtype, with their record, store, kernel and scratch) and its chunk starts, and per
    (rule, format) the kernel and its scratch."""

    def __init__(self):
        self.row = np.zeros(1, ENTRY)
        self.row_bytes = self.row.view(np.uint8).data
        self.last = (None,) * 6  # rule, dtype, record, store, kernel, scratch
        self.first = np.zeros(2, np.int64)
        self.prepared = {}


_state = _ThreadState()


def _prepared(table, first, proto, store):
    """``(kernel, scratch)`` for these arguments' types: ``_compiled``'s specialization
    and this thread's ``_new_scratch(proto, store)``, looked up together (a fill's
    fixed cost), made on this thread's first use."""
    key = (type(proto), type(store))
    prepared = _state.prepared.get(key)
    if prepared is None:
        scratch = _new_scratch(proto, store)
        prepared = _state.prepared[key] = (_compiled(table, first, proto, store, scratch),
                                           scratch)
    return prepared

_pool = None
_pool_lock = threading.Lock()


def _forget_pool():
    """In a forked child: the parent's worker threads do not exist here."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(
                max(1, config.NUMBA_NUM_THREADS - 1), thread_name_prefix="fastinit")
    return _pool


def _parts(chunks):
    """Runs to split ``chunks`` chunks into: one below 2 * TASK_CHUNKS, else up to four
    per thread (``numba.get_num_threads()``), so busy cores even out."""
    if chunks < _PARALLEL_CHUNKS:
        return 1
    threads = get_num_threads()
    return 1 if threads == 1 else min(4 * threads, chunks // TASK_CHUNKS)


def _chunk_count(start, n):
    """Chunks that elements [start, start + n) of a tensor touch (integers or arrays)."""
    return (start + n + CHUNK - 1) // CHUNK - start // CHUNK


def _chunk_starts(table):
    """Prefix sums of the rows' chunk counts: row e's chunks are global chunks
    [first[e], first[e + 1])."""
    first = np.zeros(len(table) + 1, np.int64)
    np.cumsum(_chunk_count(table["start"], table["n"]), out=first[1:])
    return first


def _on_threads(count, work):
    """Run ``work()`` on up to ``count`` threads, the calling one included; return when
    every one that started has returned (re-raising the first error). ``work`` takes
    its tasks from a shared queue, so a helper that has not started by the time the
    calling thread's ``work()`` returns would find none left: it is cancelled, not
    waited for (on a busy machine, that wait is a time slice or more)."""
    helpers = [_executor().submit(work) for _ in range(count - 1)]
    try:
        work()
    finally:
        started = [helper for helper in helpers if not helper.cancel()]
        concurrent.futures.wait(started)
    for helper in started:
        helper.result()


def _run(table, first, proto, store, parallel=True, total=None):
    """Every chunk of every row of ``table`` (``total``, when given, is ``first[-1]``),
    in runs over ``numba.get_num_threads()`` threads (or this one only); returns when
    all are written."""
    total = int(first[-1]) if total is None else total
    parts = _parts(total) if parallel else 1
    kernel, scratch = _prepared(table, first, proto, store)
    if parts == 1:
        kernel(table, first, proto, store, 0, total, scratch)
        return
    bounds = [k * total // parts for k in range(parts + 1)]
    runs = iter(range(parts))  # shared: each thread takes the next run left

    def work():
        _, scratch = _prepared(table, first, proto, store)
        for k in runs:
            kernel(table, first, proto, store, bounds[k], bounds[k + 1], scratch)

    _on_threads(min(get_num_threads(), parts), work)


def _record(name, rows):
    """The parameter record that rule ``name`` fills with for the row doubles ``rows``
    (a 2-D array, a row per destination; the record holds the first's). truncnorm32 gets
    the record of the inverse CDF's branches its rows can take (``rules.TRUNCNORM32_CODE``)."""
    if name != "truncnorm32":
        return CODE[name].from_row(rows[0])
    masses = np.unique(rows[:, :3], axis=0)  # a model's tensors share a few bounds
    branches = core.ndtri32_hull([core.ndtri32_branches(*v) for v in masses])
    return TRUNCNORM32_CODE[branches].from_row(rows[0])


@functools.lru_cache(maxsize=1024)
def _rule_args(rule):
    """(the row doubles, the parameter record) of a ``distributions.Rule``."""
    params = row_params(rule)
    return params, _record(rule.name, params[None])


def available():
    """``backends.Backend.available``: host memory can always be filled."""
    return True, ""


def fill_at(ptr, n, dtype, rule, seed, stream, block0, start, parallel=True):
    """Write elements [start, start + n) of the draw ``(rule, seed, stream, block0)`` (a
    ``backends.Draw``'s fields) into the ``n`` contiguous storage words of ``dtype`` at
    address ``ptr``, on this thread only unless ``parallel``. The thread keeps its last
    rule and dtype with their kernel: a small fill costs a struct pack and a kernel call."""
    state = _state
    last = state.last
    if rule is not last[0] or dtype != last[1]:
        params, proto = _rule_args(rule)
        state.row["params"][0] = params
        store = STORE_MARKERS[dtype]
        last = state.last = (rule, dtype, proto, store,
                             *_prepared(state.row, state.first, proto, store))
    _, _, proto, store, kernel, scratch = last
    row, first = state.row, state.first
    _HEAD.pack_into(state.row_bytes, 0, ptr, n, start, seed, stream, block0)
    first[1] = chunks = _chunk_count(start, n)
    if parallel and chunks >= _PARALLEL_CHUNKS:  # else one run, on this thread
        _run(row, first, proto, store, True, chunks)
    else:
        kernel(row, first, proto, store, 0, chunks, scratch)


def _host_array(view, dtype):
    """The view's elements as a numpy array of ``dtype`` (its storage or word type): 1-D
    when the view is contiguous, else of its shape and strides. One ``np.ndarray`` over
    the bytes the view spans: a quarter of what ``array_at`` and ``as_strided`` cost."""
    itemsize = np.dtype(dtype).itemsize
    span = (ctypes.c_char * ((view.high - view.low + 1) * itemsize)).from_address(
        view.ptr + view.low * itemsize)
    if not view.shape:
        return np.ndarray(view.size, dtype, span)
    return np.ndarray(view.shape, dtype, span, -view.low * itemsize,
                      tuple(s * itemsize for s in view.strides))


def _fill_view(view, slab, draw, start):
    """Logical element i of ``view`` (any strides) = element start + i of the stream:
    ``draw(out, first)`` writes elements [first, first + out.size) into a piece of
    ``slab``, and numpy copies it into whole leading rows of the view."""
    row = int(np.prod(view.shape[1:], dtype=np.int64))
    if row > slab.size:  # one leading row does not fit: its own rows, one at a time
        for i in range(view.shape[0]):
            _fill_view(view[i], slab, draw, start + i * row)
        return
    rows = slab.size // row
    for i in range(0, view.shape[0], rows):
        part = view[i:i + rows]
        piece = slab[:part.size]
        draw(piece, start + i * row)
        part[...] = piece.reshape(part.shape)


def fill(view, draw):
    """``backends.Backend.fill``: a contiguous view in one pass of the kernel over its
    chunks; a strided one in slabs drawn contiguously and copied into its pieces."""
    if view.size == 0:
        return
    if not view.shape:
        fill_at(view.ptr, view.size, view.dtype, *draw)
        return

    def draw_slab(out, first):  # on one thread: the view's pieces are split over threads
        fill_at(out.ctypes.data, out.size, view.dtype, *draw[:4], first, False)

    storage = STORAGE[view.dtype]
    pieces = _pieces(_host_array(view, storage), draw.start,
                     _parts(_chunk_count(draw.start, view.size)))
    todo = iter(pieces)  # shared: each thread takes the next piece left

    def work():
        slab = np.empty(min(view.size, SLAB), storage)
        for piece, first in todo:
            _fill_view(piece, slab, draw_slab, first)

    _on_threads(min(get_num_threads(), len(pieces)), work)


def _pieces(view, start, count):
    """``(sub-view, its first logical index)`` that cover ``view`` in order: ``count``
    blocks of leading rows, or, with fewer rows than that, pieces of each row."""
    rows = view.shape[0]
    row = view.size // rows
    if rows < count and view.ndim > 1:
        per_row = -(-count // rows)
        return [piece for i in range(rows)
                for piece in _pieces(view[i], start + i * row, per_row)]
    parts = min(count, rows)
    bounds = [k * rows // parts for k in range(parts + 1)]
    return [(view[bounds[k]:bounds[k + 1]], start + bounds[k] * row) for k in range(parts)]


def fill_constant(view, bits):
    """``backends.Backend.fill_constant``: a numpy store of the word into the view."""
    if view.size:
        word = word_type(view.dtype)
        _host_array(view, word)[...] = word(bits)


_CONSTANT = FAMILIES.index("constant")


def fill_many(table):
    """``backends.Backend.fill_many``: the rows of each family run through the kernel
    of its rule (the one ``fill`` uses) in one parallel pass per family; constants are
    plain stores."""
    rows = table.rows[table.rows["n"] > 0]
    store = STORE_MARKERS[table.dtype]
    for family, name in enumerate(FAMILY_RULES[table.dtype]):
        of_family = rows[rows["family"] == family]
        if len(of_family):
            _run(of_family, _chunk_starts(of_family), _record(name, of_family["params"]),
                 store)
    word = np.dtype(word_type(table.dtype))
    for row in rows[rows["family"] == _CONSTANT]:
        array_at(row["ptr"], row["n"], word)[...] = word.type(row["bits"])


def fill_runs(view, draw, starts):
    """Write ``len(starts)`` runs of ``draw`` into the contiguous ``view``, end to end:
    run ``r``, the ``m = view.size // len(starts)`` elements from element ``r * m``, gets
    logical elements [draw.start + starts[r], draw.start + starts[r] + m). One pass of
    the kernel over every run (the runs split over the threads), whatever their number
    and length."""
    params, proto = _rule_args(draw.rule)
    rows = run_table(view, draw, starts, params)
    _run(rows, _chunk_starts(rows), proto, STORE_MARKERS[view.dtype])


# --- ahead of use, and the disk cache ----------------------------------------------------


def warmup(rule, dtype):
    """Compile (or load from the disk cache) the kernel for fills of ``dtype`` by
    ``rule``; nothing is written."""
    row = np.zeros(1, ENTRY)
    # truncnorm32: the central branch and the band, which bounds from about 1.44 to 2.05
    # sigma reach (trunc_normal_'s default a=-2, b=2 on std=1, JAX's truncated normals);
    # other sets compile on use
    code = TRUNCNORM32_CODE["CM"] if rule == "truncnorm32" else CODE[rule]
    proto = code.from_row(row["params"][0])
    store = STORE_MARKERS[dtype]
    _prepared(row, np.zeros(2, np.int64), proto, store)


def cache_state():
    """``(directory, current, stale)``: where Numba keeps the kernel's compilations,
    and how many of those listed there were built from these sources for this CPU
    (``current``) or are left from other sources (``stale``, never loaded again);
    None for both where this Numba's cache index cannot be read."""
    cache = _kernel._cache
    try:  # Numba's cache index, read as Numba reads it: no public API tells this
        codegen = _kernel.targetctx.codegen()
        keys = list(cache._cache_file._load_index())
        current = sum(key == cache._index_key(key[0], codegen) for key in keys)
    except (AttributeError, TypeError, ValueError):  # another Numba's internals
        return cache._cache_path, None, None
    return cache._cache_path, current, len(keys) - current
