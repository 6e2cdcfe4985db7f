"""CuPy backend: the CUDA C kernels of ``kernels/`` through one ``cupy.RawModule``.

The sources ship inside the package (``fastinit/kernels`` is the repository's
``kernels/``). One module holds every (kernel, rule, storage) instantiation as a
``name_expressions`` entry; CuPy compiles it on first use per device and caches the
binary on disk, keyed on the source text and options, which include a hash of every
kernel file. NVRTC compiles with ``--fmad=false``: no multiply-add is contracted, so
every value equals the CPU backend's bit for bit (docs/stream.md).

A fill is one launch on the destination's stream: a grid-stride loop sized from the
device's multiprocessor count, no host synchronization, no temporary allocation.
``fill_many`` fills a table of destinations (``backends.ENTRY``) in one launch; it
copies the table and its work prefix to the device first, on the same stream, into
CuPy's memory pool (stream-ordered: freed blocks are reused on that stream only).
"""

import functools
import hashlib
from pathlib import Path

import numpy as np

from .._constants import ELEMENTS_PER_BLOCK
from . import ENTRY, FAMILIES, FAMILY_RULES, MAX_DIMS, STORAGE

KERNEL_DIR = Path(__file__).resolve().parent.parent / "kernels"
THREADS = 256
WAVES = 8  # resident thread blocks per multiprocessor the grid is sized for, at most

_STORES = {"float32": "f32", "float64": "f64", "uint32": "u32", "bfloat16": "bf16",
           "float16": "f16", "bool": "u8", "uint8": "u8"}
_RULE_DTYPES = {
    "raw": ("uint32",),
    "bernoulli": ("bool", "uint8", "float16", "bfloat16", "float32", "float64"),
    "uniform16": ("float16", "bfloat16"),
    "uniform32": ("float32",),
    "uniform64": ("float64",),
    "normal32": ("float16", "bfloat16", "float32"),
    "normal64": ("float64",),
    "truncnorm32": ("float16", "bfloat16", "float32"),
    "truncnorm64": ("float64",),
}
_WORDS = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long"}
_WORD_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# The kernels' by-value structs (kernels/fill.cuh), as aligned numpy records.
COUNTER = np.dtype([("seed", "<u8"), ("stream", "<u8"), ("block0", "<u8")], align=True)
PARAMS = np.dtype([("v", "<f8", (7,))], align=True)
LAYOUT = np.dtype([("shape", "<i8", (MAX_DIMS,)), ("stride", "<i8", (MAX_DIMS,)),
                   ("ndim", "<i4")], align=True)


def fill_name(rule_name, dtype, strided):
    kernel = "fill_strided" if strided else "fill"
    return f"fastinit::{kernel}<fastinit::rule::{rule_name}, fastinit::store::{_STORES[dtype]}>"


def constant_name(itemsize, strided):
    kernel = "fill_constant_strided" if strided else "fill_constant"
    return f"fastinit::{kernel}<{_WORDS[itemsize]}>"


def many_name(dtype):
    return f"fastinit::fill_many<fastinit::store::{_STORES[dtype]}>"


NAME_EXPRESSIONS = tuple(
    [fill_name(rule, dtype, strided) for rule, dtypes in _RULE_DTYPES.items() for dtype in dtypes
     for strided in (False, True)]
    + [constant_name(size, strided) for size in _WORDS for strided in (False, True)]
    + [many_name(dtype) for dtype in FAMILY_RULES])


