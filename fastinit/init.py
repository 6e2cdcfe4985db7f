r"""``torch.nn.init``, drawn from fastinit's Philox stream.

Every name of ``torch.nn.init`` (its deprecated un-underscored aliases, and the
``_calculate_fan_in_and_fan_out``/``_calculate_correct_fan`` helpers user code calls,
included) with the same arguments, defaults, errors and warnings, working in place on
numpy arrays (float16, ``ml_dtypes.bfloat16``, float32, float64), torch tensors on the
CPU or a CUDA device, CuPy arrays and other CUDA arrays, and returning the destination.

Randomness: ``generator`` (in torch's position) is a ``fastinit.Generator`` or a
``torch.Generator`` (a fresh ``Generator(key)``, ``key`` one 64-bit draw from it), or
``seed`` (keyword) gives a fresh ``Generator(seed)``. With neither, a torch tensor draws
its key from torch's default generator of its device, so ``torch.manual_seed`` decides
the values as it does torch's; any other destination uses fastinit's default generator
(docs/stream.md, section 6). ``backend`` (keyword) is what fills: the fastest available
for the memory by default; values never depend on it.

Like torch's in-place fills, a call writes under no grad and bumps a tensor's version
counter, so a graph that saved the old values refuses to backpropagate.

Where torch raises a ``RuntimeError`` (a parameter out of range) or a
``NotImplementedError`` (a random fill of a non-float dtype) and fastinit a ValueError
or a TypeError, the exception is both (``ParameterError``, ``DtypeError``). A call whose
arguments are rejected leaves the destination untouched and draws nothing, from torch's
generators either.

The random functions hand ``Generator.fill`` exactly the distribution torch would draw
(``kaiming_uniform_``: ``Uniform(-bound, bound)``, ``bound = gain * sqrt(3 / fan)``, the
same floating-point operations), so only the values differ from torch's, and the same
seed gives the same bits on numpy arrays and torch tensors. ``trunc_normal_`` is one
exact inverse-CDF pass, never a rejection loop. Deterministic fills (``constant_``,
``eye_``, ...) use numpy's or torch's own operations.

Naming trap: ``xavier_normal_`` and ``kaiming_normal_`` here, as in torch, are plain
normals; JAX's ``glorot_normal``/``he_normal`` (``fastinit.initializers``) are truncated.
"""

import contextlib
import math
import warnings

import numpy as np

from . import arrays
from .distributions import (DtypeError, Normal, ParameterError, TruncatedNormal, Uniform,
                            _finite, cached, rule_for)
from .backends import Draw, cpu
from .generator import _check_backend, fresh_key, resolve
from .registry import FLOAT_DTYPES
from .schemes import (KaimingNormal, KaimingUniform, XavierNormal, XavierUniform,
                      calculate_gain, correct_fan, fan_in_and_fan_out)

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
    # torch's deprecated aliases
    "uniform",
    "normal",
    "constant",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "orthogonal",
    "sparse",
]


def _destination(tensor, random=True):
    """The ``arrays.Destination`` of ``tensor`` (a TypeError unless it is an array or
    tensor); if ``random``, a DtypeError unless its dtype is one random values fill."""
    dest = arrays.destination(tensor)
    if random and dest.dtype not in FLOAT_DTYPES:
        raise DtypeError(f"tensor must have a float dtype ({', '.join(FLOAT_DTYPES)}) to "
                         f"hold random values, got {tensor.dtype}")
    return dest


def _no_grad(tensor):
    """torch.no_grad() for a write into a torch tensor that requires grad, as
    torch.nn.init writes; any other write records nothing for autograd as it is."""
    if arrays.is_torch_tensor(tensor) and tensor.requires_grad:
        return arrays._torch().no_grad()
    return contextlib.nullcontext()


def _fill(tensor, dist, gen, backend=None):
    with _no_grad(tensor):
        return gen.fill(tensor, dist, backend=backend)


def _draw(tensor, dest, dist, generator, seed, backend):
    """Fill ``tensor``, whose ``arrays.Destination`` is ``dest``, with ``dist`` from the
    call's generator, and return that generator. ``dist`` and ``backend`` are checked
    before the generator is chosen: a call that raises draws nothing, from torch's
    generators either."""
    rule_for(dist, dest.dtype)
    backend = _check_backend(backend)
    gen = resolve(generator, seed, tensor)
    with _no_grad(tensor):
        gen.fill(dest, dist, backend=backend)
    return gen


