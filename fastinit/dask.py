"""``dask.array.random``'s generator on the Philox stream: Dask arrays whose values do not
depend on the chunking.

>>> rng = fastinit.dask.default_rng(42)
>>> x = rng.normal(0.0, 1.0, size=(100_000, 20_000), chunks=(10_000, 5_000))
>>> x.compute()  # == fastinit.Generator(42).normal(0.0, 1.0, size=(100_000, 20_000))

A method call draws one logical array, as ``fastinit.Generator``'s same call does: its
element ``i`` (the C-order index in the whole array) is element ``i`` of that draw,
whatever the chunks. Chunking, rechunking, the scheduler and the number of workers
change no value; ``dask.array.random`` seeds each chunk on its own, so its values
change with the chunks (docs/dask.md). Successive calls continue the stream as
``fastinit.Generator``'s do.

The graph holds, per chunk, the rule and its parameters, the seed, stream and Philox
block of the draw, the whole array's shape and the chunk's place in it: no data. A
worker allocates its chunk and fills it in one call (``fastinit.arrays.fill_box``).

Chunks are numpy arrays, or CuPy arrays with ``device="cuda"`` (or "cuda:N"), the
argument ``fastinit.Generator`` takes; ``dask.array.random`` gets CuPy chunks from
``default_rng(cupy.random.default_rng())``. The values are the same on both.

Needs ``dask[array]`` (``pip install fastinit[dask]``; ``distributed`` for clusters).
"""

import operator
import secrets

import numpy as np

try:
    import dask.array as da
    from dask.array.core import normalize_chunks
    from dask.base import tokenize
except ImportError as error:  # pragma: no cover -- exercised only without dask
    raise ImportError("fastinit.dask needs dask.array: pip install fastinit[dask]") from error

from . import arrays
from .backends import Draw
from .distributions import Normal, Uniform, rule_for
from .registry import INTEGER_DTYPES
from .generator import (StreamPosition, bounded_integers, dtype_name_of, empty, numpy_dtype,
                        supported_dtype_name)

__all__ = ["Generator", "default_rng"]


def _shape(size):
    """``size`` as numpy takes it (None: a scalar; an integer; a sequence of them)."""
    if size is None:
        return ()
    dims = size if isinstance(size, (tuple, list)) else (size,)
    try:
        shape = tuple(operator.index(s) for s in dims)
    except TypeError:
        raise TypeError(f"size must be an integer or a tuple of integers, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimensions are not allowed (size={size!r})")
    return shape


def _chunk(rule, dtype, seed, stream, block0, shape, device, block_info=None):
    """One chunk of a draw: its box of the whole array, allocated on ``device`` and
    filled in one call."""
    where = block_info[None]
    out = empty(where["chunk-shape"], dtype, device)
    offset = [first for first, _ in where["array-location"]]
    return arrays.fill_box(out, Draw(rule, seed, stream, block0, 0), offset, shape)


class Generator(StreamPosition):
    """``dask.array.random.Generator``'s methods over a Philox stream:
    ``Generator(seed=0, stream=0, *, device="cpu")``, as ``fastinit.Generator``.

    Each method takes dask's ``size=`` and ``chunks=`` (``"auto"`` by default, as
    dask: anything ``dask.array.core.normalize_chunks`` takes) and ``dtype=`` (every
    dtype ``fastinit.Generator``'s same method fills), and returns a ``dask.array``
    equal, bit for bit, to that method's result for the whole array. ``device`` picks
    the chunks' array library: "cpu" (numpy) or "cuda"/"cuda:N" (CuPy).
    """

    def __repr__(self):
        extra = "" if self._device == "cpu" else f", device={self._device!r}"
        return (f"fastinit.dask.Generator(seed={self._seed}, stream={self._stream}{extra}) "
                f"at block {self._block}")

    def _draw(self, method, dist, size, chunks, dtype):
        """The dask array of one draw of ``dist``; everything is checked before the
        generator moves on."""
        name = dtype_name_of(dtype)
        rule = rule_for(dist, name)
        shape = _shape(size)
        chunks = normalize_chunks(chunks, shape, dtype=numpy_dtype(name))
        block0 = self._advance(rule, int(np.prod(shape, dtype=np.int64)))
        args = (rule, name, self._seed, self._stream, block0, shape, self._device)
        return da.map_blocks(_chunk, *args, chunks=chunks, dtype=numpy_dtype(name),
                             meta=empty((0,) * len(shape), name, self._device),
                             name=f"fastinit-{method}-{tokenize(*args)}")

    def random(self, size=None, dtype=np.float64, *, chunks="auto"):
        """Uniform on [0, 1)."""
        return self._draw("random", Uniform(0.0, 1.0), size, chunks, dtype)

    def uniform(self, low=0.0, high=1.0, size=None, chunks="auto", *, dtype=np.float64):
        """Uniform on [low, high); ``high`` is never returned."""
        return self._draw("uniform", Uniform(low, high), size, chunks, dtype)

    def normal(self, loc=0.0, scale=1.0, size=None, chunks="auto", *, dtype=np.float64):
        """Normal with mean ``loc`` and standard deviation ``scale``."""
        return self._draw("normal", Normal(loc, scale), size, chunks, dtype)

    def standard_normal(self, size=None, chunks="auto", *, dtype=np.float64):
        return self._draw("standard_normal", Normal(0.0, 1.0), size, chunks, dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False,
                 chunks="auto"):
        """Integers on [low, high) (``endpoint=True``: [low, high]); ``high=None``
        draws from [0, low), as numpy. Each value is exact and unbiased
        (``fastinit.Integers``)."""
        dtype = supported_dtype_name(dtype, INTEGER_DTYPES, "integers")
        dist = bounded_integers(low, high, endpoint, dtype)
        return self._draw("integers", dist, size, chunks, dtype)


def default_rng(seed=None, *, stream=0, device="cpu"):
    """A ``Generator`` over ``(seed, stream)``, as ``dask.array.random.default_rng``:
    ``seed=None`` takes 64 bits of fresh entropy from the OS, a ``Generator`` is
    returned as it is. ``device`` as in ``Generator``."""
    if isinstance(seed, Generator):
        return seed
    if seed is None:
        seed = secrets.randbits(64)
    return Generator(seed, stream, device=device)
