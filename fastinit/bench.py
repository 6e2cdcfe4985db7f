"""Benchmark: fastinit against ``torch.nn.init``, numpy and a plain write of the same bytes.

Each case (distribution, dtype, elements) allocates one destination and times every
method on it in the same process, each as the best of a few repeats after one untimed
warm-up call (which also compiles fastinit's kernel on first use). Every figure is a
ratio measured in that run: to torch, and to the plain write, the memory-bandwidth
floor. Repeats go round-robin over the methods. ``best_times`` and ``case_rows`` know
nothing of the device; a GPU benchmark passes its own methods and a timer that
synchronizes.

A row is ``{method, distribution, dtype, elements, seconds, gbps, pct_of_write,
x_torch}``; ``run`` returns ``{device, date, commit, rows}``.
"""

import datetime
import os
import platform
import subprocess
import time
from functools import partial
from pathlib import Path

import numba
import numpy as np

from . import init
from .distributions import TruncatedNormal, Uniform
from .generator import Generator, numpy_dtype

# name: (the function of fastinit.init and torch.nn.init, its arguments after the tensor)
DISTRIBUTIONS = {
    "uniform": ("uniform_", (-1.0, 1.0)),
    "normal": ("normal_", ()),
    "trunc_normal": ("trunc_normal_", ()),
    "xavier_uniform": ("xavier_uniform_", ()),
    "kaiming_normal": ("kaiming_normal_", ()),
}
DTYPES = ("float32", "bfloat16", "float16", "float64")
DEFAULT_DTYPES = ("float32", "bfloat16")
SIZES = (20, 26)  # log2 of the element count
QUICK_SIZES = (16, 20)

FASTINIT, ONE_THREAD = "fastinit", "fastinit (1 thread)"
TORCH, WRITE = "torch.nn.init", "plain write"
ONE_THREAD_CASES = {("uniform", "float32"), ("normal", "float32")}  # at the largest size
SCIPY_MAX_ELEMENTS = 2**22  # scipy's truncnorm.rvs takes ~0.3 us per element
ROW_KEYS = ("method", "distribution", "dtype", "elements", "seconds", "gbps", "pct_of_write",
            "x_torch")
