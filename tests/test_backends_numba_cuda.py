"""The numba.cuda backend.

Without a GPU: the kernels run under numba's CUDA simulator and must write exactly
the CPU backend's bytes, for every rule and dtype, launch shape, shard offset,
counter wrap, strided layout and guard band, and ``fill_many`` over a table mixing
every family and constants exactly ``cpu.fill_many``'s. The simulator has to be switched on
before numba.cuda is first imported, so those fills run in one child process with
``NUMBA_ENABLE_CUDASIM=1`` (and ``NUMBA_DISABLE_JIT=1``: the kernels and the core
they call run as plain Python, which keeps the simulator fast); this process
compares the child's buffers with the compiled CPU backend's.

Also without a GPU, and never skipped: every kernel the backend launches, compiled
to PTX for compute capabilities 8.0 and 9.0 with the argument types of its launches,
holds no fused multiply-add (module note in fastinit/backends/numba_cuda.py) and
assembles with ptxas for sm_80 and sm_90 without spills. Every ``cuda.<name>`` the
backend uses exists in the installed numba-cuda and takes the arguments passed to it,
and the launch size reads device attributes numba-cuda's ``Device`` has (these two
skip only when this process itself runs under ``NUMBA_ENABLE_CUDASIM=1``).

With a GPU (numba-cuda and a device): the ``fill(view, ...)`` path on device memory,
strided views, CUDA streams, launch-shape independence and bit-identity with the CPU
backend; those tests skip cleanly here.
"""

import ast
import inspect
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from conftest import host_view, view_at
from fastinit.backends import ENTRY, STORAGE, Draw, Table, cpu, numba_cuda
from fastinit.backends.launch import max_grid
from fastinit.registry import FAMILY_RULES, STORES
from fastinit.distributions import rule_for
from test_kernels import MANY_FILLS, many_layout, many_specs, many_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import kernel_resources  # noqa: E402
from kernel_resources import ARCHS  # noqa: E402

FLOATS = ("float16", "bfloat16", "float32", "float64")
CASES = ([(Raw(), "uint32")]
         + [(Bernoulli(0.4), t) for t in ("bool", "uint8") + FLOATS]
         + [(d, t) for d in (Uniform(-1, 2), Normal(0.5, 2), TruncatedNormal(0, 1, -1, 3))
            for t in FLOATS]
         # every integer dtype; spans just above a power of two reject about half the tries
         + [(Integers(0, 1), "bool"), (Integers(-128, 127), "int8"), (Integers(0, 200), "uint8"),
            (Integers(-5, 300), "int16"), (Integers(0, 2**15 + 1), "uint16"),
            (Integers(-3, 1000), "int32"), (Integers(0, 2**31), "uint32"),
            (Integers(-3, 1000), "int64"), (Integers(-2**63, 2**62), "int64"),
            (Integers(0, 2**64 - 1), "uint64")])


def _case(dist_type, dtype):
    return next(i for i, (d, t) in enumerate(CASES) if type(d) is dist_type and t == dtype)


SOME = [_case(Raw, "uint32"), _case(Bernoulli, "bool"), _case(Uniform, "bfloat16"),
        _case(Normal, "float16"), _case(Normal, "float64"), _case(TruncatedNormal, "float32"),
        _case(TruncatedNormal, "float64"), _case(Integers, "uint32"), _case(Integers, "uint64")]
SEED = 0x0123456789ABCDEF  # both key words non-zero
STREAM = (1 << 40) + 3  # both stream words non-zero
POISON = 0xA5  # every byte of a buffer before a fill
GUARD = 5  # poisoned elements on each side of what a fill may write


# --- destinations ------------------------------------------------------------------


def _layout(kind, n=None):
    """(buffer length, origin, shape, strides) of a destination of ``n`` elements."""
    if kind == "flat":
        return n + 2 * GUARD, GUARD, (), ()
    if kind == "transposed":  # a C-contiguous (5, 7) array seen as its (7, 5) transpose
        return 35 + 2 * GUARD, GUARD, (7, 5), (1, 7)
    if kind == "reversed":  # x[::-1, ::3] of a C-contiguous (3, 12) array
        return 36 + 2 * GUARD, GUARD + 24, (3, 4), (-12, 3)
    raise ValueError(kind)


