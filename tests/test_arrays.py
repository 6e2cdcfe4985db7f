"""Destinations: every layout gets the values of its logical C-order index, and
nothing outside the view is ever written."""

import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
import torch

import fastinit
from fastinit import Normal, Uniform

from conftest import OTHER_POISON, POISON, poisoned, poisoned_tensor

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def _contiguous(shape, dtype, dist=Normal(0.5, 2.0), seed=7):
    return fastinit.Generator(seed).fill(poisoned(shape, dtype, OTHER_POISON), dist)


def _poisoned(nbytes):
    return poisoned(nbytes, np.uint8)


def _views(base):
    """Named views of a 3-D ``base``, each a non-trivial layout."""
    return {
        "fortran": np.asfortranarray(base),
        "transposed": base.transpose(2, 0, 1),
        "step2": base[:, ::2, 1:],
        "negative": base[::-1, :, ::-2],
        "offset": base[1:, 1:3, 2:],
        "column": base[:, 2, :],
        "scalar_slice": base[1, 2, 3:4],
    }


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("view", list(_views(np.empty((4, 6, 8))).keys()))
def test_views_get_their_logical_index_and_nothing_else_is_written(dtype, view):
    itemsize = np.dtype(dtype).itemsize
    raw = _poisoned(4 * 6 * 8 * itemsize)
    base = raw.view(dtype).reshape(4, 6, 8)
    target = _views(base)[view]
    if view == "fortran":  # a fresh Fortran-ordered array inside poisoned guard bands
        raw = _poisoned((4 * 6 * 8 + 16) * itemsize)
        target = np.ndarray((4, 6, 8), dtype, raw, offset=8 * itemsize, order="F")
    before = raw.copy()
    fastinit.Generator(7).fill(target, Normal(0.5, 2.0))
    expected = _contiguous(target.shape, dtype)
    assert (target.view(np.uint8 if itemsize == 1 else f"u{itemsize}")
            == expected.view(f"u{itemsize}")).all()
    written = np.zeros(raw.size, bool)
    addr0 = raw.__array_interface__["data"][0]
    for idx in np.ndindex(target.shape):
        offset = target.__array_interface__["data"][0] - addr0 + np.dot(idx, target.strides)
        written[offset:offset + itemsize] = True
    assert (raw[~written] == before[~written]).all()


def test_guard_bands_around_a_contiguous_array():
    raw = _poisoned(4 * (1000 + 64))
    arr = raw[128:128 + 4000].view(np.float32)
    fastinit.Generator(1).fill(arr, Uniform())
    assert (raw[:128] == POISON).all() and (raw[128 + 4000:] == POISON).all()
    assert not (raw[128:128 + 4000] == POISON).all()


@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (1, 1, 5)])
def test_zero_size_and_degenerate_shapes(shape):
    arr = poisoned(shape, np.float32)
    out = fastinit.Generator(3).fill(arr, Normal())
    assert out is arr
    assert (arr.reshape(-1) == _contiguous(arr.size, np.float32, Normal(), 3)).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_torch_tensors_equal_numpy_arrays(dtype):
    np_dtype = {torch.float16: np.float16, torch.bfloat16: ml_dtypes.bfloat16,
                torch.float32: np.float32, torch.float64: np.float64}[dtype]
    t = poisoned_tensor((33, 17), dtype)
    fastinit.Generator(5).fill(t, Uniform(-3, 3))
    expected = _contiguous((33, 17), np_dtype, Uniform(-3, 3), 5)
    got = t.view(torch.int16 if t.element_size() == 2 else {4: torch.int32, 8: torch.int64}[t.element_size()])
    assert (got.numpy().view(expected.dtype) == expected).all() or (
        got.numpy().tobytes() == expected.tobytes())


