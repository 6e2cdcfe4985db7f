"""The CuPy backend: CUDA C from kernels/, compiled by NVRTC, launched through CuPy.

Without a GPU: the compile options keep IEEE arithmetic; every kernel (each name
expression) compiles with exactly the backend's options to PTX for sm_80 and sm_90 with
no fma and no flushed subnormals, and ptxas assembles it without spills; every launch
passes what its kernel's parameters declare, in types the installed CuPy's own
kernel-argument conversion accepts; the grid and target read attributes CuPy has; each
kernel compiles once per machine; and, with the kernels built for the host, the
launches (``fill_many``'s table and work prefix included) write the CPU backend's
values. With a GPU (CuPy and a CUDA device present): every rule and dtype equals the
CPU backend bit for bit on CuPy arrays and torch CUDA tensors of any layout, past 2^31
and 2^32 elements, on the caller's stream, without allocating; compute-sanitizer finds
nothing; and the raw stream is cuRAND's Philox4_32_10 stream.
"""

import ctypes
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from fastinit.backends import ENTRY, Draw, Table
from fastinit.registry import FAMILY_RULES
from fastinit.backends import cupy as cupy_backend
from fastinit.backends.launch import grid, max_grid
from fastinit.distributions import rule_for
from fastinit.generator import numpy_dtype

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import kernel_resources  # noqa: E402
from kernel_resources import ARCHS  # noqa: E402

# The numpy scalar types CuPy passes by value (cupy/cuda/function.pyx, 13.x); besides
# them only size-one numpy arrays (structured ones included), since CuPy 9.
CUPY_SCALARS = {np.dtype(code).type for code in "?bhilqBHILQefdFD"}

CASES = [(Raw(), "uint32"), (Bernoulli(0.3), "bool"), (Bernoulli(0.3), "uint8"),
         (Bernoulli(0.7), "float32"), (Bernoulli(0.7), "bfloat16")] + [
    (d, t) for d in (Uniform(-1, 2), Normal(0.5, 2), TruncatedNormal(0, 1, -1, 3),
                     TruncatedNormal(0, 0.002, -2, 2), TruncatedNormal(0, 1, 3, 10))
    for t in ("float16", "bfloat16", "float32", "float64")] + [
    (Integers(0, 1), "bool"), (Integers(-100, 27), "int8"), (Integers(-5, 300), "int16"),
    (Integers(0, 2**31), "uint32"), (Integers(-3, 1000), "int64"),
    (Integers(-2**63, 2**62), "int64"), (Integers(0, 2**64 - 1), "uint64")]


# --- what the launcher promises the kernels (no GPU needed) ------------------------------


def test_every_rule_and_dtype_has_its_kernels():
    for dist, dtype in CASES:
        rule = rule_for(dist, dtype)
        for strided in (False, True):
            assert cupy_backend.fill_name(rule.name, dtype, strided) in (
                cupy_backend.NAME_EXPRESSIONS)
    for itemsize in (1, 2, 4, 8):
        assert cupy_backend.constant_name(itemsize, True) in cupy_backend.NAME_EXPRESSIONS
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        assert cupy_backend.many_name(dtype) in cupy_backend.NAME_EXPRESSIONS


def test_structs_match_the_kernels_layout():
    # kernels/fill.cuh: Counter {u64 seed, stream, block0}; Params {double v[7]};
    # Layout {i64 shape[8]; i64 stride[8]; int ndim;} padded to 8 bytes.
    assert cupy_backend.COUNTER.itemsize == 24
    assert cupy_backend.PARAMS.itemsize == 56
    assert cupy_backend.LAYOUT.itemsize == 8 * 8 * 2 + 8
    assert cupy_backend.LAYOUT.fields["ndim"][1] == 128
    # Entry {void* ptr; i64 n, start; Counter c; int family; Params p; u64 bits;}
    offsets = {name: field[1] for name, field in ENTRY.fields.items()}
    assert offsets == {"ptr": 0, "n": 8, "start": 16, "seed": 24, "stream": 32, "block0": 40,
                       "family": 48, "params": 56, "bits": 112}
    assert ENTRY.itemsize == 120


