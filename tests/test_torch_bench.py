"""The whole-model benchmark: its GPT-2 rules are what transformers' _init_weights
draws, and a quick run times every method of both cases against the same plain write."""

import torch
from torch import nn

import fastinit.torch as ft
from fastinit import Normal
from fastinit.bench import WRITE
from fastinit.schemes import Constant
from fastinit.torch import bench


def _last_draws(model, monkeypatch):
    """{parameter name: what init_weights last drew for it}."""
    draws = {}
    names = {p.data_ptr(): n for n, p in model.named_parameters()}
    for method, as_scheme in {"normal_": lambda mean=0.0, std=1.0: Normal(mean, std),
                              "zero_": lambda: Constant(0.0),
                              "fill_": lambda value: Constant(float(value))}.items():
        original = getattr(torch.Tensor, method)

        def patched(t, *args, _original=original, _as_scheme=as_scheme, **kwargs):
            draws[names[t.data_ptr()]] = _as_scheme(*args, **kwargs)
            return _original(t, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, patched)
    bench.init_weights(model)
    monkeypatch.undo()
    return draws


def test_gpt2_rules_draw_what_init_weights_draws(monkeypatch):
    model = bench.GPT2(*bench.CONFIGS["gpt2-tiny"])
    expected = _last_draws(model, monkeypatch)
    plan = ft.plan.targets(model, ft.plan.schemes(model, bench.gpt2_rules(model.n_layer)))
    got = {t.name: t.scheme for t in plan}
    # ln weights: no rule, the LayerNorm default ones, which _init_weights also fills
    assert got == expected


def test_a_quick_run_times_every_method_of_both_cases():
    rows = bench.run("cpu", quick=True)
    cases = {}
    for row in rows:
        cases.setdefault(row["distribution"], {})[row["method"]] = row
    assert set(cases) == {"gpt2-tiny reset_parameters", "gpt2-tiny _init_weights"}
    elements = bench.parameter_count("gpt2-tiny")
    for case, baseline in (("gpt2-tiny reset_parameters", bench.RESET),
                           ("gpt2-tiny _init_weights", bench.INIT_WEIGHTS)):
        methods = cases[case]
        assert set(methods) == {bench.FASTINIT, baseline, WRITE}
        assert methods[baseline]["x_torch"] == 1.0 and methods[WRITE]["pct_of_write"] == 100.0
        for row in methods.values():
            assert row["elements"] == elements and row["seconds"] > 0


def test_the_model_has_gpt2_shapes():
    with torch.device("meta"):
        model = bench.GPT2(*bench.CONFIGS["gpt2"])
    assert bench.parameter_count("gpt2") == 124_439_808  # GPT-2 small, head tied
    assert model.lm_head.weight is model.wte.weight
    assert isinstance(model.h[0].mlp["c_proj"], nn.Linear)
