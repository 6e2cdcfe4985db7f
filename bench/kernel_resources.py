"""Registers, stack and spills of every GPU kernel, from ptxas, without a GPU.

    python bench/kernel_resources.py

The PTX of every kernel of both GPU backends, for compute capability 8.0 and 9.0,
assembled by ptxas (the nvidia-cuda-nvcc wheel's, which the test extra installs,
found by cuda.pathfinder) for sm_80 and sm_90: one row per kernel and architecture.
The tests assemble the same PTX with the same function.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np

ARCHS = (80, 90)
_REPO = Path(__file__).resolve().parents[1]

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


# --- the numba.cuda backend's kernels ----------------------------------------------------

# numba_ptx's child process: this module and the repository's fastinit (the working
# directory, first on sys.path).
_NUMBA_CHILD = """
import json, sys
sys.path.insert(1, {bench!r})
from kernel_resources import _compile_numba_ptx
json.dump(_compile_numba_ptx({cc!r}), sys.stdout)
"""


def numba_ptx(cc):
    """``{label: PTX text}`` of every numba.cuda kernel the numba_cuda backend launches,
    compiled by numba-cuda's ``compile_ptx`` for compute capability ``cc`` (a tuple, such
    as ``(9, 0)``) with the argument types of its launches, without a GPU. A label is the
    kernel's name and, but for fill_many, its buffer's dtype:
    ``fill_normal32_f16_strided[uint16]``, ``fill_constant_contiguous[uint8]``,
    ``fill_many_float32``.

    Compiled in a child process on the real numba.cuda target (NUMBA_ENABLE_CUDASIM and
    NUMBA_DISABLE_JIT dropped from its environment), one per call, since numba-cuda
    keeps device functions compiled for the first capability it met; a RuntimeError
    with the child's error output if it fails."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "NUMBA_DISABLE_JIT")}
    env["NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING"] = "1"  # plain text in the error
    code = _NUMBA_CHILD.format(bench=str(_REPO / "bench"), cc=tuple(cc))
    child = subprocess.run([sys.executable, "-c", code], env=env, cwd=_REPO,
                           capture_output=True, text=True, timeout=1200, check=False)
    if child.returncode != 0:
        raise RuntimeError(f"compiling the numba.cuda kernels for cc {tuple(cc)} failed:\n"
                           f"{child.stderr[-4000:]}")
    return json.loads(child.stdout)


def _compile_numba_ptx(cc):
    """numba_ptx's work, in its child process: each launch's argument types as the
    kernel's dispatcher types them at a launch (``typeof_pyval``)."""
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    implementation = getattr(cuda, "implementation", None)
    if implementation != "NVIDIA":
        raise RuntimeError(f"numba.cuda is {implementation!r}, not numba-cuda")
    # compile_ptx compiles the kernel for cc but the device functions it calls for the
    # current device, which is stubbed as one of capability cc (there may be none).
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=cc)
    return {label: cuda.compile_ptx(kernel.py_func, tuple(map(kernel.typeof_pyval, args)),
                                    cc=cc)[0]
            for label, (kernel, args) in _numba_launches().items()}


def _numba_launches():
    """``{label: (kernel, args)}``: one launch of each kernel and argument types of the
    numba_cuda backend, for every rule and storage dtype, contiguous and strided (two
    dimensions), constants of every storage word, and fill_many of every dtype. The
    backend builds the arguments: ``fill_array`` and ``fill_constant_array`` run with
    their launch recorded instead of made, fill_many's come from ``_many_args``, and
    device memory is a device array like the backend's (``_span``'s view of a
    destination, ``to_device``'s copy of a host array) over no memory."""
    from fastinit.backends import ENTRY, STORAGE, Draw, View, word_type
    from fastinit.registry import FAMILY_RULES
    from fastinit.backends import numba_cuda as nc
    from fastinit.distributions import rule_for
    from fastinit.warmup import DISTRIBUTIONS, rule_name

    launches = {}

    def record(kernel, items, cuda_stream, args):
        launches[f"{kernel.py_func.__name__}[{args[0].dtype}]"] = kernel, args

    nc._import_cuda()
    with mock.patch.object(nc, "_launch", record):
        for dtype, storage in STORAGE.items():
            word = word_type(dtype)
            buf, words = _device_array(np.zeros(1, storage)), _device_array(np.zeros(1, word))
            for shape, strides in (((), ()), ((3, 4), (-1, 3))):
                view = View(0, dtype, 1, shape, strides, 0, 0, 0, 0)
                for dist in DISTRIBUTIONS.values():
                    if rule_name(dist, dtype) is not None:  # it fills this dtype
                        nc.fill_array(buf, 0, view, Draw(rule_for(dist, dtype), 1, 2, 3, 4))
                nc.fill_constant_array(words, 0, view, word(0))
    for dtype in FAMILY_RULES:
        table, first, total = nc._many_args(dtype, np.zeros(1, ENTRY))
        kernel = nc._many_kernel(dtype)
        launches[kernel.py_func.__name__] = kernel, (_device_array(table),
                                                     _device_array(first), total)
    return launches


def _device_array(host):
    """A numba.cuda device array of ``host``'s shape, strides and dtype, as
    ``cuda.to_device(host)`` makes, over a null pointer: for its Numba type."""
    from numba.cuda.cudadrv import devicearray, driver

    null = driver.MemoryPointer(None, driver.binding.CUdeviceptr(0), host.nbytes)
    return devicearray.from_array_like(host, gpu_data=null)


# --- the report ---------------------------------------------------------------------------


def cupy_ptx(arch):
    """``{name expression: PTX text}`` of every CUDA C kernel, compiled by the CuPy
    backend's own NVRTC call and options for ``compute_<arch>`` (all in one program)."""
    from fastinit.backends import cupy as cupy_backend

    names = cupy_backend.NAME_EXPRESSIONS
    text, lowered = cupy_backend.compile_kernels(names, f"compute_{arch}")
    return {name: lowered[name] for name in names}, text.decode().rstrip("\0")


def report():
    """One line per kernel, backend and architecture: registers, stack, spills."""
    lines = [f"{'backend':10} {'arch':6} {'regs':>4} {'stack':>5} {'spill st/ld':>11}  kernel"]
    for arch in ARCHS:
        lowered, text = cupy_ptx(arch)
        entries = ptxas(text, arch)
        lines += [_row("cupy", arch, entries[lowered[name]], name) for name in lowered]
        for label, ptx in numba_ptx(divmod(arch, 10)).items():
            (used,) = ptxas(ptx, arch).values()
            lines.append(_row("numba_cuda", arch, used, label))
    return "\n".join(lines)


def _row(backend, arch, used, kernel):
    spills = f"{used.spill_stores}/{used.spill_loads}"
    return (f"{backend:10} sm_{arch:<3} {used.registers:>4} {used.stack:>5} {spills:>11}  "
            f"{kernel}")


if __name__ == "__main__":
    print(report())
