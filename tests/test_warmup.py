"""fastinit warmup: every specialization a fill can compile, compiled ahead of use into
the disk cache that later processes load from."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastinit
from fastinit import warmup
from fastinit.backends import ENTRY, Table, cpu
from fastinit.registry import FAMILIES
from fastinit.generator import numpy_dtype


def test_specializations_are_every_rule_and_dtype_once():
    found = warmup.specializations()
    assert len(found) == len(set(found))

    def store(dtype):  # dtypes of one store share a specialization
        return type(cpu.STORE_MARKERS[dtype])

    expected = {(warmup.rule_name(dist, dtype), store(dtype)) for dtype in warmup.DTYPES
                for dist in warmup.DISTRIBUTIONS.values()
                if warmup.rule_name(dist, dtype) is not None}
    assert {(r, store(d)) for r, d in found} == expected
    # 4 float dtypes x (uniform, normal, truncated normal, Bernoulli) + masks + raw words
    # + integers for 4 stores (8, 16, 32, 64 bits) + wide ones (64 bits)
    assert len(found) == 4 * 4 + 1 + 1 + 4 + 1


def test_narrowed_choices_and_the_philox_loop():
    assert warmup.specializations(["float64"], ["normal"]) == [("normal64", "float64")]
    assert warmup.specializations(["uint32"], ["normal"]) == []
    assert warmup.PHILOX in warmup.items() and warmup.PHILOX not in warmup.items(["float32"])
    assert warmup.describe(("truncnorm32", "bfloat16")) == "truncnorm32 bfloat16"


def test_compiling_writes_nothing_anywhere():
    """A warm-up launch covers no element of its one row, whose address is 0 (a write
    would fault): the kernel compiles (or loads) its specialization and returns."""
    from fastinit.backends import cpu

    before = len(cpu._kernel.signatures)
    assert warmup.compile_one(("uniform32", "float32")) is None
    assert warmup.compile_one(warmup.PHILOX) is None
    assert len(cpu._kernel.signatures) >= max(before, 1)


_FILL = """
import json, numpy as np, fastinit
from fastinit.backends import cpu
x = np.empty((64, 64), np.float32)
fastinit.init.normal_(x)
fastinit.init.uniform_(x[:, ::2])
print(json.dumps({"hits": sum(cpu._kernel.stats.cache_hits.values()),
                  "misses": sum(cpu._kernel.stats.cache_misses.values())}))
"""


def test_a_warmed_cache_serves_later_processes_without_compiling(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    warm = subprocess.run([sys.executable, "-m", "fastinit", "warmup", "--dtypes", "float32",
                           "--rules", "uniform,normal"], env=env, capture_output=True,
                          text=True, timeout=600, check=True)
    assert warm.stdout.startswith(f"compiling 2 CPU kernels into {tmp_path}")
    assert f"2 kernel compilations cached in {tmp_path}" in warm.stdout
    child = subprocess.run([sys.executable, "-c", _FILL], env=env, capture_output=True,
                           text=True, timeout=600, check=True)
    assert json.loads(child.stdout) == {"hits": 2, "misses": 0}


def test_the_cache_state_counts_what_these_sources_compiled():
    warmup.compile_one(("normal32", "float32"))
    where, current, stale = cpu.cache_state()
    assert os.path.isdir(where) and current >= 1 and stale >= 0


@pytest.mark.parametrize("dtype", ["float16", "bool", "float32", "int64"])
def test_warmup_compiles_exactly_what_fills_use(dtype):
    """After the warm-up of a dtype, fills of it (contiguous, strided, and a table of
    rows as materialize makes) need no new compilation."""
    for item in warmup.items([dtype]):
        warmup.compile_one(item)
    compiled = set(cpu._kernel.overloads)
    gen = fastinit.Generator(1)
    for dist in warmup.DISTRIBUTIONS.values():
        if warmup.rule_name(dist, dtype) is None:  # it does not fill this dtype
            continue
        gen.fill(np.empty((8, 8), numpy_dtype(dtype)), dist)
        gen.fill(np.empty((8, 16), numpy_dtype(dtype))[:, ::2], dist)
    if dtype == "float32":
        out = np.zeros(10, np.float32)
        row = np.zeros(1, ENTRY)
        row["ptr"], row["n"], row["family"] = out.ctypes.data, 10, FAMILIES.index("normal")
        row["params"][0, :2] = (0.0, 1.0)
        cpu.fill_many(Table(row, "float32", None, 0))
        assert out.any()
    assert set(cpu._kernel.overloads) == compiled


def test_cuda_items_are_every_cupy_kernel_or_the_narrowed_fills():
    from fastinit.backends import cupy as cupy_backend

    assert warmup.cuda_items([80, 90]) == [(arch, name) for arch in (80, 90)
                                           for name in cupy_backend.NAME_EXPRESSIONS]
    assert warmup.cuda_items([90], ["float32"], ["uniform"]) == [
        (90, cupy_backend.fill_name("uniform32", "float32", strided)) for strided in (False, True)]


def test_cuda_warmup_fills_cupys_kernel_cache_without_a_gpu(tmp_path, monkeypatch, capsys):
    """``fastinit warmup --cuda-arch`` compiles with NVRTC (no GPU needed) into
    CUPY_CACHE_DIR, where the backend's first launch finds each binary; a second run
    compiles nothing."""
    from fastinit import cli
    from fastinit.backends import cupy as cupy_backend

    monkeypatch.setenv("CUPY_CACHE_DIR", str(tmp_path))
    argv = ["warmup", "--dtypes", "float32", "--rules", "normal", "--cuda-arch", "90"]
    assert cli.main(argv) == 0
    assert "compiling 2 CuPy kernels into " + str(tmp_path) in capsys.readouterr().out
    paths = [cupy_backend.binary("sm_90", name)[0] for _, name in warmup.cuda_items(
        [90], ["float32"], ["normal"])]
    assert all(p.parent == tmp_path and p.suffix == ".cubin" and p.stat().st_size for p in paths)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert cli.main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


def test_cuda_arch_must_be_a_compute_capability(capsys):
    from fastinit import cli

    with pytest.raises(SystemExit):
        cli.main(["warmup", "--cuda-arch", "9.0"])
    assert "80 for 8.0" in capsys.readouterr().err