def _offsets(shape, strides, n):
    if not shape:
        return np.arange(n)
    idx = np.unravel_index(np.arange(n), shape)
    return sum(i * s for i, s in zip(idx, strides))


def _poisoned(buflen, dtype):
    storage = np.dtype(STORAGE[dtype])
    return np.full(buflen * storage.itemsize, POISON, np.uint8).view(storage)


def _job(kind, case, layout, start=0, n=None, block0=0, launch=None, bits=0):
    buflen, origin, shape, strides = _layout(layout, n)
    if shape:
        n = int(np.prod(shape))
    return {"kind": kind, "case": case, "layout": layout, "start": start, "n": n,
            "block0": block0, "launch": launch, "buflen": buflen, "origin": origin,
            "shape": list(shape), "strides": list(strides), "bits": bits}


def _jobs():
    jobs = []
    for c in range(len(CASES)):
        jobs += [
            _job("array", c, "flat", start=0, n=37, launch=(1, 1)),
            _job("array", c, "flat", start=13, n=50, block0=7, launch=(2, 3)),
            _job("array", c, "flat", start=13, n=50, block0=7, launch=(4, 32)),
            _job("array", c, "flat", start=2**32 + 5, n=7, block0=11, launch=(3, 2)),
            _job("array", c, "flat", start=3, n=30, block0=2**64 - 2, launch=(2, 8)),
            _job("array", c, "transposed", start=9, block0=1, launch=(2, 3)),
            _job("array", c, "reversed", start=5, launch=None),  # the default launch shape
            _job("array", c, "flat", start=5, n=0, launch=(1, 1)),
        ]
    for c in SOME:
        jobs += [_job("view", c, "flat", start=21, n=29, block0=4),
                 _job("view", c, "reversed", start=2, block0=2**64 - 1)]
    constants = {"float32": 0x3F000000, "float16": 0x3C00, "bfloat16": 0xBF80,
                 "float64": 0x3FD0000000000000, "bool": 1, "uint32": 0xDEADBEEF}
    for dtype, bits in constants.items():
        c = next(i for i, (_, t) in enumerate(CASES) if t == dtype)
        jobs += [_job("constant_array", c, "flat", n=23, launch=(2, 3), bits=bits),
                 _job("constant_array", c, "transposed", launch=(1, 4), bits=bits),
                 _job("constant_view", c, "reversed", bits=bits),
                 _job("constant_view", c, "flat", n=9, bits=bits)]
    return jobs


JOBS = _jobs()

# fill_many: per dtype, one table over every (start, shift, fill) combination of
# test_kernels.many_specs, with sizes small enough for the simulator, on several launches
MANY_SIZES = (1, 2, 3, 7, 0, 9, 17, 5, 33, 8, 4)  # 11: coprime with the combinations' cycle
MANY_JOBS = [{"dtype": dtype, "launch": launch} for dtype in FAMILY_RULES
             for launch in ((1, 1), (2, 3), (4, 32), None)]


def _many(dtype):
    """The rows of a fill_many job, their element offsets and the buffer's length."""
    specs = many_specs(dtype, sizes=MANY_SIZES)
    return (specs, *many_layout(specs))


def _words(buf):
    """``buf`` as the unsigned words of its item size (what a constant fill writes)."""
    return buf.view(f"u{buf.dtype.itemsize}")


def _view(buf, dtype, origin, shape, strides, n):
    """A View of host memory on device 0: the simulator's device memory is the host's."""
    return view_at(buf.ctypes.data + origin * buf.itemsize, dtype, n, shape, strides, device=0)


# --- the simulator run -------------------------------------------------------------

