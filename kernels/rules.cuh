// Generated from fastinit/registry.py by fastinit.registry.cuda_rules(); do not edit:
// regenerate as kernels/README.md says. kernels/rule_transforms.cuh holds the rules'
// transforms, by hand.
#pragma once

namespace fastinit {

// Each rule's parameters, in the types it computes in, from a Params row.
namespace rule_params {

struct raw {
  __device__ explicit raw(const Params&) {}
};

struct bernoulli {
  unsigned long long threshold;
  __device__ explicit bernoulli(const Params& p)
      : threshold(static_cast<unsigned long long>(p.v[0])) {}
};

struct uniform32 {
  float lo;
  float span;
  float bot;
  float top;
  __device__ explicit uniform32(const Params& p)
      : lo(static_cast<float>(p.v[0])),
        span(static_cast<float>(p.v[1])),
        bot(static_cast<float>(p.v[2])),
        top(static_cast<float>(p.v[3])) {}
};

struct uniform16 {
  float lo;
  float span;
  float bot;
  float top;
  __device__ explicit uniform16(const Params& p)
      : lo(static_cast<float>(p.v[0])),
        span(static_cast<float>(p.v[1])),
        bot(static_cast<float>(p.v[2])),
        top(static_cast<float>(p.v[3])) {}
};

struct uniform64 {
  double lo;
  double span;
  double bot;
  double top;
  __device__ explicit uniform64(const Params& p)
      : lo(p.v[0]),
        span(p.v[1]),
        bot(p.v[2]),
        top(p.v[3]) {}
};

struct normal32 {
  float mean;
  float stddev;
  __device__ explicit normal32(const Params& p)
      : mean(static_cast<float>(p.v[0])),
        stddev(static_cast<float>(p.v[1])) {}
};

struct normal64 {
  double mean;
  double stddev;
  __device__ explicit normal64(const Params& p)
      : mean(p.v[0]),
        stddev(p.v[1]) {}
};

struct truncnorm32 {
  double pa;
  double qb;
  double mass;
  double mean;
  double stddev;
  float bot;
  float top;
  __device__ explicit truncnorm32(const Params& p)
      : pa(p.v[0]),
        qb(p.v[1]),
        mass(p.v[2]),
        mean(p.v[3]),
        stddev(p.v[4]),
        bot(static_cast<float>(p.v[5])),
        top(static_cast<float>(p.v[6])) {}
};

struct truncnorm64 {
  double pa;
  double qb;
  double mass;
  double mean;
  double stddev;
  double bot;
  double top;
  __device__ explicit truncnorm64(const Params& p)
      : pa(p.v[0]),
        qb(p.v[1]),
        mass(p.v[2]),
        mean(p.v[3]),
        stddev(p.v[4]),
        bot(p.v[5]),
        top(p.v[6]) {}
};

struct integers32 {
  unsigned long long low;
  unsigned int span;
  unsigned int reject;
  __device__ explicit integers32(const Params& p)
      : low(static_cast<unsigned long long>(from_halves(p.v[0], p.v[1]))),
        span(static_cast<unsigned int>(from_halves(p.v[2], p.v[3]))),
        reject(static_cast<unsigned int>(from_halves(p.v[4], p.v[5]))) {}
};

struct integers64 {
  unsigned long long low;
  unsigned long long span;
  unsigned long long reject;
  __device__ explicit integers64(const Params& p)
      : low(static_cast<unsigned long long>(from_halves(p.v[0], p.v[1]))),
        span(static_cast<unsigned long long>(from_halves(p.v[2], p.v[3]))),
        reject(static_cast<unsigned long long>(from_halves(p.v[4], p.v[5]))) {}
};

}  // namespace rule_params
}  // namespace fastinit

#include "rule_transforms.cuh"

namespace fastinit {

// Each rule: a block's words to its E values.
namespace rule {

// The rules that take every try.
struct takes_every_try {
  __device__ bool rejects(uint4) const { return false; }
  template <class Value>
  __device__ void retry(uint4, Value*, const Counter&, unsigned long long) const {}
};

// raw (uint32): one word, one value: words 0, 1, 2, 3 make values 0, 1, 2, 3.
struct raw : rule_params::raw, takes_every_try {
  static constexpr int E = 4;
  using value = unsigned int;
  using rule_params::raw::raw;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::raw(*this, w.x);
    v[1] = transform::raw(*this, w.y);
    v[2] = transform::raw(*this, w.z);
    v[3] = transform::raw(*this, w.w);
  }
};

// bernoulli (bool, uint8, float16, bfloat16, float32, float64): one word, one value: words 0,
// 1, 2, 3 make values 0, 1, 2, 3.
struct bernoulli : rule_params::bernoulli, takes_every_try {
  static constexpr int E = 4;
  using value = float;
  using rule_params::bernoulli::bernoulli;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::bernoulli(*this, w.x);
    v[1] = transform::bernoulli(*this, w.y);
    v[2] = transform::bernoulli(*this, w.z);
    v[3] = transform::bernoulli(*this, w.w);
  }
};

