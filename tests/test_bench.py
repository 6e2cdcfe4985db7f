"""fastinit.bench: one destination per case, every method timed on it, rows of one shape."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from fastinit import arrays, bench
from fastinit.distributions import Normal, TruncatedNormal, Uniform


def check_rows(rows):
    assert rows
    for row in rows:
        assert tuple(row) == bench.ROW_KEYS
        for key in ("elements", "seconds", "gbps", "pct_of_write"):
            assert row[key] > 0 and math.isfinite(row[key])
        assert row["x_torch"] is None or row["x_torch"] > 0


def test_quick_run_at_a_tiny_size_times_every_method_of_every_case():
    seen = []
    results = bench.run(sizes=(12,), quick=True, on_case=seen.append)
    assert set(results) == {"device", "date", "commit", "rows"}
    assert "cores" in results["device"]
    rows = results["rows"]
    check_rows(rows)
    assert [r for case in seen for r in case] == rows
    cases = {(r["distribution"], r["dtype"]) for r in rows}
    assert cases == {(d, t) for d in bench.DISTRIBUTIONS for t in bench.DEFAULT_DTYPES}
    methods = {(r["distribution"], r["dtype"]): [] for r in rows}
    for r in rows:
        methods[r["distribution"], r["dtype"]].append(r["method"])
        assert r["elements"] == 4096
    assert methods["uniform", "float32"] == [bench.FASTINIT, bench.TORCH, "numpy", bench.WRITE,
                                             bench.ALL_THREADS, bench.ONE_THREAD]
    assert methods["xavier_uniform", "bfloat16"] == [bench.FASTINIT, bench.TORCH,
                                                     "numpy (f32→bf16)", bench.WRITE]
    assert methods["trunc_normal", "float32"][-2] == "scipy truncnorm (f64→f32)"
    assert methods["trunc_normal_timm", "float32"][-2] == "scipy truncnorm (f64→f32)"
    for r in rows:
        if r["method"] == bench.WRITE:
            assert r["pct_of_write"] == pytest.approx(100)
        if r["method"] == bench.TORCH:
            assert r["x_torch"] == pytest.approx(1)


def test_best_times_go_round_robin_within_each_budget():
    calls = []
    methods = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    cost = {"a": 0.1, "b": 1.0, "c": 0.01}

    def time_once(fn):
        fn()
        return cost[calls[-1]] + 0.001 * len(calls)

    best = bench.best_times(methods, time_once, budget_s=0.5, max_repeats=4)
    assert calls[:3] == ["a", "b", "c"]  # warm-up, untimed
    assert calls[3:9] == ["a", "b", "c", "a", "c", "a"]  # b is over budget after one
    assert calls.count("c") == 5 and calls.count("a") == 5 and calls.count("b") == 2
    assert best == {"a": pytest.approx(0.104), "b": pytest.approx(1.005),
                    "c": pytest.approx(0.016)}


def test_rows_follow_the_seconds_given():
    seconds = {bench.FASTINIT: 0.5, bench.TORCH: 2.0, "numpy (f32→bf16)": 1.0, bench.WRITE: 0.25}
    rows = bench.case_rows("normal", "bfloat16", 1000, seconds)
    check_rows(rows)
    fast, torch_row, numpy_row, write = rows
    assert fast["gbps"] == pytest.approx(2000 / 0.5 / 1e9)
    assert (fast["pct_of_write"], fast["x_torch"], fast["x_library"]) == (50.0, 4.0, 2.0)
    assert (torch_row["pct_of_write"], torch_row["x_torch"]) == (12.5, 1.0)
    assert numpy_row["x_library"] == 1.0
    assert (write["pct_of_write"], write["x_torch"], write["x_library"]) == (100.0, 8.0, 4.0)


def test_x_library_is_null_without_numpy_or_cupy():
    rows = bench.case_rows("normal", "float32", 10, {bench.FASTINIT: 1.0, bench.WRITE: 0.5})
    assert all(r["x_library"] is None for r in rows)


def test_without_torch_numpy_arrays_are_filled_and_x_torch_is_null(monkeypatch):
    monkeypatch.setattr(bench, "_torch", lambda: None)
    rows = bench.run(sizes=(10,), distributions=("uniform",), dtypes=("float32",), quick=True,
                     env={})["rows"]
    check_rows(rows)
    assert [r["method"] for r in rows] == [bench.FASTINIT, "numpy", bench.WRITE,
                                           bench.ALL_THREADS, bench.ONE_THREAD]
    assert all(r["x_torch"] is None for r in rows)
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("name, expected", [
    ("uniform", Uniform(-1.0, 1.0)),
    ("kaiming_normal", Normal(0.0, math.sqrt(2.0 / 1024))),
    ("trunc_normal", TruncatedNormal(0.0, 1.0, -2.0, 2.0)),  # bounds at +-2 sigma
    ("trunc_normal_timm", TruncatedNormal(0.0, 0.02, -2.0, 2.0)),  # timm's: +-100 sigma
])
def test_numpy_draws_what_fastinit_draws(name, expected):
    dst = np.zeros((8, 1024), np.float32)
    assert bench._drawn(*bench.DISTRIBUTIONS[name], dst) == expected
    assert not dst.any()  # recording the distribution writes nothing


def test_each_method_writes_the_destination():
    methods = bench.cpu_methods("normal", "float32", 4096)
    dst = methods[bench.FASTINIT].args[0]
    write = methods.pop(bench.WRITE)
    for method, fill in methods.items():
        write()
        fill()
        assert (dst != 1).all(), method


# --- small tensors: what a call costs beside the fill ---------------------------------


def test_small_rows_time_every_function_size_and_method():
    seen = []
    rows = bench.run_small(quick=True, on_case=seen.append)
    assert [r for case in seen for r in case] == rows
    assert [{r["function"] for r in case} for case in seen] == [
        {f} for f in bench.SMALL_FUNCTIONS]
    methods = (bench.SEEDED, bench.TORCH_KEYED, bench.TORCH)
    assert [(r["function"], r["elements"], r["method"]) for r in rows] == [
        (f, n, m) for f in bench.SMALL_FUNCTIONS for n in bench.SMALL_ELEMENTS for m in methods]
    for row in rows:
        assert tuple(row) == bench.SMALL_ROW_KEYS
        assert row["seconds"] > 0 and math.isfinite(row["seconds"]) and row["x_torch"] > 0
        if row["method"] == bench.TORCH:
            assert row["x_torch"] == pytest.approx(1)


@pytest.mark.parametrize("function", bench.SMALL_FUNCTIONS)
def test_small_methods_fill_one_small_tensor_with_and_without_a_seed(function):
    torch = pytest.importorskip("torch")
    methods = bench.small_methods(function, 1024)
    dst = methods[bench.SEEDED].args[0]
    assert (tuple(dst.shape), dst.dtype) == ((32, 32), torch.float32)
    assert methods[bench.SEEDED].keywords == {"seed": 0}
    assert methods[bench.TORCH_KEYED].keywords == {}  # torch's default generator decides
    for method, call in methods.items():
        dst.zero_()
        call()
        assert (dst != 0).any(), method


def test_without_torch_there_are_no_small_rows(monkeypatch):
    monkeypatch.setattr(bench, "_torch", lambda: None)
    assert bench.run_small(quick=True) == []


# --- CUDA: everything that runs without a GPU, then the real thing where there is one ---

CUDA_CASE = {"fastinit (cupy)": 0.001, "fastinit (numba.cuda)": 0.002, bench.TORCH: 0.004,
             "cupy.random (f32→bf16)": 0.008, bench.WRITE: 0.0008}


def _torch_cuda_ready():
    torch = bench._torch()
    return torch is not None and torch.cuda.is_available()


def test_cuda_rows_have_the_cpu_rows_shape():
    rows = bench.case_rows("normal", "bfloat16", 2**28, CUDA_CASE)
    check_rows(rows)
    by_method = {r["method"]: r for r in rows}
    assert list(by_method) == list(CUDA_CASE)
    cupy_row = by_method["fastinit (cupy)"]
    assert cupy_row["gbps"] == pytest.approx(2**29 / 0.001 / 1e9)
    assert cupy_row["pct_of_write"] == pytest.approx(80.0)
    assert cupy_row["x_torch"] == pytest.approx(4.0)
    assert by_method[bench.WRITE]["pct_of_write"] == pytest.approx(100)


class FakeEvent:
    def __init__(self, log, clock, enable_timing=False):
        assert enable_timing
        self.log, self.clock = log, clock

    def record(self, stream=None):
        self.log.append(("record", stream))
        self.t = self.clock[0]

    def synchronize(self):
        self.log.append("synchronize")

    def elapsed_time(self, end):
        return end.t - self.t  # milliseconds, as torch's


class FakeCuda:
    """The parts of torch.cuda the timer and run loop use, logging each call."""

    def __init__(self, sleep=True):
        self.log, self.clock = [], [0.0]
        if sleep:
            self._sleep = lambda cycles: self.log.append(("sleep", cycles))

    def current_stream(self):
        return "stream"

    def Event(self, enable_timing=False):  # torch's name
        return FakeEvent(self.log, self.clock, enable_timing)

    def synchronize(self):
        self.log.append("device synchronize")


class FakeTorch:
    def __init__(self, cuda):
        self.cuda = cuda


@pytest.mark.parametrize("sleep", [True, False])
def test_cuda_event_timer_records_events_around_the_call(monkeypatch, sleep):
    cuda = FakeCuda(sleep)
    monkeypatch.setattr(bench, "_torch", lambda: FakeTorch(cuda))

    def fn():
        cuda.log.append("fn")
        cuda.clock[0] += 2.5  # the call takes 2.5 ms of device time

    assert bench.cuda_event_timer(fn) == pytest.approx(0.0025)
    expected = [("record", "stream"), "fn", ("record", "stream"), "synchronize"]
    assert cuda.log == ([("sleep", bench.SPIN_CYCLES)] if sleep else []) + expected
    cuda.log.clear()
    bench.cuda_event_timer(fn, spin_cycles=0)
    assert cuda.log == expected


class FakeVersion:
    def __init__(self, cuda):
        self.cuda = cuda


@pytest.mark.parametrize("cuda_version, available, reason", [
    (None, False, "torch 9.9 is a build without CUDA"),
    ("12.8", False, "no GPU: torch 9.9 (CUDA 12.8) finds no CUDA device"),
    ("12.8", True, ""),
])
def test_cuda_status_names_what_is_missing(monkeypatch, cuda_version, available, reason):
    torch = FakeTorch(type("Cuda", (), {"is_available": staticmethod(lambda: available)})())
    torch.__version__, torch.version = "9.9", FakeVersion(cuda_version)
    monkeypatch.setattr(bench, "_torch", lambda: torch)
    assert bench.cuda_status() == (bool(reason == ""), reason)


def test_without_torch_there_is_no_cuda_benchmark(monkeypatch):
    monkeypatch.setattr(bench, "_torch", lambda: None)
    ok, why = bench.cuda_status()
    assert not ok and why.startswith("torch is not installed")
    with pytest.raises(bench.CudaUnavailable, match="torch is not installed"):
        bench.cuda_methods("normal", "float32", 1024)


@pytest.mark.skipif(_torch_cuda_ready(), reason="torch finds a GPU here")
def test_without_a_gpu_cuda_methods_are_not_built_and_say_why():
    ok, why = bench.cuda_status()
    assert not ok and ("without CUDA" in why or "no GPU" in why)
    with pytest.raises(bench.CudaUnavailable) as exc:
        bench.cuda_methods("normal", "float32", 1024)
    assert str(exc.value) == why
    with pytest.raises(bench.CudaUnavailable, match=re.escape(why)):
        bench.run(sizes=(10,), device="cuda", quick=True)
    with pytest.raises(bench.CudaUnavailable):
        bench.environment("cuda")
    missing = bench.cuda_missing_methods()
    assert set(missing) == {*bench.CUDA_BACKENDS.values(), bench.TORCH, bench.CUPY, bench.WRITE}
    assert set(missing.values()) == {why}


def test_fastinit_cuda_methods_follow_backend_status(monkeypatch):
    status = {"cpu": (True, ""), "cupy": (True, ""),
              "numba_cuda": (False, "numba-cuda is not installed")}
    monkeypatch.setattr(bench.arrays, "backend_status", lambda: status)
    assert bench.fastinit_cuda_backends() == (
        {"cupy": "fastinit (cupy)"}, {"fastinit (numba.cuda)": "numba-cuda is not installed"})


def test_commit_comes_from_git_or_the_environment(monkeypatch):
    monkeypatch.delenv("FASTINIT_COMMIT", raising=False)
    commit = bench.environment()["commit"]
    assert commit == "unknown" or re.fullmatch(r"[0-9a-f]{4,40}", commit)
    monkeypatch.setenv("FASTINIT_COMMIT", "abc1234")
    assert bench.environment()["commit"] == "abc1234"


@pytest.mark.parametrize("device, short", [
    ("NVIDIA H100 80GB HBM3, 80 GiB", "h100"),
    ("NVIDIA H200, 140 GiB", "h200"),
    ("NVIDIA A100-SXM4-80GB, 79 GiB", "a100"),
    ("NVIDIA GeForce RTX 4090, 24 GiB", "rtx-4090"),
    ("AMD EPYC 7B13 64-Core Processor, 16 cores", "cpu"),
    ("AMD EPYC, 2 cores", "cpu"),
])
def test_short_device_names_name_results_files(device, short):
    assert bench.short_name(device) == short
    results = {"device": device, "date": "2026-11-23", "commit": "abc1234", "rows": []}
    assert bench.results_stem(results) == f"{short}-2026-11-23-abc1234"


def test_defaults_per_device():
    assert bench.default_sizes("cpu") == bench.SIZES
    assert bench.default_sizes("cuda") == (20, 22, 24, 26, 28, 30)
    assert max(bench.default_sizes("cuda", quick=True)) <= 22
    assert bench.default_dtypes("cuda") == ("float32", "bfloat16", "float16")
    with pytest.raises(ValueError, match="device must be one of"):
        bench.run(device="tpu")


class NumpyAsCupy:
    """numpy standing in for CuPy: the same Generator, ufunc and DLPack calls."""
    from_dlpack = staticmethod(np.from_dlpack)
    multiply = staticmethod(np.multiply)
    add = staticmethod(np.add)


@pytest.mark.parametrize("dtype, name", [("float32", "cupy.random"),
                                         ("bfloat16", "cupy.random (f32→bf16)"),
                                         ("float16", "cupy.random (f32→f16)")])
def test_cupy_method_draws_the_distribution_into_the_destination(monkeypatch, dtype, name):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(bench, "_cupy_rng", lambda: np.random.default_rng(0))
    dst = torch.zeros((64, 1024), dtype=getattr(torch, dtype))
    (method, fill), = bench._cupy_methods(NumpyAsCupy, Uniform(-3.0, 1.0), dst).items()
    assert method == name
    fill()
    values = dst.float()
    assert values.min() >= -3 and values.max() <= 1 and values.mean() == pytest.approx(-1, abs=0.05)
    (_, fill), = bench._cupy_methods(NumpyAsCupy, Normal(0.5, 2.0), dst).items()
    fill()
    assert dst.float().std() == pytest.approx(2.0, rel=0.05)
    assert dst.float().mean() == pytest.approx(0.5, abs=0.05)
    assert bench._cupy_methods(NumpyAsCupy, bench._drawn("trunc_normal_", (), dst), dst) == {}


@pytest.mark.parametrize("distribution, dtype, cupy_method", [
    ("uniform", "bfloat16", "cupy.random (f32→bf16)"),
    ("kaiming_normal", "float32", "cupy.random"),
    ("trunc_normal", "float16", None),
])
def test_cuda_methods_dry_run_on_cpu_tensors(monkeypatch, distribution, dtype, cupy_method):
    """cuda_methods as built on a GPU, with torch CPU tensors, numpy for CuPy and fastinit's
    CPU backend in place of a GPU one: every method is there and writes the destination."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(bench, "_CUDA_DEVICE", "cpu")
    monkeypatch.setattr(bench, "cuda_status", lambda: (True, ""))
    monkeypatch.setattr(bench, "fastinit_cuda_backends",
                        lambda: ({"cpu": "fastinit (cupy)"}, {"fastinit (numba.cuda)": "x"}))
    monkeypatch.setattr(bench, "_cupy", lambda: (NumpyAsCupy, ""))
    monkeypatch.setattr(bench, "_cupy_rng", lambda: np.random.default_rng(0))
    methods = bench.cuda_methods(distribution, dtype, 8192)
    expected = ["fastinit (cupy)", bench.TORCH, cupy_method, bench.WRITE]
    assert list(methods) == [m for m in expected if m is not None]
    dst = methods[bench.TORCH].args[0]
    assert dst.shape == (8, 1024) and dst.dtype == getattr(torch, dtype)
    for method, fill in methods.items():
        dst.fill_(float("nan"))
        fill()
        assert not bool(dst.isnan().any()), method  # every element written
    assert bool((dst == 1).all())  # the plain write, last


