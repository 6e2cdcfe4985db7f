"""Whole-model initialization: which tensor gets which scheme, and one pass that fills them.

A *plan* pairs every parameter and buffer of a module, under its canonical
fully-qualified name, with a scheme: the first of the user's ``rules`` that matches,
else what the model's own init code gives it (``capture.py``), else what the layer's
own ``reset_parameters`` would draw (``layers.py``). Each tensor draws from
``Generator(seed, stream_of(name))`` (``names.py``), element ``i`` of the whole
(unsharded) tensor getting value ``i`` of that stream. Tensors nothing covers are one
error, grouped by name pattern, module class and reason.

Executing a plan writes every elementwise scheme (distributions, fan-based schemes,
constants) of one dtype and device in a single multi-tensor fill over a table of
destinations (``backends.ENTRY``): one parallel pass on the CPU, one kernel launch on
a GPU. Sharded tensors (DTensors: FSDP2 ``fully_shard``, ``distribute_tensor``) add
only their local shard's rows, each row a contiguous run of the local tensor with its
global start. Schemes that are functions (``orthogonal_``, ...) run afterwards, one
call per tensor.
"""

import fnmatch
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import arrays
from ..backends import ENTRY, FAMILIES, FAMILY_RULES
from ..distributions import FLOAT_DTYPES, Normal, TruncatedNormal, Uniform, rule_for
from ..generator import Generator, _check_u64
from ..schemes import Constant
from .layers import default_schemes, zero_rows
from .names import canonical_name, stream_of

DISTRIBUTIONS = (Uniform, Normal, TruncatedNormal)
_CONSTANT = FAMILIES.index("constant")
_SCHEMES_ACCEPTED = ("a fastinit distribution (Uniform, Normal, TruncatedNormal), a scheme of "
                     "fastinit.schemes (XavierUniform, KaimingNormal, VarianceScaling, "
                     "Constant, ...), a function fn(tensor, generator=...) such as "
                     "functools.partial(fastinit.init.orthogonal_, gain=2), or None (leave "
                     "the tensor as it is)")


@dataclass
class Target:
    """One tensor of a plan: its canonical name, the tensor (a parameter or buffer,
    possibly a DTensor), its scheme, the rows its owner zeroes after drawing, and the
    init calls that compute the rest of its values (``replay.py``)."""

    name: str
    tensor: torch.Tensor
    scheme: object
    zero_rows: tuple = ()
    replay: tuple = ()


# Captured.scheme when capture saw no whole write: the layer default is the base of the
# captured writes.
DEFAULT = "the layer default"


@dataclass(frozen=True)
class Captured:
    """What one tensor's init code gives it (``capture.py``): ``scheme`` over the whole
    tensor (a fastinit scheme, ``DEFAULT``, or None: nothing before the replay), the rows
    zeroed after it, and ``replay``: ((init call, first write of the tensor in it to
    keep), ...) to re-run for the values, or ()."""

    scheme: object
    zero_rows: tuple = ()
    replay: tuple = ()


@dataclass(frozen=True)
class Problem:
    """Values fastinit cannot reproduce, and why."""

    reason: str


# --- schemes ---------------------------------------------------------------------------


def is_elementwise(scheme):
    """Whether the table fill writes ``scheme``: a distribution, a fan-based scheme or
    a constant (the other schemes are None and functions)."""
    return isinstance(scheme, DISTRIBUTIONS + (Constant,)) or hasattr(scheme, "distribution")


def _is_function(scheme):
    return scheme is not None and not is_elementwise(scheme)


def _check_scheme(scheme, where):
    if scheme is None or is_elementwise(scheme) or callable(scheme):
        return scheme
    raise TypeError(f"{where}: expected {_SCHEMES_ACCEPTED}; got {scheme!r}")


_MISSING = object()


def _compile_rules(rules):
    """``rules`` as a list of ``lookup(name, module, local)``, each returning the rule's
    scheme for the tensor, or ``_MISSING`` when the rule does not match it."""
    if rules is None:
        return []
    if not isinstance(rules, Mapping):
        raise TypeError(f"rules must be a mapping from name patterns or module types to "
                        f"schemes, got {type(rules).__name__}")
    return [_lookup(key, scheme) for key, scheme in rules.items()]