_CHILD = """
import json, sys
import numpy as np
import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform
from fastinit.backends import numba_cuda as nc
from fastinit.distributions import rule_for
sys.path.insert(0, {tests!r})
from fastinit.backends import Draw, Table
from test_backends_numba_cuda import (CASES, JOBS, MANY_JOBS, SEED, STREAM, _many, _poisoned,
                                      _view, _words, many_table)

assert nc.cuda is None  # numba.cuda is imported on first use
result = {{"available": nc.available(), "simulator": nc._simulated()}}
default_launch = nc._launch_shape
outputs = []
for job in JOBS:
    dist, dtype = CASES[job["case"]]
    buf = _poisoned(job["buflen"], dtype)
    nc._launch_shape = (default_launch if job["launch"] is None
                        else lambda items, shape=tuple(job["launch"]): shape)
    view = _view(buf, dtype, job["origin"], job["shape"], job["strides"], job["n"])
    draw = Draw(rule_for(dist, dtype), SEED, STREAM, job["block0"], job["start"])
    if job["kind"] == "array":
        nc.fill_array(buf, job["origin"], view, draw)
    elif job["kind"] == "view":
        nc.fill(view, draw)
    elif job["kind"] == "constant_array":
        words = _words(buf)
        nc.fill_constant_array(words, job["origin"], view, words.dtype.type(job["bits"]))
    else:
        nc.fill_constant(view, job["bits"])
    outputs.append(buf.tobytes().hex())
result["outputs"] = outputs
many = []
for job in MANY_JOBS:
    specs, offsets, length = _many(job["dtype"])
    buf = _poisoned(length, job["dtype"])
    nc._launch_shape = (default_launch if job["launch"] is None
                        else lambda items, shape=tuple(job["launch"]): shape)
    nc.fill_many(Table(many_table(buf.ctypes.data, job["dtype"], specs, offsets), job["dtype"],
                       0, 0))
    many.append(buf.tobytes().hex())
result["many"] = many
json.dump(result, sys.stdout)
"""


@pytest.fixture(scope="module")
def simulated():
    """Every job's buffer, filled by the numba.cuda kernels under the simulator."""
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_DISABLE_JIT="1")
    child = subprocess.run([sys.executable, "-W", "ignore", "-c", _CHILD.format(tests=tests)],
                           env=env, capture_output=True, text=True, timeout=600, check=False)
    assert child.returncode == 0, child.stderr[-4000:]
    return json.loads(child.stdout)


def _expected(job):
    dist, dtype = CASES[job["case"]]
    buf = _poisoned(job["buflen"], dtype)
    shape, strides = tuple(job["shape"]), tuple(job["strides"])
    if job["kind"] in ("array", "view"):
        cpu.fill(host_view(buf, dtype, job["origin"], shape, strides, job["n"]),
                 Draw(rule_for(dist, dtype), SEED, STREAM, job["block0"], job["start"]))
    else:
        words = _words(buf)
        words[job["origin"] + _offsets(shape, strides, job["n"])] = words.dtype.type(job["bits"])
    return buf.tobytes().hex()


def _describe(job):
    dist, dtype = CASES[job["case"]]
    return f"{job['kind']} {dist} {dtype} {job}"


def test_simulator_counts_as_available(simulated):
    assert simulated["simulator"]
    ok, why = simulated["available"]
    assert ok and "simulator" in why


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{d}-{t}" for d, t in CASES])
def test_kernel_writes_the_cpu_backends_bytes(simulated, case):
    """Any launch shape, shard start (one above 2**32), counter wrap past 2**64,
    transposed and reversed layouts, sizes that are not whole blocks, n = 0."""
    for job, got in zip(JOBS, simulated["outputs"]):
        if job["case"] == case and job["kind"] == "array":
            assert got == _expected(job), _describe(job)


def test_launch_shape_never_changes_a_value(simulated):
    launches, outputs = {}, {}
    for job, got in zip(JOBS, simulated["outputs"]):
        if job["kind"] == "array":
            key = (job["case"], job["layout"], job["start"], job["n"], job["block0"])
            launches.setdefault(key, set()).add(tuple(job["launch"] or ()))
            outputs.setdefault(key, set()).add(got)
    assert sum(len(shapes) > 1 for shapes in launches.values()) == len(CASES)
    assert all(len(outs) == 1 for outs in outputs.values())


