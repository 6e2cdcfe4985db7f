"""fastinit.torch.plan: which tensor gets which scheme.

Specification: the first rule that matches a tensor decides its scheme (name globs,
compiled regular expressions, module types, per local name); where none matches, the
layer default applies; a None rule leaves the tensor as it is; fan-based schemes take
the tensor's shape. An uncovered tensor's name pattern is a rule key that matches every
layer of it.
"""

import fnmatch
import math
import re

import torch
from torch import nn

import fastinit.torch as ft
from fastinit import Normal, TruncatedNormal
from fastinit.schemes import ONES, ZEROS, Constant, KaimingNormal
from fastinit.torch import plan

from torch_models import Custom, TinyGPT, expected, gpt2_rules


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


def test_a_none_rule_leaves_the_tensor_as_it_is():
    layer = nn.Linear(4, 4)
    before = layer.weight.detach().clone()
    ft.init_module(layer, seed=7, rules={"weight": None})
    assert torch.equal(layer.weight, before)


def test_truncated_normal_rule():
    model = ft.init_module(nn.Linear(300, 100), seed=7,
                           rules={"*": TruncatedNormal(0.0, 0.02, -0.04, 0.04)})
    assert model.weight.abs().max() <= 0.04 and model.bias.abs().max() <= 0.04


def test_a_catch_all_rule_covers_custom_parameters():
    model = ft.init_module(Custom(), seed=7, rules={"cls_token": Normal(0, 0.02)})
    assert torch.equal(model.cls_token, expected("cls_token", (1, 4), Normal(0, 0.02)))


def test_name_patterns_match_every_layer():
    pattern = plan.name_pattern("model.layers.17.mlp.A_log")
    assert pattern == "model.layers.*.mlp.A_log"
    assert all(fnmatch.fnmatchcase(f"model.layers.{i}.mlp.A_log", pattern) for i in range(80))
