"""A quick statistical battery for draws: do samples follow the distribution they claim?

``quick_battery(samples, dist)`` runs every check that applies to ``dist`` (a
``fastinit`` distribution: ``Uniform``, ``Normal``, ``TruncatedNormal``, ``Bernoulli``,
``Raw``) on a 1-D sample and returns ``{name: Check}``; each check has a two-sided
p-value, uniform on (0, 1) when the samples are independent draws of ``dist``:

* ``mean``, ``variance``, ``skewness``, ``kurtosis`` (excess): the sample moment against
  the distribution's, in units of its asymptotic standard error (delta method on the
  first four sample moments, from the distribution's central moments up to the 8th).
* ``ks``: Kolmogorov-Smirnov of the probability integral transform against U(0, 1).
* ``chi_square``: the same transform counted in equal-probability bins.
* ``serial_correlation``: lag-1 autocorrelation, ``sqrt(n) * r`` against N(0, 1).
* ``bit_frequency`` (``Raw`` only): the share of ones at each of the 32 bit positions;
  the worst position's p-value, Sidak-corrected for 32 positions.

The transform takes rounding into account, so 16-bit outputs are not rejected for
being discrete: a value stands for its rounding cell (between the midpoints to its
neighbours in its dtype; an integer word ``w`` for ``[w, w + 1)``), and the transform
is uniform within that cell's share of the CDF (the randomized PIT, drawn from a
seeded numpy generator, so a battery is deterministic). The theory is scipy's
continuous distribution; what rounding changes in the moments (Sheppard's correction,
h^2 / 12 for a spacing h: under 1e-4 of the variance for bfloat16, whose spacing is at
most 2^-7 of the value) is far below the standard errors at the 10^5-10^6 draws this is
meant for (1.4e-3 of the variance of a normal at 10^6).

Needs scipy (in the ``test`` extra). docs/quality.md has the results and dieharder's.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from .distributions import Bernoulli, Normal, Raw, TruncatedNormal, Uniform

ALPHA = 1e-4  # a check fails when its p-value is at or below this
WORD_BITS = 32


@dataclass(frozen=True)
class Check:
    """One check: the observed statistic, what theory expects, and the p-value."""

    name: str
    observed: float
    expected: float
    p_value: float

    def passed(self, alpha=ALPHA):
        return self.p_value > alpha


def law(dist):
    """The scipy.stats frozen distribution ``dist`` draws from. Raw words are the
    integer part of U(0, 2**32); Bernoulli's p is the exact one, round(p * 2**32) / 2**32."""
    from scipy import stats

    if isinstance(dist, Uniform):
        return stats.uniform(dist.low, dist.high - dist.low)
    if isinstance(dist, Normal):
        return stats.norm(dist.mean, dist.std)
    if isinstance(dist, TruncatedNormal):
        return stats.truncnorm((dist.a - dist.mean) / dist.std, (dist.b - dist.mean) / dist.std,
                               dist.mean, dist.std)
    if isinstance(dist, Bernoulli):
        return stats.bernoulli(round(dist.p * 2**32) / 2**32)
    if isinstance(dist, Raw):
        return stats.uniform(0, 2**32)
    raise TypeError(f"no law for {dist!r}")


@functools.cache
def standardized_moments(dist):
    """``(mean, std, m)`` of ``law(dist)``: ``m[k] = E[((X - mean) / std) ** k]``, k = 0..8."""
    frozen = law(dist)
    mean, std = float(frozen.mean()), float(frozen.std())
    if isinstance(dist, Raw):  # the integer words: U(0, 2**32) is uniform on [-sqrt 3, sqrt 3]
        m = [0.0 if k % 2 else 3 ** (k / 2) / (k + 1) for k in range(9)]
        return mean - 0.5, std, tuple(m)
    m = [1.0, 0.0, 1.0] + [float(frozen.expect(lambda x, k=k: ((x - mean) / std) ** k))
                           for k in range(3, 9)]
    return mean, std, tuple(m)