def source_hash():
    """SHA-1 of every kernel source, so CuPy's cache never serves a stale binary."""
    digest = hashlib.sha1()
    for path in sorted(KERNEL_DIR.glob("*.cu*")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def compile_options():
    return ("--std=c++17", "--fmad=false", f"-I{KERNEL_DIR}",
            f"-DFASTINIT_SOURCE_HASH={source_hash()}")


def available():
    try:
        import cupy
    except ImportError:
        return False, "CuPy is not installed (pip install fastinit[cuda12] or fastinit[cuda13])"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except RuntimeError as error:  # CUDARuntimeError: no driver, no device
        return False, f"CuPy finds no CUDA device ({error})"
    if count == 0:
        return False, "CuPy finds no CUDA device"
    return True, ""


@functools.cache
def _module():
    import cupy

    code = (KERNEL_DIR / "fastinit.cu").read_text()
    return cupy.RawModule(code=code, options=compile_options(),
                          name_expressions=NAME_EXPRESSIONS)


@functools.cache
def _max_grid(device):
    import cupy

    sms = cupy.cuda.Device(device).attributes["MultiProcessorCount"]
    return sms * WAVES * (2048 // THREADS)


def _grid(device, work_items):
    return max(1, min(-(-work_items // THREADS), _max_grid(device)))


def _layout(view):
    layout = np.zeros((), LAYOUT)
    ndim = len(view.shape)
    layout["shape"][:ndim] = view.shape
    layout["stride"][:ndim] = view.strides
    layout["ndim"] = ndim
    return layout


def _launch(device, stream, name, args, work_items):
    """Kernel ``name`` on ``stream`` (a ``cudaStream_t`` as an integer, 0 the legacy
    default stream) of ``device``, over ``work_items``. Numpy scalars and records in
    ``args`` pass by value; numpy arrays are copied to the device, on that stream,
    and pass as pointers."""
    import cupy

    kernel = _module().get_function(name)
    with cupy.cuda.Device(device):
        launch_stream = (cupy.cuda.Stream.null if stream == 0
                         else cupy.cuda.ExternalStream(stream, device))
        with launch_stream:
            args = tuple(cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
            kernel((_grid(device, work_items),), (THREADS,), args)


def fill(view, rule, seed, stream, block0, start):
    """Write logical elements [start, start + view.size) of ``rule``'s stream for
    (seed, stream) from Philox block ``block0`` into ``view`` (a ``DeviceView``)."""
    strided = bool(view.shape)
    counter = np.array((seed, stream, block0), COUNTER)[()]
    params = np.zeros((), PARAMS)
    params["v"][:len(rule.params)] = [float(v) for v in rule.params]
    args = (np.uint64(view.ptr), counter, np.int64(start), np.int64(view.size), params[()])
    if strided:
        args += (_layout(view)[()],)
    epb = ELEMENTS_PER_BLOCK[rule.name]
    blocks = (start + view.size + epb - 1) // epb - start // epb
    _launch(view.device, view.stream, fill_name(rule.name, view.dtype, strided), args, blocks)


def fill_constant(view, bits):
    """Set every element of ``view`` to the storage word ``bits``."""
    itemsize = np.dtype(STORAGE[view.dtype]).itemsize
    strided = bool(view.shape)
    args = (np.uint64(view.ptr), np.int64(view.size), _WORD_TYPES[itemsize](bits))
    if strided:
        args += (_layout(view)[()],)
    _launch(view.device, view.stream, constant_name(itemsize, strided), args, -(-view.size // 4))


def work_items(dtype, table):
    """The work items of each row of ``table`` for ``fill_many<Store>`` (kernels/README.md):
    a random row's Philox blocks [start // E, ceil((start + n) / E)), a constant row's
    16-byte groups (the first at the 16-byte boundary at or below ``ptr``), none when
    n is 0."""
    itemsize = np.dtype(STORAGE[dtype]).itemsize
    group = 16 // itemsize
    n, start, ptr, family = table["n"], table["start"], table["ptr"], table["family"]
    constant = family == FAMILIES.index("constant")
    # per row: the grouping's width and where the row's first element falls in it
    width = np.array([ELEMENTS_PER_BLOCK[r] for r in FAMILY_RULES[dtype]] + [group])[family]
    phase = np.where(ptr % itemsize == 0, ptr % 16 // itemsize, 0).astype(np.int64)
    lead = np.where(constant, phase, start)
    return np.where(n > 0, -(-(lead + n) // width) - lead // width, 0)


def fill_many(device, stream, dtype, table):
    """Fill every row of ``table`` (a ``backends.ENTRY`` array of addresses on
    ``device``, its families indices into ``FAMILIES``, all of storage ``dtype``: a
    ``FAMILY_RULES`` key) in one launch on ``stream`` (0: the legacy default stream):
    each row gets exactly what ``cpu.fill_many`` writes into it. The table and its work
    prefix go to the device first, on that stream. Rows may be empty; an empty table
    launches nothing."""
    table = np.ascontiguousarray(table, ENTRY)
    first = np.zeros(len(table) + 1, np.int64)
    np.cumsum(work_items(dtype, table), out=first[1:])
    total = int(first[-1])
    if total == 0:
        return
    _launch(device, stream, many_name(dtype),
            (table.view(np.uint8), first, np.int32(len(table)), np.int64(total)), total)
