"""The digest of the sources that compiled kernels are built from.

Numba keys a cached kernel on its own file's time stamp and size, never on the files
its callees live in: a change to ``core.py`` or ``_constants.py`` alone would leave
stale machine code in the cache. Each disk-cached kernel is therefore a closure over
``DIGEST``, and Numba keys cached closures on their cells' contents too, so a cache
entry serves only the exact sources it was built from.
"""

import hashlib
from pathlib import Path

# Every file of the package whose code or constants reach a compiled CPU kernel
# (tests/test_sources.py checks that the list is closed under imports).
KERNEL_SOURCES = (
    "_bits.py",
    "_constants.py",
    "_sources.py",
    "registry.py",
    "core.py",
    "philox.py",
    "backends/__init__.py",
    "backends/rules.py",
    "backends/cpu.py",
)


def digest(root=Path(__file__).parent):
    """A 63-bit digest of the contents of ``KERNEL_SOURCES`` under ``root``."""
    h = hashlib.blake2b(digest_size=8)
    for name in KERNEL_SOURCES:
        h.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return int.from_bytes(h.digest(), "little") >> 1


DIGEST = digest()
