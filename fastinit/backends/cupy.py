"""CuPy backend: the CUDA C kernels of ``kernels/``, compiled by NVRTC, launched by CuPy.

The sources ship inside the package (``fastinit/kernels`` is the repository's
``kernels/``). Each kernel instantiation (a ``NAME_EXPRESSIONS`` entry: kernel, rule,
storage format) is compiled on its first launch by CuPy's NVRTC
(``cupy.cuda.nvrtc``) with ``compile_options()``: no multiply-add contracted,
subnormals kept, IEEE division and square root, so every value equals the CPU
backend's bit for bit (docs/stream.md). fastinit calls NVRTC itself, not through
``cupy.RawModule(code=...)``, because CuPy appends ``-ftz=true`` after the caller's
options of every RawModule (all versions; cupy/cupy#9576), which flushes float32
subnormals, and CuPy before 14.1 never keeps a module with name expressions on disk.
The binary (a cubin for the device's architecture, or PTX for the newest one NVRTC
knows below it, which the driver compiles) goes to CuPy's kernel cache directory
(``$CUPY_CACHE_DIR``, default ``~/.cupy/kernel_cache``), keyed on the kernel sources,
the options, NVRTC's version, the target and the name, and is loaded with
``cupy.RawModule(path=...)``: one compilation per kernel and machine.

A fill is one launch on the destination's CUDA stream of the destination's device: a
grid-stride loop sized from the device's multiprocessor count (``launch``), no host
synchronization, no temporary allocation. The kernels' by-value structs (``Counter``,
``Params``, ``Layout``) go as size-one numpy structured arrays, which CuPy passes by
value (the bytes at the array's data pointer) in every version since 9; CuPy 13
rejects a numpy structured scalar (``numpy.void``) and 14.0 takes one only under 64
bytes. ``fill_many`` fills a ``Table`` of destinations in one launch; it copies the rows
and their work prefix to the device first, on the same CUDA stream, into CuPy's memory
pool (stream-ordered: freed blocks are reused on that stream only).
"""

import functools
import hashlib
import os
import threading
from pathlib import Path

import numpy as np

from ..registry import ELEMENTS_PER_BLOCK, FAMILY_RULES, RULES, STORES
from . import ENTRY, MAX_DIMS, STORAGE, word_type
from .launch import THREADS, grid, max_grid, philox_blocks, prefix, row_items

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"
MIN_CUPY = (13, 0)
WAVES = 8  # full-occupancy waves of the device the grid is capped at (launch.max_grid)

_WORDS = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}

# The kernels' by-value structs (kernels/fill.cuh), as aligned numpy records.
COUNTER = np.dtype([("seed", "<u8"), ("stream", "<u8"), ("block0", "<u8")], align=True)
PARAMS = np.dtype([("v", "<f8", (7,))], align=True)
LAYOUT = np.dtype([("shape", "<i8", (MAX_DIMS,)), ("stride", "<i8", (MAX_DIMS,)),
                   ("ndim", "<i4")], align=True)


def fill_name(rule_name, dtype, strided):
    kernel = "fill_strided" if strided else "fill"
    return f"fastinit::{kernel}<fastinit::rule::{rule_name}, fastinit::store::{STORES[dtype]}>"


def constant_name(itemsize, strided):
    kernel = "fill_constant_strided" if strided else "fill_constant"
    return f"fastinit::{kernel}<{_WORDS[itemsize]}>"


def many_name(dtype):
    return f"fastinit::fill_many<fastinit::store::{STORES[dtype]}>"


NAME_EXPRESSIONS = tuple(dict.fromkeys(  # dtypes of one store (bool and uint8, ...) share kernels
    [fill_name(rule, dtype, strided) for rule, spec in RULES.items() for dtype in spec.dtypes
     for strided in (False, True)]
    + [constant_name(size, strided) for size in _WORDS for strided in (False, True)]
    + [many_name(dtype) for dtype in FAMILY_RULES]))