def test_torch_non_contiguous_views():
    base = torch.zeros(10, 12, dtype=torch.float32)
    view = base.t()[2:9:3]
    fastinit.Generator(9).fill(view, Normal())
    assert (view.numpy() == _contiguous(tuple(view.shape), np.float32, Normal(), 9)).all()
    untouched = torch.ones_like(base, dtype=torch.bool)
    untouched.t()[2:9:3] = False
    assert (base[untouched] == 0).all()


def test_bad_destinations_are_rejected_and_left_untouched():
    g = fastinit.Generator(0)
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        g.fill(ro, Normal())
    for bad in (np.zeros(8, np.int32), np.zeros(8, np.complex64)):
        with pytest.raises(TypeError, match="dtype"):
            g.fill(bad, Normal())
        assert (bad == 0).all()
    with pytest.raises(TypeError, match="expected a numpy array, torch tensor"):
        g.fill([0.0, 1.0], Normal())
    expanded = torch.zeros(1, 4).expand(3, 4)
    with pytest.raises(ValueError, match="overlapping"):
        g.fill(expanded, Normal())
    assert (expanded == 0).all()
    with pytest.raises(TypeError, match="dtype"):
        g.fill(torch.zeros(4, dtype=torch.int64), Normal())
    leaf = torch.zeros(4, requires_grad=True)
    with pytest.raises(ValueError, match="no_grad"):
        g.fill(leaf, Normal())
    with torch.no_grad():
        g.fill(leaf, Normal())
    assert (leaf != 0).any()
    assert g.offset == 1  # only the successful fill advanced the generator


def test_bad_distribution_parameters_leave_the_destination_untouched():
    arr = np.zeros(16, np.float32)
    g = fastinit.Generator(0)
    for dist in (Uniform(1.0, 0.0), Normal(0.0, -1.0), Normal(float("nan"), 1.0),
                 fastinit.TruncatedNormal(0, 1, 2, 1), fastinit.Bernoulli(1.5)):
        with pytest.raises(ValueError):
            g.fill(arr, dist)
    with pytest.raises(TypeError):
        g.fill(arr, Normal("a", 1.0))
    with pytest.raises(TypeError):
        g.fill(arr, "normal")
    assert (arr == 0).all() and g.offset == 0


# --- property-based: any layout, dtype and distribution equals the numpy reference --

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import reference  # noqa: E402
from fastinit import Integers, TruncatedNormal  # noqa: E402
from fastinit.distributions import integer_range, rule_for  # noqa: E402

_NAMES = {np.float16: "float16", ml_dtypes.bfloat16: "bfloat16", np.float32: "float32",
          np.float64: "float64"}
_finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def _dists(draw):
    kind = draw(st.sampled_from(["uniform", "normal", "truncnorm"]))
    a = draw(_finite)
    b = a + draw(st.floats(0.5, 100)) + abs(a) / 16  # wide enough to hold bfloat16 values
    if kind == "uniform":
        return Uniform(a, b)
    std = draw(st.floats(1e-3, 10))
    if kind == "normal":
        return Normal(a, std)
    return TruncatedNormal(a + draw(st.floats(-3, 3)) * std, std, a, b)


@st.composite
def _layouts(draw):
    """(base shape, how to view it): slices with any start and step, then an axis order."""
    ndim = draw(st.integers(1, 4))
    dims = draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim))
    if draw(st.booleans()):
        dims[-1] = draw(st.integers(1000, 5000))  # crosses chunk boundaries
    index = tuple(
        slice(draw(st.integers(0, n - 1)), None, draw(st.sampled_from([1, 2, 3, -1, -2])))
        for n in dims)
    order = draw(st.permutations(range(ndim)))
    return tuple(dims), lambda a: a[index].transpose(order)


@settings(max_examples=60, deadline=None)
@given(layout=_layouts(), dtype=st.sampled_from(list(_NAMES)), dist=_dists(),
       seed=st.integers(0, 2**64 - 1), stream=st.integers(0, 2**64 - 1),
       block0=st.integers(0, 2**64 - 1), start=st.integers(0, 10**6))