_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def wall_clock(fn):
    """Seconds one call of ``fn`` takes on the host clock (a CPU timer)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_times(methods, time_once, budget_s, max_repeats):
    """Best of repeats for each of ``methods`` (name -> fn), after one untimed warm-up
    call each. Repeats go round-robin over the methods, so a slow spell of a shared
    machine hits every method alike; each method repeats while its total stays under
    ``budget_s``, at most ``max_repeats`` times. ``time_once(fn)`` -> seconds."""
    for fn in methods.values():
        fn()
    times = {name: [] for name in methods}
    running = list(methods)
    while running:
        for name in list(running):
            times[name].append(time_once(methods[name]))
            if len(times[name]) >= max_repeats or sum(times[name]) > budget_s:
                running.remove(name)
    return {name: min(t) for name, t in times.items()}


def _one_thread(fn):
    def run():
        numba.set_num_threads(1)
        try:
            fn()
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    return run


def _drawn(name, args, dst):
    """The distribution ``fastinit.init.<name>(dst, *args)`` draws (numpy draws the same)."""

    class Recorder(Generator):
        def fill(self, out, dist, **_):
            self.dist = dist

    recorder = Recorder()
    getattr(init, name)(dst, *args, generator=recorder)
    return recorder.dist


def _numpy_methods(dist, arr):
    """numpy's PCG64 drawing ``dist`` into ``arr``: float32/float64 directly, 16-bit dtypes
    as float32 then converted; truncated normal through scipy, if installed (float64)."""
    rng = np.random.default_rng(0)
    dtype = arr.dtype.name
    if isinstance(dist, TruncatedNormal):
        try:
            from scipy.stats import truncnorm
        except ImportError:
            return {}
        if arr.size > SCIPY_MAX_ELEMENTS:
            return {}
        lo, hi = (dist.a - dist.mean) / dist.std, (dist.b - dist.mean) / dist.std

        def scipy_fill():
            arr[...] = truncnorm.rvs(lo, hi, loc=dist.mean, scale=dist.std, size=arr.shape,
                                     random_state=rng)

        via = "" if dtype == "float64" else f" (f64→{_SHORT[dtype]})"
        return {f"scipy truncnorm{via}": scipy_fill}

    native = dtype in ("float32", "float64")
    buf = arr if native else np.empty(arr.shape, np.float32)
    if isinstance(dist, Uniform):
        draw, scale, shift = rng.random, dist.high - dist.low, dist.low
    else:
        draw, scale, shift = rng.standard_normal, dist.std, dist.mean

    def numpy_fill():
        draw(out=buf, dtype=buf.dtype)
        if scale != 1:
            np.multiply(buf, scale, out=buf)
        if shift != 0:
            np.add(buf, shift, out=buf)
        if not native:
            arr[...] = buf

    return {"numpy" if native else f"numpy (f32→{_SHORT[dtype]})": numpy_fill}


def cpu_methods(distribution, dtype, elements, one_thread=False):
    """``{method: fill()}`` for one case, every method writing the same new destination:
    a torch CPU tensor of shape (elements // 1024, 1024) (or (1, elements)), or a numpy
    array when torch is not installed. ``one_thread`` adds fastinit on one thread."""
    torch = _torch()
    cols = min(elements, 1024)
    shape = (elements // cols, cols)
    if torch is not None:
        dst = torch.empty(shape, dtype=getattr(torch, dtype))
        arr = (dst.view(torch.int16).numpy().view(numpy_dtype(dtype)) if dtype == "bfloat16"
               else dst.numpy())
    else:
        dst = arr = np.empty(shape, numpy_dtype(dtype))
    name, args = DISTRIBUTIONS[distribution]
    methods = {FASTINIT: partial(getattr(init, name), dst, *args, seed=0)}
    if one_thread:
        methods[ONE_THREAD] = _one_thread(methods[FASTINIT])
    if torch is not None:
        methods[TORCH] = partial(getattr(torch.nn.init, name), dst, *args)
    methods.update(_numpy_methods(_drawn(name, args, dst), arr))
    methods[WRITE] = partial(dst.fill_, 1.0) if torch is not None else partial(arr.fill, 1)
    return methods


def nbytes(dtype, elements):
    return elements * numpy_dtype(dtype).itemsize


def case_rows(distribution, dtype, elements, seconds):
    """Rows for one case from ``seconds`` (method -> best seconds), which must hold
    ``WRITE``, and ``TORCH`` for x_torch (else null)."""
    size = nbytes(dtype, elements)
    write, torch_s = seconds[WRITE], seconds.get(TORCH)
    return [
        dict(zip(ROW_KEYS, (method, distribution, dtype, elements, s, size / s / 1e9,
                            write / s * 100, None if torch_s is None else torch_s / s)))
        for method, s in seconds.items()
    ]


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def environment():
    """``{device, date, commit}`` of this run."""
    return {"device": f"{_cpu_name()}, {os.cpu_count()} cores",
            "date": datetime.date.today().isoformat(), "commit": _commit()}


def run(sizes=SIZES, distributions=tuple(DISTRIBUTIONS), dtypes=DEFAULT_DTYPES, quick=False,
        on_case=None, env=None):
    """Benchmark every (size, dtype, distribution) on the CPU, every core for fastinit and
    torch; ``sizes`` are log2 element counts. ``on_case(rows)`` sees each case as it ends.
    Returns ``{device, date, commit, rows}`` (``env`` if given, else ``environment()``)."""
    budget_s, max_repeats = (0.05, 5) if quick else (0.3, 50)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
    rows = []
    for exponent in sizes:
        for dtype in dtypes:
            for distribution in distributions:
                one_thread = exponent == max(sizes) and (distribution, dtype) in ONE_THREAD_CASES
                methods = cpu_methods(distribution, dtype, 2**exponent, one_thread)
                seconds = best_times(methods, wall_clock, budget_s, max_repeats)
                case = case_rows(distribution, dtype, 2**exponent, seconds)
                rows += case
                if on_case is not None:
                    on_case(case)
    return {**(env or environment()), "rows": rows}
