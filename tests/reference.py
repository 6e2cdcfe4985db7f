"""The stream contract in plain numpy: the test oracle every backend must equal bit for bit.

An independent, vectorized re-implementation of ``fastinit.core`` and the element
layout of the backends (it imports neither). Each rule is written once, over whole
arrays, in the same floating-point operations, order and precision as the scalar
rules: float32 math stays float32 (every constant is a ``np.float32`` or
``np.float64`` scalar, integers are ``np.uint64``/``np.uint32``/``np.int64`` scalars,
so no numpy promotion changes a type), bit casts are ``.view``, and logarithms, sines
and the inverse normal CDF are the fdlibm/Taylor/AS241 polynomials of ``_constants``,
never ``np.log``/``np.sin``. Branches of the scalar rules become ``np.where`` over
both sides, which computes the same values for the elements each side owns.

Meant for tests (a few million elements a second), e.g.::

    rule = rule_for(Normal(0.0, 0.02), "float32")
    reference.generate(rule, "float32", 8, seed=42)   # == Generator(42).normal(0, 0.02, 8, "float32")
"""

import numpy as np

from fastinit import _constants as C
from fastinit.registry import ELEMENTS_PER_BLOCK

__all__ = ["philox4x32", "words", "block_words", "generate", "values"]

# Integer constants, typed.
_U64_MASK32 = np.uint64(0xFFFFFFFF)
_U64_32 = np.uint64(32)
_M0 = np.uint64(C.PHILOX_M0)
_M1 = np.uint64(C.PHILOX_M1)
_W0 = np.uint64(C.PHILOX_W0)
_W1 = np.uint64(C.PHILOX_W1)
_U0 = np.uint64(0)
_U1 = np.uint64(1)
_U2 = np.uint64(2)
_U3 = np.uint64(3)
_U8 = np.uint64(8)
_U11 = np.uint64(11)
_U16 = np.uint64(16)
_U21 = np.uint64(21)
_U22 = np.uint64(22)
_U51 = np.uint64(51)
_U52 = np.uint64(52)
_U64_LOW16 = np.uint64(0xFFFF)

# Float constants, typed.
_F32 = np.float32
_F64 = np.float64
_P2M16_32 = _F32(2.0**-16)
_P2M24_32 = _F32(2.0**-24)
_P2M32_64 = _F64(2.0**-32)
_P2M53_64 = _F64(2.0**-53)
_HALF32, _ONE32, _TWO32, _MINUS_TWO32 = _F32(0.5), _F32(1.0), _F32(2.0), _F32(-2.0)
_HALF64, _ONE64, _TWO64, _MINUS_TWO64 = _F64(0.5), _F64(1.0), _F64(2.0), _F64(-2.0)


# ---------------------------------------------------------------------------
# Philox4x32-R


def philox4x32(counter, key, rounds=10):
    """Philox4x32-R of every block: ``counter`` ``(..., 4)``, ``key`` ``(..., 2)`` uint32
    words (word 0 first), broadcast against each other; returns ``(..., 4)`` uint32."""
    counter = np.asarray(counter)
    key = np.asarray(key)
    if counter.ndim == 0 or counter.shape[-1] != 4:
        raise ValueError(f"counter must have shape (..., 4), got {counter.shape}")
    if key.ndim == 0 or key.shape[-1] != 2:
        raise ValueError(f"key must have shape (..., 2), got {key.shape}")
    rounds = int(rounds)
    if rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds}")
    batch = np.broadcast_shapes(counter.shape[:-1], key.shape[:-1])
    ctr = np.broadcast_to(counter, batch + (4,)).astype(np.uint64)
    k = np.broadcast_to(key, batch + (2,)).astype(np.uint64)
    c0, c1, c2, c3 = (ctr[..., i] & _U64_MASK32 for i in range(4))
    k0, k1 = k[..., 0] & _U64_MASK32, k[..., 1] & _U64_MASK32
    for r in range(rounds):
        if r:
            k0 = (k0 + _W0) & _U64_MASK32
            k1 = (k1 + _W1) & _U64_MASK32
        p0 = c0 * _M0  # 32 x 32 -> 64 bits, exact in uint64
        p1 = c2 * _M1
        c0, c1, c2, c3 = (
            (p1 >> _U64_32) ^ c1 ^ k0,
            p1 & _U64_MASK32,
            (p0 >> _U64_32) ^ c3 ^ k1,
            p0 & _U64_MASK32,
        )
    return np.stack([c0, c1, c2, c3], axis=-1).astype(np.uint32)