def _distribution(make, args, shape):
    """``make(*args)``, or with a ``shape`` the distribution of the scheme ``make(*args)``
    for that shape."""
    made = make(*args)
    return made if shape is None else made.distribution(shape)


@cached
def _rule(make, args, shape, dtype):
    """``(distribution, its Rule for dtype)``, ``_distribution``'s: each check and
    computation made once per arguments (a float tuple hashes in C, where a
    distribution's dataclass hash and equality are Python calls)."""
    dist = _distribution(make, args, shape)
    return dist, rule_for(dist, dtype)


def _draw_once(tensor, make, args, generator, seed, backend, fans=False, empty_warns=False):
    """Fill ``tensor`` with ``make(*args)`` (with ``fans``, the scheme ``make(*args)``'s
    distribution for its shape) from the call's generator, which nothing uses afterwards;
    checks in torch's order: the tensor, then (``empty_warns``: a zero-element tensor
    warns "Initializing zero-element tensors is a no-op" at the caller's caller, as
    torch's kaiming functions, and is left) the parameters, then the generator. A call
    that raises draws nothing, from torch's generators either.

    Where the generator is a fresh ``Generator(key)`` (``seed``, or a torch generator),
    drawing ``tensor`` alone from its block 0, the fill is that draw itself, without
    making the generator; where the CPU writes the tensor as one run of host memory
    (``arrays.host_run``), that run is written straight: the same values and the same
    draws from torch's generators, and most of a small tensor's call saved."""
    run = arrays.host_run(tensor) if backend is None or backend == "cpu" else None
    if run is None or run[1] not in FLOAT_DTYPES:
        run, dest = None, _destination(tensor)
        shape, dtype, size = dest.shape, dest.dtype, dest.size
    else:
        dest, shape, dtype, size = None, tensor.shape, run[1], run[2]
    if empty_warns and size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return
    dist, rule = _rule(make, args, shape if fans else None, dtype)
    backend = _check_backend(backend)
    key = fresh_key(generator, seed, tensor)
    if key is None:  # a fastinit generator's draw moves it on
        _draw(tensor, dest or _destination(tensor), dist, generator, seed, backend)
    elif run is not None:
        cpu.fill_at(run[0], size, dtype, rule, key, 0, 0, 0)
        if run[3]:
            arrays.torch_written(tensor)
    else:
        with _no_grad(tensor):
            arrays.fill(dest, Draw(rule, key, 0, 0, 0), backend)


def _write(tensor, values):
    """Write float64 ``values`` (numpy, or a torch/CuPy array on the tensor's device) into
    ``tensor``. Narrower dtypes round through float32 in numpy, CuPy and torch alike, so
    every kind of destination gets the same bits."""
    narrow = arrays.dtype_name(tensor) != "float64"
    with _no_grad(tensor):
        if arrays.is_torch_tensor(tensor):
            torch = arrays._torch()
            if isinstance(values, np.ndarray):
                values = torch.from_numpy(values)
            tensor.copy_(values.to(torch.float32) if narrow else values)
            return tensor
        target = arrays.indexable(tensor)
        if isinstance(values, np.ndarray) and not isinstance(target, np.ndarray):
            values = arrays._cupy().asarray(values)
        target[...] = values.astype(np.float32) if narrow else values
    return tensor


def _float64_like(tensor, shape):
    """(array namespace, an empty float64 array of ``shape``) beside ``tensor``: numpy for
    host memory, torch or CuPy on the tensor's CUDA device."""
    target = arrays.indexable(tensor)
    if arrays.is_torch_tensor(target) and target.device.type == "cuda":
        torch = arrays._torch()
        return torch, torch.empty(shape, dtype=torch.float64, device=target.device)
    if arrays.is_cupy_array(target):
        cupy = arrays._cupy()
        with cupy.cuda.Device(target.device.id):
            return cupy, cupy.empty(shape, np.float64)
    return np, np.empty(shape, np.float64)


def uniform_(tensor, a=0.0, b=1.0, generator=None, *, seed=None, backend=None):
    r"""Fill the input array with values drawn from the uniform distribution.

    :math:`\mathcal{U}(a, b)`; ``b`` itself is never drawn. ``a`` and ``b`` must be
    finite with ``a <= b``.

    Args:
        tensor: an n-dimensional numpy array or torch tensor
        a: the lower bound of the uniform distribution
        b: the upper bound of the uniform distribution
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.uniform_(w, seed=0)
    """
    _draw_once(tensor, _uniform, (a, b), generator, seed, backend)
    return tensor


