"""CPU backend: Numba, parallel over chunks, SIMD across Philox blocks within a chunk.

A chunk is ``CHUNK`` consecutive logical elements, aligned to multiples of ``CHUNK``
in the tensor's own index space. Each thread takes whole chunks; inside one it
computes the words of all the chunk's blocks in a loop LLVM vectorizes (lanes of
independent counters), turns them into values in a second loop, rounds them to the
output format in a third and stores the ones it owns. What an element gets depends
only on its index, never on the number of threads or on where a fill starts.

The kernel is specialised on the rule and the output format as Numba literals, so
each (rule, format) pair compiles once, with everything inlined, and is cached on
disk.
"""

import numpy as np
from numba import literally, njit, prange

from .. import core

CHUNK = 4096  # elements; a multiple of every rule's elements per block

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_LOW16 = np.uint64(0xFFFF)
_S16 = np.uint64(16)
_ROUNDS = 10

RAW, UNIFORM32, UNIFORM16, UNIFORM64, NORMAL32, NORMAL64, TRUNCNORM32, TRUNCNORM64, BERNOULLI = range(9)
RULES = {
    "raw": RAW,
    "uniform32": UNIFORM32,
    "uniform16": UNIFORM16,
    "uniform64": UNIFORM64,
    "normal32": NORMAL32,
    "normal64": NORMAL64,
    "truncnorm32": TRUNCNORM32,
    "truncnorm64": TRUNCNORM64,
    "bernoulli": BERNOULLI,
}
SAME, BF16, F16, U8 = range(4)
STORES = {"float32": SAME, "float64": SAME, "uint32": SAME, "bfloat16": BF16, "float16": F16,
          "bool": U8, "uint8": U8}


@njit(inline="always")
def _clip(v, lo, hi):
    return min(max(v, lo), hi)


# --- emitters: one Philox block's words to its elements, in the rule's precision ----


@njit(inline="always")
def _emit_uniform32(w0, w1, w2, w3, vals, e, lo, span, bot, top):
    vals[e] = _clip(lo + span * core.u01_24(w0), bot, top)
    vals[e + 1] = _clip(lo + span * core.u01_24(w1), bot, top)
    vals[e + 2] = _clip(lo + span * core.u01_24(w2), bot, top)
    vals[e + 3] = _clip(lo + span * core.u01_24(w3), bot, top)


@njit(inline="always")
def _emit_uniform16_word(w, vals, e, lo, span, bot, top):
    vals[e] = _clip(lo + span * core.u01_16(w & _LOW16), bot, top)
    vals[e + 1] = _clip(lo + span * core.u01_16(w >> _S16), bot, top)


@njit(inline="always")
def _emit_uniform16(w0, w1, w2, w3, vals, e, lo, span, bot, top):
    _emit_uniform16_word(w0, vals, e, lo, span, bot, top)
    _emit_uniform16_word(w1, vals, e + 2, lo, span, bot, top)
    _emit_uniform16_word(w2, vals, e + 4, lo, span, bot, top)
    _emit_uniform16_word(w3, vals, e + 6, lo, span, bot, top)


@njit(inline="always")
def _emit_uniform64(w0, w1, w2, w3, vals, e, lo, span, bot, top):
    vals[e] = _clip(lo + span * core.u01_53(w0, w1), bot, top)
    vals[e + 1] = _clip(lo + span * core.u01_53(w2, w3), bot, top)


@njit(inline="always")
def _emit_normal32(w0, w1, w2, w3, vals, e, mean, std):
    z0, z1 = core.box_muller32(w0, w1)
    z2, z3 = core.box_muller32(w2, w3)
    vals[e] = mean + std * z0
    vals[e + 1] = mean + std * z1
    vals[e + 2] = mean + std * z2
    vals[e + 3] = mean + std * z3