def test_any_layout_equals_the_reference(layout, dtype, dist, seed, stream, block0, start):
    _fills_as_the_reference(layout, dtype, _NAMES[dtype], dist, seed, stream, block0, start)


def _fills_as_the_reference(layout, dtype, name, dist, seed, stream, block0, start):
    """A fill of the view ``layout`` makes of a poisoned array of ``dtype`` writes the
    reference's values in the view's C order, and nothing outside it."""
    shape, view_of = layout
    base = poisoned(shape, dtype)
    view = view_of(base)
    g = fastinit.Generator(seed, stream)
    g._block = block0
    g.fill(view, dist, start=start, numel=start + view.size)
    expected = reference.generate(rule_for(dist, name), name, view.size, seed, stream, block0,
                                  start)
    assert np.ascontiguousarray(view).reshape(-1).tobytes() == expected.tobytes()
    written = np.zeros(shape, bool)
    view_of(written)[...] = True
    assert (base[~written].view(np.uint8) == POISON).all()


@st.composite
def _integer_fills(draw):
    """(dtype, Integers inside its range): spans of one value to the whole range."""
    dtype = draw(st.sampled_from(["bool", "int8", "uint8", "int16", "uint16", "int32",
                                  "uint32", "int64", "uint64"]))
    smallest, largest = integer_range(dtype)
    low = draw(st.integers(smallest, largest))
    return dtype, Integers(low, draw(st.integers(low, largest)))


@settings(max_examples=60, deadline=None)
@given(layout=_layouts(), fill=_integer_fills(), seed=st.integers(0, 2**64 - 1),
       stream=st.integers(0, 2**64 - 1), block0=st.integers(0, 2**62),
       start=st.integers(0, 10**6))
def test_integers_fill_any_layout_as_the_reference(layout, fill, seed, stream, block0, start):
    name, dist = fill
    _fills_as_the_reference(layout, name, name, dist, seed, stream, block0, start)


@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.uint8, torch.int16,
                                   torch.int32, torch.int64], ids=str)
def test_torch_integer_tensors_equal_numpy_arrays(dtype):
    name = str(dtype).removeprefix("torch.")
    dist = Integers(*integer_range(name))
    t = poisoned_tensor((33, 17), dtype).t()[1::2]
    fastinit.Generator(5).fill(t, dist)
    expected = fastinit.Generator(5).fill(poisoned(t.shape, name, OTHER_POISON), dist)
    assert t.numpy().tobytes() == expected.tobytes()


_SCHEMES = [
    lambda t, seed: fastinit.xavier_uniform_(t, gain=1.5, seed=seed),
    lambda t, seed: fastinit.xavier_normal_(t, seed=seed),
    lambda t, seed: fastinit.kaiming_uniform_(t, a=5**0.5, seed=seed),
    lambda t, seed: fastinit.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", seed=seed),
    lambda t, seed: fastinit.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, seed=seed),
]


@settings(max_examples=40, deadline=None)
@given(layout=_layouts(), dtype=st.sampled_from(list(_NAMES)),
       scheme=st.sampled_from(_SCHEMES), seed=st.integers(0, 2**64 - 1))
def test_schemes_fill_any_layout_like_a_contiguous_array(layout, dtype, scheme, seed):
    shape, view_of = layout
    view = view_of(poisoned(shape, dtype))
    assume(view.ndim >= 2 and view.size > 0)  # the schemes' fans need two dimensions
    scheme(view, seed)
    contiguous = scheme(poisoned(view.shape, dtype, OTHER_POISON), seed)
    assert np.ascontiguousarray(view).tobytes() == contiguous.tobytes()


# --- device destinations, described without a GPU ------------------------------------
# A stand-in GPU backend that reads each View exactly as the kernels do, over host
# memory, and objects exposing host memory through __cuda_array_interface__
# (conftest.HostAsDevice): the description of device memory (pointer, strides, span,
# CUDA stream) is checked end to end.