def words(seed, stream, first_block, nblocks):
    """The ``(nblocks, 4)`` uint32 words of Philox blocks ``first_block + j`` (mod 2**64)
    of ``(seed, stream)``: counter = (low32(block), high32(block), low32(stream),
    high32(stream)), key = (low32(seed), high32(seed))."""
    first_block = int(first_block)
    blocks = (np.uint64(first_block % 2**64) + np.arange(int(nblocks), dtype=np.uint64))
    return block_words(seed, stream, blocks)


def block_words(seed, stream, blocks):
    """The ``(blocks.size, 4)`` uint32 words of the Philox blocks ``blocks`` (uint64) of
    ``(seed, stream)``."""
    seed, stream = int(seed), int(stream)
    ctr = np.empty((blocks.size, 4), np.uint64)
    ctr[:, 0] = blocks & _U64_MASK32
    ctr[:, 1] = blocks >> _U64_32
    ctr[:, 2] = stream & 0xFFFFFFFF
    ctr[:, 3] = (stream >> 32) & 0xFFFFFFFF
    key = np.array([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF], np.uint64)
    return philox4x32(ctr, key, C.PHILOX_ROUNDS)


# ---------------------------------------------------------------------------
# Uniforms from words (uint64 arrays holding 32-bit words).


def u01_24(w):
    """float32 in [0, 1 - 2**-24]: the top 24 bits of a word."""
    return (w >> _U8).astype(np.float32) * _P2M24_32


def u01_16(h):
    """float32 in [0, 1 - 2**-16]: a 16-bit half-word."""
    return h.astype(np.float32) * _P2M16_32


def bits53(wa, wb):
    """53 bits: the 32 of ``wa`` above the top 21 of ``wb``."""
    return (wa << _U21) | (wb >> _U11)


def u01_53(wa, wb):
    """float64 in [0, 1 - 2**-53]."""
    return bits53(wa, wb).astype(np.float64) * _P2M53_64


def u01_open32(w):
    """float64 in (0, 1): (w + 1/2) / 2**32."""
    return (w.astype(np.float64) + _HALF64) * _P2M32_64


def u01_open53(wa, wb):
    """v53: float64 in [2**-53, 1 - 2**-53]: (k | 1) / 2**53, odd multiples of 2**-53."""
    return (bits53(wa, wb) | _U1).astype(np.float64) * _P2M53_64


# ---------------------------------------------------------------------------
# Natural logarithm, fdlibm reduction and polynomial.

_LG32 = tuple(_F32(c) for c in C.LOG_LG32)
_LN2_HI32 = _F32(C.LOG_LN2_HI32)
_LN2_LO32 = _F32(C.LOG_LN2_LO32)
_SQRT2_32 = _F32(2.0 * C.SQRT_HALF)
_LG64 = tuple(_F64(c) for c in C.LOG_LG64)
_LN2_HI64 = _F64(C.LOG_LN2_HI64)
_LN2_LO64 = _F64(C.LOG_LN2_LO64)
_SQRT2_64 = _F64(2.0 * C.SQRT_HALF)
_P2P54_64 = _F64(2.0**54)
_TINY64 = _F64(2.0**-1022)


def _log_poly(f, k, half, two, lg, ln2_hi, ln2_lo):
    """The shared tail of log32/log64: ``k*ln2 + log(1 + f)``, all in f's precision."""
    s = f / (two + f)
    z = s * s
    w = z * z
    t1 = w * (lg[1] + w * (lg[3] + w * lg[5]))
    t2 = z * (lg[0] + w * (lg[2] + w * (lg[4] + w * lg[6])))
    r = t2 + t1
    hfsq = half * f * f
    dk = k.astype(f.dtype)
    return dk * ln2_hi - ((hfsq - (s * (hfsq + r) + dk * ln2_lo)) - f)


def log32(x):
    """log of positive normal float32 values."""
    x = np.asarray(x, np.float32)
    b = x.view(np.uint32)
    k = (b >> np.uint32(23)).astype(np.int32) - np.int32(127)
    m = ((b & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000)).view(np.float32)
    big = m > _SQRT2_32
    m = np.where(big, m * _HALF32, m)
    k = np.where(big, k + np.int32(1), k)
    return _log_poly(m - _ONE32, k, _HALF32, _TWO32, _LG32, _LN2_HI32, _LN2_LO32)


