"""Whole-model benchmark: a GPT-2-shaped model built on the meta device, materialized.

Two cases per run, each timed on fresh meta models, every method in the same run:

- "reset_parameters": ``fastinit.torch.materialize(model, device)`` (the layers'
  default distributions) against ``model.to_empty(device=...)`` followed by every
  module's ``reset_parameters()``, torch's own way;
- "_init_weights": ``materialize`` with GPT-2's rules (normal std 0.02, residual
  projections 0.02 / sqrt(2 n_layer), LayerNorm ones and zeros) against ``to_empty``
  and a transformers-style ``model.apply(_init_weights)`` loop.

The floor in both is a plain write of the same bytes into the same tensors: the
model allocated by ``to_empty`` and every parameter written once by
``torch._foreach_zero_`` (multi-tensor kernels on a GPU, memset on the CPU). Times are
wall clock (synchronized on a GPU), allocation included, model construction on meta
excluded. Rows are the same as ``fastinit.bench``'s,
``distribution`` naming the case and ``elements`` counting the parameters.
"""

import gc
import math
import time

import torch
from torch import nn

from .. import bench
from ..distributions import Normal
from ..schemes import ZEROS
from . import materialize

# name: (n_layer, n_embd, vocab_size, n_positions)
CONFIGS = {
    "gpt2-tiny": (2, 128, 1024, 128),
    "gpt2": (12, 768, 50257, 1024),  # 124M parameters
    "gpt2-xl": (48, 1600, 50257, 1024),  # 1.56B parameters
}
DEFAULT_CONFIG = {"cpu": "gpt2", "cuda": "gpt2-xl"}
QUICK_CONFIG = "gpt2-tiny"
FASTINIT = "fastinit.torch.materialize"
RESET = "to_empty + reset_parameters"
INIT_WEIGHTS = "to_empty + _init_weights"


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = nn.ModuleDict({"c_attn": nn.Linear(d, 3 * d), "c_proj": nn.Linear(d, d)})
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.ModuleDict({"c_fc": nn.Linear(d, 4 * d), "c_proj": nn.Linear(4 * d, d)})


class GPT2(nn.Module):
    """GPT-2's parameters (Radford et al., 2019) under transformers' names; the head is
    tied to the token embedding. No forward: only its initialization is measured."""

    def __init__(self, n_layer, n_embd, vocab_size, n_positions):
        super().__init__()
        self.n_layer = n_layer
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(n_positions, n_embd)
        self.h = nn.ModuleList(Block(n_embd) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.tie_weights()

    def tie_weights(self):
        self.lm_head.weight = self.wte.weight


def gpt2_rules(n_layer):
    """GPT-2's initialization as ``fastinit.torch`` rules."""
    return {
        "*.c_proj.weight": Normal(0.0, 0.02 / math.sqrt(2 * n_layer)),
        nn.Linear: {"weight": Normal(0.0, 0.02), "bias": ZEROS},
        nn.Embedding: Normal(0.0, 0.02),
    }


def init_weights(model):
    """transformers' ``GPT2PreTrainedModel._init_weights``, applied module by module."""
    def one(module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)
        for name, p in module.named_parameters():
            if name == "c_proj.weight":
                p.data.normal_(mean=0.0, std=0.02 / math.sqrt(2 * model.n_layer))

    model.apply(one)


def _to_empty(model, device):
    model.to_empty(device=device)
    model.tie_weights()  # to_empty unties when the device changes
    return model


def _reset_parameters(model, device):
    _to_empty(model, device)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()


def _init_weights(model, device):
    init_weights(_to_empty(model, device))


def _plain_write(model, device):
    with torch.no_grad():
        torch._foreach_zero_(list(_to_empty(model, device).parameters()))


def parameter_count(config):
    with torch.device("meta"):
        model = GPT2(*CONFIGS[config])
    return sum(p.numel() for p in model.parameters())


def _methods(case, config, device):
    """``{method: fn(meta model)}`` of one case."""
    n_layer = CONFIGS[config][0]
    torch_method = {"reset_parameters": _reset_parameters, "_init_weights": _init_weights}[case]
    rules = None if case == "reset_parameters" else gpt2_rules(n_layer)
    return {
        FASTINIT: lambda model: materialize(model, device, seed=0, rules=rules),
        RESET if case == "reset_parameters" else INIT_WEIGHTS:
            lambda model: torch_method(model, device),
        bench.WRITE: lambda model: _plain_write(model, device),
    }


def _timer(device):
    if device.type != "cuda":
        return time.perf_counter
    def synchronized():
        torch.cuda.synchronize(device)
        return time.perf_counter()
    return synchronized


def _time_on_fresh_model(config, device):
    """``time_once(fn)`` for ``bench.best_times``: wall-clock seconds of ``fn`` on a new
    meta model, built outside the timing and freed after."""
    clock = _timer(device)

    def once(fn):
        with torch.device("meta"):
            model = GPT2(*CONFIGS[config])
        start = clock()
        fn(model)
        seconds = clock() - start
        del model
        gc.collect()
        return seconds

    return once


def run(device="cpu", config=None, quick=False, on_case=None):
    """Rows of both cases for the GPT-2 ``config`` (default ``DEFAULT_CONFIG[device]``,
    ``QUICK_CONFIG`` with ``quick``) on ``device``, float32."""
    device = torch.device(device)
    config = config or (QUICK_CONFIG if quick else DEFAULT_CONFIG[device.type])
    budget_s, max_repeats = (0.2, 3) if quick else (3.0, 5)
    rows = []
    for case in ("reset_parameters", "_init_weights"):
        methods = _methods(case, config, device)
        seconds = bench.best_times(methods, _time_on_fresh_model(config, device), budget_s,
                                   max_repeats)
        baseline = next(m for m in methods if m not in (FASTINIT, bench.WRITE))
        case_rows = bench.case_rows(f"{config} {case}", "float32", parameter_count(config),
                                    seconds, baseline=baseline)
        rows += case_rows
        if on_case is not None:
            on_case(case_rows)
    return rows
