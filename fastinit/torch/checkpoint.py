"""Checkpoints (``skip=``): tensors a model takes from a state dict or a file.

``open_checkpoint(skip)`` reads a state dict, a ``.safetensors`` file or a
``torch.save`` file into ``{canonical name: loader()}`` without loading any tensor (a
file is memory-mapped, or read tensor by tensor); its names are what a plan leaves out.
``load_checkpoint(module, checkpoint)`` copies each tensor into the module's tensor of
that name, a DTensor getting only its local shard; a shape that differs from the
model's is a ``ValueError``, names the model lacks a warning.
"""

import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from .names import canonical_name, own_tensors
from .shards import local_part, take


def open_checkpoint(skip):
    """{canonical name: loader()} of a state dict or a checkpoint file."""
    if isinstance(skip, Mapping):
        return {canonical_name(k): (lambda v=v: v) for k, v in skip.items()}
    if not isinstance(skip, (str, Path)):
        raise TypeError(f"skip must be a state dict (a mapping of names to tensors) or the "
                        f"path of a .safetensors or torch.save file, got {type(skip).__name__}")
    path = Path(skip)
    if not path.is_file():
        raise ValueError(f"skip: no checkpoint file at {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open
        except ImportError:
            raise ImportError("reading .safetensors checkpoints needs the safetensors package "
                              "(pip install fastinit[safetensors])") from None
        handle = safe_open(str(path), framework="pt")
        return {canonical_name(k): (lambda k=k: handle.get_tensor(k)) for k in handle.keys()}
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return {canonical_name(k): (lambda v=v: v) for k, v in state.items()}


def load_checkpoint(module, checkpoint):
    """Copy every tensor ``checkpoint`` (from ``open_checkpoint``) has into ``module``'s
    tensor of that name (its local shard for a DTensor); keys the module lacks warn."""
    names = set()
    for name, _, _, tensor, _ in own_tensors(module):
        names.add(name)
        if name not in checkpoint:
            continue
        value = checkpoint[name]()
        local, global_shape, indices = local_part(tensor)
        if tuple(value.shape) != global_shape:
            raise ValueError(f"skip: checkpoint tensor {name} has shape {tuple(value.shape)}, "
                             f"the model's is {global_shape}")
        with torch.no_grad():
            local.copy_(take(value, indices))
    unused = sorted(set(checkpoint) - names)
    if unused:
        warnings.warn(f"skip: {len(unused)} checkpoint tensor(s) are not in the model and were "
                      f"not used: {', '.join(unused[:10])}" + (" ..." if len(unused) > 10 else ""),
                      stacklevel=3)
