"""``lsuv_``: layer-sequential unit-variance initialization of a whole module.

Each LSUV layer's weight is first drawn by ``fastinit.init.orthogonal_`` from the stream
of its fully-qualified name (``stream_of``), then, in the order the layers run on a
batch, scaled until the layer's output has unit variance on that batch.
"""

import logging
import math
import numbers
import warnings

import torch
from torch import nn

from .. import init
from ..generator import Generator
from .names import stream_of

__all__ = ["LSUV_TYPES", "lsuv_"]

# The layers lsuv_ scales by default (``layers=LSUV_TYPES + (MyLayer,)`` extends them).
LSUV_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d,
              nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

logger = logging.getLogger(__name__)


def lsuv_(module, batch, *, seed=0, tol=0.1, max_iter=10, layers=None, orthogonal=True,
          center=False):
    r"""Initialize ``module``'s layers so that each one's output has unit variance on ``batch``.

    The method is described in `All you need is a good init` - Mishkin, D. & Matas, J.
    (2016). First (``orthogonal=True``) every LSUV layer's weight is filled by
    :func:`fastinit.init.orthogonal_` from ``Generator(seed, stream=stream_of(fqn))``,
    ``fqn`` being the weight's fully-qualified name in ``module``, and its bias is zeroed,
    so the result depends on the seed and the names, not on the layers' order or on
    torch's RNG. Then, layer by layer in the order they first run on ``batch``, the
    module is run on ``batch`` and the layer's weight :math:`W_l` scaled by the
    population variance of its output :math:`y_l` (over all its elements),

    .. math::
        W_l \leftarrow \frac{W_l}{\sqrt{\operatorname{Var}[y_l]}},

    until :math:`|\operatorname{Var}[y_l] - 1| < \text{tol}` or ``max_iter`` scalings
    are spent (a ``UserWarning`` names the layer and its variance). With ``center=True``
    (a later variant, not in the paper) each step also moves the output's mean to 0
    through the bias, :math:`b_l \leftarrow (b_l - \operatorname{E}[y_l]) /
    \sqrt{\operatorname{Var}[y_l]}`, so that :math:`y_l \leftarrow (y_l -
    \operatorname{E}[y_l]) / \sqrt{\operatorname{Var}[y_l]}`, and a layer is done when
    :math:`|\operatorname{E}[y_l]| < \text{tol}` too; layers without a bias are only
    scaled. One line per layer (name, scalings, variance, mean) is logged at INFO on the
    ``fastinit.torch.lsuv`` logger.

    Also known as LSUV (layer-sequential unit-variance) initialization.

    The passes run under ``torch.no_grad()`` in the module's current mode (call
    ``module.eval()`` first if dropout would make them random). Only the LSUV layers'
    weights and biases change: buffers (BatchNorm's running statistics) are restored,
    layers that do not run on ``batch`` are left alone (with a warning), and on any
    error the module is left exactly as it was. A layer that runs several times per
    pass is measured at its first call.

    Args:
        module: a ``torch.nn.Module``
        batch: a tensor, or a tuple of positional arguments, to call ``module`` with
        seed: the seed of the orthogonal fill, an integer in [0, 2**64)
        tol: the tolerance on the variance (and, with ``center``, the mean); > 0
        max_iter: the most scalings per layer; >= 1
        layers: None (every ``LSUV_TYPES`` layer: ``Linear``, ``Conv{1,2,3}d``,
            ``ConvTranspose{1,2,3}d``), or an iterable of module types (every
            submodule of one of them) and/or submodules (those); each needs a
            ``weight`` tensor
        orthogonal: pre-fill the weights orthogonally and zero the biases (default);
            False keeps the weights' directions and the biases, and only scales
        center: also center each layer's output through its bias

    Examples:
        >>> from fastinit.torch import lsuv_
        >>> model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        >>> lsuv_(model, torch.randn(128, 784), seed=0)
    """
    args = _check_arguments(module, batch, seed, tol, max_iter, orthogonal, center)
    names = {}
    for name, sub in module.named_modules():
        names.setdefault(sub, name)
    selected = _select(module, names, layers, orthogonal)
    # Restored on any error (all of it) and on success (the buffers).
    weights = [t for layer in selected for t in (layer.weight, _bias(layer)) if t is not None]
    saved_weights = [t.detach().clone() for t in weights]
    buffers = list(module.buffers())
    saved_buffers = [b.detach().clone() for b in buffers]
    stats = _FirstCallStats(names)

    def forward():
        stats.clear()
        module(*args)
        return dict(stats)

    handles = [layer.register_forward_hook(stats.hook) for layer in selected]
    try:
        with torch.no_grad():
            order = _first_calls(forward(), selected, names)
            if orthogonal:
                _orthogonal_start(order, names, seed)
            current = forward()
            for layer in order:
                current = _scale(layer, names[layer], current, forward, tol, max_iter, center)
    except BaseException:
        _restore(weights, saved_weights)
        _restore(buffers, saved_buffers)
        raise
    finally:
        for handle in handles:
            handle.remove()
    _restore(buffers, saved_buffers)
    return module


class _FirstCallStats(dict):
    """{layer: (variance, mean) of its output at its first call in a pass}, filled by
    ``hook``, a forward hook."""

    def __init__(self, names):
        super().__init__()
        self._names = names

    def hook(self, layer, inputs, output):
        if layer in self:  # measured at its first call in this pass
            return
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {self._names[layer]!r} ({type(layer).__name__}) returned "
                            f"{type(output).__name__}: LSUV measures a tensor output")
        out = output.detach()
        out = out if out.dtype == torch.float64 else out.float()
        var, mean = torch.var_mean(out, correction=0)
        self[layer] = (var.item(), mean.item())


