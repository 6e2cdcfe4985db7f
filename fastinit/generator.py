"""``Generator``: a (seed, stream) Philox stream with numpy-style methods.

A generator names a stream and a position in it (in Philox blocks). Each call
starts at the current position, and the position moves past every block the call
used, so successive calls never reuse values; the first call on a fresh generator
returns elements 0, 1, ... of the stream. ``fill(out, dist)`` is the primitive the
methods, ``fastinit.init`` and the JAX-style initializers all use; ``resolve`` picks the
generator a call uses, keying a fresh one from torch's generators where torch's would
decide (docs/stream.md, section 6).
"""

import contextlib
import operator
import threading

import numpy as np

from . import arrays
from ._constants import RETRY_BLOCK_BIT
from .backends import Draw
from .distributions import (
    Bernoulli,
    Integers,
    Normal,
    Raw,
    TruncatedNormal,
    Uniform,
    blocks_for,
    integer_range,
    rule_for,
)
from .registry import INTEGER_DTYPES

_U64 = 1 << 64


def _check_u64(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if not 0 <= value < _U64:
        raise ValueError(f"{name} must be in [0, 2**64), got {value}")
    return value


def _check_device(device):
    text = str(device)
    kind, _, index = text.partition(":")
    if kind not in ("cpu", "cuda") or (index and (kind == "cpu" or not index.isdigit())):
        raise ValueError(f'device must be "cpu", "cuda" or "cuda:N", got {device!r}')
    return text


def _check_backend(backend):
    if backend is not None and backend not in arrays.BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(arrays.BACKENDS)} or None, "
                         f"got {backend!r}")
    return backend


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


def shape_of_size(size):
    """The shape numpy makes of ``size``, an integer or a sequence of integers (numpy's
    TypeError for anything else, a float included)."""
    if np.ndim(size) == 0:
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
            raise TypeError(f"expected a sequence of integers or a single integer, got "
                            f"'{size!r}'")
        return (int(size),)
    return tuple(operator.index(s) for s in size)


def supported_dtype_name(dtype, supported, caller):
    """The name of ``dtype`` if it is one of ``supported``, else numpy's TypeError for
    the function ``caller``."""
    name = dtype_name_of(dtype)
    if name not in supported:
        raise TypeError(f"Unsupported dtype {numpy_dtype(name)!r} for {caller}")
    return name


def scalar(name, value):
    """``value``, which must be a scalar: fastinit draws every element of a call with the
    same parameters (numpy broadcasts arrays of them)."""
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a scalar: fastinit draws every element with the same "
                        f"parameters, got an array of shape {np.shape(value)}")
    return value


def bounded_integers(low, high, endpoint, dtype):
    """The ``Integers`` of numpy's ``integers(low, high, dtype=dtype, endpoint=endpoint)``
    (``high=None``: [0, low)), with numpy's checks, in numpy's order and words."""
    if high is None:
        low, high = 0, int(scalar("low", low))
        if high < 0 or (high == 0 and not endpoint):
            raise ValueError("high < 0" if endpoint else "high <= 0")
    else:
        low, high = int(scalar("low", low)), int(scalar("high", high))
    last = high if endpoint else high - 1
    smallest, largest = integer_range(dtype)
    if low < smallest:
        raise ValueError(f"low is out of bounds for {dtype}")
    if last > largest:
        raise ValueError(f"high is out of bounds for {dtype}")
    if low > last:
        raise ValueError("low > high" if endpoint else "low >= high")
    return Integers(low, last)


def numpy_dtype(name):
    """The numpy dtype of a fastinit dtype name (bfloat16 from ml_dtypes)."""
    if name == "bfloat16":
        from ml_dtypes import bfloat16

        return np.dtype(bfloat16)
    return np.dtype(name)


def empty(shape, name, device):
    """An uninitialized array of fastinit dtype ``name`` on ``device`` ("cpu": numpy;
    "cuda": CuPy, on CuPy's current device, like ``cupy.random.Generator``; "cuda:N":
    CuPy, on device N)."""
    if device == "cpu":
        return np.empty(shape, numpy_dtype(name))
    try:
        import cupy
    except ImportError:
        raise RuntimeError(f"device={device!r} allocates CuPy arrays: install "
                           "fastinit[cuda12] or fastinit[cuda13], or pass out=") from None
    if name == "bfloat16":
        raise TypeError("CuPy has no bfloat16 arrays: fill a torch bfloat16 tensor with "
                        "Generator.fill or out=")
    index = device.partition(":")[2]
    with cupy.cuda.Device(int(index)) if index else contextlib.nullcontext():
        return cupy.empty(shape, numpy_dtype(name))


