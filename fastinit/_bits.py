"""Bit casts between floats and unsigned integers of the same width.

Each is a plain Python function (numpy views) for pure-Python runs
(``NUMBA_DISABLE_JIT=1``) and a Numba overload for compiled code, where it is a
free LLVM ``bitcast`` that vectorizes.
"""

import numpy as np
from numba import types
from numba.core.extending import intrinsic, overload


def _bitcast(src_type, dst_type, src_np, dst_np):
    def python_cast(x):
        return np.array(x, dtype=src_np).view(dst_np)[()]

    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst_type))

        return dst_type(src_type), codegen

    @overload(python_cast)
    def _jitted(x):
        if x != src_type:
            return lambda x: cast(src_np(x))
        return lambda x: cast(x)

    return python_cast


f32_to_u32 = _bitcast(types.float32, types.uint32, np.float32, np.uint32)
u32_to_f32 = _bitcast(types.uint32, types.float32, np.uint32, np.float32)
f64_to_u64 = _bitcast(types.float64, types.uint64, np.float64, np.uint64)
u64_to_f64 = _bitcast(types.uint64, types.float64, np.uint64, np.float64)
