"""Cold start: what a first call costs in a fresh process (``fastinit bench --cold``).

Each case runs in a new Python process twice: with an empty Numba cache (a fresh
environment: new venv, container, CI job), then again with the cache the first run
left (every later process on that machine). The time is the wall clock of the
case's first call alone: its setup (imports, building the destination) is not in
it, except in the ``import fastinit`` case, which times the import. Where torch has
the same call, torch's first call in a fresh process is timed too.

A row is ``{case, cold_s, warm_s, torch_s, goal_s}`` (``torch_s`` None where there is
no torch equivalent or no torch); ``run`` returns ``{device, date, commit, rows}``.
"""

import json
import os
import subprocess
import sys
import tempfile

from . import bench

_ARRAY = "import numpy as np\nimport fastinit\n"
_TORCH = "import torch\n"
_MODEL = """from torch import nn
with torch.device("meta"):
    model = nn.Sequential(nn.Embedding(1000, 256), nn.Linear(256, 1024), nn.GELU(),
                          nn.LayerNorm(1024), nn.Linear(1024, 256))
"""

# (distribution, destination): every distribution of every dtype it fills, contiguous
# and as a strided view
_EVERY = """from fastinit import warmup
from fastinit.generator import numpy_dtype
work = []
for dtype in warmup.DTYPES:
    for dist in warmup.DISTRIBUTIONS.values():
        if warmup.rule_name(dist, dtype) is not None:
            x = np.empty((64, 128), numpy_dtype(dtype))
            work += [(dist, x[:, :64].copy()), (dist, x[:, ::2])]
"""

# name: (setup, the timed call, torch's setup and call or None, goal in seconds)
CASES = {
    "import fastinit": ("", "import fastinit", None, 0.4),
    "init.uniform_ float32": (
        _ARRAY + "x = np.empty((1024, 1024), np.float32)", "fastinit.init.uniform_(x)",
        (_TORCH + "x = torch.empty(1024, 1024)", "torch.nn.init.uniform_(x)"), 2.0),
    "init.normal_ float32": (
        _ARRAY + "x = np.empty((1024, 1024), np.float32)", "fastinit.init.normal_(x)",
        (_TORCH + "x = torch.empty(1024, 1024)", "torch.nn.init.normal_(x)"), 2.0),
    "init.trunc_normal_ float32": (
        _ARRAY + "x = np.empty((1024, 1024), np.float32)",
        "fastinit.init.trunc_normal_(x, std=0.02)",
        (_TORCH + "x = torch.empty(1024, 1024)", "torch.nn.init.trunc_normal_(x, std=0.02)"),
        2.0),
    "init.normal_ torch bfloat16": (
        _TORCH + _ARRAY + "x = torch.empty(1024, 1024, dtype=torch.bfloat16)",
        "fastinit.init.normal_(x)",
        (_TORCH + "x = torch.empty(1024, 1024, dtype=torch.bfloat16)",
         "torch.nn.init.normal_(x)"), 2.0),
    "init.normal_ strided view": (
        _ARRAY + "x = np.empty((1024, 2048), np.float32)[:, ::2]", "fastinit.init.normal_(x)",
        (_TORCH + "x = torch.empty(1024, 2048)[:, ::2]", "torch.nn.init.normal_(x)"), 2.0),
    "materialize, 5 layers": (
        _TORCH + "import fastinit.torch\n" + _MODEL,
        "fastinit.torch.materialize(model, 'cpu', seed=0)",
        (_TORCH + _MODEL, "model.to_empty(device='cpu')\nfor m in model.modules():\n"
                          "    getattr(m, 'reset_parameters', lambda: None)()"), 3.0),
    "every rule, dtype and layout, then materialize": (
        _TORCH + _ARRAY + "import fastinit.torch\n" + _EVERY + _MODEL,
        "for dist, x in work:\n    fastinit.Generator(0).fill(x, dist)\n"
        "fastinit.torch.materialize(model, 'cpu', seed=0)", None, 30.0),
}
NEEDS_TORCH = {name for name, (setup, *_) in CASES.items() if "import torch" in setup}

_CHILD = """import json, time
{setup}
ready = time.perf_counter()
{call}
print(json.dumps({{"seconds": time.perf_counter() - ready}}))
"""


def time_in_fresh_process(setup, call, cache_dir, timeout=600):
    """Seconds ``call`` takes after ``setup`` in a new Python process whose Numba cache
    is ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    child = subprocess.run([sys.executable, "-c", _CHILD.format(setup=setup, call=call)],
                           env=env, capture_output=True, text=True, timeout=timeout)
    if child.returncode != 0:
        raise RuntimeError(f"cold-start case failed:\n{child.stderr[-2000:]}")
    return json.loads(child.stdout.splitlines()[-1])["seconds"]


def case_row(name):
    """The row of case ``name``: cold, then warm in the cache the cold run left."""
    setup, call, torch_case, goal = CASES[name]
    with tempfile.TemporaryDirectory(prefix="fastinit-cold-") as cache:
        cold = time_in_fresh_process(setup, call, cache)
        warm = time_in_fresh_process(setup, call, cache)
        torch_s = None
        if torch_case is not None and bench._torch() is not None:
            torch_s = time_in_fresh_process(*torch_case, cache)
    return {"case": name, "cold_s": cold, "warm_s": warm, "torch_s": torch_s, "goal_s": goal}


def run(cases=None, on_row=None):
    """Every case of ``cases`` (names of ``CASES``; None: all those this machine can
    run, torch's only with torch installed), one row each; ``on_row(row)`` after each."""
    names = cases or [n for n in CASES if n not in NEEDS_TORCH or bench._torch() is not None]
    rows = []
    for name in names:
        rows.append(case_row(name))
        if on_row is not None:
            on_row(rows[-1])
    return {**bench.environment("cpu"), "kind": "cold start", "rows": rows}
