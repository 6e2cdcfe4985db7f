"""The backend protocol: ``cpu``, ``cupy`` and ``numba_cuda`` each implement
``backends.Backend``, every function with the protocol's parameters, and share code only
through the modules meant for it (``backends.rules``, ``backends.launch``)."""

import ast
import inspect

import pytest

from fastinit import backends
from fastinit.backends import cpu, numba_cuda
from fastinit.backends import cupy as cupy_backend

BACKENDS = {"cpu": cpu, "cupy": cupy_backend, "numba_cuda": numba_cuda}
PROTOCOL = {name: function for name, function in vars(backends.Backend).items()
            if inspect.isfunction(function) and not name.startswith("_")}


def _parameters(function, method=False):
    """(name, kind, default) of each parameter; a method's ``self`` left out."""
    parameters = list(inspect.signature(function).parameters.values())[method:]
    return [(p.name, p.kind, p.default) for p in parameters]


def test_the_protocol_is_fill_fill_many_fill_constant_and_available():
    assert set(PROTOCOL) == {"available", "fill", "fill_many", "fill_constant"}


@pytest.mark.parametrize("name", BACKENDS)
def test_each_backend_has_every_function_of_the_protocol_with_its_parameters(name):
    module = BACKENDS[name]
    for function, declared in PROTOCOL.items():
        assert _parameters(getattr(module, function)) == _parameters(declared, method=True), (
            f"{name}.{function}")


@pytest.mark.parametrize("name", BACKENDS)
def test_available_answers_a_flag_and_a_reason(name):
    ok, why = BACKENDS[name].available()
    assert isinstance(ok, bool) and isinstance(why, str) and (ok or why)


def _imports(module):
    """Every module name that ``module``'s source imports from, relative ones resolved
    against its package."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = module.__package__.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            names |= {stem} | {f"{stem}.{alias.name}" for alias in node.names}
    return names


def test_the_gpu_backends_share_code_only_through_rules_and_launch():
    """numba_cuda runs the CPU backend's rules from backends.rules, never from the CPU
    backend itself; both GPU backends size launches by backends.launch."""
    assert "fastinit.backends.rules" in _imports(numba_cuda)
    for module in (numba_cuda, cupy_backend):
        assert "fastinit.backends.cpu" not in _imports(module), module.__name__
        assert "fastinit.backends.launch" in _imports(module), module.__name__

