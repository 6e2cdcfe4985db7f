"""The compiled-kernel cache can never serve code older than its sources."""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastinit
from fastinit import _sources

PACKAGE = Path(fastinit.__file__).parent

_CHILD = """
import json
import numpy as np
import fastinit
from fastinit.backends import cpu
from fastinit import philox
out = fastinit.Generator(7).uniform(size=1000, dtype=np.float32)
words = fastinit.philox4x32(np.arange(4, dtype=np.uint32), np.arange(2, dtype=np.uint32))
print(json.dumps({"fill": out.tobytes().hex(), "philox": words.tolist(),
                  "hits": sum(cpu._kernel.stats.cache_hits.values()),
                  "philox_hits": sum(philox._blocks.stats.cache_hits.values())}))
"""


def _run(root, cache):
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache))
    child = subprocess.run([sys.executable, "-c", _CHILD], env=env, cwd=root,
                           capture_output=True, text=True, timeout=600, check=True)
    return json.loads(child.stdout)


def test_editing_a_constant_a_kernel_reads_changes_the_compiled_output(tmp_path):
    """A copy of the package fills from an empty cache, then again from the cache
    (which it must use), then after a key bump in _constants.py changes: neither the
    fill kernel (in backends/cpu.py) nor philox4x32's block loop (philox.py) may come
    from the cache then, though neither file changed."""
    root = tmp_path / "src"
    shutil.copytree(PACKAGE, root / "fastinit", symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    first = _run(root, cache)
    again = _run(root, cache)
    assert again["hits"] == 1 and again["philox_hits"] == 1  # the cache serves unchanged code
    assert again["fill"] == first["fill"] and again["philox"] == first["philox"]

    constants = root / "fastinit" / "_constants.py"
    text = constants.read_text()
    assert "PHILOX_W0 = 0x9E3779B9" in text
    constants.write_text(text.replace("PHILOX_W0 = 0x9E3779B9", "PHILOX_W0 = 0x9E3779BB"))
    edited = _run(root, cache)
    assert edited["hits"] == 0 and edited["philox_hits"] == 0
    assert edited["fill"] != first["fill"] and edited["philox"] != first["philox"]
    assert edited == _run(root, tmp_path / "empty") | {"hits": 0, "philox_hits": 0}


def _imported_modules(path):
    """The package modules that ``path`` imports (relative imports), as paths relative
    to the package."""
    here = path.parent.relative_to(PACKAGE)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here
            for _ in range(node.level - 1):
                base = base.parent
            names = [node.module] if node.module else [a.name for a in node.names]
            for name in names:
                target = base.joinpath(*name.split("."))
                for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                    if (PACKAGE / candidate).exists():
                        found.add(candidate.as_posix())
    return found


def test_the_digest_covers_every_source_a_cached_kernel_is_built_from():
    listed = set(_sources.KERNEL_SOURCES)
    assert {"backends/cpu.py", "philox.py"} <= listed  # the modules with cached kernels
    for name in listed:
        missing = _imported_modules(PACKAGE / name) - listed
        assert not missing, f"{name} imports {sorted(missing)}, which the digest omits"
    assert _sources.DIGEST == _sources.digest()


def test_the_digest_changes_with_any_listed_file(tmp_path):
    for name in _sources.KERNEL_SOURCES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE / name, tmp_path / name)
    before = _sources.digest(tmp_path)
    assert before == _sources.DIGEST
    for name in _sources.KERNEL_SOURCES:
        path = tmp_path / name
        text = path.read_text()
        path.write_text(text + "\n")
        assert _sources.digest(tmp_path) != before, name
        path.write_text(text)