def test_compile_options_keep_ieee_arithmetic():
    """No contraction into FMA, no flush of subnormals, IEEE division and square root:
    what kernels/README.md requires, and what CuPy's RawModule would override
    (it appends -ftz=true)."""
    options = cupy_backend.compile_options()
    for option in ("--fmad=false", "--ftz=false", "--prec-div=true", "--prec-sqrt=true",
                   f"-I{cupy_backend.KERNEL_DIR}"):
        assert option in options
    assert not any("fast_math" in o or o.endswith("ftz=true") for o in options)
    assert (cupy_backend.KERNEL_DIR / "fastinit.cu").is_file()


# --- every kernel through NVRTC and ptxas, as the backend compiles it (no GPU needed) ------

PTX_PARAM = re.compile(r"\.param (?:\.align \d+ )?\.[a-z](\d+) \w+(?:\[(\d+)\])?")


@pytest.fixture(scope="module", params=ARCHS, ids=lambda arch: f"sm_{arch}")
def ptx(request):
    """(arch, {name expression: (parameter sizes in bytes, PTX body)}, the PTX): every
    name expression compiled by ``compile_kernels``, the function the backend compiles
    each kernel with, for ``compute_<arch>`` (``kernel_resources.cupy_ptx``)."""
    arch = request.param
    lowered, text = kernel_resources.cupy_ptx(arch)
    entries = {entry: (params, body) for entry, params, body in
               re.findall(r"\.entry (\w+)\((.*?)\)\s*(\{.*?\n\})", text, re.S)}
    kernels = {}
    for name in cupy_backend.NAME_EXPRESSIONS:
        params, body = entries[lowered[name]]
        sizes = [int(bits) // 8 * int(count or 1) for bits, count in PTX_PARAM.findall(params)]
        kernels[name] = (sizes, body)
    return arch, kernels, text


def test_every_kernel_compiles_without_fma_or_flushed_subnormals(ptx):
    arch, kernels, text = ptx
    assert len(kernels) == len(set(cupy_backend.NAME_EXPRESSIONS))
    for name, (_, body) in kernels.items():
        assert "fma." not in body, name
        assert ".ftz" not in body, name


def test_ptxas_assembles_every_kernel_without_spills(ptx):
    """ptxas (the nvidia-cuda-nvcc wheel's) assembles every kernel for the architecture;
    registers, stack and spills per kernel: ``python bench/kernel_resources.py``."""
    arch, kernels, text = ptx
    resources = kernel_resources.ptxas(text, arch)
    assert len(resources) == len(kernels)
    for entry, used in resources.items():
        assert used.spill_stores == used.spill_loads == 0, (entry, used)
        assert 0 < used.registers <= 255, (entry, used)


# --- the launcher driving the kernels, emulated on the host (no GPU needed) ----------------

from conftest import HostAsDevice, host_view  # noqa: E402
from test_kernels import host  # noqa: E402, F401  (the kernels built as C++: a fixture)
from test_kernels import (POISON, many_first, many_layout, many_specs, many_table,  # noqa: E402
                          poisoned)

from fastinit import arrays  # noqa: E402
from fastinit.backends import STORAGE, cpu  # noqa: E402


@pytest.fixture
def emulated(host, monkeypatch):
    """The cupy backend with each launch run by the host build of kernels/: the kernel
    found by its name expression, its arguments packed as CuPy packs them (the bytes
    of each numpy scalar, structs included) and passed as cuLaunchKernel takes them."""
    launches = []

    def launch(device, cuda_stream, name, args, work_items, uploads=()):
        copies = [np.array(a) for a in uploads]  # "device" copies
        packed = [np.uint64(c.ctypes.data) for c in copies] + list(args)
        buffers = [ctypes.create_string_buffer(np.asarray(a).tobytes()) for a in packed]
        argv = (ctypes.c_void_p * len(packed))(*[ctypes.addressof(b) for b in buffers])
        grid = min(3, work_items)
        assert host.lib.fastinit_launch(name.encode(), grid, 32, argv) == 0, name
        launches.append(name)

    monkeypatch.setattr(cupy_backend, "_launch", launch)
    monkeypatch.setattr(arrays, "_pointer_device", lambda ptr: 0)
    return launches


def _device_view(arr, dtype):
    return arrays.view_of(HostAsDevice(arr.view(STORAGE[dtype])))._replace(dtype=dtype)


def _poisoned(shape, dtype):
    nbytes = math.prod(shape) * np.dtype(STORAGE[dtype]).itemsize
    return np.full(nbytes, 0x5A, np.uint8).view(STORAGE[dtype]).reshape(shape)


def _untouched(base, view_of):
    """Whether every byte of ``base`` outside ``view_of(base)`` still holds the poison."""
    outside = np.ones(base.shape, bool)
    view_of(outside)[...] = False
    return (base[outside].view(np.uint8) == 0x5A).all()


def _strided(a):
    return a.T[3:100:2]


# --- the arguments the launcher builds (no GPU needed) -------------------------------------


@pytest.fixture
def recorded(monkeypatch):
    """The launches the backend makes, as (name, by-value args, uploads), not run."""
    launches = []
    monkeypatch.setattr(cupy_backend, "_launch",
                        lambda device, cuda_stream, name, args, work_items, uploads=():
                        launches.append((name, args, uploads)))
    monkeypatch.setattr(arrays, "_pointer_device", lambda ptr: 0)
    return launches


def _every_launch():
    """One launch of every kind the backend makes: each case's fill, contiguous and
    strided; constants of every word size, both layouts; fill_many for every dtype."""
    for dist, dtype in CASES + [(Bernoulli(0.3), "float16"), (Bernoulli(0.3), "float64")]:
        rule = rule_for(dist, dtype)
        for view_of in (lambda a: a, _strided):
            cupy_backend.fill(_device_view(view_of(_poisoned((9, 131), dtype)), dtype),
                              Draw(rule, 2**63 + 5, 7, 2**32 - 3, 77))
    for dtype in ("bool", "float16", "float32", "float64"):
        for view_of in (lambda a: a, _strided):
            cupy_backend.fill_constant(_device_view(view_of(_poisoned((9, 131), dtype)), dtype),
                                       arrays.constant_bits(dtype, 0.7))
    for dtype in FAMILY_RULES:
        specs = many_specs(dtype, sizes=(1, 7, 0, 9))
        offsets, _ = many_layout(specs)
        cupy_backend.fill_many(Table(many_table(0x7F0000000000, dtype, specs, offsets), dtype,
                                     0, 0))


def test_launch_arguments_match_the_kernels_parameters(recorded, ptx):
    """Every launch passes what its kernel's PTX declares: one pointer per upload, then
    each by-value argument with the parameter's size (structs included)."""
    _every_launch()
    _, kernels, _ = ptx
    assert {name for name, _, _ in recorded} == set(cupy_backend.NAME_EXPRESSIONS)
    for name, args, uploads in recorded:
        sizes = [8] * len(uploads) + [np.asarray(a).nbytes for a in args]
        assert sizes == kernels[name][0], name
        for a in args:  # CuPy's documented by-value kinds (kernel.rst, CuPy 9 on)
            assert (type(a) in CUPY_SCALARS
                    or isinstance(a, np.ndarray) and a.size == 1 and a.dtype.names), (name, a)


def test_launch_arguments_pass_cupys_own_conversion(recorded):
    """The installed CuPy's kernel-argument conversion (``cupy.cuda.function``) takes
    every argument the backend launches with. A kernel handle of 0 goes through CuPy's
    launch path: the arguments are converted first, then CuPy needs a driver, so a CUDA
    error (never a TypeError) means every argument was accepted."""
    import cupy
    from cupy.cuda.function import Function
    from cupy_backends.cuda.api.driver import CUDADriverError
    from cupy_backends.cuda.api.runtime import CUDARuntimeError

    _every_launch()
    unloaded = Function.__new__(Function)
    for name, args, uploads in recorded:
        pointers = tuple(cupy.cuda.MemoryPointer(cupy.cuda.UnownedMemory(0, 0, None, 0), 0)
                         for _ in uploads)
        with pytest.raises((CUDARuntimeError, CUDADriverError)):
            unloaded((1,), (1,), pointers + args, stream=cupy.cuda.Stream.null)


def test_the_grid_reads_device_attributes_that_cupy_has(monkeypatch):
    """The grid size (``launch.grid``, up to ``launch.max_grid``) reads two attributes
    through CuPy's runtime module, by its own constant names (only the call that needs a
    GPU is replaced)."""
    from cupy.cuda import runtime

    values = {runtime.cudaDevAttrMultiProcessorCount: 132,
              runtime.cudaDevAttrMaxThreadsPerMultiProcessor: 1536}
    monkeypatch.setattr(runtime, "deviceGetAttribute", lambda code, device: values[code])
    cupy_backend._max_grid.cache_clear()
    try:
        cap = cupy_backend._max_grid(5)
        assert cap == max_grid(132, 1536, cupy_backend.WAVES) == 8 * 132 * (1536 // 256)
        assert grid(10**9, cap) == cap and grid(1000, cap) == 4
    finally:
        cupy_backend._max_grid.cache_clear()


@pytest.mark.parametrize("arch, target", [(90, "sm_90"), (86, "sm_86"), (99, "compute_90"),
                                          (10, None)])
def test_the_target_is_the_devices_architecture_or_ptx_below_it(arch, target):
    """A cubin for an architecture NVRTC knows; PTX for the newest one below it otherwise
    (9.9 stands for a device newer than NVRTC's 9.x targets); an error below them all."""
    from cupy.cuda import nvrtc

    assert {86, 90} <= set(nvrtc.getSupportedArchs()) and 99 not in nvrtc.getSupportedArchs()
    if target is None:
        with pytest.raises(RuntimeError, match="cannot compile for compute capability 1.0"):
            cupy_backend.target(arch)
    else:
        assert cupy_backend.target(arch) == target


def test_each_kernel_compiles_once_per_machine(monkeypatch, tmp_path):
    """A kernel's binary goes to CuPy's cache directory on its first use; later uses
    (any process) read it back; a different target is another binary."""
    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    compiled = []
    compile_kernels = cupy_backend.compile_kernels
    monkeypatch.setattr(cupy_backend, "compile_kernels",
                        lambda names, target: compiled.append(target)
                        or compile_kernels(names, target))
    name = cupy_backend.fill_name("normal32", "bfloat16", False)
    path, lowered = cupy_backend.binary("sm_90", name)
    assert path.read_bytes()[:4] == b"\x7fELF" and path.parent == tmp_path
    assert lowered.read_text().startswith("_ZN8fastinit4fill")
    assert cupy_backend.binary("sm_90", name) == (path, lowered)
    ptx_path, _ = cupy_backend.binary("compute_80", name)
    assert b".target sm_80" in ptx_path.read_bytes()
    assert compiled == ["sm_90", "compute_80"]
    assert not list(tmp_path.glob("*.partial"))


def test_threads_storing_one_binary_together_all_succeed(tmp_path):
    """Threads of one process that compile the same kernel at once (a Dask worker's
    first chunks) each write their own partial file and replace the binary with it;
    seen on an H200 as a FileNotFoundError when they shared the partial file's name."""
    import concurrent.futures
    import threading

    path = tmp_path / "kernel.cubin"
    start = threading.Barrier(8)

    def store(k):
        start.wait()
        for _ in range(200):
            cupy_backend._store(path, bytes([k]) * 4096)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(store, range(8)))
    assert path.read_bytes() in {bytes([k]) * 4096 for k in range(8)}
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("dist, dtype", CASES, ids=str)
@pytest.mark.parametrize("view_of", [lambda a: a, _strided], ids=["contiguous", "strided"])
def test_launches_write_the_cpu_backends_values(dist, dtype, view_of, emulated):
    rule = rule_for(dist, dtype)
    base = _poisoned((9, 131), dtype)
    target = view_of(base)
    draw = Draw(rule, 2**63 + 5, 7, 2**32 - 3, 77)
    cupy_backend.fill(_device_view(target, dtype), draw)
    expected = np.empty(target.shape, STORAGE[dtype])
    cpu.fill(host_view(expected.reshape(-1), dtype), draw)
    assert target.tobytes() == expected.tobytes()
    assert _untouched(base, view_of)
    assert emulated == [cupy_backend.fill_name(rule.name, dtype, view_of is _strided)]


@pytest.mark.parametrize("dtype", ["bool", "float16", "bfloat16", "float32", "float64"])
def test_constant_launches_write_the_value_and_nothing_else(dtype, emulated):
    bits = arrays.constant_bits(dtype, 0.7)
    for view_of in (lambda a: a, lambda a: a[1:5, ::3]):
        base = _poisoned((6, 10), dtype)
        cupy_backend.fill_constant(_device_view(view_of(base), dtype), bits)
        assert (view_of(base).view(f"u{base.itemsize}") == bits).all()
        assert _untouched(base, view_of)
    assert emulated == [cupy_backend.constant_name(base.itemsize, strided)
                        for strided in (False, True)]


@pytest.mark.parametrize("dtype", list(FAMILY_RULES))
def test_many_launches_write_the_cpu_backends_values(dtype, emulated):
    """fill_many's table (as bytes) and work prefix reach the kernel as it reads them: every
    row of a table mixing every family and constants, rows misaligned and empty, equals
    cpu.fill_many's, and nothing else is written; one launch."""
    specs = many_specs(dtype, sizes=(1, 2, 3, 7, 0, 9, 17, 5, 33, 8, 4))
    offsets, length = many_layout(specs)
    expected = poisoned(length, STORAGE[dtype])
    cpu.fill_many(Table(many_table(expected.ctypes.data, dtype, specs, offsets), dtype, None, 0))
    actual = poisoned(length, STORAGE[dtype])
    cupy_backend.fill_many(Table(many_table(actual.ctypes.data, dtype, specs, offsets), dtype,
                                 0, 0))
    assert actual.tobytes() == expected.tobytes()
    written = np.zeros(length, bool)
    for offset, spec in zip(offsets, specs):
        written[offset:offset + spec["n"]] = True
    assert (actual[~written].view(np.uint8) == POISON).all()
    assert emulated == [cupy_backend.many_name(dtype)]


def test_many_work_items_are_the_kernels():
    """The launcher counts each row's work items as kernels/README.md defines them, for rows
    at any address (a constant row's groups start at a 16-byte boundary)."""
    for dtype in FAMILY_RULES:
        specs = many_specs(dtype)
        offsets, _ = many_layout(specs)
        for base in (0x7F0000000000, 0x7F0000000002, 0x7F0000000003):  # 3: not word-aligned
            table = many_table(base, dtype, specs, offsets)
            first = np.concatenate([[0], np.cumsum(cupy_backend.work_items(dtype, table))])
            assert first.tolist() == many_first(dtype, table).tolist()


def test_fill_many_of_nothing_launches_nothing(emulated):
    cupy_backend.fill_many(Table(np.zeros(0, ENTRY), "float32", 0, 0))
    cupy_backend.fill_many(Table(np.zeros(3, ENTRY), "bfloat16", 0, 0))
    assert emulated == []


# --- on a GPU ------------------------------------------------------------------------------

_ok, _why = cupy_backend.available()
gpu = pytest.mark.skipif(not _ok, reason=f"no GPU for the CuPy backend: {_why}")
if _ok:
    import cupy
    import torch


def _cpu(dist, dtype, shape, seed=11, stream=3, start=0, numel=None):
    out = np.empty(shape, numpy_dtype(dtype))
    return fastinit.Generator(seed, stream).fill(out, dist, start=start, numel=numel)


def _bits(a):
    a = cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else np.asarray(a)
    return a.view(f"u{a.itemsize}") if a.itemsize > 1 else a.view(np.uint8)


def _torch_bits(t):
    t = t.cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(np.uint16)
    if t.dtype == torch.bool:
        return t.view(torch.uint8).numpy()
    return _bits(t.numpy())


@gpu
@pytest.mark.parametrize("dist, dtype", CASES, ids=str)
def test_cupy_arrays_equal_the_cpu_backend(dist, dtype):
    shape = (1001, 997)
    expected = _cpu(dist, dtype, shape)
    if dtype == "bfloat16":
        out = torch.empty(shape, dtype=torch.bfloat16, device="cuda")
        fastinit.Generator(11, 3).fill(out, dist, backend="cupy")
        torch.cuda.synchronize()
        assert (_torch_bits(out) == _bits(expected)).all()
        return
    out = cupy.empty(shape, numpy_dtype(dtype))
    fastinit.Generator(11, 3).fill(out, dist, backend="cupy")
    assert (_bits(out) == _bits(expected)).all()


@gpu
@pytest.mark.parametrize("dtype", list(FAMILY_RULES))
def test_fill_many_on_device_memory_equals_the_cpu_backend(dtype):
    """One launch over test_kernels' table (every family and constants, shards, misaligned
    and empty rows) plus a row of each family of 2**20 + 37 elements past 2**32, on the
    legacy default stream and on a stream of its own; the guards around the rows untouched."""
    fills = (Uniform(-1, 1), Normal(0.5, 2), TruncatedNormal(0, 1, 3, 10), 0.7)
    specs = many_specs(dtype) + [
        {"start": 2**32 + 11, "shift": 1, "fill": fill, "n": (1 << 20) + 37,
         "block0": 2**64 - 3, "stream": 2**40 + k} for k, fill in enumerate(fills)]
    offsets, length = many_layout(specs)
    expected = poisoned(length, STORAGE[dtype])
    cpu.fill_many(Table(many_table(expected.ctypes.data, dtype, specs, offsets), dtype, None, 0))
    for cuda_stream in (cupy.cuda.Stream.null, cupy.cuda.Stream(non_blocking=True)):
        out = cupy.asarray(poisoned(length, STORAGE[dtype]))  # 256-byte aligned: shifts hold
        cupy_backend.fill_many(Table(many_table(out.data.ptr, dtype, specs, offsets), dtype,
                                     out.device.id, cuda_stream.ptr))
        cuda_stream.synchronize()
        assert cupy.asnumpy(out).tobytes() == expected.tobytes(), f"stream {cuda_stream.ptr}"


@gpu
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("start", [0, 1, 3, 4095, 2**33 + 5])
def test_shards_and_misaligned_starts(dtype, start):
    for dist in (Uniform(-1, 1), Normal(0, 1), TruncatedNormal(0, 1, -2, 2)):
        n = 4099
        out = torch.empty(n, dtype=getattr(torch, dtype), device="cuda")
        fastinit.Generator(5).fill(out, dist, start=start, numel=start + n + 7, backend="cupy")
        expected = _cpu(dist, dtype, n, seed=5, stream=0, start=start, numel=start + n + 7)
        assert (_torch_bits(out) == _bits(expected)).all()


def _views(base):
    return {
        "transposed": base.transpose(2, 0, 1),
        "step": base[:, ::2, 1:],
        "negative": base[::-1, :, ::-3],
        "offset_by_one": base.reshape(-1)[1:-2],
        "column": base[:, 2, :],
    }


@gpu
@pytest.mark.parametrize("view", list(_views(np.empty((5, 6, 7))).keys()))
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_strided_views_and_nothing_else_written(view, dtype):
    poison = {"float16": 0x7E01, "float32": 0x7FC00001, "float64": 0x7FF8000000000001}[dtype]
    storage = {2: cupy.uint16, 4: cupy.uint32, 8: cupy.uint64}[np.dtype(dtype).itemsize]
    raw = cupy.full((5, 6, 7), poison, storage)
    target = _views(raw.view(numpy_dtype(dtype)))[view]
    fastinit.normal_(target, 0.5, 2.0, seed=7, backend="cupy")
    expected = _cpu(Normal(0.5, 2.0), dtype, target.shape, seed=7, stream=0)
    assert (_bits(target) == _bits(expected)).all()
    mark = cupy.zeros((5, 6, 7), bool)
    _views(mark)[view][...] = True
    assert (raw[~mark] == poison).all()


@gpu
def test_torch_cuda_tensor_views_equal_numpy():
    base = torch.zeros(40, 50, dtype=torch.bfloat16, device="cuda")
    view = base.t()[3:41:3]
    fastinit.trunc_normal_(view, std=0.02, a=-0.04, b=0.04, seed=1, backend="cupy")
    expected = fastinit.trunc_normal_(np.empty(tuple(view.shape), numpy_dtype("bfloat16")),
                                      std=0.02, a=-0.04, b=0.04, seed=1)
    assert (_torch_bits(view) == _bits(expected)).all()
    untouched = torch.ones_like(base, dtype=torch.bool)
    untouched.t()[3:41:3] = False
    assert (base[untouched] == 0).all()


def _tail_matches(out, dist, dtype, n, tail=4099):
    expected = _cpu(dist, dtype, tail, seed=2, stream=0, start=n - tail, numel=n)
    got = out.reshape(-1)[n - tail:]
    assert (_torch_bits(got) == _bits(expected)).all()


@gpu
def test_past_2_to_the_32_elements():
    free, _ = torch.cuda.mem_get_info()
    n = 2**32 + 4099
    if free < n * 2 + 2**30:
        pytest.skip(f"needs {n * 2 / 2**30:.1f} GiB of free GPU memory")
    out = torch.empty(n, dtype=torch.uint8, device="cuda")
    fastinit.Generator(2).fill(out, Bernoulli(0.5), backend="cupy")
    _tail_matches(out, Bernoulli(0.5), "uint8", n)
    del out
    out = torch.empty(2**31 + 4101, dtype=torch.float16, device="cuda")
    fastinit.Generator(2).fill(out, Normal(), backend="cupy")
    _tail_matches(out, Normal(), "float16", out.numel())


@gpu
def test_fills_go_on_the_current_stream_without_allocating(monkeypatch):
    seen = []
    launch = cupy_backend._launch
    monkeypatch.setattr(cupy_backend, "_launch",
                        lambda device, cuda_stream, *args, **kwargs: (
                            seen.append(cuda_stream), launch(device, cuda_stream, *args,
                                                             **kwargs)))
    out = torch.empty(1 << 20, device="cuda")
    fastinit.normal_(out, seed=0, backend="cupy")  # compiles, warms up
    torch.cuda.synchronize()
    pool = cupy.get_default_memory_pool()
    used, torch_used = pool.used_bytes(), torch.cuda.memory_allocated()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        for init in (fastinit.uniform_, fastinit.normal_, fastinit.trunc_normal_):
            init(out, seed=1, backend="cupy")
        fastinit.zeros_(out)
    side.synchronize()
    assert seen[-1] == side.cuda_stream and seen[-2] == side.cuda_stream
    assert pool.used_bytes() == used and torch.cuda.memory_allocated() == torch_used
    assert (out == 0).all()
    arr = cupy.empty(1 << 20, cupy.float32)
    with cupy.cuda.Stream() as s:
        fastinit.Generator(0).fill(arr, Uniform(), backend="cupy")
        assert seen[-1] == s.ptr
    s.synchronize()


@gpu
def test_generator_on_cuda_returns_cupy_arrays_of_the_same_values():
    got = fastinit.Generator(4, device="cuda").normal(size=(300, 7), dtype="float32")
    assert isinstance(got, cupy.ndarray)
    assert (_bits(got) == _bits(fastinit.Generator(4).normal(size=(300, 7),
                                                             dtype="float32"))).all()


@gpu
def test_constant_and_deterministic_fills_on_the_device():
    t = torch.empty(33, 65, dtype=torch.bfloat16, device="cuda")
    fastinit.constant_(t, 0.1)
    assert (t == torch.full_like(t, 0.1)).all()
    a = cupy.empty((7, 9), cupy.float16)[:, ::2]
    fastinit.ones_(a)
    assert (a == 1).all()
    fastinit.eye_(t)
    assert (t == torch.eye(33, 65, dtype=torch.bfloat16, device="cuda")).all()


@gpu
@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (16, 8, 3, 3)])
def test_orthogonal_runs_its_qr_on_the_device(shape):
    t = torch.empty(shape, dtype=torch.float32, device="cuda")
    fastinit.orthogonal_(t, gain=1.5, seed=9)
    cpu = fastinit.orthogonal_(torch.empty(shape), gain=1.5, seed=9)
    np.testing.assert_allclose(t.cpu().numpy(), cpu.numpy(), atol=2e-6)
    w = t.reshape(shape[0], -1).double()
    gram = w.T @ w if shape[0] >= w.shape[1] else w @ w.T
    torch.testing.assert_close(gram, 2.25 * torch.eye(gram.shape[0], device="cuda",
                                                      dtype=torch.float64), atol=1e-5, rtol=0)