def log64(x):
    """log of positive float64 values, subnormals included."""
    x = np.asarray(x, np.float64)
    tiny = x < _TINY64
    with np.errstate(over="ignore"):
        x = np.where(tiny, x * _P2P54_64, x)
    k = np.where(tiny, np.int64(-1023 - 54), np.int64(-1023))
    b = x.view(np.uint64)
    k = k + (b >> _U52).astype(np.int64)
    m = ((b & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000)).view(np.float64)
    big = m > _SQRT2_64
    m = np.where(big, m * _HALF64, m)
    k = np.where(big, k + np.int64(1), k)
    return _log_poly(m - _ONE64, k, _HALF64, _TWO64, _LG64, _LN2_HI64, _LN2_LO64)


# ---------------------------------------------------------------------------
# sin and cos of k / 2**bits turns: nearest quarter turn n, remainder in [-1/8, 1/8).

_S32 = tuple(_F32(c) for c in C.SIN32)
_C32 = tuple(_F32(c) for c in C.COS32)
_S64 = tuple(_F64(c) for c in C.SIN64)
_C64 = tuple(_F64(c) for c in C.COS64)
_TWO_PI32 = _F32(C.TWO_PI)
_TWO_PI64 = _F64(C.TWO_PI)


def _horner(coeffs, z):
    """c[1] + z*(c[2] + z*(... + z*c[-1])): coefficients from index 1, innermost last."""
    acc = coeffs[-1]
    for c in reversed(coeffs[1:-1]):
        acc = c + z * acc
    return acc


def _sincos_turn(k, bits, one, p2m, two_pi, sin_c, cos_c, ftype):
    """(sin, cos) of 2*pi*k/2**bits for uint64 integers 0 <= k < 2**bits."""
    shift = np.uint64(bits - 2)
    n = (k + np.uint64(1 << (bits - 3))) >> shift
    r = k.astype(np.int64) - (n << shift).astype(np.int64)
    x = r.astype(ftype) * p2m * two_pi
    z = x * x
    ps = _horner(sin_c, z)
    pc = _horner(cos_c, z)
    s = x + x * z * ps
    c = one + z * pc
    q = n & _U3
    sin = np.select([q == _U0, q == _U1, q == _U2], [s, c, -s], -c)
    cos = np.select([q == _U0, q == _U1, q == _U2], [c, -s, -c], s)
    return sin, cos


def sincos_turn24(k):
    return _sincos_turn(k, 24, _ONE32, _P2M24_32, _TWO_PI32, _S32, _C32, np.float32)


def sincos_turn53(k):
    return _sincos_turn(k, 53, _ONE64, _P2M53_64, _TWO_PI64, _S64, _C64, np.float64)


# ---------------------------------------------------------------------------
# Box-Muller: (r cos t, r sin t), r = sqrt(-2 log u1), u1 in (0, 1].


def box_muller32(wa, wb):
    u1 = ((wa >> _U8) + _U1).astype(np.float32) * _P2M24_32
    r = np.sqrt(_MINUS_TWO32 * log32(u1))
    s, c = sincos_turn24(wb >> _U8)
    return r * c, r * s


def box_muller64(w0, w1, w2, w3):
    u1 = (bits53(w0, w1) + _U1).astype(np.float64) * _P2M53_64
    r = np.sqrt(_MINUS_TWO64 * log64(u1))
    s, c = sincos_turn53(bits53(w2, w3))
    return r * c, r * s


# ---------------------------------------------------------------------------
# Inverse normal CDF on (0, 1/2] (Wichura AS241) and the truncated normal.

_A = tuple(_F64(c) for c in C.AS241_A)
_B = tuple(_F64(c) for c in C.AS241_B)
_CC = tuple(_F64(c) for c in C.AS241_C)
_D = tuple(_F64(c) for c in C.AS241_D)
_E = tuple(_F64(c) for c in C.AS241_E)
_F = tuple(_F64(c) for c in C.AS241_F)
_SPLIT1 = _F64(C.AS241_SPLIT1)
_SPLIT2 = _F64(C.AS241_SPLIT2)
_CONST1 = _F64(C.AS241_CONST1)
_CONST2 = _F64(C.AS241_CONST2)


