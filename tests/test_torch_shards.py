"""fastinit.torch.shards: the runs of the whole tensor a local block holds.

Specification, in one process (the pieces a rank would get): the runs of a block given
by per-dimension global indices cover exactly its elements, in the block's C order, and
``take`` cuts the same block out of the whole; a whole tensor is one run.
"""

import math

import numpy as np
import pytest
import torch

from fastinit.torch import shards


@pytest.mark.parametrize("global_shape, indices", [
    ((10,), [range(6, 10)]),
    ((7, 5), [range(2, 5), range(5)]),
    ((7, 5), [range(7), range(3, 5)]),
    ((4, 6, 5), [range(1, 3), range(3, 6), range(5)]),
    ((4, 6, 5), [range(4), range(6), range(1, 3)]),
    ((3, 4), [range(3), range(4)]),
    ((8, 6), [[0, 2, 4, 6], range(6)]),  # a strided shard: rows 0, 2, 4, 6
    ((8, 6), [[1, 2, 5, 6], [0, 1, 4]]),
    ((8, 6), [[], range(6)]),  # an empty shard
])
def test_runs_cover_exactly_the_local_block(global_shape, indices):
    indices = tuple(np.array(list(ix), np.int64) for ix in indices)
    offsets, starts, lengths = shards.runs(indices, global_shape)
    index = np.arange(math.prod(global_shape)).reshape(global_shape)
    block = index[np.ix_(*indices)].ravel()
    got = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)] + [[]])
    assert np.array_equal(got, block)
    assert np.array_equal(offsets, np.cumsum(np.concatenate([[0], lengths]))[:-1])
    assert torch.equal(shards.take(torch.as_tensor(index), indices), torch.as_tensor(index)[
        np.ix_(*indices)])


def test_a_whole_tensor_is_one_run():
    offsets, starts, lengths = shards.runs(None, (4, 5))
    assert list(offsets) == [0] and list(starts) == [0] and list(lengths) == [20]
