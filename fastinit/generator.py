"""``Generator``: a (seed, stream) Philox stream with numpy-style methods.

A generator names a stream and a position in it (in Philox blocks). Each call
starts at the current position, and the position moves past every block the call
used, so successive calls never reuse values; the first call on a fresh generator
returns elements 0, 1, ... of the stream. ``fill(out, dist)`` is the primitive the
methods, ``fastinit.init`` and the JAX-style initializers all use.
"""

import numpy as np

from . import arrays
from .distributions import Bernoulli, Normal, Raw, TruncatedNormal, Uniform, blocks_for, rule_for

_U64 = 1 << 64


def _check_u64(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < _U64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


def dtype_name_of(dtype):
    """Name of a numpy/ml_dtypes/torch dtype or a dtype name."""
    if isinstance(dtype, str):
        name = dtype
    elif arrays._torch() is not None and isinstance(dtype, arrays._torch().dtype):
        name = str(dtype).removeprefix("torch.")
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise TypeError(f"dtype {dtype!r} is not a dtype") from None
    if name == "bool_":
        name = "bool"
    return name


def numpy_dtype(name):
    """The numpy dtype of a fastinit dtype name (bfloat16 from ml_dtypes)."""
    if name == "bfloat16":
        from ml_dtypes import bfloat16

        return np.dtype(bfloat16)
    return np.dtype(name)


class Generator:
    """A Philox4x32-10 stream: ``seed`` is the key, ``stream`` the counter's high half.

    >>> g = fastinit.Generator(seed=42)
    >>> w = g.normal(0.0, 0.02, size=(1024, 1024), dtype="float32")
    >>> g.uniform(-1, 1, out=np.empty(10, np.float16))
    """

    def __init__(self, seed=0, stream=0):
        self._seed = _check_u64("seed", seed)
        self._stream = _check_u64("stream", stream)
        self._block = 0

    @property
    def seed(self):
        return self._seed

    @property
    def stream(self):
        return self._stream

    @property
    def offset(self):
        """Position in the stream, in 4-word Philox blocks."""
        return self._block

    def __repr__(self):
        return f"fastinit.Generator(seed={self._seed}, stream={self._stream}) at block {self._block}"

    def fill(self, out, dist, *, start=0, numel=None):
        """Fill ``out`` in place with ``dist``; return ``out``.

        ``out`` is a numpy array or torch CPU tensor. With ``start`` and ``numel``,
        ``out`` holds elements [start, start + out.size) of a logical tensor of
        ``numel`` elements (a shard), and gets exactly those values of the whole;
        the generator then advances past the whole tensor.
        """
        dtype = arrays.dtype_name(out)
        rule = rule_for(dist, dtype)
        size = int(np.prod(arrays.shape_of(out), dtype=np.int64))
        start = int(start)
        numel = start + size if numel is None else int(numel)
        if start < 0 or start + size > numel:
            raise ValueError(f"elements [{start}, {start + size}) are not inside a tensor of "
                             f"{numel} elements")
        arrays.fill(out, rule, dtype, self._seed, self._stream, self._block, start)
        self._block = (self._block + blocks_for(rule, numel)) % _U64
        return out

    def _draw(self, dist, size, dtype, out):
        if out is not None:
            if size is not None and tuple(np.atleast_1d(size)) != arrays.shape_of(out):
                raise ValueError(f"size {size} does not match out's shape {arrays.shape_of(out)}")
            return self.fill(out, dist)
        shape = () if size is None else tuple(int(s) for s in np.atleast_1d(size))
        result = np.empty(shape, numpy_dtype(dtype_name_of(dtype)))
        self.fill(result, dist)
        return result[()] if size is None else result

    def random_raw(self, size=None, out=None):
        """uint32 words of the stream, in order."""
        return self._draw(Raw(), size, np.uint32, out)

    def random(self, size=None, dtype=np.float64, out=None):
        """Uniform on [0, 1)."""
        return self._draw(Uniform(0.0, 1.0), size, dtype, out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=np.float64, out=None):
        """Uniform on [low, high); ``high`` is never returned."""
        return self._draw(Uniform(low, high), size, dtype, out)

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=np.float64, out=None):
        """Normal with mean ``loc`` and standard deviation ``scale``."""
        return self._draw(Normal(loc, scale), size, dtype, out)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        return self._draw(Normal(0.0, 1.0), size, dtype, out)

    def truncated_normal(self, lower=-2.0, upper=2.0, loc=0.0, scale=1.0, size=None,
                         dtype=np.float64, out=None):
        """Normal(loc, scale) truncated to [loc + lower*scale, loc + upper*scale].

        ``lower`` and ``upper`` are in standard deviations, as in
        ``jax.random.truncated_normal`` and ``scipy.stats.truncnorm``; for absolute
        bounds use ``fastinit.trunc_normal_`` (torch's convention).
        """
        dist = TruncatedNormal(loc, scale, loc + lower * scale, loc + upper * scale)
        return self._draw(dist, size, dtype, out)

    def bernoulli(self, p=0.5, size=None, dtype=np.bool_, out=None):
        """1 (True) with probability ``p``, else 0: dropout masks."""
        return self._draw(Bernoulli(p), size, dtype, out)


default_generator = Generator(0)


def manual_seed(seed):
    """Reseed the default generator (stream 0, position 0) and return it, as torch does."""
    global default_generator
    default_generator = Generator(seed)
    return default_generator


def get_default_generator():
    return default_generator


def resolve(generator=None, seed=None):
    """The generator a call uses: a fresh ``Generator(seed)``, ``generator``, or the default."""
    if seed is not None and generator is not None:
        raise ValueError("pass either seed or generator, not both")
    if seed is not None:
        return Generator(seed)
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a fastinit.Generator, got {type(generator).__name__}")
    return generator
