"""What the CuPy kernels' exactness and grid cost on a GPU: one table, one call.

    python bench/gpu_variants.py

Times the CuPy backend's fills (``fastinit bench``'s CUDA event timer, best of
repeats, 2^28 elements) under NVRTC option variants and grid sizes, beside a plain
``fill`` of the same bytes:

- ``exact``: the shipped options (no contracted multiply-add, no flush to zero, IEEE
  division and square root; kernels/README.md), at the shipped grid;
- ``fmad``: the same with ``--fmad=true``, what contraction would gain;
- ``fast``: ``--use_fast_math``, the ceiling of relaxed arithmetic;
- ``exact, waves=W``: the shipped options with the grid capped at W full-occupancy
  waves instead of ``WAVES``.

Only ``exact`` writes the contract's values: the others measure what the exactness
costs and are never shipped. Needs CuPy, torch and a GPU.
"""

import cupy
import torch

from fastinit import Generator, Normal, TruncatedNormal, Uniform
from fastinit.backends import cupy as backend
from fastinit.bench import cuda_event_timer

N = 2**28
CASES = [("uniform", Uniform(-1, 1), "float32"), ("uniform", Uniform(-1, 1), "float16"),
         ("normal", Normal(0, 1), "float32"), ("normal", Normal(0, 1), "bfloat16"),
         ("trunc_normal 2σ", TruncatedNormal(0, 1, -2, 2), "float32"),
         ("trunc_normal timm", TruncatedNormal(0, 0.02, -2, 2), "float32")]
EXACT = backend.compile_options()
VARIANTS = {"exact": (EXACT, backend.WAVES),
            "fmad": (tuple(o.replace("--fmad=false", "--fmad=true") for o in EXACT),
                     backend.WAVES),
            "fast": (("--use_fast_math",) + tuple(o for o in EXACT if o.startswith(("-I", "--std"))),
                     backend.WAVES),
            "exact, waves=1": (EXACT, 1), "exact, waves=16": (EXACT, 16)}


def best_ms(fn, repeats=20):
    """Best device time of ``fn`` in ms, host launch overhead excluded (bench's timer)."""
    fn()
    return 1e3 * min(cuda_event_timer(fn) for _ in range(repeats))


def main():
    print(cupy.cuda.runtime.getDeviceProperties(0)["name"].decode(), f"2^{N.bit_length() - 1}")
    rows = {}
    for variant, (options, waves) in VARIANTS.items():
        backend.compile_options = lambda options=options: options
        backend.WAVES = waves
        backend._kernel.cache_clear()
        backend._max_grid.cache_clear()
        for label, dist, dtype in CASES:
            out = torch.empty(N, dtype=getattr(torch, dtype), device="cuda")
            rows.setdefault((label, dtype), {})[variant] = best_ms(
                lambda: Generator(1).fill(out, dist, backend="cupy"))
            if variant == "exact":
                write = torch.empty(N * out.element_size() // 4, device="cuda")
                rows[(label, dtype)]["write"] = best_ms(lambda: write.fill_(1.0))
    names = ["write", *VARIANTS]
    print(f"{'case':24} {'dtype':9}" + "".join(f"{n:>17}" for n in names) + "   (ms)")
    for (label, dtype), times in rows.items():
        print(f"{label:24} {dtype:9}" + "".join(f"{times[n]:17.3f}" for n in names))


if __name__ == "__main__":
    main()
