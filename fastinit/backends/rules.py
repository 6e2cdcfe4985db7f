"""What the Numba backends share: each rule's parameter record and block emitter, the
storage formats, and strided addressing, as target-neutral device functions.

``cpu`` compiles them for the host and ``numba_cuda`` as device functions, so the two
run one source. Each is a ``_bits.device`` function: compiled once per signature,
inlined by LLVM (NVVM on CUDA) into each caller.

Everything here is derived from the rules' declarations (``fastinit.registry``) and
their transforms (``fastinit.core``). A rule's code is ``CODE[name]``: its parameter record (a
named tuple class, so that the emitter is chosen from the record's type while Numba
compiles), the emitter turning one Philox block's four words into its elements, the
precision of those values before rounding to the storage format, and ``from_row``,
which builds the record from the doubles of a ``backends.ENTRY`` row (values of the
rule's precision convert exactly; probabilities stay doubles; 64-bit integers come as
two 32-bit halves).

An emitter ``emit(p, w0, w1, w2, w3, vals, e)`` writes the block's values to
``vals[e:e + E]``, calling the rule's transform as its ``reads`` says. A rule that may
reject a try (the bounded integers) also has ``rejects(p, w0, w1, w2, w3)``, whether the
block's words reject any, and ``retry(p, w0, w1, w2, w3, vals, e, at)``, which then
replaces the rejected values from the block's retry rounds; ``at = (b, s0, s1, k0, k1)``
names the block: its counter and the 32-bit halves of its stream and key, uint64 each.
For every other rule ``rejects`` is False and ``retry`` is never called. Kept apart,
emitter and test stay free of branches and loops, so that loops over blocks vectorize.
"""

from collections import namedtuple

import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.core.extending import intrinsic, overload

from .. import core
from .._bits import DEVICE, device
from ..registry import PARAM_TYPES, RULES as SPECS

_LOW16 = np.uint64(0xFFFF)
_S16 = np.uint64(16)
_S32 = np.uint64(32)


# --- emitters, one per way of reading a block (registry.READS) ----------------------------


def _reading_words(one):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e] = one(p, w0)
        vals[e + 1] = one(p, w1)
        vals[e + 2] = one(p, w2)
        vals[e + 3] = one(p, w3)

    return emit


def _reading_halves(one):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e] = one(p, w0 & _LOW16)
        vals[e + 1] = one(p, w0 >> _S16)
        vals[e + 2] = one(p, w1 & _LOW16)
        vals[e + 3] = one(p, w1 >> _S16)
        vals[e + 4] = one(p, w2 & _LOW16)
        vals[e + 5] = one(p, w2 >> _S16)
        vals[e + 6] = one(p, w3 & _LOW16)
        vals[e + 7] = one(p, w3 >> _S16)

    return emit


def _reading_pairs(one):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e] = one(p, w0, w1)
        vals[e + 1] = one(p, w2, w3)

    return emit


def _reading_pairs_twice(two):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e], vals[e + 1] = two(p, w0, w1)
        vals[e + 2], vals[e + 3] = two(p, w2, w3)

    return emit


def _reading_block_twice(two):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e], vals[e + 1] = two(p, w0, w1, w2, w3)

    return emit


_EMITTERS = {"word": _reading_words, "half": _reading_halves, "pair": _reading_pairs,
             "pair2": _reading_pairs_twice, "block2": _reading_block_twice}


@device
def _never_rejects(p, w0, w1, w2, w3):
    """The ``rejects`` of a rule that takes every try."""
    return False


@device
def _no_retry(p, w0, w1, w2, w3, vals, e, at):
    """The ``retry`` of a rule that takes every try: never called."""


# A retrying rule (docs/stream.md, "bounded integers"): a lane's first try comes from its
# word (word pair); while any lane is rejected, the block's retry rounds give each
# rejected lane its word(s) of the round's block.


def _retrying_words(first, rejected, value):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e] = value(p, first(p, w0))
        vals[e + 1] = value(p, first(p, w1))
        vals[e + 2] = value(p, first(p, w2))
        vals[e + 3] = value(p, first(p, w3))

    @device
    def rejects(p, w0, w1, w2, w3):
        return ((rejected(p, first(p, w0)) | rejected(p, first(p, w1)))
                | (rejected(p, first(p, w2)) | rejected(p, first(p, w3))))

    @device
    def retry(p, w0, w1, w2, w3, vals, e, at):
        m0, m1, m2, m3 = first(p, w0), first(p, w1), first(p, w2), first(p, w3)
        k0, k1 = at[3], at[4]
        while ((rejected(p, m0) | rejected(p, m1)) | (rejected(p, m2) | rejected(p, m3))):
            r0, r1, r2, r3 = core.retry_block(at, k0, k1)
            m0 = first(p, r0) if rejected(p, m0) else m0
            m1 = first(p, r1) if rejected(p, m1) else m1
            m2 = first(p, r2) if rejected(p, m2) else m2
            m3 = first(p, r3) if rejected(p, m3) else m3
            k0, k1 = core.next_retry_key(k0, k1)
        vals[e] = value(p, m0)
        vals[e + 1] = value(p, m1)
        vals[e + 2] = value(p, m2)
        vals[e + 3] = value(p, m3)

    return emit, rejects, retry


