"""Backends: each fills one kind of memory with a rule of the stream contract.

``cpu`` fills host memory (Numba, parallel). The GPU backends, ``cupy`` (CUDA C in
``kernels/`` through CuPy's ``RawModule``) and ``numba_cuda`` (the Python core through
``numba.cuda``), fill device memory described by a ``DeviceView``; each module has
``available() -> (bool, reason)``, ``fill(view, rule, seed, stream, block0, start)`` and
``fill_constant(view, bits)``. ``fastinit.arrays`` is the one place that picks one.
"""

from dataclasses import dataclass

import numpy as np

# Storage dtype every backend writes for each fastinit dtype.
STORAGE = {
    "float16": np.uint16,
    "bfloat16": np.uint16,
    "float32": np.float32,
    "float64": np.float64,
    "bool": np.uint8,
    "uint8": np.uint8,
    "uint32": np.uint32,
}
MAX_DIMS = 8  # dimensions a strided GPU view may keep after merging


@dataclass(frozen=True)
class DeviceView:
    """A destination in CUDA device memory, as the GPU backends see it.

    Element ``j`` (0 <= j < size) of the destination, in logical C order, lives at
    ``ptr + offset(j) * itemsize`` bytes, where ``offset(j) = j`` when ``shape`` is ()
    (contiguous) and otherwise the dot product of ``j``'s C-order multi-index in
    ``shape`` with ``strides`` (in elements; negative strides allowed, dimensions of
    size 1 dropped and mergeable ones merged, at most ``MAX_DIMS``). ``low`` and
    ``high`` are the smallest and largest element offsets written (``0`` and
    ``size - 1`` when contiguous). ``dtype`` is fastinit's dtype name; the memory holds
    its storage type (16-bit floats as their bits, bool as uint8). Launches go on
    ``stream`` (a ``cudaStream_t`` as an integer; 0 is the legacy default stream) of
    device ``device``.
    """

    ptr: int
    dtype: str
    size: int
    shape: tuple
    strides: tuple
    low: int
    high: int
    device: int
    stream: int
