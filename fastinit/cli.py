"""The ``fastinit`` command.

* ``fastinit bench [--device cpu|cuda|all] [--quick] [--sizes 20,26] [--json PATH]
  [--plot PATH]`` times fastinit (``fastinit.bench``).
* ``fastinit info [--json]``: versions, backends, devices, plain-write bandwidth.
* ``fastinit bench --cold [--json PATH]`` times first calls in fresh processes, with an
  empty and a warm Numba cache (``fastinit.coldstart``).
* ``fastinit warmup [--dtypes ...] [--rules ...]`` compiles the CPU kernels into Numba's
  disk cache (``fastinit.warmup``).
* ``fastinit stream --seed S [--stream K] [--count N] [--offset BLOCK]`` writes the raw
  words of a stream to stdout, for test batteries.
"""

import argparse
import json
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from . import __version__, arrays, bench, warmup
from .distributions import Raw
from .generator import Generator

_MODEL_CONFIGS = ("gpt2-tiny", "gpt2", "gpt2-xl")  # fastinit.torch.bench.CONFIGS, without torch
_LIBRARY = {"cpu": "x numpy", "cuda": "x cupy"}  # the column of x_library, per device
STREAM_CHUNK_WORDS = 1 << 20  # words per write of `fastinit stream`: 4 MiB
WRITE_PROBE_LOG2 = 26  # `fastinit info` times a plain write of 2^26 float32 (256 MiB)


def _csv(item):
    """argparse type: a comma-separated list of ``item(text)``."""
    return lambda text: tuple(item(part) for part in text.split(","))


def _one_of(names):
    def item(text):
        if text not in names:
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(names)}")
        return text

    return item


def _log2(text):
    if not (text.isdigit() and int(text) <= 40):
        raise argparse.ArgumentTypeError(f"{text!r} is not a log2 size from 0 to 40")
    return int(text)


def _integer(text):
    """``text`` as an integer (decimal, or 0x/0o/0b-prefixed), or None."""
    for base in (10, 0):
        try:
            return int(text, base)
        except ValueError:
            pass
    return None


def _u64(text):
    """argparse type: an integer in [0, 2**64)."""
    value = _integer(text)
    if value is None or not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer in [0, 2**64)")
    return value


