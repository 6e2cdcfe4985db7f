"""Sharded tensors: which part of the whole tensor a rank holds, and its runs.

A DTensor (FSDP2 ``fully_shard``, ``distribute_tensor``) holds a *block* of its global
tensor: per dimension, the increasing global indices of its local shard
(``local_part``). A plain tensor is its own whole, with indices None. ``runs`` gives
the runs of consecutive global C-order elements a block holds, each with its offset in
the local tensor and its global start, so a fill of the block writes exactly the values
those elements have in the whole; ``take`` cuts the block out of a whole tensor. Nothing
here writes a tensor.
"""

import math

import numpy as np
import torch


def is_dtensor(tensor):
    """Whether ``tensor`` is a DTensor (never where torch has no DTensor)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:
        return False
    return isinstance(tensor, DTensor)


def local_part(tensor):
    """(local tensor, global shape, indices): a DTensor's local shard and, per
    dimension, the increasing global indices it holds; a plain tensor is its own
    whole, with indices None."""
    if not is_dtensor(tensor):
        return tensor.detach(), tuple(tensor.shape), None
    from torch.distributed.tensor import Partial, Shard
    from torch.distributed.tensor.placement_types import _StridedShard  # FSDP2 over TP

    global_shape = tuple(tensor.shape)
    mesh, placements = tensor.device_mesh, tensor.placements
    if any(isinstance(p, Partial) for p in placements):
        raise ValueError("a Partial DTensor has no values of its own to initialize; "
                         "parameters are Shard or Replicate")
    coordinate = mesh.get_coordinate()
    local = tensor.to_local().detach()
    if coordinate is None:  # this rank holds no part of the mesh
        return local, global_shape, tuple(np.zeros(0, np.int64) for _ in global_shape)
    indices = []
    for dim, size in enumerate(global_shape):
        # each placement that shards ``dim``, in mesh order as distribute_tensor applies
        # them, applied to the indices of ``dim`` alone
        shape = [1] * len(global_shape)
        shape[dim] = size
        index = torch.arange(size).view(shape)
        for mesh_dim, placement in enumerate(placements):
            if (isinstance(placement, (Shard, _StridedShard))
                    and placement.dim % len(global_shape) == dim):
                pieces, _ = placement._split_tensor(index, mesh.size(mesh_dim),
                                                     with_padding=False)
                here = coordinate[mesh_dim]
                index = pieces[here] if here < len(pieces) else index.narrow(dim, 0, 0)
        indices.append(index.reshape(-1).numpy().astype(np.int64))
    if tuple(local.shape) != tuple(len(i) for i in indices):
        raise ValueError(f"local shard of shape {tuple(local.shape)} is not the "
                         f"{tuple(len(i) for i in indices)} its placements {placements} give")
    return local, global_shape, tuple(indices)


def is_whole(indices, global_shape):
    """Whether per-dimension ``indices`` (None: the whole) select all of ``global_shape``."""
    return indices is None or all(
        len(ix) == n and (n == 0 or (ix[0] == 0 and (np.diff(ix) == 1).all()))
        for ix, n in zip(indices, global_shape))


def runs(indices, global_shape):
    """(local element offsets, global starts, lengths) of the runs of consecutive
    global C-order indices that a local block holds, in the block's C order; the block
    is the Cartesian product of per-dimension global ``indices`` (None: the whole)."""
    numel = math.prod(global_shape) if indices is None else math.prod(map(len, indices))
    if numel == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    k = len(global_shape)
    while k > 0 and (indices is None or is_whole(indices[k - 1:k], global_shape[k - 1:k])):
        k -= 1
    if k == 0:
        return np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, numel, np.int64)
    inner = math.prod(global_shape[k:])
    cut = indices[k - 1]
    first = np.flatnonzero(np.diff(cut, prepend=cut[0] - 2) != 1)  # each run's first index
    lengths = np.diff(first, append=len(cut)) * inner
    global_base, local_base = np.zeros(1, np.int64), np.zeros(1, np.int64)
    for d in range(k - 1):  # the dimensions before the cut one, outermost first
        stride = math.prod(global_shape[d + 1:])
        global_base = (global_base[:, None] + indices[d][None, :] * stride).reshape(-1)
        local_base = (local_base[:, None] * len(indices[d])
                      + np.arange(len(indices[d]), dtype=np.int64)[None, :]).reshape(-1)
    offsets = (local_base[:, None] * (len(cut) * inner) + first[None, :] * inner).reshape(-1)
    starts = (global_base[:, None] + cut[first][None, :] * inner).reshape(-1)
    return offsets, starts, np.tile(lengths, len(global_base))


def take(tensor, indices):
    """The block of ``tensor`` (global shape) that per-dimension ``indices`` select."""
    if indices is None:
        return tensor
    for dim, index in enumerate(indices):
        if len(index) and (np.diff(index) == 1).all():
            tensor = tensor.narrow(dim, int(index[0]), len(index))
        else:
            tensor = tensor.index_select(dim, torch.as_tensor(index, device=tensor.device))
    return tensor
