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
memory outside the view is never touched.
"""

import ctypes
import importlib
import sys

import numpy as np

from .backends import MAX_DIMS, STORAGE, DeviceView, cpu

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


def is_device_array(x):
    """Whether ``x`` lives in CUDA device memory."""
    x = _native(x)
    if is_torch_tensor(x):
        return x.device.type == "cuda"
    return not isinstance(x, np.ndarray)


def dtype_name(x):
    """fastinit's name of the destination's dtype, or a TypeError."""
    x = _native(x)
    if is_torch_tensor(x):
        name = str(x.dtype).removeprefix("torch.")
        if name not in STORAGE:
            raise TypeError(f"tensor dtype {x.dtype} is not supported; expected one of "
                            + _SUPPORTED)
        return name
    if isinstance(x, np.ndarray) or is_cupy_array(x):
        name = _numpy_name(np.dtype(x.dtype))
        if name is None:
            raise TypeError(f"array dtype {x.dtype} is not supported; expected one of "
                            + _SUPPORTED)
        return name
    typestr = x.__cuda_array_interface__["typestr"]
    name = _TYPESTR_NAMES.get(typestr)
    if name is None:
        raise TypeError(f"__cuda_array_interface__ typestr {typestr!r} is not supported; "
                        f"expected one of {', '.join(_TYPESTR_NAMES)}")
    return name


def has_fill_dtype(x):
    """Whether fastinit's kernels write ``x``'s dtype."""
    try:
        dtype_name(x)
    except TypeError:
        return False
    return True


def indexable(x):
    """``x`` as an array with numpy-style indexing: numpy, torch and CuPy arrays as they
    are, DLPack objects imported, and a zero-copy CuPy view of any other
    ``__cuda_array_interface__`` object."""
    x = _native(x)
    if isinstance(x, np.ndarray) or is_torch_tensor(x) or is_cupy_array(x):
        return x
    import cupy

    return cupy.asarray(x)


def shape_of(x):
    x = _native(x)
    if not (isinstance(x, np.ndarray) or is_torch_tensor(x) or is_cupy_array(x)):
        return tuple(int(s) for s in x.__cuda_array_interface__["shape"])
    return tuple(int(s) for s in x.shape)


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


def _layout(arr):
    """(flat, origin, shape, strides): a 1-D contiguous view over the memory the array
    spans, the element offset of its first element, and the collapsed shape and
    element strides; shape () means plain contiguous C order."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), 0, (), ()
    item = arr.itemsize
    shape, strides, low, high = _collapse(arr.shape, _element_strides(arr.strides, item))
    base = arr[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in arr.strides)]
    flat = np.lib.stride_tricks.as_strided(base, shape=(high - low + 1,), strides=(item,))
    return flat, -low, shape, strides


# --- host memory -------------------------------------------------------------------------


def _check_torch(x):
    if x.requires_grad and x.is_leaf and _torch().is_grad_enabled():
        raise ValueError("tensor requires grad: fill it under torch.no_grad(), as "
                         "torch.nn.init does (fastinit's init functions do this for you)")
    if x.is_conj() or x.is_neg() or x.layout != _torch().strided:
        raise ValueError("only dense, strided tensors can be filled")


def _as_numpy_storage(x, name):
    """A numpy view of x's memory, in the storage dtype the kernels write."""
    if is_torch_tensor(x):
        if x.device.type != "cpu":
            raise ValueError(f"tensor is on {x.device}; fastinit fills CPU and CUDA tensors")
        _check_torch(x)
        view = x.detach()
        if name in ("float16", "bfloat16"):
            view = view.view(_torch().int16)
        if name == "bool":
            view = view.view(_torch().uint8)
        arr = view.numpy()
        return arr.view(STORAGE[name]) if arr.dtype != STORAGE[name] else arr
    if not x.flags.writeable:
        raise ValueError("destination array is read-only")
    return x.view(STORAGE[name])


# --- device memory -----------------------------------------------------------------------


def _pointer_device(ptr):
    """The CUDA device ordinal that owns ``ptr``."""
    cupy = _cupy()
    if cupy is not None:
        return int(cupy.cuda.runtime.pointerGetAttributes(ptr).device)
    from numba import cuda

    return int(cuda.current_context().device.id)


