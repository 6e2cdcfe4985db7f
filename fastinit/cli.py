"""The ``fastinit`` command: ``fastinit bench [--device cpu|cuda|all] [--quick]
[--sizes 20,26] [--json PATH] [--plot PATH]``."""

import argparse
import json
import sys
from pathlib import Path

from . import bench

_COLUMNS = f"  {'method':<28}{'time ms':>10}{'Melem/s':>10}{'GB/s':>8}{'% write':>9}{'x torch':>9}"


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


def _out_path(text):
    """argparse type: a file to write (its directory must exist) or an existing directory."""
    path = Path(text)
    if not (path.is_dir() or path.parent.is_dir()):
        raise argparse.ArgumentTypeError(f"no directory {path.parent} to write {path.name} in")
    return path


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastinit", description="Neural-network parameter initialization at the speed "
        "of memory: a Philox4x32-10 stream filling arrays and tensors in place.")
    commands = parser.add_subparsers(dest="command", metavar="command")
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
    return parser


def _sizes(exponents):
    return " and ".join(f"2^{e}" for e in exponents)


def _csv_text(items):
    return ",".join(map(str, items))


def _size(elements):
    exponent = elements.bit_length() - 1
    return f"2^{exponent}" if elements == 1 << exponent else str(elements)


def _print_case(rows):
    first = rows[0]
    nbytes = bench.nbytes(first["dtype"], first["elements"])
    print(f"\n{first['distribution']}  {first['dtype']}  {_size(first['elements'])} elements "
          f"({nbytes / 1e6:.1f} MB)")
    print(_COLUMNS)
    for r in rows:
        x_torch = "-" if r["x_torch"] is None else f"{r['x_torch']:.2f}x"
        print(f"  {r['method']:<28}{r['seconds'] * 1e3:>10.3f}"
              f"{r['elements'] / r['seconds'] / 1e6:>10.1f}{r['gbps']:>8.2f}"
              f"{r['pct_of_write']:>8.1f}%{x_torch:>9}", flush=True)


_HEADERS = {
    "cpu": "best of repeats (host clock); plain write = the same bytes set to 1.0, the "
           "bandwidth floor; numpy and scipy use one thread",
    "cuda": "best of repeats of device time (CUDA events on the current stream; each call is "
            "queued behind a short GPU spin, so host launch overhead is not counted); "
            "plain write = tensor.fill_(1.0), the bandwidth ceiling",
}


def _fail(message):
    """One line on stderr, exit status 2, as argparse's own errors."""
    print(f"fastinit bench: error: {message}", file=sys.stderr)
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


def _run_device(device, args):
    env = bench.environment(device)
    print(f"fastinit bench on {env['device']}, {env['date']}, commit {env['commit']}")
    print(_HEADERS[device])
    if device == "cuda":
        missing = bench.cuda_missing_methods()
        for method, why in missing.items():
            print(f"not run: {method}: {why}")
        if "trunc_normal" in args.distributions and bench.CUPY not in missing:
            print(f"{bench.CUPY} has no truncated normal: not run for trunc_normal")
    sizes = args.sizes or bench.default_sizes(device, args.quick)
    results = bench.run(sizes, args.distributions, args.dtypes, quick=args.quick,
                        on_case=_print_case, env=env, device=device,
                        on_note=lambda text: print(f"note: {text}", flush=True))
    if (device == "cpu" and "trunc_normal" in args.distributions
            and 2 ** max(sizes) > bench.SCIPY_MAX_ELEMENTS):
        print(f"\nscipy truncnorm is skipped above {_size(bench.SCIPY_MAX_ELEMENTS)} elements "
              "(about 0.3 us per element)")
    return results


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
    if args.plot is not None and (why := _matplotlib_missing()):
        _fail(f"--plot needs matplotlib: {why} (pip install matplotlib)")
    runs = []
    for device in _devices(args.device):
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


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return _bench(args)
