"""fastinit.dask: dask.array.random's generator whose values are those of one fill of
the whole array, whatever the chunks, the rechunking or the workers; a graph of seeds
and offsets, no data."""

import io
import pickle
import time

import ml_dtypes
import numpy as np
import pytest

import fastinit

da = pytest.importorskip("dask.array")
fdask = pytest.importorskip("fastinit.dask")

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
METHODS = {  # name: (positional arguments, keyword arguments) of both generators
    "random": ((), {}),
    "uniform": ((-2.0, 3.0), {}),
    "normal": ((0.5, 2.0), {}),
    "standard_normal": ((), {}),
}
# (size, chunks): 1-d to 4-d; uneven chunks; single elements; one chunk; whole rows;
# chunks cutting every dimension
CHUNKINGS = [
    (1000, 333),
    (1000, ((1, 998, 1),)),
    ((37, 41), (10, 7)),
    ((37, 41), ((37,), (1,) * 41)),
    ((37, 41), ((5, 32), (41,))),
    ((6, 7, 9), (4, 3, 5)),
    ((6, 7, 9), ((1, 5), (7,), (2, 2, 5))),
    ((3, 4, 5, 6), (2, 3, 2, 4)),
]


def _bits(a):
    a = np.asarray(a)
    return a.view(f"u{a.itemsize}")


def _whole(method, size, dtype, seed=11):
    args, kwargs = METHODS[method]
    return getattr(fastinit.Generator(seed), method)(*args, size=size, dtype=dtype, **kwargs)


