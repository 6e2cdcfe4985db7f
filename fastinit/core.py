"""The generator and the word-to-value rules, as scalar functions.

Each function is a ``_bits.device`` function: a plain Python function that compiled
code calls as its own compilation (once per signature, inlined by LLVM), so the same
source serves the CPU backend, CUDA kernels (on the CUDA target too) and pure Python
under ``NUMBA_DISABLE_JIT=1``, the CUDA simulator or a call from Python. Philox words travel as
``uint64`` holding 32 significant bits: 32x32->64-bit products then need no casts,
and LLVM turns them into packed ``vpmuludq``.

Square roots are ``math.sqrt`` (numba.cuda has no ``np.sqrt``), rounded back to
float32 where the rule is float32: exact, since a float64 square root of a float32
rounds to the correctly rounded float32 one. Floating-point rules use only IEEE
operations that every target rounds the same way (+, -, *, /, sqrt, conversions) with
fdlibm/Taylor/AS241 polynomials written out in ``_constants``, so no libm can change
a value. Every product that feeds an addition or subtraction is ``mul(a, b)``, never
``a * b``, so that no target fuses it into a multiply-add (why, and how each backend
is checked: docs/stream.md, section 4); the other products stay ``*``.
docs/stream.md states each rule; ``tests/reference.py`` re-implements them in numpy.
"""

import math

import numpy as np
from . import _constants as C
from ._bits import device, f32_to_u32, f64_to_u64, mul, u32_to_f32, u64_to_f64

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_M0 = np.uint64(C.PHILOX_M0)
_M1 = np.uint64(C.PHILOX_M1)
_W0 = np.uint64(C.PHILOX_W0)
_W1 = np.uint64(C.PHILOX_W1)


@device
def philox_round(c0, c1, c2, c3, k0, k1):
    p0 = c0 * _M0
    p1 = c2 * _M1
    return (p1 >> _SHIFT32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _SHIFT32) ^ c3 ^ k1, p0 & _MASK32


@device
def philox_words(c0, c1, c2, c3, k0, k1, rounds):
    """The four words of Philox4x32-R of one block: counter (c0..c3), key (k0, k1), all
    uint64 < 2**32. (``fastinit.philox4x32`` is the public function over arrays.)"""
    c0, c1, c2, c3 = philox_round(c0, c1, c2, c3, k0, k1)
    for _ in range(rounds - 1):
        k0 = (k0 + _W0) & _MASK32
        k1 = (k1 + _W1) & _MASK32
        c0, c1, c2, c3 = philox_round(c0, c1, c2, c3, k0, k1)
    return c0, c1, c2, c3


# ---------------------------------------------------------------------------
# Uniforms from words. Every product here is by a power of two, hence exact.

_P2M16_32 = np.float32(2.0**-16)
_P2M24_32 = np.float32(2.0**-24)
_P2M32_64 = np.float64(2.0**-32)
_P2M53_64 = np.float64(2.0**-53)
_P2M27_64 = np.float64(2.0**-27)
_P2P16_64 = np.float64(2.0**16)
_HALF64 = np.float64(0.5)
_ONE64 = np.float64(1.0)
_S8 = np.uint64(8)
_S11 = np.uint64(11)
_S16 = np.uint64(16)
_S21 = np.uint64(21)
_MASK16 = np.uint64(0xFFFF)


# Integers go to floats through int32, the widest conversion SIMD units have.


@device
def u01_24(w):
    """float32 in [0, 1 - 2**-24]: the top 24 bits of a word."""
    return mul(np.float32(np.int32(w >> _S8)), _P2M24_32)  # box_muller32 adds to it


@device
def u01_16(h):
    """float32 in [0, 1 - 2**-16]: a 16-bit half-word."""
    return np.float32(np.int32(h)) * _P2M16_32


@device
def bits53(wa, wb):
    """53 random bits: the 32 of ``wa`` above the top 21 of ``wb``."""
    return (wa << _S21) | (wb >> _S11)


@device
def _u53(wa, wb, low_bit):
    """(k | low_bit) / 2**53 for the 53 bits k of two words, summed from its top 27
    and low 26 bits; both parts and the sum are exact."""
    hi = np.float64(np.int32(wa >> np.uint64(5)))
    lo = np.float64(np.int32(((wa & np.uint64(31)) << _S21) | (wb >> _S11) | low_bit))
    return mul(hi, _P2M27_64) + mul(lo, _P2M53_64)


