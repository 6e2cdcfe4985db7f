"""Small models, GPT-2-style rules and checks that the fastinit.torch tests share."""

import math

import torch
from torch import nn

import fastinit.torch as ft
from fastinit import Generator, Normal
from fastinit.schemes import ZEROS


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


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.cls_token = nn.Parameter(torch.full((1, 4), 3.0))


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def expected(name, shape, dist, dtype=torch.float32):
    out = torch.empty(shape, dtype=dtype)
    return Generator(7, ft.stream_of(name)).fill(out, dist)


def gpt2_rules(n_layer=2):
    return {
        "*.c_proj.weight": Normal(0.0, 0.02 / math.sqrt(2 * n_layer)),
        nn.Linear: {"weight": Normal(0.0, 0.02), "bias": ZEROS},
        nn.Embedding: Normal(0.0, 0.02),
    }