def _poly(c, r):
    """c[0] + c[1] r + ... by Horner's rule, in r's precision."""
    acc = c[-1]
    for coefficient in reversed(c[:-1]):
        acc = acc * r + coefficient
    return acc


def ndtri_lower(p):
    """z with Phi(z) = p, for float64 p in (0, 1/2]."""
    p = np.asarray(p, np.float64)
    q = p - _HALF64
    central = q >= -_SPLIT1
    r = _CONST1 - q * q
    z_central = q * _poly(_A, r) / _poly(_B, r)
    # The tail needs log(p) only where p is a tail point; keep the others harmless.
    pt = np.where(central, _HALF64, p)
    r = np.sqrt(-log64(pt))
    near = r <= _SPLIT2
    rn = r - _CONST2
    z_near = -(_poly(_CC, rn) / _poly(_D, rn))
    rf = r - _SPLIT2
    z_far = -(_poly(_E, rf) / _poly(_F, rf))
    return np.where(central, z_central, np.where(near, z_near, z_far))


def truncnorm_std(u, pa, qb, mass):
    """Standard normal truncated to [alpha, beta] at float64 uniforms u in (0, 1);
    pa = Phi(alpha), qb = 1 - Phi(beta), mass = Phi(beta) - Phi(alpha)."""
    t = pa + u * mass
    lower = t <= _HALF64
    t_up = qb + (_ONE64 - u) * mass
    return np.where(lower, ndtri_lower(np.where(lower, t, _HALF64)),
                    -ndtri_lower(np.where(lower, _HALF64, t_up)))


# ---------------------------------------------------------------------------
# The truncated normal of 32-bit outputs: Wichura's PPND7 in float32, and a band.

_P7 = {name: tuple(_F32(c) for c in getattr(C, f"PPND7_{name}")) for name in "ABCDEF"}
_MID = {name: tuple(_F32(c) for c in getattr(C, f"NDTRI32_MID_{name}")) for name in "PD"}


def neglog32(p):
    """-log(p) in float32 for positive float64 p: the binary exponent k and the top 23
    mantissa bits m of p, -(k ln2_hi + (log32(m) + k ln2_lo))."""
    p = np.asarray(p, np.float64)
    tiny = p < _TINY64
    p = np.where(tiny, p * _P2P54_64, p)
    b = p.view(np.uint64)
    k = (b >> _U52).astype(np.int32) - np.where(tiny, np.int32(1077), np.int32(1023))
    m = (((b >> np.uint64(29)) & np.uint64(0x7FFFFF)).astype(np.uint32)
         | np.uint32(0x3F800000)).view(np.float32)
    dk = k.astype(np.float32)
    return -(dk * _LN2_HI32 + (log32(m) + dk * _LN2_LO32))


def ndtri_lower32(p):
    """float32 z with Phi(z) = p, for float64 p in (0, 1/2]: PPND7's central branch,
    fastinit's band, or PPND7's tails."""
    p = np.asarray(p, np.float64)
    q = (p - _HALF64).astype(np.float32)
    central = q >= -_F32(C.AS241_SPLIT1)
    middle = ~central & (q >= -_F32(C.NDTRI32_SPLIT_MID))
    r = _F32(C.AS241_CONST1) - q * q
    z_central = q * _poly(_P7["A"], r) / _poly(_P7["B"], r)
    t = q - _F32(C.NDTRI32_MID_Q)
    z_middle = t * _poly(_MID["P"], t) / _poly(_MID["D"], t) + _F32(C.NDTRI32_MID_Z)
    s = np.sqrt(neglog32(np.where(central | middle, _HALF64, p)))
    near = s <= _F32(C.AS241_SPLIT2)
    sn = s - _F32(C.AS241_CONST2)
    sf = s - _F32(C.AS241_SPLIT2)
    z_near = -(_poly(_P7["C"], sn) / _poly(_P7["D"], sn))
    z_far = -(_poly(_P7["E"], sf) / _poly(_P7["F"], sf))
    return np.where(central, z_central, np.where(middle, z_middle,
                                                 np.where(near, z_near, z_far)))