def test_nothing_outside_the_destination_is_written(simulated):
    for job, got in zip(JOBS, simulated["outputs"]):
        _, dtype = CASES[job["case"]]
        buf = np.frombuffer(bytes.fromhex(got), STORAGE[dtype])
        written = np.zeros(buf.size, bool)
        shape, strides = tuple(job["shape"]), tuple(job["strides"])
        written[job["origin"] + _offsets(shape, strides, job["n"])] = True
        untouched = buf[~written].view(np.uint8)
        assert untouched.size > 0 and (untouched == POISON).all(), _describe(job)


@pytest.mark.parametrize("kind", ["view", "constant_array", "constant_view"])
def test_views_and_constants(simulated, kind):
    """fill(view) maps a View (negative strides, low/high span) onto the same
    elements cpu.fill writes; fill_constant writes the word everywhere in the view."""
    jobs = [(job, got) for job, got in zip(JOBS, simulated["outputs"]) if job["kind"] == kind]
    assert jobs
    for job, got in jobs:
        assert got == _expected(job), _describe(job)


@pytest.mark.parametrize("dtype", FAMILY_RULES)
def test_fill_many_writes_what_the_cpu_backend_writes(simulated, dtype):
    """One launch over a table mixing every family and constants (sizes 0 to 33, shards
    starting inside a Philox block and past 2**32, block0 wrapping, rows off 16-byte
    alignment) writes each row what cpu.fill_many writes, on any launch shape, and
    nothing in the poisoned guards around the rows."""
    specs, offsets, length = _many(dtype)
    expected = _poisoned(length, dtype)
    cpu.fill_many(Table(many_table(expected.ctypes.data, dtype, specs, offsets), dtype, None, 0))
    written = np.zeros(length, bool)
    for offset, spec in zip(offsets, specs):
        written[offset:offset + spec["n"]] = True
    jobs = [(job, got) for job, got in zip(MANY_JOBS, simulated["many"]) if job["dtype"] == dtype]
    assert len(jobs) == 4
    for job, got in jobs:
        buf = np.frombuffer(bytes.fromhex(got), STORAGE[dtype])
        assert (buf[~written].view(np.uint8) == POISON).all(), job
        assert got == expected.tobytes().hex(), job


def test_fill_many_of_empty_rows_launches_nothing(monkeypatch):
    monkeypatch.setattr(numba_cuda, "_launch", lambda *args: pytest.fail("launched"))
    numba_cuda.fill_many(Table(np.zeros(0, ENTRY), "float16", 0, 0))
    numba_cuda.fill_many(Table(np.zeros(5, ENTRY), "float16", 0, 0))


def test_available_answers_without_the_simulator():
    """A (bool, reason) pair in a process with the real numba.cuda target; never raises."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = ("import json, sys\nfrom fastinit.backends import numba_cuda\n"
              "json.dump(numba_cuda.available(), sys.stdout)")
    child = subprocess.run([sys.executable, "-W", "ignore", "-c", script], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stderr[-4000:]
    ok, why = json.loads(child.stdout)
    assert isinstance(ok, bool) and isinstance(why, str) and why


_PROBE = ("import json, sys\n{before}\nfrom fastinit.backends import numba_cuda\n"
          "numba_cuda._import_cuda()\njson.dump(numba_cuda._cannot_compile(), sys.stdout)")


def _compile_probe(before=""):
    """``_cannot_compile()`` in a fresh process with the real numba.cuda target."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    child = subprocess.run([sys.executable, "-W", "ignore", "-c", _PROBE.format(before=before)],
                           env=env, capture_output=True, text=True, timeout=300, check=False)
    assert child.returncode == 0, child.stderr[-4000:]
    return json.loads(child.stdout)


def test_the_compile_probe_passes_where_numba_cuda_compiles():
    assert _compile_probe() == ""


def test_the_compile_probe_names_numpy_2_5_breaking_numba_cuda():
    """numpy 2.5 removed ``np.row_stack``, which numba-cuda 0.30 overloads when it loads
    its typing registries, so every compilation fails there (seen on an H200 with numpy
    2.5.2): ``available()`` must say so and name the remedy, not let each fill fail.
    Removing the alias before numba.cuda loads reproduces numpy 2.5's namespace."""
    why = _compile_probe("import numpy\nvars(numpy).pop('row_stack', None)")
    assert "row_stack" in why and "numpy<2.5" in why and "backend='cupy'" in why


