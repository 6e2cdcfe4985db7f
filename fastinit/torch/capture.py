"""Capture: what a model's own init code gives each tensor, as fastinit schemes.

``capture(module)`` runs the module's init code on meta stand-ins of its tensors (twins:
untied, plain, without storage or ``_is_hf_initialized`` flags; the module's own tensors
are never written) and records every write (``ops.py`` says which calls write). The
init code is, in this order:

- ``reset_parameters()`` of every module whose class defines its own, outside torch
  (children first: a parent's writes come later and win);
- ``initialize_weights()`` of every ``transformers.PreTrainedModel`` (each module's
  ``_init_weights``, as transformers' meta-device loading runs it; ``hf.py``);
- before both, the construction: for ``from_config``, the model's own (recorded by
  ``Recorder.recording``; it replaces the first step, whose work it did); for a
  transformers model already built on meta, its class built again from its config on
  meta, each tensor taking the construction of its namesake of the same shape, dtype
  and module class (what ``__init__`` alone gives: openai-gpt's ``Conv1D`` draws, CLIP's
  ``logit_scale``, weight norm's ``g``).

The last write to a tensor wins. What a tensor then holds (``Captured``):

- a scheme drawn or filled over the whole tensor: ``init.kaiming_uniform_(w, a=sqrt(5))``
  is ``KaimingUniform(a=sqrt(5))``, the bound torch computes from the fan; ``t.normal_(0,
  0.02)`` is ``Normal(0, 0.02)``; ``torch.randn(d) * 0.02`` wrapped in a Parameter is
  ``Normal(0, 0.02)``; ``zeros_``, ``fill_``, ``torch.ones(d) * 1e-5`` are constants,
  computed in the tensor's dtype; with the rows zeroed after it (an embedding's padding);
- computed values (``copy_`` of RoPE frequencies or of ``arange`` positions, a ``clamp_``
  after a draw): the init calls to re-run for them (``replay``), from the first write
  that counts; materialize re-runs them on the target device (``replay.py``). A tensor
  a constructor made by ops on other tensors and constants (``g = norm_except_dim(v)``,
  ``log(arange(n))``) and nothing wrote after is recomputed by those ops, on the
  model's tensors, the same way;
- or a ``Problem``: values fastinit cannot reproduce (written in ``__init__``, drawn by
  a sampler fastinit has no distribution for, an init call that raised on meta).
"""

import contextlib
import functools
import itertools
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .. import init as fastinit_init
from ..distributions import Normal, TruncatedNormal, Uniform
from ..schemes import (ONES, ZEROS, Constant, KaimingNormal, KaimingUniform, XavierNormal,
                       XavierUniform)
from . import hf, ops
from .names import canonical_name, own_tensors
from .plan import DEFAULT, DISTRIBUTIONS, Captured, Problem, is_elementwise

def _without_generator(function, tensor, generator=None, **params):
    return function(tensor, **params)


# torch.nn.init.<name>(tensor, **params) as a fastinit scheme, with torch's parameter names.
_SCHEMES = {
    "uniform_": lambda p: Uniform(float(p["a"]), float(p["b"])),
    "normal_": lambda p: Normal(float(p["mean"]), float(p["std"])),
    "trunc_normal_": lambda p: TruncatedNormal(float(p["mean"]), float(p["std"]),
                                               float(p["a"]), float(p["b"])),
    "constant_": lambda p: Constant(float(p["val"])),
    "ones_": lambda p: ONES,
    "zeros_": lambda p: ZEROS,
    "xavier_uniform_": lambda p: XavierUniform(float(p["gain"])),
    "xavier_normal_": lambda p: XavierNormal(float(p["gain"])),
    "kaiming_uniform_": lambda p: KaimingUniform(p["a"], p["mode"], p["nonlinearity"]),
    "kaiming_normal_": lambda p: KaimingNormal(p["a"], p["mode"], p["nonlinearity"]),
    "orthogonal_": lambda p: functools.partial(fastinit_init.orthogonal_, gain=p["gain"]),
    "sparse_": lambda p: functools.partial(fastinit_init.sparse_, sparsity=p["sparsity"],
                                           std=p["std"]),
    "eye_": lambda p: functools.partial(_without_generator, fastinit_init.eye_),
    "dirac_": lambda p: functools.partial(_without_generator, fastinit_init.dirac_,
                                          groups=p["groups"]),
}


