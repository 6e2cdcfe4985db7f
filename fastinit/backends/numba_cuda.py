"""numba.cuda backend: ``backends.rules`` and ``fastinit.core``, compiled by ``numba.cuda``.

The same Python source as the CPU backend runs here: the rules' parameter tuples,
emitters, storage conversions and strided addressing come from
``fastinit.backends.rules`` and the Philox and transform functions from
``fastinit.core``, all ``_bits.device`` functions, which ``numba.cuda`` compiles as
device functions and NVVM inlines. One kernel per
(rule, storage format, contiguous or strided) is built on first use and kept; Numba
then compiles it once per argument types (the number of strided dimensions).

Kernel: a 1-D grid-stride loop over the fill's Philox blocks
``b in [start // E, ceil((start + n) / E))`` with 64-bit indices. A thread computes one
whole block (four words, ``E`` elements, and for the bounded integers the retry blocks of
any rejected try) per iteration into a ``cuda.local.array``
of the rule's precision, rounds each value to the storage format (bfloat16 / float16
bits, uint8 for masks, as the CPU backend's ``_round``) and stores the ones inside
``[start, start + n)``. What an element gets depends only on its index, never on
the grid, the block size or which thread computes it.

``fill(view, draw)`` wraps the view's memory span in a device array with
``from_cuda_array_interface`` (no copy, no synchronization) and launches on the
view's CUDA stream of the view's device, a grid sized as ``launch`` says; a fill never
synchronizes the host and allocates no device memory.

``fill_many`` fills a ``Table`` of contiguous destinations of one dtype with one kernel
per dtype: the rows' work items (a random row's Philox blocks, a constant row's
elements) lie end to end, a grid-stride loop walks them, a thread finds its item's row
by bisection over their prefix sums when it leaves a row, and writes each block as
``fill`` does (the same block writer). The rows and the prefix sums are copied on the
launch's CUDA stream to device memory numba.cuda allocates (see ``fill_many`` on when
it frees it, which can block the host).

Float rounding: every product that feeds an addition is ``_bits.mul``, PTX ``mul.rn``
here, which NVVM never contracts into a fused multiply-add, so the kernels write the
CPU backend's values bit for bit (docs/stream.md, section 4, tells the whole story and
how it is checked, with and without a GPU).

``numba.cuda`` is imported on first use, so importing this module is cheap and never
fails; ``available()`` says whether fills can run.
"""

import contextlib
import ctypes
import functools
import warnings

import numpy as np

from .. import core
from .._bits import device, register_cuda_mul
from .._constants import PHILOX_ROUNDS
from ..registry import ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES, STORES
from . import ENTRY, STORAGE, word_type
from .launch import THREADS, grid, max_grid, philox_blocks, prefix, row_items
from .rules import CODE, CONVERT, array_at, element_offset, pointer, row_of, row_params

cuda = None  # numba.cuda once imported; kernels read it as a global (the simulator swaps it)

WAVES = 4  # full-occupancy waves of the device the grid is capped at (launch.max_grid)

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)

_UNIFORM, _NORMAL, _TRUNCNORM = (FAMILIES.index(f) for f in ("uniform", "normal", "truncnorm"))


def _import_cuda():
    global cuda
    if cuda is None:
        from numba import cuda as numba_cuda

        cuda = numba_cuda
        if not _simulated():  # the simulator runs kernels as Python: mul is a * b
            _register_cuda_overloads()
    return cuda


def _register_cuda_overloads():
    """On the CUDA target: ``_bits.mul`` as libdevice's ``fmul_rn``/``dmul_rn``, and
    ``_device_array`` as numba-cuda's ``carray`` at the address."""
    try:
        from numba.cuda import libdevice
        from numba.cuda.extending import overload
        from numba.cuda.np.numpy_support import carray
    except ImportError:  # numba's deprecated built-in target, which available() refuses
        return
    register_cuda_mul(overload, libdevice)

    # Inlined by Numba: a CUDA device function cannot return an array it made.
    @overload(_device_array, target="cuda", inline="always")
    def _device_array_cuda(address, n, dtype):
        return lambda address, n, dtype: carray(pointer(address), n, dtype)