def truncnorm_std32(u, pa, qb, mass):
    """``truncnorm_std`` of 32-bit outputs: the same mirrored float64 probabilities, a
    float32 z from ``ndtri_lower32``."""
    t = pa + u * mass
    lower = t <= _HALF64
    t_up = qb + (_ONE64 - u) * mass
    return np.where(lower, ndtri_lower32(np.where(lower, t, _HALF64)),
                    -ndtri_lower32(np.where(lower, _HALF64, t_up)))


# ---------------------------------------------------------------------------
# float32 to 16-bit formats, round to nearest even (bits).

_F16_MAX = np.uint32((127 + 16) << 23)
_F16_MIN_NORMAL = np.uint32(113 << 23)
_F16_DENORM_MAGIC = np.array(126 << 23, np.uint32).view(np.float32)[()]
_F16_REBIAS = np.uint32(112 << 23)


def bf16_bits(x):
    b = np.asarray(x, np.float32).view(np.uint32)
    return ((b + np.uint32(0x7FFF) + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)


def f16_bits(x):
    b = np.asarray(x, np.float32).view(np.uint32)
    sign = (b >> np.uint32(16)) & np.uint32(0x8000)
    a = b & np.uint32(0x7FFFFFFF)
    sub = (a.view(np.float32) + _F16_DENORM_MAGIC).view(np.uint32) - _F16_DENORM_MAGIC.view(np.uint32)
    odd = (a >> np.uint32(13)) & np.uint32(1)
    normal = (a - _F16_REBIAS + np.uint32(0xFFF) + odd) >> np.uint32(13)
    h = np.where(a >= _F16_MAX, np.uint32(0x7C00), np.where(a < _F16_MIN_NORMAL, sub, normal))
    return (h | sign).astype(np.uint16)


# ---------------------------------------------------------------------------
# Bounded integers: Lemire's multiply-shift with rejection, in Python integers.


def _tries(w, bits):
    """A block's tries, one column per lane, as Python integers: the four words (32-bit),
    or the two 64-bit numbers w0:w1 and w2:w3."""
    w = w.astype(object)
    if bits == 32:
        return w
    return np.stack([(w[:, 0] << 32) | w[:, 1], (w[:, 2] << 32) | w[:, 3]], axis=1)


def integers(rule, w, seed, stream, blocks):
    """uint64 values (two's complement) of the blocks ``w`` of ``(seed, stream)``, whose
    counters are ``blocks``, under an integers rule: each lane's first try is its own word(s);
    a rejected lane takes its word(s) of retry block ``b ^ 2**63``, under the keys seed,
    seed + RETRY_KEY_STEP, ... (mod 2**64) in turn, until one is accepted."""
    low, span, reject = (lo | (hi << 32) for lo, hi in zip(rule.params[0::2], rule.params[1::2]))
    bits = 32 if rule.name == "integers32" else 64
    product = _tries(w, bits) * (span + 1)
    k = product >> bits
    accepted = (product & (2**bits - 1)) >= reject
    key = int(seed)
    retry_blocks = np.asarray(blocks, np.uint64) ^ np.uint64(C.RETRY_BLOCK_BIT)
    while not accepted.all():
        rows = np.flatnonzero(~accepted.all(axis=1))
        product = _tries(block_words(key, stream, retry_blocks[rows]), bits) * (span + 1)
        take = ~accepted[rows] & ((product & (2**bits - 1)) >= reject)
        k[rows] = np.where(take, product >> bits, k[rows])
        accepted[rows] |= take
        key = (key + C.RETRY_KEY_STEP) % 2**64
    return ((k + low) % 2**64).astype(np.uint64).reshape(-1)


# ---------------------------------------------------------------------------
# Rules: the values of whole blocks, in the rule's precision, element order.


def _clip(v, lo, hi):
    """min(max(v, lo), hi) with Python's (and Numba's) choice on ties and NaN:
    max(a, b) is b only if b > a; min(a, b) is b only if b < a."""
    v = np.where(lo > v, lo, v)
    return np.where(hi < v, hi, v)


def _interleave(*cols):
    """Columns (one value per block each) -> values in element order."""
    return np.stack(cols, axis=-1).reshape(-1)


def values(rule, w, seed, stream, blocks):
    """Values of the blocks ``w`` (``(nblocks, 4)`` uint32) of ``(seed, stream)``, whose
    counters are ``blocks`` (uint64), under ``rule``, in element order, before rounding to
    the output format: uint32 (raw), uint8 0/1 (bernoulli), uint64 (integers), float32 or
    float64 (by the rule's precision)."""
    name, params = rule.name, tuple(rule.params)
    if name.startswith("integers"):
        return integers(rule, w, seed, stream, blocks)
    w0, w1, w2, w3 = (w[:, i].astype(np.uint64) for i in range(4))
    if name == "raw":
        return np.asarray(w, np.uint32).reshape(-1)
    if name == "bernoulli":
        threshold = np.uint64(np.float64(params[0]))
        return _interleave(*((x < threshold).astype(np.uint8) for x in (w0, w1, w2, w3)))
    if name == "uniform32":
        lo, span, bot, top = (_F32(p) for p in params)
        return _interleave(*(_clip(lo + span * u01_24(x), bot, top) for x in (w0, w1, w2, w3)))
    if name == "uniform16":
        lo, span, bot, top = (_F32(p) for p in params)
        halves = []
        for x in (w0, w1, w2, w3):
            halves += [x & _U64_LOW16, x >> _U16]
        return _interleave(*(_clip(lo + span * u01_16(h), bot, top) for h in halves))
    if name == "uniform64":
        lo, span, bot, top = (_F64(p) for p in params)
        return _interleave(_clip(lo + span * u01_53(w0, w1), bot, top),
                           _clip(lo + span * u01_53(w2, w3), bot, top))
    if name == "normal32":
        mean, std = (_F32(p) for p in params)
        z0, z1 = box_muller32(w0, w1)
        z2, z3 = box_muller32(w2, w3)
        return _interleave(*(mean + std * z for z in (z0, z1, z2, z3)))
    if name == "normal64":
        mean, std = (_F64(p) for p in params)
        z0, z1 = box_muller64(w0, w1, w2, w3)
        return _interleave(mean + std * z0, mean + std * z1)
    if name == "truncnorm32":
        pa, qb, mass, mean, std = (_F64(p) for p in params[:5])
        bot, top = _F32(params[5]), _F32(params[6])
        cols = []
        for x in (w0, w1, w2, w3):
            v = mean + std * truncnorm_std32(u01_open32(x), pa, qb, mass).astype(np.float64)
            cols.append(_clip(v.astype(np.float32), bot, top))
        return _interleave(*cols)
    if name == "truncnorm64":
        pa, qb, mass, mean, std, bot, top = (_F64(p) for p in params)
        cols = [_clip(mean + std * truncnorm_std(u01_open53(a, b), pa, qb, mass), bot, top)
                for a, b in ((w0, w1), (w2, w3))]
        return _interleave(*cols)
    raise ValueError(f"unknown rule {name!r}")


def _store(v, dtype):
    """Round rule values to the output dtype (as the array a user sees)."""
    if dtype in ("int8", "int16", "uint16", "uint32", "int32", "int64", "uint64"):
        return v.astype(f"u{np.dtype(dtype).itemsize}").view(dtype)
    if dtype in ("bool", "uint8"):
        out = v.astype(np.uint8)
        return out.view(np.bool_) if dtype == "bool" else out
    if dtype == "float32":
        return v.astype(np.float32)
    if dtype == "float64":
        return v.astype(np.float64)
    v32 = v.astype(np.float32)
    if dtype == "float16":
        return f16_bits(v32).view(np.float16)
    if dtype == "bfloat16":
        from ml_dtypes import bfloat16

        return bf16_bits(v32).view(bfloat16)
    raise TypeError(f"unknown dtype {dtype!r}")


def generate(rule, dtype, n, seed, stream=0, block0=0, start=0):
    """Elements [start, start + n) of the logical tensor that ``rule`` fills in ``dtype``
    from Philox block ``block0`` of (seed, stream): element g reads block
    block0 + g // elements_per_block. Returns a 1-D array of the numpy dtype (float16,
    ml_dtypes.bfloat16, float32, float64, bool, or an integer type)."""
    n, start = int(n), int(start)
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be >= 0, got n={n}, start={start}")
    epb = ELEMENTS_PER_BLOCK[rule.name]
    first = start // epb
    last = (start + n - 1) // epb if n else first - 1
    blocks = np.uint64((int(block0) + first) % 2**64) + np.arange(last - first + 1,
                                                                  dtype=np.uint64)
    v = values(rule, block_words(seed, stream, blocks), seed, stream, blocks)
    skip = start - first * epb
    return _store(v[skip: skip + n], dtype)
