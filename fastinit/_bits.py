"""Bit casts between floats and unsigned integers of the same width, and ``mul``.

Each is a plain Python function (numpy views) for pure-Python runs
(``NUMBA_DISABLE_JIT=1``) and a Numba overload for compiled code, where it is a
free LLVM ``bitcast`` that vectorizes.

``mul(a, b)`` is ``a * b`` in Python and on the CPU (an inlined ``fmul``). On the
CUDA target it is libdevice's ``fmul_rn``/``dmul_rn`` (PTX ``mul.rn``), which NVVM
never contracts into a fused multiply-add with the addition it feeds; that overload
is registered by ``fastinit.backends.numba_cuda`` when it imports numba.cuda
(``register_cuda_mul``). Until then the CUDA target has no ``mul`` at all, so a
kernel cannot silently compile with contractions.
"""

import numpy as np
from numba import types
from numba.core.extending import intrinsic, overload, register_jitable

# How fastinit's scalar functions compile: once per signature, with no Python entry
# point, and inlined by LLVM (NVVM) into each caller. Inlining at the Numba level
# instead re-typed and re-lowered a callee at every call site, and the Python wrappers
# alone were a fifth of a first compile.
DEVICE = {"forceinline": True, "error_model": "numpy", "no_cpython_wrapper": True,
          "no_cfunc_wrapper": True}


def device(fn):
    """``fn`` stays a plain Python function (under ``NUMBA_DISABLE_JIT``, the CUDA
    simulator or a call from Python it runs as Python); compiled code, on the CPU and
    on CUDA, calls its compilation with the ``DEVICE`` options."""
    return register_jitable(**DEVICE)(fn)


def _bitcast(src_type, dst_type, src_np, dst_np):
    def python_cast(x):
        return np.array(x, dtype=src_np).view(dst_np)[()]

    @intrinsic
    def cast(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(dst_type))

        return dst_type(src_type), codegen

    @overload(python_cast, jit_options=DEVICE)
    def _jitted(x):
        if x != src_type:
            return lambda x: cast(src_np(x))
        return lambda x: cast(x)

    return python_cast


f32_to_u32 = _bitcast(types.float32, types.uint32, np.float32, np.uint32)
u32_to_f32 = _bitcast(types.uint32, types.float32, np.uint32, np.float32)
f64_to_u64 = _bitcast(types.float64, types.uint64, np.float64, np.uint64)
u64_to_f64 = _bitcast(types.uint64, types.float64, np.uint64, np.float64)


def mul(a, b):
    """a * b, rounded on its own: never fused into an FMA with the add it feeds (CUDA)."""
    return a * b


@overload(mul, jit_options=DEVICE, target="cpu")
def _mul_cpu(a, b):
    return lambda a, b: a * b


def register_cuda_mul(cuda_overload, libdevice):
    """Register ``mul`` for the CUDA target with numba.cuda's ``overload``: libdevice's
    ``fmul_rn`` for two float32s, else ``dmul_rn`` (float64, as ``*`` promotes)."""

    # NVVM inlines it; Numba-level inlining of ~100 call sites made kernels compile 4x slower.
    @cuda_overload(mul, inline="never", target="cuda")
    def _mul_cuda(a, b):
        if a == types.float32 and b == types.float32:
            return lambda a, b: libdevice.fmul_rn(a, b)
        return lambda a, b: libdevice.dmul_rn(a, b)