def _uniform(a, b):
    """``uniform_``'s distribution, its bounds checked as torch checks them (finite,
    ``a <= b``) in errors that name them."""
    a, b = _finite("a", a), _finite("b", b)
    if a > b:
        raise ParameterError(f"uniform_ needs a <= b, got a={a}, b={b}")
    return Uniform(a, b)


def normal_(tensor, mean=0.0, std=1.0, generator=None, *, seed=None, backend=None):
    r"""Fill the input array with values drawn from the normal distribution.

    :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Args:
        tensor: an n-dimensional numpy array or torch tensor
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.normal_(w, seed=0)
    """
    _draw_once(tensor, Normal, (mean, std), generator, seed, backend)
    return tensor


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None, *, seed=None,
                  backend=None):
    r"""Fill the input array with values drawn from a truncated normal distribution.

    The values follow :math:`\mathcal{N}(\text{mean}, \text{std}^2)` conditioned on
    :math:`[a, b]`; ``a`` and ``b`` are absolute bounds (not in units of ``std``). Each
    value is one pass through an exact inverse CDF, so the distribution is right even
    when :math:`[a, b]` lies far from the mean. There, as torch does, it warns "mean is
    more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values may
    be incorrect." (a UserWarning, attributed to this module), though the values are
    right.

    Args:
        tensor: an n-dimensional numpy array or torch tensor
        mean: the mean of the normal distribution
        std: the standard deviation of the normal distribution
        a: the minimum cutoff value
        b: the maximum cutoff value
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04, seed=0)
    """
    _warn_if_far(mean, std, a, b)
    _draw_once(tensor, TruncatedNormal, (mean, std, a, b), generator, seed, backend)
    return tensor


def _warn_if_far(mean, std, a, b):
    """torch's warning for a mean more than 2 std outside [a, b], word for word, and like
    torch's (warned at stacklevel 2 from a helper) attributed to ``trunc_normal_``'s line."""
    if (mean < a - 2 * std) or (mean > b + 2 * std):
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)


def constant_(tensor, val):
    r"""Fill the input array with the value :math:`\text{val}`.

    Args:
        tensor: an n-dimensional numpy array or torch tensor
        val: the value to fill the tensor with

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.constant_(w, 0.3)
    """
    _destination(tensor, random=False)
    with _no_grad(tensor):
        if arrays.is_device_array(tensor) and arrays.has_fill_dtype(tensor):
            return arrays.fill_constant(tensor, val)
        arrays.indexable(tensor)[...] = val
    return tensor


def ones_(tensor):
    r"""Fill the input array with the scalar value `1`.

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.ones_(w)
    """
    return constant_(tensor, 1.0)


def zeros_(tensor):
    r"""Fill the input array with the scalar value `0`.

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.zeros_(w)
    """
    return constant_(tensor, 0.0)


