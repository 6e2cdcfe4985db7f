"""How the GPU backends size a launch: one meaning for both.

Every kernel of ``cupy`` and ``numba_cuda`` is a 1-D grid-stride loop over work items,
with ``THREADS`` threads per block: the thread of rank ``r`` among ``T`` takes items
``r``, ``r + T``, ... The work items of a random fill, or of a random row of a
``Table``, are its Philox blocks [start // E, ceil((start + n) / E)) (``philox_blocks``),
E the rule's elements per block; what a constant's items are is each backend's own.
The grid has one block of threads per ``THREADS`` items, capped at ``waves``
full-occupancy waves of the device: ``waves * SMs * (max threads per SM // THREADS)``
blocks (``max_grid``), each backend's ``WAVES``. Values never depend on the launch shape
(the stream contract), so the cap trades only loop length against launch size.
"""

import numpy as np

from ..registry import ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES

THREADS = 256  # threads per block

_CONSTANT = FAMILIES.index("constant")


def philox_blocks(start, n, elements_per_block):
    """The Philox blocks that make elements [start, start + n), n > 0, ``elements_per_block``
    to a block (integers, or arrays of them): ceil((start + n) / E) - start // E."""
    return -(-(start + n) // elements_per_block) - start // elements_per_block


def max_grid(sms, threads_per_sm, waves):
    """Blocks of ``THREADS`` threads that fill a device of ``sms`` multiprocessors, each
    holding up to ``threads_per_sm`` threads, ``waves`` times."""
    return waves * sms * max(1, threads_per_sm // THREADS)


def grid(work_items, cap):
    """Blocks of ``THREADS`` threads for ``work_items`` items, one item per thread per
    grid-stride step, at least one and at most ``cap``."""
    return max(1, min(-(-work_items // THREADS), cap))


def row_items(dtype, rows, constant_items):
    """The work items of each row of ``rows`` (an ``ENTRY`` array of ``dtype``): a random
    row's Philox blocks, a constant row's ``constant_items`` (an array over all rows, read
    at the constant ones), none when n is 0."""
    n, start, family = rows["n"], rows["start"], rows["family"]
    epb = np.array([ELEMENTS_PER_BLOCK[rule] for rule in FAMILY_RULES[dtype]] + [1])[family]
    items = np.where(family == _CONSTANT, constant_items, philox_blocks(start, n, epb))
    return np.where(n > 0, items, 0)


def prefix(items):
    """Where each row's items begin when all lie end to end: ``first[e]`` (``first[-1]``
    is the total), as the kernels read it."""
    first = np.zeros(len(items) + 1, np.int64)
    np.cumsum(items, out=first[1:])
    return first
