// The word-to-value rules of docs/stream.md, mirroring fastinit/core.py operation for
// operation: the same IEEE operations in the same order, integers converted to floats through
// signed 32-bit int, the same selects. Only +, -, *, /, sqrt and conversions, all rounded to
// nearest even; compile without contraction into FMAs (nvcc/NVRTC --fmad=false, host
// -ffp-contract=off) and without flush-to-zero or approximate division/sqrt.
#pragma once
#ifndef __CUDACC__
#include "emulation.h"
#endif
#include "constants.cuh"

namespace fastinit {

// --- uniforms from words; every product by a power of two is exact -----------------------

// float32 in [0, 1 - 2^-24]: the top 24 bits of a word.
__device__ __forceinline__ float u01_24(unsigned int w) {
  return static_cast<float>(static_cast<int>(w >> 8)) * 0x1p-24f;
}

// float32 in [0, 1 - 2^-16]: a 16-bit half-word.
__device__ __forceinline__ float u01_16(unsigned int h) {
  return static_cast<float>(static_cast<int>(h)) * 0x1p-16f;
}

// 53 random bits: the 32 of wa above the top 21 of wb.
__device__ __forceinline__ unsigned long long bits53(unsigned int wa, unsigned int wb) {
  return (static_cast<unsigned long long>(wa) << 21) | (wb >> 11);
}

// (k | low_bit) / 2^53 for the 53 bits k of two words, summed from its top 27 and low 26 bits.
__device__ __forceinline__ double u53(unsigned int wa, unsigned int wb, unsigned int low_bit) {
  const double hi = static_cast<double>(static_cast<int>(wa >> 5));
  const unsigned int low26 = ((wa & 31u) << 21) | (wb >> 11) | low_bit;
  const double lo = static_cast<double>(static_cast<int>(low26));
  return hi * 0x1p-27 + lo * 0x1p-53;
}

// float64 in [0, 1 - 2^-53].
__device__ __forceinline__ double u01_53(unsigned int wa, unsigned int wb) {
  return u53(wa, wb, 0u);
}

// float64 in (0, 1): (w + 1/2) / 2^32.
__device__ __forceinline__ double u01_open32(unsigned int w) {
  const double hi = static_cast<double>(static_cast<int>(w >> 16));
  const double lo = static_cast<double>(static_cast<int>(w & 0xFFFFu));
  return (hi * 0x1p16 + lo + 0.5) * 0x1p-32;
}

// float64 in [2^-53, 1 - 2^-53]: (k | 1) / 2^53.
__device__ __forceinline__ double u01_open53(unsigned int wa, unsigned int wb) {
  return u53(wa, wb, 1u);
}

// --- bounded integers: Lemire's multiply-shift with rejection -----------------------------
// A try maps a uniform x in [0, 2^n) to x * (span + 1) = k * 2^n + l, k in [0, span]; it is
// rejected when l < 2^n mod (span + 1).

// w * (span + 1) for a word w and span < 2^32: below 2^64, exact.
__device__ __forceinline__ unsigned long long lemire32(unsigned int w, unsigned int span) {
  const unsigned long long x = w;
  return x * span + x;
}

struct Product128 {
  unsigned long long high, low;
};

// x * (span + 1) for x = x1 * 2^32 + x0 (two words) and span < 2^64, from 32-bit halves.
__device__ __forceinline__ Product128 lemire64(unsigned int x1, unsigned int x0,
                                               unsigned long long span) {
  const unsigned long long s0 = span & 0xFFFFFFFFull, s1 = span >> 32;
  const unsigned long long a1 = x1, a0 = x0;
  const unsigned long long p00 = a0 * s0 + a0;
  const unsigned long long p10 = a1 * s0 + a1;
  const unsigned long long p01 = a0 * s1;
  const unsigned long long mid = (p00 >> 32) + (p10 & 0xFFFFFFFFull) + (p01 & 0xFFFFFFFFull);
  return {a1 * s1 + (p10 >> 32) + (p01 >> 32) + (mid >> 32),
          ((mid & 0xFFFFFFFFull) << 32) | (p00 & 0xFFFFFFFFull)};
}

// --- natural logarithm: fdlibm's reduction and polynomial ---------------------------------

// log(x) for a positive, normal float32 x.
__device__ __forceinline__ float log32(float x) {
  const unsigned int b = __float_as_uint(x);
  int k = static_cast<int>(b >> 23) - 127;
  float m = __uint_as_float((b & 0x007FFFFFu) | 0x3F800000u);
  const bool big = m > SQRT2_32;
  m = big ? m * 0.5f : m;
  k = big ? k + 1 : k;
  const float f = m - 1.0f;
  const float s = f / (2.0f + f);
  const float z = s * s;
  const float w = z * z;
  const float t1 = w * (LOG_LG32[1] + w * (LOG_LG32[3] + w * LOG_LG32[5]));
  const float t2 = z * (LOG_LG32[0] + w * (LOG_LG32[2] + w * (LOG_LG32[4] + w * LOG_LG32[6])));
  const float r = t2 + t1;
  const float hfsq = 0.5f * f * f;
  const float dk = static_cast<float>(k);
  return dk * LOG_LN2_HI32 - ((hfsq - (s * (hfsq + r) + dk * LOG_LN2_LO32)) - f);
}

// log(x) for a positive float64 x, subnormals included.
__device__ __forceinline__ double log64(double x) {
  const bool tiny = x < 0x1p-1022;
  x = tiny ? x * 0x1p54 : x;
  long long k = tiny ? -1077 : -1023;
  const unsigned long long b = static_cast<unsigned long long>(__double_as_longlong(x));
  k = k + static_cast<long long>(b >> 52);
  double m = __longlong_as_double(
      static_cast<long long>((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull));
  const bool big = m > SQRT2_64;
  m = big ? m * 0.5 : m;
  k = big ? k + 1 : k;
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  const double w = z * z;
  const double t1 = w * (LOG_LG64[1] + w * (LOG_LG64[3] + w * LOG_LG64[5]));
  const double t2 = z * (LOG_LG64[0] + w * (LOG_LG64[2] + w * (LOG_LG64[4] + w * LOG_LG64[6])));
  const double r = t2 + t1;
  const double hfsq = 0.5 * f * f;
  const double dk = static_cast<double>(static_cast<int>(k));
  return dk * LOG_LN2_HI64 - ((hfsq - (s * (hfsq + r) + dk * LOG_LN2_LO64)) - f);
}

// --- sin and cos of a whole number of turns -----------------------------------------------
// The turn is split into the nearest quarter turn n and a remainder in [-1/8, 1/8) turn.

// (sin, cos) of x + n quarter turns from (sin x, cos x), with selects only.
template <class T>
__device__ __forceinline__ void quadrant(T s, T c, int n, T* sin_out, T* cos_out) {
  const bool swap = (n & 1) != 0;
  const T s2 = swap ? c : s;
  const T c2 = swap ? s : c;
  *sin_out = (n & 2) != 0 ? -s2 : s2;
  *cos_out = ((n + 1) & 2) != 0 ? -c2 : c2;
}

// sin and cos of 2*pi*k/2^24 in float32, for 0 <= k < 2^24.
__device__ __forceinline__ void sincos_turn24(unsigned int k, float* sin_out, float* cos_out) {
  const int kk = static_cast<int>(k);
  const int n = (kk + (1 << 21)) >> 22;
  const float x = static_cast<float>(kk - (n << 22)) * 0x1p-24f * TWO_PI32;
  const float z = x * x;
  const float ps = SIN32[1] + z * (SIN32[2] + z * (SIN32[3] + z * SIN32[4]));
  const float pc = COS32[1] + z * (COS32[2] + z * (COS32[3] + z * (COS32[4] + z * COS32[5])));
  quadrant(x + x * z * ps, 1.0f + z * pc, n, sin_out, cos_out);
}

// sin and cos of 2*pi*k/2^53 in float64, for 0 <= k < 2^53.
__device__ __forceinline__ void sincos_turn53(unsigned long long k, double* sin_out,
                                              double* cos_out) {
  const unsigned long long n = (k + (1ull << 50)) >> 51;
  const long long r = static_cast<long long>(k) - static_cast<long long>(n << 51);
  const double x = (static_cast<double>(static_cast<int>(r >> 26)) * 0x1p-27 +
                    static_cast<double>(static_cast<int>(r & 0x3FFFFFF)) * 0x1p-53) *
                   TWO_PI64;
  const double z = x * x;
  const double ps = SIN64[1] + z * (SIN64[2] + z * (SIN64[3] + z * (SIN64[4] + z * (SIN64[5] +
                    z * (SIN64[6] + z * (SIN64[7] + z * SIN64[8]))))));
  const double pc = COS64[1] + z * (COS64[2] + z * (COS64[3] + z * (COS64[4] + z * (COS64[5] +
                    z * (COS64[6] + z * (COS64[7] + z * (COS64[8] + z * COS64[9])))))));
  quadrant(x + x * z * ps, 1.0 + z * pc, static_cast<int>(n), sin_out, cos_out);
}

// --- Box-Muller: (r cos t, r sin t), r = sqrt(-2 log u1), u1 in (0, 1] ----------------------

__device__ __forceinline__ void box_muller32(unsigned int wa, unsigned int wb, float* z0,
                                             float* z1) {
  const float u1 = u01_24(wa) + 0x1p-24f;
  const float r = sqrtf(-2.0f * log32(u1));
  float s, c;
  sincos_turn24(wb >> 8, &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

__device__ __forceinline__ void box_muller64(unsigned int w0, unsigned int w1, unsigned int w2,
                                             unsigned int w3, double* z0, double* z1) {
  const double u1 = u01_53(w0, w1) + 0x1p-53;
  const double r = sqrt(-2.0 * log64(u1));
  double s, c;
  sincos_turn53(bits53(w2, w3), &s, &c);
  *z0 = r * c;
  *z1 = r * s;
}

// --- inverse normal CDF on the lower half: Wichura's AS241 ---------------------------------

__device__ __forceinline__ double poly7(const double* c, double r) {
  return ((((((c[7] * r + c[6]) * r + c[5]) * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r +
         c[0];
}

// z with Phi(z) = p, for p in (0, 1/2]. All three branches are evaluated and one selected.
__device__ __forceinline__ double ndtri_lower(double p) {
  const double q = p - 0.5;
  const double r = AS241_CONST1 - q * q;
  const double central = q * poly7(AS241_A, r) / poly7(AS241_B, r);
  const double s = sqrt(-log64(p));
  const double s_near = s - AS241_CONST2;
  const double s_far = s - AS241_SPLIT2;
  const double tail = s <= AS241_SPLIT2 ? -(poly7(AS241_C, s_near) / poly7(AS241_D, s_near))
                                        : -(poly7(AS241_E, s_far) / poly7(AS241_F, s_far));
  return q >= -AS241_SPLIT1 ? central : tail;
}

// Standard normal z truncated to [alpha, beta] by one inverse CDF, given pa = Phi(alpha),
// qb = 1 - Phi(beta) and mass = Phi(beta) - Phi(alpha); u in (0, 1).
__device__ __forceinline__ double truncnorm_std(double u, double pa, double qb, double mass) {
  const double t = pa + u * mass;
  const bool lower = t <= 0.5;
  const double z = ndtri_lower(lower ? t : qb + (1.0 - u) * mass);
  return lower ? z : -z;
}

// --- the truncated normal of 32-bit outputs: AS241's PPND7 in float32, and a band ----------

__device__ __forceinline__ float poly3(const float* c, float r) {
  return ((c[3] * r + c[2]) * r + c[1]) * r + c[0];
}

__device__ __forceinline__ float poly2(const float* c, float r) {
  return (c[2] * r + c[1]) * r + c[0];
}

// -log(p) in float32 for a positive float64 p, subnormals included: p's binary exponent k and
// the top 23 bits of its mantissa m, -(k ln2_hi + (log32(m) + k ln2_lo)).
__device__ __forceinline__ float neglog32(double p) {
  const bool tiny = p < 0x1p-1022;
  p = tiny ? p * 0x1p54 : p;
  const unsigned long long b = static_cast<unsigned long long>(__double_as_longlong(p));
  const int k = static_cast<int>(b >> 52) - (tiny ? 1077 : 1023);
  const float m = __uint_as_float(static_cast<unsigned int>((b >> 29) & 0x7FFFFFull) | 0x3F800000u);
  const float dk = static_cast<float>(k);
  return -(dk * LOG_LN2_HI32 + (log32(m) + dk * LOG_LN2_LO32));
}

// float32 z with Phi(z) = p, for a float64 p in (0, 1/2]; only the branch taken is evaluated:
// PPND7's central branch, fastinit's band (-0.48 <= q < -0.425), or PPND7's tails.
__device__ __forceinline__ float ndtri_lower32(double p) {
  const float q = static_cast<float>(p - 0.5);
  if (q >= -static_cast<float>(AS241_SPLIT1)) {
    const float r = static_cast<float>(AS241_CONST1) - q * q;
    return q * poly3(PPND7_A, r) / poly3(PPND7_B, r);
  }
  if (q >= -NDTRI32_SPLIT_MID) {
    const float t = q - NDTRI32_MID_Q;  // exact
    return t * poly3(NDTRI32_MID_P, t) / poly3(NDTRI32_MID_D, t) + NDTRI32_MID_Z;
  }
  const float s = sqrtf(neglog32(p));
  if (s <= static_cast<float>(AS241_SPLIT2)) {
    const float near = s - static_cast<float>(AS241_CONST2);
    return -(poly3(PPND7_C, near) / poly2(PPND7_D, near));
  }
  const float far = s - static_cast<float>(AS241_SPLIT2);
  return -(poly3(PPND7_E, far) / poly2(PPND7_F, far));
}

// truncnorm_std for 32-bit outputs: the same mirrored float64 probabilities, float32 z.
__device__ __forceinline__ float truncnorm_std32(double u, double pa, double qb, double mass) {
  const double t = pa + u * mass;
  const bool lower = t <= 0.5;
  const float z = ndtri_lower32(lower ? t : qb + (1.0 - u) * mass);
  return lower ? z : -z;
}

// min(max(v, lo), hi) as Numba's builtins compute it: max keeps its first argument unless the
// second compares greater, min unless the second compares less (so NaN passes through).
template <class T>
__device__ __forceinline__ T clip(T v, T lo, T hi) {
  const T m = lo > v ? lo : v;
  return hi < m ? hi : m;
}

// --- rounding float32 to 16-bit formats, to nearest even -------------------------------------

// bfloat16 bits of a finite float32.
__device__ __forceinline__ unsigned short bf16_bits(float x) {
  const unsigned int b = __float_as_uint(x);
  return static_cast<unsigned short>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

// IEEE half bits of a finite float32 (overflow to infinity).
__device__ __forceinline__ unsigned short f16_bits(float x) {
  const unsigned int max_bits = (127u + 16u) << 23;  // 2^16: rounds to infinity from here
  const unsigned int min_normal_bits = 113u << 23;   // 2^-14, the smallest normal half
  const float denorm_magic = 0.5f;                   // the float with bits 126 << 23
  const unsigned int rebias = 112u << 23;
  const unsigned int b = __float_as_uint(x);
  const unsigned int sign = (b >> 16) & 0x8000u;
  const unsigned int a = b & 0x7FFFFFFFu;
  unsigned int h;
  if (a >= max_bits) {
    h = 0x7C00u;
  } else if (a < min_normal_bits) {
    h = __float_as_uint(__uint_as_float(a) + denorm_magic) - __float_as_uint(denorm_magic);
  } else {
    const unsigned int odd = (a >> 13) & 1u;
    h = (a - rebias + 0xFFFu + odd) >> 13;
  }
  return static_cast<unsigned short>(h | sign);
}

}  // namespace fastinit
