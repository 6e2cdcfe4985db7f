// Philox4x32-R (Salmon et al., SC'11) exactly as Random123 defines it, and the stream
// contract's addressing of a block (docs/stream.md, section 2).
#pragma once
#ifndef __CUDACC__
#include "emulation.h"
#endif
#include "constants.cuh"

namespace fastinit {

__device__ __forceinline__ uint4 philox_round(uint4 c, unsigned int k0, unsigned int k1) {
  const unsigned int hi0 = __umulhi(PHILOX_M0, c.x), lo0 = PHILOX_M0 * c.x;
  const unsigned int hi1 = __umulhi(PHILOX_M1, c.z), lo1 = PHILOX_M1 * c.z;
  return make_uint4(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
}

// The four output words of counter (c.x .. c.w) under key (k.x, k.y).
__device__ __forceinline__ uint4 philox_words(uint4 c, uint2 k, int rounds) {
  c = philox_round(c, k.x, k.y);
  for (int r = 1; r < rounds; ++r) {
    k.x += PHILOX_W0;
    k.y += PHILOX_W1;
    c = philox_round(c, k.x, k.y);
  }
  return c;
}

// Block `block` of stream (seed, stream): key = (low32(seed), high32(seed)),
// counter = (low32(block), high32(block), low32(stream), high32(stream)), 10 rounds.
__device__ __forceinline__ uint4 philox_block(unsigned long long seed, unsigned long long stream,
                                              unsigned long long block) {
  const uint4 counter = make_uint4(static_cast<unsigned int>(block),
                                   static_cast<unsigned int>(block >> 32),
                                   static_cast<unsigned int>(stream),
                                   static_cast<unsigned int>(stream >> 32));
  const uint2 key = make_uint2(static_cast<unsigned int>(seed),
                               static_cast<unsigned int>(seed >> 32));
  return philox_words(counter, key, PHILOX_ROUNDS);
}

}  // namespace fastinit
