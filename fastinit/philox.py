"""The raw Philox4x32 block function, vectorized over counters and keys."""

import numpy as np
from numba import njit

from . import core
from ._sources import DIGEST


def _build(digest):
    """The block loop, a closure over ``digest`` so that Numba's cache keys include it."""

    @njit(cache=True)
    def blocks(ctr, key, rounds, out):
        digest  # noqa: B018 -- a cell of the closure, hence part of the cache key
        for i in range(ctr.shape[0]):
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = core.philox_words(
                np.uint64(ctr[i, 0]), np.uint64(ctr[i, 1]), np.uint64(ctr[i, 2]),
                np.uint64(ctr[i, 3]), np.uint64(key[i, 0]), np.uint64(key[i, 1]), rounds)

    return blocks


_blocks = _build(DIGEST)


def philox4x32(counter, key, rounds=10):
    """Philox4x32-R (Salmon et al., SC'11) exactly as Random123 defines it.

    ``counter`` is ``(..., 4)`` and ``key`` ``(..., 2)`` uint32 (word 0 first); they
    broadcast against each other. Returns the ``(..., 4)`` uint32 output words.

    >>> fastinit.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
    array([1713891541, 3781805453, 3159862348, 2600524760], dtype=uint32)
    """
    counter = np.asarray(counter)
    key = np.asarray(key)
    for name, a, width in (("counter", counter, 4), ("key", key, 2)):
        if a.ndim == 0 or a.shape[-1] != width:
            raise ValueError(f"{name} must have shape (..., {width}), got {a.shape}")
        if a.dtype != np.uint32:
            if a.dtype.kind not in "ui" or np.any(a < 0) or np.any(a > 0xFFFFFFFF):
                raise TypeError(f"{name} must hold uint32 words, got dtype {a.dtype}")
    if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    batch = np.broadcast_shapes(counter.shape[:-1], key.shape[:-1])
    ctr = np.ascontiguousarray(np.broadcast_to(counter, batch + (4,)).reshape(-1, 4), np.uint32)
    k = np.ascontiguousarray(np.broadcast_to(key, batch + (2,)).reshape(-1, 2), np.uint32)
    out = np.empty((ctr.shape[0], 4), np.uint32)
    _blocks(ctr, k, int(rounds), out)
    return out.reshape(batch + (4,))