from conftest import HostAsDevice  # noqa: E402

from fastinit import arrays  # noqa: E402
from fastinit.backends import Draw, cpu  # noqa: E402


class _HostBackend:
    """A GPU backend of the ``backends.Backend`` protocol that fills device views of host
    memory through the CPU backend, which reads a ``View`` as the GPU kernels do."""

    def __init__(self):
        self.views = []

    def available(self):
        return True, ""

    def fill(self, view, draw):
        self.views.append(view)
        cpu.fill(view, draw)

    def fill_many(self, table):
        self.views.append(("fill_many", table.device, table.cuda_stream, len(table.rows)))
        cpu.fill_many(table)

    def fill_constant(self, view, bits):
        self.views.append(view)
        cpu.fill_constant(view, bits)


@pytest.fixture
def host_backend(monkeypatch):
    backend = _HostBackend()
    monkeypatch.setattr(arrays, "_backend_module", lambda name: backend)
    monkeypatch.setattr(arrays, "_pointer_device", lambda ptr: 0)
    return backend


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("view", list(_views(np.empty((4, 6, 8))).keys()))
def test_device_views_get_their_logical_index_and_nothing_else(dtype, view, host_backend):
    raw = _poisoned(4 * 6 * 8 * np.dtype(dtype).itemsize)
    target = _views(raw.view(dtype).reshape(4, 6, 8))[view]
    before = raw.copy()
    fastinit.Generator(7).fill(HostAsDevice(target, stream=5), Normal(0.5, 2.0))
    assert target.tobytes() == _contiguous(target.shape, dtype).tobytes()
    check = before.view(dtype).reshape(4, 6, 8)
    _views(check)[view][...] = target
    assert raw.tobytes() == before.tobytes()  # what changed is exactly the view
    assert host_backend.views[-1].cuda_stream == 5


def test_device_constant_fill_rounds_like_torch(host_backend):
    value = 0.1 + 1e-9
    assert arrays.constant_bits("bfloat16", value) == int(
        torch.tensor(value, dtype=torch.bfloat16).view(torch.int16)) & 0xFFFF
    for dtype, torch_dtype in ((np.float16, torch.float16), (np.float32, torch.float32),
                               (np.float64, torch.float64)):
        base = np.zeros((5, 6), dtype)
        fastinit.constant_(HostAsDevice(base[:, ::2]), value)
        expected = torch.full((5, 3), value, dtype=torch_dtype)
        assert base[:, ::2].tobytes() == expected.view(
            {2: torch.int16, 4: torch.int32, 8: torch.int64}[base.itemsize]).numpy().tobytes()
        assert (base[:, 1::2] == 0).all()


def test_a_host_constant_goes_to_the_cpu_backend_rounded_as_on_a_device():
    """fill_constant picks the backend as fill does: host memory, any layout, gets the
    word ``constant_bits`` rounds the value to, from the CPU backend."""
    base = np.zeros((5, 6), np.float16)
    arrays.fill_constant(base[::-1, ::2], 0.1 + 1e-9)
    assert (base[:, ::2].view(np.uint16) == arrays.constant_bits("float16", 0.1 + 1e-9)).all()
    assert (base[:, 1::2] == 0).all()
    t = torch.zeros(4, 6, dtype=torch.bfloat16)
    arrays.fill_constant(t.t(), 0.1)
    assert torch.equal(t, torch.full_like(t, 0.1))


