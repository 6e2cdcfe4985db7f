"""The torch calls that capture (``capture.py``) records and replay (``replay.py``) re-runs.

An init routine changes a tensor through three kinds of call, and these names sort them:

- ``torch.nn.init``'s functions (``INIT_FUNCTIONS``): reached by patching them where
  torch binds them and in transformers' ``TORCH_INIT_FUNCTIONS`` table, which every
  guarded ``transformers.initialization`` wrapper consults at call time
  (``patched_init_functions``); one call is one write of the whole argument;
- writes seen by a ``TorchFunctionMode`` (``written``): in-place methods
  (``normal_``, ``copy_``, ``mul_``, ...), ``t[i] = v``, ``t.data = v``, ``out=``;
- calls that make values (``FACTORY_RANDOM``, ``FACTORY_CONSTANT``, ...), whose
  results a later ``copy_`` or ``nn.Parameter(...)`` may put into the model.

A tensor is followed by its storage (``storage_key``): views, ``.data`` aliases and an
``nn.Parameter`` wrapping a fresh tensor all share the storage of what they alias.
"""

import contextlib
import functools
import inspect
import sys

import torch

from ..distributions import Normal, Uniform

INIT_FUNCTIONS = {name: getattr(torch.nn.init, name) for name in (
    "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "dirac_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_", "sparse_")}
SIGNATURES = {name: inspect.signature(fn) for name, fn in INIT_FUNCTIONS.items()}
RANDOM_INIT_FUNCTIONS = frozenset(INIT_FUNCTIONS) - {"constant_", "ones_", "zeros_", "eye_",
                                                      "dirac_"}

# Modules that bind torch.nn.init's functions by name at import (the list transformers'
# guard_torch_init_functions patches).
TORCH_INIT_MODULES = (
    "torch.nn.init", "torch.nn.modules.activation", "torch.nn.modules.transformer",
    "torch.nn.modules.linear", "torch.nn.modules.loss", "torch.nn.modules.batchnorm",
    "torch.nn.modules.conv", "torch.nn.modules.normalization", "torch.nn.modules.rnn",
    "torch.nn.modules.sparse")
HF_INITIALIZATION = "transformers.initialization"

# In-place samplers: the distribution of ``t.normal_(mean, std)``, ``t.uniform_(from, to)``,
# with their argument names; and the in-place samplers fastinit has no distribution for.
SAMPLERS = {"normal_": (Normal, ("mean", "std"), (0.0, 1.0)),
            "uniform_": (Uniform, ("from", "to"), (0.0, 1.0))}
UNSUPPORTED_SAMPLERS = frozenset({"bernoulli_", "exponential_", "geometric_", "log_normal_",
                                  "cauchy_", "random_"})
FACTORY_RANDOM = {"rand": Uniform(0.0, 1.0), "rand_like": Uniform(0.0, 1.0),
                  "randn": Normal(0.0, 1.0), "randn_like": Normal(0.0, 1.0)}
UNSUPPORTED_RANDOM = frozenset({"randint", "randint_like", "randperm", "bernoulli",
                                "multinomial", "poisson", "normal", "rrelu", "dropout",
                                "binomial", "_standard_gamma", "_sample_dirichlet"})
FACTORY_CONSTANT = {"zeros": 0.0, "zeros_like": 0.0, "new_zeros": 0.0, "ones": 1.0,
                    "ones_like": 1.0, "new_ones": 1.0}
FACTORY_FULL = frozenset({"full", "full_like", "new_full"})
FACTORY_DATA = frozenset({"tensor", "as_tensor", "scalar_tensor", "new_tensor"})
FACTORY_EMPTY = frozenset({"empty", "empty_like", "new_empty", "empty_strided",
                           "new_empty_strided"})
# Calls whose result holds the same elements as their tensor argument (a view, copy or
# cast), and those that repeat elements (which keeps a constant a constant, and only that).
SAME_ELEMENTS = frozenset({"clone", "contiguous", "detach", "view", "view_as", "reshape",
                           "reshape_as", "flatten", "unsqueeze", "squeeze", "permute", "t",
                           "transpose", "to", "float", "half", "double", "bfloat16", "type",
                           "type_as", "__get__", "requires_grad_", "detach_"})
REPEATING = frozenset({"expand", "expand_as", "repeat", "broadcast_to", "tile"})
# Elementwise arithmetic (names without a trailing ``_``): a constant stays a constant
# (computed in the tensor's dtype); ``t <op> number`` of a distribution stays one, its kind
# of affine map here.
AFFINE = {"mul": "scale", "__mul__": "scale", "__rmul__": "scale", "div": "divide",
          "true_divide": "divide", "__truediv__": "divide", "add": "add", "__add__": "add",
          "__radd__": "add", "sub": "subtract", "__sub__": "subtract", "rsub": "subtract from",
          "__rsub__": "subtract from", "neg": "negate", "__neg__": "negate"}
ELEMENTWISE = frozenset(AFFINE) | frozenset({"log", "exp", "sqrt", "rsqrt", "pow", "__pow__",
                                             "__rpow__", "reciprocal", "abs", "log1p", "expm1",
                                             "sigmoid", "tanh", "clamp"})
INPLACE_OPERATORS = frozenset({"__iadd__", "__isub__", "__imul__", "__itruediv__",
                               "__ifloordiv__", "__imod__", "__ipow__", "__iand__", "__ior__",
                               "__ixor__", "__ilshift__", "__irshift__", "__imatmul__"})
# In-place writes whose values do not depend on those they replace (with the init functions,
# the samplers, t[i] = v and t.data = v).
OVERWRITES = frozenset({"copy_", "fill_", "zero_"}) | frozenset(SAMPLERS) | UNSUPPORTED_SAMPLERS
# In-place methods that change a tensor's metadata or autograd state, never its values.
METADATA_INPLACE = frozenset({"requires_grad_", "share_memory_", "t_", "transpose_",
                              "squeeze_", "unsqueeze_", "resize_", "resize_as_", "as_strided_",
                              "swapdims_", "swapaxes_", "detach_", "retain_grad",
                              "set_grad_enabled", "record_stream", "_set_grad_enabled"})


def name_of(func):
    return getattr(func, "__name__", "")


def written(func, args, kwargs):
    """(destination, op) when calling ``func`` writes a tensor's values, else None.
    ``t.data = v`` is op ``"data="``."""
    out = kwargs.get("out")
    if isinstance(out, torch.Tensor):
        return out, name_of(func)
    if not args or not isinstance(args[0], torch.Tensor):
        return None
    name = name_of(func)
    if name == "__set__":
        return (args[0], "data=") if getattr(func.__self__, "__name__", "") == "data" else None
    if name == "__setitem__" or name in INPLACE_OPERATORS:
        return args[0], name
    if name.endswith("_") and not name.startswith("_") and name not in METADATA_INPLACE:
        return args[0], name
    return None


def storage_key(tensor):
    """An identity of ``tensor``'s storage, shared by its views and aliases; None for
    tensors without one (sparse, DTensor wrappers)."""
    try:
        return tensor.untyped_storage()._cdata
    except (RuntimeError, NotImplementedError, TypeError):
        return None


def bind(name, args, kwargs):
    """(tensor, {parameter: value}) of a call of ``torch.nn.init.<name>``, defaults
    filled in, ``generator`` left out (fastinit's stream replaces any generator)."""
    bound = SIGNATURES[name].bind(*args, **kwargs)
    bound.apply_defaults()
    params = dict(bound.arguments)
    params.pop("generator", None)
    return params.pop("tensor"), params


def sampler_distribution(name, args, kwargs):
    """The distribution of an in-place sampler call ``t.normal_(...)``/``t.uniform_(...)``."""
    cls, names, defaults = SAMPLERS[name]
    values = [kwargs.get(n, args[1 + i] if len(args) > 1 + i else d)
              for i, (n, d) in enumerate(zip(names, defaults))]
    return cls(*(float(v) for v in values))


_HANDLERS = []


def _dispatching(name):
    original = INIT_FUNCTIONS[name]

    @functools.wraps(original)
    def init_function(*args, **kwargs):
        if _HANDLERS:
            return _HANDLERS[-1](name, args, kwargs)
        return original(*args, **kwargs)

    return init_function


# What the patched places hold. A module imported while they are patched may bind one by
# name for good: outside a patched block it is torch's function.
_DISPATCHING = {name: _dispatching(name) for name in INIT_FUNCTIONS}


@contextlib.contextmanager
def patched_init_functions(handler):
    """Within the block, every ``torch.nn.init`` function (where torch binds it, and in
    transformers' ``TORCH_INIT_FUNCTIONS`` when transformers is imported) is
    ``handler(name, args, kwargs)``."""
    saved = []
    tables = [vars(sys.modules[m]) for m in TORCH_INIT_MODULES if m in sys.modules]
    if HF_INITIALIZATION in sys.modules:
        tables.append(sys.modules[HF_INITIALIZATION].TORCH_INIT_FUNCTIONS)
    _HANDLERS.append(handler)
    try:
        for table in tables:
            for name, original in INIT_FUNCTIONS.items():
                if table.get(name) is original:
                    saved.append((table, name))
                    table[name] = _DISPATCHING[name]
        yield
    finally:
        for table, name in saved:
            table[name] = INIT_FUNCTIONS[name]
        _HANDLERS.remove(handler)
