"""transformers (5.x): its models' own init, run under capture, and the flag it checks.

- ``pretrained_roots(module)``: the ``PreTrainedModel`` instances of a module tree that
  no other ``PreTrainedModel`` contains (a composite model dispatches to its sub-models
  itself, in ``initialize_weights``);
- ``initialize_weights(model, call)``: ``model.initialize_weights()``, each
  ``_init_weights(module)`` handed to ``call(_init_weights, module)`` (which runs it),
  with every module's ``_is_hf_initialized`` flag cleared for the run and restored after;
- ``mark_initialized(module)``: sets ``_is_hf_initialized`` on every module, parameter
  and buffer of those models, so ``init_weights()``, ``post_init()`` and the guarded
  ``transformers.initialization`` functions leave their values alone;
- ``constructor(what)``: how to build the model a config or a ``PreTrainedModel`` class
  names (``AutoModel.from_config``, ``cls._from_config``);
- ``construct_again(model)``: a model's class built again from its config.

Nothing here imports transformers unless a transformers object was handed in.
"""

import copy
import functools
import itertools
import sys

_FLAG = "_is_hf_initialized"


def _pretrained_model_class():
    module = sys.modules.get("transformers.modeling_utils")
    return getattr(module, "PreTrainedModel", None)


def pretrained_roots(module):
    """The ``PreTrainedModel`` instances in ``module`` (itself included) that no other one
    contains."""
    cls = _pretrained_model_class()
    if cls is None:
        return []
    if isinstance(module, cls):
        return [module]
    return [root for child in module.children() for root in pretrained_roots(child)]


def initialize_weights(model, call):
    """Run ``model.initialize_weights()`` with each ``_init_weights(module)`` done by
    ``call(model._init_weights, module)``; no module's flag changes."""
    cls = _pretrained_model_class()
    models = [m for m in model.modules() if isinstance(m, cls)]
    flags = {m: m.__dict__.pop(_FLAG) for m in model.modules() if _FLAG in m.__dict__}
    for m in models:
        m._init_weights = functools.partial(call, m._init_weights)
    try:
        model.initialize_weights()
    finally:
        for m in models:
            del m.__dict__["_init_weights"]
        for m in model.modules():
            m.__dict__.pop(_FLAG, None)
        for m, flag in flags.items():
            setattr(m, _FLAG, flag)


def mark_initialized(module):
    """Mark every module, parameter and buffer of ``module``'s transformers models as
    initialized, as transformers does after loading."""
    for root in pretrained_roots(module):
        for item in itertools.chain(root.modules(), root.parameters(), root.buffers()):
            setattr(item, _FLAG, True)


def constructor(what):
    """``fn(*args, **kwargs)`` building the model ``what`` names when it is a transformers
    config (``AutoModel.from_config``) or ``PreTrainedModel`` subclass (its
    ``_from_config``, the config first), else None."""
    configs = sys.modules.get("transformers.configuration_utils")
    if configs is not None and isinstance(what, configs.PreTrainedConfig):
        from transformers import AutoModel

        return functools.partial(AutoModel.from_config, what)
    cls = _pretrained_model_class()
    if cls is not None and isinstance(what, type) and issubclass(what, cls):
        return what._from_config
    return None


def construct_again(model):
    """``model``'s class (not FSDP2's subclass of it) built again from a copy of its
    config, in the dtype of its first floating-point tensor; None when that raises."""
    cls = type(model)
    if cls.__name__ == f"FSDP{cls.__bases__[-1].__name__}":  # fully_shard's subclass
        cls = cls.__bases__[-1]
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    try:
        return cls._from_config(copy.deepcopy(model.config), dtype=dtype)
    except Exception:  # a model built from arguments its config does not hold
        return None
