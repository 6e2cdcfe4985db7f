"""The scalar building blocks of fastinit.core: accuracy and interval contracts."""

import ml_dtypes
import numpy as np
import pytest
import scipy.special
from numba import njit

from fastinit import core


def _map1(f, x, out):
    """out[i] = f(x[i]), with ``f`` compiled as kernels compile it (a device function)."""

    @njit
    def loop(x, out):
        for i in range(x.size):
            out[i] = f(x[i])

    loop(x, out)


def _map_pair(f, x, out0, out1):
    @njit
    def loop(x, out0, out1):
        for i in range(x.size):
            out0[i], out1[i] = f(x[i])

    loop(x, out0, out1)


def _ulps(got, want, ftype):
    spacing = np.spacing(np.abs(want).astype(ftype)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


RNG = np.random.default_rng(2024)


def test_log32_within_one_ulp_on_every_box_muller_input_scale():
    k = np.concatenate([RNG.integers(1, 2**24 + 1, 200_000), [1, 2, 3, 2**23, 2**24 - 1, 2**24]])
    x = (k * 2.0**-24).astype(np.float32)
    out = np.empty_like(x)
    _map1(core.log32, x, out)
    assert _ulps(out, np.log(x.astype(np.float64)), np.float32).max() <= 1.0
    assert out[-1] == 0.0


def test_log64_within_one_ulp_including_subnormals():
    x = np.concatenate([RNG.random(200_000), 10.0 ** -RNG.uniform(0, 307, 10_000),
                        [5e-324, 1e-310, 2.2250738585072014e-308, 0.5, 1.0]])
    out = np.empty_like(x)
    _map1(core.log64, x, out)
    assert _ulps(out, np.log(x), np.float64).max() <= 1.0


def test_sincos_of_turns_float32():
    k = np.concatenate([RNG.integers(0, 2**24, 200_000), np.arange(0, 2**24, 2**21)]).astype(np.uint64)
    s, c = np.empty(k.size, np.float32), np.empty(k.size, np.float32)
    _map_pair(core.sincos_turn24, k, s, c)
    angle = 2 * np.pi * k / 2**24
    assert np.abs(s - np.sin(angle)).max() < 2e-7
    assert np.abs(c - np.cos(angle)).max() < 2e-7
    assert np.all(s**2 + c**2 <= 1 + 1e-6)


def test_sincos_of_turns_float64():
    k = RNG.integers(0, 2**53, 200_000, dtype=np.uint64)
    s, c = np.empty(k.size), np.empty(k.size)
    _map_pair(core.sincos_turn53, k, s, c)
    angle = 2 * np.pi * (k / 2**53)
    assert np.abs(s - np.sin(angle)).max() < 2e-15
    assert np.abs(c - np.cos(angle)).max() < 2e-15


def test_ndtri_lower_matches_scipy_to_1e15_relative():
    p = np.concatenate([RNG.random(200_000) * 0.5, 10.0 ** -RNG.uniform(0.4, 307, 50_000),
                        [0.5, 0.075, 1e-300, 5e-324]])
    out = np.empty_like(p)
    _map1(core.ndtri_lower, p, out)
    want = scipy.special.ndtri(p)
    far = np.abs(want) > 1e-3
    assert (np.abs(out[far] - want[far]) / np.abs(want[far])).max() < 1e-14
    assert np.abs(out[~far] - want[~far]).max() < 1e-16
    assert np.all(out <= 0)


def test_ndtri_lower32_within_4_5e7_relative_of_scipy():
    """PPND7 in float32 with fastinit's band (the truncated normal of 32-bit outputs):
    relative error below 4.5e-7, about 7 float32 ulps, from the median to subnormal p
    (PPND7's central branch reaches 4.2e-7 near p = 0.37); and -log p within 2.5 float32
    ulps."""
    p = np.concatenate([RNG.random(400_000) * 0.5, 10.0 ** -RNG.uniform(0.4, 323, 100_000),
                        np.linspace(0.369, 0.3705, 100_001),
                        [0.5, 0.5 - 2.0**-40, 0.075, 0.02, np.exp(-25.0), 1e-300, 5e-324]])
    out = np.empty(p.size, np.float32)
    _map1(core.ndtri_lower32, p, out)
    want = scipy.special.ndtri(p)
    nonzero = want != 0
    assert (np.abs(out[nonzero] - want[nonzero]) / -want[nonzero]).max() < 4.5e-7
    assert np.all(out <= 0) and out[p == 0.5] == 0
    _map1(core.neglog32, p, out)
    assert _ulps(out, -np.log(p), np.float32).max() <= 2.5


def test_box_muller_never_takes_log_of_zero():
    z = np.array([core.box_muller32(np.uint64(w), np.uint64(0)) for w in (0, 0xFF, 0xFFFFFFFF)])
    assert np.all(np.isfinite(z))
    assert z[0, 1] == 0.0 and abs(z[0, 0]) == pytest.approx(np.sqrt(2 * 24 * np.log(2)), rel=1e-6)
    assert z[2, 0] == 0.0  # u1 = 1: radius 0
    z64 = core.box_muller64(np.uint64(0), np.uint64(0), np.uint64(0), np.uint64(0))
    assert abs(z64[0]) == pytest.approx(np.sqrt(2 * 53 * np.log(2)), rel=1e-12)


def test_uniform_words_stay_inside_their_intervals():
    top = np.uint64(0xFFFFFFFF)
    assert core.u01_24(top) == np.float32(1 - 2.0**-24)
    assert core.u01_16(np.uint64(0xFFFF)) == np.float32(1 - 2.0**-16)
    assert core.u01_53(top, top) == 1 - 2.0**-53
    assert core.u01_53(np.uint64(0), np.uint64(0)) == 0.0
    assert 0.0 < core.u01_open32(np.uint64(0)) and core.u01_open32(top) < 1.0
    assert core.u01_open53(np.uint64(0), np.uint64(0)) == 2.0**-53
    assert core.u01_open53(top, top) == 1 - 2.0**-53


def test_u01_53_equals_its_integer_over_2_to_53():
    wa = RNG.integers(0, 2**32, 10_000, dtype=np.uint64)
    wb = RNG.integers(0, 2**32, 10_000, dtype=np.uint64)
    k = (wa << np.uint64(21)) | (wb >> np.uint64(11))
    got = np.array([core.u01_53(a, b) for a, b in zip(wa, wb)])
    assert (got == k.astype(np.float64) * 2.0**-53).all()


FLOATS = np.concatenate([
    RNG.standard_normal(100_000).astype(np.float32) * np.float32(1000),
    RNG.standard_normal(100_000).astype(np.float32) * np.float32(1e-6),
    np.array([0.0, -0.0, 65504, 65519.996, 65520, 1e9, -1e9, 6e-8, 3e-8, 2.9e-8,
              3.3895314e38, -3.4028235e38, 1e-40], np.float32),
])


def test_bf16_rounding_matches_ml_dtypes():
    out = np.empty(FLOATS.size, np.uint16)
    _map1(core.bf16_bits, FLOATS, out)
    assert (out == FLOATS.astype(ml_dtypes.bfloat16).view(np.uint16)).all()


def test_f16_rounding_matches_numpy():
    out = np.empty(FLOATS.size, np.uint16)
    _map1(core.f16_bits, FLOATS, out)
    with np.errstate(over="ignore"):
        want = FLOATS.astype(np.float16).view(np.uint16)
    assert (out == want).all()


def test_truncnorm_std_covers_both_tails_with_full_precision():
    alpha, beta = 3.0, 10.0  # one-sided far tail
    pa, qb = scipy.special.ndtr(alpha), scipy.special.ndtr(-beta)
    mass = scipy.special.ndtr(-alpha) - qb
    u = np.array([1e-12, 0.5, 1 - 1e-12])
    z = np.array([core.truncnorm_std(x, pa, qb, mass) for x in u])
    assert np.all((alpha <= z) & (z <= beta))
    assert z[0] == pytest.approx(alpha, abs=1e-9)
    median = -scipy.special.ndtri(qb + 0.5 * mass)
    assert z[1] == pytest.approx(median, rel=1e-14)


def test_the_band_is_within_1_5e7_of_scipy_at_every_float32_q():
    """fastinit's band between PPND7's central branch and its tails: every float32
    q = p - 1/2 in [-0.48, -0.425) (1.8 million) within 1.5e-7 of ndtri(1/2 + q), exact
    in float64; and where ndtri_lower32 takes it."""
    top, bottom = np.float32(-0.425).view(np.uint32), np.float32(-0.48).view(np.uint32)
    q = np.arange(top + 1, bottom + 1, dtype=np.uint32).view(np.float32)
    out = np.empty(q.size, np.float32)
    _map1(core.ndtri_middle32, q, out)
    want = scipy.special.ndtri(0.5 + q.astype(np.float64))
    assert (np.abs(out - want) / -want).max() < 1.5e-7
    p = 0.5 + q[::1000].astype(np.float64)
    through = np.empty(p.size, np.float32)
    _map1(core.ndtri_lower32, p, through)
    np.testing.assert_array_equal(through, out[::1000])


# --- the CPU's truncnorm32 by branch set ------------------------------------------------


def _ndtri_map(fn):
    """``fn`` over a float64 array, compiled (as the CPU kernel runs it)."""

    @njit
    def apply(ps, out):
        for i in range(ps.size):
            out[i] = fn(ps[i])

    def run(ps):
        out = np.empty(ps.size, np.float32)
        apply(ps, out)
        return out

    return run


def _branch_probabilities():
    """float64 probabilities in (0, 1/2] covering each branch of ndtri_lower32 and its
    edges, with the branch it takes for each ("C", "M", "N" or "F")."""
    rng = np.random.default_rng(7)
    ps = [np.exp(-rng.uniform(0.0, 36.0, 20000)) * 0.5,  # every order of magnitude
          rng.uniform(0.0, 0.5, 20000),
          (np.arange(1, 4097, dtype=np.float64) - 0.5) * 2.0**-32]  # the lowest words
    for edge in (0.5 - 0.425, 0.5 - 0.48, np.exp(-25.0)):
        ps.append(edge * (1.0 + np.linspace(-1e-6, 1e-6, 2001)))
    ps = np.concatenate(ps)
    ps = ps[(ps > 0) & (ps <= 0.5)]
    q = np.float32(ps - 0.5)
    s = np.sqrt(np.array([core.neglog32(p) for p in ps], np.float32))
    branch = np.where(q >= -np.float32(0.425), "C", np.where(
        q >= -np.float32(0.48), "M", np.where(s <= np.float32(5.0), "N", "F")))
    return ps, branch


def test_each_branch_set_gives_ndtri_lower32_bit_for_bit_where_its_branches_are_taken():
    ps, branch = _branch_probabilities()
    want = _ndtri_map(core.ndtri_lower32)(ps)
    assert set(branch) == set(core.BRANCHES32)
    assert len(core.NDTRI32_BRANCHES) == 10  # every run of CMNF
    for branches, fn in core.NDTRI32_BRANCHES.items():
        taken = np.isin(branch, list(branches))
        got = _ndtri_map(fn)(ps[taken])
        np.testing.assert_array_equal(got.view(np.uint32), want[taken].view(np.uint32),
                                      err_msg=branches)


@pytest.mark.parametrize("a, b, branches", [
    (-2.0, 2.0, "CM"), (-0.5, 0.5, "C"), (3.0, 6.0, "N"), (7.0, 9.0, "F"), (-9.0, -7.0, "F"),
    (-1.2, 1.2, "C"), (-1.5, 0.0, "CM"), (4.0, 8.0, "NF"), (-9.0, 0.0, "CMN"),
    (-12.0, -1.34, "CMNF"), (-2.05, 2.05, "CM"), (-2.06, 2.06, "CMN"), (1.6, 2.0, "M"),
    (2.0, 2.1, "MN"), (1.6, 9.0, "MNF"),
    (1.43, 1.46, "CM"), (1.44, 1.46, "M")])
def test_the_host_names_every_branch_a_fill_takes(a, b, branches):
    from fastinit.distributions import TruncatedNormal, rule_for

    pa, qb, mass = rule_for(TruncatedNormal(0.0, 1.0, a, b), "float32").params[:3]
    assert core.ndtri32_branches(pa, qb, mass) == branches


def test_the_hull_of_branch_sets_is_the_least_run_holding_them():
    assert core.ndtri32_hull(["C"]) == "C"
    assert core.ndtri32_hull(["C", "F"]) == "CMNF"
    assert core.ndtri32_hull(["N", "F", "NF"]) == "NF"
    assert core.ndtri32_hull(["CM", "C"]) == "CM"
    assert core.ndtri32_hull(["M", "N"]) == "MN"