def test_bad_device_destinations_are_rejected_untouched(host_backend):
    arr = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match="read-only"):
        fastinit.Generator(0).fill(HostAsDevice(arr, readonly=True), Normal())
    with pytest.raises(TypeError, match="typestr"):
        fastinit.Generator(0).fill(HostAsDevice(arr, typestr="<c8"), Normal())
    with pytest.raises(TypeError, match="Normal fills dtypes .*; got int32"):
        fastinit.Generator(0).fill(HostAsDevice(arr, typestr="<i4"), Normal())
    with pytest.raises(ValueError, match="overlapping"):
        fastinit.Generator(0).fill(HostAsDevice(np.broadcast_to(arr[:1], (4, 4))), Normal())
    # ten dimensions no merging can reduce (a description only: rejected before any write)
    deep = np.lib.stride_tricks.as_strided(arr, shape=(2,) * 10,
                                           strides=tuple(4 * 3**d for d in range(10)))
    with pytest.raises(ValueError, match="at most 8"):
        fastinit.Generator(0).fill(HostAsDevice(deep), Normal())
    with pytest.raises(ValueError, match="backend 'cpu' fills host memory"):
        fastinit.Generator(0).fill(HostAsDevice(arr), Normal(), backend="cpu")
    assert (arr == 0).all() and not host_backend.views


def test_backend_names_are_checked():
    arr = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="fills CUDA memory"):
        fastinit.Generator(0).fill(arr, Normal(), backend="cupy")
    with pytest.raises(ValueError, match="backend must be one of"):
        fastinit.Generator(0).fill(arr, Normal(), backend="opencl")
    with pytest.raises(ValueError, match="backend must be one of"):
        fastinit.Generator(0, backend="gpu")
    with pytest.raises(ValueError, match="device must be"):
        fastinit.Generator(0, device="tpu")
    assert (arr == 0).all()
    assert fastinit.normal_(arr, seed=3, backend="cpu") is arr


def test_without_a_gpu_backend_device_memory_gets_a_clear_error(monkeypatch):
    class Missing:
        def available(self):
            return False, "not installed"

    monkeypatch.setattr(arrays, "_backend_module", lambda name: Missing())
    arr = np.zeros(4, np.float32)
    with pytest.raises(RuntimeError, match="no GPU backend .*cupy: not installed"):
        fastinit.Generator(0).fill(HostAsDevice(arr), Normal())
    assert (arr == 0).all()


class OnlyDLPack:
    """A numpy array that speaks only DLPack, from ``device`` (DLPack's code; default the
    array's own, the CPU)."""

    def __init__(self, arr, device=None):
        self._arr = arr
        self._device = device

    def __dlpack__(self, **kwargs):
        return self._arr.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._arr.__dlpack_device__() if self._device is None else (self._device, 0)


def test_dlpack_objects_are_filled_in_place():
    arr = np.zeros((3, 5), np.float32)
    fastinit.Generator(2).fill(OnlyDLPack(arr), Uniform())
    assert arr.tobytes() == _contiguous((3, 5), np.float32, Uniform(), 2).tobytes()


def test_a_destination_is_read_once_and_says_what_a_fill_needs():
    """``arrays.destination`` reads a destination once: the object written, fastinit's
    dtype name (None where no kernel writes it), shape, size, device and whether it is
    a torch tensor. A ``Destination`` is its own, and an init call imports a DLPack-only
    object once."""
    t = torch.empty(3, 4, dtype=torch.bfloat16)
    dest = arrays.destination(t)
    assert dest.array is t and dest[1:] == ("bfloat16", (3, 4), 12, "cpu", True)
    assert arrays.destination(dest) is dest
    assert arrays.destination(torch.empty(2, device="meta"))[1:] == (
        "float32", (2,), 2, "meta", True)
    assert arrays.destination(np.empty((2, 0), np.complex64))[1:] == (
        None, (2, 0), 0, "cpu", False)
    with pytest.raises(TypeError, match="array dtype complex64 is not supported"):
        arrays.dtype_name(np.empty(2, np.complex64))

    imports = []

    class Counted(OnlyDLPack):
        def __dlpack__(self, **kwargs):
            imports.append(kwargs)
            return super().__dlpack__(**kwargs)

    arr = np.zeros((3, 5), np.float32)
    fastinit.init.normal_(Counted(arr), seed=2)
    assert len(imports) == 1
    assert arr.tobytes() == _contiguous((3, 5), np.float32, Normal(), 2).tobytes()