def _count(text):
    """argparse type: a number of words, an integer >= 0."""
    value = _integer(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of words (>= 0)")
    return value


def _out_path(text):
    """argparse type: a file to write (its directory must exist) or an existing directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path (give a file or a directory)")
    path = Path(text)
    if not (path.is_dir() or path.parent.is_dir()):
        raise argparse.ArgumentTypeError(f"no directory {path.parent} to write {path.name} in")
    directory = path if path.is_dir() else path.parent
    if not os.access(directory, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {directory} (no permission)")
    if path.exists() and not path.is_dir() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot overwrite {path} (no permission)")
    return path


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastinit", description="Neural-network parameter initialization at the speed "
        "of memory: a Philox4x32-10 stream filling arrays and tensors in place.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    _add_bench(commands)
    _add_warmup(commands)
    _add_info(commands)
    _add_stream(commands)
    return parser


def _add_bench(commands):
    b = commands.add_parser(
        "bench", help="time fastinit against torch.nn.init, numpy/CuPy and a plain write",
        description="Time fastinit, torch.nn.init, numpy (CPU) or CuPy (CUDA) and a plain "
        "write of the same bytes on one destination per case; print a table, optionally "
        "write JSON and a PNG plot.")
    b.add_argument("--device", choices=("cpu", "cuda", "all"), default="all",
                   help="where to benchmark (default all: the CPU, and the GPU when torch "
                   "has CUDA and finds one)")
    b.add_argument("--quick", action="store_true",
                   help=f"fewer repeats, at sizes {_sizes(bench.QUICK_SIZES)} on the CPU, "
                   f"{_sizes(bench.QUICK_CUDA_SIZES)} on CUDA: seconds after compilation")
    b.add_argument("--sizes", type=_csv(_log2), metavar="LOG2,...",
                   help=f"log2 of the element counts (default {_csv_text(bench.SIZES)} on "
                   f"the CPU, {_csv_text(bench.CUDA_SIZES)} on CUDA)")
    b.add_argument("--distributions", type=_csv(_one_of(bench.DISTRIBUTIONS)),
                   default=tuple(bench.DISTRIBUTIONS), metavar="NAME,...",
                   help=f"from {', '.join(bench.DISTRIBUTIONS)} (default all)")
    b.add_argument("--dtypes", type=_csv(_one_of(bench.DTYPES)), metavar="DTYPE,...",
                   help=f"from {', '.join(bench.DTYPES)} (default "
                   f"{_csv_text(bench.DEFAULT_DTYPES)} on the CPU, "
                   f"{_csv_text(bench.CUDA_DTYPES)} on CUDA)")
    b.add_argument("--json", type=_out_path, metavar="PATH",
                   help="also write the results here: {device, date, commit, rows} for one "
                   "device; with two, one file each, PATH's name + -cpu / -<gpu> (an existing "
                   "directory: <device>-<date>-<commit>.json in it)")
    b.add_argument("--plot", type=_out_path, metavar="PATH",
                   help="also draw GB/s against size to this PNG (needs matplotlib; an "
                   "existing directory: <device>-<date>-<commit>.png in it)")
    b.add_argument("--model", choices=(*_MODEL_CONFIGS, "none"), metavar="CONFIG",
                   help="the whole-model case: a GPT-2-shaped model built on meta, "
                   "materialized by fastinit against to_empty + reset_parameters and a "
                   f"transformers-style _init_weights loop; one of {', '.join(_MODEL_CONFIGS)} "
                   "or none (default gpt2 on the CPU, gpt2-xl on CUDA, gpt2-tiny with "
                   "--quick; needs torch)")
    b.add_argument("--cold", action="store_true",
                   help="time first calls instead: each case in a fresh process, with an "
                   "empty Numba cache and again with the one it left, beside torch's first "
                   "call (the CPU; --json as above, the other flags do not apply)")
    b.set_defaults(run=_bench)


def _add_warmup(commands):
    warm = commands.add_parser(
        "warmup", help="compile the kernels ahead of use: the CPU's into Numba's disk "
        "cache, with --cuda-arch the CuPy backend's into CuPy's",
        description="Compile every CPU kernel specialization (each rule and dtype; "
        "or those of --dtypes and --rules) into Numba's disk cache, so that no first call "
        "waits for the compiler: run it where the kernels will run, e.g. as a `RUN "
        "fastinit warmup` layer of a container image or a step at the start of a CI job "
        "(the cache is valid for this CPU model and these fastinit sources only). "
        "NUMBA_CACHE_DIR chooses where the cache lives.")
    warm.add_argument("--dtypes", type=_csv(_one_of(warmup.DTYPES)), metavar="DTYPE,...",
                      help=f"from {', '.join(warmup.DTYPES)} (default all)")
    warm.add_argument("--rules", type=_csv(_one_of(tuple(warmup.DISTRIBUTIONS))),
                      metavar="NAME,...",
                      help=f"from {', '.join(warmup.DISTRIBUTIONS)} (default all)")
    warm.add_argument("--cuda-arch", type=_csv(_compute_capability), metavar="CC,...",
                      help="also compile the CuPy backend's kernels for these compute "
                      "capabilities (80 for 8.0, 90 for 9.0) into CuPy's kernel cache "
                      "(CUPY_CACHE_DIR); needs CuPy and NVRTC, not a GPU")
    warm.set_defaults(run=_warmup)


def _add_info(commands):
    info = commands.add_parser(
        "info", help="versions, backends (and why one is missing), devices, write bandwidth",
        description="What fastinit finds on this machine: package versions, the backends "
        "that can fill memory here (and why the others cannot), the CPU and CUDA devices, "
        f"and the plain-write bandwidth of host memory (numpy fill of 2^{WRITE_PROBE_LOG2} "
        "float32, best of a few).")
    info.add_argument("--json", action="store_true", help="print the same as one JSON object")
    info.set_defaults(run=_info)


def _add_stream(commands):
    stream = commands.add_parser(
        "stream", help="write the raw uint32 words of a (seed, stream) to stdout",
        description="Write the raw Philox4x32-10 words of (seed, stream) to stdout as "
        "little-endian uint32, in the order of Generator(seed, stream).random_raw(), "
        "endlessly unless --count is given: input for test batteries, e.g. "
        "`fastinit stream --seed 1 | dieharder -a -g 200`. Refuses a terminal.",
        epilog="Integers are decimal or 0x/0o/0b-prefixed. NUMBA_NUM_THREADS=1 leaves the "
        "other cores to the reader.")
    stream.add_argument("--seed", type=_u64, required=True,
                        help="the key, an integer in [0, 2**64)")
    stream.add_argument("--stream", type=_u64, default=0,
                        help="the counter's high half (cuRAND's subsequence), an integer in "
                        "[0, 2**64) (default 0)")
    stream.add_argument("--count", type=_count, metavar="N",
                        help="write N words and stop (default: until the reader closes the "
                        "pipe)")
    stream.add_argument("--offset", type=_u64, default=0, metavar="BLOCK",
                        help="start at Philox block BLOCK (word 4 * BLOCK) of the stream, an "
                        "integer in [0, 2**64) (default 0)")
    stream.set_defaults(run=_stream)


def _sizes(exponents):
    return " and ".join(f"2^{e}" for e in exponents)


def _csv_text(items):
    return ",".join(map(str, items))


def _size(elements):
    exponent = elements.bit_length() - 1
    return f"2^{exponent}" if elements == 1 << exponent else str(elements)


def _ratio(value):
    return "-" if value is None else f"{value:.2f}x"


class _Progress:
    """A one-line progress bar on stderr while cases run, when stderr is a terminal
    (elsewhere the table, printed case by case, is the progress)."""

    WIDTH = 24

    def __init__(self, total, stream=None):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.shown = self.stream.isatty()
        self.draw("starting")

    def draw(self, label):
        if self.shown:
            filled = self.WIDTH * self.done // max(self.total, 1)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            self.stream.write(f"\r\033[K[{bar}] {self.done}/{self.total} {label}")
            self.stream.flush()

    def clear(self):
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def tick(self, label):
        self.done += 1
        self.draw(f"done: {label}" if self.done < self.total else "done")


def _case_printer(device, progress):
    """``on_case(rows)``: print one case's table, then advance ``progress``."""
    columns = (f"  {'method':<28}{'time ms':>10}{'Melem/s':>10}{'GB/s':>8}{'% write':>9}"
               f"{'x torch':>9}{_LIBRARY[device]:>9}")

    def print_case(rows):
        first = rows[0]
        nbytes = bench.nbytes(first["dtype"], first["elements"])
        progress.clear()
        print(f"\n{first['distribution']}  {first['dtype']}  {_size(first['elements'])} "
              f"elements ({nbytes / 1e6:.1f} MB)")
        print(columns)
        for r in rows:
            print(f"  {r['method']:<28}{r['seconds'] * 1e3:>10.3f}"
                  f"{r['elements'] / r['seconds'] / 1e6:>10.1f}{r['gbps']:>8.2f}"
                  f"{r['pct_of_write']:>8.1f}%{_ratio(r['x_torch']):>9}"
                  f"{_ratio(r['x_library']):>9}", flush=True)
        progress.tick(f"{first['distribution']} {first['dtype']} {_size(first['elements'])}")

    return print_case


_HEADERS = {
    "cpu": "best of repeats (host clock); plain write = the same bytes set to 1.0, the "
           "bandwidth floor; numpy and scipy use one thread",
    "cuda": "best of repeats of device time (CUDA events on the current stream; each call is "
            "queued behind a short GPU spin, so host launch overhead is not counted); "
            "plain write = tensor.fill_(1.0), the bandwidth ceiling",
}


def _fail(message, command="bench"):
    """One line on stderr, exit status 2, as argparse's own errors."""
    print(f"fastinit {command}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _devices(choice):
    """The devices to run, after checking what ``choice`` needs (exit 2 if missing)."""
    if choice == "cpu":
        return ["cpu"]
    ok, why = bench.cuda_status()
    if choice == "cuda":
        if not ok:
            _fail(f"--device cuda: {why}")
        return ["cuda"]
    if not ok:
        print(f"no CUDA benchmark: {why}")
    return ["cpu", "cuda"] if ok else ["cpu"]


def _physical_memory():
    """Bytes of RAM, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def _check_host_memory(args):
    """Exit 2 before benchmarking when the largest CPU case cannot fit in RAM: its tensor,
    plus numpy's float32 buffer for 16-bit dtypes."""
    total = _physical_memory()
    sizes = args.sizes or bench.default_sizes("cpu", args.quick)
    if total is None:
        return
    exponent = max(sizes)
    n = 2**exponent
    need = max(bench.nbytes(d, n) + (4 * n if bench.nbytes(d, 1) < 4 else 0)
               for d in args.dtypes or bench.default_dtypes("cpu"))
    if need > total:
        _fail(f"--sizes {exponent}: a CPU case of 2^{exponent} elements needs about "
              f"{need / 2**30:.1f} GiB, and this machine has {total / 2**30:.1f} GiB of RAM")


def _run_device(device, args):
    env = bench.environment(device)
    print(f"fastinit bench on {env['device']}, {env['date']}, commit {env['commit']}")
    print(_HEADERS[device])
    if device == "cuda":
        missing = bench.cuda_missing_methods()
        for method, why in missing.items():
            print(f"not run: {method}: {why}")
        truncated = [d for d in args.distributions if bench.is_truncated(d)]
        if truncated and bench.CUPY not in missing:
            print(f"{bench.CUPY} has no truncated normal: not run for {', '.join(truncated)}")
    sizes = args.sizes or bench.default_sizes(device, args.quick)
    dtypes = args.dtypes or bench.default_dtypes(device)
    with_torch = bench._torch() is not None
    progress = _Progress(len(sizes) * len(dtypes) * len(args.distributions)
                         + (2 if args.model != "none" and with_torch else 0)
                         + (len(bench.SMALL_FUNCTIONS) if device == "cpu" and with_torch else 0))
    on_case = _case_printer(device, progress)
    results = bench.run(sizes, args.distributions, args.dtypes, quick=args.quick,
                        on_case=on_case, env=env, device=device,
                        on_note=lambda text: print(f"note: {text}", flush=True))
    if (device == "cpu" and any(map(bench.is_truncated, args.distributions))
            and 2 ** max(sizes) > bench.SCIPY_MAX_ELEMENTS):
        print(f"\nscipy truncnorm is skipped above {_size(bench.SCIPY_MAX_ELEMENTS)} elements "
              "(about 0.3 us per element)")
    if device == "cpu":
        results["small"] = _run_small(args, progress)
    if args.model != "none":
        results["models"] = _run_models(device, args, on_case)
    progress.clear()
    return results


def _run_small(args, progress):
    """The small-tensor cases (``bench.run_small``), printed a function at a time; []
    without torch."""
    if bench._torch() is None:
        print("\nno small-tensor benchmark: torch is not installed")
        return []
    print(f"\nsmall tensors: one call on a float32 (n^0.5, n^0.5) torch CPU tensor; us per "
          f"call (best of round-robin repeats of {bench.SMALL_CALLS} calls) and x torch")

    def print_case(rows):
        progress.clear()
        print(f"\n{rows[0]['function']}\n  {'method':<30}"
              + "".join(f"{n:>16}" for n in bench.SMALL_ELEMENTS))
        for method in dict.fromkeys(r["method"] for r in rows):
            cells = [f"{r['seconds'] * 1e6:.1f}" + ("" if method == bench.TORCH else
                                                     f" {_ratio(r['x_torch'])}")
                     for r in rows if r["method"] == method]
            print(f"  {method:<30}" + "".join(f"{c:>16}" for c in cells), flush=True)
        progress.tick(rows[0]["function"])

    return bench.run_small(args.quick, print_case)


def _run_models(device, args, on_case):
    """The whole-model cases (``fastinit.torch.bench``), or [] without torch."""
    if bench._torch() is None:
        print("\nno whole-model benchmark: torch is not installed")
        return []
    from .torch import bench as model_bench

    config = args.model or (model_bench.QUICK_CONFIG if args.quick
                            else model_bench.DEFAULT_CONFIG[device])
    print(f"\nwhole model: {config} built on meta, float32; wall clock"
          f"{' (synchronized)' if device == 'cuda' else ''}, allocation included; plain write "
          "= to_empty + torch._foreach_zero_ of the same tensors")
    return model_bench.run(device, config=config, quick=args.quick, on_case=on_case)


def _json_paths(path, runs):
    """Where each run's JSON goes: a directory gets results-style names, one file keeps
    its name for one device and gets -<device> before the suffix for several."""
    if path.is_dir():
        return [path / f"{bench.results_stem(r)}.json" for r in runs]
    if len(runs) == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{bench.short_name(r['device'])}{path.suffix}")
            for r in runs]


def _plot_path(path, runs):
    if not path.is_dir():
        return path
    shorts = "-".join(bench.short_name(r["device"]) for r in runs)
    return path / f"{shorts}-{runs[0]['date']}-{runs[0]['commit']}.png"


def _matplotlib_missing():
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        return str(exc)
    return None


def _bench(args):
    if args.cold:
        return _bench_cold(args)
    if args.plot is not None and (why := _matplotlib_missing()):
        _fail(f"--plot needs matplotlib: {why} (pip install matplotlib)")
    devices = _devices(args.device)
    if "cpu" in devices:
        _check_host_memory(args)
    runs = []
    for device in devices:
        if runs:
            print()
        runs.append(_run_device(device, args))
    if args.json is not None:
        for results, path in zip(runs, _json_paths(args.json, runs)):
            path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                            encoding="utf-8")
            print(f"\nwrote {path}")
    if args.plot is not None:
        path = bench.plot(runs, _plot_path(args.plot, runs))
        print(f"\nwrote {path}")
    return 0


