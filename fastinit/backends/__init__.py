"""Fill backends. Each exposes ``fill(buf, layout, rule, dtype, key, stream, block0, start, n)``."""