@device
def u01_53(wa, wb):
    """float64 in [0, 1 - 2**-53]: k / 2**53 for the 53 bits k of two words."""
    return _u53(wa, wb, np.uint64(0))


@device
def u01_open32(w):
    """float64 in (0, 1): (w + 1/2) / 2**32."""
    hi = np.float64(np.int32(w >> _S16))
    lo = np.float64(np.int32(w & _MASK16))
    return (mul(hi, _P2P16_64) + lo + _HALF64) * _P2M32_64


@device
def u01_open53(wa, wb):
    """float64 in [2**-53, 1 - 2**-53]: (k | 1) / 2**53, odd multiples of 2**-53 only."""
    return _u53(wa, wb, np.uint64(1))


# ---------------------------------------------------------------------------
# Bounded integers: Lemire's multiply-shift with rejection. A try maps a uniform x in
# [0, 2**n) to x * (span + 1) = k * 2**n + l, k in [0, span]; it is rejected when
# l < 2**n mod (span + 1). Products are split into 32-bit halves where they could pass
# 64 bits, so nothing wraps around (nor warns, when this runs as Python).

_RETRY_HIGH = np.uint64(C.RETRY_BLOCK_BIT >> 32)
_STEP0 = np.uint64(C.RETRY_KEY_STEP & 0xFFFFFFFF)
_STEP1 = np.uint64(C.RETRY_KEY_STEP >> 32)


@device
def lemire32(w, span):
    """w * (span + 1) for a word w and span < 2**32: below 2**64, exact."""
    x = np.uint64(w)
    return x * np.uint64(span) + x


@device
def lemire64(x1, x0, span):
    """(high, low) 64-bit halves of x * (span + 1) for x = x1 * 2**32 + x0 (two words)
    and span < 2**64."""
    s0 = span & _MASK32
    s1 = span >> _SHIFT32
    p00 = x0 * s0 + x0
    p10 = x1 * s0 + x1
    p01 = x0 * s1
    mid = (p00 >> _SHIFT32) + (p10 & _MASK32) + (p01 & _MASK32)
    high = x1 * s1 + (p10 >> _SHIFT32) + (p01 >> _SHIFT32) + (mid >> _SHIFT32)
    return high, ((mid & _MASK32) << _SHIFT32) | (p00 & _MASK32)


@device
def add64(a, b):
    """(a + b) mod 2**64, summed in 32-bit halves."""
    low = (a & _MASK32) + (b & _MASK32)
    high = (a >> _SHIFT32) + (b >> _SHIFT32) + (low >> _SHIFT32)
    return ((high & _MASK32) << _SHIFT32) | (low & _MASK32)


@device
def retry_block(at, k0, k1):
    """The words of the retry block of block ``at = (b, s0, s1, k0, k1)`` (a block and
    its stream and key halves) under key (k0, k1): block b XOR 2**63 of the stream."""
    b = at[0]
    return philox_words(b & _MASK32, (b >> _SHIFT32) ^ _RETRY_HIGH, at[1], at[2], k0, k1,
                        C.PHILOX_ROUNDS)


@device
def next_retry_key(k0, k1):
    """The key halves of the next retry round: (k1 * 2**32 + k0) + RETRY_KEY_STEP mod 2**64."""
    low = k0 + _STEP0
    return low & _MASK32, (k1 + _STEP1 + (low >> _SHIFT32)) & _MASK32


# ---------------------------------------------------------------------------
# Natural logarithm (fdlibm reduction and polynomial), float32 and float64.

_LG32 = tuple(np.float32(c) for c in C.LOG_LG32)
_LN2_HI32 = np.float32(C.LOG_LN2_HI32)
_LN2_LO32 = np.float32(C.LOG_LN2_LO32)
_SQRT2_32 = np.float32(2.0 * C.SQRT_HALF)
_HALF32 = np.float32(0.5)
_ONE32 = np.float32(1.0)
_TWO32 = np.float32(2.0)
_LG64 = tuple(np.float64(c) for c in C.LOG_LG64)
_LN2_HI64 = np.float64(C.LOG_LN2_HI64)
_LN2_LO64 = np.float64(C.LOG_LN2_LO64)
_SQRT2_64 = np.float64(2.0 * C.SQRT_HALF)
_TWO64 = np.float64(2.0)
_P2P54_64 = np.float64(2.0**54)
_TINY64 = np.float64(2.0**-1022)