@njit(inline="always")
def _emit_normal64(w0, w1, w2, w3, vals, e, mean, std):
    z0, z1 = core.box_muller64(w0, w1, w2, w3)
    vals[e] = mean + std * z0
    vals[e + 1] = mean + std * z1


@njit(inline="always")
def _truncnorm(u, pa, qb, mass, mean, std):
    return mean + std * core.truncnorm_std(u, pa, qb, mass)


@njit(inline="always")
def _emit_truncnorm32(w0, w1, w2, w3, vals, e, pa, qb, mass, mean, std, bot, top):
    vals[e] = _clip(np.float32(_truncnorm(core.u01_open32(w0), pa, qb, mass, mean, std)), bot, top)
    vals[e + 1] = _clip(np.float32(_truncnorm(core.u01_open32(w1), pa, qb, mass, mean, std)), bot, top)
    vals[e + 2] = _clip(np.float32(_truncnorm(core.u01_open32(w2), pa, qb, mass, mean, std)), bot, top)
    vals[e + 3] = _clip(np.float32(_truncnorm(core.u01_open32(w3), pa, qb, mass, mean, std)), bot, top)


@njit(inline="always")
def _emit_truncnorm64(w0, w1, w2, w3, vals, e, pa, qb, mass, mean, std, bot, top):
    vals[e] = _clip(_truncnorm(core.u01_open53(w0, w1), pa, qb, mass, mean, std), bot, top)
    vals[e + 1] = _clip(_truncnorm(core.u01_open53(w2, w3), pa, qb, mass, mean, std), bot, top)


# --- the kernel ----------------------------------------------------------------


@njit(inline="always")
def _element_offset(i, shape, strides):
    """Offset, in elements, of logical C-order index ``i``."""
    off = 0
    for d in range(shape.size - 1, -1, -1):
        off += (i % shape[d]) * strides[d]
        i //= shape[d]
    return off


@njit(inline="always")
def _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, out):
    if contiguous:
        for g in range(lo, hi):
            buf[origin + g - start] = out[g - chunk0]
    else:
        for g in range(lo, hi):
            buf[origin + _element_offset(g - start, shape, strides)] = out[g - chunk0]


@njit(inline="always")
def _put(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, vals, store):
    """Round a chunk's values to the output format and store the ones in [lo, hi)."""
    if store == BF16:
        out = np.empty(CHUNK, np.uint16)
        for k in range(CHUNK):
            out[k] = core.bf16_bits(vals[k])
        _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, out)
    elif store == F16:
        out = np.empty(CHUNK, np.uint16)
        for k in range(CHUNK):
            out[k] = core.f16_bits(vals[k])
        _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, out)
    elif store == U8:
        out = np.empty(CHUNK, np.uint8)
        for k in range(CHUNK):
            out[k] = np.uint8(vals[k])
        _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, out)
    else:
        _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, vals)