@dataclass(eq=False)
class Call:
    """One init call: ``run()`` runs ``method`` of (or for) ``module``, named ``name``."""

    module: nn.Module = field(repr=False)
    name: str
    method: str
    run: object = field(repr=False)
    order: int = -1

    @property
    def label(self):
        """The name the call's random draws take their streams from in a replay."""
        return f"{self.name}:{self.method}"


@dataclass(frozen=True)
class Content:
    """What a tensor holds as far as capture knows. ``kind``: "scheme" (``scheme`` over
    the whole tensor, ``zero_rows`` zeroed after it; ``origin`` names the random draw
    it is), "default" (no whole write seen), "empty" (never written), "computed"
    (values that only re-running code reproduces) or "problem" (``reason``)."""

    kind: str
    scheme: object = None
    zero_rows: tuple = ()
    origin: object = None
    reason: str = ""


DEFAULT_CONTENT = Content("default")
EMPTY = Content("empty")
COMPUTED = Content("computed")


def _problem(reason):
    return Content("problem", reason=reason)


def _constant(value):
    return Content("scheme", Constant(value))


@dataclass
class _Step:
    """One write: its call, its index among the call's writes of the storage, whether
    it replaces every value (no value before it matters), its op, the content after,
    and its place among all writes."""

    call: object
    local: int
    replaces: bool
    op: str
    content: Content
    seq: int = 0


@dataclass(eq=False)
class _Track:
    """A storage capture follows: its first tensor, what it holds, and every write."""

    tensor: torch.Tensor
    content: Content
    model: bool = False
    steps: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    written: object = None  # while only parts of a never-written storage are: which
    recipe: object = None  # (func, args, kwargs, result) that made it in a constructor


def _dense(tensor):
    """Whether ``tensor``'s elements fill a contiguous run of its storage, in some order."""
    expected = 1
    for size, stride in sorted(((s, st) for s, st in zip(tensor.shape, tensor.stride())
                                if s > 1), key=lambda p: p[1]):
        if stride != expected:
            return False
        expected *= size
    return True


def _region(view, base):
    """What of ``base`` the write through ``view`` (same storage) covers: "same" (all of
    it, the same layout), "whole" (all of it, another shape or layout), ``range`` of
    whole rows of a contiguous base, or "part"."""
    start = view.storage_offset() - base.storage_offset()
    if start == 0 and view.shape == base.shape and view.stride() == base.stride():
        return "same"
    if not _dense(view):
        return "part"
    if start == 0 and view.numel() == base.numel():
        return "whole"
    if base.dim() == 0 or base.shape[0] == 0 or not (base.is_contiguous()
                                                     and view.is_contiguous()):
        return "part"
    row = base.numel() // base.shape[0]
    if row and start >= 0 and start % row == 0 and view.numel() % row == 0:
        return range(start // row, (start + view.numel()) // row)
    return "part"


def _tensors(values):
    for value in values:
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, (list, tuple)):
            yield from _tensors(value)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _uniform_data(data):
    """The one number nested lists ``data`` hold everywhere, else None."""
    if isinstance(data, (int, float, bool)):
        return data
    if isinstance(data, (list, tuple)) and data:
        values = {_uniform_data(d) for d in data}
        if len(values) == 1:
            return values.pop()
    return None


