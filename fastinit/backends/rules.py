"""What the Numba backends share: each rule's parameters and block emitter, the
storage formats, and strided addressing, as target-neutral device functions.

``cpu`` compiles them for the host and ``numba_cuda`` as device functions, so the two
run one source. Each is a ``_bits.device`` function: compiled once per signature,
inlined by LLVM (NVVM on CUDA) into each caller.

A rule is ``RULES[name]``: its parameter record (a named tuple class, so that the
emitter is chosen from the record's type while Numba compiles), the emitter turning
one Philox block's four words into its elements, the precision of those values
before rounding to the storage format, and ``from_row``, which builds the record from
the doubles of a ``backends.ENTRY`` row (values of the rule's precision convert
exactly; probabilities stay doubles; 64-bit integers come as two 32-bit halves).

An emitter ``emit(p, w0, w1, w2, w3, vals, e)`` writes the block's values to
``vals[e:e + E]``. A rule that may reject a try (the bounded integers) also has
``rejects(p, w0, w1, w2, w3)``, whether the block's words reject any, and ``retry(p,
w0, w1, w2, w3, vals, e, at)``, which then replaces the rejected values from the block's
retry rounds; ``at = (b, s0, s1, k0, k1)`` names the block: its counter and the 32-bit
halves of its stream and key, uint64 each. For every other rule ``rejects`` is False
and ``retry`` is never called. Kept apart, emitter and test stay free of branches and
loops, so that loops over blocks vectorize.
"""

from collections import namedtuple

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.core.extending import intrinsic, overload

from .. import core
from .._bits import DEVICE, device, mul

_LOW16 = np.uint64(0xFFFF)
_S16 = np.uint64(16)
_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@device
def _clip(v, lo, hi):
    """min(max(v, lo), hi) as Python's builtins compute it (kernels/transforms.cuh's
    clip): max keeps its first argument unless the second compares greater, min unless
    the second compares less. Written out, it compiles with no call to those builtins."""
    m = lo if lo > v else v
    return hi if hi < m else m


RawParams = namedtuple("RawParams", "unused")
BernoulliParams = namedtuple("BernoulliParams", "threshold")
Uniform32Params = namedtuple("Uniform32Params", "lo span bot top")
Uniform16Params = namedtuple("Uniform16Params", "lo span bot top")
Uniform64Params = namedtuple("Uniform64Params", "lo span bot top")
Normal32Params = namedtuple("Normal32Params", "mean std")
Normal64Params = namedtuple("Normal64Params", "mean std")
Truncnorm32Params = namedtuple("Truncnorm32Params", "pa qb mass mean std bot top")
Truncnorm64Params = namedtuple("Truncnorm64Params", "pa qb mass mean std bot top")
Integers32Params = namedtuple("Integers32Params", "low span reject")
Integers64Params = namedtuple("Integers64Params", "low span reject")


@device
def _emit_raw(p, w0, w1, w2, w3, vals, e):
    vals[e] = w0
    vals[e + 1] = w1
    vals[e + 2] = w2
    vals[e + 3] = w3


@device
def _emit_bernoulli(p, w0, w1, w2, w3, vals, e):
    vals[e] = np.float32(w0 < p.threshold)
    vals[e + 1] = np.float32(w1 < p.threshold)
    vals[e + 2] = np.float32(w2 < p.threshold)
    vals[e + 3] = np.float32(w3 < p.threshold)


@device
def _uniform(p, u):
    return _clip(p.lo + mul(p.span, u), p.bot, p.top)


@device
def _emit_uniform32(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_24(w0))
    vals[e + 1] = _uniform(p, core.u01_24(w1))
    vals[e + 2] = _uniform(p, core.u01_24(w2))
    vals[e + 3] = _uniform(p, core.u01_24(w3))


