"""What each standard layer's ``reset_parameters`` draws, as schemes.

``default_schemes(module)`` gives, for one module, ``{name: scheme}`` over the
parameters and buffers its own ``reset_parameters`` (or ``_reset_parameters``)
initializes, named relative to the module, with exactly torch's distribution
arguments: ``nn.Linear``'s weight is ``KaimingUniform(a=sqrt(5))`` and its bias
``Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))``, as ``torch.nn.Linear.reset_parameters``
computes them. A container that re-initializes its children names them with a path:
``nn.MultiheadAttention`` zeroes ``out_proj.bias``, ``nn.Transformer`` gives every
parameter of two or more dimensions ``XavierUniform()``; such entries override the
children's own defaults.

``zero_rows(module)``: the rows of an embedding weight that ``reset_parameters``
zeroes after drawing (``padding_idx``).
"""

import math

from torch import nn

from ..distributions import Normal, Uniform
from ..schemes import (ONES, ZEROS, Constant, KaimingUniform, XavierNormal, XavierUniform,
                       fan_in_and_fan_out)

_LINEAR_WEIGHT = KaimingUniform(a=math.sqrt(5))
_CONV = (nn.modules.conv._ConvNd,)
_NORMS = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, nn.modules.batchnorm._NormBase)
_RECURRENT = (nn.modules.rnn.RNNBase, nn.modules.rnn.RNNCellBase)
_EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)


def _fan_in_bias(weight):
    """torch's bias bound for Linear and Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    fan_in, _ = fan_in_and_fan_out(tuple(weight.shape))
    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
    return Uniform(-bound, bound)


def _own(module, **schemes):
    """``schemes`` restricted to the tensors ``module`` has (not None)."""
    return {name: s for name, s in schemes.items() if getattr(module, name, None) is not None}


def default_schemes(module):
    """``{relative name: scheme}`` of what ``module``'s ``reset_parameters`` initializes."""
    if isinstance(module, (nn.Linear,) + _CONV):
        return _own(module, weight=_LINEAR_WEIGHT,
                    bias=_fan_in_bias(module.weight) if module.bias is not None else None)
    if isinstance(module, nn.Bilinear):
        bound = 1 / math.sqrt(module.weight.size(1))
        return _own(module, weight=Uniform(-bound, bound), bias=Uniform(-bound, bound))
    if isinstance(module, _EMBEDDINGS):
        return {"weight": Normal(0.0, 1.0)}
    if isinstance(module, _NORMS):
        schemes = _own(module, weight=ONES, bias=ZEROS)
        if getattr(module, "track_running_stats", False):
            schemes.update(_own(module, running_mean=ZEROS, running_var=ONES,
                                num_batches_tracked=ZEROS))
        return schemes
    if isinstance(module, _RECURRENT):
        stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
        return {name: Uniform(-stdv, stdv) for name, _ in module.named_parameters(recurse=False)}
    if isinstance(module, nn.PReLU):
        return {"weight": Constant(module.init)}
    if isinstance(module, nn.MultiheadAttention):
        return _multihead_attention(module)
    if isinstance(module, nn.Transformer):
        return {name: XavierUniform() for name, p in module.named_parameters() if p.dim() > 1}
    return {}


def _multihead_attention(module):
    if module._qkv_same_embed_dim:
        schemes = {"in_proj_weight": XavierUniform()}
    else:
        schemes = {f"{x}_proj_weight": XavierUniform() for x in "qkv"}
    if module.in_proj_bias is not None:
        schemes.update({"in_proj_bias": ZEROS, "out_proj.bias": ZEROS})
    schemes.update(_own(module, bias_k=XavierNormal(), bias_v=XavierNormal()))
    return schemes


def zero_rows(module):
    """Rows of ``module``'s weight that ``reset_parameters`` zeroes after drawing."""
    if isinstance(module, _EMBEDDINGS) and module.padding_idx is not None:
        return (module.padding_idx,)
    return ()