def _factory_constant(name, args, kwargs):
    """The value every element of a factory call's result holds, else None."""
    if name in ops.FACTORY_CONSTANT:
        return ops.FACTORY_CONSTANT[name]
    if name in ops.FACTORY_FULL:
        value = kwargs.get("fill_value", args[2 if name == "new_full" else 1]
                           if len(args) > (2 if name == "new_full" else 1) else None)
        return value if isinstance(value, (int, float, bool)) else None
    if name in ops.FACTORY_DATA:
        data = kwargs.get("data", args[1 if name == "new_tensor" else 0]
                          if len(args) > (1 if name == "new_tensor" else 0) else None)
        return _uniform_data(data)
    return None


def _affine(name, args, kwargs):
    """(scale, shift) when ``name(*args, **kwargs)`` is its tensor times a number plus a
    number, else None."""
    kind = ops.AFFINE.get(name)
    if kind == "negate":
        return (-1.0, 0.0) if len(args) == 1 and not kwargs else None
    if (kind is None or len(args) != 2 or not isinstance(args[0], torch.Tensor)
            or not _number(args[1]) or set(kwargs) - {"alpha"}):
        return None
    c, alpha = float(args[1]), float(kwargs.get("alpha", 1))
    return {"scale": (c, 0.0), "divide": (1.0 / c, 0.0) if c else None, "add": (1.0, c * alpha),
            "subtract": (1.0, -c * alpha), "subtract from": (-alpha, c)}[kind]


def _scaled(scheme, scale, shift, shape):
    """``scheme`` times ``scale`` plus ``shift``, or None when that is no scheme."""
    if hasattr(scheme, "distribution"):
        scheme = scheme.distribution(shape)
    if scale == 0:
        return Constant(shift)
    if isinstance(scheme, Normal):
        return Normal(scheme.mean * scale + shift, scheme.std * abs(scale))
    ends = sorted((scheme.low * scale + shift, scheme.high * scale + shift)) if isinstance(
        scheme, Uniform) else None
    if ends:
        return Uniform(*ends)
    if isinstance(scheme, TruncatedNormal):
        return TruncatedNormal(scheme.mean * scale + shift, scheme.std * abs(scale),
                               *sorted((scheme.a * scale + shift, scheme.b * scale + shift)))
    return None


def _transformed(content, name, args, kwargs, tensor):
    """The content of ``name(*args)``, an affine map of ``tensor`` whose content is
    ``content`` (a scheme), else computed."""
    affine = _affine(name, args, kwargs)
    if affine is None or (content.zero_rows and affine[1]):
        return COMPUTED
    scheme = _scaled(content.scheme, *affine, tuple(tensor.shape))
    return replace(content, scheme=scheme) if scheme is not None else COMPUTED