def _device_array(address, n, dtype):
    """The ``n`` elements of ``dtype`` at device address ``address`` as an array, in a
    kernel. As Python (under the simulator, whose device memory is host memory) a numpy
    view of that host memory."""
    return array_at(address, n, dtype)


def _simulated():
    return cuda.is_available.__module__.endswith("simulator_init")


def available():
    """``(True, how)`` if numba.cuda can launch kernels here, else ``(False, why)``.

    The CUDA simulator counts only when ``NUMBA_ENABLE_CUDASIM=1`` was set before
    Numba was imported (otherwise numba.cuda is the real target)."""
    try:
        _import_cuda()
    except Exception as exc:  # noqa: BLE001 -- not installed, no usable CUDA bindings, ...
        return False, f"numba.cuda cannot be imported: {type(exc).__name__}: {exc}"
    if _simulated():
        return True, "numba.cuda simulator (NUMBA_ENABLE_CUDASIM=1)"
    if getattr(cuda, "implementation", None) == "Built-in":
        # numba's own CUDA target, deprecated since numba 0.61: under recent numba it
        # cannot compile min()/max() of two floats (numba's *args overloads of them),
        # which the uniform and truncated-normal rules use.
        return False, "numba.cuda is numba's deprecated built-in CUDA target: install numba-cuda"
    try:
        ok = cuda.is_available()
        error = None if ok else cuda.cuda_error()
    except Exception as exc:  # noqa: BLE001 -- a probe: say why, never raise
        return False, f"numba.cuda cannot initialize CUDA: {type(exc).__name__}: {exc}"
    if not ok:
        # is_available() also needs NVVM, and cuda_error() says only why the driver failed
        why = (f": {' '.join(str(error).split())}" if error
               else " (no NVIDIA driver or device, or NVVM cannot be loaded)")
        return False, "numba.cuda finds no usable GPU" + why
    why = _cannot_compile()
    if why:
        return False, why
    return True, "numba.cuda (numba-cuda)"


@functools.cache
def _cannot_compile():
    """Why numba.cuda cannot compile a kernel in this process, or ``""``: a driver and a
    device are not enough. numba-cuda 0.30 (in maintenance) registers an overload of
    ``np.row_stack`` when it first loads its typing registries, and numpy 2.5 removed
    ``np.row_stack``: there every compilation fails (NVIDIA/numba-cuda#907). The probe
    compiles an empty kernel to PTX once, for a fixed compute capability (no device
    query), so the registries load then rather than at the first fill, and reports
    whatever fails."""
    try:
        cuda.compile_ptx(_empty_kernel, (), cc=(8, 0))
    except Exception as exc:  # noqa: BLE001 -- a probe: say why, never raise
        import numba_cuda

        versions = f"numba-cuda {numba_cuda.__version__} with numpy {np.__version__}"
        hint = ("; numba-cuda does not support numpy 2.5 (NVIDIA/numba-cuda#907): install "
                "numpy<2.5, or use backend='cupy'" if "row_stack" in str(exc) else "")
        return f"numba.cuda cannot compile a kernel ({versions}): {type(exc).__name__}: {exc}{hint}"
    return ""


def _empty_kernel():
    pass


# --- kernels -------------------------------------------------------------------------


@device
def _contiguous_offset(i, shape, strides):
    return i


@device
def _thread_rank():
    return np.int64(cuda.blockIdx.x) * np.int64(cuda.blockDim.x) + np.int64(cuda.threadIdx.x)


@device
def _thread_count():
    return np.int64(cuda.gridDim.x) * np.int64(cuda.blockDim.x)


