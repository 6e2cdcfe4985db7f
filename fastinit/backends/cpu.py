"""CPU backend: Numba, parallel over chunks, SIMD across Philox blocks within a chunk.

A chunk is ``CHUNK`` consecutive logical elements, aligned to multiples of ``CHUNK``
in the tensor's own index space. Each thread takes whole chunks; inside one it
computes the words of all the chunk's blocks in a loop LLVM vectorizes (lanes of
independent counters), turns them into values in a second loop, rounds them to the
output format in a third and stores the ones it owns. What an element gets depends
only on its index, never on the number of threads or on where a fill starts.

One kernel serves every rule: a rule's parameters travel as a named tuple of its own
class, and the emitter, block width and precision are chosen from that type while
Numba compiles. Each (rule, output format) pair thus compiles once, everything
inlined, and is cached on disk.
"""

from collections import namedtuple

import numpy as np
from numba import carray, get_num_threads, njit, prange, types
from numba.core import cgutils
from numba.core.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from .. import core
from .._bits import mul
from .._constants import ELEMENTS_PER_BLOCK
from . import FAMILIES, STORAGE

CHUNK = 4096  # elements; a multiple of every rule's elements per block

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_LOW16 = np.uint64(0xFFFF)
_S16 = np.uint64(16)
_ROUNDS = 10

SAME, BF16, F16, U8 = range(4)
STORES = {"float32": SAME, "float64": SAME, "uint32": SAME, "bfloat16": BF16, "float16": F16,
          "bool": U8, "uint8": U8}

_JIT = {"error_model": "numpy"}
_INLINE = {"inline": "always", "error_model": "numpy"}


@njit(**_INLINE)
def _clip(v, lo, hi):
    return min(max(v, lo), hi)


# --- rules: parameters, and one Philox block's words to its elements ----------------

RawParams = namedtuple("RawParams", "unused")
BernoulliParams = namedtuple("BernoulliParams", "threshold")
Uniform32Params = namedtuple("Uniform32Params", "lo span bot top")
Uniform16Params = namedtuple("Uniform16Params", "lo span bot top")
Uniform64Params = namedtuple("Uniform64Params", "lo span bot top")
Normal32Params = namedtuple("Normal32Params", "mean std")
Normal64Params = namedtuple("Normal64Params", "mean std")
Truncnorm32Params = namedtuple("Truncnorm32Params", "pa qb mass mean std bot top")
Truncnorm64Params = namedtuple("Truncnorm64Params", "pa qb mass mean std bot top")


@njit(**_INLINE)
def _emit_raw(p, w0, w1, w2, w3, vals, e):
    vals[e] = w0
    vals[e + 1] = w1
    vals[e + 2] = w2
    vals[e + 3] = w3


@njit(**_INLINE)
def _emit_bernoulli(p, w0, w1, w2, w3, vals, e):
    vals[e] = np.float32(w0 < p.threshold)
    vals[e + 1] = np.float32(w1 < p.threshold)
    vals[e + 2] = np.float32(w2 < p.threshold)
    vals[e + 3] = np.float32(w3 < p.threshold)


@njit(**_INLINE)
def _uniform(p, u):
    return _clip(p.lo + mul(p.span, u), p.bot, p.top)


@njit(**_INLINE)
def _emit_uniform32(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_24(w0))
    vals[e + 1] = _uniform(p, core.u01_24(w1))
    vals[e + 2] = _uniform(p, core.u01_24(w2))
    vals[e + 3] = _uniform(p, core.u01_24(w3))


@njit(**_INLINE)
def _emit_uniform16(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_16(w0 & _LOW16))
    vals[e + 1] = _uniform(p, core.u01_16(w0 >> _S16))
    vals[e + 2] = _uniform(p, core.u01_16(w1 & _LOW16))
    vals[e + 3] = _uniform(p, core.u01_16(w1 >> _S16))
    vals[e + 4] = _uniform(p, core.u01_16(w2 & _LOW16))
    vals[e + 5] = _uniform(p, core.u01_16(w2 >> _S16))
    vals[e + 6] = _uniform(p, core.u01_16(w3 & _LOW16))
    vals[e + 7] = _uniform(p, core.u01_16(w3 >> _S16))


@njit(**_INLINE)
def _emit_uniform64(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_53(w0, w1))
    vals[e + 1] = _uniform(p, core.u01_53(w2, w3))


@njit(**_INLINE)
def _emit_normal32(p, w0, w1, w2, w3, vals, e):
    z0, z1 = core.box_muller32(w0, w1)
    z2, z3 = core.box_muller32(w2, w3)
    vals[e] = p.mean + mul(p.std, z0)
    vals[e + 1] = p.mean + mul(p.std, z1)
    vals[e + 2] = p.mean + mul(p.std, z2)
    vals[e + 3] = p.mean + mul(p.std, z3)