def device_view(x, name):
    """The ``DeviceView`` of a CUDA destination ``x`` (already ``_native``)."""
    if is_torch_tensor(x):
        _check_torch(x)
        torch = _torch()
        ptr, shape, strides = x.data_ptr(), tuple(x.shape), tuple(x.stride())
        device = x.device.index if x.device.index is not None else torch.cuda.current_device()
        stream = torch.cuda.current_stream(device).cuda_stream
    elif is_cupy_array(x):
        ptr, shape = x.data.ptr, tuple(x.shape)
        strides = _element_strides(x.strides, x.itemsize)
        device = x.device.id
        stream = _cupy().cuda.get_current_stream(device).ptr
    else:
        cai = x.__cuda_array_interface__
        ptr, readonly = cai["data"]
        if readonly:
            raise ValueError("destination is read-only (__cuda_array_interface__ data flag)")
        shape = tuple(int(s) for s in cai["shape"])
        itemsize = np.dtype(cai["typestr"]).itemsize
        if cai.get("strides") is None:
            strides = tuple(int(np.prod(shape[d + 1:], dtype=np.int64))
                            for d in range(len(shape)))
        else:
            strides = _element_strides(cai["strides"], itemsize)
        device = _pointer_device(ptr) if ptr else 0
        stream = cai.get("stream") or 0
    size = int(np.prod(shape, dtype=np.int64))
    shape, strides, low, high = _collapse(shape, strides)
    if len(shape) > MAX_DIMS:
        raise ValueError(f"a strided CUDA destination may have at most {MAX_DIMS} dimensions "
                         f"after merging, this one has {len(shape)}; fill a contiguous copy")
    if not shape:
        low, high = 0, size - 1
    return DeviceView(int(ptr), name, size, shape, strides, low, high, int(device), int(stream))


# --- backends ----------------------------------------------------------------------------


def _backend_module(name):
    return importlib.import_module(f".backends.{name}", __package__)


def backend_status():
    """``{backend: (available, why not)}`` for every backend, in the default order."""
    status = {name: _backend_module(name).available() for name in GPU_BACKENDS}
    return {"cpu": (True, ""), **status}


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


def _check_host_backend(name):
    if name not in (None, "cpu"):
        if name in GPU_BACKENDS:
            raise ValueError(f"backend {name!r} fills CUDA memory; this destination is in host "
                             "memory (use 'cpu' or None)")
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} or None, got {name!r}")


def fill(out, rule, dtype, seed, stream, block0, start=0, backend=None):
    """Fill ``out`` in place with ``rule`` for (seed, stream) from Philox block
    ``block0``; its first element is element ``start`` of the logical tensor.
    ``backend`` names the backend (None: the CPU for host memory, the fastest GPU
    backend available for device memory)."""
    native = _native(out)
    if is_device_array(native):
        module = _gpu_backend(backend)
        view = device_view(native, dtype)
        if view.size:
            module.fill(view, rule, seed, stream, block0, start)
        return out
    _check_host_backend(backend)
    arr = _as_numpy_storage(native, dtype)
    if arr.size == 0:
        return out
    flat, origin, shape, strides = _layout(arr)
    cpu.fill(flat, origin, shape, strides, rule, dtype, seed, stream, block0, start, arr.size)
    return out


def fill_many(dtype, table, device=None, stream=0, backend=None):
    """Fill every destination of ``table`` (a ``backends.ENTRY`` array, all of
    ``dtype``) in one pass: host memory when ``device`` is None, else memory of CUDA
    device ``device``, launched on ``stream``. ``backend`` as in ``fill``."""
    if device is None:
        _check_host_backend(backend)
        cpu.fill_many(dtype, table)
    else:
        _gpu_backend(backend).fill_many(device, stream, dtype, table)


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
    """Set every element of the CUDA destination ``out`` to ``value``; return ``out``."""
    native = _native(out)
    dtype = dtype_name(native)
    module = _gpu_backend(backend)
    view = device_view(native, dtype)
    if view.size:
        module.fill_constant(view, constant_bits(dtype, value))
    return out
