"""The first minute on a GPU: one fill per GPU backend and rule family, against the CPU.

    python bench/gpu_smoke.py

For each GPU backend (``cupy``, ``numba_cuda``) and each rule family (raw words,
Bernoulli, uniform, normal, truncated normal, bounded integers, a constant) one fill of a CUDA array
(CuPy's, else torch's) of an odd size, contiguous and strided, compared byte for byte
with the CPU backend's fill of the same shape. Prints one line per fill with the first
call's time (compilation included) and exits 0 when every fill matches, 1 when one
differs or fails, 2 when no GPU backend can run (with the reasons). A GPU's time is worth
spending on the full tests and the bench only after a 0.
"""

import sys
import time
import traceback

import numpy as np

import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform, arrays

SHAPE = (1001, 257)
FAMILIES = [("raw", Raw(), np.uint32), ("bernoulli", Bernoulli(0.3), np.uint8),
            ("uniform", Uniform(-1, 2), np.float32), ("normal", Normal(0.5, 2), np.float16),
            ("truncnorm", TruncatedNormal(0, 1, -2, 2), np.float32),
            ("truncnorm", TruncatedNormal(0, 1, 3, 12), np.float16),
            ("truncnorm", TruncatedNormal(0, 1, -1, 3), np.float64),
            ("integers", Integers(0, 2**31), np.uint32),  # half of the tries redrawn
            ("integers", Integers(-2**63, 2**62), np.int64),
            ("constant", 0.1, np.float32)]
LAYOUTS = {"contiguous": lambda a: a, "strided": lambda a: a.T[3:500:2]}


def _device_arrays():
    """``(empty(shape, dtype) on the GPU, to_numpy)`` from CuPy, else torch."""
    try:
        import cupy

        return (lambda shape, dtype: cupy.empty(shape, dtype)), cupy.asnumpy
    except ImportError:
        import torch

        def empty(shape, dtype):
            return torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device="cuda")

        return empty, lambda t: t.cpu().numpy()


def _fill(out, what, backend):
    if not isinstance(what, float):
        fastinit.Generator(7, 3).fill(out, what, backend=backend)
    elif backend == "cpu":
        out[...] = what  # what torch.nn.init.constant_ writes
    else:
        arrays.fill_constant(out, what, backend=backend)


def _check(backend, what, dtype, view_of, empty, to_numpy):
    """``(matches, seconds)`` of one fill through ``backend`` against the CPU's."""
    expected = view_of(np.zeros(SHAPE, dtype))
    _fill(expected, what, "cpu")
    out = view_of(empty(SHAPE, dtype))
    begin = time.perf_counter()
    _fill(out, what, backend)
    got = to_numpy(out)  # synchronizes
    seconds = time.perf_counter() - begin
    return got.tobytes() == np.ascontiguousarray(expected).tobytes(), seconds


def main():
    status = arrays.backend_status()
    backends = [name for name in arrays.GPU_BACKENDS if status[name][0]]
    for name in arrays.GPU_BACKENDS:
        print(f"{name}: {'available' if status[name][0] else status[name][1]}")
    if not backends:
        return 2
    empty, to_numpy = _device_arrays()
    failed = 0
    for backend in backends:
        for family, what, dtype in FAMILIES:
            for layout, view_of in LAYOUTS.items():
                label = f"{backend:10} {family:9} {np.dtype(dtype).name:8} {layout:10}"
                try:
                    ok, seconds = _check(backend, what, dtype, view_of, empty, to_numpy)
                except Exception:  # a smoke test reports every failure, then goes on
                    print(f"{label} ERROR\n{traceback.format_exc()}", flush=True)
                    failed += 1
                    continue
                failed += not ok
                print(f"{label} {'ok' if ok else 'DIFFERS':7} {seconds:7.3f} s", flush=True)
    print(f"{failed} of {len(backends) * len(FAMILIES) * len(LAYOUTS)} fills failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