class Recorder(TorchFunctionMode):
    """Records what every write during init code gives each tensor (module docstring)."""

    def __init__(self):
        super().__init__()
        self.tracks = {}
        self.call = None
        self.calls = []
        self.failures = {}
        self._origins = itertools.count()
        self._seq = itertools.count()
        self._alive = []

    @contextlib.contextmanager
    def recording(self):
        """Within the block, writes are recorded and ``torch.nn.init`` writes nothing; the
        CPU random state is as before afterwards."""
        with torch.random.fork_rng(devices=[]), ops.patched_init_functions(
                self.init_function), self:
            yield

    def run(self, call):
        """Run one init call under ``torch.no_grad()``, recording its writes; an exception
        is kept in ``failures``, not raised."""
        call.order = len(self.calls)
        self.calls.append(call)
        self.call = call
        try:
            with torch.no_grad():
                call.run()
        except Exception as error:  # the model's own code on meta tensors: any error
            self.failures[call] = error
        finally:
            self.call = None

    # --- what calls write and make ------------------------------------------------------

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        write = ops.written(func, args, kwargs)
        if write is None:
            result = func(*args, **kwargs)
            self._made(func, args, kwargs, result)
            return result
        dest, op = write
        if op == "data=":  # the tensor takes the storage of args[1]; capture follows it there
            track = self._write(dest, self._copied(args[1], dest), op, replaces=True)
            self._alive.append(dest.detach())  # its old storage keeps its key
            func(*args, **kwargs)
            track.tensor = dest
            self.tracks[ops.storage_key(dest)] = track
            return None
        if op == "__setitem__":
            region = dest.__getitem__(args[1])
            func(*args, **kwargs)
            self._write(region if ops.storage_key(region) == ops.storage_key(dest) else None,
                        self._value(args[2]), op, replaces=True, base=dest)
            return None
        content = self._written(func, op, dest, args, kwargs)
        result = func(*args, **kwargs)
        replaces = op in ops.OVERWRITES or ("out" in kwargs and not any(
            t is dest for t in _tensors(args)))
        self._write(dest, content, op, replaces=replaces)
        return result

    def init_function(self, name, args, kwargs):
        """``torch.nn.init.<name>(*args, **kwargs)`` while recording: its scheme, recorded
        as a write of its tensor; nothing is written."""
        tensor, params = ops.bind(name, args, kwargs)
        with torch._C.DisableTorchFunction():
            try:
                scheme = _SCHEMES[name](params)
                if hasattr(scheme, "distribution"):
                    scheme.distribution(tuple(tensor.shape))
            except (ValueError, TypeError, KeyError) as error:
                content = _problem(f"{name}: {error}")
            else:
                content = (self._drawn(scheme) if name in ops.RANDOM_INIT_FUNCTIONS
                           else Content("scheme", scheme))
            self._write(tensor, content, name, replaces=True)
        return tensor

    def _drawn(self, scheme):
        return Content("scheme", scheme, origin=next(self._origins))

    def _written(self, func, op, dest, args, kwargs):
        """The content a writing call gives the part of ``dest`` it writes."""
        if "out" in kwargs:
            rest = {k: v for k, v in kwargs.items() if k != "out"}
            return self._derived(func, ops.name_of(func), args, rest, dest)
        if op in ops.SAMPLERS:
            return self._drawn(ops.sampler_distribution(op, args, kwargs))
        if op in ops.UNSUPPORTED_SAMPLERS:
            return _problem(f"{op} (fastinit has no such distribution)")
        if op == "zero_":
            return Content("scheme", ZEROS)
        if op == "fill_":
            return self._value(args[1])
        if op == "copy_":
            return self._copied(args[1], dest)
        name = op[:2] + op[3:] if op in ops.INPLACE_OPERATORS else op[:-1]
        own = self.tracks.get(ops.storage_key(dest))
        if own is not None and own.content.kind == "scheme" and not isinstance(
                own.content.scheme, Constant):  # its own values, scaled or shifted
            return _transformed(own.content, name, args, kwargs, dest)
        return self._derived(func, name, args, kwargs, dest)

    def read(self, tensor):
        """The content ``tensor``'s values have as a source of other values. Another
        model tensor's random values are computed (a copy must copy them, not redraw)."""
        track = self.tracks.get(ops.storage_key(tensor))
        if track is None:
            return COMPUTED
        content = track.content
        if content.kind == "default" or (track.model and content.kind == "scheme"
                                         and not isinstance(content.scheme, Constant)):
            return COMPUTED
        if content.kind == "empty":
            return _problem("computed from values that were never initialized")
        return content

    def _value(self, value):
        """The content of filling with ``value``, a number or a tensor."""
        if isinstance(value, torch.Tensor):
            content = self.read(value)
            if content.kind == "scheme" and not isinstance(content.scheme, Constant):
                return COMPUTED
            return content
        return _constant(value) if isinstance(value, (int, float, bool)) else COMPUTED

    def _copied(self, source, dest):
        """The content ``dest.copy_(source)`` gives: a distribution only when every
        element gets its own value."""
        content = self.read(source)
        if (content.kind == "scheme" and not isinstance(content.scheme, Constant)
                and source.numel() != dest.numel()):
            return COMPUTED
        return content

    def _derived(self, func, name, args, kwargs, out):
        """The content of ``out``, the result of ``func(*args, **kwargs)``."""
        if name in ops.FACTORY_RANDOM:
            return self._drawn(ops.FACTORY_RANDOM[name])
        if name in ops.UNSUPPORTED_RANDOM:
            return _problem(f"{name} (fastinit has no such distribution)")
        if name in ops.FACTORY_EMPTY:
            return EMPTY
        value = _factory_constant(name, args, kwargs)
        if value is not None:
            return _constant(value)
        inputs = [(t, self.read(t)) for t in _tensors(list(args) + list(kwargs.values()))]
        if not inputs or name in ops.FACTORY_DATA:
            return COMPUTED
        for _, content in inputs:
            if content.kind == "problem":
                return content
        if all(c.kind == "scheme" and isinstance(c.scheme, Constant) for _, c in inputs):
            return self._folded(func, name, args, kwargs, out, dict(
                (id(t), c.scheme.value) for t, c in inputs))
        if len(inputs) != 1 or inputs[0][1].kind != "scheme":
            return COMPUTED
        tensor, content = inputs[0]
        if name in ops.SAME_ELEMENTS:
            return content
        return _transformed(content, name, args, kwargs, tensor)

    def _folded(self, func, name, args, kwargs, out, values):
        """The constant content of ``func(*args)`` over constant tensors (``values``:
        id -> value), computed on 0-dim CPU tensors of their dtypes; else computed."""
        if name in ops.SAME_ELEMENTS or name in ops.REPEATING:
            source = next(_tensors(args))
            value = torch.tensor(values[id(source)], dtype=source.dtype)
            return _constant(value.to(out.dtype).item())
        if name not in ops.ELEMENTWISE:
            return COMPUTED

        def scalar(value):
            if isinstance(value, torch.Tensor):
                return torch.tensor(values[id(value)], dtype=value.dtype)
            return value

        try:
            result = func(*map(scalar, args), **{k: scalar(v) for k, v in kwargs.items()})
        except (RuntimeError, TypeError, ValueError):
            return COMPUTED
        return _constant(result.to(out.dtype).item())

    def _made(self, func, args, kwargs, result):
        """Follow each new storage a non-writing call returns, with what it holds."""
        outputs = [result] if isinstance(result, torch.Tensor) else list(
            _tensors(result if isinstance(result, (list, tuple)) else ()))
        for out in outputs:
            key = ops.storage_key(out)
            if key is None or key in self.tracks:
                continue
            name = ops.name_of(func)
            content = self._derived(func, name, args, kwargs, out)
            track = self.tracks[key] = _Track(out, EMPTY)
            self._step(track, True, name, content)
            if self.call is None and content.kind == "computed" and len(outputs) == 1:
                track.recipe = (func, args, kwargs, out)

    def _write(self, view, content, op, replaces, base=None):
        """Record that a write gives the part of a storage ``view`` covers ``content``
        (``view`` None: an unknown part of ``base``'s storage); ``replaces``: the values
        written do not depend on those there before. Returns the storage's track."""
        key = ops.storage_key(view if view is not None else base)
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = _Track(view if view is not None else base, COMPUTED)
        region = _region(view, track.tensor) if view is not None else "part"
        whole = replaces and region in ("same", "whole")
        self._step(track, whole, op, self._combined(track, region, content, view))
        return track

    def _combined(self, track, region, content, view):
        """The content of a storage after ``content`` is written over ``region`` of it."""
        if region == "same":
            return content
        if region == "whole":
            scheme = content.scheme
            if content.kind != "scheme" or isinstance(scheme, Constant):
                return content
            if hasattr(scheme, "distribution"):
                return replace(content, scheme=scheme.distribution(tuple(view.shape)))
            return content if isinstance(scheme, DISTRIBUTIONS) else COMPUTED
        base = track.content
        if base.kind == "empty" or track.written is not None:
            return _covered(track, view, content)
        if (isinstance(region, range) and content.kind == "scheme" and content.scheme == ZEROS
                and (base.kind == "default" or (base.kind == "scheme"
                                                and is_elementwise(base.scheme)))):
            return replace(base, zero_rows=base.zero_rows + tuple(
                r for r in region if r not in base.zero_rows))
        if base.kind == "problem":
            return base
        return content if content.kind == "problem" else COMPUTED

    def _step(self, track, replaces, op, content):
        local = track.counts.get(self.call, 0)
        track.counts[self.call] = local + 1
        track.steps.append(_Step(self.call, local, replaces, op, content, next(self._seq)))
        track.content = content
        if replaces:
            track.written = None

    # --- results ------------------------------------------------------------------------

    def model_track(self, twin, original=None):
        """Follow ``twin`` as a model tensor, from what capture knows of ``original``."""
        known = None if original is None else self.tracks.get(ops.storage_key(original))
        track = _Track(twin, known.content if known else DEFAULT_CONTENT, model=True,
                       steps=list(known.steps) if known else [],
                       counts=dict(known.counts) if known else {},
                       recipe=known.recipe if known else None)
        self.tracks[ops.storage_key(twin)] = track
        return track

    def resolve(self, module, slots):
        """``{canonical name: Captured or Problem}`` of the tensors ``slots`` of
        ``module`` hold."""
        groups = {}
        for slot in slots:
            groups.setdefault(id(slot.original), []).append(slot)
        originals = {ops.storage_key(g[0].source): g[0] for g in groups.values()}
        results, origins = {}, {}
        for group in groups.values():
            name = group[0].name
            tracks = [s.track for s in group if s.track.steps]
            if not tracks:
                continue
            track = tracks[0] if group[0].track.steps else tracks[-1]
            entry = _resolved(track)
            if isinstance(entry, Problem) and track.recipe is not None:
                entry = self._recomputed(module, group[0], originals) or entry
            if entry is None:
                continue
            origin = track.content.origin if isinstance(entry, Captured) else None
            if origin is not None and origins.setdefault(origin, name) != name:
                entry = Problem(f"holds the random values of {origins[origin]}")
            results[name] = entry
        self._add_failures(slots, results)
        return results

    def _recomputed(self, module, slot, originals):
        """A ``Captured`` that recomputes the tensor of ``slot`` from the recipe that made it
        in a constructor (weight norm's ``g = norm_except_dim(v)``, a buffer of ``arange``),
        when nothing wrote it after and capture can rebuild every input (``originals``:
        storage key of a model tensor -> its slot); else None."""
        track = slot.track
        out = track.recipe[3]
        if (len(track.steps) != 1 or out.shape != slot.twin.shape
                or out.stride() != slot.twin.stride() or out.storage_offset() != 0
                or not self._rebuildable(track.recipe, originals, track.steps[0].seq)):
            return None
        recompute = functools.partial(self._recompute, module, slot.name, track.recipe,
                                      originals)
        return Captured(None, (), ((Call(module, slot.name, "__init__", recompute), 0),))

    def _rebuildable(self, recipe, originals, seq):
        """Whether every tensor ``recipe`` reads is a model tensor holding its final values
        since write ``seq``, a constant, a real tensor or made by a rebuildable recipe."""
        func, args, kwargs, _ = recipe
        for tensor in _tensors(list(args) + list(kwargs.values())):
            key = ops.storage_key(tensor)
            source = self.tracks.get(key)
            if key in originals:
                model = originals[key].track
                if (tensor.shape != originals[key].source.shape
                        or model.content.kind not in ("scheme", "default")
                        or any(s.seq > seq for s in model.steps)):
                    return False
            elif source is None:
                if tensor.is_meta:
                    return False
            elif source.recipe is not None and len(source.steps) == 1:
                if not self._rebuildable(source.recipe, originals, seq):
                    return False
            elif not (source.content.kind == "scheme"
                      and isinstance(source.content.scheme, Constant)):
                return False
        return True

    def _recompute(self, module, name, recipe, originals):
        """Write the tensor ``name`` of ``module`` with ``recipe`` run on its device."""
        tensors = {n: t for n, _, _, t, _ in own_tensors(module)}
        target = tensors[name]
        target.copy_(self._rebuilt(recipe, tensors, originals, target.device))

    def _rebuilt(self, recipe, tensors, originals, device):
        """The value ``recipe`` computes, on ``device``, from the model's ``tensors``."""
        func, args, kwargs, _ = recipe

        def rebuilt(value):
            if isinstance(value, (list, tuple)):
                return type(value)(rebuilt(v) for v in value)
            if not isinstance(value, torch.Tensor):
                return value
            key = ops.storage_key(value)
            if key in originals:
                return tensors[originals[key].name]
            source = self.tracks.get(key)
            if source is None:
                return value.to(device)
            if source.recipe is not None:
                return self._rebuilt(source.recipe, tensors, originals, device)
            return torch.full(value.shape, source.content.scheme.value, dtype=value.dtype,
                              device=device)

        made = {k: rebuilt(v) for k, v in kwargs.items()}
        if next(_tensors(args), None) is None:  # a factory: made on the model's device
            made["device"] = device
        return func(*rebuilt(args), **made)

    def _add_failures(self, slots, results):
        """A tensor of a module whose init call raised, or that the call wrote, is a
        problem unless a later call replaced all of its values."""
        for call, error in self.failures.items():
            text = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            problem = Problem(f"{type(call.module).__name__}.{call.method} raised {text} on "
                              "the meta device")
            for slot in slots:
                steps = slot.track.steps
                if ((slot.owner is call.module or any(s.call is call for s in steps))
                        and not any(s.replaces and s.call is not None
                                    and s.call.order > call.order for s in steps)):
                    results[slot.name] = problem