def _sparse():
    return torch.eye(3).to_sparse()


def _read_only():
    arr = np.empty((3, 4), np.float32)
    arr.flags.writeable = False
    return arr


class _TensorSubclass(torch.Tensor):
    pass


@pytest.mark.parametrize("make", [
    lambda: np.empty((3, 4), np.float32)[:, ::2], lambda: np.empty((3, 4), np.float32).T,
    _read_only, lambda: np.empty(3, np.complex64), lambda: torch.empty(3, 4)[:, ::2],
    lambda: torch.empty(3, 4).T, lambda: torch.empty(3, device="meta"), _sparse,
    lambda: torch._neg_view(torch.empty(3)), lambda: torch.empty(3, dtype=torch.complex64),
    lambda: torch.empty(3).as_subclass(_TensorSubclass), lambda: [0.0, 1.0], lambda: OnlyDLPack(
        np.empty(3, np.float32))],
    ids=["numpy-strided", "numpy-fortran", "numpy-read-only", "numpy-complex", "torch-strided",
         "torch-transposed", "meta", "sparse", "negative-view", "torch-complex", "subclass",
         "list", "dlpack"])
def test_a_host_run_is_only_dense_writable_contiguous_host_memory(make):
    """``arrays.host_run`` is None for anything but one dense, writable run of host memory
    of a dtype a kernel writes, so that ``destination`` and a view read (or refuse) it."""
    assert arrays.host_run(make()) is None


def test_a_host_run_is_a_contiguous_destinations_address_dtype_and_size():
    rows = torch.empty(6, 5, dtype=torch.bfloat16)
    assert arrays.host_run(rows[2:4]) == (rows.data_ptr() + 2 * 5 * 2, "bfloat16", 10, True)
    assert arrays.host_run(torch.nn.Parameter(rows)) == (rows.data_ptr(), "bfloat16", 30, True)
    assert arrays.host_run(torch.empty(0))[1:] == ("float32", 0, True)
    arr = np.empty((6, 5), np.int16)
    assert arrays.host_run(arr[1:]) == (arr.ctypes.data + 5 * 2, "int16", 25, False)
    assert arrays.host_run(np.empty((), np.float64))[1:] == ("float64", 1, False)


@pytest.mark.parametrize("device", [1, 2], ids=["host", "cuda"])
def test_read_only_dlpack_destinations_are_refused(device):
    """A DLPack 1.0 producer's read-only flag is honoured on the CUDA path too, where
    CuPy and torch would import the memory as writable: a ValueError, nothing written.
    (Host memory posing as CUDA memory: the check runs before any import.)"""
    arr = np.zeros((3, 5), np.float32)
    arr.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastinit.Generator(2).fill(OnlyDLPack(arr, device), Uniform())
    assert not arr.any()


def test_tensors_on_other_devices_are_rejected():
    with pytest.raises(ValueError, match="is on meta"):
        fastinit.normal_(torch.empty(3, 3, device="meta"), seed=0)


def test_backend_status_names_every_backend():
    status = arrays.backend_status()
    assert list(status) == ["cpu", "cupy", "numba_cuda"]
    assert status["cpu"] == (True, "")
    for ok, why in status.values():
        assert ok or why


