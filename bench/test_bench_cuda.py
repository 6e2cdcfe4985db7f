"""pytest-benchmark on a CUDA GPU: fastinit (CuPy and numba.cuda backends), torch.nn.init,
CuPy's generator and a plain write of the same bytes, side by side per case, each writing
1 GiB into one torch CUDA tensor (the size of the project's speed goals). Run with

    pytest bench/test_bench_cuda.py --benchmark-only

Skipped without torch's CUDA build and a GPU. pytest-benchmark times on the host clock,
so a round is one fill and ``torch.cuda.synchronize()``: launch overhead and the sync
are included. ``fastinit bench --device cuda`` times device time with CUDA events over
2^20..2^30 elements and writes JSON and a plot. Benchmarks, not tests: nothing here
asserts a timing.
"""

import pytest

from fastinit import bench

_ok, _why = bench.cuda_status()
if not _ok:
    pytest.skip(f"no CUDA benchmark here: {_why}", allow_module_level=True)

import torch  # only once a GPU is known to be there

OUTPUT_BYTES = 2**30
CASES = [("uniform", "float32"), ("normal", "float32"), ("normal", "bfloat16"),
         ("trunc_normal", "float32"), ("trunc_normal", "bfloat16")]
PARAMS = [pytest.param(distribution, dtype, method, id=f"{distribution}-{dtype}-{method}"
                       .replace("→", "->"))
          for distribution, dtype in CASES
          for method in bench.cuda_methods(distribution, dtype, 1024)]  # names only


@pytest.mark.parametrize("distribution, dtype, method", PARAMS)
def test_fill(benchmark, distribution, dtype, method):
    elements = OUTPUT_BYTES // bench.nbytes(dtype, 1)
    fill = bench.cuda_methods(distribution, dtype, elements)[method]

    def fill_and_sync():
        fill()
        torch.cuda.synchronize()

    fill_and_sync()  # warm-up: compiles fastinit's and CuPy's kernels on first use
    benchmark.group = f"{distribution} {dtype} 1 GiB"
    benchmark.extra_info.update(bytes=OUTPUT_BYTES, elements=elements)
    benchmark(fill_and_sync)