def test_the_launch_size_reads_device_attributes_that_numba_cuda_has(monkeypatch):
    """The grid size reads the device's SM count and threads per SM through numba-cuda's
    real ``Device``, which looks each name up among the CUDA driver binding's attributes
    (only the driver call that would need a GPU is replaced): a misspelt name fails here
    as it would on a GPU, at every launch."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator has no driver Device")
    try:
        from numba.cuda.cudadrv import driver as cuda_driver
        from cuda.bindings.driver import CUdevice_attribute
    except ImportError as exc:
        pytest.skip(f"numba-cuda with cuda.bindings is not installed: {exc}")
    numba_cuda._import_cuda()
    values = {CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: 132,
              CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: 2048}
    monkeypatch.setitem(vars(cuda_driver.driver), "cuDeviceGetAttribute",
                        lambda code, device: values[code])
    device = object.__new__(cuda_driver.Device)
    device.id = 7
    monkeypatch.setattr(numba_cuda.cuda, "get_current_device", lambda: device)
    monkeypatch.setattr(numba_cuda, "_MAX_GRID", {})
    assert numba_cuda._max_grid() == max_grid(132, 2048, numba_cuda.WAVES) == 4 * 132 * 8


def _cuda_uses():
    """Each ``cuda.<name>`` (``cuda.local.array``, ...) the backend module reads, in
    host code and kernels, as (line, dotted name, call): call is None, or the call's
    number of positional arguments and its keyword names."""
    tree = ast.parse(inspect.getsource(numba_cuda))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    uses = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Name) and node.id == "cuda"):
            continue
        names, top = [], node
        while isinstance(parents.get(top), ast.Attribute) and not (
                parents[top].attr.startswith("__")):
            top = parents[top]
            names.append(top.attr)
        parent = parents.get(top)
        call = None
        if isinstance(parent, ast.Call) and parent.func is top:
            call = len(parent.args), [keyword.arg for keyword in parent.keywords]
        if names:
            uses.append((node.lineno, ".".join(names), call))
    return uses


def test_the_numba_cuda_names_the_backend_uses_exist_and_take_its_arguments():
    """Every ``cuda.<name>`` the backend reads resolves in the installed numba.cuda (the
    real target, as on a GPU), and every call of one binds to that function's signature:
    a misspelt function, attribute or keyword fails here instead of on a GPU."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("numba.cuda is the simulator in this process")
    numba_cuda._import_cuda()
    uses = _cuda_uses()
    assert {"to_device", "external_stream", "from_cuda_array_interface"} <= {
        name for _, name, _ in uses}
    for line, name, call in uses:
        target = numba_cuda.cuda
        for attr in name.split("."):
            assert hasattr(target, attr), f"numba_cuda.py:{line}: cuda.{name}"
            target = getattr(target, attr)
        if call is not None:
            count, keywords = call
            try:
                inspect.signature(target).bind(*[None] * count, **dict.fromkeys(keywords))
            except TypeError as exc:
                pytest.fail(f"numba_cuda.py:{line}: cuda.{name}: {exc}")


# --- PTX and ptxas, without a GPU ------------------------------------------------------
# NVVM contracts a multiply feeding an add into an FMA unless the multiply is
# libdevice's mul.rn, which the core's ``mul`` becomes on the CUDA target. Every kernel
# the backend launches is compiled to PTX for compute capabilities 8.0 and 9.0 with the
# argument types of its launches (kernel_resources.numba_ptx: numba-cuda's compile_ptx
# needs NVVM, not a device), must hold no fma instruction, and must assemble with
# ptxas for sm_80 and sm_90 without spilling. Failures here are failures, never skips.


def _ptx_ops(text):
    """The first word of each line of a PTX text, predicates dropped."""
    words = [line.split() for line in text.splitlines()]
    return [w[1] if w[0].startswith("@") else w[0] for w in words if len(w) > 1]