def _first_calls(stats, selected, names):
    """The LSUV layers in the order of their first calls in a pass (``stats``), before
    anything changes; a warning names the selected layers that did not run."""
    order = list(stats)
    if not order:
        raise ValueError(f"none of the {len(selected)} LSUV layers of the module runs on "
                         "the batch")
    unused = [names[layer] for layer in selected if layer not in order]
    if unused:
        warnings.warn(f"LSUV leaves alone the layers that do not run on the batch: "
                      f"{', '.join(unused)}", stacklevel=3)
    return order


def _orthogonal_start(order, names, seed):
    """Each layer's weight from ``orthogonal_`` on its name's stream of ``seed``; its
    bias zeroed."""
    for layer in order:
        fqn = f"{names[layer]}.weight".removeprefix(".")
        init.orthogonal_(layer.weight, generator=Generator(seed, stream=stream_of(fqn)))
        if _bias(layer) is not None:
            _bias(layer).zero_()


def _restore(tensors, saved):
    with torch.no_grad():
        for t, s in zip(tensors, saved):
            t.copy_(s)


def _scale(layer, name, stats, forward, tol, max_iter, center):
    """Scale ``layer`` until its output has unit variance; the last pass's stats."""
    bias = _bias(layer) if center else None
    scalings = 0
    while True:
        var, mean = stats[layer]
        if not math.isfinite(var) or var == 0:
            raise ValueError(f"layer {name!r} ({type(layer).__name__}) has output variance "
                             f"{var} on the batch: it cannot be scaled to 1")
        done = abs(var - 1) < tol and (bias is None or abs(mean) < tol)
        if done or scalings == max_iter:
            break
        std = math.sqrt(var)
        layer.weight.div_(std)
        if bias is not None:
            bias.sub_(mean).div_(std)
        scalings += 1
        stats = forward()
    logger.info("lsuv_ %s: scaled %d times, variance %.6g, mean %.6g", name, scalings, var,
                mean)
    if not done:
        warnings.warn(f"LSUV: layer {name!r} did not reach |variance - 1| < {tol}"
                      f"{' and |mean| < tol' if bias is not None else ''} in {max_iter} "
                      f"scalings: its output variance is {var:.6g}, mean {mean:.6g}",
                      stacklevel=3)
    return stats


def _bias(layer):
    bias = getattr(layer, "bias", None)
    return bias if isinstance(bias, torch.Tensor) else None


def _check_arguments(module, batch, seed, tol, max_iter, orthogonal, center):
    """The positional arguments to call ``module`` with; raise on a bad argument."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(batch, torch.Tensor):
        args = (batch,)
    elif isinstance(batch, tuple):
        args = batch
    else:
        raise TypeError("batch must be a tensor or a tuple of positional arguments, got "
                        f"{type(batch).__name__}")
    Generator(seed)  # checks the seed
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise TypeError(f"tol must be a number, got {type(tol).__name__}")
    if not 0 < tol < math.inf:
        raise ValueError(f"tol must be positive and finite, got {tol}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral):
        raise TypeError(f"max_iter must be an integer, got {type(max_iter).__name__}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    for flag, value in (("orthogonal", orthogonal), ("center", center)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be True or False, got {value!r}")
    return args


def _select(module, names, layers, orthogonal):
    """The LSUV layers of ``module`` that ``layers`` selects, in ``named_modules`` order."""
    if layers is None:
        layers = LSUV_TYPES
    elif isinstance(layers, (nn.Module, type, str)):
        raise TypeError("layers must be an iterable of module types and/or modules, got "
                        f"{type(layers).__name__}")
    else:
        try:
            layers = tuple(layers)
        except TypeError:
            raise TypeError("layers must be an iterable of module types and/or modules, "
                            f"got {type(layers).__name__}") from None
    types, chosen = [], set()
    for item in layers:
        if isinstance(item, type) and issubclass(item, nn.Module):
            types.append(item)
        elif isinstance(item, nn.Module):
            if item not in names:
                raise ValueError(f"layers holds a {type(item).__name__} that is not a "
                                 "submodule of the module")
            if not isinstance(getattr(item, "weight", None), torch.Tensor):
                raise ValueError(f"layer {names[item]!r} ({type(item).__name__}) has no "
                                 "weight tensor to scale")
            chosen.add(item)
        else:
            raise TypeError(f"layers must hold module types or modules, got {item!r}")
    selected = [sub for sub in names
                if sub in chosen or (isinstance(sub, tuple(types))
                                     and isinstance(getattr(sub, "weight", None), torch.Tensor))]
    if not selected:
        kinds = ", ".join(t.__name__ for t in types) or "the listed modules"
        raise ValueError(f"the module has no LSUV layer (one of {kinds} with a weight)")
    for layer in selected:
        weight, name = layer.weight, names[layer]
        if nn.parameter.is_lazy(weight):
            raise ValueError(f"layer {name!r} has an uninitialized (lazy) weight: run the "
                             "module once before lsuv_")
        if not weight.is_floating_point() or weight.numel() == 0:
            raise ValueError(f"layer {name!r} has a {weight.dtype} weight of shape "
                             f"{tuple(weight.shape)}: LSUV scales non-empty float weights")
        if orthogonal and weight.dim() < 2:
            raise ValueError(f"layer {name!r} has a {weight.dim()}-D weight: orthogonal=True "
                             "needs 2 or more dimensions")
    return selected
