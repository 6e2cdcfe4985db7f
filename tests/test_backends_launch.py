"""Launch sizing, one meaning for both GPU backends: a random fill's work items are its
Philox blocks, the grid has a block of ``THREADS`` threads per ``THREADS`` items, at least
one and at most ``waves`` full-occupancy waves of the device."""

import numpy as np
import pytest

from fastinit.backends import ENTRY, launch
from fastinit.registry import ELEMENTS_PER_BLOCK, FAMILIES, FAMILY_RULES


@pytest.mark.parametrize("start, n, epb, blocks", [(0, 1, 4, 1), (0, 4, 4, 1), (3, 2, 4, 2),
                                                   (4, 4, 4, 1), (7, 9, 2, 5), (2**64 - 3, 6, 4, 2),
                                                   (2**64 - 3, 8, 4, 3)])
def test_philox_blocks_are_those_that_make_the_elements(start, n, epb, blocks):
    assert launch.philox_blocks(start, n, epb) == blocks
    assert len(range(start // epb, -(-(start + n) // epb))) == blocks


def test_the_grid_has_a_block_per_threads_items_within_its_cap():
    cap = launch.max_grid(132, 2048, 4)
    assert cap == 4 * 132 * (2048 // launch.THREADS)
    assert launch.max_grid(10, 128, 1) == 10  # fewer threads per SM than a block: one
    assert [launch.grid(items, cap) for items in (0, 1, 256, 257, 10**12)] == [1, 1, 1, 2, cap]


@pytest.mark.parametrize("dtype", FAMILY_RULES)
def test_row_items_count_philox_blocks_and_the_backends_constant_items(dtype):
    """A random row's items are its Philox blocks, a constant row's what the backend
    counts, an empty row's none; ``prefix`` lays them end to end."""
    rows = np.zeros(len(FAMILIES) + 1, ENTRY)
    rows["family"] = list(range(len(FAMILIES))) + [0]
    rows["n"] = [10] * len(FAMILIES) + [0]
    rows["start"] = 3
    blocks = [launch.philox_blocks(3, 10, ELEMENTS_PER_BLOCK[rule]) for rule in FAMILY_RULES[dtype]]
    want = blocks + [99, 0]
    assert launch.row_items(dtype, rows, np.full(len(rows), 99)).tolist() == want
    assert launch.prefix(want).tolist() == [0, *np.cumsum(want).tolist()]
