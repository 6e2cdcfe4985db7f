"""fastinit.torch.fill: executing a plan.

Specification: the elementwise schemes of one dtype and device are one multi-tensor
fill (one launch on a GPU), with the values a fill of each tensor alone gives; a
non-contiguous tensor gets its logical values; a function scheme is called with the
generator of the tensor's stream.
"""

import functools
import math

import pytest
import torch
from torch import nn

import fastinit
import fastinit.torch as ft
from fastinit import Generator, arrays

from torch_models import TinyGPT, assert_same, expected, gpt2_rules, state

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_every_dtype_of_one_model_gets_its_own_fill(monkeypatch):
    calls = []
    real = arrays.fill_many
    monkeypatch.setattr(arrays, "fill_many", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    model = TinyGPT()
    model.h[0].to(torch.bfloat16)
    model.ln_f.to(torch.float64)
    ft.init_module(model, seed=7)
    assert sorted(calls) == ["bfloat16", "float32", "float64"]  # one pass per dtype
    w = model.h[0].c_proj.weight
    assert torch.equal(w, expected("h.0.c_proj.weight", (16, 16),
                                   fastinit.schemes.KaimingUniform(a=math.sqrt(5))
                                   .distribution((16, 16)), torch.bfloat16))


def test_non_contiguous_parameters_get_their_logical_values():
    plain = ft.init_module(nn.Linear(6, 5), seed=7)
    strided = nn.Linear(6, 5)
    strided.weight = nn.Parameter(torch.empty(6, 5).t())
    ft.init_module(strided, seed=7)
    assert torch.equal(strided.weight, plain.weight)


def test_function_schemes_get_the_tensor_stream():
    orthogonal = functools.partial(fastinit.init.orthogonal_, gain=2.0)
    model = ft.init_module(nn.Linear(8, 8), seed=7, rules={"weight": orthogonal})
    reference = fastinit.init.orthogonal_(torch.empty(8, 8), gain=2.0,
                                          generator=Generator(7, ft.stream_of("weight")))
    assert torch.equal(model.weight, reference)


@needs_gpu
@pytest.mark.parametrize("backend", ["cupy", "numba_cuda"])
def test_materialize_on_a_gpu_equals_the_cpu_init_in_one_launch_per_dtype(backend,
                                                                          monkeypatch):
    ok, why = arrays.backend_status()[backend]
    if not ok:
        pytest.skip(why)
    calls = []
    real = arrays.fill_many
    monkeypatch.setattr(arrays, "fill_many", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    with torch.device("meta"):
        model = TinyGPT()
    model.h[0].to(torch.bfloat16)
    ft.materialize(model, "cuda", seed=7, rules=gpt2_rules(), backend=backend)
    assert sorted(calls) == ["bfloat16", "float32"]
    cpu = TinyGPT()
    cpu.h[0].to(torch.bfloat16)
    ft.init_module(cpu, seed=7, rules=gpt2_rules())
    assert_same({k: v.cpu() for k, v in state(model).items()}, state(cpu))
