"""Golden vectors: the cases, and the script that writes tests/data/golden.json.

Run ``python tests/golden.py`` only when the stream contract changes on purpose
(docs/stream.md says what it is); the file pins every rule and dtype.
"""

import json
import pathlib

import numpy as np

import fastinit
from fastinit import Bernoulli, Integers, Normal, Raw, TruncatedNormal, Uniform

PATH = pathlib.Path(__file__).parent / "data" / "golden.json"
FLOATS = ["float16", "bfloat16", "float32", "float64"]
BIG = 2**34 + 3  # elements past 2**32 blocks' worth of 32-bit counters
CASES = (
    [("raw", Raw(), "uint32")]
    + [("uniform", Uniform(-1.5, 2.5), d) for d in FLOATS]
    + [("normal", Normal(0.25, 3.0), d) for d in FLOATS]
    + [("truncnorm", TruncatedNormal(0.0, 1.0, -2.0, 2.0), d) for d in FLOATS]
    + [("truncnorm_tail", TruncatedNormal(1.0, 0.5, 2.5, 6.0), d) for d in FLOATS]
    + [("truncnorm_wide", TruncatedNormal(0.0, 0.02, -2.0, 2.0), d) for d in FLOATS]
    + [("bernoulli", Bernoulli(0.3), d) for d in ("bool", "uint8", "float32")]
    + [("integers", Integers(-100, 100), d) for d in ("int8", "int16", "int32", "int64")]
    + [("integers_small", Integers(0, 200), d) for d in ("uint8", "uint16")]
    + [("integers_mask", Integers(0, 1), "bool")]
    # spans just above a power of two: about half of the tries rejected, so retries pinned
    + [("integers_half", Integers(0, 2**31), d) for d in ("uint32", "uint64")]
    + [("integers_wide", Integers(-2**63, 2**62), "int64")]
    + [("integers_full", Integers(0, 2**64 - 1), "uint64")]
)
PLACES = [  # (seed, stream, start, numel)
    (0, 0, 0, 16),
    (2**63 + 17, 2**40 + 1, 5, 64),
    (12345, 7, BIG, BIG + 16),
]


def generate(dist, dtype, seed, stream, start, numel):
    from fastinit.generator import numpy_dtype

    out = np.empty(numel - start if numel - start < 64 else 16, numpy_dtype(dtype))
    return fastinit.Generator(seed, stream).fill(out, dist, start=start, numel=numel)


def bits_hex(a):
    width = a.dtype.itemsize
    return [f"{int(v):0{2 * width}x}" for v in a.view(f"u{width}")]


def main():
    entries = []
    for name, dist, dtype in CASES:
        for seed, stream, start, numel in PLACES:
            values = generate(dist, dtype, seed, stream, start, numel)
            entries.append({"case": name, "dist": repr(dist), "dtype": dtype, "seed": seed,
                            "stream": stream, "start": start, "numel": numel,
                            "bits": bits_hex(values)})
    PATH.write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    main()