_PARTLY = "only part of it is written; the rest is never initialized"
_MASK_LIMIT = 1 << 24  # elements of a storage whose written parts are followed


def _covered(track, view, content):
    """The content of a never-written storage after parts of it are: computed once the
    parts cover it all (``out[:, :k] = sin; out[:, k:] = cos``)."""
    base = track.tensor
    if content.kind == "problem":
        return content
    if view is None or base.untyped_storage().nbytes() > _MASK_LIMIT * base.element_size():
        return _problem(_PARTLY)
    if track.written is None:
        track.written = torch.zeros(base.untyped_storage().nbytes() // base.element_size(),
                                    dtype=torch.bool)
    track.written.as_strided(view.shape, view.stride(), view.storage_offset()).fill_(True)
    if not track.written.as_strided(base.shape, base.stride(), base.storage_offset()).all():
        return _problem(_PARTLY)
    track.written = None
    return COMPUTED


def _resolved(track):
    """What ``track``'s writes give the tensor (module docstring)."""
    steps = track.steps
    pure = [i for i, s in enumerate(steps) if s.content.kind in ("scheme", "default")]
    last_pure = pure[-1] if pure else -1
    final = steps[-1].content
    if last_pure == len(steps) - 1:
        return Captured(DEFAULT if final.kind == "default" else final.scheme, final.zero_rows)
    if final.kind == "problem":
        return Problem(final.reason)
    if final.kind == "empty":
        return None
    window = steps[last_pure + 1:]
    wholes = [i for i, s in enumerate(window) if s.replaces]
    base = None if wholes else (steps[last_pure].content if pure else DEFAULT_CONTENT)
    window = window[wholes[-1]:] if wholes else window
    if any(s.call is None for s in window):
        return Problem(f"values computed in __init__ ({window[0].op}), which fastinit cannot "
                       "re-run")
    starts = {}
    for step in window:
        starts.setdefault(step.call, step.local)
    replay = tuple(starts.items())
    if base is None:
        return Captured(None, (), replay)
    return Captured(DEFAULT if base.kind == "default" else base.scheme, base.zero_rows, replay)


