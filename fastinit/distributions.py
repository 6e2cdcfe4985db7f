"""What a fill draws: distributions as data, and the rule each one follows per dtype.

A distribution is a frozen dataclass of its parameters. ``rule_for(dist, dtype)``
validates it and returns the ``Rule`` every backend executes: the rule's name (a
key of ``registry.RULES``, fixing which words make which element)
and its parameters, computed once on the host in the precision the rule uses.
Clamping limits are computed here so that rounding to the output dtype can never
step outside the distribution's interval.

A parameter out of range is a ``ParameterError`` and a dtype a rule cannot write a
``DtypeError``: each is also the exception torch raises in that case (``RuntimeError``,
``NotImplementedError``), so code written against ``torch.nn.init`` catches them.
"""

import functools
import math
import operator
from dataclasses import dataclass

import numpy as np

from .registry import ELEMENTS_PER_BLOCK, RULES, family_dtypes



class ParameterError(ValueError, RuntimeError):
    """A distribution parameter out of range: a ValueError, and the RuntimeError torch's
    ``uniform_``/``normal_`` raise for it."""


class DtypeError(TypeError, NotImplementedError):
    """A destination dtype a rule cannot write: a TypeError, and the NotImplementedError
    (a RuntimeError) torch raises for a random fill of, say, an integer tensor."""


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high): ``high`` is never returned."""

    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class Normal:
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class TruncatedNormal:
    """Normal(mean, std) conditioned on [a, b]; ``a`` and ``b`` are absolute, as in torch."""

    mean: float = 0.0
    std: float = 1.0
    a: float = -2.0
    b: float = 2.0


@dataclass(frozen=True)
class Bernoulli:
    """1 with probability p (exactly round(p * 2**32) / 2**32), else 0."""

    p: float = 0.5


@dataclass(frozen=True)
class Integers:
    """Uniform on the integers of [low, high], both included, exactly (no bias): Lemire's
    multiply-shift with rejection (docs/stream.md)."""

    low: int
    high: int


@dataclass(frozen=True)
class Raw:
    """The raw uint32 words of the stream."""


@dataclass(frozen=True)
class Rule:
    name: str
    params: tuple

    @property
    def elements_per_block(self):
        return ELEMENTS_PER_BLOCK[self.name]

    @property
    def retries(self):
        """Whether a try may be rejected and redrawn from the retry blocks (bounded
        integers): a fill must then stay below block 2**63 (docs/stream.md)."""
        return RULES[self.name].retries


def blocks_for(rule, n):
    """Philox blocks that ``n`` elements of ``rule`` occupy."""
    epb = rule.elements_per_block
    return -(-n // epb)


def _finite(name, value):
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        value = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value}")
    return value


def _integer(name, value):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def integer_range(dtype):
    """(smallest, largest) value of an integer dtype name (bool: 0, 1)."""
    if dtype == "bool":
        return 0, 1
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _check_dtype(dist, dtype, allowed):
    if dtype not in allowed:
        raise DtypeError(
            f"{type(dist).__name__} fills dtypes {', '.join(allowed)}; got {dtype}"
        )


# --- exact neighbours and rounding limits on the host -----------------------


def _bits16(x, dtype):
    """Bits of float32 ``x`` rounded to the 16-bit ``dtype`` (to nearest even)."""
    from .core import bf16_bits, f16_bits

    return int((bf16_bits if dtype == "bfloat16" else f16_bits)(np.float32(x)))


def _from_bits16(bits, dtype):
    if dtype == "bfloat16":
        return float(np.uint32(bits << 16).view(np.float32))
    return float(np.uint16(bits).view(np.float16))


def _step16(bits, up):
    """Neighbouring 16-bit pattern (one ulp up or down) of a finite value."""
    negative = bits & 0x8000
    if bits & 0x7FFF == 0:
        return 0x0001 if up else 0x8001
    return bits + 1 if bool(negative) != up else bits - 1


def _limit(x, dtype, below):
    """Largest value of ``dtype`` < x (below=True) or smallest >= x (below=False)."""
    if dtype in ("float32", "float64"):
        ftype = np.float32 if dtype == "float32" else np.float64
        v = ftype(x)
        if below and float(v) >= x:
            v = np.nextafter(v, ftype(-np.inf))
        elif not below and float(v) < x:
            v = np.nextafter(v, ftype(np.inf))
        return v
    bits = _bits16(x, dtype)
    v = _from_bits16(bits, dtype)
    if below and v >= x:
        bits = _step16(bits, up=False)
    elif not below and v < x:
        bits = _step16(bits, up=True)
    return bits


def _clip_limits_16(lo_bits, hi_bits, dtype):
    """float32 limits whose 16-bit rounding stays within [lo_bits, hi_bits]."""

    def edge(bits, up):
        v = _from_bits16(bits, dtype)
        nb = _step16(bits, up)
        n = _from_bits16(nb, dtype)
        if not math.isfinite(n):
            n = v + (v - _from_bits16(_step16(bits, not up), dtype))
        mid = np.float32((v + n) / 2)
        if _bits16(mid, dtype) != bits:
            mid = np.nextafter(mid, np.float32(-np.inf if up else np.inf))
        return mid

    return edge(lo_bits, up=False), edge(hi_bits, up=True)


def _clip_limits(low, high, dtype, open_high):
    """Clamping limits, in the rule's clamp precision, for values in [low, high) or [low, high]."""
    if dtype in ("float32", "float64"):
        ftype = np.float32 if dtype == "float32" else np.float64
        lo = _limit(low, dtype, below=False) if math.isfinite(low) else ftype(-np.inf)
        if not math.isfinite(high):
            return lo, ftype(np.inf)
        hi = _limit(high, dtype, below=True) if open_high else ftype(high)
        if not open_high and float(hi) > high:
            hi = np.nextafter(hi, ftype(-np.inf))
        return lo, hi
    if not math.isfinite(low):
        low = -np.inf
    if not math.isfinite(high):
        high = np.inf
    finite_max = _from_bits16(0x7F7F if dtype == "bfloat16" else 0x7BFF, dtype)
    lo_bits = _limit(max(low, -finite_max), dtype, below=False)
    if open_high and high <= finite_max:
        hi_bits = _limit(high, dtype, below=True)
    else:
        hi_bits = _limit(min(high, finite_max), dtype, below=False)
        if _from_bits16(hi_bits, dtype) > high:
            hi_bits = _step16(hi_bits, up=False)
    return _clip_limits_16(lo_bits, hi_bits, dtype)


