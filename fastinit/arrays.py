"""Destinations: what an output is, and the one place that dispatches a fill.

A destination is a numpy array (float16, ``ml_dtypes.bfloat16``, float32, float64,
and for masks bool/uint8, for raw words uint32) or a torch CPU tensor of the same
dtypes (``torch.bfloat16`` included). Any layout works: C or Fortran order, strided,
offset and negative-stride views. Element ``i`` of the logical C-order index always
gets value ``i`` of the stream; memory outside the view is never touched.
"""

import numpy as np

from .backends import cpu

try:
    from ml_dtypes import bfloat16 as _ML_BFLOAT16
except ImportError:  # ml_dtypes is optional: bfloat16 numpy arrays need it
    _ML_BFLOAT16 = None

_NUMPY_NAMES = {
    np.dtype(np.float16): "float16",
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.bool_): "bool",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.uint32): "uint32",
}
if _ML_BFLOAT16 is not None:
    _NUMPY_NAMES[np.dtype(_ML_BFLOAT16)] = "bfloat16"

# Storage dtype the kernels write for each logical dtype.
_STORAGE = {
    "float16": np.uint16,
    "bfloat16": np.uint16,
    "float32": np.float32,
    "float64": np.float64,
    "bool": np.uint8,
    "uint8": np.uint8,
    "uint32": np.uint32,
}


def _torch():
    import sys

    return sys.modules.get("torch")


def is_torch_tensor(x):
    torch = _torch()
    return torch is not None and isinstance(x, torch.Tensor)


def dtype_name(x):
    """fastinit's name of the destination's dtype, or a TypeError."""
    if is_torch_tensor(x):
        name = str(x.dtype).removeprefix("torch.")
        if name not in _STORAGE:
            raise TypeError(f"tensor dtype {x.dtype} is not supported; expected one of "
                            "float16, bfloat16, float32, float64 (bool/uint8 masks, uint32 words)")
        return name
    if isinstance(x, np.ndarray):
        name = _NUMPY_NAMES.get(x.dtype)
        if name is None:
            raise TypeError(f"array dtype {x.dtype} is not supported; expected one of "
                            "float16, bfloat16 (ml_dtypes), float32, float64 "
                            "(bool/uint8 masks, uint32 words)")
        return name
    raise TypeError(f"expected a numpy array or a torch tensor, got {type(x).__name__}")


def shape_of(x):
    return tuple(int(s) for s in x.shape)


def _as_numpy_storage(x, name):
    """A numpy view of x's memory, in the storage dtype the kernels write."""
    if is_torch_tensor(x):
        if x.device.type != "cpu":
            raise ValueError(f"tensor is on {x.device}; this backend fills CPU tensors "
                             "(CUDA comes with the GPU backends)")
        if x.requires_grad and x.is_leaf and _torch().is_grad_enabled():
            raise ValueError("tensor requires grad: fill it under torch.no_grad(), as "
                             "torch.nn.init does (fastinit's init functions do this for you)")
        if x.is_conj() or x.is_neg() or x.layout != _torch().strided:
            raise ValueError("only dense, strided tensors can be filled")
        storage = _torch().int16 if name in ("float16", "bfloat16") else None
        view = x.detach()
        if storage is not None:
            view = view.view(storage)
        if name == "bool":
            view = view.view(_torch().uint8)
        arr = view.numpy()
        return arr.view(_STORAGE[name]) if arr.dtype != _STORAGE[name] else arr
    if not x.flags.writeable:
        raise ValueError("destination array is read-only")
    return x.view(_STORAGE[name])


def _layout(arr):
    """(flat, origin, shape, strides): a 1-D contiguous view over the memory the array
    spans, the element offset of its first element, and the collapsed shape and
    element strides; shape () means plain contiguous C order."""
    if arr.flags.c_contiguous:
        return arr.reshape(-1), 0, (), ()
    item = arr.itemsize
    shape, strides = [], []
    for n, s in zip(arr.shape, arr.strides):
        if n == 1:
            continue
        if s % item:
            raise ValueError(f"strides {arr.strides} are not multiples of the item size {item}")
        if s == 0:
            raise ValueError("destination has overlapping elements (a zero stride, e.g. a "
                             "broadcast or expanded view); fill a contiguous copy instead")
        if shape and strides[-1] == s // item * n:
            shape[-1] *= n
            strides[-1] = s // item
        else:
            shape.append(n)
            strides.append(s // item)
    low = sum((n - 1) * s for n, s in zip(shape, strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(shape, strides) if s > 0)
    span = high - low + 1
    base = arr[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in arr.strides)]
    flat = np.lib.stride_tricks.as_strided(base, shape=(span,), strides=(item,))
    origin = -low
    if len(shape) <= 1 and (not strides or strides[0] == 1):
        return flat, origin, (), ()
    return flat, origin, tuple(shape), tuple(strides)


def fill(out, rule, dtype, seed, stream, block0, start=0):
    """Fill ``out`` in place with ``rule`` for (seed, stream) from Philox block
    ``block0``; its first element is element ``start`` of the logical tensor."""
    arr = _as_numpy_storage(out, dtype)
    n = arr.size
    if n == 0:
        return out
    flat, origin, shape, strides = _layout(arr)
    cpu.fill(flat, origin, shape, strides, rule, dtype, seed, stream, block0, start, n)
    return out