@device
def _emit_uniform16(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_16(w0 & _LOW16))
    vals[e + 1] = _uniform(p, core.u01_16(w0 >> _S16))
    vals[e + 2] = _uniform(p, core.u01_16(w1 & _LOW16))
    vals[e + 3] = _uniform(p, core.u01_16(w1 >> _S16))
    vals[e + 4] = _uniform(p, core.u01_16(w2 & _LOW16))
    vals[e + 5] = _uniform(p, core.u01_16(w2 >> _S16))
    vals[e + 6] = _uniform(p, core.u01_16(w3 & _LOW16))
    vals[e + 7] = _uniform(p, core.u01_16(w3 >> _S16))


@device
def _emit_uniform64(p, w0, w1, w2, w3, vals, e):
    vals[e] = _uniform(p, core.u01_53(w0, w1))
    vals[e + 1] = _uniform(p, core.u01_53(w2, w3))


@device
def _emit_normal32(p, w0, w1, w2, w3, vals, e):
    z0, z1 = core.box_muller32(w0, w1)
    z2, z3 = core.box_muller32(w2, w3)
    vals[e] = p.mean + mul(p.std, z0)
    vals[e + 1] = p.mean + mul(p.std, z1)
    vals[e + 2] = p.mean + mul(p.std, z2)
    vals[e + 3] = p.mean + mul(p.std, z3)


@device
def _emit_normal64(p, w0, w1, w2, w3, vals, e):
    z0, z1 = core.box_muller64(w0, w1, w2, w3)
    vals[e] = p.mean + mul(p.std, z0)
    vals[e + 1] = p.mean + mul(p.std, z1)


@device
def _truncnorm(p, u):
    return p.mean + mul(p.std, core.truncnorm_std(u, p.pa, p.qb, p.mass))


@device
def _truncnorm32(p, w):
    z = np.float64(core.truncnorm_std32(core.u01_open32(w), p.pa, p.qb, p.mass))
    return _clip(np.float32(p.mean + mul(p.std, z)), p.bot, p.top)


@device
def _emit_truncnorm32(p, w0, w1, w2, w3, vals, e):
    vals[e] = _truncnorm32(p, w0)
    vals[e + 1] = _truncnorm32(p, w1)
    vals[e + 2] = _truncnorm32(p, w2)
    vals[e + 3] = _truncnorm32(p, w3)


@device
def _emit_truncnorm64(p, w0, w1, w2, w3, vals, e):
    vals[e] = _clip(_truncnorm(p, core.u01_open53(w0, w1)), p.bot, p.top)
    vals[e + 1] = _clip(_truncnorm(p, core.u01_open53(w2, w3)), p.bot, p.top)


@device
def _never_rejects(p, w0, w1, w2, w3):
    """The ``rejects`` of a rule that takes every try."""
    return False


@device
def _no_retry(p, w0, w1, w2, w3, vals, e, at):
    """The ``retry`` of a rule that takes every try: never called."""


# Bounded integers (docs/stream.md): a lane's first try is its word (two words, 64-bit);
# while any lane is rejected, the block's retry rounds give each rejected lane its word(s)
# of the round's block. Values are low + k mod 2**64, the two's complement of the integer.


@device
def _emit_integers32(p, w0, w1, w2, w3, vals, e):
    vals[e] = core.add64(p.low, core.lemire32(w0, p.span) >> _S32)
    vals[e + 1] = core.add64(p.low, core.lemire32(w1, p.span) >> _S32)
    vals[e + 2] = core.add64(p.low, core.lemire32(w2, p.span) >> _S32)
    vals[e + 3] = core.add64(p.low, core.lemire32(w3, p.span) >> _S32)


@device
def _rejected32(p, m):
    """Whether the 32-bit try with product ``m`` is rejected."""
    return (m & _LOW32) < p.reject


@device
def _rejects_integers32(p, w0, w1, w2, w3):
    return (_rejected32(p, core.lemire32(w0, p.span)) | _rejected32(p, core.lemire32(w1, p.span))
            | _rejected32(p, core.lemire32(w2, p.span))
            | _rejected32(p, core.lemire32(w3, p.span)))