def _lookup(key, scheme):
    if isinstance(key, type) and issubclass(key, nn.Module):
        if isinstance(scheme, Mapping):
            per_name = {local: _check_scheme(s, f"rules[{key.__name__}][{local!r}]")
                        for local, s in scheme.items()}
            return lambda name, module, local: next(
                (s for pattern, s in per_name.items() if fnmatch.fnmatchcase(local, pattern)),
                _MISSING) if isinstance(module, key) else _MISSING
        scheme = _check_scheme(scheme, f"rules[{key!r}]")
        return lambda name, module, local: scheme if isinstance(module, key) else _MISSING
    if isinstance(key, str):
        scheme = _check_scheme(scheme, f"rules[{key!r}]")
        return lambda name, module, local: (scheme if fnmatch.fnmatchcase(name, key)
                                            else _MISSING)
    if isinstance(key, re.Pattern):
        scheme = _check_scheme(scheme, f"rules[{key.pattern!r}]")
        return lambda name, module, local: scheme if key.fullmatch(name) else _MISSING
    raise TypeError(f"rules keys must be name patterns (str globs such as '*.c_proj.weight', "
                    f"or re.compile(...)) or nn.Module subclasses, got {key!r}")


def _user_scheme(compiled, name, module, local):
    """The scheme of the first rule matching the tensor, else ``_MISSING``."""
    for lookup in compiled:
        scheme = lookup(name, module, local)
        if scheme is not _MISSING:
            return scheme
    return _MISSING


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def own_tensors(module, prefix="", recurse=True):
    """(name, owner, local name, tensor, is_buffer) of ``module``'s parameters and
    buffers (with ``recurse``, its submodules' too), each tensor once (tied weights
    under their first name), names canonical, prefixed by ``prefix``."""
    seen = set()
    modules = module.named_modules(prefix=prefix) if recurse else [(prefix, module)]
    for module_name, owner in modules:
        for is_buffer, table in ((False, owner._parameters), (True, owner._buffers)):
            for local, tensor in table.items():
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield canonical_name(_join(module_name, local)), owner, local, tensor, is_buffer


def _layer_defaults(module):
    """({canonical name: layer default scheme}, {canonical name: rows zeroed after it})."""
    defaults, zeroed = {}, {}
    for prefix, owner in reversed(list(module.named_modules())):
        for rel, scheme in default_schemes(owner).items():
            defaults[canonical_name(_join(prefix, rel))] = scheme
        if zero_rows(owner):
            zeroed[canonical_name(_join(prefix, "weight"))] = zero_rows(owner)
    return defaults, zeroed


def _with_rows(scheme, name, zeroed):
    """(scheme, the rows its owner zeroes after it): none after a function."""
    return scheme, () if _is_function(scheme) else zeroed.get(name, ())


def _default(name, defaults, zeroed):
    return _with_rows(defaults[name], name, zeroed)


def _from_capture(name, entry, defaults, zeroed):
    """((scheme, zero rows, replay), None) of a tensor from what capture found (None:
    nothing), else the layer default; (None, reason) when neither gives its values."""
    if isinstance(entry, Problem):
        return None, entry.reason
    if entry is None:
        return ((*_default(name, defaults, zeroed), ()), None) if name in defaults else (
            None, None)
    if entry.scheme is not DEFAULT:
        return (entry.scheme, entry.zero_rows, entry.replay), None
    if name not in defaults:
        return None, ("only part of it is written by its init code, and no layer default "
                      "gives the rest")
    scheme, rows = _default(name, defaults, zeroed)
    return (scheme, rows + tuple(r for r in entry.zero_rows if r not in rows),
            entry.replay), None


def schemes(module, rules=None, provided=frozenset(), captured=None, meta_buffers=False):
    """``{canonical name: (scheme, zero rows, replay)}`` for every tensor of ``module``
    that a rule, its captured init code (``captured``: ``capture.capture(module)``) or a
    layer default covers, in that order. A parameter (with ``meta_buffers``, a meta
    buffer too) that none covers, or whose captured init fastinit cannot reproduce, is
    one ``ValueError`` for all of them, unless its name is in ``provided`` (a checkpoint
    has it)."""
    plan, uncovered = cover(module, rules, provided, captured, meta_buffers)
    if uncovered:
        raise ValueError(uncovered_message(uncovered))
    return plan


def cover(module, rules=None, provided=frozenset(), captured=None, meta_buffers=False):
    """(the plan ``schemes`` returns, [(name, module class, reason)] of the tensors it
    raises for)."""
    compiled = _compile_rules(rules)
    defaults, zeroed = _layer_defaults(module)
    captured = captured or {}
    plan, uncovered = {}, []
    for name, owner, local, tensor, is_buffer in own_tensors(module):
        scheme = _user_scheme(compiled, name, owner, local)
        if scheme is not _MISSING:
            plan[name] = (*_with_rows(scheme, name, zeroed), ())
            continue
        if name in provided:
            continue
        if tensor.numel() == 0:  # no values to give
            plan[name] = (None, (), ())
            continue
        entry, reason = _from_capture(name, captured.get(name), defaults, zeroed)
        if entry is not None:
            plan[name] = entry
        elif reason or not is_buffer or (meta_buffers and tensor.is_meta):
            uncovered.append((name, type(owner).__name__, reason or _NEVER[is_buffer]))
    return plan, uncovered