def _expected_kernels():
    """The label of each kernel numba_ptx compiles: every rule of CASES with its storage,
    contiguous and strided; constants of each storage word; fill_many of each dtype."""
    labels = set()
    for layout in ("contiguous", "strided"):
        labels |= {f"fill_{rule_for(d, t).name}_{STORES[t]}_{layout}[{np.dtype(STORAGE[t])}]"
                   for d, t in CASES}
        labels |= {f"fill_constant_{layout}[uint{8 * np.dtype(s).itemsize}]"
                   for s in STORAGE.values()}
    return labels | {f"fill_many_{dtype}" for dtype in FAMILY_RULES}


@pytest.fixture(scope="module")
def kernel_ptx():
    """{arch: {kernel label: PTX text}} for each architecture of kernel_resources.ARCHS,
    compiled for its compute capability (the two in parallel)."""
    with ThreadPoolExecutor(len(ARCHS)) as pool:
        texts = pool.map(kernel_resources.numba_ptx, [divmod(arch, 10) for arch in ARCHS])
    return dict(zip(ARCHS, texts))


@pytest.fixture(scope="module")
def assembled(kernel_ptx):
    """{arch: {kernel label: ptxas's {entry: Resources}}}: each kernel's PTX assembled
    for its architecture."""
    jobs = [(arch, label, text) for arch, texts in kernel_ptx.items()
            for label, text in texts.items()]
    with ThreadPoolExecutor(os.cpu_count()) as pool:
        entries = pool.map(lambda job: kernel_resources.ptxas(job[2], job[0]), jobs)
    result = {arch: {} for arch in kernel_ptx}
    for (arch, label, _), found in zip(jobs, entries):
        result[arch][label] = found
    return result


def test_every_kernel_the_backend_launches_compiles_for_each_architecture(kernel_ptx):
    """numba_ptx covers each kernel and buffer type of CASES, the constants and
    fill_many, and targets the architecture asked for."""
    assert set(kernel_ptx) == set(ARCHS)
    for arch, texts in kernel_ptx.items():
        assert set(texts) == _expected_kernels(), arch
        for label, text in texts.items():
            assert f".target sm_{arch}" in text, (arch, label)


def test_kernels_hold_no_fused_multiply_add(kernel_ptx):
    """No kernel has an fma; the float rules' products are mul.rn, so ``mul`` reached
    the CUDA target."""
    for arch, texts in kernel_ptx.items():
        for label, text in texts.items():
            ops = _ptx_ops(text)
            fused = [op for op in ops if op.startswith("fma")]
            assert not fused, f"sm_{arch} {label}: {len(fused)} fused multiply-adds ({fused[0]})"
            if not label.startswith(("fill_raw_", "fill_bernoulli_", "fill_constant_",
                                     "fill_integers")):
                assert any(op.startswith("mul.rn.f") for op in ops), (arch, label)


def test_ptxas_assembles_every_kernel_without_spills(kernel_ptx, assembled):
    """ptxas (the nvidia-cuda-nvcc wheel's) assembles each kernel's PTX for its
    architecture: one entry, registers within the limit, no spill stores or loads. NVVM
    inlined every function (no ``.func``), so the entry's figures are the kernel's."""
    for arch, kernels in assembled.items():
        for label, entries in kernels.items():
            assert ".func" not in kernel_ptx[arch][label], (arch, label)
            assert len(entries) == 1, (arch, label, entries)
            used = next(iter(entries.values()))
            assert 0 < used.registers <= 255, (arch, label, used)
            assert used.spill_stores == used.spill_loads == 0, (arch, label, used)


# --- on a GPU ----------------------------------------------------------------------
# Every value must equal the CPU backend's bit for bit (no FMA: see the PTX test). A
# difference is reported in ulps of the output dtype at the scale of the values' terms
# (max(|value|, scale of the distribution)): near a cancellation such as
# low + span * u ~ 0 one rounding of a term shows up as many ulps of the tiny result,
# though it is one ulp of the terms.
_MANTISSA = {"float16": 10, "bfloat16": 7, "float32": 23, "float64": 52}