def _seconds(value):
    return "-" if value is None else f"{value:.2f}"


def _bench_cold(args):
    from . import coldstart

    env = bench.environment("cpu")
    print(f"fastinit bench --cold on {env['device']}, {env['date']}, commit {env['commit']}")
    print("wall clock of each first call in a fresh process; cold: empty Numba cache, warm: "
          "the cache the cold run left; torch: torch.nn.init's first call in a fresh process")
    print(f"\n  {'case':<50}{'cold s':>8}{'warm s':>8}{'torch s':>9}{'goal s':>8}")

    def print_row(r):
        print(f"  {r['case']:<50}{_seconds(r['cold_s']):>8}{_seconds(r['warm_s']):>8}"
              f"{_seconds(r['torch_s']):>9}{_seconds(r['goal_s']):>8}", flush=True)

    results = coldstart.run(on_row=print_row)
    if args.json is not None:
        path = args.json
        if path.is_dir():
            path = path / f"cpu-cold-{results['date']}-{results['commit']}.json"
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {path}")
    return 0


# --- fastinit warmup ---------------------------------------------------------------------


def _warmup(args):
    from .backends import cpu

    todo = warmup.items(args.dtypes, args.rules)
    print(f"compiling {len(todo)} CPU kernel{'' if len(todo) == 1 else 's'} into "
          f"{cpu.cache_state()[0]}")
    start = time.perf_counter()
    _compile_each(todo, warmup.compile_one)
    where, current, _ = cpu.cache_state()
    cached = ("" if current is None else
              f"{current} kernel compilation{'' if current == 1 else 's'} cached ")
    print(f"done in {time.perf_counter() - start:.1f} s: {cached}in {where}")
    if args.cuda_arch:
        from .backends import cupy as cupy_backend

        todo = warmup.cuda_items(args.cuda_arch, args.dtypes, args.rules)
        print(f"compiling {len(todo)} CuPy kernel{'' if len(todo) == 1 else 's'} into "
              f"{cupy_backend.cache_dir()}")
        start = time.perf_counter()
        _compile_each(todo, warmup.compile_cuda)
        print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _compile_each(todo, compile_one):
    progress = _Progress(len(todo))
    for item in todo:
        progress.draw(f"compiling {warmup.describe(item)}")
        compile_one(item)
        progress.tick(warmup.describe(item))
    progress.clear()


