"""Whole-model initialization for PyTorch.

- ``init_module(module, seed, rules)``: every parameter (and the buffers with init
  semantics, such as BatchNorm's running statistics) of a module, in place, by default
  with the distributions the model's own init code draws (captured, ``capture.py``),
  else exactly those each standard layer's ``reset_parameters`` draws.
- ``materialize(module, device, seed, rules)``: a module built on the meta device
  (plain, or wrapped by FSDP2's ``fully_shard``) allocated on ``device`` and filled
  with the values ``init_module`` gives.
- ``from_config(config or class, ..., seed, device)``: a model built straight onto
  ``device`` (a transformers config or model class, or any module class with its
  arguments), no meta device in sight.
- ``param_init_fn(module, seed, rules)``: the same for FSDP1's ``param_init_fn=``.
- ``lsuv_(module, batch)``: data-based LSUV init (Mishkin & Matas, 2016).

Every tensor draws from its own stream, a stable hash of its fully-qualified name
(``stream_of``, docs/stream.md section 5): adding, removing or reordering layers
changes no other tensor's values, tied weights are initialized once, and a shard
holds exactly its part of the unsharded values, on any number of ranks.

With no rules, the model's own init code decides: ``reset_parameters`` of custom
modules and, for a ``transformers.PreTrainedModel``, its ``_init_weights``, run on meta
stand-ins of the tensors and recorded (``capture.py``): GPT-2's ``Conv1D`` weights get
N(0, 0.02), its residual projections N(0, 0.02 / sqrt(2 * n_layer)), RoPE frequencies
and position ids the values the model's code computes, on the target device
(``replay.py``). transformers models are then marked initialized (``_is_hf_initialized``),
so transformers does not redraw them.

``rules`` maps parameter-name globs (``"*.c_proj.weight"``), compiled regular
expressions or ``nn.Module`` types (to a scheme, or to ``{local name: scheme}``) to
schemes; the first matching rule wins, captured init code and then layer defaults
apply where none matches. A scheme is a distribution (``fastinit.Normal(0, 0.02)``), a
fan-based scheme of ``fastinit.schemes`` (``KaimingNormal(mode="fan_out")``,
``XavierUniform()``, ``VarianceScaling(...)``, ``Constant(0.0)``), a function
``fn(tensor, generator=...)`` (``functools.partial(fastinit.init.orthogonal_,
gain=1.0)``) or None (left as is).

GPT-2 (Radford et al., 2019) with its own init, and with rules for a model of plain
layers that draws as transformers' ``_init_weights`` does::

    model = fastinit.torch.from_config(transformers.GPT2Config(), seed=0, device="cuda")
    rules = {
        "*.c_proj.weight": fastinit.Normal(0.0, 0.02 / math.sqrt(2 * n_layer)),
        nn.Linear: {"weight": fastinit.Normal(0.0, 0.02), "bias": fastinit.schemes.ZEROS},
        nn.Embedding: fastinit.Normal(0.0, 0.02),
    }
    with torch.device("meta"):
        model = GPT2(config)
    fastinit.torch.materialize(model, "cuda", seed=0, rules=rules)
"""

import torch
from torch import nn

from ..generator import _check_u64
from . import capture, hf
from .lsuv import LSUV_TYPES, lsuv_
from .checkpoint import load_checkpoint, open_checkpoint
from .fill import run
from .names import canonical_name, own_tensors, stream_of
from .plan import Target, schemes, targets, uncovered_message
from .replay import replay
from .shards import is_dtensor

__all__ = ["LSUV_TYPES", "canonical_name", "from_config", "init_module", "lsuv_", "materialize",
           "param_init_fn", "stream_of"]


def _check_module(module):
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")


def _plan(module, seed, rules, skip, meta_buffers=False, recorder=None):
    """(checkpoint, {name: (scheme, zero rows, replay)} of the tensors to initialize):
    everything validated before anything is written. ``recorder``: what capture recorded
    of the module's construction."""
    _check_u64("seed", seed)
    checkpoint = open_checkpoint(skip) if skip is not None else {}
    captured = capture.capture(module, recorder)
    plan = schemes(module, rules, provided=checkpoint.keys(), captured=captured,
                   meta_buffers=meta_buffers)
    return checkpoint, {name: v for name, v in plan.items() if name not in checkpoint}


def _fill(module, plan, seed, backend):
    """Write every tensor of ``plan``, re-run the init code of computed values, and mark
    transformers models initialized."""
    chosen = targets(module, plan)
    run(chosen, seed, backend)
    replay(module, chosen, seed, backend)
    hf.mark_initialized(module)


