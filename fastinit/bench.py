"""Benchmark: fastinit against ``torch.nn.init``, numpy or CuPy, and a plain write of the
same bytes, on the CPU or on a CUDA GPU.

Each case (distribution, dtype, elements) allocates one destination and times every
method on it in the same process, each as the best of a few repeats after one untimed
warm-up call (which also compiles fastinit's kernel on first use). Every figure is a
ratio measured in that run: to torch, and to the plain write, the memory-bandwidth
floor. Repeats go round-robin over the methods. ``best_times`` and ``case_rows`` know
nothing of the device: the CPU passes ``cpu_methods`` and ``wall_clock``, CUDA passes
``cuda_methods`` and ``cuda_event_timer`` (CUDA events around the call, device time).

A row is ``{method, distribution, dtype, elements, seconds, gbps, pct_of_write,
x_torch, x_library}`` (speedups over torch and over numpy or CuPy); ``run`` returns
``{device, date, commit, rows}`` for one device, and ``plot`` draws one or more of those.

``run_small`` times what a call costs where the fill itself is nothing: one
``fastinit.init`` call on a small torch CPU tensor (``SMALL_ELEMENTS``), with ``seed=``
and with torch's default generator, beside ``torch.nn.init``'s; a row is ``{function,
elements, method, seconds, x_torch}``, seconds per call.
"""

import datetime
import functools
import math
import os
import platform
import re
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numba
import numpy as np

from . import arrays, init
from .distributions import TruncatedNormal, Uniform
from .generator import Generator, numpy_dtype

# name: (the function of fastinit.init and torch.nn.init, its arguments after the tensor)
DISTRIBUTIONS = {
    "uniform": ("uniform_", (-1.0, 1.0)),
    "normal": ("normal_", ()),
    "trunc_normal": ("trunc_normal_", ()),  # std=1, a=-2, b=2: bounds at +-2 sigma
    "trunc_normal_timm": ("trunc_normal_", (0.0, 0.02)),  # timm's call, bounds at +-100 sigma
    "xavier_uniform": ("xavier_uniform_", ()),
    "kaiming_normal": ("kaiming_normal_", ()),
}
DTYPES = ("float32", "bfloat16", "float16", "float64")
DEFAULT_DTYPES = ("float32", "bfloat16")
SIZES = (20, 26)  # log2 of the element count
QUICK_SIZES = (16, 20)
CUDA_SIZES = (20, 22, 24, 26, 28, 30)
QUICK_CUDA_SIZES = (20, 22)
CUDA_DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("cpu", "cuda")

FASTINIT = "fastinit"
# The thread scaling's two rows: fastinit on every thread and on one, timed alone
# (``thread_times``).
ALL_THREADS, ONE_THREAD = "fastinit (all threads, alone)", "fastinit (1 thread, alone)"
TORCH, WRITE = "torch.nn.init", "plain write"
CUPY = "cupy.random"
CUDA_BACKENDS = {"cupy": "fastinit (cupy)", "numba_cuda": "fastinit (numba.cuda)"}
SPIN_CYCLES = 2_000_000  # GPU clock cycles queued before each timed call: about 1 ms
CUDA_SLACK_BYTES = 2**28  # room kept free beyond a case's own buffers
_CUDA_DEVICE = "cuda"  # where cuda_methods allocates (the tests' dry run uses "cpu")
ONE_THREAD_CASES = {("uniform", "float32"), ("normal", "float32")}  # at the largest size
SCIPY_MAX_ELEMENTS = 2**22  # scipy's truncnorm.rvs takes ~0.3 us per element
ROW_KEYS = ("method", "distribution", "dtype", "elements", "seconds", "gbps", "pct_of_write",
            "x_torch", "x_library")
# The other library a case compares with: numpy's generator (or scipy) on the CPU, CuPy's
# on CUDA; its method names start with one of these.
LIBRARY_PREFIXES = ("numpy", "scipy", CUPY)
_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}
# Small tensors: one call of each function on a float32 (n^0.5, n^0.5) CPU tensor.
SMALL_FUNCTIONS = ("normal_", "uniform_", "kaiming_uniform_")
SMALL_ELEMENTS = (64, 1024, 4096)
SMALL_CALLS = 100  # calls per timed batch
SEEDED, TORCH_KEYED = "fastinit (seed=)", "fastinit (torch's generator)"
SMALL_ROW_KEYS = ("function", "elements", "method", "seconds", "x_torch")


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


