// Each rule's transform, mirroring fastinit/core.py's rule section operation for operation:
// transform::<name> takes the rule's parameters (rule_params::<name>) and the words the rule
// reads for one value (or for two: pair2 and block2 rules, through two outputs), as
// fastinit/registry.py declares. Included by rules.cuh (generated), between the parameter
// structs and the rule structs that call these.
#pragma once

namespace fastinit {
namespace transform {

__device__ __forceinline__ unsigned int raw(const rule_params::raw&, unsigned int w) { return w; }

// 1 or 0: w < round(p * 2^32), up to 2^32 inclusive.
__device__ __forceinline__ float bernoulli(const rule_params::bernoulli& p, unsigned int w) {
  return w < p.threshold ? 1.0f : 0.0f;
}

__device__ __forceinline__ float uniform32(const rule_params::uniform32& p, unsigned int w) {
  return clip(p.lo + p.span * u01_24(w), p.bot, p.top);
}

__device__ __forceinline__ float uniform16(const rule_params::uniform16& p, unsigned int h) {
  return clip(p.lo + p.span * u01_16(h), p.bot, p.top);
}

__device__ __forceinline__ double uniform64(const rule_params::uniform64& p, unsigned int wa,
                                            unsigned int wb) {
  return clip(p.lo + p.span * u01_53(wa, wb), p.bot, p.top);
}

__device__ __forceinline__ void normal32(const rule_params::normal32& p, unsigned int wa,
                                         unsigned int wb, float* v0, float* v1) {
  float z0, z1;
  box_muller32(wa, wb, &z0, &z1);
  *v0 = p.mean + p.stddev * z0;
  *v1 = p.mean + p.stddev * z1;
}

__device__ __forceinline__ void normal64(const rule_params::normal64& p, unsigned int w0,
                                         unsigned int w1, unsigned int w2, unsigned int w3,
                                         double* v0, double* v1) {
  double z0, z1;
  box_muller64(w0, w1, w2, w3, &z0, &z1);
  *v0 = p.mean + p.stddev * z0;
  *v1 = p.mean + p.stddev * z1;
}

// z in float32 (PPND7), mean + stddev * z in float64, rounded to float32, then clipped to
// float32 limits.
__device__ __forceinline__ float truncnorm32(const rule_params::truncnorm32& p, unsigned int w) {
  const double z = static_cast<double>(truncnorm_std32(u01_open32(w), p.pa, p.qb, p.mass));
  return clip(static_cast<float>(p.mean + p.stddev * z), p.bot, p.top);
}

__device__ __forceinline__ double truncnorm64(const rule_params::truncnorm64& p, unsigned int wa,
                                              unsigned int wb) {
  return clip(p.mean + p.stddev * truncnorm_std(u01_open53(wa, wb), p.pa, p.qb, p.mass), p.bot,
              p.top);
}

// Bounded integers: a try is Lemire's product of a word (integers32: spans below 2^32) or word
// pair (integers64) by span + 1; it is rejected when its low half is below the threshold, and
// its value is low + its high half (mod 2^64: the integer's two's complement).
__device__ __forceinline__ unsigned long long integers32(const rule_params::integers32& p,
                                                         unsigned int w) {
  return lemire32(w, p.span);
}

__device__ __forceinline__ bool integers32_rejected(const rule_params::integers32& p,
                                                    unsigned long long m) {
  return (m & 0xFFFFFFFFull) < p.reject;
}

__device__ __forceinline__ unsigned long long integers32_value(const rule_params::integers32& p,
                                                               unsigned long long m) {
  return p.low + (m >> 32);
}

__device__ __forceinline__ Product128 integers64(const rule_params::integers64& p, unsigned int x1,
                                                 unsigned int x0) {
  return lemire64(x1, x0, p.span);
}

__device__ __forceinline__ bool integers64_rejected(const rule_params::integers64& p,
                                                    Product128 m) {
  return m.low < p.reject;
}

__device__ __forceinline__ unsigned long long integers64_value(const rule_params::integers64& p,
                                                               Product128 m) {
  return p.low + m.high;
}

}  // namespace transform
}  // namespace fastinit