@device
def _try32(p, m, w):
    """The lane's product: ``m`` if accepted, else the try of word ``w``."""
    return core.lemire32(w, p.span) if _rejected32(p, m) else m


@device
def _retry_integers32(p, w0, w1, w2, w3, vals, e, at):
    m0, m1 = core.lemire32(w0, p.span), core.lemire32(w1, p.span)
    m2, m3 = core.lemire32(w2, p.span), core.lemire32(w3, p.span)
    k0, k1 = at[3], at[4]
    while (_rejected32(p, m0) | _rejected32(p, m1)) | (_rejected32(p, m2) | _rejected32(p, m3)):
        r0, r1, r2, r3 = core.retry_block(at, k0, k1)
        m0, m1 = _try32(p, m0, r0), _try32(p, m1, r1)
        m2, m3 = _try32(p, m2, r2), _try32(p, m3, r3)
        k0, k1 = core.next_retry_key(k0, k1)
    vals[e] = core.add64(p.low, m0 >> _S32)
    vals[e + 1] = core.add64(p.low, m1 >> _S32)
    vals[e + 2] = core.add64(p.low, m2 >> _S32)
    vals[e + 3] = core.add64(p.low, m3 >> _S32)


@device
def _emit_integers64(p, w0, w1, w2, w3, vals, e):
    vals[e] = core.add64(p.low, core.lemire64(w0, w1, p.span)[0])
    vals[e + 1] = core.add64(p.low, core.lemire64(w2, w3, p.span)[0])


@device
def _rejects_integers64(p, w0, w1, w2, w3):
    return (core.lemire64(w0, w1, p.span)[1] < p.reject) | (
        core.lemire64(w2, w3, p.span)[1] < p.reject)


@device
def _try64(p, m, x1, x0):
    """The lane's (high, low) product: ``m`` if accepted, else the try of x1:x0."""
    return core.lemire64(x1, x0, p.span) if m[1] < p.reject else m


@device
def _retry_integers64(p, w0, w1, w2, w3, vals, e, at):
    m0, m1 = core.lemire64(w0, w1, p.span), core.lemire64(w2, w3, p.span)
    k0, k1 = at[3], at[4]
    while (m0[1] < p.reject) | (m1[1] < p.reject):
        r0, r1, r2, r3 = core.retry_block(at, k0, k1)
        m0, m1 = _try64(p, m0, r0, r1), _try64(p, m1, r2, r3)
        k0, k1 = core.next_retry_key(k0, k1)
    vals[e] = core.add64(p.low, m0[0])
    vals[e + 1] = core.add64(p.low, m1[0])


@device
def _u64(low, high):
    """The uint64 of two 32-bit halves given as doubles."""
    return np.uint64(low) | (np.uint64(high) << _S32)


# integers32's span and threshold are below 2**32: as uint32, their products with words
# compile to single 32 x 32 -> 64-bit multiplies.
_integers32_from = device(lambda v: Integers32Params(_u64(v[0], v[1]), np.uint32(v[2]),
                                                     np.uint32(v[4])))
_integers64_from = device(lambda v: Integers64Params(_u64(v[0], v[1]), _u64(v[2], v[3]),
                                                     _u64(v[4], v[5])))


def _uniform_from(cls, ftype):
    return device(lambda v: cls(ftype(v[0]), ftype(v[1]), ftype(v[2]), ftype(v[3])))


def _truncnorm_from(cls, ftype):
    return device(lambda v: cls(v[0], v[1], v[2], v[3], v[4], ftype(v[5]), ftype(v[6])))


Rule = namedtuple("Rule", "params emit precision from_row rejects retry",
                  defaults=(_never_rejects, _no_retry))