def _make_block_writer(rule_name, store, strided):
    """A device function writing Philox block ``b`` of a fill: its elements inside
    [start, end) go to buf[origin + offset(element - start)], rounded to the storage
    format, through ``vals`` (scratch of the rule's width and precision). Emitter, block
    width, rounding and addressing are chosen here, in Python, and reach it as constants."""
    emit, rejects, retry = (CODE[rule_name].emit, CODE[rule_name].rejects,
                            CODE[rule_name].retry)
    epb = ELEMENTS_PER_BLOCK[rule_name]
    convert = CONVERT[store]
    offset = element_offset if strided else _contiguous_offset

    def write_block(buf, origin, shape, strides, p, key0, key1, s0, s1, block0, start, end, b,
                    vals):
        ctr = block0 + np.uint64(b)  # the block counter wraps modulo 2**64
        w0, w1, w2, w3 = core.philox_words(ctr & _MASK32, ctr >> _SHIFT32, s0, s1, key0, key1,
                                           PHILOX_ROUNDS)
        w0, w1, w2, w3 = np.uint32(w0), np.uint32(w1), np.uint32(w2), np.uint32(w3)
        emit(p, w0, w1, w2, w3, vals, 0)
        if rejects(p, w0, w1, w2, w3):  # never, but for the bounded integers
            retry(p, w0, w1, w2, w3, vals, 0, (ctr, s0, s1, key0, key1))
        g0 = b * epb
        for k in range(epb):
            g = g0 + k
            if g >= start and g < end:
                buf[origin + offset(g - start, shape, strides)] = convert(vals[k])

    return device(write_block)


@functools.cache
def _kernel(rule_name, store, strided):
    """The fill kernel of one rule, storage format and layout kind."""
    precision = CODE[rule_name].precision
    epb = ELEMENTS_PER_BLOCK[rule_name]
    write_block = _make_block_writer(rule_name, store, strided)

    def kernel(buf, origin, shape, strides, p, key0, key1, s0, s1, block0, start, n):
        """Elements [start, start + n) into buf[origin + offset(i)], i = element - start."""
        vals = cuda.local.array(epb, precision)
        end = start + n
        last = (end + (epb - 1)) // epb
        step = _thread_count()
        b = start // epb + _thread_rank()
        while b < last:
            write_block(buf, origin, shape, strides, p, key0, key1, s0, s1, block0, start, end,
                        b, vals)
            b += step

    layout = "strided" if strided else "contiguous"
    kernel.__name__ = kernel.__qualname__ = (
        f"fill_{rule_name}_{store}_{layout}")
    return cuda.jit(kernel)



@functools.cache
def _constant_kernel(strided):
    offset = element_offset if strided else _contiguous_offset

    def kernel(buf, origin, shape, strides, word, n):
        i = _thread_rank()
        step = _thread_count()
        while i < n:
            buf[origin + offset(i, shape, strides)] = word
            i += step

    layout = "strided" if strided else "contiguous"
    kernel.__name__ = kernel.__qualname__ = f"fill_constant_{layout}"
    return cuda.jit(kernel)



def _make_row_filler(rule_name, dtype):
    """A device function filling items k, k + step, ... below ``items`` of a table row
    of rule ``rule_name`` (item k: Philox block start // E + k); it returns the first
    k >= items. The row's parameters convert as ``cpu.fill_many`` converts them."""
    storage = STORAGE[dtype]
    params = CODE[rule_name].from_row
    precision = CODE[rule_name].precision
    epb = ELEMENTS_PER_BLOCK[rule_name]
    write_block = _make_block_writer(rule_name, STORES[dtype], False)

    def fill_row(row, k, items, step):
        n, start, seed, stream = row["n"], row["start"], row["seed"], row["stream"]
        buf = _device_array(row["ptr"], n, storage)
        p = params(row["params"])
        vals = cuda.local.array(epb, precision)
        b0 = start // epb
        while k < items:
            write_block(buf, 0, (), (), p, seed & _MASK32, seed >> _SHIFT32, stream & _MASK32,
                        stream >> _SHIFT32, row["block0"], start, start + n, b0 + k, vals)
            k += step
        return k

    return device(fill_row)


