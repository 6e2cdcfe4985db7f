"""Tensor names and their streams (docs/stream.md, section 5)."""

import hashlib

import pytest

from fastinit.torch import canonical_name, stream_of

# Pinned: changing any of these changes every model's values.
STREAMS = {
    "weight": 0x84E02E3EDC717246,
    "transformer.h.0.attn.c_attn.weight": 0x1E60E497A432B0D8,
    "\u00e9.weight": 0xC5ECC317F88C28E7,
}


@pytest.mark.parametrize("name", STREAMS)
def test_the_stream_of_a_name_is_pinned(name):
    assert stream_of(name) == STREAMS[name]


def test_the_stream_is_blake2b_of_the_name_little_endian():
    digest = hashlib.blake2b(b"emb.weight", digest_size=8).digest()
    assert stream_of("emb.weight") == int.from_bytes(digest, "little")


@pytest.mark.parametrize("wrapped", [
    "_fsdp_wrapped_module.h.0.weight",
    "h._fsdp_wrapped_module.0.weight",
    "_orig_mod.h.0._checkpoint_wrapped_module.weight",
    "_orig_mod._fsdp_wrapped_module.h._checkpoint_wrapped_module.0.weight",
])
def test_wrapper_prefixes_do_not_change_the_stream(wrapped):
    assert canonical_name(wrapped) == "h.0.weight"
    assert stream_of(wrapped) == stream_of("h.0.weight")


def test_a_name_that_merely_contains_a_wrapper_word_is_kept():
    assert canonical_name("my_orig_mod.weight") == "my_orig_mod.weight"


def test_names_must_be_strings():
    with pytest.raises(TypeError, match="name must be a str"):
        stream_of(3)
