"""Replay: computed values (``capture.Captured.replay``) made by re-running init code.

A tensor whose values are computed (RoPE frequencies, ``arange`` positions, ``log`` of an
``arange``, a ``clamp_`` after a draw) is filled by re-running, on the tensor's own
device and after the plan's fill, the init calls capture saw write it, in their order.
Within them:

- a write to a tensor being replayed is done from the write capture chose on (the
  first write after the tensor's last scheme); earlier ones are skipped;
- writes to every other tensor of the module are skipped (their values come from the
  fill), as are all ``torch.nn.init`` calls on them;
- random draws (``torch.rand``/``randn`` and their ``_like``, ``normal_``/``uniform_``,
  ``torch.nn.init``'s random functions) come from fastinit: the ``k``-th random call
  of an init call (counting the skipped ones, so a rule for one tensor changes no
  other's values) from ``Generator(seed, stream_of(f"{call.label}#{k}"))``. Other random
  draws run as written (capture saw that their values reach no tensor replayed), and
  torch's random state is as before afterwards.

A sharded (DTensor) tensor is replayed at full size on each rank, from a whole tensor
holding its scheme's values, and keeps its own shard.
"""

import math

import torch
from torch.overrides import TorchFunctionMode

from .. import init as fastinit_init
from ..generator import Generator
from . import ops
from .fill import run
from .names import own_tensors, stream_of
from .plan import Target
from .shards import is_dtensor, local_part, take


class _Replayer(TorchFunctionMode):
    """Re-runs init calls with the writes of ``starts`` only: {(call, storage key): the
    first write of that tensor in that call to do}."""

    def __init__(self, seed, model_keys, starts):
        super().__init__()
        self.seed = seed
        self.model_keys = model_keys
        self.starts = starts
        self.call = None

    def run(self, call):
        self.call, self.counts, self.draws = call, {}, 0
        with torch.no_grad():
            call.run()

    def _generator(self):
        """The generator of the next random call (module docstring)."""
        generator = Generator(self.seed, stream_of(f"{self.call.label}#{self.draws}"))
        self.draws += 1
        return generator

    def _kept(self, tensor):
        """Whether this write of ``tensor`` is done: fresh tensors always; a model
        tensor's from its start in this call on; DTensors (not replayed) never."""
        if is_dtensor(tensor):
            return False
        key = ops.storage_key(tensor)
        if key not in self.model_keys:
            return True
        count = self.counts.get(key, 0)
        self.counts[key] = count + 1
        return count >= self.starts.get((self.call, key), math.inf)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = ops.name_of(func)
        write = ops.written(func, args, kwargs)
        if write is not None:
            dest, op = write
            generator = self._generator() if op in ops.SAMPLERS else None
            if not self._kept(dest):
                return None if op in ("__setitem__", "data=") else dest
            if generator is not None:
                return generator.fill(dest, ops.sampler_distribution(op, args, kwargs))
            return func(*args, **kwargs)
        if name in ops.FACTORY_RANDOM:
            return self._drawn(name, args, kwargs)
        return func(*args, **kwargs)

    def _drawn(self, name, args, kwargs):
        """``torch.<name>(...)`` (rand, randn and their ``_like``) drawn by fastinit."""
        keep = {k: v for k, v in kwargs.items()
                if k in ("size", "dtype", "device", "layout", "pin_memory", "memory_format")}
        out = (torch.empty_like(args[0], **keep) if name.endswith("_like")
               else torch.empty(*args, **keep))
        self._generator().fill(out, ops.FACTORY_RANDOM[name])
        return out.requires_grad_(bool(kwargs.get("requires_grad", False)))

    def init_function(self, name, args, kwargs):
        """``torch.nn.init.<name>``: done on a kept tensor, drawn by fastinit."""
        tensor, params = ops.bind(name, args, kwargs)
        random = name in ops.RANDOM_INIT_FUNCTIONS
        generator = self._generator() if random else None
        with torch._C.DisableTorchFunction():
            if not self._kept(tensor):
                return tensor
            if random:
                return getattr(fastinit_init, name)(tensor, **params, generator=generator)
            return ops.INIT_FUNCTIONS[name](tensor, **params)


def _whole(target, seed, backend):
    """A plain tensor of ``target``'s global shape holding its scheme's values."""
    local, global_shape, _ = local_part(target.tensor)
    whole = torch.empty(global_shape, dtype=local.dtype, device=local.device)
    run([Target(target.name, whole, target.scheme, target.zero_rows)], seed, backend)
    return whole


def _swapped(module, replacements):
    """Put ``replacements`` ({id of a tensor: tensor}) in every place ``module`` holds
    those tensors; returns how to undo it."""
    undo = []
    for owner in module.modules():
        for table in (owner._parameters, owner._buffers):
            for local, tensor in table.items():
                if tensor is not None and id(tensor) in replacements:
                    undo.append((table, local, tensor))
                    new = replacements[id(tensor)]
                    table[local] = (torch.nn.Parameter(new, tensor.requires_grad)
                                    if isinstance(tensor, torch.nn.Parameter) else new)
    return undo


def replay(module, targets, seed, backend=None):
    """Compute the values of every target of ``module`` with a ``replay`` (from
    ``capture``) by re-running its init calls (module docstring). Runs after the plan's
    fill, on the tensors' devices."""
    pending = [t for t in targets if t.replay]
    if not pending:
        return
    sharded = {id(t.tensor): _whole(t, seed, backend) for t in pending if is_dtensor(t.tensor)}
    undo = _swapped(module, sharded)
    try:
        replayed = {id(t.tensor): sharded.get(id(t.tensor), t.tensor) for t in pending}
        model_keys = {ops.storage_key(t) for _, _, _, t, _ in own_tensors(module)}
        starts = {(call, ops.storage_key(replayed[id(t.tensor)])): start
                  for t in pending for call, start in t.replay}
        calls = sorted({call for t in pending for call, _ in t.replay}, key=lambda c: c.order)
        replayer = _Replayer(seed, model_keys, starts)
        devices = {t.tensor.device.index or 0 for t in pending if t.tensor.device.type == "cuda"}
        with torch.random.fork_rng(devices=sorted(devices)), ops.patched_init_functions(
                replayer.init_function), replayer:
            for call in calls:
                replayer.run(call)
    finally:
        for table, local, tensor in undo:
            table[local] = tensor
    for target in pending:
        if id(target.tensor) in sharded:
            local, _, indices = local_part(target.tensor)
            with torch.no_grad():
                local.copy_(take(sharded[id(target.tensor)], indices))