@functools.cache
def _many_kernel(dtype):
    """The fill_many kernel of one dtype (see ``fill_many``); the family's rules come
    from ``registry.FAMILY_RULES``."""
    uniform, normal, truncnorm = (_make_row_filler(rule, dtype) for rule in FAMILY_RULES[dtype])
    word = word_type(dtype)

    def kernel(table, first, total):
        """Items [0, total) of the rows of ``table``, row e's at [first[e], first[e + 1])."""
        step = _thread_count()
        g = _thread_rank()
        e = 0
        while g < total:
            e = row_of(first, e, g)
            row = table[e]
            k = g - first[e]
            items = first[e + 1] - first[e]
            family = row["family"]
            if family == _UNIFORM:
                k = uniform(row, k, items, step)
            elif family == _NORMAL:
                k = normal(row, k, items, step)
            elif family == _TRUNCNORM:
                k = truncnorm(row, k, items, step)
            else:  # _CONSTANT: item k is element k
                words = _device_array(row["ptr"], row["n"], word)
                value = word(row["bits"])
                while k < items:
                    words[k] = value
                    k += step
            g = first[e] + k
            e += 1  # g >= first[e + 1]: the next row is further on

    kernel.__name__ = kernel.__qualname__ = f"fill_many_{dtype}"
    return cuda.jit(kernel)



# --- launches ------------------------------------------------------------------------

_MAX_GRID = {}


def _max_grid():
    """``launch.max_grid`` of the current device (2 under the simulator)."""
    if _simulated():
        return 2
    dev = cuda.get_current_device()
    blocks = _MAX_GRID.get(dev.id)
    if blocks is None:
        blocks = _MAX_GRID[dev.id] = max_grid(dev.MULTIPROCESSOR_COUNT,
                                              dev.MAX_THREADS_PER_MULTIPROCESSOR, WAVES)
    return blocks


def _launch_shape(items):
    """(blocks, threads per block) for ``items`` work items (``launch.grid``)."""
    return grid(items, _max_grid()), THREADS


def _launch_stream(cuda_stream):
    """A numba stream for ``cuda_stream``: 0 (the legacy default stream), a
    ``cudaStream_t`` as an integer, or a numba stream object."""
    if _simulated():
        return 0
    if isinstance(cuda_stream, (int, np.integer)):
        if int(cuda_stream) == 0:
            return cuda.legacy_default_stream()
        return cuda.external_stream(int(cuda_stream))
    return cuda_stream


def _launch(kernel, items, cuda_stream, args):
    blocks, threads = _launch_shape(items)
    on = _launch_stream(cuda_stream)
    if blocks >= 128:
        kernel[blocks, threads, on](*args)
        return
    # Small fills use small grids on purpose: silence numba's low-occupancy warning.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*under-utilization.*")
        kernel[blocks, threads, on](*args)


def _layout(shape, strides):
    return tuple(np.int64(s) for s in shape), tuple(np.int64(s) for s in strides)


def fill_array(buf, origin, view, draw):
    """Write ``draw`` into ``view``'s elements as they lie in ``buf``: element ``j`` at
    ``buf[origin + offset(j)]``, ``offset`` as ``view.shape`` and ``view.strides`` say
    (``backends.View``). ``buf`` is a 1-D contiguous device array of the storage (under
    the simulator a numpy array). Launches on ``view.cuda_stream`` (see
    ``_launch_stream``) in the current context, without synchronizing."""
    if view.size == 0:
        return
    _import_cuda()
    u = np.uint64
    mask = 0xFFFFFFFF
    rule, seed, stream = draw.rule, draw.seed, draw.stream
    params = CODE[rule.name].from_row(row_params(rule))
    shape, strides = _layout(view.shape, view.strides)
    kernel = _kernel(rule.name, STORES[view.dtype], len(shape) > 0)
    _launch(kernel, philox_blocks(draw.start, view.size, ELEMENTS_PER_BLOCK[rule.name]),
            view.cuda_stream,
            (buf, np.int64(origin), shape, strides, params, u(seed & mask), u(seed >> 32),
             u(stream & mask), u(stream >> 32), u(draw.block0), np.int64(draw.start),
             np.int64(view.size)))


