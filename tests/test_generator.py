"""Generator: the stream's addressing, its reproducibility guarantees, and the
distributions it draws, checked against scipy."""

import re
import threading

import ml_dtypes
import numba
import numpy as np
import pytest
import scipy.stats

import fastinit
from fastinit import Generator, Integers, Normal, TruncatedNormal, Uniform, generator
from fastinit._constants import RETRY_KEY_STEP
from fastinit.generator import get_default_generator, resolve

from conftest import OTHER_POISON, poisoned


def _blocks(seed, stream, first, count):
    """Philox blocks [first, first + count) of (seed, stream), cuRAND's addressing:
    counter = (low32(block), high32(block), low32(stream), high32(stream)),
    key = (low32(seed), high32(seed))."""
    b = np.arange(first, first + count, dtype=np.uint64)
    ctr = np.stack([b & 0xFFFFFFFF, b >> 32, np.full_like(b, stream & 0xFFFFFFFF),
                    np.full_like(b, stream >> 32)], axis=-1).astype(np.uint32)
    key = np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32)
    return fastinit.philox4x32(ctr, key).reshape(-1)


@pytest.mark.parametrize("seed, stream", [(0, 0), (42, 7), (2**64 - 1, 2**63 + 5)])
def test_raw_stream_is_curand_addressing(seed, stream):
    g = Generator(seed, stream)
    assert (g.random_raw(1000) == _blocks(seed, stream, 0, 250)).all()
    assert g.offset == 250


def test_successive_calls_never_reuse_values():
    g = Generator(1)
    first, second = g.random_raw(6), g.random_raw(6)
    assert (first == _blocks(1, 0, 0, 2)[:6]).all()
    assert (second == _blocks(1, 0, 2, 2)[:6]).all()  # starts at the next fresh block
    a, b = g.normal(size=100, dtype="float32"), g.normal(size=100, dtype="float32")
    assert not np.intersect1d(a, b).size


def test_same_seed_same_numbers_different_streams_differ():
    a = Generator(5, 0).normal(size=1000)
    assert (a == Generator(5, 0).normal(size=1000)).all()
    assert not np.isin(a, Generator(5, 1).normal(size=1000)).any()
    assert not np.isin(a, Generator(6, 0).normal(size=1000)).any()


def test_counter_crosses_32_bits():
    g = Generator(3)
    g._block = 2**32 - 2
    words = g.random_raw(16)
    assert (words == _blocks(3, 0, 2**32 - 2, 4)).all()


DISTS = [Uniform(-1, 1), Normal(0.1, 2.0), TruncatedNormal(0, 1, -2, 2), fastinit.Bernoulli(0.3)]


