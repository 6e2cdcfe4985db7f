"""fastinit: neural-network parameter initialization at the speed of memory.

A Philox4x32-10 counter-based stream (the Random123 standard) fills numpy arrays and
torch tensors in place; element ``i`` depends only on (seed, stream, i, distribution,
dtype), never on the backend, thread count or sharding.
"""

from .distributions import Bernoulli, Normal, Raw, TruncatedNormal, Uniform
from .generator import Generator, get_default_generator, manual_seed
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
    "manual_seed",
    "philox4x32",
]
