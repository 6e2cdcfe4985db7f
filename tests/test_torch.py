"""fastinit.torch: whole-model init, meta-device materialization, FSDP1 hook.

Specification: every tensor named ``n`` holds ``Generator(seed, stream_of(n))``'s values
for its scheme, whatever the other layers, their order and torch's global RNG; tied
weights are drawn once; bad input raises before anything is written. Rules:
test_torch_plan.py; the multi-tensor fill: test_torch_fill.py; ``skip=``:
test_torch_checkpoint.py.
"""

import math

import pytest
import torch
from torch import nn

import fastinit
import fastinit.torch as ft
from fastinit import Normal, Uniform
from fastinit.schemes import ONES

from torch_models import Block, Custom, TinyGPT, assert_same, expected, gpt2_rules, state


# --- what each tensor gets --------------------------------------------------------------


def test_each_tensor_holds_its_named_stream_of_its_scheme():
    model = ft.init_module(TinyGPT(), seed=7)
    w = model.h[1].attn.weight
    assert torch.equal(w, expected("h.1.attn.weight", w.shape,
                                   fastinit.schemes.KaimingUniform(a=math.sqrt(5))
                                   .distribution(tuple(w.shape))))
    bound = 1 / math.sqrt(16)
    assert torch.equal(model.h[1].attn.bias, expected("h.1.attn.bias", (48,),
                                                     Uniform(-bound, bound)))
    assert torch.equal(model.wte.weight, expected("wte.weight", (97, 16), Normal(0, 1)))
    assert torch.equal(model.ln_f.weight, torch.ones(16))


def test_same_seed_same_values_other_seed_other_values():
    a, b, c = (state(ft.init_module(TinyGPT(), seed=s)) for s in (7, 7, 8))
    assert_same(a, b)
    assert not torch.equal(a["wte.weight"], c["wte.weight"])


def test_values_do_not_depend_on_torch_global_rng():
    torch.manual_seed(1)
    a = state(ft.init_module(TinyGPT(), seed=7))
    torch.manual_seed(2)
    b = state(ft.init_module(TinyGPT(), seed=7))
    assert_same(a, b)


def test_adding_or_reordering_layers_changes_no_other_tensor():
    small = state(ft.init_module(TinyGPT(layers=2), seed=7))
    big = state(ft.init_module(TinyGPT(layers=3), seed=7))
    assert all(torch.equal(small[k], big[k]) for k in small)

    class Reordered(nn.Module):  # the same names, registered in another order
        def __init__(self):
            super().__init__()
            self.lm_head = nn.Linear(16, 97, bias=False)
            self.ln_f = nn.LayerNorm(16)
            self.h = nn.ModuleList(Block(16) for _ in range(2))
            self.wpe = nn.Embedding(32, 16)
            self.wte = nn.Embedding(97, 16)

    other = state(ft.init_module(Reordered(), seed=7))
    untied = state(ft.init_module(TinyGPT(tie=False), seed=7))
    assert_same(other, untied)


def test_tied_weights_are_initialized_once_under_the_first_name():
    model = ft.init_module(TinyGPT(), seed=7)
    assert model.lm_head.weight is model.wte.weight
    assert torch.equal(model.wte.weight, expected("wte.weight", (97, 16), Normal(0, 1)))


def test_batchnorm_running_statistics_are_reset():
    bn = nn.BatchNorm1d(4)
    bn.train()(torch.randn(8, 4) * 3 + 1)
    ft.init_module(bn, seed=0)
    assert torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert bn.num_batches_tracked.item() == 0


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, message", [
    (lambda m: ft.init_module(m, seed=0), ValueError, r"`cls_token` \(1 tensor, Custom\)"),
    (lambda m: ft.init_module(m, seed=-1, rules={"*": ONES}), ValueError, "seed"),
    (lambda m: ft.init_module(m, seed="1", rules={"*": ONES}), TypeError, "seed"),
    (lambda m: ft.init_module(m, rules=[("*", ONES)]), TypeError, "rules must be a mapping"),
    (lambda m: ft.init_module(m, rules={3: ONES}), TypeError, "name patterns"),
    (lambda m: ft.init_module(m, rules={"*": "normal"}), TypeError, r"rules\['\*'\]"),
    (lambda m: ft.init_module(m, rules={nn.Linear: {"weight": 0.1}}), TypeError,
     r"rules\[Linear\]\['weight'\]"),
    (lambda m: ft.init_module(m, rules={"*": Normal(0, -1)}), ValueError, "std"),
    (lambda m: ft.init_module(m, rules={"*": ONES}, skip=3), TypeError, "skip must be"),
    (lambda m: ft.init_module(m, rules={"*": ONES}, skip="/nonexistent.pt"), ValueError,
     "no checkpoint file"),
    (lambda m: ft.init_module("model"), TypeError, "torch.nn.Module"),
    (lambda m: ft.init_module(m, rules={"*": ONES}, backend="cupy"), ValueError, "host memory"),
])
def test_bad_input_raises_and_writes_nothing(call, error, message):
    model = Custom()
    before = state(model)
    with pytest.raises(error, match=message):
        call(model)
    assert_same(state(model), before)


def test_init_module_refuses_meta_tensors():
    with torch.device("meta"):
        model = nn.Linear(4, 4)
    with pytest.raises(ValueError, match="materialize"):
        ft.init_module(model)


# --- materialize ------------------------------------------------------------------------


def test_materialize_gives_what_init_module_gives():
    with torch.device("meta"):
        meta = TinyGPT()
    ft.materialize(meta, "cpu", seed=7, rules=gpt2_rules())
    assert meta.lm_head.weight is meta.wte.weight and not meta.wte.weight.is_meta
    assert_same(state(meta), state(ft.init_module(TinyGPT(), seed=7, rules=gpt2_rules())))


def test_materialize_keeps_tensors_that_have_values():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4))
    model.register_buffer("table", torch.arange(3.0))
    ft.materialize(model, "cpu", seed=7)
    assert torch.equal(model.table, torch.arange(3.0))


def test_materialize_refuses_meta_buffers_without_a_rule_before_allocating():
    with torch.device("meta"):
        model = nn.Linear(4, 4)
        model.register_buffer("mask", torch.ones(4, 4))
    with pytest.raises(ValueError, match="meta buffer"):
        ft.materialize(model, "cpu", seed=7)
    assert model.weight.is_meta
    ft.materialize(model, "cpu", seed=7, rules={"mask": lambda t, generator: t.fill_(1.0)})
    assert torch.equal(model.mask, torch.ones(4, 4))


# --- FSDP1's param_init_fn --------------------------------------------------------------


def test_param_init_fn_called_per_module_gives_init_module_values():
    with torch.device("meta"):
        model = TinyGPT()
    fn = ft.param_init_fn(model, seed=7, device="cpu")
    for module in reversed(list(model.modules())):  # any order: each does its own tensors
        fn(module)
    assert_same(state(model), state(ft.init_module(TinyGPT(), seed=7)))
    with pytest.raises(ValueError, match="not a submodule"):
        fn(nn.Linear(2, 2))


# --- sharded layouts (one process: the pieces a rank would get) -------------------------
