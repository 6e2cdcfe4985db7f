"""fastinit.torch.checkpoint: ``skip=``, tensors taken from a state dict or a file.

Specification: tensors a checkpoint (a state dict, a ``torch.save`` or a
``.safetensors`` file) has are loaded, and only the others are initialized, with the
values they get without it; a checkpoint covers tensors no rule covers; keys the model
lacks warn, a tensor of another shape raises.
"""

import pytest
import torch
from torch import nn

import fastinit.torch as ft

from torch_models import Custom


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
    with torch.no_grad():  # values a fresh Custom does not hold
        pretrained.cls_token.copy_(torch.arange(4.0).view(1, 4))
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
