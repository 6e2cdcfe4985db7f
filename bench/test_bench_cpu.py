"""pytest-benchmark: fastinit, torch.nn.init, numpy and a plain write of the same bytes,
side by side per case (2^22 elements, torch CPU tensors). Run with

    pytest bench/ --benchmark-only

Benchmarks, not tests: nothing here asserts a timing. ``fastinit bench`` runs the same
comparison over more sizes and writes JSON.
"""

import pytest

from fastinit.bench import cpu_methods

ELEMENTS = 2**22
CASES = [("uniform", "float32"), ("normal", "float32"), ("trunc_normal", "float32"),
         ("normal", "bfloat16")]
PARAMS = [pytest.param(distribution, dtype, method, id=f"{distribution}-{dtype}-{method}"
                       .replace("→", "->"))
          for distribution, dtype in CASES for method in cpu_methods(distribution, dtype, ELEMENTS)]


@pytest.mark.parametrize("distribution, dtype, method", PARAMS)
def test_fill(benchmark, distribution, dtype, method):
    fill = cpu_methods(distribution, dtype, ELEMENTS)[method]
    fill()  # warm-up: fastinit compiles its kernel on first use
    benchmark.group = f"{distribution} {dtype} 2^22"
    if distribution == "trunc_normal":  # torch's and scipy's take up to seconds
        benchmark.pedantic(fill, rounds=3)
    else:
        benchmark(fill)
