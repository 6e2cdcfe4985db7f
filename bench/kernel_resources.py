"""Registers, stack and spills of every GPU kernel, from ptxas, without a GPU.

    python bench/kernel_resources.py

The PTX of every kernel of both GPU backends, for compute capability 8.0 and 9.0,
assembled by ptxas (the nvidia-cuda-nvcc wheel's, which the test extra installs,
found by cuda.pathfinder) for sm_80 and sm_90: one row per kernel and architecture.
The tests assemble the same PTX with the same function.
"""

import re
import subprocess
import tempfile
from collections import namedtuple
from pathlib import Path

ARCHS = (80, 90)

Resources = namedtuple("Resources", "registers stack spill_stores spill_loads")

_ENTRY = re.compile(r"Compiling entry function '(\w+)' for 'sm_(\d+)'")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_REGISTERS = re.compile(r"Used (\d+) registers")


def ptxas_path():
    from cuda.pathfinder import find_nvidia_binary_utility

    path = find_nvidia_binary_utility("ptxas")
    if path is None:
        raise RuntimeError("ptxas not found: pip install nvidia-cuda-nvcc (the test extra has it)")
    return path


def ptxas(ptx, arch):
    """Assemble ``ptx`` (text) for ``sm_<arch>``: ``{entry name: Resources}`` for every
    entry, from ``ptxas -v``. A RuntimeError with ptxas's message if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "kernels.ptx"
        source.write_text(ptx)
        done = subprocess.run([ptxas_path(), f"-arch=sm_{arch}", "-v", "-o",
                               str(Path(tmp) / "kernels.cubin"), str(source)],
                              capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ptxas -arch=sm_{arch} failed:\n{done.stderr[-4000:]}")
    resources, entry = {}, None
    for line in (done.stdout + done.stderr).splitlines():
        if match := _ENTRY.search(line):
            entry = match[1]
            assert int(match[2]) == arch, line
        elif entry and (match := _FRAME.search(line)):
            stack, stores, loads = map(int, match.groups())
        elif entry and (match := _REGISTERS.search(line)):
            resources[entry] = Resources(int(match[1]), stack, stores, loads)
            entry = None
    return resources