def test_importing_fastinit_imports_neither_ml_dtypes_nor_torch():
    """ml_dtypes costs 0.6 s to import; a bfloat16 array exists only once it is imported."""
    script = ("import sys, fastinit\n"
              "print(sorted(m for m in ('ml_dtypes', 'torch') if m in sys.modules))\n"
              "import ml_dtypes, numpy as np\n"
              "x = fastinit.init.normal_(np.zeros(9, ml_dtypes.bfloat16), seed=1)\n"
              "print(x.dtype, bool(x.astype(np.float32).any()))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=600).stdout.split("\n")
    assert out[:2] == ["[]", "bfloat16 True"]


# --- boxes: a chunk of a larger tensor --------------------------------------------------

from fastinit.distributions import Bernoulli  # noqa: E402


@pytest.mark.parametrize("offset, box, shape, starts, n", [
    ((), (), (), [0], 1),                                   # a scalar
    ((0, 0), (4, 5), (4, 5), [0], 20),                      # the whole tensor
    ((1, 0, 0), (2, 6, 7), (5, 6, 7), [42], 84),            # whole rows: one run
    ((1, 2, 0), (2, 3, 7), (5, 6, 7), [56, 98], 21),        # rows of whole trailing planes
    ((1, 2, 3), (2, 3, 4), (5, 6, 7), [59, 66, 73, 101, 108, 115], 4),
    ((0, 3), (4, 1), (4, 5), [3, 8, 13, 18], 1),            # a column
    ((2, 0), (0, 5), (4, 5), [10], 0),                      # no elements
])
def test_box_runs_are_the_boxs_rows_with_whole_trailing_dimensions_merged(offset, box, shape,
                                                                        starts, n):
    got, length = arrays.box_runs(offset, box, shape)
    assert (got.tolist(), length) == (starts, n)
    flat = np.arange(int(np.prod(shape))).reshape(shape)
    inside = flat[tuple(slice(o, o + b) for o, b in zip(offset, box))].reshape(-1)
    runs = [s + k for s in got for k in range(length)] if length else []
    assert runs == inside.tolist()


@pytest.mark.parametrize("offset, box, shape", [
    ((0,), (3,), (2,)), ((-1,), (1,), (2,)), ((1, 0), (1,), (2, 2)), ((0,), (-1,), (2,))])
def test_boxes_outside_the_tensor_are_rejected(offset, box, shape):
    with pytest.raises(ValueError):
        arrays.box_runs(offset, box, shape)


def _boxes(shape):
    """(offset, box) of boxes of ``shape``: uneven, single rows and columns, whole
    trailing dimensions, corners, empty."""
    ndim = len(shape)
    yield (0,) * ndim, shape
    yield (1,) * ndim, tuple(s - 2 for s in shape)
    yield (0,) * ndim, (1,) * ndim
    yield tuple(s - 1 for s in shape), (1,) * ndim
    yield (0,) * (ndim - 1) + (2,), shape[:-1] + (3,)
    yield (1,) + (0,) * (ndim - 1), (shape[0] - 1,) + shape[1:]
    if ndim > 1:
        yield (1,) + (0,) * (ndim - 1), (1,) + shape[1:-1] + (1,)
    yield (0,) * ndim, (0,) + shape[1:]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("dist", [Normal(0.5, 2.0), Uniform(-1, 3)], ids=str)
@pytest.mark.parametrize("shape", [(37,), (9, 13), (5, 6, 7), (3, 2, 4, 5)], ids=str)
def test_a_box_gets_its_elements_of_the_whole_and_nothing_else_is_written(dtype, dist, shape):
    """Every box of a tensor, filled alone into poisoned memory, equals that box of the
    whole tensor's fill bit for bit, and the guard bands around it keep every byte."""
    whole = fastinit.Generator(7, 3).fill(np.empty(shape, dtype), dist)
    itemsize = np.dtype(dtype).itemsize
    name = arrays.dtype_name(whole)
    for offset, box in _boxes(shape):
        size = int(np.prod(box))
        raw = _poisoned((size + 16) * itemsize)
        out = raw[8 * itemsize:(8 + size) * itemsize].view(dtype).reshape(box)
        arrays.fill_box(out, Draw(rule_for(dist, name), 7, 3, 0, 0), offset, shape)
        want = whole[tuple(slice(o, o + b) for o, b in zip(offset, box))]
        assert out.tobytes() == want.tobytes(), (offset, box)
        assert (raw[:8 * itemsize] == POISON).all() and (raw[-8 * itemsize:] == POISON).all()


def test_a_box_of_a_torch_tensor_gets_the_checks_of_a_fill():
    """As ``fill``: a tensor that requires grad (with grad enabled) or lives on another
    device is refused with a ValueError, and nothing is written."""
    rule = rule_for(Normal(), "float32")
    out = torch.zeros((3, 4), requires_grad=True)
    with pytest.raises(ValueError, match="requires grad"):
        arrays.fill_box(out, Draw(rule, 1, 2, 0, 0), (2, 3), (6, 10))
    assert not out.detach().any()
    with pytest.raises(ValueError, match="is on meta"):
        arrays.fill_box(torch.empty((3, 4), device="meta"), Draw(rule, 1, 2, 0, 0), (2, 3),
                        (6, 10))


def test_a_box_of_a_torch_tensor_and_after_the_generators_position():
    shape, offset, box = (6, 10), (2, 3), (3, 4)
    rule = rule_for(Normal(), "bfloat16")
    whole = poisoned_tensor(shape, torch.bfloat16)
    arrays.fill(whole, Draw(rule, 1, 2, 2**64 - 1, 0))
    out = poisoned_tensor(box, torch.bfloat16, OTHER_POISON)
    arrays.fill_box(out, Draw(rule, 1, 2, 2**64 - 1, 0), offset, shape)
    assert torch.equal(out.view(torch.int16), whole[2:5, 3:7].contiguous().view(torch.int16))


def test_boxes_that_cannot_be_filled_are_rejected_untouched():
    rule = rule_for(Normal(), "float32")
    base = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match="C-contiguous"):
        arrays.fill_box(base[:, ::2], Draw(rule, 0, 0, 0, 0), (0, 0), (8, 8))
    with pytest.raises(ValueError, match="C-contiguous"):
        arrays.fill_box(base[:, :1], Draw(rule, 0, 0, 0, 0), (0, 0), (8, 1))
    with pytest.raises(ValueError, match="not inside"):
        arrays.fill_box(base, Draw(rule, 0, 0, 0, 0), (5, 0), (8, 8))
    with pytest.raises(ValueError, match="same number of dimensions"):
        arrays.fill_box(base, Draw(rule, 0, 0, 0, 0), (0,), (8, 8))
    assert not base.any()