@pytest.mark.parametrize("dist", DISTS, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_any_shard_equals_the_same_slice_of_the_whole(dist, dtype):
    n = 3 * 4096 + 123
    full = Generator(11)
    whole = full.fill(poisoned(n, dtype), dist)
    for a, b in [(0, 5), (1, 4097), (4095, 9000), (n - 7, n), (4096, 8192), (13, 13)]:
        g = Generator(11)
        part = g.fill(poisoned(b - a, dtype, OTHER_POISON), dist, start=a, numel=n)
        assert part.tobytes() == whole[a:b].tobytes()
        assert g.offset == full.offset  # a shard advances past the whole tensor


def test_shard_bounds_are_checked():
    with pytest.raises(ValueError, match="not inside"):
        Generator(0).fill(np.empty(10, np.float32), Normal(), start=5, numel=12)


@pytest.mark.parametrize("dist", DISTS, ids=lambda d: type(d).__name__)
def test_thread_count_does_not_change_values(dist):
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = Generator(9).fill(poisoned(50_000, np.float32), dist)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = Generator(9).fill(poisoned(50_000, np.float32, OTHER_POISON), dist)
    finally:
        numba.set_num_threads(before)
    assert one.tobytes() == many.tobytes()


def test_default_generator_and_manual_seed():
    fastinit.manual_seed(123)
    a = fastinit.get_default_generator().normal(size=10)
    fastinit.manual_seed(123)
    assert (fastinit.get_default_generator().normal(size=10) == a).all()
    assert (Generator(123).normal(size=10) == a).all()


# --- resolve: the generator a call uses (docs/stream.md, section 6) ------------------

def test_resolve_seeds_and_fastinit_generators_are_as_given():
    gen = Generator(3, 2)
    assert resolve(gen) is gen
    assert (resolve(seed=9).seed, resolve(seed=9).offset) == (9, 0)
    assert resolve(None, None, np.empty(3)) is fastinit.get_default_generator()
    with pytest.raises(ValueError, match="either seed or generator"):
        resolve(gen, 9)
    with pytest.raises(TypeError, match="fastinit.Generator or a torch.Generator, got int"):
        resolve(5)


def test_resolve_keys_a_fresh_generator_from_one_torch_draw(torch_draw):
    torch = pytest.importorskip("torch")
    gen, twin = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    resolved = resolve(gen)
    assert (resolved.seed, resolved.stream, resolved.offset) == (torch_draw(twin), 0, 0)
    assert torch.equal(gen.get_state(), twin.get_state())
    torch.manual_seed(11)
    assert resolve(None, None, torch.empty(3)).seed == resolved.seed
    with pytest.raises(ValueError, match="either seed or generator"):
        resolve(gen, 9)


def test_keys_are_drawn_on_the_generators_device_else_the_destinations(monkeypatch,
                                                                           torch_draw):
    """Where no GPU is, a generator that says it is on cuda:1 shows where the key is
    drawn: a generator's on its own device, the default on the destination's device
    (torch then uses that device's default generator). A meta tensor, which no fill
    takes, draws no key: it gets the default generator and then the fill's error."""
    torch = pytest.importorskip("torch")

    class CudaLikeGenerator(torch.Generator):
        device = torch.device("cuda", 1)

    cuda_like = CudaLikeGenerator()
    cuda_like.manual_seed(4)
    key = torch_draw(torch.Generator().manual_seed(4))
    devices = []

    def recording_word(device):
        devices.append(str(device))
        return torch.empty((), dtype=torch.int64), None  # drawn on the CPU after all

    monkeypatch.setattr(generator, "_key_word", recording_word)
    assert resolve(cuda_like).seed == key
    assert resolve(None, None, torch.empty(2, device="meta")) is get_default_generator()
    resolve(None, None, torch.empty(2))
    resolve(torch.Generator())
    assert devices == ["cuda:1", "cpu", "cpu"]


def test_keys_are_drawn_into_a_word_kept_per_thread_and_device(monkeypatch, torch_draw):
    """A thread draws its keys into one int64 tensor per device, made outside inference
    mode, so that a first key drawn in it does not stop later ones; every key is still
    the documented draw, and another thread has a word of its own."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(generator, "_key_words", generator._KeyWords())
    with torch.inference_mode():
        torch.manual_seed(3)
        keys = [generator.torch_key()]
    keys.append(generator.torch_key())
    torch.manual_seed(3)
    assert keys == [torch_draw(), torch_draw()]
    assert generator._key_word("cpu") is generator._key_word(torch.device("cpu"))
    words = []
    other = threading.Thread(target=lambda: words.append(generator._key_word("cpu")))
    other.start()
    other.join()
    assert words[0] is not generator._key_word("cpu")


def test_numpy_style_methods():
    g = Generator(0)
    assert isinstance(g.random(), float) or np.ndim(g.random()) == 0
    assert g.random((2, 3)).shape == (2, 3)
    assert g.uniform(2, 3, size=5, dtype=np.float32).dtype == np.float32
    assert g.standard_normal(4, dtype="bfloat16").dtype == ml_dtypes.bfloat16
    assert g.bernoulli(0.5, size=7).dtype == np.bool_
    out = np.empty(9, np.float16)
    assert g.normal(out=out) is out
    t = g.truncated_normal(-1, 1, loc=10, scale=2, size=10_000)
    assert t.min() >= 8 and t.max() <= 12
    with pytest.raises(ValueError, match="size"):
        g.normal(size=3, out=np.empty(4))
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match="seed"):
            Generator(bad)
    with pytest.raises(TypeError, match="seed"):
        Generator(1.5)


# --- distributions, against scipy --------------------------------------------------

N = 200_000
FLOAT_DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
ID = {np.float16: "f16", ml_dtypes.bfloat16: "bf16", np.float32: "f32", np.float64: "f64"}


def _sample(dist, dtype, seed=2026, n=N):
    return Generator(seed).fill(np.empty(n, dtype), dist).astype(np.float64)


def _ks_ok(x, cdf, dtype):
    # 16-bit outputs are rounded: compare against the CDF at the rounding midpoints.
    if np.dtype(dtype).itemsize == 2:
        x = x + scipy.stats.uniform(-0.5, 1).rvs(x.size, random_state=1) * np.spacing(
            np.abs(x).astype(dtype)).astype(np.float64)
    return scipy.stats.kstest(x, cdf).pvalue > 1e-4


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=ID.get)
def test_uniform_ks_and_never_high(dtype):
    x = _sample(Uniform(-2, 3), dtype)
    assert x.min() >= -2 and x.max() < 3
    assert _ks_ok(x, scipy.stats.uniform(-2, 5).cdf, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=ID.get)
def test_normal_ks_and_moments(dtype):
    x = _sample(Normal(1.0, 3.0), dtype)
    assert _ks_ok(x, scipy.stats.norm(1, 3).cdf, dtype)
    assert abs(x.mean() - 1) < 5 * 3 / np.sqrt(N)
    assert abs(scipy.stats.kurtosis(x, fisher=False) - 3) < 0.05


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=ID.get)
@pytest.mark.parametrize("a, b", [(-2, 2), (-0.1, 0.1), (3, 10), (-10, -3), (-1e3, 1e3),
                                  (0, np.inf), (-np.inf, -35), (5.5, 5.6)])
def test_truncated_normal_ks_against_scipy(dtype, a, b):
    x = _sample(TruncatedNormal(0, 1, a, b), dtype)
    assert x.min() >= a and x.max() <= b
    reference = scipy.stats.truncnorm(a, b)
    assert _ks_ok(x, reference.cdf, dtype)
    assert x.mean() == pytest.approx(reference.mean(), abs=5 * reference.std() / np.sqrt(N))
    assert x.std() == pytest.approx(reference.std(), rel=0.02)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16], ids=ID.get)
@pytest.mark.parametrize("dist", [Normal(0.5, 3.0), TruncatedNormal(0, 1, -2, 2),
                                  TruncatedNormal(0, 1, 3, 10), TruncatedNormal(1, 2, -np.inf, -60)],
                         ids=repr)
def test_16_bit_values_are_the_float32_values_rounded(dtype, dist):
    """16-bit normals and truncated normals use the float32 rule, then round to
    nearest even (docs/stream.md); bounds then clamp to the nearest 16-bit value inside."""
    x16 = Generator(8).fill(poisoned(N, dtype), dist)
    x32 = Generator(8).fill(poisoned(N, np.float32, OTHER_POISON), dist)
    rounded = x32.astype(dtype)
    if isinstance(dist, TruncatedNormal):
        assert x16.astype(np.float64).min() >= dist.a and x16.astype(np.float64).max() <= dist.b
        inside = (rounded.astype(np.float64) >= dist.a) & (rounded.astype(np.float64) <= dist.b)
        assert inside.mean() > 0.9
    else:
        inside = np.ones(N, bool)
    assert x16[inside].tobytes() == rounded[inside].tobytes()


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16], ids=ID.get)
def test_truncated_normal_small_std_wide_bounds(dtype):
    """torch's trunc_normal_ failed here: std=0.002 with bounds at +-2 (+-1000 sigma)."""
    x = _sample(TruncatedNormal(0.0, 0.002, -2.0, 2.0), dtype, n=1_000_000)
    assert abs(x.std() / 0.002 - 1) < 0.01
    assert abs(scipy.stats.kurtosis(x, fisher=False) - 3) < 0.05
    assert np.abs(x).max() < 6.5 * 0.002  # no outliers: the largest of 1e6 normals
    assert _ks_ok(x, scipy.stats.norm(0, 0.002).cdf, dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=ID.get)
@pytest.mark.parametrize("mean, std, a, b", [(0.0, 0.02, -2.0, 2.0), (0.0, 0.002, -2.0, 2.0),
                                             (1000.0, 1e-3, 999.0, 1001.0), (0.0, 1.0, -9.0, 9.0)])
def test_truncated_normal_wider_than_the_normal_rule_is_that_normal(dtype, mean, std, a, b):
    """Bounds beyond every value the Box-Muller rule can give (timm's
    trunc_normal_(std=0.02) with a, b = -2, 2 is +-100 sigma) truncate nothing: the
    values are the normal rule's, bit for bit, and the stream advances alike."""
    g, h = Generator(3), Generator(3)
    got = g.fill(poisoned(4099, dtype), TruncatedNormal(mean, std, a, b))
    expected = h.fill(poisoned(4099, dtype, OTHER_POISON), Normal(mean, std))
    assert got.tobytes() == expected.tobytes() and g.offset == h.offset
    assert a <= got.astype(np.float64).min() and got.astype(np.float64).max() <= b


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=ID.get)
def test_truncated_normal_inside_the_normal_rules_range_truncates(dtype):
    """Bounds just inside the Box-Muller range, or whose rounding to the dtype falls
    inside it, keep the inverse CDF: no value may leave [a, b]."""
    bound = fastinit.distributions.NORMAL_BOUND[np.dtype(dtype) == np.float64]
    for a, b in [(-bound * 0.999, 6.0), (-6.0, bound * 0.999)]:
        dist = TruncatedNormal(0.0, 1.0, a, b)
        assert fastinit.distributions.rule_for(dist, np.dtype(dtype).name).name.startswith("truncnorm")
        x = _sample(dist, dtype, n=50_000)
        assert x.min() >= a and x.max() <= b


