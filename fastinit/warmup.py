"""Compiling the kernels ahead of use: the CPU kernels into Numba's disk cache, and
with ``--cuda-arch`` the CuPy backend's into CuPy's kernel cache.

A fill compiles the kernel specialization it needs on first use (about 1-2 s) and
Numba keeps it on disk, keyed on the sources (``fastinit._sources``) and on the CPU
model. ``fastinit warmup`` compiles every specialization (or those of the dtypes and
distributions asked for) up front: in a container image build (``RUN fastinit
warmup``) or at the start of a CI job, on the machine kind that will use them.

The CuPy backend compiles each kernel with NVRTC on its first launch per machine
(0.1-0.5 s each) and keeps the binary in CuPy's kernel cache (``CUPY_CACHE_DIR``).
``cuda_items(archs)`` names those binaries for the compute capabilities ``archs`` (90
for 9.0) and ``compile_cuda`` builds one: NVRTC needs no GPU, so an image built
without one can carry them.
"""

import numpy as np

from . import philox
from .backends import cpu
from .distributions import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform, rule_for

# integers: spans below 2**32 (every integer dtype); integers_wide: wider (int64, uint64)
DISTRIBUTIONS = {"uniform": Uniform(), "normal": Normal(), "trunc_normal": TruncatedNormal(),
                 "bernoulli": Bernoulli(), "raw": Raw(), "integers": Integers(0, 1),
                 "integers_wide": Integers(0, 2**32)}
DTYPES = tuple(cpu.STORE_MARKERS)
PHILOX = "philox4x32"  # fastinit.philox4x32's block loop, compiled with the fills


def rule_name(dist, dtype):
    """The rule that fills ``dtype`` with ``dist``, or None where it fills no such array
    (a dtype the distribution cannot write, or a range of integers beyond the dtype's)."""
    try:
        return rule_for(dist, dtype).name
    except (TypeError, ValueError):
        return None


def specializations(dtypes=None, distributions=None):
    """The (rule, dtype) kernel specializations that fills of ``dtypes`` with
    ``distributions`` (names in ``DTYPES`` and ``DISTRIBUTIONS``; None: all) compile,
    each once: any layout uses the same one, and dtypes of one store (``cpu.STORE_MARKERS``:
    bool, uint8 and int8, ...) share theirs."""
    found = {}
    for dtype in dtypes or DTYPES:
        for name in distributions or DISTRIBUTIONS:
            rule = rule_name(DISTRIBUTIONS[name], dtype)
            if rule is not None:
                found.setdefault((rule, type(cpu.STORE_MARKERS[dtype])), (rule, dtype))
    return list(found.values())


def compile_one(item):
    """Compile (or load from the cache) one specialization, or ``PHILOX``."""
    if item == PHILOX:
        philox.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32))
    else:
        cpu.warmup(*item)


def describe(item):
    return item if item == PHILOX else " ".join(map(str, item))


def cuda_items(archs, dtypes=None, distributions=None):
    """``(arch, name expression)`` of each CuPy kernel, for each compute capability in
    ``archs``: the fills of ``specializations(dtypes, distributions)``, contiguous and
    strided, and when nothing narrows the choice, every kernel (constants and
    ``fill_many`` too)."""
    from .backends import cupy as cupy_backend

    if dtypes is None and distributions is None:
        names = cupy_backend.NAME_EXPRESSIONS
    else:
        names = [cupy_backend.fill_name(rule, dtype, strided)
                 for rule, dtype in specializations(dtypes, distributions)
                 for strided in (False, True)]
    return [(arch, name) for arch in archs for name in names]


def compile_cuda(item):
    """Compile (or find in CuPy's kernel cache) one of ``cuda_items``."""
    from .backends import cupy as cupy_backend

    arch, name = item
    cupy_backend.binary(cupy_backend.target(arch), name)


def items(dtypes=None, distributions=None):
    """What ``fastinit warmup`` compiles: the specializations, and ``PHILOX`` when
    nothing narrows the choice."""
    extra = [PHILOX] if dtypes is None and distributions is None else []
    return specializations(dtypes, distributions) + extra