class StreamPosition:
    """A Philox4x32-10 stream ``(seed, stream)``, a position in it, and the device draws
    go to: what ``Generator`` and ``fastinit.dask.Generator`` share. A draw of ``n``
    elements by a rule starts at the position and moves it past its blocks."""

    def __init__(self, seed=0, stream=0, *, device="cpu"):
        self._seed = _check_u64("seed", seed)
        self._stream = _check_u64("stream", stream)
        self._block = 0
        self._device = _check_device(device)

    @property
    def seed(self):
        return self._seed

    @property
    def stream(self):
        return self._stream

    @property
    def device(self):
        """Where the methods allocate their results: "cpu" (numpy) or "cuda[:N]" (CuPy)."""
        return self._device

    @property
    def offset(self):
        """Position in the stream, in 4-word Philox blocks."""
        return self._block

    def _advance(self, rule, numel):
        """Move past a draw of ``numel`` elements by ``rule``; return where it starts."""
        block0 = self._block
        self._block = (block0 + blocks_for(rule, numel)) % _U64
        return block0


class Generator(StreamPosition):
    """A Philox4x32-10 stream: ``seed`` is the key, ``stream`` the counter's high half.

    ``device`` is where the methods allocate results when no ``out`` is given: "cpu"
    (numpy arrays) or "cuda"/"cuda:N" (CuPy arrays, like ``cupy.random.Generator``).
    ``backend`` ("cpu", "cupy", "numba_cuda"; None picks the fastest available for the
    destination's memory) is what fills. Neither changes a value: the same seed gives
    the same bits on every device and backend.

    >>> g = fastinit.Generator(seed=42)
    >>> w = g.normal(0.0, 0.02, size=(1024, 1024), dtype="float32")
    >>> g.uniform(-1, 1, out=np.empty(10, np.float16))
    >>> fastinit.Generator(seed=42, device="cuda").normal(size=(1024, 1024))  # a CuPy array
    """

    def __init__(self, seed=0, stream=0, *, device="cpu", backend=None):
        super().__init__(seed, stream, device=device)
        self._backend = _check_backend(backend)

    @property
    def backend(self):
        """The backend fills use unless a call names one (None: the fastest for the memory)."""
        return self._backend

    def __repr__(self):
        extra = "" if self._device == "cpu" else f", device={self._device!r}"
        extra += "" if self._backend is None else f", backend={self._backend!r}"
        return (f"fastinit.Generator(seed={self._seed}, stream={self._stream}{extra}) "
                f"at block {self._block}")

    def fill(self, out, dist, *, start=0, numel=None, backend=None):
        """Fill ``out`` in place with ``dist``; return ``out``.

        ``out`` is a numpy array, a torch tensor (CPU or CUDA), a CuPy array, or any
        object with ``__cuda_array_interface__`` or ``__dlpack__`` (or the
        ``arrays.Destination`` of one, read already). ``backend`` ("cpu",
        "cupy", "numba_cuda") overrides the generator's. With ``start`` and ``numel``,
        ``out`` holds elements [start, start + out.size) of a logical tensor of
        ``numel`` elements (a shard), and gets exactly those values of the whole;
        the generator then advances past the whole tensor.
        """
        dest = arrays.destination(out)
        rule = rule_for(dist, arrays.dtype_name(dest))
        start = int(start)
        numel = start + dest.size if numel is None else int(numel)
        if start < 0 or start + dest.size > numel:
            raise ValueError(f"elements [{start}, {start + dest.size}) are not inside a "
                             f"tensor of {numel} elements")
        if rule.retries and self._block + blocks_for(rule, numel) > RETRY_BLOCK_BIT:
            raise ValueError("a fill of bounded integers must stay below Philox block 2**63, "
                             "whose upper half holds their retries (docs/stream.md); this "
                             f"one would end at block {self._block + blocks_for(rule, numel)}")
        arrays.fill(dest, Draw(rule, self._seed, self._stream, self._block, start),
                    _check_backend(backend) or self._backend)
        self._advance(rule, numel)
        return out

    def _draw(self, dist, size, dtype, out):
        if out is not None:
            if size is not None and shape_of_size(size) != arrays.shape_of(out):
                raise ValueError(f"size {size} does not match out's shape {arrays.shape_of(out)}")
            return self.fill(out, dist)
        shape = () if size is None else shape_of_size(size)
        result = empty(shape, dtype_name_of(dtype), self._device)
        self.fill(result, dist)
        return result[()] if size is None and self._device == "cpu" else result

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

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False, out=None):
        """Integers uniform on [low, high), or [low, high] with ``endpoint``; ``high=None``
        draws from [0, low). As ``numpy.random.Generator.integers`` (arguments, defaults,
        errors), but ``low`` and ``high`` are scalars. Exact: every integer of the range is
        equally likely (docs/stream.md). ``dtype``: bool or an integer type of 8 to 64 bits."""
        dtype = supported_dtype_name(dtype, INTEGER_DTYPES, "integers")
        return self._draw(bounded_integers(low, high, endpoint, dtype), size, dtype, out)