@njit(**_INLINE)
def _emit_normal64(p, w0, w1, w2, w3, vals, e):
    z0, z1 = core.box_muller64(w0, w1, w2, w3)
    vals[e] = p.mean + mul(p.std, z0)
    vals[e + 1] = p.mean + mul(p.std, z1)


@njit(**_INLINE)
def _truncnorm(p, u):
    return p.mean + mul(p.std, core.truncnorm_std(u, p.pa, p.qb, p.mass))


@njit(**_INLINE)
def _emit_truncnorm32(p, w0, w1, w2, w3, vals, e):
    vals[e] = _clip(np.float32(_truncnorm(p, core.u01_open32(w0))), p.bot, p.top)
    vals[e + 1] = _clip(np.float32(_truncnorm(p, core.u01_open32(w1))), p.bot, p.top)
    vals[e + 2] = _clip(np.float32(_truncnorm(p, core.u01_open32(w2))), p.bot, p.top)
    vals[e + 3] = _clip(np.float32(_truncnorm(p, core.u01_open32(w3))), p.bot, p.top)


@njit(**_INLINE)
def _emit_truncnorm64(p, w0, w1, w2, w3, vals, e):
    vals[e] = _clip(_truncnorm(p, core.u01_open53(w0, w1)), p.bot, p.top)
    vals[e + 1] = _clip(_truncnorm(p, core.u01_open53(w2, w3)), p.bot, p.top)


# name -> (parameter class, emitter, precision of the values); elements per block
# come from the contract's table, _constants.ELEMENTS_PER_BLOCK.
RULES = {
    "raw": (RawParams, _emit_raw, np.uint32),
    "bernoulli": (BernoulliParams, _emit_bernoulli, np.float32),
    "uniform32": (Uniform32Params, _emit_uniform32, np.float32),
    "uniform16": (Uniform16Params, _emit_uniform16, np.float32),
    "uniform64": (Uniform64Params, _emit_uniform64, np.float64),
    "normal32": (Normal32Params, _emit_normal32, np.float32),
    "normal64": (Normal64Params, _emit_normal64, np.float64),
    "truncnorm32": (Truncnorm32Params, _emit_truncnorm32, np.float32),
    "truncnorm64": (Truncnorm64Params, _emit_truncnorm64, np.float64),
}
_BY_CLASS = {cls: (emit, ELEMENTS_PER_BLOCK[name], precision)
             for name, (cls, emit, precision) in RULES.items()}


# Pure-Python versions of the three choices a rule makes; in compiled code each is
# made from the parameter tuple's type, at compile time (the overloads below).


def _emit(p, w0, w1, w2, w3, vals, e):
    _BY_CLASS[type(p)][0](p, w0, w1, w2, w3, vals, e)


def _elements_per_block(p):
    return _BY_CLASS[type(p)][1]


def _new_values(p):
    return np.empty(CHUNK, _BY_CLASS[type(p)][2])


@overload(_emit, **_INLINE)
def _emit_jit(p, w0, w1, w2, w3, vals, e):
    return _BY_CLASS[p.instance_class][0].py_func


@overload(_elements_per_block, **_INLINE)
def _elements_per_block_jit(p):
    epb = _BY_CLASS[p.instance_class][1]
    return lambda p: epb


@overload(_new_values, **_INLINE)
def _new_values_jit(p):
    precision = _BY_CLASS[p.instance_class][2]
    return lambda p: np.empty(CHUNK, precision)


# --- stores ------------------------------------------------------------------------


@njit(**_INLINE)
def _element_offset(i, shape, strides):
    """Offset, in elements, of logical C-order index ``i``; ``shape`` and ``strides``
    are int64 arrays (CPU) or tuples (CUDA kernels)."""
    off = 0
    for d in range(len(shape) - 1, -1, -1):
        off += (i % shape[d]) * strides[d]
        i //= shape[d]
    return off


@njit(**_INLINE)
def _scatter(dest, start, lo, hi, chunk0, out):
    buf, origin, shape, strides, contiguous, store = dest
    if contiguous:
        for g in range(lo, hi):
            buf[origin + g - start] = out[g - chunk0]
    else:
        for g in range(lo, hi):
            buf[origin + _element_offset(g - start, shape, strides)] = out[g - chunk0]


