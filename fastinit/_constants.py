"""Every constant of the stream contract, in one place.

The CPU core (``fastinit.core``), the numpy reference (``tests/reference.py``) and
the CUDA sources in ``kernels/`` all read their numbers from here; ``docs/stream.md``
documents them.
"""

# Philox4x32 (Salmon et al., SC'11; Random123 philox.h).
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # key bump, golden ratio
PHILOX_W1 = 0xBB67AE85  # key bump, sqrt(3) - 1
PHILOX_ROUNDS = 10

# Bounded integers' retries (docs/stream.md): retry round r = 1, 2, ... of block b reads
# block b XOR RETRY_BLOCK_BIT under the key seed + (r - 1) * RETRY_KEY_STEP (mod 2**64).
RETRY_BLOCK_BIT = 1 << 63
RETRY_KEY_STEP = 0x9E3779B97F4A7C15  # 2**64 / golden ratio, odd

# Natural logarithm, fdlibm's e_log.c / e_logf.c reduction and polynomial:
# x = m * 2**k, m in [sqrt(2)/2, sqrt(2)), f = m - 1, s = f / (2 + f),
# log(x) = k*ln2_hi - ((hfsq - (s*(hfsq + R(s*s)) + k*ln2_lo)) - f).
LOG_LG64 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
LOG_LN2_HI64 = 6.93147180369123816490e-01
LOG_LN2_LO64 = 1.90821492927058770002e-10
LOG_LG32 = (
    6.6666668653e-01,
    4.0000000596e-01,
    2.8571429849e-01,
    2.2222198546e-01,
    1.8183572590e-01,
    1.5313838422e-01,
    1.4798198640e-01,
)
LOG_LN2_HI32 = 6.9313812256e-01
LOG_LN2_LO32 = 9.0580006145e-06
SQRT_HALF = 0.70710678118654752440

# 2*pi, and Taylor coefficients of sin(x)/x and cos(x) in x*x on [-pi/4, pi/4]
# (the angle of Box-Muller is reduced to that interval by whole quarter turns).
TWO_PI = 6.28318530717958647692


def _taylor(first, count):
    coeffs, term, n = [], 1.0, first
    for _ in range(count):
        coeffs.append(term)
        term = -term / ((n + 1) * (n + 2))
        n += 2
    return tuple(coeffs)


SIN64 = _taylor(1, 9)  # x - x^3/3! + ... - x^17/17!
COS64 = _taylor(0, 10)  # 1 - x^2/2! + ... - x^18/18!
SIN32 = _taylor(1, 5)  # up to x^9/9!
COS32 = _taylor(0, 6)  # up to x^10/10!

