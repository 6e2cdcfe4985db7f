"""fastinit: neural-network parameter initialization at the speed of memory.

A Philox4x32-10 counter-based stream (the Random123 standard) fills numpy arrays, torch
tensors (CPU and CUDA), CuPy arrays and any ``__cuda_array_interface__`` or DLPack
object in place; element ``i`` depends only on (seed, stream, i, distribution, dtype),
never on the backend, device, thread count or sharding.

- ``fastinit.init`` (also at the top level, but for torch's deprecated un-underscored
  aliases): ``torch.nn.init``'s functions.
- ``fastinit.initializers``: ``jax.nn.initializers``' factories.
- ``fastinit.Generator``: a numpy-style generator over one (seed, stream).
- ``fastinit.torch`` (import it; needs torch): whole models: ``init_module``,
  ``materialize`` (meta-device and FSDP2/DTensor-sharded models), ``lsuv_``.
"""

from . import init, initializers
from .distributions import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from .generator import Generator, get_default_generator, manual_seed
from .init import (calculate_gain, constant_, dirac_, eye_, kaiming_normal_,  # noqa: F401
                   kaiming_uniform_, normal_, ones_, orthogonal_, sparse_, trunc_normal_,
                   uniform_, xavier_normal_, xavier_uniform_, zeros_)
from .philox import philox4x32

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "Generator",
    "Integers",
    "Normal",
    "Raw",
    "TruncatedNormal",
    "Uniform",
    "get_default_generator",
    "init",
    "initializers",
    "manual_seed",
    "philox4x32",
    *(name for name in init.__all__  # torch.nn.init's names but its deprecated aliases
      if name == "calculate_gain" or name.endswith("_")),
]