@njit(**_INLINE)
def _put(dest, start, lo, hi, chunk0, vals, out16, out8):
    """Round a chunk's values to the output format; store those of [lo, hi)."""
    store = dest[5]
    if store == BF16:
        for k in range(CHUNK):
            out16[k] = core.bf16_bits(vals[k])
        _scatter(dest, start, lo, hi, chunk0, out16)
    elif store == F16:
        for k in range(CHUNK):
            out16[k] = core.f16_bits(vals[k])
        _scatter(dest, start, lo, hi, chunk0, out16)
    elif store == U8:
        for k in range(CHUNK):
            out8[k] = np.uint8(vals[k])
        _scatter(dest, start, lo, hi, chunk0, out8)
    else:
        _scatter(dest, start, lo, hi, chunk0, vals)


# --- the kernel ------------------------------------------------------------------


@njit(**_INLINE)
def _fill_chunks(dest, ctr, p, c_first, c_last):
    """Chunks [c_first, c_last) of a fill, in order, with scratch allocated once.

    ``dest`` = (buf, origin, shape, strides, contiguous, store);
    ``ctr`` = (key0, key1, stream0, stream1, block0, start, n); ``p`` = rule params."""
    key0, key1, s0, s1, block0, start, n = ctr
    epb = _elements_per_block(p)
    nb = CHUNK // epb
    w0 = np.empty(nb, np.uint32)
    w1 = np.empty(nb, np.uint32)
    w2 = np.empty(nb, np.uint32)
    w3 = np.empty(nb, np.uint32)
    vals = _new_values(p)
    out16 = np.empty(CHUNK, np.uint16)
    out8 = np.empty(CHUNK, np.uint8)
    for c in range(c_first, c_last):
        chunk0 = c * CHUNK
        b0 = block0 + np.uint64(chunk0 // epb)
        for j in range(nb):
            b = b0 + np.uint64(j)
            w0[j], w1[j], w2[j], w3[j] = core.philox4x32(
                b & _MASK32, b >> _SHIFT32, s0, s1, key0, key1, _ROUNDS)
        for j in range(nb):
            _emit(p, w0[j], w1[j], w2[j], w3[j], vals, j * epb)
        _put(dest, start, max(chunk0, start), min(chunk0 + CHUNK, start + n), chunk0, vals,
             out16, out8)


@njit(parallel=True, cache=True, **_JIT)
def _fill(dest, ctr, p, parts):
    """The fill's chunks split into ``parts`` contiguous runs, one per parallel task.
    Which task computes a chunk never changes its values."""
    start, n = ctr[5], ctr[6]
    first = start // CHUNK
    count = (start + n + CHUNK - 1) // CHUNK - first
    for k in prange(parts):
        _fill_chunks(dest, ctr, p, first + k * count // parts, first + (k + 1) * count // parts)


def fill(buf, origin, shape, strides, rule, dtype, seed, stream, block0, start, n):
    """Write elements [start, start + n) of the stream into ``buf``.

    ``buf`` is a 1-D contiguous view of the storage (16-bit floats as uint16 bits,
    bool as uint8); element ``start + i`` goes to ``buf[origin + offset(i)]``, where
    offset(i) is ``i`` when ``shape`` is empty, else the strided offset of logical
    C-order index ``i`` in an array of ``shape`` and element ``strides``.
    """
    if n == 0:
        return
    u = np.uint64
    mask = 0xFFFFFFFF
    params = RULES[rule.name][0](*(rule.params or (0,)))
    dest = (buf, np.int64(origin), np.asarray(shape, np.int64), np.asarray(strides, np.int64),
            len(shape) == 0, STORES[dtype])
    ctr = (u(seed & mask), u(seed >> 32), u(stream & mask), u(stream >> 32), u(block0),
           np.int64(start), np.int64(n))
    chunks = (start + n + CHUNK - 1) // CHUNK - start // CHUNK
    _fill(dest, ctr, params, min(chunks, 4 * get_num_threads()))


# --- many destinations in one pass ---------------------------------------------------

_UNIFORM, _NORMAL, _TRUNCNORM, _CONSTANT = (FAMILIES.index(f) for f in
                                            ("uniform", "normal", "truncnorm", "constant"))


@intrinsic
def _pointer(typingctx, address):
    """The ``void*`` at integer ``address``."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.uint64), codegen


def _array_at(address, n, dtype):
    """The ``n`` elements of ``dtype`` at ``address`` as an array."""
    ctype = np.ctypeslib.as_ctypes_type(dtype)
    return np.ctypeslib.as_array((ctype * n).from_address(int(address)))


@overload(_array_at, **_INLINE)
def _array_at_jit(address, n, dtype):
    return lambda address, n, dtype: carray(_pointer(address), n, dtype)


def _param_builders(uniform, normal, truncnorm, ftype):
    """Per family, the rule's parameter tuple from the doubles ``v`` of a table row:
    values of the rule's precision convert exactly, probabilities stay doubles."""
    return {
        _UNIFORM: lambda v: uniform(ftype(v[0]), ftype(v[1]), ftype(v[2]), ftype(v[3])),
        _NORMAL: lambda v: normal(ftype(v[0]), ftype(v[1])),
        _TRUNCNORM: lambda v: truncnorm(v[0], v[1], v[2], v[3], v[4], ftype(v[5]), ftype(v[6])),
    }


# storage dtype -> family -> parameter tuple builder (backends.FAMILY_RULES's rules)
_PARAMS = {
    np.uint16: _param_builders(Uniform16Params, Normal32Params, Truncnorm32Params, np.float32),
    np.float32: _param_builders(Uniform32Params, Normal32Params, Truncnorm32Params, np.float32),
    np.float64: _param_builders(Uniform64Params, Normal64Params, Truncnorm64Params, np.float64),
}
_WORD = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _params_of(family):
    def params(buf, v):
        return _PARAMS[buf.dtype.type][family](v)

    @overload(params, **_INLINE)
    def _params_jit(buf, v):
        build = njit(**_INLINE)(_PARAMS[as_dtype(buf.dtype).type][family])
        return lambda buf, v: build(v)

    return params


_uniform_params, _normal_params, _truncnorm_params = (
    _params_of(f) for f in (_UNIFORM, _NORMAL, _TRUNCNORM))


def _word_dtype(buf):
    return _WORD[buf.itemsize]


@overload(_word_dtype, **_INLINE)
def _word_dtype_jit(buf):
    word = _WORD[as_dtype(buf.dtype).itemsize]
    return lambda buf: word


@njit(**_INLINE)
def _fill_entry(proto, store, ptr, n, start, key, stream, block0, family, v, bits,
                c_first, c_last):
    """Chunks [c_first, c_last) (of the entry's own tensor) of one table row into the
    ``n`` elements of storage like ``proto`` at address ``ptr``."""
    if family == _CONSTANT:
        words = _array_at(ptr, n, _word_dtype(proto))
        word = words.dtype.type(bits)
        for i in range(max(c_first * CHUNK, start) - start, min(c_last * CHUNK, start + n) - start):
            words[i] = word
        return
    buf = _array_at(ptr, n, proto.dtype)
    empty = np.empty(0, np.int64)
    dest = (buf, np.int64(0), empty, empty, True, store)
    ctr = (key & _MASK32, key >> _SHIFT32, stream & _MASK32, stream >> _SHIFT32, block0,
           start, n)
    if family == _UNIFORM:
        _fill_chunks(dest, ctr, _uniform_params(buf, v), c_first, c_last)
    elif family == _NORMAL:
        _fill_chunks(dest, ctr, _normal_params(buf, v), c_first, c_last)
    else:
        _fill_chunks(dest, ctr, _truncnorm_params(buf, v), c_first, c_last)


@njit(parallel=True, cache=True, **_JIT)
def _fill_many(proto, store, ptr, n, start, seed, stream, block0, family, params, bits,
               chunk0, first, parts):
    """Every row's chunks, the rows' chunk lists laid end to end (row ``e`` holds
    global chunks [first[e], first[e + 1]), its own chunks from ``chunk0[e]``) and
    split into ``parts`` contiguous runs, one per parallel task."""
    total = first[-1]
    for k in prange(parts):
        lo = k * total // parts
        hi = (k + 1) * total // parts
        e = np.searchsorted(first, lo, side="right") - 1
        while e < len(n) and first[e] < hi:
            a = max(lo, first[e]) - first[e] + chunk0[e]
            b = min(hi, first[e + 1]) - first[e] + chunk0[e]
            if a < b:
                _fill_entry(proto, store, ptr[e], n[e], start[e], seed[e], stream[e], block0[e],
                            family[e], params[e], bits[e], a, b)
            e += 1


def fill_many(dtype, table):
    """Fill every destination of ``table`` (a ``backends.ENTRY`` array of host
    addresses, all of storage ``dtype``) in one parallel pass; each row gets exactly
    what ``fill`` would write into it."""
    table = table[table["n"] > 0]
    if len(table) == 0:
        return
    start = table["start"]
    chunk0 = start // CHUNK
    counts = (start + table["n"] + CHUNK - 1) // CHUNK - chunk0
    first = np.zeros(len(table) + 1, np.int64)
    np.cumsum(counts, out=first[1:])
    proto = np.empty(0, STORAGE[dtype])
    _fill_many(proto, STORES[dtype], table["ptr"].copy(), table["n"].copy(), start.copy(),
               table["seed"].copy(), table["stream"].copy(), table["block0"].copy(),
               table["family"].copy(), np.ascontiguousarray(table["params"]),
               table["bits"].copy(), chunk0, first, min(int(first[-1]), 4 * get_num_threads()))
