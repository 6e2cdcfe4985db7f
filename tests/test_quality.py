"""The quick battery (fastinit.quality): every distribution and dtype fastinit draws passes
it at fixed seeds, and it fails samples with known flaws."""

import math

import numpy as np
import pytest

from fastinit import Bernoulli, Generator, Normal, Raw, TruncatedNormal, Uniform, quality
from fastinit.generator import numpy_dtype

N = 2**20  # draws per case
SEED, STREAM = 20261203, 11
FLOATS = ("float16", "bfloat16", "float32", "float64")

CASES = [
    *[(Uniform(0.0, 1.0), dtype) for dtype in FLOATS],
    (Uniform(-3.0, 5.0), "float32"),
    *[(Normal(0.0, 1.0), dtype) for dtype in FLOATS],
    (Normal(2.0, 0.5), "bfloat16"),
    *[(TruncatedNormal(0.0, 1.0, -2.0, 2.0), dtype) for dtype in FLOATS],
    (TruncatedNormal(1.0, 2.0, 0.0, 6.0), "float32"),  # asymmetric, cut at the mean
    (Bernoulli(0.3), "bool"),
    (Bernoulli(0.9), "float16"),
    (Raw(), "uint32"),
]


def _draw(dist, dtype, seed=SEED, stream=STREAM, n=N):
    return Generator(seed, stream).fill(np.empty(n, numpy_dtype(dtype)), dist)


@pytest.mark.parametrize("dist, dtype", CASES, ids=[f"{d}-{t}" for d, t in CASES])
def test_fastinit_draws_pass_the_quick_battery(dist, dtype):
    checks = quality.quick_battery(_draw(dist, dtype), dist)
    expected = ["mean", "variance", "skewness", "kurtosis", "ks", "chi_square",
                "serial_correlation"] + (["bit_frequency"] if dist == Raw() else [])
    assert list(checks) == expected
    assert quality.failures(checks) == []


def test_a_second_seed_and_stream_pass_too():
    for dist, dtype in [(Normal(), "float32"), (Raw(), "uint32")]:
        checks = quality.quick_battery(_draw(dist, dtype, seed=1, stream=2**63 + 1), dist)
        assert quality.failures(checks) == []


def test_standard_errors_of_a_normal_are_the_textbook_ones():
    se = quality.standard_errors(Normal(3.0, 2.0), 10_000)  # in units of the std
    expected = {"mean": 1, "variance": math.sqrt(2), "skewness": math.sqrt(6),
                "kurtosis": math.sqrt(24)}
    assert se == pytest.approx({k: v / 100 for k, v in expected.items()}, rel=1e-6)


def test_standard_errors_of_a_uniform():
    # Var(s^2) = (mu4 - sigma^4) / n = (9/5 - 1) / n for a standardized uniform.
    se = quality.standard_errors(Uniform(-1.0, 1.0), 1)
    assert se["variance"] == pytest.approx(math.sqrt(0.8), rel=1e-9)
    assert quality.standardized_moments(Uniform(-1.0, 1.0))[2][4] == pytest.approx(1.8)


def test_sixteen_bit_rounding_is_not_mistaken_for_a_flaw():
    # A bfloat16 uniform holds 2^-8-wide steps near 1: against the continuous CDF the KS
    # distance is about a step; the rounding-aware transform passes it.
    from scipy import stats

    x = _draw(Uniform(0.0, 1.0), "bfloat16")
    assert stats.kstest(x.astype(np.float64), "uniform").pvalue < 1e-4
    assert quality.quick_battery(x, Uniform(0.0, 1.0))["ks"].passed()


# --- the battery catches what it should ---------------------------------------------------

def _hole(r):
    """Uniform, with [0.5, 0.51) moved to [0, 0.01)."""
    u = r.random(N)
    return np.where((u >= 0.5) & (u < 0.51), u - 0.5, u)


def _sticky_bit(r):
    """Words with bit 13 forced on in 2% of them: 51% ones there."""
    words = r.integers(0, 2**32, N, dtype=np.uint32)
    return words | np.where(r.random(N) < 0.02, 1 << 13, 0).astype(np.uint32)


FLAWS = [  # name, samples from numpy's generator, what they claim to be, the checks that fail
    ("mean off by 0.01 std", lambda r: r.normal(0.01, 1.0, N), Normal(), {"mean"}),
    ("std 2% too large", lambda r: r.normal(0.0, 1.02, N), Normal(), {"variance", "ks"}),
    ("heavy tails: Student t, 30 dof", lambda r: r.standard_t(30, N) * math.sqrt(28 / 30),
     Normal(), {"kurtosis"}),
    ("skewed: a standardized gamma(400)", lambda r: (r.gamma(400.0, 1.0, N) - 400.0) / 20.0,
     Normal(), {"skewness"}),
    ("a hole in [0.5, 0.51)", _hole, Uniform(), {"ks", "chi_square"}),
    ("AR(1) with rho = 0.01", lambda r: (lambda e: e + 0.01 * np.roll(e, 1))(r.normal(size=N)),
     Normal(), {"serial_correlation"}),
    ("bit 13 set in 51% of words", _sticky_bit, Raw(), {"bit_frequency"}),
    ("p = 0.305 for 0.3", lambda r: r.random(N) < 0.305, Bernoulli(0.3), {"mean"}),
]


@pytest.mark.parametrize("name, draw, dist, failing", FLAWS, ids=[f[0] for f in FLAWS])
def test_the_battery_fails_flawed_samples(name, draw, dist, failing):
    checks = quality.quick_battery(draw(np.random.default_rng(7)), dist)
    assert failing <= {c.name for c in checks.values() if not c.passed()}, \
        quality.failures(checks)


@pytest.mark.parametrize("draw, dist", [
    (lambda r: r.normal(size=N), Normal()),
    (lambda r: r.random(N), Uniform()),
    (lambda r: r.integers(0, 2**32, N, dtype=np.uint32), Raw()),
], ids=["normal", "uniform", "raw"])
def test_numpys_generator_passes(draw, dist):
    assert quality.failures(quality.quick_battery(draw(np.random.default_rng(7)), dist)) == []


def test_failures_say_what_was_observed_and_expected():
    checks = quality.quick_battery(np.full(1000, 0.25), Uniform())
    lines = quality.failures(checks)
    assert any(line.startswith("mean: observed -0.866025, expected 0") for line in lines)
    assert all("p = " in line for line in lines)