def _term_scale(dist):
    if isinstance(dist, Uniform):
        return max(abs(dist.low), abs(dist.high))
    if isinstance(dist, Normal):
        return abs(dist.mean) + dist.std
    return max(abs(dist.a), abs(dist.b), abs(dist.mean))


def _values(raw, dtype):
    if dtype == "float16":
        return raw.view(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return raw.astype(np.float64)


def _ulps(got, want, dist, dtype):
    """Differences of two storage arrays in ulps of ``dtype`` at the terms' scale."""
    g, w = _values(got, dtype), _values(want, dtype)
    scale = np.maximum(np.abs(w), _term_scale(dist))
    ulp = np.exp2(np.floor(np.log2(scale)) - _MANTISSA[dtype])
    return np.abs(g - w) / ulp


@pytest.fixture(scope="module")
def gpu():
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        pytest.skip("the simulator has no device memory; these need a GPU")
    ok, why = numba_cuda.available()
    if not ok:
        pytest.skip(f"no GPU for numba.cuda: {why}")
    from numba import cuda

    return cuda


def _device_buffer(cuda, buflen, dtype):
    return cuda.to_device(_poisoned(buflen, dtype))


def _gpu_view(cuda, dev, dtype, origin, shape, strides, n, cuda_stream=0):
    """A View of the device array ``dev`` (on the current device)."""
    return view_at(dev.__cuda_array_interface__["data"][0] + origin * dev.dtype.itemsize, dtype,
                   n, shape, strides, cuda.get_current_device().id, cuda_stream)


def _compare(got, want, dist, dtype, what):
    """Bit for bit; a float mismatch is reported in ulps and as the share that differs."""
    if got.tobytes() == want.tobytes():
        return
    rule = rule_for(dist, dtype).name
    if rule in ("raw", "bernoulli") or rule.startswith("integers"):
        raise AssertionError(f"{what}: words differ")
    ulps = _ulps(got, want, dist, dtype)
    differ = float(np.mean(got != want))
    raise AssertionError(f"{what}: {differ:.4%} of values differ, by up to {ulps.max():.3g} ulp")


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{d}-{t}" for d, t in CASES])
def test_gpu_fill_equals_cpu(gpu, case):
    dist, dtype = CASES[case]
    n = (1 << 20) + 37
    buflen, origin = n + 2 * GUARD, GUARD
    dev = _device_buffer(gpu, buflen, dtype)
    draw = Draw(rule_for(dist, dtype), SEED, STREAM, 2**64 - 3, 2**32 + 11)
    numba_cuda.fill(_gpu_view(gpu, dev, dtype, origin, (), (), n), draw)
    got = dev.copy_to_host()
    want = _poisoned(buflen, dtype)
    cpu.fill(host_view(want, dtype, origin, n=n), draw)
    assert (got[:GUARD].view(np.uint8) == POISON).all()
    assert (got[-GUARD:].view(np.uint8) == POISON).all()
    _compare(got, want, dist, dtype, f"{dist} {dtype}")


@pytest.mark.parametrize("case", SOME, ids=lambda c: f"{CASES[c][0]}-{CASES[c][1]}")
def test_gpu_strided_view_equals_cpu(gpu, case):
    dist, dtype = CASES[case]
    rows, cols = 301, 517  # x[::-1, ::3] of a C-contiguous (rows, 3 * cols) array
    shape, strides = (rows, cols), (-3 * cols, 3)
    buflen, origin = rows * 3 * cols + 2 * GUARD, GUARD + (rows - 1) * 3 * cols
    dev = _device_buffer(gpu, buflen, dtype)
    draw = Draw(rule_for(dist, dtype), SEED, STREAM, 5, 77)
    numba_cuda.fill(_gpu_view(gpu, dev, dtype, origin, shape, strides, rows * cols), draw)
    got = dev.copy_to_host()
    want = _poisoned(buflen, dtype)
    cpu.fill(host_view(want, dtype, origin, shape, strides, rows * cols), draw)
    written = np.zeros(buflen, bool)
    written[origin + _offsets(shape, strides, rows * cols)] = True
    assert (got[~written].view(np.uint8) == POISON).all()
    _compare(got, want, dist, dtype, f"strided {dist} {dtype}")


def test_gpu_launch_shape_never_changes_a_value(gpu, monkeypatch):
    dist, dtype = Normal(0.5, 2), "float32"
    n = 100_003
    results = []
    for shape in (None, (1, 32), (7, 64), (1000, 256)):
        if shape is not None:
            monkeypatch.setattr(numba_cuda, "_launch_shape", lambda items, s=shape: s)
        dev = _device_buffer(gpu, n, dtype)
        numba_cuda.fill(_gpu_view(gpu, dev, dtype, 0, (), (), n),
                        Draw(rule_for(dist, dtype), SEED, STREAM, 0, 3))
        results.append(dev.copy_to_host().tobytes())
    assert len(set(results)) == 1


def _stream_handle(cuda_stream):
    handle = cuda_stream.handle
    return int(handle.value if hasattr(handle, "value") else handle)


def test_gpu_fill_on_a_cuda_stream(gpu):
    dist, dtype = Uniform(-1, 2), "bfloat16"
    n = 1 << 18
    cuda_stream = gpu.stream()
    dev = _device_buffer(gpu, n, dtype)
    view = _gpu_view(gpu, dev, dtype, 0, (), (), n, cuda_stream=_stream_handle(cuda_stream))
    draw = Draw(rule_for(dist, dtype), SEED, STREAM, 0, 0)
    numba_cuda.fill(view, draw)
    cuda_stream.synchronize()
    want = _poisoned(n, dtype)
    cpu.fill(host_view(want, dtype), draw)
    _compare(dev.copy_to_host(), want, dist, dtype, "on a CUDA stream")


@pytest.mark.parametrize("dtype", FAMILY_RULES)
def test_gpu_fill_many_equals_cpu(gpu, dtype):
    """On device memory: the simulator's table and a row of each family of 2**20 + 37
    elements past 2**32, on the default CUDA stream and on one of its own."""
    specs = many_specs(dtype, sizes=MANY_SIZES) + [
        {"start": 2**32 + 11, "shift": 1, "fill": fill, "n": (1 << 20) + 37,
         "block0": 2**64 - 3, "stream": STREAM + 1000 + k}
        for k, fill in enumerate(MANY_FILLS[:4])]  # uniform, normal, truncnorm, constant
    offsets, length = many_layout(specs)
    want = _poisoned(length, dtype)
    cpu.fill_many(Table(many_table(want.ctypes.data, dtype, specs, offsets), dtype, None, 0))
    side = gpu.stream()
    for cuda_stream in (0, _stream_handle(side)):
        dev = _device_buffer(gpu, length, dtype)
        rows = many_table(dev.__cuda_array_interface__["data"][0], dtype, specs, offsets)
        numba_cuda.fill_many(Table(rows, dtype, gpu.get_current_device().id, cuda_stream))
        gpu.synchronize()
        got = dev.copy_to_host()
        differ = [r for r, (o, spec) in enumerate(zip(offsets, specs))
                  if got[o:o + spec["n"]].tobytes() != want[o:o + spec["n"]].tobytes()]
        assert not differ and got.tobytes() == want.tobytes(), (cuda_stream, differ[:10])


@pytest.mark.parametrize("dtype, bits", [("float32", 0x3F000000), ("bfloat16", 0xBF80),
                                         ("float64", 0x3FD0000000000000), ("bool", 1)])
def test_gpu_fill_constant(gpu, dtype, bits):
    n = 12_345
    for shape, strides, origin, size in (((), (), GUARD, n), ((3, 5), (-5, 1), GUARD + 10, 15)):
        buflen = max(n, 15) + 2 * GUARD
        dev = _device_buffer(gpu, buflen, dtype)
        numba_cuda.fill_constant(_gpu_view(gpu, dev, dtype, origin, shape, strides, size), bits)
        want = _poisoned(buflen, dtype)
        _words(want)[origin + _offsets(shape, strides, size)] = _words(want).dtype.type(bits)
        assert dev.copy_to_host().tobytes() == want.tobytes()