def _moment_gradients(m):
    """Gradients of (mean, variance, skewness, excess kurtosis) of a standardized sample
    with respect to its raw moments (a1, a2, a3, a4), at their expected values."""
    return {
        "mean": (1.0, 0.0, 0.0, 0.0),
        "variance": (0.0, 1.0, 0.0, 0.0),
        "skewness": (-3.0, -1.5 * m[3], 1.0, 0.0),
        "kurtosis": (-4.0 * m[3], -2.0 * m[4], 0.0, 1.0),
    }


def standard_errors(dist, n):
    """Asymptotic standard errors of the sample mean, variance, skewness and excess
    kurtosis of ``n`` draws of ``dist``, in units of its standard deviation (powers of
    it for the variance): for a normal, ``1, sqrt(2), sqrt(6), sqrt(24)`` over sqrt(n)."""
    m = standardized_moments(dist)[2]
    cov = np.array([[m[j + k] - m[j] * m[k] for k in range(1, 5)] for j in range(1, 5)])
    return {name: math.sqrt(max(float(np.dot(g, cov @ np.array(g))), 0.0) / n)
            for name, g in _moment_gradients(m).items()}


def _as_float64(samples):
    samples = np.asarray(samples).reshape(-1)
    if samples.dtype.name == "bfloat16":
        return samples.astype(np.float32).astype(np.float64)
    return samples.astype(np.float64)


def _two_sided(z):
    return math.erfc(abs(z) / math.sqrt(2.0))


def moment_checks(samples, dist):
    mean, std, m = standardized_moments(dist)
    z = (_as_float64(samples) - mean) / std
    n = z.size
    a1 = z.mean()
    c = z - a1
    c2 = c * c
    m2, m3, m4 = c2.mean(), (c2 * c).mean(), (c2 * c2).mean()
    observed = {"mean": a1, "variance": m2, "skewness": m3 / m2 ** 1.5,
                "kurtosis": m4 / m2 ** 2 - 3.0}
    expected = {"mean": 0.0, "variance": 1.0, "skewness": m[3], "kurtosis": m[4] - 3.0}
    se = standard_errors(dist, n)
    checks = {}
    for name in observed:
        deviation = observed[name] - expected[name]
        p = 1.0 if se[name] == 0 and deviation == 0 else (
            0.0 if se[name] == 0 else _two_sided(deviation / se[name]))
        checks[name] = Check(name, float(observed[name]), float(expected[name]), p)
    return checks


def _outside(dist, x, above):
    """Whether values ``x`` lie beyond what ``dist`` can return, above or below: the
    clamped ends of a uniform's [low, high) and a truncated normal's [a, b]."""
    if isinstance(dist, Uniform):
        return x >= dist.high if above else x < dist.low
    if isinstance(dist, TruncatedNormal):
        return x > dist.b if above else x < dist.a
    return np.zeros(x.shape, bool)


def _rounding_cells(values, dist):
    """``(cdf at the bottom, cdf at the top)`` of each value's rounding cell: an integer
    word ``w`` stands for [w, w + 1), a Bernoulli outcome for itself, a float for the
    span between the midpoints to its neighbours in its dtype, reaching out to the end
    of the distribution's range where the neighbour lies beyond it (the rules clamp)."""
    frozen = law(dist)
    if isinstance(dist, Raw):
        x = values.astype(np.float64)
        return frozen.cdf(x), frozen.cdf(x + 1.0)
    if isinstance(dist, Bernoulli):
        x = values.astype(np.float64)
        return frozen.cdf(x - 1.0), frozen.cdf(x)
    up = np.nextafter(values, np.array(np.inf, values.dtype)).astype(np.float64)
    down = np.nextafter(values, np.array(-np.inf, values.dtype)).astype(np.float64)
    x = values.astype(np.float64)
    lo = np.where(_outside(dist, down, above=False), 0.0, frozen.cdf((down + x) / 2))
    hi = np.where(_outside(dist, up, above=True), 1.0, frozen.cdf((x + up) / 2))
    return lo, hi


