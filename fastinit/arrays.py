"""Destinations: what an output is, where it lives, and the one place that picks a backend.

Host memory: numpy arrays (float16, ``ml_dtypes.bfloat16``, float32, float64, bool, and
the integer types int8 to int64 and uint8 to uint64 for bounded integers, masks and raw
words) and torch CPU tensors of the same dtypes (``torch.bfloat16`` included) go to the
CPU backend.

Device memory: torch CUDA tensors, CuPy arrays and any object with
``__cuda_array_interface__`` go to a GPU backend, launched on the destination's
current stream (torch's or CuPy's current stream, or the interface's ``stream``) with
no host synchronization. Objects that only speak DLPack (``__dlpack__``) are imported
zero-copy (numpy for host memory; CuPy, else torch, for CUDA memory) and filled in place.

Any layout works: C or Fortran order, strided, offset and negative-stride views.
Element ``i`` of the logical C-order index always gets value ``i`` of the stream;
memory outside the view is never touched. Each destination reaches its backend as a
``backends.View`` (``view_of``), and every backend is called the same way (the
``backends.Backend`` protocol).

A C-contiguous destination can also hold a sub-box of a larger logical tensor (a chunk
of a Dask array): ``fill_box`` writes each of its elements the value of its index in
the whole, in one backend call however many rows the box cuts.
"""

import ctypes
import functools
import importlib
import math
import operator
import sys
from typing import NamedTuple

import numpy as np

from .backends import MAX_DIMS, STORAGE, Table, View, cpu, run_table
from .backends.rules import row_params
from .registry import FAMILY_RULES

_NUMPY_NAMES = {
    np.dtype(np.float16): "float16",
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.bool_): "bool",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.uint32): "uint32",
    np.dtype(np.int8): "int8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint64): "uint64",
}
_TYPESTR_NAMES = {dtype.str: name for dtype, name in _NUMPY_NAMES.items()}


def _numpy_name(dtype):
    """fastinit's name of a numpy dtype, or None. A bfloat16 array exists only once
    ml_dtypes is imported, so it is looked for only then (importing it costs 0.6 s)."""
    name = _NUMPY_NAMES.get(dtype)
    ml_dtypes = sys.modules.get("ml_dtypes")
    if name is None and ml_dtypes is not None and dtype == np.dtype(ml_dtypes.bfloat16):
        return "bfloat16"
    return name

_SUPPORTED = ("float16, bfloat16, float32, float64, bool, and the integer types of 8 to 64 "
              "bits")

BACKENDS = ("cpu", "cupy", "numba_cuda")
GPU_BACKENDS = ("cupy", "numba_cuda")  # the default order: fastest first
_DLPACK_CPU, _DLPACK_CUDA = 1, 2  # DLDeviceType codes
_DLPACK_READ_ONLY = 1  # DLPACK_FLAG_BITMASK_READ_ONLY


class _DLPackHead(ctypes.Structure):
    """The head of DLPack 1.0's ``DLManagedTensorVersioned``, up to its flags."""

    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32),
                ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64)]


_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))


def _dlpack_read_only(x):
    """Whether the DLPack producer ``x`` marks its memory read-only. Only DLPack 1.0
    capsules carry the flag; a producer of the older protocol has none to give."""
    try:
        capsule = x.__dlpack__(max_version=(1, 0))
    except TypeError:  # a producer without max_version: the older protocol
        return False
    name = b"dltensor_versioned"
    if not _capsule_is_valid(capsule, name):  # a producer may answer with the older capsule
        return False
    head = _DLPackHead.from_address(_capsule_pointer(capsule, name))
    return bool(head.flags & _DLPACK_READ_ONLY)


def _torch():
    return sys.modules.get("torch")


def _cupy():
    return sys.modules.get("cupy")


def is_torch_tensor(x):
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def is_cupy_array(x):
    cupy = _cupy()
    return cupy is not None and isinstance(x, cupy.ndarray)