def init_module(module, seed=0, rules=None, *, skip=None, backend=None):
    r"""Initialize every parameter and init-bearing buffer of ``module`` in place.

    By default each tensor gets what the model's own init code gives it (captured:
    custom ``reset_parameters``, a transformers model's ``_init_weights``), and each
    other tensor of a standard layer exactly what its ``reset_parameters`` draws
    (``nn.Linear``, ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose*``, ``nn.Embedding``,
    ``nn.EmbeddingBag``, ``nn.Bilinear``, ``nn.LayerNorm``, ``nn.RMSNorm``,
    ``nn.GroupNorm``, ``nn.BatchNorm*``/``nn.InstanceNorm*`` with their running
    statistics, ``nn.MultiheadAttention``, ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and their
    cells, ``nn.PReLU``, ``nn.Transformer``), drawn from fastinit's stream: tensor
    ``name`` gets ``Generator(seed, stream_of(name))``'s values. All elementwise
    schemes of one dtype and device are written in one multi-tensor pass.

    Args:
        module: a ``torch.nn.Module`` whose tensors have storage (CPU or CUDA; use
            ``materialize`` for a module on the meta device)
        seed: an integer in [0, 2**64)
        rules: ``{pattern or module type: scheme}`` overriding captured init code and
            layer defaults (module docstring); parameters neither covers need a rule
        skip: a state dict, or the path of a ``.safetensors`` or ``torch.save``
            checkpoint: tensors it has are loaded (as ``from_pretrained`` does), only
            the ones it lacks are initialized
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest for
            the memory); values never depend on it

    Returns:
        ``module``

    Examples:
        >>> model = nn.Sequential(nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        >>> fastinit.torch.init_module(model, seed=0)
        >>> fastinit.torch.init_module(model, seed=0, rules={"*.weight": fastinit.Normal(0, 0.02)})
    """
    _check_module(module)
    for name, _, _, tensor, _ in own_tensors(module):
        if tensor.is_meta:
            raise ValueError(f"{name} is on the meta device (no storage): use "
                             "fastinit.torch.materialize(module, device, ...)")
    checkpoint, plan = _plan(module, seed, rules, skip)
    load_checkpoint(module, checkpoint)
    _fill(module, plan, seed, backend)
    return module


def _allocate(module, device, recurse=True):
    """Storage on ``device`` for every meta tensor of ``module`` (FSDP2-aware, as
    ``to_empty``); tensors with values move there with them. Tied tensors stay tied
    (``to_empty`` unties them when the device changes)."""
    places = {}
    for owner in module.modules() if recurse else [module]:
        for table in (owner._parameters, owner._buffers):
            for name, tensor in table.items():
                if tensor is not None:
                    places.setdefault(id(tensor), []).append((table, name))
    def allocate(t):
        if not t.is_meta:
            return t.to(device)
        if is_dtensor(t):
            return torch.empty_like(t, device=device)
        return torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=device)

    module._apply(allocate, recurse=recurse)
    for (first_table, first_name), *others in places.values():
        for table, name in others:
            table[name] = first_table[first_name]


def materialize(module, device, seed=0, rules=None, *, skip=None, backend=None):
    r"""Allocate a meta-device ``module`` on ``device`` and initialize it.

    Every meta tensor gets storage on ``device`` (tensors that already have values
    are moved there) and then exactly the values ``init_module(module, seed, rules)``
    would give. Parameters that are DTensors (FSDP2 ``fully_shard``,
    ``distribute_tensor``) get only their local shard, each element holding the value
    of its global index, so a model sharded over any number of ranks gathers to the
    unsharded init bit for bit.

    Args:
        module: a ``torch.nn.Module``, typically built under ``torch.device("meta")``
        device: where to allocate (``"cpu"``, ``"cuda"``, ``"cuda:1"``, a
            ``torch.device``)
        seed, rules, skip, backend: as in ``init_module``; meta buffers that neither a
            rule nor captured init code covers (values computed in ``__init__``) are a
            ``ValueError``

    Returns:
        ``module``

    Examples:
        >>> with torch.device("meta"):
        ...     model = nn.Transformer(d_model=512, num_encoder_layers=2)
        >>> fastinit.torch.materialize(model, "cpu", seed=0)
    """
    _check_module(module)
    return _materialize(module, device, seed, rules, skip, backend)


def _materialize(module, device, seed, rules, skip, backend, recorder=None):
    device = torch.device(device)
    checkpoint, plan = _plan(module, seed, rules, skip, meta_buffers=True, recorder=recorder)
    _allocate(module, device)
    load_checkpoint(module, checkpoint)
    _fill(module, plan, seed, backend)
    return module


