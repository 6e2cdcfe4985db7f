"""``cupy.random``'s module functions on fastinit's Philox stream: CuPy arrays on CuPy's
current device. ``import fastinit.random.cupy as random`` in place of ``import
cupy.random as random``; everything else is as in ``fastinit.random`` (its docstring), and
the same seed gives the same values there and here.

>>> import fastinit.random.cupy as random
>>> random.seed(0)
>>> w = random.randn(4096, 4096, dtype="float32")   # a CuPy array
"""

from . import RandomState as _HostRandomState
from . import seeded_generator

__all__ = ["RandomState", "default_rng", "normal", "rand", "randint", "randn", "random",
           "random_sample", "ranf", "sample", "seed", "standard_normal", "uniform"]


class RandomState(_HostRandomState):
    """``cupy.random.RandomState``: ``fastinit.random.RandomState`` with results on the GPU."""

    def __init__(self, seed=None, *, device="cuda"):
        super().__init__(seed, device=device)


def default_rng(seed=None):
    """``cupy.random.default_rng``: a ``fastinit.Generator`` of ``seed`` (None: fresh
    entropy) whose methods return CuPy arrays on the current device."""
    return seeded_generator(seed, "cuda")


# The module's functions are the methods of one RandomState, as in cupy.random.
_state = RandomState()
seed, rand, randn, randint = _state.seed, _state.rand, _state.randn, _state.randint
random_sample = random = ranf = sample = _state.random_sample
uniform, normal, standard_normal = _state.uniform, _state.normal, _state.standard_normal
