"""Backends: each fills one kind of memory with a rule of the stream contract.

``cpu`` fills host memory (Numba, parallel). The GPU backends, ``cupy`` (CUDA C in
``kernels/``, compiled by CuPy's NVRTC, launched through CuPy) and ``numba_cuda`` (the
Python core through ``numba.cuda``), fill device memory described by a ``DeviceView``; each module has
``available() -> (bool, reason)``, ``fill(view, rule, seed, stream, block0, start)`` and
``fill_constant(view, bits)``. ``fastinit.arrays`` is the one place that picks one.

Many destinations of one dtype go in one call, ``fill_many(dtype, table)`` (the CPU)
or ``fill_many(device, stream, dtype, table)`` (GPU backends): ``table`` is an
``ENTRY`` array, one row per destination, each contiguous and with its own stream,
start and rule (of a ``registry.FAMILIES`` member; ``registry.FAMILY_RULES`` names the
rule each family follows for each dtype) or a constant storage word. ``run_table``
builds one for runs of one stream laid end to end in memory: the pieces of a sub-box of
a tensor.
"""

from dataclasses import dataclass

import numpy as np

from ..registry import STORE_WORDS, STORES

# Storage dtype every backend writes for each fastinit dtype (registry.STORES).
STORAGE = {dtype: np.dtype(STORE_WORDS[store]).type for dtype, store in STORES.items()}
MAX_DIMS = 8  # dimensions a strided GPU view may keep after merging
_WORD_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def word_type(dtype):
    """The unsigned integer type of ``dtype``'s storage words: what constant fills write."""
    return _WORD_TYPES[np.dtype(STORAGE[dtype]).itemsize]


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


# One destination of a multi-tensor fill (``fill_many``): ``n`` contiguous elements at
# address ``ptr`` hold logical elements [start, start + n) of a tensor's stream
# (seed, stream) from Philox block ``block0``; ``family`` is an index into registry.FAMILIES;
# ``params`` are ``Rule.params`` as doubles (unused entries 0), ``bits`` the storage
# word of a constant.
ENTRY = np.dtype([("ptr", "<u8"), ("n", "<i8"), ("start", "<i8"), ("seed", "<u8"),
                  ("stream", "<u8"), ("block0", "<u8"), ("family", "<i4"),
                  ("params", "<f8", (7,)), ("bits", "<u8")], align=True)
def run_table(ptr, itemsize, starts, n, seed, stream, block0, params, family=0):
    """An ``ENTRY`` table of runs laid end to end from address ``ptr``: run ``r``, the
    ``n`` elements of ``itemsize`` bytes at ``ptr + r * n * itemsize``, holds logical
    elements [starts[r], starts[r] + n) of stream (seed, stream) from Philox block
    ``block0``, by the rule of ``family`` with parameter doubles ``params``."""
    table = np.zeros(len(starts), ENTRY)
    table["ptr"] = ptr + np.arange(len(starts), dtype=np.uint64) * np.uint64(n * itemsize)
    table["n"], table["start"] = n, starts
    table["seed"], table["stream"], table["block0"] = seed, stream, block0
    table["family"], table["params"] = family, params
    return table