def probability_transform(samples, dist, rng=None):
    """The randomized probability integral transform of ``samples``: U(0, 1) draws when
    the samples are draws of ``dist`` rounded to their dtype (see the module docstring).
    float32 and float64 samples go straight through the CDF: their cells (2^-24 of the
    range or less) are far below what 10^6 draws resolve."""
    samples = np.asarray(samples).reshape(-1)
    if samples.dtype.kind == "f" and samples.dtype.itemsize >= 4 and not isinstance(
            dist, (Raw, Bernoulli)):
        return law(dist).cdf(samples.astype(np.float64))
    if isinstance(dist, (Raw, Bernoulli)):
        samples = samples.astype(np.uint32 if isinstance(dist, Raw) else np.uint8)
    values, inverse = np.unique(samples, return_inverse=True)
    lo, hi = _rounding_cells(values, dist)
    rng = np.random.default_rng(0) if rng is None else rng
    jitter = rng.random(samples.size)
    return lo[inverse] + jitter * (hi - lo)[inverse]


def ks_check(u):
    from scipy import stats

    result = stats.kstest(u, "uniform")
    return Check("ks", float(result.statistic), 0.0, float(result.pvalue))


def chi_square_check(u, bins=None):
    """Counts of ``u`` in ``bins`` equal bins of [0, 1) (default ``2 n^(2/5)``, Mann and
    Wald's rule) against equal expectations."""
    from scipy import stats

    bins = bins or max(8, min(1000, int(2 * u.size ** 0.4)))
    counts = np.histogram(u, bins=bins, range=(0.0, 1.0))[0]
    result = stats.chisquare(counts)
    return Check("chi_square", float(result.statistic), float(bins - 1), float(result.pvalue))


def serial_correlation_check(samples):
    x = _as_float64(samples)
    c = x - x.mean()
    denominator = float(np.dot(c, c))
    r = float(np.dot(c[:-1], c[1:])) / denominator if denominator else 0.0
    return Check("serial_correlation", r, 0.0, _two_sided(r * math.sqrt(x.size)))


def bit_frequency_check(words):
    """The share of ones at each bit position of uint32 ``words``: the worst position's
    deviation from 1/2 (observed: its share), Sidak-corrected for 32 positions."""
    words = np.asarray(words, dtype=np.uint32).reshape(-1)
    ones = np.array([np.count_nonzero(words & np.uint32(1 << j)) for j in range(WORD_BITS)])
    n = words.size
    z = (ones - n / 2) / math.sqrt(n / 4)
    worst = int(np.argmax(np.abs(z)))
    p = -math.expm1(WORD_BITS * math.log1p(-_two_sided(z[worst])))  # 1 - (1 - p)^32
    return Check("bit_frequency", float(ones[worst] / n), 0.5, min(max(p, 0.0), 1.0))


def quick_battery(samples, dist, rng=None):
    """Every check that applies to ``samples`` (a 1-D sample, ~10^5-10^6 draws; any
    fastinit dtype) of ``dist``: ``{name: Check}``, in the order of the module docstring.
    ``rng`` randomizes the probability transform (default: numpy's generator, seed 0)."""
    samples = np.asarray(samples).reshape(-1)
    checks = moment_checks(samples, dist)
    u = probability_transform(samples, dist, rng)
    checks["ks"] = ks_check(u)
    checks["chi_square"] = chi_square_check(u)
    checks["serial_correlation"] = serial_correlation_check(samples)
    if isinstance(dist, Raw):
        checks["bit_frequency"] = bit_frequency_check(samples)
    return checks


def failures(checks, alpha=ALPHA):
    """The checks at or below ``alpha``, as readable lines (empty when all pass)."""
    return [f"{c.name}: observed {c.observed:.6g}, expected {c.expected:.6g}, p = {c.p_value:.3g}"
            for c in checks.values() if not c.passed(alpha)]
