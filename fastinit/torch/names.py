"""Parameter names and the streams they name.

Every parameter and buffer of a module draws from its own stream of the seed: the
stream is a stable 64-bit hash of its canonical fully-qualified name (docs/stream.md,
section 5), so adding, removing or reordering layers changes no other parameter's
values, and a shard, a rank or a checkpoint-resumed run finds the same numbers.
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
