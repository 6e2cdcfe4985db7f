"""Backends: each fills one kind of memory with a rule of the stream contract.

``cpu`` fills host memory (Numba, a thread pool). The GPU backends, ``cupy`` (CUDA C in
``kernels/``, compiled by CuPy's NVRTC, launched through CuPy) and ``numba_cuda`` (the
Python core through ``numba.cuda``), fill CUDA device memory. Each module implements
``Backend``, the one protocol written down below, with arguments that are the named
records declared here: a destination is a ``View``, the values a ``Draw``, many
destinations of one dtype a ``Table``. ``fastinit.arrays`` is the one place that picks
a backend, and it calls each the same way.

A ``Table``'s rows are an ``ENTRY`` array, one row per destination, each contiguous and
with its own stream, start and rule (of a ``registry.FAMILIES`` member;
``registry.FAMILY_RULES`` names the rule each family follows for each dtype) or a
constant storage word. ``run_table`` builds the rows for runs of one draw laid end to
end in memory: the pieces of a sub-box of a tensor.
"""

from typing import NamedTuple, Protocol

import numpy as np

from ..registry import STORE_WORDS, STORES

# Storage dtype every backend writes for each fastinit dtype (registry.STORES).
STORAGE = {dtype: np.dtype(STORE_WORDS[store]).type for dtype, store in STORES.items()}
MAX_DIMS = 8  # dimensions a strided GPU view may keep after merging
_WORD_TYPES = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def word_type(dtype):
    """The unsigned integer type of ``dtype``'s storage words: what constant fills write."""
    return _WORD_TYPES[np.dtype(STORAGE[dtype]).itemsize]


class View(NamedTuple):
    """A destination, in host or CUDA device memory, as every backend sees it.

    Element ``j`` (0 <= j < size) of the destination, in logical C order, lives at
    ``ptr + offset(j) * itemsize`` bytes, where ``offset(j) = j`` when ``shape`` is ()
    (contiguous) and otherwise the dot product of ``j``'s C-order multi-index in
    ``shape`` with ``strides`` (in elements; negative strides allowed, dimensions of
    size 1 dropped and mergeable ones merged; at most ``MAX_DIMS`` in device memory).
    ``low`` and ``high`` are the smallest and largest element offsets written (``0``
    and ``size - 1`` when contiguous). ``dtype`` is fastinit's dtype name; the memory
    holds its storage type (``STORAGE``: 16-bit floats as their bits, bool as uint8).
    ``device`` is None for host memory, else the CUDA device's ordinal; launches go on
    its ``cuda_stream`` (a ``cudaStream_t`` as an integer; 0 is the legacy default
    stream, and what host memory has).
    """

    ptr: int
    dtype: str
    size: int
    shape: tuple
    strides: tuple
    low: int
    high: int
    device: object
    cuda_stream: int


class Draw(NamedTuple):
    """Which values a fill writes: element ``j`` of the destination gets logical element
    ``start + j`` of ``rule``'s values of stream ``(seed, stream)``, read from Philox
    block ``block0`` on (docs/stream.md, section 2). ``rule`` is a
    ``distributions.Rule``; ``stream`` is the Philox subsequence, never a CUDA stream."""

    rule: object
    seed: int
    stream: int
    block0: int
    start: int


class Table(NamedTuple):
    """Many contiguous destinations of one dtype, filled in one pass: ``rows`` is an
    ``ENTRY`` array, one row per destination, in memory of ``dtype``'s storage (a
    ``registry.FAMILY_RULES`` key); ``device`` and ``cuda_stream`` as in ``View``."""

    rows: np.ndarray
    dtype: str
    device: object
    cuda_stream: int


class Backend(Protocol):
    """What each backend module (``cpu``, ``cupy``, ``numba_cuda``) has."""

    def available(self) -> tuple:
        """``(True, note)`` if the backend can fill here (the note, perhaps empty, says
        how), else ``(False, why not)``; never raises."""

    def fill(self, view: View, draw: Draw) -> None:
        """Write ``draw`` into ``view`` (of a dtype ``draw.rule`` writes): element ``j``
        gets logical element ``draw.start + j``, bit for bit what every backend writes.
        On a GPU, one launch on ``view.cuda_stream``, without synchronizing the host."""

    def fill_many(self, table: Table) -> None:
        """Fill every row of ``table``: each gets exactly what ``fill`` would write into
        it (a constant row, its storage word). Rows may be empty; an empty table writes
        and launches nothing. On a GPU, one launch on ``table.cuda_stream``."""

    def fill_constant(self, view: View, bits: int) -> None:
        """Set every element of ``view`` to the storage word ``bits`` (the value's bit
        pattern in the storage type)."""


# One destination of a multi-tensor fill (a ``Table``'s row): ``n`` contiguous elements
# at address ``ptr`` hold logical elements [start, start + n) of a tensor's stream
# (seed, stream) from Philox block ``block0``; ``family`` indexes registry.FAMILIES;
# ``params`` are ``Rule.params`` as doubles (unused entries 0), ``bits`` the storage
# word of a constant.
ENTRY = np.dtype([("ptr", "<u8"), ("n", "<i8"), ("start", "<i8"), ("seed", "<u8"),
                  ("stream", "<u8"), ("block0", "<u8"), ("family", "<i4"),
                  ("params", "<f8", (7,)), ("bits", "<u8")], align=True)


def run_table(view, draw, starts, params, family=0):
    """The ``ENTRY`` rows of runs laid end to end in the contiguous ``view``: run ``r``,
    the ``n = view.size // len(starts)`` elements from element ``r * n``, holds logical
    elements [draw.start + starts[r], draw.start + starts[r] + n) of ``draw``'s stream,
    by the rule of ``family`` with parameter doubles ``params``."""
    n = view.size // len(starts)
    itemsize = np.dtype(STORAGE[view.dtype]).itemsize
    rows = np.zeros(len(starts), ENTRY)
    rows["ptr"] = view.ptr + np.arange(len(starts), dtype=np.uint64) * np.uint64(n * itemsize)
    rows["n"], rows["start"] = n, draw.start + np.asarray(starts, np.int64)
    rows["seed"], rows["stream"], rows["block0"] = draw.seed, draw.stream, draw.block0
    rows["family"], rows["params"] = family, params
    return rows