def test_cuda_run_loop_skips_what_does_not_fit_and_methods_that_fail(monkeypatch):
    """The CUDA run loop with the GPU faked: memory check, dropped methods, notes, rows."""
    cuda = FakeCuda()
    monkeypatch.setattr(bench, "_torch", lambda: FakeTorch(cuda))
    monkeypatch.setattr(bench, "cuda_status", lambda: (True, ""))
    monkeypatch.setattr(bench, "_release_cuda_memory", lambda: cuda.log.append("release"))
    monkeypatch.setattr(bench, "_cuda_free_bytes", lambda: 2**30)
    monkeypatch.setattr(bench, "_cupy", lambda: (None, "no CuPy"))
    built, method_of = [], {}

    def broken():
        raise RuntimeError("kernel failed to compile")

    def fake_methods(distribution, dtype, elements):
        built.append((distribution, dtype, elements))
        methods = {"fastinit (cupy)": lambda: None, "fastinit (numba.cuda)": broken,
                   bench.TORCH: lambda: None, bench.WRITE: lambda: None}
        method_of.update({fn: method for method, fn in methods.items()})
        return methods

    times = {"fastinit (cupy)": 0.002, bench.TORCH: 0.004, bench.WRITE: 0.001}
    monkeypatch.setattr(bench, "cuda_methods", fake_methods)
    monkeypatch.setattr(bench, "cuda_event_timer", lambda fn: times[method_of[fn]])
    notes, seen = [], []
    results = bench.run(sizes=(10, 28), distributions=("normal",), dtypes=("float32",),
                        device="cuda", env={"device": "GPU"}, on_note=notes.append,
                        on_case=seen.append, quick=True)
    # 2^28 float32 is 1 GiB + slack: more than the 1 GiB free
    assert built == [("normal", "float32", 1024)]
    assert notes[0] == ("normal float32 2^10: fastinit (numba.cuda) failed and is left out: "
                        "RuntimeError: kernel failed to compile")
    assert notes[1].startswith("normal float32 2^28 skipped: needs 1.2 GiB of GPU memory, "
                               "1.0 GiB free")
    rows = results["rows"]
    assert set(results) == {"device", "rows"} and seen == [rows]
    check_rows(rows)
    assert [r["method"] for r in rows] == ["fastinit (cupy)", bench.TORCH, bench.WRITE]
    assert rows[0]["x_torch"] == pytest.approx(2) and rows[0]["pct_of_write"] == pytest.approx(50)
    assert cuda.log.count("device synchronize") == 3  # each working method's checked first call
    assert cuda.log.count("release") == 3  # before each case and at the end