def _native(x):
    """``x`` itself if fastinit reads it directly, else a zero-copy import of a
    DLPack-only object; a TypeError for anything else."""
    if isinstance(x, np.ndarray) or is_torch_tensor(x) or is_cupy_array(x):
        return x
    if hasattr(x, "__cuda_array_interface__"):
        return x
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        device_type = int(x.__dlpack_device__()[0])
        if device_type == _DLPACK_CPU:
            return np.from_dlpack(x)
        if device_type == _DLPACK_CUDA:
            # CuPy and torch import a read-only capsule as writable memory
            if _dlpack_read_only(x):
                raise ValueError("destination is read-only (DLPack read-only flag)")
            try:
                import cupy

                return cupy.from_dlpack(x)
            except ImportError:
                pass
            try:
                import torch

                return torch.from_dlpack(x)
            except ImportError:
                raise TypeError("a CUDA DLPack object needs CuPy or torch to be imported "
                                "zero-copy; install one of them") from None
        raise TypeError(f"DLPack device type {device_type} is not supported; expected CPU (1) "
                        "or CUDA (2)")
    raise TypeError("expected a numpy array, torch tensor, CuPy array, or an object with "
                    f"__cuda_array_interface__ or __dlpack__, got {type(x).__name__}")


class Destination(NamedTuple):
    """A destination as a fill sees it, read once and carried through the call.

    ``array`` is what fastinit writes: the destination itself, or the zero-copy import
    of an object that only speaks DLPack. ``dtype`` is fastinit's name of its dtype
    (None where no kernel writes it), ``shape`` and ``size`` its logical shape and
    element count, ``device`` where its memory is ("cpu", "cuda", or torch's name of
    another device, such as "meta"), ``is_torch`` whether it is a torch tensor.
    """

    array: object
    dtype: object
    shape: tuple
    size: int
    device: str
    is_torch: bool


@functools.cache
def _torch_name(dtype):
    """fastinit's name of a torch dtype, or None."""
    name = str(dtype).removeprefix("torch.")
    return name if name in STORAGE else None


def destination(x):
    """The ``Destination`` of ``x`` (``x`` itself if it is one); a TypeError for what
    no fill takes."""
    if isinstance(x, Destination):
        return x
    if not is_torch_tensor(x):
        x = _native(x)
    if is_torch_tensor(x):
        return Destination(x, _torch_name(x.dtype), tuple(x.shape), x.numel(),
                           "cpu" if x.is_cpu else x.device.type, True)
    if isinstance(x, np.ndarray):
        return Destination(x, _numpy_name(x.dtype), x.shape, x.size, "cpu", False)
    if is_cupy_array(x):
        return Destination(x, _numpy_name(np.dtype(x.dtype)), tuple(x.shape), x.size, "cuda",
                           False)
    cai = x.__cuda_array_interface__
    shape = tuple(int(s) for s in cai["shape"])
    return Destination(x, _TYPESTR_NAMES.get(cai["typestr"]), shape, math.prod(shape),
                       "cuda", False)


_NUMPY = "numpy"
_host_kinds = {}  # type -> _NUMPY, the layout a torch tensor of it must have, or None


def _host_kind(kind):
    """What ``host_run`` reads of a ``kind`` object: _NUMPY for a numpy array, the strided
    layout for a plain torch tensor or ``Parameter``, None for anything else."""
    if kind not in _host_kinds:
        torch = _torch()
        dense = () if torch is None else (torch.Tensor, torch.nn.Parameter)
        _host_kinds[kind] = (_NUMPY if kind is np.ndarray else torch.strided if kind in dense
                             else None)
    return _host_kinds[kind]


def host_run(x):
    """``(address, dtype name, size, is_torch)`` of ``x`` where a fill may write it as
    one run of host memory without a ``destination`` and a view: a C-contiguous,
    writable numpy array, or a contiguous, dense CPU torch tensor (or ``Parameter``), of
    a dtype a kernel writes; None for anything else (``destination`` and ``fill`` then
    read it, or say why not). A tensor that requires grad is not refused: the caller
    writes it as ``torch.nn.init`` does, under no grad (and ``torch_written``)."""
    kind = _host_kinds.get(type(x)) or _host_kind(type(x))
    if kind is _NUMPY:
        dtype = _numpy_name(x.dtype)
        if dtype is None or not (x.flags.c_contiguous and x.flags.writeable):
            return None
        return x.__array_interface__["data"][0], dtype, x.size, False
    if kind is None or not x.is_cpu or x.layout is not kind:
        return None
    dtype = _torch_name(x.dtype)
    if dtype is None or not x.is_contiguous() or x.is_neg():
        return None
    return x.data_ptr(), dtype, x.numel(), True


def is_device_array(x):
    """Whether ``x`` lives in CUDA device memory."""
    return destination(x).device == "cuda"