def test_truncated_normal_bounds_hold_after_rounding():
    for dtype in FLOAT_DTYPES:
        x = _sample(TruncatedNormal(0.0, 1.0, -0.1, 0.1), dtype, n=50_000)
        assert x.min() >= -0.1 and x.max() <= 0.1, dtype


def test_truncated_normal_beyond_float64_mass_is_an_error():
    with pytest.raises(ValueError, match="standard deviations"):
        Generator(0).fill(np.empty(4), TruncatedNormal(0, 1, 50, 60))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.float32, ml_dtypes.bfloat16])
def test_bernoulli_rate(dtype):
    x = Generator(4).fill(np.empty(N, dtype), fastinit.Bernoulli(0.1)).astype(np.float64)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert abs(x.mean() - 0.1) < 5 * np.sqrt(0.09 / N)
    assert Generator(4).bernoulli(0.0, size=1000).sum() == 0
    assert Generator(4).bernoulli(1.0, size=1000).all()


# --- bounded integers (docs/stream.md) ---------------------------------------------

STEP = RETRY_KEY_STEP


@pytest.mark.parametrize("dtype, dist", [(np.int8, Integers(-3, 7)), (np.uint16, Integers(0, 9)),
                                         (np.int64, Integers(10**12, 10**12 + 4))],
                         ids=lambda x: getattr(x, "__name__", repr(x)))