@njit(parallel=True, cache=True)
def _fill(buf, origin, shape, strides, contiguous, key0, key1, s0, s1, block0, start, n,
          rule, store, p32, p64):
    """The one CPU kernel. ``rule`` and ``store`` select code outside the inner loops,
    so each inner loop is straight-line and vectorizes; ``p32``/``p64`` hold the rule's
    parameters in its precision (all rules share the types, so one compile serves
    every rule for a given output buffer dtype)."""
    stop = start + n
    first_chunk = start // CHUNK
    nchunks = (stop + CHUNK - 1) // CHUNK - first_chunk
    epb = 4
    if rule == UNIFORM16:
        epb = 8
    elif rule == UNIFORM64 or rule == NORMAL64 or rule == TRUNCNORM64:
        epb = 2
    nb = CHUNK // epb
    threshold = np.uint64(p64[0])
    a0, a1, a2, a3, a5, a6 = p32[0], p32[1], p32[2], p32[3], p32[5], p32[6]
    d0, d1, d2, d3, d4, d5, d6 = p64[0], p64[1], p64[2], p64[3], p64[4], p64[5], p64[6]
    for c in prange(nchunks):
        chunk0 = (first_chunk + c) * CHUNK
        lo = max(chunk0, start)
        hi = min(chunk0 + CHUNK, stop)
        b0 = np.uint64(block0) + np.uint64(chunk0 // epb)
        w0 = np.empty(nb, np.uint32)
        w1 = np.empty(nb, np.uint32)
        w2 = np.empty(nb, np.uint32)
        w3 = np.empty(nb, np.uint32)
        for j in range(nb):
            ctr = b0 + np.uint64(j)
            w0[j], w1[j], w2[j], w3[j] = core.philox4x32(
                ctr & _MASK32, ctr >> _SHIFT32, s0, s1, key0, key1, _ROUNDS)

        if rule == RAW:
            vr = np.empty(CHUNK, np.uint32)
            for j in range(nb):
                vr[4 * j] = w0[j]
                vr[4 * j + 1] = w1[j]
                vr[4 * j + 2] = w2[j]
                vr[4 * j + 3] = w3[j]
            _put(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, vr, store)
        elif rule == BERNOULLI:
            vb = np.empty(CHUNK, np.uint8)
            for j in range(nb):
                vb[4 * j] = np.uint8(np.uint64(w0[j]) < threshold)
                vb[4 * j + 1] = np.uint8(np.uint64(w1[j]) < threshold)
                vb[4 * j + 2] = np.uint8(np.uint64(w2[j]) < threshold)
                vb[4 * j + 3] = np.uint8(np.uint64(w3[j]) < threshold)
            if store == U8:
                _scatter(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, vb)
            else:
                vbf = np.empty(CHUNK, np.float32)
                for k in range(CHUNK):
                    vbf[k] = np.float32(vb[k])
                _put(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, vbf, store)
        elif rule == UNIFORM64 or rule == NORMAL64 or rule == TRUNCNORM64:
            v64 = np.empty(CHUNK, np.float64)
            if rule == UNIFORM64:
                for j in range(nb):
                    _emit_uniform64(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                    np.uint64(w3[j]), v64, 2 * j, d0, d1, d2, d3)
            elif rule == NORMAL64:
                for j in range(nb):
                    _emit_normal64(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                   np.uint64(w3[j]), v64, 2 * j, d0, d1)
            else:
                for j in range(nb):
                    _emit_truncnorm64(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                      np.uint64(w3[j]), v64, 2 * j, d0, d1, d2, d3, d4, d5, d6)
            _put(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, v64, store)
        else:
            v32 = np.empty(CHUNK, np.float32)
            if rule == UNIFORM32:
                for j in range(nb):
                    _emit_uniform32(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                    np.uint64(w3[j]), v32, 4 * j, a0, a1, a2, a3)
            elif rule == UNIFORM16:
                for j in range(nb):
                    _emit_uniform16(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                    np.uint64(w3[j]), v32, 8 * j, a0, a1, a2, a3)
            elif rule == NORMAL32:
                for j in range(nb):
                    _emit_normal32(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                   np.uint64(w3[j]), v32, 4 * j, a0, a1)
            else:
                for j in range(nb):
                    _emit_truncnorm32(np.uint64(w0[j]), np.uint64(w1[j]), np.uint64(w2[j]),
                                      np.uint64(w3[j]), v32, 4 * j, d0, d1, d2, d3, d4, a5, a6)
            _put(buf, origin, shape, strides, contiguous, start, lo, hi, chunk0, v32, store)


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
    p64 = np.zeros(8, np.float64)
    p64[: len(rule.params)] = rule.params
    _fill(buf, origin, np.asarray(shape, np.int64), np.asarray(strides, np.int64),
          len(shape) == 0, u(seed & mask), u(seed >> 32), u(stream & mask), u(stream >> 32),
          u(block0), start, n, RULES[rule.name], STORES[dtype], p64.astype(np.float32), p64)