# --- running init code on twins ---------------------------------------------------------


@dataclass(eq=False)
class _Slot:
    """One place a module holds a tensor, with the twin that stands in for it."""

    owner: nn.Module
    table: dict
    local: str
    original: torch.Tensor
    twin: torch.Tensor
    name: str
    track: object = None
    source: object = None  # the tensor whose construction capture takes for the original's


def _twin(tensor):
    """A meta tensor of ``tensor``'s (global, for a DTensor) size, strides and dtype, a
    Parameter if it is one."""
    twin = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype,
                               device="meta")
    if isinstance(tensor, nn.Parameter):
        return nn.Parameter(twin, requires_grad=tensor.requires_grad)
    return twin


def _places(module, prefix=""):
    """(owner, table, local name, tensor, canonical name) of every place ``module`` holds
    a tensor, tied ones once per place."""
    for path, owner in module.named_modules(prefix=prefix, remove_duplicate=False):
        for table in (owner._parameters, owner._buffers):
            for local, tensor in table.items():
                if tensor is not None:
                    yield owner, table, local, tensor, canonical_name(
                        f"{path}.{local}" if path else local)


def _constructed_again(module, roots, names, recorder):
    """{canonical name: (tensor, owner)} of the transformers models ``roots`` of a model
    built on meta, constructed again from their configs under ``recorder``: what their
    constructors gave the tensors, which the model built on meta no longer knows."""
    found = {}
    for root in roots:
        with recorder.recording(), torch.device("meta"):
            again = hf.construct_again(root)
        if again is not None:
            found.update((name, (tensor, owner)) for owner, _, _, tensor, name in _places(
                again, names[id(root)]))
    return found