def _check_nonempty(lo_lim, hi_lim, interval, dtype):
    if not lo_lim <= hi_lim:
        raise ParameterError(f"no {dtype} value lies in {interval}")


# --- the rules ---------------------------------------------------------------


# The largest |z| the Box-Muller rules can give: sqrt(-2 log u1) with u1 >= 2**-24
# (float32) or 2**-53 (float64), widened by 2**-16 for the rounding of log, sqrt and
# the sine and cosine polynomials (each within a few ulps). Indexed by "float64 rule".
NORMAL_BOUND = (math.sqrt(48.0 * math.log(2.0)) * (1.0 + 2.0**-16),
                math.sqrt(106.0 * math.log(2.0)) * (1.0 + 2.0**-16))


def _normal_fits(mean, std, bound, lo_lim, hi_lim):
    """Whether every value the normal rule can write, ``mean + std * z`` for
    ``|z| <= bound`` rounded in the rule's precision (``mean`` and ``std`` already are),
    lies inside the clip limits ``[lo_lim, hi_lim]`` with room to spare: 2**-20 of the
    spread and of the largest magnitude, far more than the two roundings can add."""
    spread = float(std) * bound
    top, bottom = float(mean) + spread, float(mean) - spread
    slack = spread * 2.0**-20 + max(abs(top), abs(bottom)) * 2.0**-20
    return float(lo_lim) <= bottom - slack and top + slack <= float(hi_lim)


def _ndtr(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def cached(function, maxsize=1024):
    """``function`` remembering its last ``maxsize`` results by arguments where they are
    hashable (``functools.lru_cache``), and computing them afresh where they are not.
    An exception is never remembered, so a call whose arguments are rejected raises
    every time."""
    remembered = functools.lru_cache(maxsize=maxsize)(function)

    @functools.wraps(function)
    def call(*args):
        try:
            return remembered(*args)
        except TypeError:
            try:
                hash(args)
            except TypeError:  # an unhashable argument: nothing to remember it under
                return function(*args)
            raise

    return call


def _rule(dist, dtype):
    for kind, make, dtypes in _MAKERS:
        if isinstance(dist, kind):
            _check_dtype(dist, dtype, dtypes)
            return make(dist, dtype)
    raise TypeError(f"not a distribution: {dist!r}")


def _precision(dtype):
    """(whether the rule is float64's, the rule's float type)."""
    wide = dtype == "float64"
    return wide, np.float64 if wide else np.float32


def _raw(dist, dtype):
    return Rule("raw", ())


def _bernoulli(dist, dtype):
    p = _finite("p", dist.p)
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"p must be in [0, 1], got {p}")
    return Rule("bernoulli", (np.uint64(round(p * 2.0**32)),))


def _integers(dist, dtype):
    low, high = _integer("low", dist.low), _integer("high", dist.high)
    smallest, largest = integer_range(dtype)
    if not smallest <= low <= largest:
        raise ParameterError(f"low is out of bounds for {dtype}")
    if not smallest <= high <= largest:
        raise ParameterError(f"high is out of bounds for {dtype}")
    if low > high:
        raise ParameterError(f"integers need low <= high, got low={low}, high={high}")
    return _integers_rule(low, high - low)