_CURAND = r"""
#include <cstdio>
#include <curand_kernel.h>
__global__ void words(unsigned long long seed, unsigned long long subsequence,
                      unsigned int *out, int n) {
    curandStatePhilox4_32_10_t state;
    curand_init(seed, subsequence, 0, &state);
    for (int i = 0; i < n; ++i) out[i] = curand(&state);
}
int main(int argc, char **argv) {
    const int n = 1027;
    unsigned long long seed = strtoull(argv[1], 0, 0), sub = strtoull(argv[2], 0, 0);
    unsigned int *d, h[n];
    cudaMalloc(&d, n * sizeof(unsigned int));
    words<<<1, 1>>>(seed, sub, d, n);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    for (int i = 0; i < n; ++i) printf("%u\n", h[i]);
    return cudaGetLastError() != cudaSuccess;
}
"""


@gpu
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("seed, stream", [(0, 0), (42, 7), (2**64 - 1, 2**40 + 3)])
def test_raw_stream_is_curands_philox(seed, stream, tmp_path):
    (tmp_path / "curand_words.cu").write_text(_CURAND)
    subprocess.run(["nvcc", "-o", str(tmp_path / "curand_words"),
                    str(tmp_path / "curand_words.cu")], check=True, timeout=300)
    run = subprocess.run([str(tmp_path / "curand_words"), str(seed), str(stream)],
                         capture_output=True, text=True, check=True, timeout=60)
    curand_words = np.array(run.stdout.split(), np.uint64).astype(np.uint32)
    ours = cupy.empty(curand_words.size, cupy.uint32)
    fastinit.Generator(seed, stream).fill(ours, Raw(), backend="cupy")
    assert (cupy.asnumpy(ours) == curand_words).all()


