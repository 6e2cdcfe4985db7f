"""``numpy.random``'s module functions on fastinit's Philox stream; ``fastinit.random.cupy``
has ``cupy.random``'s.

The import says where the arrays go; nothing is guessed from what else is imported:

- ``import fastinit.random as random``: numpy arrays in host memory, for code written
  against ``numpy.random``;
- ``import fastinit.random.cupy as random``: CuPy arrays on CuPy's current device, for code
  written against ``cupy.random``.

Both give the same values for the same seed: after ``random.seed(s)``, the calls draw
``fastinit.Generator(s)``'s stream in order (``random.rand(n)`` is
``Generator(s).random(n)``), bit for bit on the CPU and the GPU. ``seed(s)`` starts that
stream again; ``seed()`` (and the import) seeds it from ``os.urandom``.

Functions: ``seed``, ``rand``, ``randn``, ``random_sample`` (also ``random``, ``ranf``,
``sample``), ``uniform``, ``normal``, ``standard_normal``, ``randint``; ``default_rng``
(a ``fastinit.Generator``); ``RandomState`` (the same methods, for code that holds one).
Arguments, defaults, dtype rules, scalar results and errors are numpy's and CuPy's, with
CuPy's ``dtype=`` (float32 or float64) on the float functions, and ``randint`` exact
(docs/stream.md, bounded integers). Where fastinit differs: parameters are scalars (an
array of bounds, means or scales is a TypeError); seeds are integers in [0, 2**64), as
CuPy's; means and scales must be finite. The values are fastinit's, not numpy's or CuPy's
(another generator), with the same distributions.

>>> import fastinit.random as random
>>> random.seed(0)
>>> w = random.randn(1024, 1024)                    # numpy float64
>>> i = random.randint(0, 10, size=5)               # numpy int64, each of 0..9 equally likely
"""

import os

import numpy as np

from ..distributions import Normal, Uniform
from ..registry import INTEGER_DTYPES
from ..generator import Generator, bounded_integers, scalar, supported_dtype_name

__all__ = ["RandomState", "default_rng", "normal", "rand", "randint", "randn", "random",
           "random_sample", "ranf", "sample", "seed", "standard_normal", "uniform"]


def seeded_generator(seed, device):
    """A ``fastinit.Generator`` of ``seed`` (None: 64 bits from ``os.urandom``) that
    allocates on ``device``; a Generator itself is returned as it is, as numpy's
    ``default_rng`` does."""
    if isinstance(seed, Generator):
        return seed
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little")
    return Generator(seed, device=device)


def default_rng(seed=None):
    """``numpy.random.default_rng``: a ``fastinit.Generator`` of ``seed`` (None: fresh
    entropy) whose methods return numpy arrays."""
    return seeded_generator(seed, "cpu")


class RandomState:
    """``numpy.random.RandomState`` (and ``cupy.random.RandomState``) over a
    ``fastinit.Generator``: ``RandomState(s).rand(n)`` is ``Generator(s).random(n)``.

    ``device`` is where results go: "cpu" (numpy arrays; with ``size=None``, numpy's Python
    scalars) or "cuda" (CuPy arrays on CuPy's current device, 0-d ones for ``size=None``).
    """

    def __init__(self, seed=None, *, device="cpu"):
        self._device = device
        self.seed(seed)

    def seed(self, seed=None):
        """Start the stream of ``seed`` (None: 64 bits from ``os.urandom``) again."""
        self._generator = seeded_generator(seed, self._device)

    def _scalar_as_numpy(self, value, size, python_type):
        """numpy's legacy results: a Python ``float`` (``int``, ``bool``) for
        ``size=None`` where numpy gives one."""
        if size is None and self._device == "cpu" and python_type is not None:
            return python_type(value)
        return value

    def _float(self, dist, size, dtype, caller):
        name = supported_dtype_name(dtype, ("float32", "float64"), caller)
        values = self._generator._draw(dist, size, name, None)
        return self._scalar_as_numpy(values, size, float if name == "float64" else None)

    def random_sample(self, size=None, dtype=float):
        """Uniform on [0, 1)."""
        return self._float(Uniform(0.0, 1.0), size, dtype, "random_sample")

    random = ranf = sample = random_sample

    def rand(self, *size, dtype=float):
        """Uniform on [0, 1), of shape ``size`` (``rand()``: one value)."""
        return self._float(Uniform(0.0, 1.0), size or None, dtype, "rand")

    def randn(self, *size, dtype=float):
        """Standard normal, of shape ``size`` (``randn()``: one value)."""
        return self._float(Normal(0.0, 1.0), size or None, dtype, "randn")

    def standard_normal(self, size=None, dtype=float):
        return self._float(Normal(0.0, 1.0), size, dtype, "standard_normal")

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        """Normal with mean ``loc`` and standard deviation ``scale`` (>= 0)."""
        if scalar("scale", scale) < 0:
            raise ValueError("scale < 0")
        return self._float(Normal(scalar("loc", loc), scale), size, dtype, "normal")

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        """Uniform on [low, high); numpy's ``low + (high - low) * u`` for ``low > high``,
        on (high, low]."""
        low, high = float(scalar("low", low)), float(scalar("high", high))
        if not np.isfinite(high - low):
            raise OverflowError("Range exceeds valid bounds")
        if low <= high:
            return self._float(Uniform(low, high), size, dtype, "uniform")
        values = self._float(Uniform(-low, -high), size, dtype, "uniform")
        values *= -1  # in place for arrays; -(-low + (high - low) u) is exact
        return values

    def randint(self, low, high=None, size=None, dtype=int):
        """Integers uniform on [low, high) (``high=None``: [0, low)), each exactly equally
        likely."""
        name = supported_dtype_name(dtype, INTEGER_DTYPES, "randint")
        values = self._generator._draw(bounded_integers(low, high, False, name), size, name,
                                       None)
        return self._scalar_as_numpy(values, size, dtype if dtype in (bool, int) else None)


# The module's functions are the methods of one RandomState, as in numpy.random.
_state = RandomState()
seed, rand, randn, randint = _state.seed, _state.rand, _state.randn, _state.randint
random_sample = random = ranf = sample = _state.random_sample
uniform, normal, standard_normal = _state.uniform, _state.normal, _state.standard_normal
