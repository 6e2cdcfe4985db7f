import math
import pathlib

import numpy as np
import pytest

from fastinit.backends import View

DATA = pathlib.Path(__file__).parent / "data"
# Every byte of a buffer before a fill, so that an element no fill wrote shows; two
# buffers a test compares get different poisons, so that neither can pass unwritten.
POISON, OTHER_POISON = 0x5A, 0xA5


def poisoned(shape, dtype, byte=POISON):
    """A numpy array of ``shape`` and ``dtype`` (ml_dtypes' too) whose every byte is
    ``byte``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    return np.full(math.prod(shape) * dtype.itemsize, byte, np.uint8).view(dtype).reshape(shape)


def poisoned_tensor(shape, dtype, byte=POISON):
    """A CPU torch tensor of ``shape`` and ``dtype`` whose every byte is ``byte``."""
    import torch

    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = math.prod(shape) * dtype.itemsize
    return torch.full((nbytes,), byte, dtype=torch.uint8).view(dtype).reshape(shape)


def load_kat():
    """Rows (rounds, counter[4], key[2], expected[4]) of the Random123 known answers."""
    rows = []
    for line in (DATA / "philox4x32_kat.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        assert fields[0] == "philox4x32"
        words = [int(f, 16) for f in fields[2:]]
        rows.append((int(fields[1]), words[0:4], words[4:6], words[6:10]))
    return rows


@pytest.fixture
def bits():
    """Bit patterns of an array, for exact comparisons (NaN and -0.0 included)."""

    def view(a):
        a = np.asarray(a)
        return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])

    return view


@pytest.fixture
def torch_draw():
    """The key of docs/stream.md, section 6, drawn independently of fastinit: one
    full-range int64 drawn by torch on the CPU (from ``generator``, else torch's default
    generator), as an unsigned integer."""
    torch = pytest.importorskip("torch")

    def draw(generator=None):
        word = torch.empty((), dtype=torch.int64).random_(-2**63, None, generator=generator)
        return word.item() % 2**64

    return draw


class HostAsDevice:
    """Host memory posing as device memory: a ``__cuda_array_interface__`` over a numpy
    array, so the description of CUDA destinations can be tested without a GPU."""

    def __init__(self, arr, stream=None, readonly=False, typestr=None):
        ai = arr.__array_interface__
        self.__cuda_array_interface__ = {
            "shape": arr.shape, "typestr": typestr or arr.dtype.str, "version": 3,
            "data": (ai["data"][0], readonly), "strides": ai["strides"], "stream": stream}


def view_at(ptr, dtype, n, shape=(), strides=(), device=None, cuda_stream=0):
    """The ``backends.View`` of ``n`` elements of ``dtype``, element 0 at address ``ptr``,
    laid out as ``shape`` and element ``strides`` say (contiguous when shape is ())."""
    shape, strides = tuple(shape), tuple(strides)
    if shape:
        low = sum(min(0, (d - 1) * s) for d, s in zip(shape, strides))
        high = sum(max(0, (d - 1) * s) for d, s in zip(shape, strides))
    else:
        low, high = 0, n - 1
    return View(ptr, dtype, n, shape, strides, low, high, device, cuda_stream)


def host_view(buf, dtype, origin=0, shape=(), strides=(), n=None):
    """The ``backends.View`` of ``n`` elements of ``dtype`` in the numpy array ``buf`` of
    its storage, element 0 at ``buf.flat[origin]`` (``n``: by default the shape's
    elements, or all of ``buf`` from ``origin``)."""
    if n is None:
        n = int(np.prod(shape)) if shape else buf.size - origin
    return view_at(buf.ctypes.data + origin * buf.itemsize, dtype, n, shape, strides)
