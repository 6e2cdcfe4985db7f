"""Executing a plan: ``run(targets, seed)`` writes every target's values.

Every elementwise scheme (distributions, fan-based schemes, constants) of one dtype and
device is written in a single multi-tensor fill over a table of destinations
(``backends.ENTRY``): one parallel pass on the CPU, one kernel launch on a GPU. Target
``name`` gets ``Generator(seed, stream_of(name))``'s values, element ``i`` of the whole
(unsharded) tensor value ``i`` of that stream. A sharded tensor (``shards.py``) adds
only its local shard's rows, each row a contiguous run of the local tensor with its
global start; a non-contiguous plain tensor is filled through its strided view. Schemes
that are functions (``orthogonal_``, ...) run afterwards, one call per tensor, and the
rows a layer zeroes after drawing (an embedding's padding) are zeroed last.
"""

import numpy as np
import torch

from .. import arrays
from ..backends import ENTRY
from ..distributions import rule_for
from ..generator import Generator, _check_u64
from ..registry import FAMILIES, FAMILY_RULES, FLOAT_DTYPES
from ..schemes import Constant
from .names import stream_of
from .plan import DISTRIBUTIONS, is_function
from .shards import is_whole, local_part, runs, take

_CONSTANT = FAMILIES.index("constant")


class _Tables:
    """Rows of multi-tensor fills, grouped by (device, CUDA stream, dtype)."""

    def __init__(self):
        self.rows = {}
        self.cuda_streams = {}

    def _device_key(self, local):
        if local.device.type == "cpu":
            return None, 0
        if local.device.type != "cuda":
            raise ValueError(f"fastinit fills CPU and CUDA tensors, not {local.device}")
        index = (local.device.index if local.device.index is not None
                 else torch.cuda.current_device())
        if index not in self.cuda_streams:
            self.cuda_streams[index] = torch.cuda.current_stream(index).cuda_stream
        return index, self.cuda_streams[index]

    def add(self, local, dtype, indices, global_shape, stream, seed, family, params, bits):
        rows = self.rows.setdefault(self._device_key(local) + (dtype,), [])
        params = tuple(params)
        params += (0.0,) * (7 - len(params))
        if indices is None:
            rows.append((local.data_ptr(), local.numel(), 0, seed, stream, 0, family, params,
                         bits))
            return
        offsets, starts, lengths = runs(indices, global_shape)
        ptr, size = local.data_ptr(), local.element_size()
        rows.extend((ptr + int(o) * size, int(n), int(a), seed, stream, 0, family, params, bits)
                    for o, a, n in zip(offsets, starts, lengths))

    def fill(self, backend):
        for (device, cuda_stream, dtype), rows in self.rows.items():
            arrays.fill_many(dtype, np.array(rows, ENTRY), device, cuda_stream, backend)


def _elementwise(scheme, global_shape):
    """("constant", value) or ("random", distribution) of an elementwise scheme."""
    if isinstance(scheme, Constant):
        return "constant", scheme.value
    if isinstance(scheme, DISTRIBUTIONS):
        return "random", scheme
    return "random", scheme.distribution(global_shape)


def run(plan, seed, backend=None):
    """Initialize every target of ``plan`` for ``seed``: elementwise schemes in one
    multi-tensor fill per (device, dtype), then the functions, then zeroed rows."""
    seed = _check_u64("seed", seed)
    tables = _Tables()
    later = []
    for target in plan:
        if target.scheme is None:
            continue
        if is_function(target.scheme):
            later.append(target)
            continue
        local, global_shape, indices = local_part(target.tensor)
        kind, what = _elementwise(target.scheme, global_shape)
        if local.numel() == 0:
            continue
        dtype = str(local.dtype).removeprefix("torch.")
        if dtype not in FLOAT_DTYPES:
            if kind != "constant":
                raise TypeError(f"{target.name}: random schemes fill dtypes "
                                f"{', '.join(FLOAT_DTYPES)}; got {local.dtype}")
            with torch.no_grad():
                local.fill_(what)
            continue
        if not local.is_contiguous():
            _fill_strided(target, local, indices, global_shape, kind, what, seed, backend)
            continue
        stream = stream_of(target.name)
        if kind == "constant":
            tables.add(local, dtype, indices, global_shape, stream, seed, _CONSTANT, (),
                       arrays.constant_bits(dtype, what))
        else:
            rule = rule_for(what, dtype)
            tables.add(local, dtype, indices, global_shape, stream, seed,
                       FAMILY_RULES[dtype].index(rule.name), map(float, rule.params), 0)
    tables.fill(backend)
    for target in later:
        _call(target, seed)
    for target in plan:
        if target.zero_rows and target.scheme is not None:
            _zero_rows(target)


def _fill_strided(target, local, indices, global_shape, kind, what, seed, backend):
    """A non-contiguous plain tensor, filled through its strided view."""
    if not is_whole(indices, global_shape):
        raise ValueError(f"{target.name}: a local shard must be contiguous")
    with torch.no_grad():
        if kind == "constant":
            local.fill_(what)
        else:
            Generator(seed, stream_of(target.name)).fill(local, what, backend=backend)


def _call(target, seed):
    """Run a function scheme on the whole tensor (at full size on each rank for a shard,
    which keeps its block)."""
    generator = Generator(seed, stream_of(target.name))
    local, global_shape, indices = local_part(target.tensor)
    with torch.no_grad():
        if indices is None:
            target.scheme(local, generator=generator)
            return
        whole = torch.empty(global_shape, dtype=local.dtype, device=local.device)
        target.scheme(whole, generator=generator)
        local.copy_(take(whole, indices))


def _zero_rows(target):
    local, _, indices = local_part(target.tensor)
    rows = np.arange(local.shape[0]) if indices is None else indices[0]
    with torch.no_grad():
        for row in target.zero_rows:
            for position in np.flatnonzero(rows == row):
                local[int(position)].zero_()
