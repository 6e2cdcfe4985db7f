"""fastinit.dask against dask.array.random on a distributed.LocalCluster, same chunks.

    python bench/dask_random.py [--elements 26] [--chunk 22] [--workers 1,2] [--repeat 3]

For each case (normal and uniform, float64), a square array of 2^elements elements in
square chunks of 2^chunk (8192 x 8192 in 2048 x 2048 by default: every chunk cuts the
array's rows, so fastinit fills each as 2048 runs in one call), and for each number of
worker processes (one thread each): the time to make the array in the workers' memory
(``persist`` and wait; nothing comes back to the client), best of ``--repeat``, after
an untimed run that compiles or loads fastinit's kernels on every worker. Methods:

* ``fastinit.dask``: each worker's fill uses every core of the machine (Numba threads);
* ``fastinit.dask, 1 thread``: workers started with NUMBA_NUM_THREADS=1, one core each,
  as numpy's generator in dask's tasks;
* ``dask.array.random``: ``da.random.default_rng(seed)`` (numpy's PCG64 per chunk);
* ``plain write``: each chunk ``np.full``-ed: the floor of allocating and writing the bytes.

Prints a table: seconds, Melem/s, and the speed relative to dask.array.random. Timings
only; nothing is asserted.
"""

import argparse
import contextlib
import time

import dask.array as da
import distributed
import numpy as np

import fastinit.dask

SEED = 2026


def _ones(block_info=None):
    return np.full(block_info[None]["chunk-shape"], 1.0)


METHODS = {
    "fastinit.dask": (lambda case, size, chunks:
                      getattr(fastinit.dask.default_rng(SEED), case)(size=size, chunks=chunks),
                      {}),
    "fastinit.dask, 1 thread": (lambda case, size, chunks:
                                getattr(fastinit.dask.default_rng(SEED), case)(size=size,
                                                                                chunks=chunks),
                                {"NUMBA_NUM_THREADS": "1"}),
    "dask.array.random": (lambda case, size, chunks:
                          getattr(da.random.default_rng(SEED), case)(size=size, chunks=chunks),
                          {}),
    "plain write": (lambda case, size, chunks:
                    da.map_blocks(_ones, chunks=da.core.normalize_chunks(chunks, size),
                                  dtype=np.float64, meta=np.empty((0, 0))),
                    {}),
}


def _best(client, make, repeat):
    """Seconds of the fastest of ``repeat`` persists of ``make()``, after one untimed."""
    times = []
    for _ in range(repeat + 1):
        x = make()
        began = time.perf_counter()
        x = x.persist()
        distributed.wait(x)
        times.append(time.perf_counter() - began)
        del x
        client.run(lambda: None)  # the workers have dropped the last result
    return min(times[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, default=26, help="log2 of the array's size")
    parser.add_argument("--chunk", type=int, default=22, help="log2 of a chunk's size")
    parser.add_argument("--workers", default="1,2", help="worker processes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="normal,uniform")
    args = parser.parse_args(argv)
    side, chunk_side = 1 << (args.elements // 2), 1 << (args.chunk // 2)
    size = (side, (1 << args.elements) // side)
    chunks = (chunk_side, (1 << args.chunk) // chunk_side)
    n = size[0] * size[1]
    print(f"float64 arrays of {size[0]} x {size[1]} (2^{args.elements}) in chunks of "
          f"{chunks[0]} x {chunks[1]} (2^{args.chunk}); LocalCluster, processes, "
          "1 thread per worker; best of", args.repeat)
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        for method, (make, env) in METHODS.items():
            with contextlib.ExitStack() as stack:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=workers, processes=True, threads_per_worker=1,
                    dashboard_address=None, env=env, silence_logs=40))
                client = stack.enter_context(distributed.Client(cluster))
                for case in args.cases.split(","):
                    seconds = _best(client, lambda: make(case, size, chunks), args.repeat)
                    rows.append((case, workers, method, seconds))
    print(f"\n{'case':<8} {'workers':>7}  {'method':<24} {'s':>7} {'Melem/s':>8} "
          f"{'vs dask.array.random':>21}")
    for case, workers, method, seconds in sorted(rows, key=lambda r: (r[0], r[1])):
        dask_s = next(s for c, w, m, s in rows
                      if (c, w, m) == (case, workers, "dask.array.random"))
        print(f"{case:<8} {workers:>7}  {method:<24} {seconds:>7.3f} {n / seconds / 1e6:>8.0f} "
              f"{dask_s / seconds:>20.2f}x")


if __name__ == "__main__":
    main()