def _chunked(method, size, chunks, dtype, seed=11):
    args, kwargs = METHODS[method]
    rng = fdask.default_rng(seed)
    return getattr(rng, method)(*args, size=size, chunks=chunks, dtype=dtype, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("method", METHODS)
def test_any_chunking_computes_the_whole_arrays_fill(method, dtype):
    for size, chunks in CHUNKINGS:
        x = _chunked(method, size, chunks, dtype)
        assert isinstance(x, da.Array) and x.dtype == np.dtype(dtype)
        want = _whole(method, size, dtype)
        got = x.compute()
        assert type(got) is np.ndarray and got.shape == want.shape
        assert np.array_equal(_bits(got), _bits(want)), (size, chunks)


@pytest.mark.parametrize("rechunk", [(1000, 1), (7, 1000), (999, 999), "auto"], ids=str)
def test_rechunked_slices_and_blocks_are_the_wholes_elements(rechunk):
    x = fdask.default_rng(3).normal(size=(1000, 1000), chunks=(256, 300), dtype=np.float32)
    want = fastinit.Generator(3).normal(size=(1000, 1000), dtype=np.float32)
    y = x.rechunk(rechunk)
    assert np.array_equal(_bits(y.compute()), _bits(want))
    assert np.array_equal(_bits(y[17:503:3, 998:].compute()), _bits(want[17:503:3, 998:]))
    assert np.array_equal(_bits(x.blocks[2, 1].compute()), _bits(want[512:768, 300:600]))


def test_the_default_chunks_and_a_scalar_are_the_wholes_too():
    x = fdask.default_rng(5).random(size=(3000, 3000), dtype=np.float32)
    assert x.chunks == da.random.default_rng(5).random(size=(3000, 3000),
                                                         dtype=np.float32).chunks
    assert np.array_equal(x.compute(), fastinit.Generator(5).random((3000, 3000), np.float32))
    scalar = fdask.default_rng(5).standard_normal()
    assert scalar.shape == () and scalar.compute() == fastinit.Generator(5).standard_normal()
    empty = fdask.default_rng(5).random(size=(0, 4), chunks=2).compute()
    assert empty.shape == (0, 4)


def test_successive_draws_continue_the_stream_as_a_generators_do():
    rng, g = fdask.default_rng(9, stream=4), fastinit.Generator(9, 4)
    for _ in range(2):
        a = rng.uniform(1.0, 2.0, size=(50, 70), chunks=(20, 30), dtype=np.float16)
        b = rng.standard_normal(size=333, chunks=100)
        assert np.array_equal(_bits(a.compute()), _bits(g.uniform(1.0, 2.0, (50, 70),
                                                                   np.float16)))
        assert np.array_equal(b.compute(), g.standard_normal(333))
    assert rng.offset == g.offset and rng.seed == 9 and rng.stream == 4


def test_same_draw_same_keys_next_draw_new_keys():
    """Keys name the draw (rule, seed, stream, position, shape, chunks), so two equal
    generators make equal graphs, which dask computes once."""
    a = fdask.default_rng(1).normal(size=100, chunks=10)
    b = fdask.default_rng(1).normal(size=100, chunks=10)
    rng = fdask.default_rng(1)
    rng.normal(size=100, chunks=10)
    c = rng.normal(size=100, chunks=10)
    assert a.name == b.name != c.name


class _Recorder(pickle.Pickler):
    """A pickler that lists every ndarray it meets."""

    def __init__(self):
        super().__init__(io.BytesIO())
        self.arrays = []

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            self.arrays.append(obj)
        return NotImplemented


def test_the_graph_holds_seeds_and_offsets_and_no_data():
    x = fdask.default_rng(2).normal(size=(4096, 4096), chunks=(1024, 512))
    graph = dict(x.__dask_graph__())
    assert len(graph) == x.npartitions == 32
    recorder = _Recorder()
    recorder.dump(graph)
    assert recorder.arrays == []
    nbytes = len(pickle.dumps(graph))
    assert nbytes < 1000 * len(graph)  # per chunk: the rule, seed, offsets; 32 MiB of values
    assert "fastinit.dask" in pickle.dumps(next(iter(graph.values()))).decode("latin-1")


def test_dask_array_random_values_depend_on_the_chunks_and_ours_do_not():
    size = (600, 400)
    theirs = [da.random.default_rng(7).normal(size=size, chunks=c).compute()
              for c in ((300, 400), (100, 100))]
    ours = [fdask.default_rng(7).normal(size=size, chunks=c).compute()
            for c in ((300, 400), (100, 100))]
    assert not np.array_equal(theirs[0], theirs[1])
    assert np.array_equal(ours[0], ours[1])
    assert ours[0].std() == pytest.approx(1.0, abs=0.01)  # drawn, not left as allocated


@pytest.mark.parametrize("call, error", [
    (lambda rng: rng.random(size=-3), ValueError),
    (lambda rng: rng.normal(size=(3, -1)), ValueError),
    (lambda rng: rng.random(size=(10,), chunks=((3, 3),)), ValueError),
    (lambda rng: rng.random(size=(10, 10), chunks=(5,)), ValueError),
    (lambda rng: rng.uniform(2.0, 1.0, size=10), ValueError),
    (lambda rng: rng.normal(0.0, -1.0, size=10), ValueError),
    (lambda rng: rng.random(size=10, dtype=np.int32), TypeError),
    (lambda rng: rng.standard_normal(size=10, dtype="foo"), TypeError),
], ids=["negative", "negative-2d", "chunks-sum", "chunks-ndim", "low>high", "scale<0",
        "int-dtype", "unknown-dtype"])
def test_bad_input_raises_what_dask_or_numpy_raise_and_draws_nothing(call, error):
    """The error class dask raises for the same call (numpy's, at compute time, where
    dask defers to numpy), here when the array is made: no graph, and the generator
    stays put."""
    rng = fdask.default_rng(0)
    with pytest.raises(error):
        call(rng)
    assert rng.offset == 0
    with pytest.raises(error):  # the reference: dask's graph or numpy's compute
        call(da.random.default_rng(0)).compute()


def test_a_size_that_is_not_an_integer_is_a_type_error_as_in_numpy():
    """dask truncates ``size=2.5`` to 2; numpy raises TypeError, as fastinit does."""
    with pytest.raises(TypeError):
        np.random.default_rng(0).random(size=2.5)
    with pytest.raises(TypeError, match="size must be an integer"):
        fdask.default_rng(0).random(size=2.5)


def test_generators_and_their_arguments():
    rng = fdask.default_rng(4)
    assert fdask.default_rng(rng) is rng
    assert fdask.default_rng().seed != fdask.default_rng().seed  # fresh entropy
    assert repr(fdask.default_rng(4, stream=2)) == (
        "fastinit.dask.Generator(seed=4, stream=2) at block 0")
    with pytest.raises(ValueError, match="device must be"):
        fdask.default_rng(4, device="tpu")
    with pytest.raises(ValueError, match="seed"):
        fdask.default_rng(-1)


# --- integers: the exact bounded-integer rule ---------------------------------------------


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("low, high, endpoint", [(0, 10, False), (-3, 3, True), (5, None, False)])
def test_integers_are_the_wholes_for_any_chunking(dtype, low, high, endpoint):
    if np.iinfo(dtype).min > min(low, 0):
        low = 0
    for size, chunks in CHUNKINGS[::3]:
        x = fdask.default_rng(8).integers(low, high, size=size, dtype=dtype, endpoint=endpoint,
                                           chunks=chunks)
        want = fastinit.Generator(8).integers(low, high, size=size, dtype=dtype,
                                              endpoint=endpoint)
        assert x.dtype == np.dtype(dtype) and np.array_equal(x.compute(), want)


def test_bad_integer_bounds_raise_what_numpy_raises():
    """numpy's exception types and words, and nothing drawn."""
    rng, numpy_rng = fdask.default_rng(0), np.random.default_rng(0)
    for args, kwargs in [((5, 2), {}), ((5, 5), {}), ((0, 300), {"dtype": np.uint8}),
                         ((-1, 3), {"dtype": np.uint8}), ((0,), {})]:
        with pytest.raises(ValueError) as ours:
            rng.integers(*args, size=10, **kwargs)
        with pytest.raises(ValueError) as numpys:
            numpy_rng.integers(*args, size=10, **kwargs)
        assert str(ours.value) == str(numpys.value), (args, kwargs)
    with pytest.raises(TypeError):
        rng.integers(0, 3, size=10, dtype=np.float32)
    assert rng.offset == 0


# --- a cluster -------------------------------------------------------------------------


def test_a_local_cluster_of_two_worker_processes_computes_the_whole():
    """Real worker processes (distributed.LocalCluster), each filling the chunks the
    scheduler gives it: the gathered array is the single fill, and both workers held
    chunks."""
    distributed = pytest.importorskip("distributed")
    began = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None, worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        x = fdask.default_rng(21).normal(0.0, 0.02, size=(2048, 1536), chunks=(256, 512),
                                         dtype=np.float32)
        x = x.persist()
        distributed.wait(x)
        holders = {worker for workers in client.who_has(x).values() for worker in workers}
        got = x.compute()
    assert len(holders) == 2
    want = fastinit.Generator(21).normal(0.0, 0.02, size=(2048, 1536), dtype=np.float32)
    assert np.array_equal(got, want)
    assert time.perf_counter() - began < 120  # a guard against a hang, not a timing


# --- CuPy chunks ------------------------------------------------------------------------


def _gpu():
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return fastinit.arrays.backend_status()["cupy"][0]


@pytest.mark.skipif(not _gpu(), reason="no GPU for CuPy")
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: d.__name__)
def test_cupy_chunks_hold_the_cpus_values(dtype):
    import cupy

    for method in METHODS:
        for size, chunks in CHUNKINGS:
            args, kwargs = METHODS[method]
            rng = fdask.default_rng(11, device="cuda")
            x = getattr(rng, method)(*args, size=size, chunks=chunks, dtype=dtype, **kwargs)
            assert isinstance(x._meta, cupy.ndarray)
            got = x.compute()
            assert isinstance(got, cupy.ndarray)
            assert np.array_equal(_bits(cupy.asnumpy(got)), _bits(_whole(method, size, dtype)))