// uniform32 (float32): one word, one value: words 0, 1, 2, 3 make values 0, 1, 2, 3.
struct uniform32 : rule_params::uniform32, takes_every_try {
  static constexpr int E = 4;
  using value = float;
  using rule_params::uniform32::uniform32;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::uniform32(*this, w.x);
    v[1] = transform::uniform32(*this, w.y);
    v[2] = transform::uniform32(*this, w.z);
    v[3] = transform::uniform32(*this, w.w);
  }
};

// uniform16 (float16, bfloat16): one 16-bit half-word, one value, the low half first: word k
// makes values 2k (its low half) and 2k + 1 (its high half).
struct uniform16 : rule_params::uniform16, takes_every_try {
  static constexpr int E = 8;
  using value = float;
  using rule_params::uniform16::uniform16;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::uniform16(*this, w.x & 0xFFFFu);
    v[1] = transform::uniform16(*this, w.x >> 16);
    v[2] = transform::uniform16(*this, w.y & 0xFFFFu);
    v[3] = transform::uniform16(*this, w.y >> 16);
    v[4] = transform::uniform16(*this, w.z & 0xFFFFu);
    v[5] = transform::uniform16(*this, w.z >> 16);
    v[6] = transform::uniform16(*this, w.w & 0xFFFFu);
    v[7] = transform::uniform16(*this, w.w >> 16);
  }
};

// uniform64 (float64): two words, one value: words (0, 1) make value 0, words (2, 3) value 1.
struct uniform64 : rule_params::uniform64, takes_every_try {
  static constexpr int E = 2;
  using value = double;
  using rule_params::uniform64::uniform64;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::uniform64(*this, w.x, w.y);
    v[1] = transform::uniform64(*this, w.z, w.w);
  }
};

// normal32 (float16, bfloat16, float32): two words, two values: words (0, 1) make values 0 and
// 1, words (2, 3) values 2 and 3.
struct normal32 : rule_params::normal32, takes_every_try {
  static constexpr int E = 4;
  using value = float;
  using rule_params::normal32::normal32;
  __device__ void emit(uint4 w, value v[E]) const {
    transform::normal32(*this, w.x, w.y, &v[0], &v[1]);
    transform::normal32(*this, w.z, w.w, &v[2], &v[3]);
  }
};

// normal64 (float64): four words, two values.
struct normal64 : rule_params::normal64, takes_every_try {
  static constexpr int E = 2;
  using value = double;
  using rule_params::normal64::normal64;
  __device__ void emit(uint4 w, value v[E]) const {
    transform::normal64(*this, w.x, w.y, w.z, w.w, &v[0], &v[1]);
  }
};

// truncnorm32 (float16, bfloat16, float32): one word, one value: words 0, 1, 2, 3 make values
// 0, 1, 2, 3.
struct truncnorm32 : rule_params::truncnorm32, takes_every_try {
  static constexpr int E = 4;
  using value = float;
  using rule_params::truncnorm32::truncnorm32;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::truncnorm32(*this, w.x);
    v[1] = transform::truncnorm32(*this, w.y);
    v[2] = transform::truncnorm32(*this, w.z);
    v[3] = transform::truncnorm32(*this, w.w);
  }
};

// truncnorm64 (float64): two words, one value: words (0, 1) make value 0, words (2, 3) value 1.
struct truncnorm64 : rule_params::truncnorm64, takes_every_try {
  static constexpr int E = 2;
  using value = double;
  using rule_params::truncnorm64::truncnorm64;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::truncnorm64(*this, w.x, w.y);
    v[1] = transform::truncnorm64(*this, w.z, w.w);
  }
};

