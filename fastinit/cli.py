"""The ``fastinit`` command: ``fastinit bench [--quick] [--sizes 20,26] [--json PATH]``."""

import argparse
import json
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


def _json_path(text):
    path = Path(text)
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {path.parent} to write {path.name} in")
    return path


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastinit", description="Neural-network parameter initialization at the speed "
        "of memory: a Philox4x32-10 stream filling arrays and tensors in place.")
    commands = parser.add_subparsers(dest="command", metavar="command")
    b = commands.add_parser(
        "bench", help="time fastinit against torch.nn.init, numpy and a plain write",
        description="Time fastinit, torch.nn.init, numpy and a plain write of the same bytes "
        "on one destination per case; print a table, optionally write JSON.")
    b.add_argument("--quick", action="store_true",
                   help=f"sizes 2^{bench.QUICK_SIZES[0]} and 2^{bench.QUICK_SIZES[1]}, "
                   "fewer repeats: seconds after compilation")
    b.add_argument("--sizes", type=_csv(_log2), metavar="LOG2,...",
                   help="log2 of the element counts (default %s; with --quick %s)" % (
                       ",".join(map(str, bench.SIZES)), ",".join(map(str, bench.QUICK_SIZES))))
    b.add_argument("--distributions", type=_csv(_one_of(bench.DISTRIBUTIONS)),
                   default=tuple(bench.DISTRIBUTIONS), metavar="NAME,...",
                   help=f"from {', '.join(bench.DISTRIBUTIONS)} (default all)")
    b.add_argument("--dtypes", type=_csv(_one_of(bench.DTYPES)),
                   default=bench.DEFAULT_DTYPES, metavar="DTYPE,...",
                   help=f"from {', '.join(bench.DTYPES)} "
                   f"(default {','.join(bench.DEFAULT_DTYPES)})")
    b.add_argument("--json", type=_json_path, metavar="PATH", help="also write the results here")
    return parser


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


def _bench(args):
    env = bench.environment()
    print(f"fastinit bench on {env['device']}, {env['date']}, commit {env['commit']}")
    print("best of repeats; plain write = the same bytes set to 1.0, the bandwidth floor; "
          "numpy and scipy use one thread")
    sizes = args.sizes or (bench.QUICK_SIZES if args.quick else bench.SIZES)
    results = bench.run(sizes, args.distributions, args.dtypes, quick=args.quick,
                        on_case=_print_case, env=env)
    if "trunc_normal" in args.distributions and 2 ** max(sizes) > bench.SCIPY_MAX_ELEMENTS:
        print(f"\nscipy truncnorm is skipped above {_size(bench.SCIPY_MAX_ELEMENTS)} elements "
              "(about 0.3 us per element)")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return _bench(args)