def _compute_capability(text):
    if not text.isdigit() or not 30 <= int(text) <= 200:
        raise argparse.ArgumentTypeError(
            f"a compute capability as major and minor digits (80 for 8.0, 90 for 9.0), "
            f"got {text!r}")
    return int(text)


# --- fastinit stream ---------------------------------------------------------------------


def _stream(args):
    out = sys.stdout.buffer
    if out.isatty():
        _fail("refusing to write binary words to a terminal: pipe them "
              "(`| dieharder -a -g 200`, `| od -An -tx4 | head`) or redirect to a file",
              "stream")
    generator = Generator(args.seed, args.stream)
    if args.offset:
        # An empty shard of a tensor of 4 * offset words moves the generator past them.
        generator.fill(np.empty(0, np.uint32), Raw(), numel=4 * args.offset)
    words = np.empty(STREAM_CHUNK_WORDS, np.uint32)  # a multiple of 4: chunks continue
    left = args.count
    try:
        while left is None or left > 0:
            chunk = words if left is None or left >= len(words) else words[:left]
            generator.fill(chunk, Raw())
            out.write(chunk if sys.byteorder == "little" else chunk.byteswap())
            if left is not None:
                left -= len(chunk)
        out.flush()
    except BrokenPipeError:
        _silence_stdout()  # the reader has what it wanted: exit 0, no traceback
    except KeyboardInterrupt:
        return 130
    return 0