def eye_(tensor):
    r"""Fill the 2-dimensional input array with the identity matrix.

    Preserves the identity of the inputs in `Linear` layers, where as many inputs are
    preserved as possible.

    Args:
        tensor: a 2-dimensional numpy array or torch tensor

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.eye_(w)
    """
    if len(_destination(tensor, random=False).shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    target = arrays.indexable(tensor)
    diagonal = list(range(min(target.shape)))
    with _no_grad(tensor):
        target[...] = 0
        target[diagonal, diagonal] = 1
    return tensor


def dirac_(tensor, groups=1):
    r"""Fill the {3, 4, 5}-dimensional input array with the Dirac delta function.

    Preserves the identity of the inputs in `Convolutional` layers, where as many
    input channels are preserved as possible. In case of groups>1, each group of
    channels preserves identity.

    Args:
        tensor: a {3, 4, 5}-dimensional numpy array or torch tensor
        groups (int, optional): number of groups in the conv layer (default: 1)

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 24, 5, 5)
        >>> init.dirac_(w, 3)
    """
    sizes = _destination(tensor, random=False).shape
    if len(sizes) not in [3, 4, 5]:
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_chans_per_grp = sizes[0] // groups
    centre = tuple(n // 2 for n in sizes[2:])
    target = arrays.indexable(tensor)
    with _no_grad(tensor):
        target[...] = 0
        for g in range(groups):
            for d in range(min(out_chans_per_grp, sizes[1])):
                target[(g * out_chans_per_grp + d, d) + centre] = 1
    return tensor


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a numpy array or torch tensor, as torch's helper of this name
    computes them (``schemes.fan_in_and_fan_out`` of its shape): a ValueError for fewer
    than 2 dimensions."""
    return fan_in_and_fan_out(arrays.shape_of(tensor))


def _calculate_correct_fan(tensor, mode):
    """fan_in or fan_out of a numpy array or torch tensor as ``mode`` ("fan_in" or
    "fan_out", any case) says, as torch's helper of this name: a ValueError otherwise."""
    return correct_fan(arrays.shape_of(tensor), mode)


def xavier_uniform_(tensor, gain=1.0, generator=None, *, seed=None, backend=None):
    r"""Fill the input array with values using a Xavier uniform distribution.

    The method is described in `Understanding the difficulty of training deep
    feedforward neural networks` - Glorot, X. & Bengio, Y. (2010). The values are
    sampled from :math:`\mathcal{U}(-a, a)` (``gain >= 0``) where

    .. math::
        a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    Also known as Glorot initialization (JAX: ``glorot_uniform`` with ``scale = gain**2``).
    Fans are torch's: ``shape = (out, in, *receptive field)``.

    Args:
        tensor: an n-dimensional numpy array or torch tensor, n >= 2
        gain: an optional scaling factor
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.xavier_uniform_(w, gain=init.calculate_gain("relu"), seed=0)
    """
    _draw_once(tensor, XavierUniform, (gain,), generator, seed, backend, fans=True)
    return tensor


def xavier_normal_(tensor, gain=1.0, generator=None, *, seed=None, backend=None):
    r"""Fill the input array with values using a Xavier normal distribution.

    The method is described in `Understanding the difficulty of training deep
    feedforward neural networks` - Glorot, X. & Bengio, Y. (2010). The values are
    sampled from :math:`\mathcal{N}(0, \text{std}^2)` (``gain >= 0``) where

    .. math::
        \text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    Also known as Glorot initialization. This is a plain normal, as in torch: JAX's
    ``glorot_normal``/``xavier_normal`` (``fastinit.initializers``) is a *truncated*
    normal rescaled to the same std.

    Args:
        tensor: an n-dimensional numpy array or torch tensor, n >= 2
        gain: an optional scaling factor
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.xavier_normal_(w, seed=0)
    """
    _draw_once(tensor, XavierNormal, (gain,), generator, seed, backend, fans=True)
    return tensor


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None,
                     *, seed=None, backend=None):
    r"""Fill the input array with values using a Kaiming uniform distribution.

    The method is described in `Delving deep into rectifiers: Surpassing human-level
    performance on ImageNet classification` - He, K. et al. (2015). The values are
    sampled from :math:`\mathcal{U}(-\text{bound}, \text{bound})` where

    .. math::
        \text{bound} = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}

    Also known as He initialization. Fans are torch's (``shape = (out, in, *receptive
    field)``): for ``x @ w`` with ``w.shape = (fan_in, fan_out)`` pass ``w.T``. A
    zero-element array warns "Initializing zero-element tensors is a no-op" and is
    returned untouched.

    Args:
        tensor: an n-dimensional numpy array or torch tensor, n >= 2
        a: the negative slope of the rectifier used after this layer (only used with
            ``'leaky_relu'``)
        mode: ``'fan_in'`` (default) preserves the variance of the weights in the
            forward pass, ``'fan_out'`` in the backward pass
        nonlinearity: the non-linear function (`nn.functional` name), recommended only
            with ``'relu'`` or ``'leaky_relu'`` (default)
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu", seed=0)
    """
    _draw_once(tensor, KaimingUniform, (a, mode, nonlinearity), generator, seed, backend,
               fans=True, empty_warns=True)
    return tensor


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None,
                    *, seed=None, backend=None):
    r"""Fill the input array with values using a Kaiming normal distribution.

    The method is described in `Delving deep into rectifiers: Surpassing human-level
    performance on ImageNet classification` - He, K. et al. (2015). The values are
    sampled from :math:`\mathcal{N}(0, \text{std}^2)` where

    .. math::
        \text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}

    Also known as He initialization. A plain normal, as in torch: JAX's ``he_normal``
    is truncated. A zero-element array warns and is returned untouched.

    Args:
        tensor: an n-dimensional numpy array or torch tensor, n >= 2
        a: the negative slope of the rectifier used after this layer (only used with
            ``'leaky_relu'``)
        mode: ``'fan_in'`` (default) or ``'fan_out'``
        nonlinearity: the non-linear function (`nn.functional` name), recommended only
            with ``'relu'`` or ``'leaky_relu'`` (default)
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", seed=0)
    """
    _draw_once(tensor, KaimingNormal, (a, mode, nonlinearity), generator, seed, backend,
               fans=True, empty_warns=True)
    return tensor


