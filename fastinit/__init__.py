"""fastinit: neural-network parameter initialization at the speed of memory.

A Philox4x32-10 counter-based stream (the Random123 standard) fills numpy arrays, torch
tensors (CPU and CUDA), CuPy arrays and any ``__cuda_array_interface__`` or DLPack
object in place; element ``i`` depends only on (seed, stream, i, distribution, dtype),
never on the backend, device, thread count or sharding.

- ``fastinit.init`` (also at the top level): ``torch.nn.init``'s functions.
- ``fastinit.initializers``: ``jax.nn.initializers``' factories.
- ``fastinit.Generator``: a numpy-style generator over one (seed, stream).
- ``fastinit.torch`` (import it; needs torch): whole models: ``init_module``,
  ``materialize`` (meta-device and FSDP2/DTensor-sharded models), ``lsuv_``.
"""

from . import init, initializers
from .distributions import Bernoulli, Normal, Raw, TruncatedNormal, Uniform
from .generator import Generator, get_default_generator, manual_seed
from .init import *  # noqa: F403  (torch.nn.init's names)
from .philox import philox4x32

__version__ = "0.1.0"

__all__ = [
    "Bernoulli",
    "Generator",
    "Normal",
    "Raw",
    "TruncatedNormal",
    "Uniform",
    "get_default_generator",
    "init",
    "initializers",
    "manual_seed",
    "philox4x32",
    *init.__all__,
]