def test_integers_take_every_value_of_the_range_equally_often(dtype, dist):
    x = Generator(3).fill(np.empty(N, dtype), dist).astype(np.int64) - dist.low
    assert x.min() == 0 and x.max() == dist.high - dist.low
    assert scipy.stats.chisquare(np.bincount(x)).pvalue > 1e-4


@pytest.mark.parametrize("dtype, dist", [(np.uint32, Integers(0, 3 * 2**30 - 1)),
                                         (np.uint64, Integers(0, 3 * 2**62 - 1))],
                         ids=["32-bit", "64-bit"])
def test_integers_are_exact_where_multiply_shift_alone_is_biased(dtype, dist):
    """3 * 2**30 values from 32-bit words (3 * 2**62 from 64-bit tries): multiply-shift
    alone maps the words of each four onto k = 3m, 3m, 3m + 1, 3m + 2, so k % 3 == 0 half
    of the time. Rejecting a quarter of the tries makes each residue a third."""
    x = Generator(6).fill(np.empty(N, dtype), dist)
    counts = np.bincount((x % dtype(3)).astype(np.int64), minlength=3)
    assert scipy.stats.chisquare(counts).pvalue > 1e-4


def test_a_rejected_try_is_redrawn_from_the_retry_blocks():
    """Lane q of block b tries word q; rejected, it tries word q of block b XOR 2**63 under
    the key seed, then seed + RETRY_KEY_STEP, ... (mod 2**64) until one is accepted."""
    span = 2**31  # Integers(0, 2**31): 2**31 + 1 values, about half of the tries rejected
    reject = 2**32 % (span + 1)
    x = Generator(5, 9).integers(0, span, size=400, dtype=np.uint32, endpoint=True)
    words = _blocks(5, 9, 0, 100).reshape(100, 4)
    retried = 0
    for i, value in enumerate(x):
        b, q = divmod(i, 4)
        w, key = int(words[b, q]), 5
        while w * (span + 1) % 2**32 < reject:
            w = int(_blocks(key, 9, b ^ 2**63, 1)[q])
            key = (key + STEP) % 2**64
            retried += 1
        assert value == w * (span + 1) >> 32, i
    assert retried > 300  # rounds after the first too: some lanes were rejected twice


