"""fastinit.torch: whole-model init, meta-device materialization, checkpoints, FSDP1 hook.

Specification: every tensor named ``n`` holds ``Generator(seed, stream_of(n))``'s values
for its scheme; rules override layer defaults, first match first; one multi-tensor
fill per (device, dtype); bad input raises before anything is written.
"""

import functools
import math
import re

import numpy as np
import pytest
import torch
from torch import nn

import fastinit
import fastinit.torch as ft
from fastinit import Generator, Normal, TruncatedNormal, Uniform, arrays
from fastinit.schemes import ONES, ZEROS, Constant, KaimingNormal
from fastinit.torch import shards


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)


class TinyGPT(nn.Module):
    """GPT-2's shape: token and position embeddings, blocks, a head tied to wte."""

    def __init__(self, vocab=97, d=16, layers=2, tie=True):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(32, d)
        self.h = nn.ModuleList(Block(d) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        if tie:
            self.lm_head.weight = self.wte.weight


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def expected(name, shape, dist, dtype=torch.float32):
    out = torch.empty(shape, dtype=dtype)
    return Generator(7, ft.stream_of(name)).fill(out, dist)


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


def test_batchnorm_running_statistics_are_reset():
    bn = nn.BatchNorm1d(4)
    bn.train()(torch.randn(8, 4) * 3 + 1)
    ft.init_module(bn, seed=0)
    assert torch.equal(bn.running_mean, torch.zeros(4))
    assert torch.equal(bn.running_var, torch.ones(4))
    assert bn.num_batches_tracked.item() == 0


def test_non_contiguous_parameters_get_their_logical_values():
    plain = ft.init_module(nn.Linear(6, 5), seed=7)
    strided = nn.Linear(6, 5)
    strided.weight = nn.Parameter(torch.empty(6, 5).t())
    ft.init_module(strided, seed=7)
    assert torch.equal(strided.weight, plain.weight)


# --- rules ------------------------------------------------------------------------------


def gpt2_rules(n_layer=2):
    return {
        "*.c_proj.weight": Normal(0.0, 0.02 / math.sqrt(2 * n_layer)),
        nn.Linear: {"weight": Normal(0.0, 0.02), "bias": ZEROS},
        nn.Embedding: Normal(0.0, 0.02),
    }


def test_gpt2_style_rules():
    model = ft.init_module(TinyGPT(), seed=7, rules=gpt2_rules())
    assert torch.equal(model.h[0].c_proj.weight,
                       expected("h.0.c_proj.weight", (16, 16), Normal(0.0, 0.02 / 2)))
    assert torch.equal(model.h[0].attn.weight, expected("h.0.attn.weight", (48, 16),
                                                        Normal(0.0, 0.02)))
    assert not model.h[0].attn.bias.any()
    assert torch.equal(model.wpe.weight, expected("wpe.weight", (32, 16), Normal(0.0, 0.02)))
    assert torch.equal(model.h[1].ln.weight, torch.ones(16))  # no rule: the layer default


def test_the_first_matching_rule_wins():
    rules = {"h.0.*": ZEROS, "*.weight": ONES}
    model = ft.init_module(TinyGPT(), seed=7, rules=rules)
    assert not model.h[0].attn.weight.any()
    assert (model.h[1].attn.weight == 1).all()


def test_regex_and_type_rules():
    rules = {re.compile(r"h\.\d+\.attn\.(weight|bias)"): Constant(0.5),
             nn.LayerNorm: {"bias": Constant(2.0)}}
    model = ft.init_module(TinyGPT(), seed=7, rules=rules)
    assert (model.h[1].attn.bias == 0.5).all()
    assert (model.ln_f.bias == 2.0).all() and (model.ln_f.weight == 1.0).all()


def test_fan_based_schemes_use_the_tensor_shape():
    model = ft.init_module(nn.Linear(20, 10), seed=7,
                           rules={"weight": KaimingNormal(mode="fan_out", nonlinearity="relu")})
    assert torch.equal(model.weight, expected("weight", (10, 20),
                                              Normal(0, math.sqrt(2.0) / math.sqrt(10))))


def test_function_schemes_get_the_tensor_stream():
    orthogonal = functools.partial(fastinit.init.orthogonal_, gain=2.0)
    model = ft.init_module(nn.Linear(8, 8), seed=7, rules={"weight": orthogonal})
    reference = fastinit.init.orthogonal_(torch.empty(8, 8), gain=2.0,
                                          generator=Generator(7, ft.stream_of("weight")))
    assert torch.equal(model.weight, reference)


def test_a_none_rule_leaves_the_tensor_as_it_is():
    layer = nn.Linear(4, 4)
    before = layer.weight.detach().clone()
    ft.init_module(layer, seed=7, rules={"weight": None})
    assert torch.equal(layer.weight, before)


def test_truncated_normal_rule():
    model = ft.init_module(nn.Linear(300, 100), seed=7,
                           rules={"*": TruncatedNormal(0.0, 0.02, -0.04, 0.04)})
    assert model.weight.abs().max() <= 0.04 and model.bias.abs().max() <= 0.04


# --- errors -----------------------------------------------------------------------------


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.cls_token = nn.Parameter(torch.full((1, 4), 3.0))


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


def test_a_catch_all_rule_covers_custom_parameters():
    model = ft.init_module(Custom(), seed=7, rules={"cls_token": Normal(0, 0.02)})
    assert torch.equal(model.cls_token, expected("cls_token", (1, 4), Normal(0, 0.02)))


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


# --- partial init from a checkpoint -----------------------------------------------------


def _pretrained():
    backbone = ft.init_module(nn.Sequential(nn.Linear(6, 6), nn.LayerNorm(6)), seed=1)
    return {k: v for k, v in backbone.state_dict().items()}


def _with_new_head():
    return nn.Sequential(nn.Linear(6, 6), nn.LayerNorm(6), nn.Linear(6, 3))


@pytest.mark.parametrize("form", ["state dict", "torch.save", "safetensors"])
def test_skip_loads_what_the_checkpoint_has_and_inits_the_rest(form, tmp_path):
    checkpoint = _pretrained()
    if form == "torch.save":
        torch.save(checkpoint, tmp_path / "model.pt")
        checkpoint = tmp_path / "model.pt"
    elif form == "safetensors":
        from safetensors.torch import save_file

        save_file(checkpoint, tmp_path / "model.safetensors")
        checkpoint = str(tmp_path / "model.safetensors")
    model = ft.init_module(_with_new_head(), seed=7, skip=checkpoint)
    assert torch.equal(model[0].weight, _pretrained()["0.weight"])
    fresh = ft.init_module(_with_new_head(), seed=7)
    assert torch.equal(model[2].weight, fresh[2].weight)
    assert torch.equal(model[2].bias, fresh[2].bias)


def test_skip_covers_parameters_that_have_no_rule():
    pretrained = Custom()
    model = ft.init_module(Custom(), seed=7, skip=pretrained.state_dict())
    assert torch.equal(model.cls_token, pretrained.cls_token)


def test_skip_warns_about_unused_keys_and_refuses_wrong_shapes():
    checkpoint = _pretrained() | {"extra.weight": torch.zeros(2)}
    with pytest.warns(UserWarning, match="extra.weight"):
        ft.init_module(_with_new_head(), seed=7, skip=checkpoint)
    with pytest.raises(ValueError, match="shape"):
        ft.init_module(_with_new_head(), seed=7, skip={"0.weight": torch.zeros(3, 3)})


def test_materialize_with_skip():
    with torch.device("meta"):
        model = _with_new_head()
    ft.materialize(model, "cpu", seed=7, skip=_pretrained())
    assert torch.equal(model[1].weight, _pretrained()["1.weight"])
    assert torch.equal(model[2].weight, ft.init_module(_with_new_head(), seed=7)[2].weight)


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


@pytest.mark.parametrize("global_shape, indices", [
    ((10,), [range(6, 10)]),
    ((7, 5), [range(2, 5), range(5)]),
    ((7, 5), [range(7), range(3, 5)]),
    ((4, 6, 5), [range(1, 3), range(3, 6), range(5)]),
    ((4, 6, 5), [range(4), range(6), range(1, 3)]),
    ((3, 4), [range(3), range(4)]),
    ((8, 6), [[0, 2, 4, 6], range(6)]),  # a strided shard: rows 0, 2, 4, 6
    ((8, 6), [[1, 2, 5, 6], [0, 1, 4]]),
    ((8, 6), [[], range(6)]),  # an empty shard
])
def test_runs_cover_exactly_the_local_block(global_shape, indices):
    indices = tuple(np.array(list(ix), np.int64) for ix in indices)
    offsets, starts, lengths = shards.runs(indices, global_shape)
    index = np.arange(math.prod(global_shape)).reshape(global_shape)
    block = index[np.ix_(*indices)].ravel()
    got = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths)] + [[]])
    assert np.array_equal(got, block)
    assert np.array_equal(offsets, np.cumsum(np.concatenate([[0], lengths]))[:-1])
    assert torch.equal(shards.take(torch.as_tensor(index), indices), torch.as_tensor(index)[
        np.ix_(*indices)])


def test_a_whole_tensor_is_one_run():
    offsets, starts, lengths = shards.runs(None, (4, 5))
    assert list(offsets) == [0] and list(starts) == [0] and list(lengths) == [20]


# --- CUDA (skipped without a GPU) -------------------------------------------------------

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


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