def cuda_event_timer(fn, spin_cycles=SPIN_CYCLES):
    """Seconds of device time one call of ``fn`` takes on the current CUDA stream: CUDA
    events recorded before and after it, then synchronized. The events are queued behind
    a GPU spin of ``spin_cycles`` clock cycles (``torch.cuda._sleep``, about 1 ms), so
    the host has queued the call's kernels before the GPU reaches the start event and
    host-side launch overhead is not counted; ``spin_cycles=0`` times record, call,
    record as they come."""
    torch = _torch()
    cuda_stream = torch.cuda.current_stream()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    if spin_cycles and hasattr(torch.cuda, "_sleep"):
        torch.cuda._sleep(spin_cycles)
    start.record(cuda_stream)
    fn()
    end.record(cuda_stream)
    end.synchronize()
    return start.elapsed_time(end) / 1e3  # elapsed_time is in milliseconds


def best_times(methods, time_once, budget_s, max_repeats):
    """Best of repeats for each of ``methods`` (name -> fn), after one untimed warm-up
    call each. Repeats go round-robin over the methods, so a slow spell of a shared
    machine hits every method alike; each method repeats while its total stays under
    ``budget_s``, at most ``max_repeats`` times. ``time_once(fn)`` -> seconds."""
    for fn in methods.values():
        time_once(fn)
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


def thread_times(fill, budget_s, max_repeats):
    """Best seconds of ``fill`` on every Numba thread and on one (``ALL_THREADS``,
    ``ONE_THREAD``), in a round robin of their own after the case's other methods: no
    other library's calls run between them. torch's parallel calls leave its OpenMP
    threads holding part of a core for a while after they return, which a fill timed
    right after one of them pays for."""
    return best_times({ALL_THREADS: fill, ONE_THREAD: _one_thread(fill)}, wall_clock,
                      budget_s, max_repeats)


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


def cpu_methods(distribution, dtype, elements):
    """``{method: fill()}`` for one case, every method writing the same new destination:
    a torch CPU tensor of shape (elements // 1024, 1024) (or (1, elements)), or a numpy
    array when torch is not installed."""
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
    if torch is not None:
        methods[TORCH] = partial(getattr(torch.nn.init, name), dst, *args)
    methods.update(_numpy_methods(_drawn(name, args, dst), arr))
    methods[WRITE] = partial(dst.fill_, 1.0) if torch is not None else partial(arr.fill, 1)
    return methods


def is_truncated(distribution):
    """Whether ``distribution`` (a key of DISTRIBUTIONS) is a truncated normal."""
    return DISTRIBUTIONS[distribution][0] == "trunc_normal_"