def _source(slot, constructed):
    """The tensor whose construction ``slot``'s original takes: the same tensor
    constructed again (``constructed``) where it matches, else the original."""
    tensor, owner = constructed.get(slot.name, (None, None))
    if (tensor is not None and tensor.shape == slot.original.shape
            and tensor.dtype == slot.original.dtype and isinstance(slot.owner, type(owner))):
        return tensor
    return slot.original


def reset_calls(module, names):
    """A call of every ``reset_parameters`` defined outside torch, children first."""
    calls = []
    for m in module.modules():
        method = getattr(type(m), "reset_parameters", None)
        if callable(method) and not method.__module__.startswith("torch."):
            calls.append(Call(m, names[id(m)], "reset_parameters", m.reset_parameters))
    return calls[::-1]


def capture(module, recorder=None):
    """``{canonical name: Captured or Problem}`` for the tensors of ``module`` that its
    init code writes (module docstring). ``recorder``: the ``Recorder`` that recorded
    the module's construction (``from_config``); its writes come first."""
    names = {}
    for name, m in module.named_modules(remove_duplicate=False):
        names.setdefault(id(m), name)
    constructed = recorder is not None
    recorder = recorder or Recorder()
    calls = [] if constructed else reset_calls(module, names)
    roots = hf.pretrained_roots(module)
    if not (calls or roots or constructed):
        return {}
    again = {} if constructed else _constructed_again(module, roots, names, recorder)
    slots = [_Slot(*place[:4], _twin(place[3]), place[4]) for place in _places(module)]
    seen = set()
    for slot in slots:
        if id(slot.original) not in seen:
            slot.source = _source(slot, again)
        seen.add(id(slot.original))
        slot.track = recorder.model_track(slot.twin, slot.source)
        slot.table[slot.local] = slot.twin
    try:
        with recorder.recording():
            for call in calls:
                recorder.run(call)
            for root in roots:
                hf.initialize_weights(root, lambda init_weights, owner: recorder.run(Call(
                    owner, names[id(owner)], "_init_weights",
                    functools.partial(init_weights, owner))))
    finally:
        for slot in slots:
            slot.table[slot.local] = slot.original
    return recorder.resolve(module, slots)