def from_config(config_or_class, *args, seed=0, device="cpu", rules=None, backend=None,
                **kwargs):
    r"""Build a model on ``device`` with fastinit's values, with no meta-device step.

    The model is constructed on the meta device (no memory, no init), its construction
    and its own init code recorded (``capture.py``), then allocated on ``device`` and
    filled: each tensor with the distribution its init code draws, from its name's
    stream; computed values (RoPE frequencies, position ids) as the model's code
    computes them, on ``device``. A transformers model comes back marked initialized.

    Args:
        config_or_class: a transformers config (built by ``AutoModel.from_config``), a
            ``PreTrainedModel`` subclass (``args[0]`` its config; built by
            ``_from_config``, so ``dtype=``, ``attn_implementation=`` apply), or any
            ``nn.Module`` class or function returning a module (called with ``args``
            and ``kwargs``)
        seed, rules, backend: as in ``init_module``; ``rules`` override the init code
        device: where to allocate
        **kwargs: passed to the constructor

    Returns:
        the model, on ``device``

    Examples:
        >>> config = transformers.LlamaConfig(hidden_size=1024, intermediate_size=2816,
        ...                                   num_hidden_layers=8)
        >>> model = fastinit.torch.from_config(transformers.LlamaForCausalLM, config,
        ...                                    seed=0, device="cuda")
        >>> mlp = fastinit.torch.from_config(nn.Linear, 512, 512, seed=0)
    """
    build = hf.constructor(config_or_class)
    if build is None:
        if not callable(config_or_class):
            raise TypeError("config_or_class must be a transformers config, a model class "
                            f"or a function returning a module, got {config_or_class!r}")
        build = config_or_class
    recorder = capture.Recorder()
    with recorder.recording(), torch.device("meta"):
        model = build(*args, **kwargs)
    _check_module(model)
    return _materialize(model, device, seed, rules, None, backend, recorder)


def _refuse_replays(module, plan):
    replayed = [(name, type(owner).__name__, "computed by init code that param_init_fn "
                 "cannot re-run (use materialize with FSDP2)")
                for name, owner, _, _, _ in own_tensors(module) if plan.get(name, (0, 0, ()))[2]]
    if replayed:
        raise ValueError(uncovered_message(replayed))


def param_init_fn(module, seed=0, rules=None, *, device=None, backend=None):
    r"""FSDP1's ``param_init_fn`` for ``module``: materializes each module FSDP hands
    it with the values ``init_module(module, seed, rules)`` gives its tensors.

    FSDP1 calls the function once per submodule with meta tensors, after wrapping has
    changed the names; the names, the schemes and the layer defaults are therefore
    taken from ``module`` now, before wrapping.

    Values that only re-running the module's init code computes (``capture.py``) are a
    ``ValueError`` here: FSDP1 hands over one module at a time; ``materialize`` with
    FSDP2's ``fully_shard`` computes them.

    Args:
        module: the root module, on the meta device, not yet wrapped
        seed, rules, backend: as in ``init_module``
        device: where to allocate (default: the current CUDA device if there is one,
            else the CPU)

    Examples:
        >>> fn = fastinit.torch.param_init_fn(model, seed=0)
        >>> model = FSDP(model, param_init_fn=fn, device_id=torch.cuda.current_device())
    """
    _check_module(module)
    if device is None:
        device = torch.device("cuda", torch.cuda.current_device()) if (
            torch.cuda.is_available()) else torch.device("cpu")
    device = torch.device(device)
    _, plan = _plan(module, seed, rules, None)
    _refuse_replays(module, plan)
    prefixes = {id(m): name for name, m in module.named_modules()}
    # id -> (tensor, first name) of every tensor now (kept alive so ids stay unique), and
    # first name -> materialized tensor: a tied tensor is allocated and drawn once.
    originals = {id(t): (t, name) for name, _, _, t, _ in own_tensors(module)}
    materialized = {}

    def init_fn(submodule):
        prefix = prefixes.get(id(submodule))
        if prefix is None:
            raise ValueError(f"{type(submodule).__name__} is not a submodule of the module "
                             "this param_init_fn was made for")
        slots = [(table, local, originals[id(t)][1])
                 for table in (submodule._parameters, submodule._buffers)
                 for local, t in table.items() if t is not None and id(t) in originals]
        _allocate(submodule, device, recurse=False)
        fresh = []
        for table, local, name in slots:
            if name in materialized:
                table[local] = materialized[name]
            else:
                materialized[name] = table[local]
                if name in plan:
                    fresh.append(Target(name, table[local], *plan[name]))
        run(fresh, seed, backend)

    return init_fn
