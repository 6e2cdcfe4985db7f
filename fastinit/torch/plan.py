"""Plans: which tensor of a model gets which scheme.

A *plan* pairs every parameter and buffer of a module, under its canonical
fully-qualified name (``names.py``), with a scheme: the first of the user's ``rules``
that matches, else what the model's own init code gives it (``capture.py``), else what
the layer's own ``reset_parameters`` would draw (``layers.py``); with the rows the layer
zeroes after drawing, and the init calls that compute the rest of its values
(``replay.py``). Tensors nothing covers are one error, grouped by name pattern, module
class and reason, each pattern a ``rules=`` key that covers its group. Nothing here
writes a tensor: ``fill.run`` executes a plan's ``targets``.
"""

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from ..distributions import Normal, TruncatedNormal, Uniform
from ..schemes import Constant
from .layers import default_schemes, zero_rows
from .names import full_name, own_tensors

DISTRIBUTIONS = (Uniform, Normal, TruncatedNormal)
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


def is_function(scheme):
    """Whether ``scheme`` is a function ``fn(tensor, generator=...)``, called once per
    tensor after the table fill."""
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


def _layer_defaults(module):
    """({canonical name: layer default scheme}, {canonical name: rows zeroed after it})."""
    defaults, zeroed = {}, {}
    for prefix, owner in reversed(list(module.named_modules())):
        for rel, scheme in default_schemes(owner).items():
            defaults[full_name(prefix, rel)] = scheme
        if zero_rows(owner):
            zeroed[full_name(prefix, "weight")] = zero_rows(owner)
    return defaults, zeroed


def _with_rows(scheme, name, zeroed):
    """(scheme, the rows its owner zeroes after it): none after a function."""
    return scheme, () if is_function(scheme) else zeroed.get(name, ())


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