def dtype_name(x):
    """fastinit's name of the destination's dtype, or a TypeError."""
    dest = destination(x)
    if dest.dtype is not None:
        return dest.dtype
    x = dest.array
    if dest.is_torch:
        raise TypeError(f"tensor dtype {x.dtype} is not supported; expected one of "
                        + _SUPPORTED)
    if isinstance(x, np.ndarray) or is_cupy_array(x):
        raise TypeError(f"array dtype {x.dtype} is not supported; expected one of "
                        + _SUPPORTED)
    raise TypeError(f"__cuda_array_interface__ typestr {x.__cuda_array_interface__['typestr']!r}"
                    f" is not supported; expected one of {', '.join(_TYPESTR_NAMES)}")


def has_fill_dtype(x):
    """Whether fastinit's kernels write ``x``'s dtype."""
    return destination(x).dtype is not None


def indexable(x):
    """``x`` as an array with numpy-style indexing: numpy, torch and CuPy arrays as they
    are, DLPack objects imported, and a zero-copy CuPy view of any other
    ``__cuda_array_interface__`` object."""
    x = destination(x).array
    if isinstance(x, np.ndarray) or is_torch_tensor(x) or is_cupy_array(x):
        return x
    import cupy

    return cupy.asarray(x)


def shape_of(x):
    return destination(x).shape


# --- layouts ---------------------------------------------------------------------------