# Inverse normal CDF, Wichura's AS241 (PPND16, Applied Statistics 37(3), 1988),
# coefficients lowest degree first.
AS241_SPLIT1 = 0.425
AS241_SPLIT2 = 5.0
AS241_CONST1 = 0.180625
AS241_CONST2 = 1.6
AS241_A = (
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
)
AS241_B = (
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
)
AS241_C = (
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
)
AS241_D = (
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
AS241_E = (
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
AS241_F = (
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)

# The same paper's PPND7, for 32-bit outputs, evaluated in float32 (same splits and
# offsets as above): relative error 1.2e-7 exactly evaluated, 4.2e-7 in float32 (about 7
# float32 ulps; tests/test_core.py measures it against scipy's ndtri).
PPND7_A = (3.3871327179, 50.434271938, 159.29113202, 59.109374720)
PPND7_B = (1.0, 17.895169469, 78.757757664, 67.187563600)
PPND7_C = (1.4234372777, 2.7568153900, 1.3067284816, 0.17023821103)
PPND7_D = (1.0, 0.73700164250, 0.12021132975)
PPND7_E = (6.6579051150, 3.0812263860, 0.42868294337, 0.017337203997)
PPND7_F = (1.0, 0.24197894225, 0.012258202635)

# fastinit's own band between PPND7's central branch and its tails, for 32-bit outputs:
# NDTRI32_SPLIT_MID <= -q < AS241_SPLIT1 (|z| from 1.44 to 2.054), without a log, so that
# bounds within about 2.05 sigma (trunc_normal_'s default -2, 2 on std 1, JAX's
# truncated normals) never take a tail. z = NDTRI32_MID_Z + (t * P(t)) / Q(t) with
# t = q - NDTRI32_MID_Q (exact: Sterbenz) and cubics P, Q fitted to scipy's ndtri
# (minimax relative error 2.6e-8 exactly evaluated); the coefficients are float32 values,
# rounded one at a time with the others refitted. Evaluated in float32, every float32 q
# of the band is within 1.5e-7 of ndtri(1/2 + q) (tests/test_core.py checks them all).
NDTRI32_SPLIT_MID = 0.48
NDTRI32_MID_Q = -0.453125
NDTRI32_MID_Z = -1.675939679145813
NDTRI32_MID_P = (10.209569931030273, 289.1458740234375, 2018.375, 2203.739990234375)
NDTRI32_MID_D = (1.0, 36.876461029052734, 398.2212219238281, 1155.595703125)


def cuda_header():
    """The text of ``kernels/constants.cuh``: every constant above that the CUDA kernels use.

    Floating constants are C hex-float literals, so they are exact: the float32 ones hold
    ``np.float32(c)`` of the Python double ``c``, exactly as ``fastinit.core`` rounds them,
    and the float64 ones hold ``c``. Scalars are ``static constexpr``; arrays are also
    ``__device__`` so that device code may index them (CUDA allows only scalar host
    ``constexpr`` variables in device code). The header compiles under NVRTC, nvcc and,
    through ``kernels/emulation.h``, as plain C++17. Regenerate with
    ``python -c "from fastinit._constants import cuda_header; print(cuda_header(), end='')"
    > kernels/constants.cuh``.
    """
    lines = [*_stream_lines(), *_transform_lines(), "", "}  // namespace fastinit", ""]
    return "\n".join(lines)


def _stream_lines():
    """The header's start, Philox's constants and the retries' constants."""
    return [
        "// Generated from fastinit/_constants.py by fastinit._constants.cuda_header(); do not",
        "// edit: regenerate as kernels/README.md says. float32 constants are np.float32(c) of",
        "// the Python double c, as fastinit.core rounds them; float64 constants are c.",
        "#pragma once",
        "#ifndef __CUDACC__",
        '#include "emulation.h"',
        "#endif",
        "",
        "namespace fastinit {",
        "",
        "// Philox4x32 (Salmon et al., SC'11; Random123 philox.h).",
        f"static constexpr unsigned int PHILOX_M0 = 0x{PHILOX_M0:08X}u;",
        f"static constexpr unsigned int PHILOX_M1 = 0x{PHILOX_M1:08X}u;",
        f"static constexpr unsigned int PHILOX_W0 = 0x{PHILOX_W0:08X}u;",
        f"static constexpr unsigned int PHILOX_W1 = 0x{PHILOX_W1:08X}u;",
        f"static constexpr int PHILOX_ROUNDS = {PHILOX_ROUNDS};",
        "",
        "// Bounded integers' retries: block b XOR RETRY_BLOCK_BIT, key seed + (r - 1) * step.",
        f"static constexpr unsigned long long RETRY_BLOCK_BIT = 0x{RETRY_BLOCK_BIT:016X}ull;",
        f"static constexpr unsigned long long RETRY_KEY_STEP = 0x{RETRY_KEY_STEP:016X}ull;",
        "",
    ]


def _transform_lines():
    """The constants of the rules' floating-point transforms."""
    lines = [
        "// Natural logarithm: fdlibm's polynomial and ln2 split.",
        _array("double", "LOG_LG64", LOG_LG64, _f64),
        _scalar("double", "LOG_LN2_HI64", LOG_LN2_HI64, _f64),
        _scalar("double", "LOG_LN2_LO64", LOG_LN2_LO64, _f64),
        _array("float", "LOG_LG32", LOG_LG32, _f32),
        _scalar("float", "LOG_LN2_HI32", LOG_LN2_HI32, _f32),
        _scalar("float", "LOG_LN2_LO32", LOG_LN2_LO32, _f32),
        "// sqrt(2) = 2 * SQRT_HALF, the upper end of the mantissa range.",
        _scalar("double", "SQRT2_64", 2.0 * SQRT_HALF, _f64),
        _scalar("float", "SQRT2_32", 2.0 * SQRT_HALF, _f32),
        "",
        "// 2*pi, and Taylor coefficients of sin(x)/x and cos(x) in x*x.",
        _scalar("double", "TWO_PI64", TWO_PI, _f64),
        _scalar("float", "TWO_PI32", TWO_PI, _f32),
        _array("double", "SIN64", SIN64, _f64),
        _array("double", "COS64", COS64, _f64),
        _array("float", "SIN32", SIN32, _f32),
        _array("float", "COS32", COS32, _f32),
        "",
        "// Inverse normal CDF: Wichura's AS241, coefficients lowest degree first.",
        _scalar("double", "AS241_SPLIT1", AS241_SPLIT1, _f64),
        _scalar("double", "AS241_SPLIT2", AS241_SPLIT2, _f64),
        _scalar("double", "AS241_CONST1", AS241_CONST1, _f64),
        _scalar("double", "AS241_CONST2", AS241_CONST2, _f64),
    ]
    for name, values in (("A", AS241_A), ("B", AS241_B), ("C", AS241_C), ("D", AS241_D),
                         ("E", AS241_E), ("F", AS241_F)):
        lines.append(_array("double", f"AS241_{name}", values, _f64))
    for name, values in (("A", PPND7_A), ("B", PPND7_B), ("C", PPND7_C), ("D", PPND7_D),
                         ("E", PPND7_E), ("F", PPND7_F)):
        lines.append(_array("float", f"PPND7_{name}", values, _f32))
    lines += [
        "",
        "// The band between PPND7's central branch and its tails (32-bit outputs).",
        _scalar("float", "NDTRI32_SPLIT_MID", NDTRI32_SPLIT_MID, _f32),
        _scalar("float", "NDTRI32_MID_Q", NDTRI32_MID_Q, _f32),
        _scalar("float", "NDTRI32_MID_Z", NDTRI32_MID_Z, _f32),
        _array("float", "NDTRI32_MID_P", NDTRI32_MID_P, _f32),
        _array("float", "NDTRI32_MID_D", NDTRI32_MID_D, _f32),
    ]
    return lines


def _f64(c):
    """A C hex-float literal of the double ``c``: exact."""
    mantissa, exponent = float(c).hex().split("p")
    return f"{mantissa.rstrip('0').rstrip('.')}p{exponent}"


def _f32(c):
    """A C hex-float literal of ``np.float32(c)``, as ``fastinit.core`` rounds ``c``."""
    import numpy as np

    return _f64(float(np.float32(c))) + "f"


def _scalar(ctype, name, value, to_hex):
    return f"static constexpr {ctype} {name} = {to_hex(value)};  // {value!r}"


def _array(ctype, name, values, to_hex):
    items = "".join(f"    {to_hex(c)},  // {c!r}\n" for c in values)
    return f"static __device__ constexpr {ctype} {name}[{len(values)}] = {{\n{items}}};"