default_generator = Generator(0)


def manual_seed(seed):
    """Reseed the default generator (stream 0, position 0) and return it, as torch does."""
    global default_generator
    default_generator = Generator(seed)
    return default_generator


def get_default_generator():
    return default_generator


class _KeyWords(threading.local):
    """This thread's one-element int64 tensor per device, that ``torch_key`` draws into
    (allocating one per key cost more than the draw itself), with a numpy view of it on
    the CPU (reading that costs a third of ``Tensor.item``)."""

    def __init__(self):
        self.by_device = {}


_key_words = _KeyWords()
_INT64_LOW = -(1 << 63)


def _key_word(device):
    """``(word, view)``: a one-element int64 tensor on ``device``, this thread's own for
    that device, and a numpy view of it on the CPU (else None). One made in inference
    mode could not be written outside it later, so it is made outside; one that is not
    a plain tensor on exactly ``device`` (made under a torch mode, or "cuda" with no
    index, which names whatever device is current) serves one draw only."""
    key = device if type(device) is str else str(device)
    word = _key_words.by_device.get(key)
    if word is None:
        torch = arrays._torch()
        with torch.inference_mode(False):
            tensor = torch.empty((), dtype=torch.int64, device=device)
        plain = type(tensor) is torch.Tensor and tensor.device == torch.device(device)
        word = (tensor, tensor.numpy() if plain and tensor.is_cpu else None)
        if plain:
            _key_words.by_device[key] = word
    return word


def torch_key(generator=None, device="cpu"):
    """A 64-bit key drawn by torch: one full-range int64 from the ``torch.Generator``
    ``generator`` on its own device, or with None from torch's default generator of
    ``device`` (the one ``tensor.normal_()`` there uses: ``torch.manual_seed`` seeds it),
    as an unsigned integer. The draw advances that generator as any one-element draw
    does; on a CUDA device it waits for the current stream, as the key comes back to the
    host."""
    if generator is None:
        word, view = _key_word(device)
        word.random_(_INT64_LOW, None)
    else:
        word, view = _key_word(generator.device)
        word.random_(_INT64_LOW, None, generator=generator)
    return (word.item() if view is None else view.item()) % _U64


def resolve(generator=None, seed=None, destination=None):
    """The generator a call uses:

    - with ``seed``, a fresh ``Generator(seed)``;
    - a fastinit ``generator`` itself;
    - for a ``torch.Generator``, a fresh ``Generator(torch_key(generator))``;
    - with neither, for a torch tensor ``destination``, a fresh Generator keyed by torch's
      default generator of the tensor's device, so ``torch.manual_seed`` decides the
      values as it does for ``torch.nn.init``; for any other destination (a meta tensor
      included, which no fill takes), the default generator.
    """
    key = fresh_key(generator, seed, destination)
    if key is not None:
        return Generator(key)
    return default_generator if generator is None else generator


def fresh_key(generator=None, seed=None, destination=None):
    """The key of the fresh Generator that ``resolve`` makes for these arguments (drawn
    from torch's generator where ``resolve`` draws it), or None where ``resolve``
    returns an existing generator: a fastinit ``generator``, or the default one."""
    if seed is not None:
        if generator is not None:
            raise ValueError("pass either seed or generator, not both")
        if type(seed) is int and 0 <= seed < _U64:  # what _check_u64 passes, 4x faster
            return seed
        return _check_u64("seed", seed)
    if generator is None:  # tested first: isinstance of torch.Generator costs 0.3 us
        if arrays.is_torch_tensor(destination) and not destination.is_meta:
            return torch_key(device="cpu" if destination.is_cpu else destination.device)
        return None
    if isinstance(generator, Generator):
        return None
    torch = arrays._torch()
    if torch is not None and isinstance(generator, torch.Generator):
        return torch_key(generator)
    raise TypeError("generator must be a fastinit.Generator or a torch.Generator, got "
                    f"{type(generator).__name__}")