def fill_constant_array(buf, origin, view, word):
    """Set ``view``'s elements, as they lie in ``buf`` (see ``fill_array``), to ``word``
    (a scalar of ``buf``'s dtype)."""
    if view.size == 0:
        return
    _import_cuda()
    shape, strides = _layout(view.shape, view.strides)
    _launch(_constant_kernel(len(shape) > 0), view.size, view.cuda_stream,
            (buf, np.int64(origin), shape, strides, word, np.int64(view.size)))


# --- device views --------------------------------------------------------------------


def _span(view, typestr):
    """1-D array of ``typestr`` items over the view's memory span
    [ptr + low * itemsize, ptr + (high + 1) * itemsize)."""
    itemsize = np.dtype(typestr).itemsize
    count = view.high - view.low + 1
    ptr = view.ptr + view.low * itemsize
    if _simulated():
        # The simulator's device memory is host memory: the pointer is a host address.
        return np.frombuffer((ctypes.c_char * (count * itemsize)).from_address(ptr), typestr)
    desc = {"shape": (count,), "strides": None, "typestr": typestr, "data": (ptr, False),
            "version": 3}
    return cuda.from_cuda_array_interface(desc, owner=None, sync=False)


def _on_device(device):
    if _simulated():
        return contextlib.nullcontext()
    return cuda.gpus[device]


def fill(view, draw):
    """``backends.Backend.fill``: the kernel of the draw's rule over its Philox blocks,
    writing exactly what ``cpu.fill`` writes (see the module note on float rounding)."""
    if view.size == 0:
        return
    _import_cuda()
    with _on_device(view.device):
        fill_array(_span(view, np.dtype(STORAGE[view.dtype]).str), -view.low, view, draw)


def fill_constant(view, bits):
    """``backends.Backend.fill_constant``: a grid-stride loop over the elements."""
    if view.size == 0:
        return
    _import_cuda()
    word = word_type(view.dtype)
    with _on_device(view.device):
        fill_constant_array(_span(view, np.dtype(word).str), -view.low, view, word(bits))


# --- many destinations ---------------------------------------------------------------


def work_items(dtype, rows):
    """The work items of each of ``rows`` (``ENTRY``) for the fill_many kernel:
    ``launch.row_items``, a constant row's items its elements."""
    return row_items(dtype, rows, rows["n"])


def _many_args(dtype, rows):
    """The fill_many kernel's arguments on the host: ``rows`` as contiguous ``ENTRY``
    rows, the prefix sums of their work items, and the total (an int64)."""
    rows = np.ascontiguousarray(rows, ENTRY)
    first = prefix(work_items(dtype, rows))
    return rows, first, first[-1]


def fill_many(table):
    """``backends.Backend.fill_many``: the fill_many kernel of ``table.dtype`` (a
    ``FAMILY_RULES`` key), rows on CUDA device ``table.device``. The rows and their prefix
    sums are copied on ``table.cuda_stream`` (see ``_launch_stream``) to device memory
    that numba.cuda allocates (``cuMemAlloc``) and frees in batches (``cuMemFree``) once
    more than ``NUMBA_CUDA_MAX_PENDING_DEALLOCS_COUNT`` (10) frees are pending, as at the
    end of every sixth call when nothing else is pending; ``cuMemFree`` waits for the
    device's queued work, so such a call blocks the host until that work is done."""
    rows, first, total = _many_args(table.dtype, table.rows)
    if total == 0:
        return
    _import_cuda()
    with _on_device(table.device):
        on = _launch_stream(table.cuda_stream)
        args = (cuda.to_device(rows, stream=on), cuda.to_device(first, stream=on), total)
        _launch(_many_kernel(table.dtype), int(total), on, args)
