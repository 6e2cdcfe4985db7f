"""The CPU kernel: independent of how its chunks are split, and the same code runs
as plain Python (NUMBA_DISABLE_JIT=1), as the CUDA simulator will run it."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import Bernoulli, Normal, Raw, TruncatedNormal, Uniform
from fastinit.backends import STORAGE, cpu
from fastinit.distributions import rule_for

CASES = [(Raw(), "uint32"), (Bernoulli(0.4), "bool"), (Bernoulli(0.4), "float32")] + [
    (d, t) for d in (Uniform(-1, 2), Normal(0.5, 2), TruncatedNormal(0, 1, -1, 3))
    for t in ("float16", "bfloat16", "float32", "float64")]


@pytest.mark.parametrize("dist, dtype", CASES, ids=str)
def test_any_split_into_parallel_runs_gives_the_same_values(dist, dtype, monkeypatch):
    n = 5 * cpu.CHUNK + 77
    results = []
    for parts in (1, 2, 3, 7, 64):
        monkeypatch.setattr(cpu, "get_num_threads", lambda parts=parts: parts)
        buf = np.zeros(n, STORAGE[dtype])
        cpu.fill(buf, 0, (), (), rule_for(dist, dtype), dtype, 5, 9, 123, 1000, n)
        results.append(buf.tobytes())
    assert len(set(results)) == 1


_SCRIPT = """
import sys, numpy as np, fastinit
from fastinit import Bernoulli, Normal, Raw, TruncatedNormal, Uniform
from fastinit.generator import numpy_dtype
for dist, dtype in {cases}:
    out = np.empty(37, numpy_dtype(dtype))
    fastinit.Generator(3, 1).fill(out, dist, start=4090, numel=4200)
    sys.stdout.write(out.tobytes().hex() + "\\n")
"""


def test_pure_python_run_equals_the_compiled_kernel():
    script = _SCRIPT.format(cases=repr(CASES))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    python = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, check=True, timeout=600)
    compiled = []
    for dist, dtype in CASES:
        from fastinit.generator import numpy_dtype

        out = np.empty(37, numpy_dtype(dtype))
        fastinit.Generator(3, 1).fill(out, dist, start=4090, numel=4200)
        compiled.append(out.tobytes().hex())
    assert python.stdout.split() == compiled