def small_methods(function, elements):
    """``{method: one call}`` for one small case: ``fastinit.init.<function>`` with
    ``seed=0`` and with torch's default generator (no seed), and ``torch.nn.init``'s,
    all on one float32 CPU tensor of ``elements`` (a square). Needs torch."""
    torch = _torch()
    side = math.isqrt(elements)
    dst = torch.empty(elements // side, side)
    ours, theirs = getattr(init, function), getattr(torch.nn.init, function)
    return {SEEDED: partial(ours, dst, seed=0), TORCH_KEYED: partial(ours, dst),
            TORCH: partial(theirs, dst)}


def _calls(fn, count):
    def run():
        for _ in range(count):
            fn()

    return run


def run_small(quick=False, on_case=None):
    """Seconds per call of every small case (``SMALL_FUNCTIONS`` x ``SMALL_ELEMENTS``)
    and method (``small_methods``): the best of round-robin repeats of ``SMALL_CALLS``
    calls, divided by that count. ``on_case(rows)`` sees each function's rows as they
    end. Returns the rows ``{function, elements, method, seconds, x_torch}``, or []
    without torch."""
    if _torch() is None:
        return []
    budget_s, max_repeats = (0.01, 5) if quick else (0.1, 50)
    rows = []
    for function in SMALL_FUNCTIONS:
        case = []
        for elements in SMALL_ELEMENTS:
            batches = {method: _calls(fn, SMALL_CALLS)
                       for method, fn in small_methods(function, elements).items()}
            seconds = {method: s / SMALL_CALLS for method, s in
                       best_times(batches, wall_clock, budget_s, max_repeats).items()}
            case += [dict(zip(SMALL_ROW_KEYS, (function, elements, method, s,
                                               seconds[TORCH] / s)))
                     for method, s in seconds.items()]
        rows += case
        if on_case is not None:
            on_case(case)
    return rows


def nbytes(dtype, elements):
    return elements * numpy_dtype(dtype).itemsize


class CudaUnavailable(RuntimeError):
    """The CUDA benchmark cannot run here; the message says what is missing."""


def cuda_status():
    """``(True, "")`` when torch can fill CUDA tensors here, else ``(False, what is
    missing)``: torch itself, a CUDA build of torch, or a GPU."""
    torch = _torch()
    if torch is None:
        return False, "torch is not installed (the CUDA benchmark fills torch CUDA tensors)"
    if getattr(torch.version, "cuda", None) is None:
        return False, f"torch {torch.__version__} is a build without CUDA"
    if not torch.cuda.is_available():
        return False, (f"no GPU: torch {torch.__version__} (CUDA {torch.version.cuda}) "
                       "finds no CUDA device")
    return True, ""


def fastinit_cuda_backends():
    """``({backend: method}, {method: why not})`` for fastinit's GPU backends, from
    ``fastinit.arrays.backend_status()``."""
    status = arrays.backend_status()
    usable, missing = {}, {}
    for backend, method in CUDA_BACKENDS.items():
        ok, why = status[backend]
        if ok:
            usable[backend] = method
        else:
            missing[method] = why
    return usable, missing


def _cupy():
    """``(cupy, "")``, or ``(None, why not)``."""
    try:
        import cupy
    except ImportError as exc:
        return None, f"CuPy is not installed ({exc})"
    except Exception as exc:  # noqa: BLE001 - e.g. a CUDA library CuPy cannot load
        return None, f"CuPy fails to import: {type(exc).__name__}: {exc}"
    return cupy, ""


def cuda_missing_methods():
    """``{method: why it is not run}`` for the CUDA methods that cannot run here."""
    ok, why = cuda_status()
    if not ok:
        return {m: why for m in (*CUDA_BACKENDS.values(), TORCH, CUPY, WRITE)}
    missing = fastinit_cuda_backends()[1]
    if _cupy()[0] is None:
        missing[CUPY] = _cupy()[1]
    return missing


@functools.cache
def _cupy_rng():
    import cupy

    return cupy.random.default_rng(0)  # XORWOW states, made once per process


def _cupy_methods(cupy, dist, dst):
    """CuPy's Generator (``cupy.random.default_rng``) drawing ``dist`` into the memory of
    the torch CUDA tensor ``dst``: float32/float64 directly through a zero-copy DLPack
    view, 16-bit dtypes into a float32 buffer then cast by torch, as the numpy method
    does on the CPU. CuPy has no truncated normal: none then."""
    if isinstance(dist, TruncatedNormal):
        return {}
    torch = _torch()
    dtype = str(dst.dtype).removeprefix("torch.")
    native = dtype in ("float32", "float64")
    buf_t = dst if native else torch.empty(dst.shape, dtype=torch.float32, device=dst.device)
    buf = cupy.from_dlpack(buf_t)
    rng = _cupy_rng()
    if isinstance(dist, Uniform):
        draw, scale, shift = rng.random, dist.high - dist.low, dist.low
    else:
        draw, scale, shift = rng.standard_normal, dist.std, dist.mean

    def cupy_fill():
        draw(size=buf.shape, dtype=buf.dtype, out=buf)  # random(out=) needs size=out.shape
        if scale != 1:
            cupy.multiply(buf, scale, out=buf)
        if shift != 0:
            cupy.add(buf, shift, out=buf)
        if not native:
            dst.copy_(buf_t)

    return {CUPY if native else f"{CUPY} (f32→{_SHORT[dtype]})": cupy_fill}


def cuda_methods(distribution, dtype, elements):
    """``{method: fill()}`` for one case on the current CUDA device, every method writing
    the same new torch CUDA tensor of shape (elements // 1024, 1024) (or (1, elements)):
    fastinit through each GPU backend available, ``torch.nn.init``, CuPy's generator
    (if CuPy is installed) and ``tensor.fill_(1.0)``. Raises ``CudaUnavailable`` without
    a CUDA build of torch and a GPU; ``cuda_missing_methods()`` says what else is left out.
    Calls launch asynchronously on the current stream: time them with a timer that
    synchronizes (``cuda_event_timer``)."""
    ok, why = cuda_status()
    if not ok:
        raise CudaUnavailable(why)
    torch = _torch()
    cols = min(elements, 1024)
    dst = torch.empty((elements // cols, cols), dtype=getattr(torch, dtype), device=_CUDA_DEVICE)
    name, args = DISTRIBUTIONS[distribution]
    methods = {method: partial(getattr(init, name), dst, *args, seed=0, backend=backend)
               for backend, method in fastinit_cuda_backends()[0].items()}
    methods[TORCH] = partial(getattr(torch.nn.init, name), dst, *args)
    cupy = _cupy()[0]
    if cupy is not None:
        try:
            methods.update(_cupy_methods(cupy, _drawn(name, args, dst), dst))
        except Exception as exc:  # noqa: BLE001 - reported when the method is first called
            methods[CUPY] = partial(_raise, exc)
    methods[WRITE] = partial(dst.fill_, 1.0)
    return methods


def _raise(exc):
    raise exc


def _cuda_case_bytes(distribution, dtype, elements):
    """Device memory one CUDA case needs: the destination, and for CuPy a float32 buffer
    (16-bit dtypes) and the float32 temporary its ``random(out=)`` allocates, plus slack."""
    extra = 0
    if _cupy()[0] is not None and not is_truncated(distribution):
        extra = 8 * elements
    return nbytes(dtype, elements) + extra + CUDA_SLACK_BYTES


def _cuda_free_bytes():
    return _torch().cuda.mem_get_info()[0]


def _release_cuda_memory():
    """Hand cached blocks back to the driver: torch's and CuPy's (if it was imported)."""
    _torch().cuda.empty_cache()
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        cupy.get_default_memory_pool().free_all_blocks()


def _working(methods, synchronize, on_note):
    """``methods`` less those whose first call (synchronized) raises; each dropped one is
    reported through ``on_note``. This call is the first warm-up: it compiles kernels."""
    working = {}
    for method, fn in methods.items():
        try:
            fn()
            synchronize()
        except Exception as exc:  # noqa: BLE001 - one broken method must not end the run
            on_note(f"{method} failed and is left out: {type(exc).__name__}: {exc}")
        else:
            working[method] = fn
    return working


def case_rows(distribution, dtype, elements, seconds, baseline=TORCH):
    """Rows for one case from ``seconds`` (method -> best seconds), which must hold
    ``WRITE``; x_torch is the speedup over ``baseline`` (torch's method), x_library over
    the case's numpy, scipy or CuPy method (``LIBRARY_PREFIXES``), each null without it."""
    size = nbytes(dtype, elements)
    write, torch_s = seconds[WRITE], seconds.get(baseline)
    library_s = next((t for m, t in seconds.items() if m.startswith(LIBRARY_PREFIXES)), None)
    return [
        dict(zip(ROW_KEYS, (method, distribution, dtype, elements, s, size / s / 1e9,
                            write / s * 100, None if torch_s is None else torch_s / s,
                            None if library_s is None else library_s / s)))
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
    """The checkout's short commit; ``$FASTINIT_COMMIT`` where set (a copy of the tree
    without its git history, as on a borrowed GPU machine)."""
    if os.environ.get("FASTINIT_COMMIT"):
        return os.environ["FASTINIT_COMMIT"]
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=Path(__file__).parent, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _cuda_name():
    torch = _torch()
    index = torch.cuda.current_device()
    memory = torch.cuda.get_device_properties(index).total_memory
    return f"{torch.cuda.get_device_name(index)}, {memory / 2**30:.0f} GiB"


def environment(device="cpu"):
    """``{device, date, commit}`` of this run; ``device`` is "cpu" (the CPU's name and
    cores) or "cuda" (the current GPU's name and memory)."""
    if device == "cuda":
        ok, why = cuda_status()
        if not ok:
            raise CudaUnavailable(why)
        name = _cuda_name()
    elif device == "cpu":
        name = f"{_cpu_name()}, {os.cpu_count()} cores"
    else:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    return {"device": name, "date": datetime.date.today().isoformat(), "commit": _commit()}


_VENDOR_WORDS = {"nvidia", "tesla", "geforce", "quadro", "amd", "radeon", "instinct"}


def short_name(device):
    """A short file-name tag for a results' ``device``: "cpu" for a CPU ("..., N cores"),
    else the GPU's model ("NVIDIA H100 80GB HBM3, 80 GiB" -> "h100")."""
    if re.search(r", \d+ cores$", device):
        return "cpu"
    words = [w for w in re.split(r"[^a-z0-9]+", device.split(",")[0].lower())
             if w and w not in _VENDOR_WORDS]
    for i, word in enumerate(words):
        if any(c.isdigit() for c in word):
            return "-".join(words[:i + 1])
    return "-".join(words) or "gpu"


def results_stem(results):
    """``<short device name>-<date>-<commit>``: how bench/results/ names a run's files."""
    return f"{short_name(results['device'])}-{results['date']}-{results['commit']}"


def default_sizes(device="cpu", quick=False):
    if device == "cuda":
        return QUICK_CUDA_SIZES if quick else CUDA_SIZES
    return QUICK_SIZES if quick else SIZES


def default_dtypes(device="cpu"):
    return CUDA_DTYPES if device == "cuda" else DEFAULT_DTYPES


def run(sizes=None, distributions=tuple(DISTRIBUTIONS), dtypes=None, quick=False,
        on_case=None, env=None, device="cpu", on_note=None):
    """Benchmark every (size, dtype, distribution) on ``device``: "cpu" (every core for
    fastinit and torch) or "cuda" (the current GPU). ``sizes`` are log2 element counts
    (default ``default_sizes(device, quick)``), ``dtypes`` default to
    ``default_dtypes(device)``. ``on_case(rows)`` sees each case as it ends, ``on_note(text)``
    each case or method left out (CUDA). Returns ``{device, date, commit, rows}`` (``env``
    if given, else ``environment(device)``)."""
    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    sizes = default_sizes(device, quick) if sizes is None else sizes
    dtypes = default_dtypes(device) if dtypes is None else dtypes
    if device == "cuda":
        return _run_cuda(sizes, distributions, dtypes, quick, on_case, env, on_note)
    budget_s, max_repeats = (0.05, 5) if quick else (0.3, 50)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(os.cpu_count())
    rows = []
    for exponent in sizes:
        for dtype in dtypes:
            for distribution in distributions:
                methods = cpu_methods(distribution, dtype, 2**exponent)
                seconds = best_times(methods, wall_clock, budget_s, max_repeats)
                if exponent == max(sizes) and (distribution, dtype) in ONE_THREAD_CASES:
                    seconds.update(thread_times(methods[FASTINIT], budget_s, max_repeats))
                case = case_rows(distribution, dtype, 2**exponent, seconds)
                rows += case
                if on_case is not None:
                    on_case(case)
    return {**(env if env is not None else environment()), "rows": rows}


def _gib(size):
    return f"{size / 2**30:.1f} GiB"


def _run_cuda(sizes, distributions, dtypes, quick, on_case, env, on_note):
    ok, why = cuda_status()
    if not ok:
        raise CudaUnavailable(why)
    if env is None:
        env = environment("cuda")
    note = on_note or (lambda text: None)
    budget_s, max_repeats = (0.02, 5) if quick else (0.2, 30)
    rows = []
    for exponent in sizes:
        for dtype in dtypes:
            for distribution in distributions:
                seconds = _cuda_case(distribution, dtype, exponent, budget_s, max_repeats, note)
                if seconds is not None:
                    case = case_rows(distribution, dtype, 2**exponent, seconds)
                    rows += case
                    if on_case is not None:
                        on_case(case)
    _release_cuda_memory()
    return {**env, "rows": rows}


def _cuda_case(distribution, dtype, exponent, budget_s, max_repeats, note):
    """Best seconds of each working CUDA method for one case, or None (with a note) when
    the case does not fit in free GPU memory. The destination and buffers live only
    here: cached memory goes back to the driver before the next case."""
    elements, case = 2**exponent, f"{distribution} {dtype} 2^{exponent}"
    _release_cuda_memory()
    need, free = _cuda_case_bytes(distribution, dtype, elements), _cuda_free_bytes()
    if need > free:
        note(f"{case} skipped: needs {_gib(need)} of GPU memory, {_gib(free)} free")
        return None
    methods = _working(cuda_methods(distribution, dtype, elements),
                       _torch().cuda.synchronize, lambda text: note(f"{case}: {text}"))
    if WRITE not in methods:
        note(f"{case} skipped: no plain write to compare with")
        return None
    return best_times(methods, cuda_event_timer, budget_s, max_repeats)


def _device_title(results):
    short = short_name(results["device"])
    return "CPU" if short == "cpu" else short.upper()


def plot(results, path):
    """A PNG at ``path`` of one or more results (``{device, date, commit, rows}``; one
    dict or a list): GB/s against elements (log2 axis), one line per method, the plain
    write dashed as the ceiling; one panel per (device, distribution, dtype), a row of
    dtypes per distribution, devices one below the other. Needs matplotlib (drawn with
    its Agg canvas; pyplot's global state is left alone)."""
    from matplotlib.figure import Figure

    results = [results] if isinstance(results, dict) else list(results)
    grid = [_panel_grid(res) for res in results]
    rows = [(title, distribution, dtypes, cases)
            for title, distributions, dtypes, cases in grid for distribution in distributions]
    ncols = max([len(dtypes) for _, _, dtypes, _ in grid] + [1])
    fig = Figure(figsize=(4.2 * ncols, 3.0 * max(len(rows), 1) + 1.2), dpi=100,
                 layout="constrained")
    axes = fig.subplots(max(len(rows), 1), ncols, squeeze=False)
    methods = list(dict.fromkeys(r["method"] for res in results for r in res["rows"]
                                 if r["method"] != WRITE))
    colors = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    handles = {}  # legend label -> its first line
    for row_axes, (title, distribution, dtypes, cases) in zip(axes, rows):
        for col, ax in enumerate(row_axes):
            dtype = dtypes[col] if col < len(dtypes) else None
            case = cases.get((distribution, dtype))
            if case:
                _plot_case(ax, f"{title}: {distribution} {dtype}", case, colors, handles)
            else:
                ax.set_axis_off()
    for row_axes in axes[len(rows):]:
        for ax in row_axes:
            ax.set_axis_off()
    fig.suptitle("\n".join(f"fastinit bench: {res['device']}, {res['date']}, commit "
                           f"{res['commit']}" for res in results), fontsize=11)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), 4), fontsize=9)
    fig.savefig(path, format="png")
    return path


def _panel_grid(results):
    """(device title, distributions, dtypes, {(distribution, dtype): rows}) of one
    device's results, distributions and dtypes in the order they first appear."""
    cases = {}
    for row in results["rows"]:
        cases.setdefault((row["distribution"], row["dtype"]), []).append(row)
    distributions = list(dict.fromkeys(d for d, _ in cases))
    dtypes = list(dict.fromkeys(t for _, t in cases))
    return _device_title(results), distributions, dtypes, cases


def _plot_case(ax, title, case, colors, handles):
    """One panel: GB/s against elements of each method of ``case`` (rows of one
    device, distribution and dtype), the plain write dashed; each new legend label's
    line added to ``handles``."""
    lines = {}
    for r in case:
        lines.setdefault(r["method"], []).append((r["elements"], r["gbps"]))
    for method, points in lines.items():
        x, y = zip(*sorted(points))
        if method == WRITE:
            (line,) = ax.plot(x, y, "--", color="black", linewidth=1.5,
                              label="plain write (ceiling)")
        else:
            (line,) = ax.plot(x, y, marker="o", markersize=3.5, color=colors[method],
                              label=method)
        handles.setdefault(line.get_label(), line)
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("elements", fontsize=8)
    ax.set_ylabel("GB/s", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