def _uniform(dist, dtype):
    wide, ctype = _precision(dtype)
    low, high = _finite("low", dist.low), _finite("high", dist.high)
    if low > high:
        raise ParameterError(f"uniform needs low <= high, got low={low}, high={high}")
    with np.errstate(over="ignore"):
        lo, span = ctype(low), ctype(high) - ctype(low)
    if not np.isfinite(span):
        raise ParameterError(f"high - low = {high - low} overflows {np.dtype(ctype).name}")
    if low == high:
        lo_lim = hi_lim = ctype(low)
    else:
        lo_lim, hi_lim = _clip_limits(low, high, dtype, open_high=True)
        _check_nonempty(lo_lim, hi_lim, f"[{low}, {high})", dtype)
    narrow = dtype in ("float16", "bfloat16")
    name = "uniform64" if wide else ("uniform16" if narrow else "uniform32")
    return Rule(name, (lo, span, ctype(lo_lim), ctype(hi_lim)))


def _normal(dist, dtype):
    wide, ctype = _precision(dtype)
    mean, std = _finite("mean", dist.mean), _finite("std", dist.std)
    if std < 0:
        raise ParameterError(f"std must be >= 0, got {std}")
    return Rule("normal64" if wide else "normal32", (ctype(mean), ctype(std)))


def _truncated_normal(dist, dtype):
    wide, ctype = _precision(dtype)
    mean, std = _finite("mean", dist.mean), _finite("std", dist.std)
    a, b = float(dist.a), float(dist.b)
    if math.isnan(a) or math.isnan(b):
        raise ParameterError(f"a and b must not be NaN, got a={a}, b={b}")
    if std <= 0:
        raise ParameterError(f"std must be > 0, got {std}")
    if not a < b:
        raise ParameterError(f"truncated normal needs a < b, got a={a}, b={b}")
    pa, qb, mass = _masses((a - mean) / std, (b - mean) / std)
    if not mass > 0.0:
        raise ParameterError(
            f"[a, b] = [{a}, {b}] lies more than 37 standard deviations from the mean "
            f"{mean}: it holds no float64 probability mass"
        )
    lo_lim, hi_lim = _clip_limits(a, b, dtype, open_high=False)
    _check_nonempty(lo_lim, hi_lim, f"[{a}, {b}]", dtype)
    if _normal_fits(ctype(mean), ctype(std), NORMAL_BOUND[wide], lo_lim, hi_lim):
        return Rule("normal64" if wide else "normal32", (ctype(mean), ctype(std)))
    name = "truncnorm64" if wide else "truncnorm32"
    return Rule(name, (pa, qb, mass, mean, std, ctype(lo_lim), ctype(hi_lim)))


def _masses(alpha, beta):
    """(Phi(alpha), 1 - Phi(beta), Phi(beta) - Phi(alpha)), the last taken on the side of
    the median where both terms are small, so that tails keep full precision."""
    pa, qb = _ndtr(alpha), _ndtr(-beta)
    if beta <= 0:
        return pa, qb, _ndtr(beta) - pa
    if alpha >= 0:
        return pa, qb, _ndtr(-alpha) - qb
    return pa, qb, 1.0 - pa - qb


# (distribution class, its rule maker, the dtypes it fills: those of its rules' family),
# in the order tried
_MAKERS = tuple((kind, make, family_dtypes(family)) for kind, make, family in (
    (Raw, _raw, "raw"), (Bernoulli, _bernoulli, "bernoulli"), (Integers, _integers, "integers"),
    (Uniform, _uniform, "uniform"), (Normal, _normal, "normal"),
    (TruncatedNormal, _truncated_normal, "truncnorm")))


def _integers_rule(low, span):
    """The rule of low + k, k uniform on [0, span]: 32-bit tries up to a span of 2**32 - 1,
    64-bit ones beyond. Parameters are 32-bit halves (low first), so that each is exact as
    a double: low mod 2**64, span, and the rejection threshold 2**bits mod (span + 1)."""
    bits = 32 if span < 2**32 else 64
    reject = 2**bits % (span + 1)
    halves = []
    for value in (low % 2**64, span, reject):
        halves += [value & 0xFFFFFFFF, value >> 32]
    return Rule(f"integers{bits}", tuple(halves))


@cached
def rule_for(dist, dtype):
    """The ``Rule`` that fills ``dtype`` (a name from FLOAT_DTYPES etc.) with ``dist``;
    computed once per (distribution, dtype) when the distribution is hashable."""
    return _rule(dist, dtype)