_NEVER = {False: "nothing initializes it (no init code writes it)",
          True: "a meta buffer: no values, and no init code writes it"}
_MAX_GROUPS = 20


def name_pattern(name):
    """``name`` with every index replaced by ``*``: a rule key matching all its layers."""
    return ".".join("*" if part.isdigit() else part for part in name.split("."))


def uncovered_message(uncovered):
    """The error for (name, module class, reason) triples: one line per name pattern,
    module class and reason, each pattern a ``rules=`` key that matches its tensors."""
    groups = {}
    for name, owner, reason in uncovered:
        groups.setdefault((name_pattern(name), owner, reason), []).append(name)
    lines = [f"  `{pattern}` ({len(names)} tensor{'s' * (len(names) > 1)}, {owner}): {reason}"
             for (pattern, owner, reason), names in list(groups.items())[:_MAX_GROUPS]]
    if len(groups) > _MAX_GROUPS:
        lines.append(f"  ... and {len(groups) - _MAX_GROUPS} more groups")
    example = next(iter(groups))[0]
    return (f"{len(uncovered)} tensor(s) get values from no rule, no captured init code and "
            "no layer default:\n" + "\n".join(lines) + "\nGive each group a scheme in rules=, "
            f"keyed by its pattern, e.g. rules={{'{example}': fastinit.Normal(0.0, 0.02)}}: a "
            "distribution, a fastinit.schemes scheme, a function fn(tensor, generator=...) "
            "that computes the values, or None to leave them as they are")


def targets(module, plan):
    """A ``Target`` per tensor of ``module`` that ``plan`` (from ``schemes``) names."""
    return [Target(name, tensor, *plan[name])
            for name, _, _, tensor, _ in own_tensors(module) if name in plan]


# --- sharded and plain tensors ---------------------------------------------------------


def is_dtensor(tensor):
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


def _is_whole(indices, global_shape):
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
    while k > 0 and (indices is None or _is_whole(indices[k - 1:k], global_shape[k - 1:k])):
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


# --- executing a plan ------------------------------------------------------------------


class _Tables:
    """Rows of multi-tensor fills, grouped by (device, stream, dtype)."""

    def __init__(self):
        self.rows = {}
        self.streams = {}

    def _device_key(self, local):
        if local.device.type == "cpu":
            return None, 0
        if local.device.type != "cuda":
            raise ValueError(f"fastinit fills CPU and CUDA tensors, not {local.device}")
        index = (local.device.index if local.device.index is not None
                 else torch.cuda.current_device())
        if index not in self.streams:
            self.streams[index] = torch.cuda.current_stream(index).cuda_stream
        return index, self.streams[index]

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
        if _is_function(target.scheme):
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
    if not _is_whole(indices, global_shape):
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


# --- checkpoints (skip=) ---------------------------------------------------------------


def open_checkpoint(skip):
    """{canonical name: loader()} of a state dict or a checkpoint file."""
    if isinstance(skip, Mapping):
        return {canonical_name(k): (lambda v=v: v) for k, v in skip.items()}
    if not isinstance(skip, (str, Path)):
        raise TypeError(f"skip must be a state dict (a mapping of names to tensors) or the "
                        f"path of a .safetensors or torch.save file, got {type(skip).__name__}")
    path = Path(skip)
    if not path.is_file():
        raise ValueError(f"skip: no checkpoint file at {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open
        except ImportError:
            raise ImportError("reading .safetensors checkpoints needs the safetensors package "
                              "(pip install fastinit[safetensors])") from None
        handle = safe_open(str(path), framework="pt")
        return {canonical_name(k): (lambda k=k: handle.get_tensor(k)) for k in handle.keys()}
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return {canonical_name(k): (lambda v=v: v) for k, v in state.items()}


def load_checkpoint(module, checkpoint):
    """Copy every tensor ``checkpoint`` (from ``open_checkpoint``) has into ``module``'s
    tensor of that name (its local shard for a DTensor); keys the module lacks warn."""
    names = set()
    for name, _, _, tensor, _ in own_tensors(module):
        names.add(name)
        if name not in checkpoint:
            continue
        value = checkpoint[name]()
        local, global_shape, indices = local_part(tensor)
        if tuple(value.shape) != global_shape:
            raise ValueError(f"skip: checkpoint tensor {name} has shape {tuple(value.shape)}, "
                             f"the model's is {global_shape}")
        with torch.no_grad():
            local.copy_(take(value, indices))
    unused = sorted(set(checkpoint) - names)
    if unused:
        warnings.warn(f"skip: {len(unused)} checkpoint tensor(s) are not in the model and were "
                      f"not used: {', '.join(unused[:10])}" + (" ..." if len(unused) > 10 else ""),
                      stacklevel=3)