_SANITIZED = textwrap.dedent("""
    import cupy, numpy as np, torch, fastinit
    from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
    cases = {cases}
    for dist, dtype in cases:
        for shape, view in (((4099,), lambda a: a), ((33, 65), lambda a: a.T[1::3])):
            t = torch.empty(shape, dtype=getattr(torch, dtype), device="cuda")
            fastinit.Generator(1).fill(view(t), dist, start=5, numel=10**6, backend="cupy")
            fastinit.constant_(view(t), 1.0)
    from fastinit.backends import Table, cupy as cupy_backend
    from test_kernels import many_layout, many_specs, many_table
    for dtype in ("float16", "bfloat16", "float32", "float64"):
        specs = many_specs(dtype)
        offsets, length = many_layout(specs)
        t = torch.empty(length, dtype=getattr(torch, dtype), device="cuda")
        cupy_backend.fill_many(Table(many_table(t.data_ptr(), dtype, specs, offsets), dtype, 0,
                                     torch.cuda.current_stream().cuda_stream))
    torch.cuda.synchronize()
""")


@pytest.mark.skipif(shutil.which("compute-sanitizer") is None,
                    reason="compute-sanitizer is not on PATH")
@gpu
@pytest.mark.parametrize("tool", ["memcheck", "racecheck"])
def test_compute_sanitizer_finds_nothing(tool):
    script = _SANITIZED.format(cases=repr(CASES))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run(["compute-sanitizer", f"--tool={tool}", "--error-exitcode=1",
                          sys.executable, "-c", script], check=False, capture_output=True,
                         text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "ERROR SUMMARY: 0 errors" in run.stdout or "RACECHECK SUMMARY: 0 hazards" in (
        run.stdout)


@gpu
def test_a_gib_destination_fills():
    """Speed lives in `fastinit bench --device cuda`, never in a test."""
    out = torch.empty(2**28, device="cuda")
    fastinit.uniform_(out, -1, 1, seed=0, backend="cupy")
    assert math.isclose(float(out.mean()), 0.0, abs_tol=1e-3)