@functools.cache
def source_hash():
    """SHA-1 of every kernel source, part of each cached binary's key."""
    digest = hashlib.sha1()
    for path in sorted(KERNEL_DIR.glob("*.cu*")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def compile_options():
    """NVRTC's options for kernels/fastinit.cu, all but ``-arch`` (kernels/README.md)."""
    return ("--std=c++17", "--fmad=false", "--ftz=false", "--prec-div=true",
            "--prec-sqrt=true", f"-I{KERNEL_DIR}")


def compile_kernels(names, target):
    """NVRTC's output for the name expressions ``names`` of kernels/fastinit.cu, compiled
    with ``compile_options()`` and ``-arch=<target>``: a cubin for ``sm_XX``, PTX (bytes)
    for ``compute_XX``, and ``{name: lowered (mangled) name}``."""
    from cupy.cuda import nvrtc

    program = nvrtc.createProgram((KERNEL_DIR / "fastinit.cu").read_text(), "fastinit.cu",
                                  (), ())
    try:
        for name in names:
            nvrtc.addNameExpression(program, name)
        try:
            nvrtc.compileProgram(program, [*compile_options(), f"-arch={target}"])
        except nvrtc.NVRTCError as error:
            raise RuntimeError(f"NVRTC could not compile kernels/fastinit.cu for {target} "
                               f"({error}):\n{nvrtc.getProgramLog(program)}") from None
        binary = (nvrtc.getCUBIN(program) if target.startswith("sm_")
                  else nvrtc.getPTX(program))
        return binary, {name: nvrtc.getLoweredName(program, name) for name in names}
    finally:
        nvrtc.destroyProgram(program)


def _version(text):
    return tuple(int(part) for part in text.split(".")[:2])


def available():
    try:
        import cupy
    except ImportError:
        return False, "CuPy is not installed (pip install fastinit[cuda12] or fastinit[cuda13])"
    if _version(cupy.__version__) < MIN_CUPY:
        return False, (f"CuPy {cupy.__version__} is installed; fastinit needs CuPy >= "
                       f"{'.'.join(map(str, MIN_CUPY))}")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except RuntimeError as error:  # CUDARuntimeError: no driver, no device
        return False, f"CuPy finds no CUDA device ({error})"
    if count == 0:
        return False, "CuPy finds no CUDA device"
    return True, ""


def target(arch):
    """NVRTC's ``-arch`` for a device of compute capability ``arch`` (90 for 9.0):
    ``sm_<arch>`` when NVRTC compiles for it, else ``compute_XX`` of the newest
    architecture below it that NVRTC knows (PTX, which the driver compiles)."""
    from cupy.cuda import nvrtc

    known = nvrtc.getSupportedArchs()
    if arch in known:
        return f"sm_{arch}"
    older = [a for a in known if a < arch]
    if not older:
        raise RuntimeError(f"NVRTC {'.'.join(map(str, nvrtc.getVersion()))} cannot compile "
                           f"for compute capability {arch // 10}.{arch % 10}")
    return f"compute_{max(older)}"


@functools.cache
def _target(device):
    import cupy

    return target(int(cupy.cuda.Device(device).compute_capability))


def cache_dir():
    """Where compiled kernels are kept: CuPy's kernel cache directory."""
    return Path(os.environ.get("CUPY_CACHE_DIR") or "~/.cupy/kernel_cache").expanduser()


def _store(path, data):
    """``data`` to ``path`` atomically (a concurrent reader sees all of it or nothing),
    from any number of processes and threads at once (a Dask worker's threads compile
    the same kernel together): each writer has its own partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def binary(target, name):
    """The paths of name expression ``name``'s binary for ``target`` and of its lowered
    name, in ``cache_dir()``: compiled there on first use per machine."""
    from cupy.cuda import nvrtc

    key = hashlib.sha1(repr((source_hash(), compile_options(), nvrtc.getVersion(), target,
                             name)).encode()).hexdigest()
    path = cache_dir() / f"fastinit_{key}.{'cubin' if target.startswith('sm_') else 'ptx'}"
    lowered = path.with_suffix(".name")
    if not (path.is_file() and lowered.is_file()):
        code, names = compile_kernels((name,), target)
        _store(path, code)
        _store(lowered, names[name].encode())
    return path, lowered


@functools.cache
def _kernel(target, name):
    """The ``cupy.RawKernel`` of name expression ``name`` built for ``target``. Call it
    with the current device the one it will launch on: CuPy loads the binary there."""
    import cupy

    path, lowered = binary(target, name)
    return cupy.RawModule(path=str(path)).get_function(lowered.read_text())


@functools.cache
def _max_grid(device):
    from cupy.cuda import runtime

    sms = runtime.deviceGetAttribute(runtime.cudaDevAttrMultiProcessorCount, device)
    threads = runtime.deviceGetAttribute(runtime.cudaDevAttrMaxThreadsPerMultiProcessor, device)
    return max_grid(sms, threads, WAVES)


class _ForeignStream:
    """A ``cudaStream_t`` in the CUDA stream protocol, for ``Stream.from_external``."""

    def __init__(self, handle):
        self.handle = handle

    def __cuda_stream__(self):
        return 0, self.handle


def _cupy_stream(cuda_stream, device):
    """CuPy's stream object for the ``cudaStream_t`` ``cuda_stream`` of ``device``."""
    import cupy

    if cuda_stream == 0:
        return cupy.cuda.Stream.null
    if hasattr(cupy.cuda.Stream, "from_external"):  # CuPy 14 deprecates ExternalStream
        return cupy.cuda.Stream.from_external(_ForeignStream(cuda_stream))
    return cupy.cuda.ExternalStream(cuda_stream, device)


def _record(dtype, **fields):
    """A size-one numpy array of the struct ``dtype``: a by-value kernel argument."""
    record = np.zeros((), dtype)
    for field, value in fields.items():
        record[field] = value
    return record


def _layout(view):
    ndim = len(view.shape)
    return _record(LAYOUT, shape=list(view.shape) + [0] * (MAX_DIMS - ndim),
                   stride=list(view.strides) + [0] * (MAX_DIMS - ndim), ndim=ndim)


def _launch(device, cuda_stream, name, args, work_items, uploads=()):
    """Kernel ``name`` on ``cuda_stream`` (a ``cudaStream_t`` as an integer, 0 the legacy
    default stream) of ``device``, over ``work_items``. The host arrays ``uploads`` are
    copied to the device on that stream and passed first, as pointers; then ``args``,
    numpy scalars and size-one structured arrays, by value."""
    import cupy

    with cupy.cuda.Device(device), _cupy_stream(cuda_stream, device):
        kernel = _kernel(_target(device), name)
        pointers = tuple(cupy.asarray(a) for a in uploads)
        kernel((grid(work_items, _max_grid(device)),), (THREADS,), pointers + args)


def fill(view, draw):
    """``backends.Backend.fill``: one launch of ``fill<rule, store>`` (or its strided
    twin) over the draw's Philox blocks."""
    rule = draw.rule
    strided = bool(view.shape)
    counter = _record(COUNTER, seed=draw.seed, stream=draw.stream, block0=draw.block0)
    params = _record(PARAMS, v=[float(v) for v in rule.params] + [0.0] * (7 - len(rule.params)))
    args = (np.uint64(view.ptr), counter, np.int64(draw.start), np.int64(view.size), params)
    if strided:
        args += (_layout(view),)
    _launch(view.device, view.cuda_stream, fill_name(rule.name, view.dtype, strided), args,
            philox_blocks(draw.start, view.size, ELEMENTS_PER_BLOCK[rule.name]))


def fill_constant(view, bits):
    """``backends.Backend.fill_constant``: one launch of ``fill_constant<word>`` (or its
    strided twin), a work item per 4 elements."""
    word = word_type(view.dtype)
    strided = bool(view.shape)
    args = (np.uint64(view.ptr), np.int64(view.size), word(bits))
    if strided:
        args += (_layout(view),)
    _launch(view.device, view.cuda_stream, constant_name(np.dtype(word).itemsize, strided),
            args, -(-view.size // 4))


def work_items(dtype, rows):
    """The work items of each of ``rows`` (``ENTRY``) for ``fill_many<Store>``
    (kernels/README.md): ``launch.row_items``, a constant row's items its 16-byte groups
    (the first at the 16-byte boundary at or below ``ptr``)."""
    itemsize = np.dtype(STORAGE[dtype]).itemsize
    ptr = rows["ptr"]
    phase = np.where(ptr % itemsize == 0, ptr % 16 // itemsize, 0).astype(np.int64)
    return row_items(dtype, rows, -(-(phase + rows["n"]) // (16 // itemsize)))


def fill_many(table):
    """``backends.Backend.fill_many``: one launch of ``fill_many<Store>``. The rows
    (addresses on ``table.device``, of a ``FAMILY_RULES`` dtype) and their work prefix go
    to the device first, on ``table.cuda_stream``."""
    rows = np.ascontiguousarray(table.rows, ENTRY)
    first = prefix(work_items(table.dtype, rows))
    total = int(first[-1])
    if total == 0:
        return
    _launch(table.device, table.cuda_stream, many_name(table.dtype),
            (np.int32(len(rows)), np.int64(total)), total, uploads=(rows.view(np.uint8), first))