@pytest.mark.parametrize("dtype, dist", [(np.int8, Integers(-100, 100)),
                                         (np.uint32, Integers(0, 2**31)),
                                         (np.int64, Integers(-2**63, 2**62))],
                         ids=["int8", "uint32-half-rejected", "int64-wide"])
def test_integer_shards_and_threads_change_no_value(dtype, dist):
    n = 3 * 4096 + 123
    whole = Generator(11).fill(poisoned(n, dtype), dist)
    for a, b in [(0, 5), (1, 4097), (4095, 9000), (n - 7, n)]:
        part = Generator(11).fill(poisoned(b - a, dtype, OTHER_POISON), dist, start=a, numel=n)
        assert part.tobytes() == whole[a:b].tobytes()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = Generator(11).fill(poisoned(n, dtype, OTHER_POISON), dist)
        assert one.tobytes() == whole.tobytes()
    finally:
        numba.set_num_threads(before)


def test_integer_fills_stay_below_block_2_to_the_63():
    g = Generator(1)
    g._block = 2**63 - 2
    out = poisoned(8, np.int32)
    assert (g.fill(out, Integers(0, 9)) <= 9).all()  # blocks 2**63 - 2 and 2**63 - 1
    with pytest.raises(ValueError, match="below Philox block 2\\*\\*63"):
        g.fill(np.zeros(1, np.int32), Integers(0, 9))
    assert g.offset == 2**63
    g.fill(np.zeros(1, np.float32), Uniform())  # other rules do not retry


def test_integers_method_is_numpys():
    g, rng = Generator(0), np.random.default_rng(0)
    for args, kwargs in [((5,), {}), ((5,), {"endpoint": True}), ((0,), {"endpoint": True}),
                         ((-3, 7), {"size": (2, 3), "dtype": np.int8}),
                         ((0, 2), {"size": 4, "dtype": bool}),
                         ((0, 2**64), {"size": 5, "dtype": np.uint64}),
                         ((-2**63, 2**63 - 1), {"size": 5, "endpoint": True}),
                         ((1.5, "10"), {"size": [3]}), ((0, 10), {"size": (2, 0)})]:
        ours, theirs = g.integers(*args, **kwargs), rng.integers(*args, **kwargs)
        assert type(ours) is type(theirs) and np.shape(ours) == np.shape(theirs), (args, kwargs)
        assert np.asarray(ours).dtype == np.asarray(theirs).dtype
    low, high = -3, 7
    x = g.integers(low, high, size=10_000, dtype=np.int16)
    assert x.min() == low and x.max() == high - 1
    assert g.integers(low, high, size=10_000, endpoint=True).max() == high


BAD_INTEGERS = [((5, 5), {}), ((5, 4), {"endpoint": True}), ((0,), {}), ((-1,), {"endpoint": True}),
                ((-1, 10), {"dtype": np.uint8}), ((0, 257), {"dtype": np.uint8}),
                ((0, 256), {"dtype": np.uint8, "endpoint": True}), ((300, 5), {"dtype": np.uint8}),
                ((0, 3), {"dtype": bool}), ((0, 2**64), {}), ((-2**63 - 1, 0), {}),
                ((0, 10), {"dtype": np.float32}), ((0, 10), {"dtype": "float"}),
                ((0, 10), {"dtype": "foo"}), ((0, 10), {"size": -1}), ((0, 10), {"size": 2.5}),
                ((0, np.nan), {}), ((None,), {})]


@pytest.mark.parametrize("args, kwargs", BAD_INTEGERS, ids=lambda x: repr(x))
def test_integers_reject_what_numpy_rejects_in_its_words(args, kwargs):
    with pytest.raises(Exception) as theirs:
        np.random.default_rng(0).integers(*args, **kwargs)
    g = Generator(0)
    with pytest.raises(type(theirs.value), match=f"^{re.escape(str(theirs.value))}$"):
        g.integers(*args, **kwargs)
    assert g.offset == 0


def test_integers_write_nothing_on_bad_bounds_and_take_no_arrays():
    g, out = Generator(0), np.full(4, 7, np.int8)
    with pytest.raises(ValueError, match="high is out of bounds for int8"):
        g.integers(0, 1000, out=out)
    with pytest.raises(TypeError, match="must be a scalar"):
        g.integers(np.array([1, 2]), 10, out=out)
    assert (out == 7).all() and g.offset == 0
    assert g.integers(0, 100, out=out) is out and g.offset == 1