@device
def log32(x):
    """log(x) for a positive, normal float32 x, within 1 ulp."""
    b = f32_to_u32(x)
    k = np.int32(b >> np.uint32(23)) - np.int32(127)
    m = u32_to_f32((b & np.uint32(0x007FFFFF)) | np.uint32(0x3F800000))
    big = m > _SQRT2_32
    m = m * _HALF32 if big else m  # halving: exact
    k = k + np.int32(1) if big else k
    f = m - _ONE32
    s = f / (_TWO32 + f)
    z = s * s
    w = z * z
    t1 = mul(w, _LG32[1] + mul(w, _LG32[3] + mul(w, _LG32[5])))
    t2 = mul(z, _LG32[0] + mul(w, _LG32[2] + mul(w, _LG32[4] + mul(w, _LG32[6]))))
    r = t2 + t1
    hfsq = mul(_HALF32 * f, f)  # halving: exact
    dk = np.float32(np.int32(k))
    return mul(dk, _LN2_HI32) - ((hfsq - (mul(s, hfsq + r) + mul(dk, _LN2_LO32))) - f)


@device
def log64(x):
    """log(x) for a positive float64 x (subnormals included), within 1 ulp."""
    tiny = x < _TINY64
    x = x * _P2P54_64 if tiny else x  # 2**54 x: exact
    k = np.int64(-1077) if tiny else np.int64(-1023)
    b = f64_to_u64(x)
    k = k + np.int64(b >> np.uint64(52))
    m = u64_to_f64((b & np.uint64(0x000FFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000))
    big = m > _SQRT2_64
    m = m * _HALF64 if big else m  # halving: exact
    k = k + np.int64(1) if big else k
    f = m - _ONE64
    s = f / (_TWO64 + f)
    z = s * s
    w = z * z
    t1 = mul(w, _LG64[1] + mul(w, _LG64[3] + mul(w, _LG64[5])))
    t2 = mul(z, _LG64[0] + mul(w, _LG64[2] + mul(w, _LG64[4] + mul(w, _LG64[6]))))
    r = t2 + t1
    hfsq = mul(_HALF64 * f, f)  # halving: exact
    dk = np.float64(np.int32(k))
    return mul(dk, _LN2_HI64) - ((hfsq - (mul(s, hfsq + r) + mul(dk, _LN2_LO64))) - f)


# ---------------------------------------------------------------------------
# sin and cos of a whole number of 2**-bits turns. The turn is split into the
# nearest quarter turn n and a remainder r in [-1/8, 1/8) turn, both exact.

_S32 = tuple(np.float32(c) for c in C.SIN32)
_C32 = tuple(np.float32(c) for c in C.COS32)
_S64 = tuple(np.float64(c) for c in C.SIN64)
_C64 = tuple(np.float64(c) for c in C.COS64)
_TWO_PI32 = np.float32(C.TWO_PI)
_TWO_PI64 = np.float64(C.TWO_PI)


@device
def _quadrant(s, c, n):
    """(sin, cos) of x + n quarter turns from (sin x, cos x), with selects only."""
    swap = (n & 1) != 0
    s2 = c if swap else s
    c2 = s if swap else c
    return (-s2 if (n & 2) != 0 else s2), (-c2 if ((n + 1) & 2) != 0 else c2)


@device
def sincos_turn24(k):
    """(sin, cos) of 2*pi*k/2**24 in float32, for an integer 0 <= k < 2**24."""
    kk = np.int32(k)
    n = (kk + np.int32(1 << 21)) >> np.int32(22)
    x = mul(np.float32(np.int32(kk - (n << np.int32(22)))) * _P2M24_32, _TWO_PI32)
    z = x * x
    ps = _S32[1] + mul(z, _S32[2] + mul(z, _S32[3] + mul(z, _S32[4])))
    pc = _C32[1] + mul(z, _C32[2] + mul(z, _C32[3] + mul(z, _C32[4] + mul(z, _C32[5]))))
    return _quadrant(x + mul(x * z, ps), _ONE32 + mul(z, pc), n)


@device
def sincos_turn53(k):
    """(sin, cos) of 2*pi*k/2**53 in float64, for an integer 0 <= k < 2**53."""
    n = (k + np.uint64(1 << 50)) >> np.uint64(51)
    r = np.int64(k) - np.int64(n << np.uint64(51))
    x = mul(mul(np.float64(np.int32(r >> np.int64(26))), _P2M27_64)
            + mul(np.float64(np.int32(r & np.int64(0x3FFFFFF))), _P2M53_64), _TWO_PI64)
    z = x * x
    ps = _S64[1] + mul(z, _S64[2] + mul(z, _S64[3] + mul(z, _S64[4] + mul(z, _S64[5] + mul(z, (
        _S64[6] + mul(z, _S64[7] + mul(z, _S64[8]))))))))
    pc = _C64[1] + mul(z, _C64[2] + mul(z, _C64[3] + mul(z, _C64[4] + mul(z, _C64[5] + mul(z, (
        _C64[6] + mul(z, _C64[7] + mul(z, _C64[8] + mul(z, _C64[9])))))))))
    return _quadrant(x + mul(x * z, ps), _ONE64 + mul(z, pc), n)


# ---------------------------------------------------------------------------
# Box-Muller over a pair of uniforms: (r cos t, r sin t), r = sqrt(-2 log u1).
# u1 is in (0, 1], so log(0) never happens; |z| <= 5.77 (float32), 8.57 (float64).

_MINUS_TWO32 = np.float32(-2.0)
_MINUS_TWO64 = np.float64(-2.0)


@device
def box_muller32(wa, wb):
    u1 = u01_24(wa) + _P2M24_32
    r = np.float32(math.sqrt(_MINUS_TWO32 * log32(u1)))
    s, c = sincos_turn24(wb >> _S8)
    return r * c, r * s


@device
def box_muller64(w0, w1, w2, w3):
    u1 = u01_53(w0, w1) + _P2M53_64
    r = math.sqrt(_MINUS_TWO64 * log64(u1))
    s, c = sincos_turn53(bits53(w2, w3))
    return r * c, r * s


# ---------------------------------------------------------------------------
# Inverse normal CDF on the lower half, p in (0, 1/2]: Wichura's AS241.

_A = tuple(np.float64(c) for c in C.AS241_A)
_B = tuple(np.float64(c) for c in C.AS241_B)
_CC = tuple(np.float64(c) for c in C.AS241_C)
_D = tuple(np.float64(c) for c in C.AS241_D)
_E = tuple(np.float64(c) for c in C.AS241_E)
_F = tuple(np.float64(c) for c in C.AS241_F)
_SPLIT1 = np.float64(C.AS241_SPLIT1)
_SPLIT2 = np.float64(C.AS241_SPLIT2)
_CONST1 = np.float64(C.AS241_CONST1)
_CONST2 = np.float64(C.AS241_CONST2)


@device
def _poly7(c, r):
    """c[0] + c[1] r + ... + c[7] r**7, by Horner's rule."""
    p = mul(c[7], r) + c[6]
    p = mul(p, r) + c[5]
    p = mul(p, r) + c[4]
    p = mul(p, r) + c[3]
    p = mul(p, r) + c[2]
    p = mul(p, r) + c[1]
    return mul(p, r) + c[0]


@device
def ndtri_lower(p):
    """z with Phi(z) = p, for p in (0, 1/2], relative error about 1e-16.

    All three of AS241's branches are evaluated and the right one selected, so a
    loop over elements has no branches and vectorizes."""
    q = p - _HALF64
    r = _CONST1 - mul(q, q)
    central = q * _poly7(_A, r) / _poly7(_B, r)
    s = math.sqrt(-log64(p))
    near = s - _CONST2
    far = s - _SPLIT2
    tail = -(_poly7(_CC, near) / _poly7(_D, near)) if s <= _SPLIT2 else -(
        _poly7(_E, far) / _poly7(_F, far))
    return central if q >= -_SPLIT1 else tail


@device
def truncnorm_std(u, pa, qb, mass):
    """Standard normal z truncated to [alpha, beta], by one inverse CDF.

    ``pa`` = Phi(alpha), ``qb`` = 1 - Phi(beta) and ``mass`` = Phi(beta) - Phi(alpha)
    are computed on the host. The lower half inverts Phi(alpha) + u*mass; the upper
    half inverts the mirrored tail 1 - Phi(beta) + (1-u)*mass, so both tails keep
    full relative precision and u in (0, 1) never meets 0 or 1.
    """
    t = pa + mul(u, mass)
    lower = t <= _HALF64
    z = ndtri_lower(t if lower else qb + mul(_ONE64 - u, mass))
    return z if lower else -z


# ---------------------------------------------------------------------------
# The truncated normal of 32-bit outputs: AS241's PPND7 in float32, with a band of
# fastinit's own between its central branch and its tails, evaluating only the branch
# an element takes.

_P7A = tuple(np.float32(c) for c in C.PPND7_A)
_P7B = tuple(np.float32(c) for c in C.PPND7_B)
_P7C = tuple(np.float32(c) for c in C.PPND7_C)
_P7D = tuple(np.float32(c) for c in C.PPND7_D)
_P7E = tuple(np.float32(c) for c in C.PPND7_E)
_P7F = tuple(np.float32(c) for c in C.PPND7_F)
_SPLIT1_32 = np.float32(C.AS241_SPLIT1)
_SPLIT2_32 = np.float32(C.AS241_SPLIT2)
_CONST1_32 = np.float32(C.AS241_CONST1)
_CONST2_32 = np.float32(C.AS241_CONST2)
_SPLIT_MID32 = np.float32(C.NDTRI32_SPLIT_MID)
_MID_Q32 = np.float32(C.NDTRI32_MID_Q)
_MID_Z32 = np.float32(C.NDTRI32_MID_Z)
_MID_P = tuple(np.float32(c) for c in C.NDTRI32_MID_P)
_MID_D = tuple(np.float32(c) for c in C.NDTRI32_MID_D)
_MANTISSA23 = np.uint64(0x7FFFFF)


@device
def _poly3(c, r):
    """c[0] + c[1] r + c[2] r**2 + c[3] r**3, by Horner's rule."""
    return mul(mul(mul(c[3], r) + c[2], r) + c[1], r) + c[0]


@device
def _poly2(c, r):
    return mul(mul(c[2], r) + c[1], r) + c[0]


@device
def neglog32(p):
    """-log(p) in float32 for a positive float64 p, subnormals included: p's binary
    exponent k and the top 23 bits of its mantissa m, -(k ln2_hi + (log32(m) + k ln2_lo))."""
    tiny = p < _TINY64
    p = p * _P2P54_64 if tiny else p  # 2**54 p: exact
    b = f64_to_u64(p)
    k = np.int32(b >> np.uint64(52)) - (np.int32(1077) if tiny else np.int32(1023))
    m = u32_to_f32(np.uint32((b >> np.uint64(29)) & _MANTISSA23) | np.uint32(0x3F800000))
    dk = np.float32(k)
    return -(mul(dk, _LN2_HI32) + (log32(m) + mul(dk, _LN2_LO32)))


@device
def ndtri_central32(q):
    """PPND7's central branch, for ``q = p - 1/2`` in [-0.425, 0]."""
    r = _CONST1_32 - mul(q, q)
    return q * _poly3(_P7A, r) / _poly3(_P7B, r)


@device
def ndtri_middle32(q):
    """fastinit's band between PPND7's central branch and its tails, for ``q = p - 1/2``
    in [-0.48, -0.425): ``MID_Z + (t * P(t)) / Q(t)``, ``t = q - MID_Q`` (exact)."""
    t = q - _MID_Q32
    return mul(t, _poly3(_MID_P, t)) / _poly3(_MID_D, t) + _MID_Z32


@device
def ndtri_tail32(p):
    """PPND7's tail branches, for a float64 p below 0.02."""
    s = np.float32(math.sqrt(neglog32(p)))
    if s <= _SPLIT2_32:
        near = s - _CONST2_32
        return -(_poly3(_P7C, near) / _poly2(_P7D, near))
    far = s - _SPLIT2_32
    return -(_poly3(_P7E, far) / _poly2(_P7F, far))


@device
def ndtri_lower32(p):
    """float32 z with Phi(z) = p, for a float64 p in (0, 1/2]: Wichura's PPND7 in
    float32, with ``ndtri_middle32`` between its central branch and its tails (relative
    error below 4.5e-7). ``q = p - 1/2`` is taken in float64, so the central branch keeps
    full relative precision near the median; the tails start from ``-log(p)`` of the
    float64 ``p``. Only the branch taken is evaluated."""
    q = np.float32(p - _HALF64)
    if q >= -_SPLIT1_32:
        return ndtri_central32(q)
    return ndtri_middle32(q) if q >= -_SPLIT_MID32 else ndtri_tail32(p)


# The same values, for a fill whose bounds let it take only some of the four branches
# ("C" central, "M" the band, "N" tail with s <= 5, "F" tail with s > 5; a run of
# BRANCHES32): the host knows the range of the probabilities a fill inverts
# (``ndtri32_branches``), so the CPU kernel evaluates only the branches that range
# reaches, and a log only where it reaches a tail. Where it reaches more than one, they
# share one Horner pair and one division: every branch is (k * P(x)) / Q(x) + c, with
# the lane's coefficients, argument x, factor k and term c: the central branch (q,
# r = CONST1 - q*q, -0), the band (t, t, MID_Z), a tail (-1, s - CONST2 or s - 5, -0),
# since -(C/D) = (-C)/D (IEEE division is symmetric in sign) and v + -0 = v for every
# v; D and F, of degree 2, get a zero x**3 coefficient, and 0 * x + d2 = d2 for finite
# x. Every lane thus performs its own branch's operations, in the same order, on the
# same values: bit for bit ndtri_lower32.

BRANCHES32 = "CMNF"
_ZERO32 = np.float32(0.0)
_MINUS_ZERO32 = np.float32(-0.0)
_MINUS_ONE32 = np.float32(-1.0)
_NUMERATORS = tuple(zip(_P7A, _MID_P, _P7C, _P7E))  # degree by degree: C, M, N, F
_DENOMINATORS = tuple(zip(_P7B, _MID_D, _P7D + (_ZERO32,), _P7F + (_ZERO32,)))


@device
def _ppnd7_s(p):
    return np.float32(math.sqrt(neglog32(p)))


@device
def _pick(c, m, n, values):
    """The lane's one of ``values`` (its central, band, near-tail, far-tail value)."""
    return values[0] if c else (values[1] if m else (values[2] if n else values[3]))


@device
def _ratio(k, x, c, m, n):
    """(k * P(x)) / Q(x), P and Q cubics with the lane's branch's coefficients, Horner."""
    num = mul(mul(mul(_pick(c, m, n, _NUMERATORS[3]), x) + _pick(c, m, n, _NUMERATORS[2]),
                  x) + _pick(c, m, n, _NUMERATORS[1]), x) + _pick(c, m, n, _NUMERATORS[0])
    den = mul(mul(mul(_pick(c, m, n, _DENOMINATORS[3]), x)
                  + _pick(c, m, n, _DENOMINATORS[2]), x)
              + _pick(c, m, n, _DENOMINATORS[1]), x) + _pick(c, m, n, _DENOMINATORS[0])
    return k * num / den


def ndtri32_taking(branches):
    """``ndtri_lower32`` for probabilities that take only ``branches`` (a run of
    BRANCHES32): the same value for each, every lane computing the same operations (a
    loop of it vectorizes), with a log only where ``branches`` holds a tail."""
    has_c, has_m, has_n, has_f = (b in branches for b in BRANCHES32)
    tails = has_n or has_f
    alone = len(branches) == 1

    @device
    def ndtri(p):
        q = np.float32(p - _HALF64)
        c = has_c and (alone or q >= -_SPLIT1_32)
        m = has_m and not c and (not tails or q >= -_SPLIT_MID32)
        s = _ppnd7_s(p) if tails else _ZERO32
        n = has_n and (not has_f or s <= _SPLIT2_32)
        r = _CONST1_32 - mul(q, q)
        t = q - _MID_Q32
        x = r if c else (t if m else s - (_CONST2_32 if n else _SPLIT2_32))
        k = q if c else (t if m else _MINUS_ONE32)
        return _ratio(k, x, c, m, n) + (_MID_Z32 if m else _MINUS_ZERO32)

    return ndtri


def _runs(letters):
    return [letters[i:j] for i in range(len(letters)) for j in range(i + 1, len(letters) + 1)]


# branches -> ndtri_lower32 for probabilities that take only those branches
NDTRI32_BRANCHES = {branches: ndtri32_taking(branches) for branches in _runs(BRANCHES32)}

# On the host: which branches a fill's probabilities can reach.
_U_FIRST = np.float64(0.5 * 2.0**-32)  # u01_open32 of word 0 and of word 2**32 - 1
_U_LAST = np.float64((2.0**32 - 0.5) * 2.0**-32)
_P_FAR = math.exp(-25.0)  # s = 5


def ndtri32_branches(pa, qb, mass):
    """Which of ``ndtri_lower32``'s branches (a key of NDTRI32_BRANCHES)
    ``truncnorm_std32`` can take for any word, on the host. ``_mirrored``'s probability
    is monotone in u (each rounding is), so its range is set by the first and last
    words, computed here with the kernel's float64 operations. The tests on q are
    monotone in p and evaluated as the kernel does; the test between the tails goes
    through log32 (a few ulps, not proven monotone), so it is decided with a margin of
    1e-3 in p around exp(-25), some hundred times log32's reach. A branch kept that no
    element takes costs time, never a value."""
    pa, qb, mass = np.float64(pa), np.float64(qb), np.float64(mass)
    t_lo = pa + _U_FIRST * mass
    t_hi = pa + _U_LAST * mass
    lows, highs = [], []
    if t_lo <= _HALF64:  # some words take the lower half
        lows.append(t_lo)
        highs.append(t_hi if t_hi <= _HALF64 else _HALF64)
    if t_hi > _HALF64:  # some take the mirrored one
        lows.append(qb + (_ONE64 - _U_LAST) * mass)
        highs.append(qb + (_ONE64 - _U_FIRST) * mass if t_lo > _HALF64 else _ONE64)
    p_lo, p_hi = min(lows), max(highs)
    q_lo, q_hi = np.float32(p_lo - _HALF64), np.float32(p_hi - _HALF64)
    central = bool(q_hi >= -_SPLIT1_32)
    middle = bool(q_hi >= -_SPLIT_MID32) and bool(q_lo < -_SPLIT1_32)
    tail = bool(q_lo < -_SPLIT_MID32)
    far = tail and bool(p_lo < _P_FAR * (1.0 + 1e-3))
    near = tail and bool(p_hi >= _P_FAR * (1.0 - 1e-3))
    return "C" * central + "M" * middle + "N" * near + "F" * far


def ndtri32_hull(subsets):
    """The least branch set holding every one of ``subsets`` (runs of BRANCHES32)."""
    got = "".join(subsets)
    first = min(BRANCHES32.index(b) for b in got)
    last = max(BRANCHES32.index(b) for b in got)
    return BRANCHES32[first:last + 1]


@device
def _mirrored(u, pa, qb, mass):
    """(p, lower): the probability the truncated normal inverts for the open uniform u,
    Phi(alpha) + u*mass on the lower half, else the mirrored 1 - Phi(beta) + (1-u)*mass."""
    t = pa + mul(u, mass)
    lower = t <= _HALF64
    return (t if lower else qb + mul(_ONE64 - u, mass)), lower


@device
def truncnorm_std32(u, pa, qb, mass):
    """``truncnorm_std`` for 32-bit outputs: the same mirrored float64 probabilities,
    inverted by ``ndtri_lower32``; float32."""
    p, lower = _mirrored(u, pa, qb, mass)
    z = ndtri_lower32(p)
    return z if lower else -z


def truncnorm32_taking(ndtri_lower):
    """The ``truncnorm32`` rule's transform (below) inverting with ``ndtri_lower``:
    ``ndtri_lower32`` for the rule itself, or one of ``NDTRI32_BRANCHES``, which gives
    the same values for a fill whose probabilities take only its branches."""

    @device
    def transform(p, w):
        q, lower = _mirrored(u01_open32(w), p.pa, p.qb, p.mass)
        z = ndtri_lower(q)
        z = np.float64(z if lower else -z)
        return clip(np.float32(p.mean + mul(p.stddev, z)), p.bot, p.top)

    return transform


# ---------------------------------------------------------------------------
# The rules' transforms (fastinit/registry.py declares each rule): ``<rule>(p, words)``
# turns the words the rule reads for one value (``pair2`` and ``block2`` rules: for two)
# into it, with ``p`` the rule's parameter record (``backends.rules``). A rule that
# retries has three: its try, ``<rule>_rejected`` and ``<rule>_value``.

@device
def clip(v, lo, hi):
    """min(max(v, lo), hi) as Python's builtins compute it (kernels/transforms.cuh's
    clip): max keeps its first argument unless the second compares greater, min unless
    the second compares less. Written out, it compiles with no call to those builtins."""
    m = lo if lo > v else v
    return hi if hi < m else m


@device
def raw(p, w):
    return w


@device
def bernoulli(p, w):
    """1 or 0: w < round(p * 2**32), up to 2**32 inclusive."""
    return np.float32(w < p.threshold)


@device
def uniform32(p, w):
    return clip(p.lo + mul(p.span, u01_24(w)), p.bot, p.top)


@device
def uniform16(p, h):
    return clip(p.lo + mul(p.span, u01_16(h)), p.bot, p.top)


@device
def uniform64(p, wa, wb):
    return clip(p.lo + mul(p.span, u01_53(wa, wb)), p.bot, p.top)


@device
def normal32(p, wa, wb):
    z0, z1 = box_muller32(wa, wb)
    return p.mean + mul(p.stddev, z0), p.mean + mul(p.stddev, z1)


@device
def normal64(p, w0, w1, w2, w3):
    z0, z1 = box_muller64(w0, w1, w2, w3)
    return p.mean + mul(p.stddev, z0), p.mean + mul(p.stddev, z1)


# z in float32 (PPND7), mean + stddev * z in float64, rounded to float32, then clipped to
# float32 limits.
truncnorm32 = truncnorm32_taking(ndtri_lower32)


@device
def truncnorm64(p, wa, wb):
    z = truncnorm_std(u01_open53(wa, wb), p.pa, p.qb, p.mass)
    return clip(p.mean + mul(p.stddev, z), p.bot, p.top)


# Bounded integers: a try is Lemire's product of a word (integers32: spans below 2**32)
# or word pair (integers64) by span + 1; it is rejected when its low half is below the
# threshold, and its value is low + its high half (mod 2**64: the integer's two's
# complement).


@device
def integers32(p, w):
    return lemire32(w, p.span)


@device
def integers32_rejected(p, m):
    return (m & _MASK32) < p.reject


@device
def integers32_value(p, m):
    return add64(p.low, m >> _SHIFT32)


@device
def integers64(p, x1, x0):
    return lemire64(x1, x0, p.span)


@device
def integers64_rejected(p, m):
    return m[1] < p.reject


@device
def integers64_value(p, m):
    return add64(p.low, m[0])


# ---------------------------------------------------------------------------
# Rounding float32 to 16-bit formats, to nearest even (the result's bits).

_ROUND_BF16 = np.uint32(0x7FFF)
_F16_MAX = np.uint32((127 + 16) << 23)
_F16_MIN_NORMAL = np.uint32(113 << 23)
_F16_DENORM_MAGIC = u32_to_f32(np.uint32(126 << 23))
_F16_REBIAS = np.uint32(112 << 23)


@device
def bf16_bits(x):
    """bfloat16 bits of a finite float32, rounded to nearest even."""
    b = f32_to_u32(x)
    return np.uint16((b + _ROUND_BF16 + ((b >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16))


@device
def f16_bits(x):
    """IEEE half bits of a finite float32, rounded to nearest even (overflow to inf)."""
    b = f32_to_u32(x)
    sign = (b >> np.uint32(16)) & np.uint32(0x8000)
    a = b & np.uint32(0x7FFFFFFF)
    if a >= _F16_MAX:
        h = np.uint32(0x7C00)
    elif a < _F16_MIN_NORMAL:
        h = f32_to_u32(u32_to_f32(a) + _F16_DENORM_MAGIC) - f32_to_u32(_F16_DENORM_MAGIC)
    else:
        odd = (a >> np.uint32(13)) & np.uint32(1)
        h = (a - _F16_REBIAS + np.uint32(0xFFF) + odd) >> np.uint32(13)
    return np.uint16(h | sign)