// integers32 (bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64): one word, one
// value: words 0, 1, 2, 3 make values 0, 1, 2, 3.
struct integers32 : rule_params::integers32 {
  static constexpr int E = 4;
  using value = unsigned long long;
  using rule_params::integers32::integers32;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::integers32_value(*this, transform::integers32(*this, w.x));
    v[1] = transform::integers32_value(*this, transform::integers32(*this, w.y));
    v[2] = transform::integers32_value(*this, transform::integers32(*this, w.z));
    v[3] = transform::integers32_value(*this, transform::integers32(*this, w.w));
  }
  __device__ bool rejects(uint4 w) const {
    const auto try_of = [this](auto... x) { return transform::integers32(*this, x...); };
    const auto rejected = [this](const auto& m) {
      return transform::integers32_rejected(*this, m);
    };
    return rejected(try_of(w.x)) |
           rejected(try_of(w.y)) |
           rejected(try_of(w.z)) |
           rejected(try_of(w.w));
  }
  __device__ void retry(uint4 w, value v[E], const Counter& c,
                        unsigned long long block) const {
    const auto try_of = [this](auto... x) { return transform::integers32(*this, x...); };
    const auto rejected = [this](const auto& m) {
      return transform::integers32_rejected(*this, m);
    };
    auto m0 = try_of(w.x);
    auto m1 = try_of(w.y);
    auto m2 = try_of(w.z);
    auto m3 = try_of(w.w);
    for (unsigned long long key = c.seed;
         rejected(m0) | rejected(m1) | rejected(m2) | rejected(m3); key += RETRY_KEY_STEP) {
      const uint4 r = philox_block(key, c.stream, block ^ RETRY_BLOCK_BIT);
      if (rejected(m0)) m0 = try_of(r.x);
      if (rejected(m1)) m1 = try_of(r.y);
      if (rejected(m2)) m2 = try_of(r.z);
      if (rejected(m3)) m3 = try_of(r.w);
    }
    v[0] = transform::integers32_value(*this, m0);
    v[1] = transform::integers32_value(*this, m1);
    v[2] = transform::integers32_value(*this, m2);
    v[3] = transform::integers32_value(*this, m3);
  }
};

// integers64 (int64, uint64): two words, one value: words (0, 1) make value 0, words (2, 3)
// value 1.
struct integers64 : rule_params::integers64 {
  static constexpr int E = 2;
  using value = unsigned long long;
  using rule_params::integers64::integers64;
  __device__ void emit(uint4 w, value v[E]) const {
    v[0] = transform::integers64_value(*this, transform::integers64(*this, w.x, w.y));
    v[1] = transform::integers64_value(*this, transform::integers64(*this, w.z, w.w));
  }
  __device__ bool rejects(uint4 w) const {
    const auto try_of = [this](auto... x) { return transform::integers64(*this, x...); };
    const auto rejected = [this](const auto& m) {
      return transform::integers64_rejected(*this, m);
    };
    return rejected(try_of(w.x, w.y)) |
           rejected(try_of(w.z, w.w));
  }
  __device__ void retry(uint4 w, value v[E], const Counter& c,
                        unsigned long long block) const {
    const auto try_of = [this](auto... x) { return transform::integers64(*this, x...); };
    const auto rejected = [this](const auto& m) {
      return transform::integers64_rejected(*this, m);
    };
    auto m0 = try_of(w.x, w.y);
    auto m1 = try_of(w.z, w.w);
    for (unsigned long long key = c.seed;
         rejected(m0) | rejected(m1); key += RETRY_KEY_STEP) {
      const uint4 r = philox_block(key, c.stream, block ^ RETRY_BLOCK_BIT);
      if (rejected(m0)) m0 = try_of(r.x, r.y);
      if (rejected(m1)) m1 = try_of(r.z, r.w);
    }
    v[0] = transform::integers64_value(*this, m0);
    v[1] = transform::integers64_value(*this, m1);
  }
};

}  // namespace rule

namespace family {  // fastinit.registry.FAMILIES, in order
constexpr int uniform = 0, normal = 1, truncnorm = 2, constant = 3;
}

// The rule each random family follows for a store (fastinit.registry.FAMILY_RULES).
template <class Store>
struct family_rules;

template <>
struct family_rules<store::f16> {
  using uniform = rule::uniform16;
  using normal = rule::normal32;
  using truncnorm = rule::truncnorm32;
};

template <>
struct family_rules<store::bf16> {
  using uniform = rule::uniform16;
  using normal = rule::normal32;
  using truncnorm = rule::truncnorm32;
};

template <>
struct family_rules<store::f32> {
  using uniform = rule::uniform32;
  using normal = rule::normal32;
  using truncnorm = rule::truncnorm32;
};

template <>
struct family_rules<store::f64> {
  using uniform = rule::uniform64;
  using normal = rule::normal64;
  using truncnorm = rule::truncnorm64;
};

}  // namespace fastinit