def orthogonal_(tensor, gain=1, generator=None, *, seed=None, backend=None):
    r"""Fill the input array with a (semi) orthogonal matrix.

    Described in `Exact solutions to the nonlinear dynamics of learning in deep linear
    neural networks` - Saxe, A. et al. (2013). With ``rows = shape[0]`` and the trailing
    dimensions flattened into ``cols``, a ``(rows, cols)`` standard normal matrix
    :math:`A` (transposed if wide) is factored in float64 as :math:`A = QR`, and

    .. math::
        W = \text{gain} \times Q \operatorname{diag}(\operatorname{sign}(\operatorname{diag} R))

    (transposed back if wide) is rounded to the array's dtype: :math:`W^\top W =
    \text{gain}^2 I` (tall) or :math:`W W^\top = \text{gain}^2 I` (wide). On a CUDA
    destination the QR runs on the device (``torch.linalg.qr`` or ``cupy.linalg.qr``)
    over the same normal matrix, so :math:`W` matches the CPU's up to the rounding of
    the two QR implementations.

    Args:
        tensor: an n-dimensional numpy array or torch tensor, n >= 2
        gain: optional scaling factor
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.orthogonal_(w, seed=0)
    """
    shape = _destination(tensor).shape
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if math.prod(shape) == 0:
        return tensor
    rows = shape[0]
    cols = math.prod(shape) // rows
    backend = _check_backend(backend)
    gen = resolve(generator, seed, tensor)
    xp, flattened = _float64_like(tensor, (rows, cols))
    gen.fill(flattened, Normal(0.0, 1.0), backend=backend)
    if rows < cols:
        flattened = flattened.T
    q, r = xp.linalg.qr(flattened)
    q *= xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(shape))


def sparse_(tensor, sparsity, std=0.01, generator=None, *, seed=None, backend=None):
    r"""Fill the 2-D input array as a sparse matrix.

    As described in `Deep learning via Hessian-free optimization` - Martens, J. (2010):
    every value is drawn from :math:`\mathcal{N}(0, \text{std}^2)`, then in each column
    :math:`\lceil \text{sparsity} \times \text{rows} \rceil` rows, chosen at random, are
    set to zero. The choice comes from the generator too (a stable argsort of raw words
    per column), never from a global RNG, so a seed fixes the whole result; so does
    ``torch.manual_seed`` for a torch tensor with no generator: one key drawn from
    torch's generator serves both the values and the choice.

    Args:
        tensor: a 2-dimensional numpy array or torch tensor
        sparsity: the fraction of elements in each column to be set to zero
        std: the standard deviation of the normal distribution used to generate the
            non-zero values
        generator: the fastinit or torch Generator to sample from (default: None,
            torch's default generator for a torch tensor, else fastinit's)
        seed: draw from a fresh ``Generator(seed)`` instead
        backend: ``"cpu"``, ``"cupy"`` or ``"numba_cuda"`` (default: the fastest
            available for the tensor's memory); the values do not depend on it

    Examples:
        >>> from fastinit import init
        >>> w = torch.empty(3, 5)
        >>> init.sparse_(w, sparsity=0.1, seed=0)
    """
    dest = _destination(tensor)
    if len(dest.shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = dest.shape
    num_zeros = math.ceil(sparsity * rows)
    gen = _draw(tensor, dest, Normal(0, std), generator, seed, backend)
    row_order = np.argsort(gen.random_raw((cols, rows)), axis=1, kind="stable")
    index = (row_order[:, :num_zeros].T, np.arange(cols))
    target = arrays.indexable(tensor)
    if arrays.is_cupy_array(target):
        index = tuple(arrays._cupy().asarray(i) for i in index)
    with _no_grad(tensor):
        target[index] = 0
    return tensor


def _make_deprecate(meth):
    """``meth`` under torch's deprecated name (``meth``'s without the underscore), as
    torch's ``_make_deprecate`` makes it: it warns torch's FutureWarning, word for word,
    at its caller's line, then calls ``meth``."""
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__doc__ = rf"""
    {old_name}(...)

    .. warning::
        This method is now deprecated in favor of :func:`fastinit.init.{new_name}`.

    See :func:`~fastinit.init.{new_name}` for details."""
    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