# name -> Rule; elements per block come from the contract's table,
# _constants.ELEMENTS_PER_BLOCK.
RULES = {
    "raw": Rule(RawParams, _emit_raw, np.uint32, device(lambda v: RawParams(np.int64(0)))),
    "bernoulli": Rule(BernoulliParams, _emit_bernoulli, np.float32,
                      device(lambda v: BernoulliParams(np.uint64(v[0])))),
    "uniform32": Rule(Uniform32Params, _emit_uniform32, np.float32,
                      _uniform_from(Uniform32Params, np.float32)),
    "uniform16": Rule(Uniform16Params, _emit_uniform16, np.float32,
                      _uniform_from(Uniform16Params, np.float32)),
    "uniform64": Rule(Uniform64Params, _emit_uniform64, np.float64,
                      _uniform_from(Uniform64Params, np.float64)),
    "normal32": Rule(Normal32Params, _emit_normal32, np.float32,
                     device(lambda v: Normal32Params(np.float32(v[0]), np.float32(v[1])))),
    "normal64": Rule(Normal64Params, _emit_normal64, np.float64,
                     device(lambda v: Normal64Params(np.float64(v[0]), np.float64(v[1])))),
    "truncnorm32": Rule(Truncnorm32Params, _emit_truncnorm32, np.float32,
                        _truncnorm_from(Truncnorm32Params, np.float32)),
    "truncnorm64": Rule(Truncnorm64Params, _emit_truncnorm64, np.float64,
                        _truncnorm_from(Truncnorm64Params, np.float64)),
    "integers32": Rule(Integers32Params, _emit_integers32, np.uint64, _integers32_from,
                       _rejects_integers32, _retry_integers32),
    "integers64": Rule(Integers64Params, _emit_integers64, np.uint64, _integers64_from,
                       _rejects_integers64, _retry_integers64),
}


def row_params(rule):
    """``rule.params`` as the doubles of a ``backends.ENTRY`` row (exact: each is a
    float32, float64 or an integer below 2**53)."""
    v = np.zeros(7)
    v[:len(rule.params)] = [float(x) for x in rule.params]
    return v


# --- storage formats -------------------------------------------------------------------


@device
def _as_is(v):
    return v


@device
def _to_u8(v):
    return np.uint8(v)


@device
def _to_u16(v):
    return np.uint16(v)


@device
def _to_u32(v):
    return np.uint32(v)


# name -> the conversion of a value to its storage word (16-bit floats as bits, masks
# as uint8, integers as the low bits of their uint64 two's complement); "same" stores the
# value itself.
CONVERT = {"same": _as_is, "bf16": core.bf16_bits, "f16": core.f16_bits, "u8": _to_u8,
           "u16": _to_u16, "u32": _to_u32}
STORES = {"float32": "same", "float64": "same", "uint32": "same", "bfloat16": "bf16",
          "float16": "f16", "bool": "u8", "uint8": "u8", "int8": "u8", "int16": "u16",
          "uint16": "u16", "int32": "u32", "int64": "same", "uint64": "same"}


# --- addresses -------------------------------------------------------------------------


@device
def element_offset(i, shape, strides):
    """Offset, in elements, of logical C-order index ``i`` in an array of ``shape``
    and element ``strides`` (tuples; the CUDA kernels' strided addressing)."""
    off = 0
    for d in range(len(shape) - 1, -1, -1):
        off += (i % shape[d]) * strides[d]
        i //= shape[d]
    return off


@device
def row_of(first, lo, g):
    """The row e >= lo with first[e] <= g < first[e + 1], by bisection; ``first`` is
    nondecreasing and first[lo] <= g < first[-1]."""
    hi = len(first) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if first[mid] <= g:
            lo = mid
        else:
            hi = mid
    return lo


@intrinsic
def pointer(typingctx, address):
    """The ``void*`` at integer ``address``."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.uint64), codegen


def array_at(address, n, dtype):
    """The ``n`` elements of ``dtype`` at ``address`` as an array."""
    ctype = np.ctypeslib.as_ctypes_type(dtype)
    return np.ctypeslib.as_array((ctype * n).from_address(int(address)))


@overload(array_at, jit_options=DEVICE)
def _array_at_jit(address, n, dtype):
    return lambda address, n, dtype: carray(pointer(address), n, dtype)