def _element_strides(byte_strides, itemsize):
    if any(s % itemsize for s in byte_strides):
        raise ValueError(f"strides {tuple(byte_strides)} are not multiples of the item size "
                         f"{itemsize}")
    return tuple(s // itemsize for s in byte_strides)


def _collapse(shape, strides):
    """(shape, strides, low, high) of a view with element ``strides``: dimensions of
    size 1 dropped, mergeable neighbours merged, shape () if what is left is plain
    contiguous C order; ``low``/``high`` are the smallest/largest element offsets."""
    merged_shape, merged_strides = [], []
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if s == 0:
            raise ValueError("destination has overlapping elements (a zero stride, e.g. a "
                             "broadcast or expanded view); fill a contiguous copy instead")
        if merged_shape and merged_strides[-1] == s * n:
            merged_shape[-1] *= n
            merged_strides[-1] = s
        else:
            merged_shape.append(n)
            merged_strides.append(s)
    low = sum((n - 1) * s for n, s in zip(merged_shape, merged_strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(merged_shape, merged_strides) if s > 0)
    if len(merged_shape) <= 1 and (not merged_strides or merged_strides[0] == 1):
        return (), (), low, high
    return tuple(merged_shape), tuple(merged_strides), low, high


# --- views -----------------------------------------------------------------------------


def _checked_torch(x):
    """A torch tensor fastinit may write: dense, and with no grad to track."""
    if x.requires_grad and x.is_leaf and _torch().is_grad_enabled():
        raise ValueError("tensor requires grad: fill it under torch.no_grad(), as "
                         "torch.nn.init does (fastinit's init functions do this for you)")
    if x.is_conj() or x.is_neg() or x.layout != _torch().strided:
        raise ValueError("only dense, strided tensors can be filled")
    return x


def _pointer_device(ptr):
    """The CUDA device ordinal that owns ``ptr``."""
    cupy = _cupy()
    if cupy is not None:
        return int(cupy.cuda.runtime.pointerGetAttributes(ptr).device)
    from numba import cuda

    return int(cuda.current_context().device.id)


def view_of(x):
    """The ``backends.View`` of the destination ``x`` (or its ``Destination``), of a
    dtype fastinit writes; a ValueError for memory no fill may write (read-only,
    overlapping elements, a torch tensor that requires grad or is on neither the CPU nor
    a CUDA device, a CUDA view of more than ``MAX_DIMS`` dimensions)."""
    return _view(destination(x))


def _view(dest):
    """``view_of`` a ``Destination``."""
    x, dtype, size = dest.array, dest.dtype, dest.size
    device, cuda_stream = None, 0
    if dest.is_torch:
        if dest.device not in ("cpu", "cuda"):
            raise ValueError(f"tensor is on {x.device}; fastinit fills CPU and CUDA tensors")
        ptr = _checked_torch(x).data_ptr()
        if dest.device == "cuda":
            torch = _torch()
            device = x.device.index if x.device.index is not None else torch.cuda.current_device()
            cuda_stream = torch.cuda.current_stream(device).cuda_stream
        if x.is_contiguous():  # its address is all a backend needs
            return View(ptr, dtype, size, (), (), 0, size - 1, device, cuda_stream)
        shape, strides = dest.shape, tuple(x.stride())
    elif isinstance(x, np.ndarray):
        if not x.flags.writeable:
            raise ValueError("destination array is read-only")
        ptr = x.__array_interface__["data"][0]
        if x.flags.c_contiguous:
            return View(ptr, dtype, size, (), (), 0, size - 1, None, 0)
        shape, strides = dest.shape, _element_strides(x.strides, x.itemsize)
    elif is_cupy_array(x):
        ptr, shape = x.data.ptr, dest.shape
        strides = _element_strides(x.strides, x.itemsize)
        device = x.device.id
        cuda_stream = _cupy().cuda.get_current_stream(device).ptr
    else:
        cai = x.__cuda_array_interface__
        ptr, readonly = cai["data"]
        if readonly:
            raise ValueError("destination is read-only (__cuda_array_interface__ data flag)")
        shape = dest.shape
        itemsize = np.dtype(cai["typestr"]).itemsize
        if cai.get("strides") is None:
            strides = tuple(int(np.prod(shape[d + 1:], dtype=np.int64))
                            for d in range(len(shape)))
        else:
            strides = _element_strides(cai["strides"], itemsize)
        device = _pointer_device(ptr) if ptr else 0
        cuda_stream = cai.get("stream") or 0
    shape, strides, low, high = _collapse(shape, strides)
    if device is not None and len(shape) > MAX_DIMS:
        raise ValueError(f"a strided CUDA destination may have at most {MAX_DIMS} dimensions "
                         f"after merging, this one has {len(shape)}; fill a contiguous copy")
    if not shape:
        low, high = 0, size - 1
    return View(int(ptr), dtype, size, shape, strides, low, high, device, int(cuda_stream))


# --- backends ----------------------------------------------------------------------------


def _backend_module(name):
    return importlib.import_module(f".backends.{name}", __package__)


def backend_status():
    """``{backend: (available, why not)}`` for every backend, in the default order."""
    return {name: _backend_module(name).available() for name in BACKENDS}


def _gpu_backend(name):
    if name is None:
        reasons = []
        for candidate in GPU_BACKENDS:
            ok, why = _backend_module(candidate).available()
            if ok:
                return _backend_module(candidate)
            reasons.append(f"{candidate}: {why}")
        raise RuntimeError("no GPU backend can fill CUDA memory here (" + "; ".join(reasons)
                           + "); install fastinit[cuda12] or fastinit[cuda13] "
                           "(CuPy and numba-cuda)")
    if name == "cpu":
        raise ValueError("backend 'cpu' fills host memory; this destination is in CUDA memory "
                         f"(use one of {', '.join(GPU_BACKENDS)}, or None)")
    if name not in GPU_BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or None, got {name!r}")
    module = _backend_module(name)
    ok, why = module.available()
    if not ok:
        raise RuntimeError(f"backend {name!r} is not available: {why}")
    return module


def _backend(on_cuda, name):
    """The backend (a ``backends.Backend`` module) named ``name`` for CUDA memory
    (``on_cuda``) or host memory; None picks the CPU for host memory, the fastest GPU
    backend available for device memory."""
    if on_cuda:
        return _gpu_backend(name)
    if name not in (None, "cpu"):
        if name in GPU_BACKENDS:
            raise ValueError(f"backend {name!r} fills CUDA memory; this destination is in host "
                             "memory (use 'cpu' or None)")
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or None, got {name!r}")
    return cpu


def written(x):
    """Record an in-place write into ``x`` where autograd tracks it: a torch tensor's
    version counter goes up by one, as any in-place torch operation's does (torch's
    advice for a kernel that writes through ``data_ptr``), so that a graph which saved
    the old values refuses to backpropagate; nothing for other destinations."""
    if is_torch_tensor(x):
        torch_written(x)


def torch_written(tensor):
    """``written`` for a torch tensor."""
    _torch().autograd.graph.increment_version(tensor)


def fill(out, draw, backend=None):
    """Fill ``out`` (a destination or its ``Destination``, of a dtype ``draw.rule``
    writes) in place with ``draw`` (a ``backends.Draw``: its first element gets logical
    element ``draw.start``). ``backend`` names the backend (None: the CPU for host
    memory, the fastest GPU backend available for device memory). A torch tensor is
    ``written``."""
    dest = destination(out)
    module = _backend(dest.device == "cuda", backend)
    view = _view(dest)
    if view.size:
        module.fill(view, draw)
    written(dest.array)


def fill_many(dtype, rows, device=None, cuda_stream=0, backend=None):
    """Fill every destination of ``rows`` (a ``backends.ENTRY`` array, all of ``dtype``)
    in one pass: host memory when ``device`` is None, else memory of CUDA device
    ``device``, launched on ``cuda_stream``. ``backend`` as in ``fill``."""
    _backend(device is not None, backend).fill_many(Table(rows, dtype, device, cuda_stream))


def box_runs(offset, box, shape):
    """The sub-box ``box`` (a shape) at multi-index ``offset`` of a C-order tensor of
    ``shape`` as runs of consecutive logical indices: ``(starts, n)``, the first index
    of each run, in the box's own C order, and the length every run has. The trailing
    dimensions the box spans whole, and the one before them, make one run, so a box of
    whole rows is a single run and an (r, c) box cutting rows of a matrix is r runs of
    c. A ValueError if the box is not inside the tensor."""
    offset = tuple(operator.index(o) for o in offset)
    box = tuple(operator.index(b) for b in box)
    shape = tuple(operator.index(s) for s in shape)
    if not len(offset) == len(box) == len(shape):
        raise ValueError(f"offset {offset}, box {box} and shape {shape} must have the same "
                         "number of dimensions")
    if any(o < 0 or b < 0 or o + b > s for o, b, s in zip(offset, box, shape)):
        raise ValueError(f"a box {box} at offset {offset} is not inside a tensor of shape "
                         f"{shape}")
    whole = len(shape)
    while whole > 0 and box[whole - 1] == shape[whole - 1]:
        whole -= 1
    lead = max(whole - 1, 0)  # dimensions that index the runs
    strides = [int(np.prod(shape[d + 1:], dtype=np.int64)) for d in range(len(shape))]
    starts = np.array([sum(o * s for o, s in zip(offset, strides))], np.int64)
    for d in range(lead):
        starts = (starts[:, None] + np.arange(box[d], dtype=np.int64) * strides[d]).ravel()
    return starts, int(np.prod(box[lead:], dtype=np.int64))


def fill_box(out, draw, offset, shape, backend=None):
    """Fill the C-contiguous ``out`` in place with the box at multi-index ``offset`` of
    a logical C-order tensor of ``shape``, whose element 0 is ``draw``'s element
    ``draw.start``: element ``j`` of ``out`` gets the tensor's element ``offset + j``,
    the value ``fill`` gives logical index ``ravel_multi_index(offset + j, shape)``. The
    box goes as its runs (``box_runs``) in one backend call: one pass of the CPU kernel
    over every run (``cpu.fill_runs``); on a GPU one multi-tensor launch over a table of
    the runs for the rules ``fill_many`` knows (uniform, normal, truncated normal), one
    launch per run for others. ``backend`` as in ``fill``. Returns ``out``."""
    dest = destination(out)
    starts, n = box_runs(offset, dest.shape, shape)
    if n * len(starts) == 0:
        return out
    module = _backend(dest.device == "cuda", backend)
    view = _view(dest)
    if view.shape:
        raise ValueError("out must be C-contiguous")
    if module is cpu:
        cpu.fill_runs(view, draw, starts)
        return out
    rules = FAMILY_RULES.get(view.dtype, ())
    if len(starts) == 1:
        module.fill(view, draw._replace(start=draw.start + int(starts[0])))
    elif draw.rule.name in rules:
        runs = run_table(view, draw, starts, row_params(draw.rule), rules.index(draw.rule.name))
        module.fill_many(Table(runs, view.dtype, view.device, view.cuda_stream))
    else:
        itemsize = np.dtype(STORAGE[view.dtype]).itemsize
        for r, start in enumerate(starts):
            run = view._replace(ptr=view.ptr + r * n * itemsize, size=n, high=n - 1)
            module.fill(run, draw._replace(start=draw.start + int(start)))
    return out


def constant_bits(dtype, value):
    """The storage word of ``value`` in ``dtype``, rounded as torch rounds a fill value
    (16-bit floats through float32, to nearest even)."""
    from .core import bf16_bits, f16_bits

    if dtype == "bfloat16":
        return int(bf16_bits(np.float32(value)))
    if dtype == "float16":
        return int(f16_bits(np.float32(value)))
    if dtype == "bool":
        return int(bool(value))
    word = np.array(value, dtype)
    return int(word.view(f"u{word.itemsize}"))


def fill_constant(out, value, backend=None):
    """Set every element of ``out`` to ``value``, rounded as ``constant_bits`` rounds it;
    return ``out``. ``backend`` as in ``fill``."""
    dest = destination(out)
    dtype = dtype_name(dest)
    module = _backend(dest.device == "cuda", backend)
    view = _view(dest)
    if view.size:
        module.fill_constant(view, constant_bits(dtype, value))
    return out
