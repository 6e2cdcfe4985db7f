"""Where a CPU fill starts to gain from a second thread: one table, one call.

    python bench/cpu_threads.py [--busy N]

For each size, a float32 ``normal`` and ``uniform`` fill on the calling thread alone
against the same fill split into two equal runs on two threads (the least hand-off a
parallel fill can have), alternating the two in one process, many repeats: the median
and best time of each and their ratio. ``--busy N`` runs N spinning processes beside it,
so that a helper thread has to wait for a core. ``cpu.TASK_CHUNKS`` (a run's least
size) comes from this table: a fill runs in parallel from the size where the second
thread starts to pay for its hand-off.
"""

import argparse
import statistics
import subprocess
import sys
import time

import numba
import numpy as np

from fastinit import Normal, Uniform, arrays
from fastinit.backends import Draw, cpu
from fastinit.distributions import rule_for


def table(busy):
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(busy)]
    cpu._parts = lambda chunks: 1 if numba.get_num_threads() == 1 else 2
    try:
        for name, dist in (("normal", Normal(0.0, 1.0)), ("uniform", Uniform(-1.0, 1.0))):
            draw = Draw(rule_for(dist, "float32"), 1, 0, 0, 0)
            for e in range(13, 22):
                n = 1 << e
                out = np.empty(n, np.float32)
                view = arrays.view_of(out)
                times = {1: [], 2: []}
                for _ in range(max(30, (1 << 23) // n)):
                    for threads in (1, 2):
                        numba.set_num_threads(threads)
                        t0 = time.perf_counter_ns()
                        cpu.fill(view, draw)
                        times[threads].append(time.perf_counter_ns() - t0)
                med = {t: statistics.median(v) / 1e3 for t, v in times.items()}
                best = {t: min(v) / 1e3 for t, v in times.items()}
                print(f"{name:8} 2^{e}: 1 thread {med[1]:7.0f} us (best {best[1]:6.0f}), "
                      f"2 threads {med[2]:7.0f} us (best {best[2]:6.0f}): "
                      f"{med[2] / med[1]:.2f}x (best {best[2] / best[1]:.2f}x)", flush=True)
    finally:
        for spinner in spinners:
            spinner.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--busy", type=int, default=0, help="spinning processes beside it")
    table(parser.parse_args().busy)