def _png_rows(device, methods, dtypes, sizes):
    rows = []
    for exponent in sizes:
        for dtype in dtypes:
            seconds = {m: 2**exponent / (i + 1) / 1e11 for i, m in enumerate(methods)}
            rows += bench.case_rows("normal", dtype, 2**exponent, seconds)
    return {"device": device, "date": "2026-11-23", "commit": "abc1234", "rows": rows}


def test_plot_writes_a_png_with_a_panel_per_device_distribution_and_dtype(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    cpu = _png_rows("AMD EPYC, 2 cores", [bench.FASTINIT, bench.TORCH, bench.WRITE],
                    ("float32",), (10, 12))
    gpu = _png_rows("NVIDIA H100 80GB HBM3, 80 GiB",
                    ["fastinit (cupy)", bench.TORCH, bench.CUPY, bench.WRITE],
                    ("float32", "bfloat16"), (20, 22, 24))
    path = tmp_path / "bench.png"
    assert bench.plot([cpu, gpu], path) == path
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000  # axes, lines and text, not a blank canvas
    image = imread(path)
    height, width = image.shape[:2]
    assert width >= 800 and height >= 600  # two columns, two rows of panels
    assert image[..., :3].std() > 0.05  # something drawn on the white
    one = tmp_path / "one.png"
    bench.plot(cpu, one)  # a single results dict too
    assert one.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- on a GPU ---

needs_gpu = pytest.mark.skipif(not _torch_cuda_ready(),
                               reason="needs torch with CUDA and a GPU "
                               f"({bench.cuda_status()[1] or 'found'})")


@needs_gpu
def test_cuda_quick_run_at_a_tiny_size_times_every_method():
    seen, notes = [], []
    results = bench.run(sizes=(12,), dtypes=("float32", "bfloat16"), quick=True, device="cuda",
                        on_case=seen.append, on_note=notes.append)
    assert set(results) == {"device", "date", "commit", "rows"}
    assert "GiB" in results["device"]
    rows = results["rows"]
    check_rows(rows)
    assert not notes, notes
    assert [r for case in seen for r in case] == rows
    assert {(r["distribution"], r["dtype"]) for r in rows} == {
        (d, t) for d in bench.DISTRIBUTIONS for t in ("float32", "bfloat16")}
    methods = {}
    for r in rows:
        methods.setdefault((r["distribution"], r["dtype"]), []).append(r["method"])
    missing = bench.cuda_missing_methods()
    fastinit_methods = [m for m in bench.CUDA_BACKENDS.values() if m not in missing]
    cupy = [] if bench.CUPY in missing else [bench.CUPY]
    assert methods["uniform", "float32"] == [*fastinit_methods, bench.TORCH, *cupy, bench.WRITE]
    assert methods["trunc_normal", "bfloat16"] == [*fastinit_methods, bench.TORCH, bench.WRITE]


@needs_gpu
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_each_cuda_method_writes_the_destination(dtype):
    torch = bench._torch()
    methods = bench.cuda_methods("normal", dtype, 4096)
    dst = methods[bench.TORCH].args[0]
    assert dst.is_cuda and dst.shape == (4, 1024)
    write = methods.pop(bench.WRITE)
    for method, fill in methods.items():
        dst.fill_(float("nan"))
        fill()
        torch.cuda.synchronize()
        assert not bool(dst.isnan().any()), method  # every element written
        assert abs(float(dst.float().std()) - 1) < 0.1, method
    write()
    torch.cuda.synchronize()
    assert bool((dst == 1).all())


def test_the_gpu_smoke_step_passes_or_says_why_it_cannot_run():
    """bench/gpu_smoke.py, the first minute of a GPU session: with a GPU backend, every
    fill matches the CPU (exit 0); without one, each backend's reason and exit 2."""
    script = Path(__file__).resolve().parents[1] / "bench" / "gpu_smoke.py"
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=600, check=False)
    status = arrays.backend_status()
    if any(status[name][0] for name in arrays.GPU_BACKENDS):
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
        assert re.search(r"^0 of \d+ fills failed$", run.stdout, re.M), run.stdout[-4000:]
    else:
        assert run.returncode == 2, run.stdout[-4000:] + run.stderr[-4000:]
        for name in arrays.GPU_BACKENDS:
            assert f"{name}: {status[name][1]}" in run.stdout