@pytest.mark.parametrize("dist, dtype", [(Normal(0.5, 2.0), np.float32),
                                         (Uniform(-1, 3), np.float16),
                                         (Bernoulli(0.3), np.uint8)], ids=str)
def test_a_device_box_is_one_launch_over_a_table_of_its_runs(dist, dtype, host_backend):
    """In device memory a box of several runs is one fill_many launch over a table of
    the runs for the rules fill_many knows, else one launch per run; both write the
    box of the whole and nothing around it. (Host memory posing as device memory.)"""
    shape, offset, box = (7, 9, 5), (1, 2, 0), (4, 5, 3)
    whole = fastinit.Generator(4).fill(np.empty(shape, dtype), dist)
    itemsize = np.dtype(dtype).itemsize
    size = int(np.prod(box))
    raw = _poisoned((size + 16) * itemsize)
    out = raw[8 * itemsize:(8 + size) * itemsize].view(dtype).reshape(box)
    name = arrays.dtype_name(out)
    arrays.fill_box(HostAsDevice(out, stream=5), Draw(rule_for(dist, name), 4, 0, 0, 0), offset,
                    shape)
    assert out.tobytes() == whole[1:5, 2:7, 0:3].tobytes()
    assert (raw[:8 * itemsize] == POISON).all() and (raw[-8 * itemsize:] == POISON).all()
    if dtype is np.uint8:  # Bernoulli: no fill_many family
        assert len(host_backend.views) == 20 and host_backend.views[0].size == 3
    else:
        assert host_backend.views == [("fill_many", 0, 5, 20)]