def _retrying_pairs(first, rejected, value):
    @device
    def emit(p, w0, w1, w2, w3, vals, e):
        vals[e] = value(p, first(p, w0, w1))
        vals[e + 1] = value(p, first(p, w2, w3))

    @device
    def rejects(p, w0, w1, w2, w3):
        return rejected(p, first(p, w0, w1)) | rejected(p, first(p, w2, w3))

    @device
    def retry(p, w0, w1, w2, w3, vals, e, at):
        m0, m1 = first(p, w0, w1), first(p, w2, w3)
        k0, k1 = at[3], at[4]
        while rejected(p, m0) | rejected(p, m1):
            r0, r1, r2, r3 = core.retry_block(at, k0, k1)
            m0 = first(p, r0, r1) if rejected(p, m0) else m0
            m1 = first(p, r2, r3) if rejected(p, m1) else m1
            k0, k1 = core.next_retry_key(k0, k1)
        vals[e] = value(p, m0)
        vals[e + 1] = value(p, m1)

    return emit, rejects, retry


_RETRYING = {"word": _retrying_words, "pair": _retrying_pairs}


# --- parameter records ------------------------------------------------------------------


@device
def _u64(low, high):
    """The uint64 of two 32-bit halves given as doubles."""
    return np.uint64(low) | (np.uint64(high) << _S32)


def _record(spec, variant=""):
    """The rule's parameter record: a named tuple class (one field ``unused`` when the
    rule has no parameters, as Numba needs a field), ``<Name><variant>Params`` of this
    module. It is a module attribute because Numba's disk cache pickles the kernels'
    signatures, and pickle finds a class by its module and name."""
    camel = spec.name[0].upper() + spec.name[1:]
    record = namedtuple(f"{camel}{variant}Params",
                        [name for name, _ in spec.params] or ["unused"])
    globals()[record.__name__] = record
    return record


def __getattr__(name):
    """A stand-in for a parameter record class that an earlier fastinit had and this one
    has not (``Truncnorm32CNParams`` before the band of ``core.ndtri_lower32``). Numba
    unpickles every signature of a disk cache index before it checks that the index is
    stale (and then discards them all): without the class, it would raise instead."""
    if name.endswith("Params"):
        return namedtuple(name, ["unused"], module=__name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _from_row(spec, record):
    """The device function building ``record`` from a row's doubles ``v``, each parameter
    in its type (a parameter of 32-bit halves: uint32 from its low half, uint64 from
    both), written out as source so that Numba sees one plain constructor call."""
    args, slot = [], 0
    for _, kind in spec.params:
        ptype, slots = spec.param_type(kind), PARAM_TYPES[kind][1]
        if slots == 2 and ptype == "uint64":
            args.append(f"_u64(v[{slot}], v[{slot + 1}])")
        else:
            args.append(f"np.{ptype}(v[{slot}])")
        slot += slots
    source = f"def from_row(v):\n    return record({', '.join(args) or 'np.int64(0)'})\n"
    namespace = {"record": record, "np": np, "_u64": _u64}
    exec(compile(source, f"<from_row of {spec.name}>", "exec"), namespace)  # noqa: S102
    return device(namespace["from_row"])


RuleCode = namedtuple("RuleCode", "params emit precision from_row rejects retry")


def _code(spec, transform=None, variant=""):
    """The rule's code, with ``transform`` in place of ``core.<name>`` and a record class
    of its own (``variant``) where given."""
    record = _record(spec, variant)
    if spec.retries:
        emit, rejects, retry = _RETRYING[spec.reads](
            getattr(core, spec.name), getattr(core, f"{spec.name}_rejected"),
            getattr(core, f"{spec.name}_value"))
    else:
        emit = _EMITTERS[spec.reads](transform or getattr(core, spec.name))
        rejects, retry = _never_rejects, _no_retry
    return RuleCode(record, emit, np.dtype(spec.precision).type, _from_row(spec, record),
                    rejects, retry)


# name -> RuleCode, for every rule of the registry
CODE = {name: _code(spec) for name, spec in SPECS.items()}


# The CPU's truncnorm32, by the inverse CDF's branches a fill's bounds reach
# (``core.ndtri32_branches``): the same values as CODE["truncnorm32"], which the GPU
# backends run, in about half the time where the bounds reach no tail.
# Each has a record class of its own, so that the CPU kernel compiles one specialization
# per branch set, whose vectorized loop computes only those branches.
TRUNCNORM32_CODE = {
    branches: _code(SPECS["truncnorm32"], core.truncnorm32_taking(ndtri), branches)
    for branches, ndtri in core.NDTRI32_BRANCHES.items()}


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


# store (registry.STORES) -> the conversion of a value to its storage word (16-bit floats
# as bits, masks as uint8, integers as the low bits of their uint64 two's complement).
CONVERT = {"f32": _as_is, "f64": _as_is, "u64": _as_is, "bf16": core.bf16_bits,
           "f16": core.f16_bits, "u8": _to_u8, "u16": _to_u16, "u32": _to_u32}


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