def _silence_stdout():
    """Point stdout at /dev/null, so the interpreter's final flush of what is still
    buffered for a closed pipe raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (stdout replaced in-process)
        pass


# --- fastinit info -----------------------------------------------------------------------


def _version(module_name, dist_names=()):
    """The version of an importable module (first of ``dist_names`` installed, else the
    module's ``__version__``), ``None`` when it is not installed, or why it fails to
    import."""
    from importlib import import_module, metadata

    for dist in dist_names:
        try:
            version = metadata.version(dist)
            break
        except metadata.PackageNotFoundError:
            continue
    else:
        version = None
    try:
        module = import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - not installed, or e.g. a CUDA library it cannot load
        if version is None and isinstance(exc, ImportError):
            return None
        return f"{version or '?'} (fails to import: {type(exc).__name__}: {exc})"
    return version or getattr(module, "__version__", "?")


_PACKAGES = (  # name shown, module, distributions that may provide it (pip names)
    ("numpy", "numpy", ()),
    ("numba", "numba", ()),
    ("llvmlite", "llvmlite", ()),
    ("ml_dtypes", "ml_dtypes", ()),
    ("scipy", "scipy", ()),
    ("torch", "torch", ()),
    ("CuPy", "cupy", ("cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy")),
    ("numba-cuda", "numba_cuda", ("numba-cuda",)),
)


def _versions():
    versions = {"fastinit": __version__,
                "Python": f"{platform.python_version()} ({platform.python_implementation()})"}
    for name, module, dists in _PACKAGES:
        versions[name] = _version(module, dists)
    return versions


def _cuda_devices():
    """``(devices, why none)``: the CUDA devices torch (else CuPy) sees."""
    ok, why = bench.cuda_status()
    if ok:
        torch = bench._torch()
        devices = []
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            devices.append(f"cuda:{index}: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
                           f"compute capability {props.major}.{props.minor}")
        return devices, ""
    cupy, cupy_why = bench._cupy()
    if cupy is not None:
        try:
            runtime = cupy.cuda.runtime
            names = [runtime.getDeviceProperties(index)["name"]
                     for index in range(runtime.getDeviceCount())]
        except Exception as exc:  # noqa: BLE001 - no driver, no device
            names, cupy_why = [], f"CuPy finds no CUDA device ({exc})"
        if names:
            return [f"cuda:{index}: {name.decode() if isinstance(name, bytes) else name} (CuPy)"
                    for index, name in enumerate(names)], ""
        cupy_why = cupy_why or "CuPy finds no CUDA device"
    return [], f"{why}; {cupy_why}"


def _write_bandwidth(log2=WRITE_PROBE_LOG2):
    """Host plain-write bandwidth in GB/s: ``numpy.ndarray.fill`` of 2^log2 float32, best
    of a few (``bench.best_times`` on ``bench.wall_clock``)."""
    arr = np.empty(1 << log2, np.float32)
    best = bench.best_times({"fill": partial(arr.fill, 1.0)}, bench.wall_clock,
                            budget_s=10.0, max_repeats=5)["fill"]
    return arr.nbytes / best / 1e9


def _kernel_cache():
    from .backends import cpu

    where, current, stale = cpu.cache_state()
    return {"directory": str(where), "current": current, "stale": stale,
            "specializations": len(warmup.specializations())}


def _info_report():
    import numba

    backends = {name: {"available": ok, "note": why}
                for name, (ok, why) in arrays.backend_status().items()}
    cuda, no_cuda = _cuda_devices()
    return {
        "versions": _versions(),
        "backends": backends,
        "cpu": {"model": bench._cpu_name(), "cores": os.cpu_count(),
                "numba_threads": numba.get_num_threads()},
        "cuda_devices": cuda,
        "no_cuda": no_cuda,
        "kernel_cache": _kernel_cache(),
        "plain_write_gbps": round(_write_bandwidth(), 2),
        "plain_write": f"numpy fill of 2^{WRITE_PROBE_LOG2} float32, "
                       f"{4 << WRITE_PROBE_LOG2 >> 20} MiB, best of 5",
    }


def _info(args):
    report = _info_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("versions")
    for name, version in report["versions"].items():
        print(f"  {name:<12}{version or '-  (not installed)'}")
    print("backends")
    for name, b in report["backends"].items():
        state = "yes" if b["available"] else "no "
        note = b["note"] or ("Numba, parallel" if name == "cpu" else "")
        print(f"  {name:<12}{state}  {note}")
    cpu = report["cpu"]
    print("devices")
    print(f"  cpu         {cpu['model']}, {cpu['cores']} cores, {cpu['numba_threads']} Numba "
          f"threads")
    for device in report["cuda_devices"]:
        print(f"  {device}")
    if not report["cuda_devices"]:
        print(f"  cuda        none: {report['no_cuda']}")
    cache = report["kernel_cache"]
    print("kernel cache")
    print(f"  {cache['directory']}")
    if cache["current"] is None:
        print("  contents unknown (this Numba's cache index cannot be read)")
    else:
        print(f"  {cache['current']} compiled for these sources and this CPU "
              f"({cache['specializations']} specializations in all; `fastinit warmup` "
              f"compiles them), {cache['stale']} stale")
    print("memory")
    print(f"  plain write {report['plain_write_gbps']:.1f} GB/s ({report['plain_write']})")
    return 0


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.run(args)
