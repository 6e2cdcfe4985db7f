"""Parameter names and the streams they name.

Every parameter and buffer of a module draws from its own stream of the seed: the
stream is a stable 64-bit hash of its canonical fully-qualified name (docs/stream.md,
section 5), so adding, removing or reordering layers changes no other parameter's
values, and a shard, a rank or a checkpoint-resumed run finds the same numbers.
``own_tensors(module)`` lists a module's tensors under those names, each tensor once.
"""

import hashlib

# Prefixes that wrappers insert into parameter names (FSDP1, activation checkpointing,
# torch.compile): a wrapped module's parameters keep the stream of the unwrapped name.
WRAPPER_PREFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.")


def canonical_name(name):
    """``name`` without the wrapper prefixes of ``WRAPPER_PREFIXES``, at any depth."""
    if "_" not in name:
        return name
    for prefix in WRAPPER_PREFIXES:
        name = name.replace("." + prefix, ".")
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def stream_of(name):
    """The stream of parameter ``name``: the first 8 bytes of BLAKE2b (digest size 8,
    no key) of its canonical name in UTF-8, read as a little-endian unsigned integer.

    >>> stream_of("transformer.h.0.attn.c_attn.weight")  # the same on every machine
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    digest = hashlib.blake2b(canonical_name(name).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def full_name(prefix, name):
    """The canonical name of tensor (or submodule) ``name`` of the module at ``prefix``."""
    return canonical_name(f"{prefix}.{name}" if prefix else name)


def own_tensors(module, prefix="", recurse=True):
    """(name, owner, local name, tensor, is_buffer) of ``module``'s parameters and
    buffers (with ``recurse``, its submodules' too), each tensor once (tied weights
    under their first name), names canonical, prefixed by ``prefix``."""
    seen = set()
    modules = module.named_modules(prefix=prefix) if recurse else [(prefix, module)]
    for module_name, owner in modules:
        for is_buffer, table in ((False, owner._parameters), (True, owner._buffers)):
            for local, tensor in table.items():
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield full_name(module_name, local), owner, local, tensor, is_buffer
