// kernels/fill.cuh compiled as plain C++ through kernels/emulation.h, with extern "C" entry
// points for tests/test_kernels.py (ctypes). Build:
//   g++ -std=c++17 -O2 -ffp-contract=off -shared -fPIC -I kernels tests/kernels_host.cpp
#include "emulation.h"
#include "fill.cuh"

#include <stdio.h>
#include <string.h>

using namespace fastinit;
using fastinit_emulate::launch;

namespace {

using FillFn = int (*)(void*, Counter, long long, long long, const Params&, const Layout*,
                       unsigned int, unsigned int);

// Runs fill<Rule, Store> (layout == nullptr) or fill_strided<Rule, Store>.
template <class Rule, class Store>
int run_fill(void* dst, Counter c, long long start, long long n, const Params& p,
             const Layout* layout, unsigned int grid, unsigned int block) {
  if (layout == nullptr)
    launch(grid, block, fill<Rule, Store>, dst, c, start, n, p);
  else
    launch(grid, block, fill_strided<Rule, Store>, dst, c, start, n, p, *layout);
  return 0;
}

struct Pair {
  const char* rule;
  const char* store;
  FillFn fill;
};

// Every (rule, store) pair a fastinit dtype uses.
const Pair PAIRS[] = {
    {"raw", "u32", run_fill<rule::raw, store::u32>},
    {"bernoulli", "u8", run_fill<rule::bernoulli, store::u8>},
    {"bernoulli", "f16", run_fill<rule::bernoulli, store::f16>},
    {"bernoulli", "bf16", run_fill<rule::bernoulli, store::bf16>},
    {"bernoulli", "f32", run_fill<rule::bernoulli, store::f32>},
    {"bernoulli", "f64", run_fill<rule::bernoulli, store::f64>},
    {"uniform32", "f32", run_fill<rule::uniform32, store::f32>},
    {"uniform16", "f16", run_fill<rule::uniform16, store::f16>},
    {"uniform16", "bf16", run_fill<rule::uniform16, store::bf16>},
    {"uniform64", "f64", run_fill<rule::uniform64, store::f64>},
    {"normal32", "f32", run_fill<rule::normal32, store::f32>},
    {"normal32", "f16", run_fill<rule::normal32, store::f16>},
    {"normal32", "bf16", run_fill<rule::normal32, store::bf16>},
    {"normal64", "f64", run_fill<rule::normal64, store::f64>},
    {"truncnorm32", "f32", run_fill<rule::truncnorm32, store::f32>},
    {"truncnorm32", "f16", run_fill<rule::truncnorm32, store::f16>},
    {"truncnorm32", "bf16", run_fill<rule::truncnorm32, store::bf16>},
    {"truncnorm64", "f64", run_fill<rule::truncnorm64, store::f64>},
    {"integers32", "u8", run_fill<rule::integers32, store::u8>},
    {"integers32", "u16", run_fill<rule::integers32, store::u16>},
    {"integers32", "u32", run_fill<rule::integers32, store::u32>},
    {"integers32", "u64", run_fill<rule::integers32, store::u64>},
    {"integers64", "u64", run_fill<rule::integers64, store::u64>},
};

// nullptr for ndim < 0 (contiguous); else the layout, or an error for too many dimensions.
bool make_layout(const long long* shape, const long long* strides, int ndim, Layout* l) {
  if (ndim > MAX_DIMS) return false;
  l->ndim = ndim;
  for (int d = 0; d < ndim; ++d) {
    l->shape[d] = shape[d];
    l->stride[d] = strides[d];
  }
  return true;
}

template <class Word>
int run_constant(void* dst, long long n, unsigned long long value, const Layout* layout,
                 unsigned int grid, unsigned int block) {
  const Word word = static_cast<Word>(value);
  if (layout == nullptr)
    launch(grid, block, fill_constant<Word>, dst, n, word);
  else
    launch(grid, block, fill_constant_strided<Word>, dst, n, word, *layout);
  return 0;
}

// run_constant for a Word of word_bytes bytes; -1 for another size.
int run_constant_bytes(int word_bytes, void* dst, long long n, unsigned long long value,
                       const Layout* layout, unsigned int grid, unsigned int block) {
  switch (word_bytes) {
    case 1: return run_constant<unsigned char>(dst, n, value, layout, grid, block);
    case 2: return run_constant<unsigned short>(dst, n, value, layout, grid, block);
    case 4: return run_constant<unsigned int>(dst, n, value, layout, grid, block);
    case 8: return run_constant<unsigned long long>(dst, n, value, layout, grid, block);
    default: return -1;
  }
}

// fill_many<Store> for every store that has one.
struct Many {
  const char* store;
  void (*kernel)(const Entry*, const long long*, int, long long);
};

const Many MANY[] = {{"f16", fill_many<store::f16>},
                     {"bf16", fill_many<store::bf16>},
                     {"f32", fill_many<store::f32>},
                     {"f64", fill_many<store::f64>}};

}  // namespace

extern "C" {

// fill<Rule, Store> (ndim < 0) or fill_strided<Rule, Store> on a grid x block launch; params are
// distributions.Rule.params as doubles. Returns 0, or -1 for an unknown pair or bad ndim.
int fastinit_fill(const char* rule_name, const char* store_name, void* dst,
                  unsigned long long seed, unsigned long long stream, unsigned long long block0,
                  long long start, long long n, const double* params, const long long* shape,
                  const long long* strides, int ndim, unsigned int grid, unsigned int block) {
  Params p = {};
  for (int k = 0; k < 7; ++k) p.v[k] = params[k];
  Layout l;
  if (ndim >= 0 && !make_layout(shape, strides, ndim, &l)) return -1;
  for (const Pair& pair : PAIRS)
    if (strcmp(pair.rule, rule_name) == 0 && strcmp(pair.store, store_name) == 0)
      return pair.fill(dst, Counter{seed, stream, block0}, start, n, p,
                       ndim < 0 ? nullptr : &l, grid, block);
  return -1;
}

// fill_constant<Word> (ndim < 0) or fill_constant_strided<Word>, Word of word_bytes bytes.
int fastinit_fill_constant(int word_bytes, void* dst, long long n, unsigned long long value,
                           const long long* shape, const long long* strides, int ndim,
                           unsigned int grid, unsigned int block) {
  Layout l;
  if (ndim >= 0 && !make_layout(shape, strides, ndim, &l)) return -1;
  return run_constant_bytes(word_bytes, dst, n, value, ndim < 0 ? nullptr : &l, grid, block);
}

// fill_many<Store> over table[0..rows) (backends.ENTRY rows) and first[0..rows], on a grid x
// block launch. Returns 0, or -1 for a store without fill_many.
int fastinit_fill_many(const char* store_name, const void* table, const long long* first,
                       int rows, long long total, unsigned int grid, unsigned int block) {
  for (const Many& m : MANY) {
    if (strcmp(m.store, store_name) != 0) continue;
    launch(grid, block, m.kernel, static_cast<const Entry*>(table), first, rows, total);
    return 0;
  }
  return -1;
}

// The kernel a CuPy name expression names (fastinit::fill<fastinit::rule::R,
// fastinit::store::S>, fill_strided<...>, fill_constant<W>, fill_constant_strided<W>,
// fill_many<fastinit::store::S>),
// launched with its arguments packed as cuLaunchKernel takes them: args[i] points at the
// bytes of argument i. This is how the cupy backend's packing is checked without a GPU.
int fastinit_launch(const char* name, unsigned int grid, unsigned int block, void** args) {
  void* dst;
  memcpy(&dst, args[0], sizeof dst);
  char expected[160];
  for (const Pair& pair : PAIRS) {
    for (int strided = 0; strided < 2; ++strided) {
      snprintf(expected, sizeof expected, "fastinit::%s<fastinit::rule::%s, fastinit::store::%s>",
               strided ? "fill_strided" : "fill", pair.rule, pair.store);
      if (strcmp(name, expected) != 0) continue;
      Counter c;
      long long start, n;
      Params p;
      Layout l;
      memcpy(&c, args[1], sizeof c);
      memcpy(&start, args[2], sizeof start);
      memcpy(&n, args[3], sizeof n);
      memcpy(&p, args[4], sizeof p);
      if (strided) memcpy(&l, args[5], sizeof l);
      return pair.fill(dst, c, start, n, p, strided ? &l : nullptr, grid, block);
    }
  }
  for (const Many& m : MANY) {
    snprintf(expected, sizeof expected, "fastinit::fill_many<fastinit::store::%s>", m.store);
    if (strcmp(name, expected) != 0) continue;
    const Entry* table;
    const long long* first;
    int rows;
    long long total;
    memcpy(&table, args[0], sizeof table);
    memcpy(&first, args[1], sizeof first);
    memcpy(&rows, args[2], sizeof rows);
    memcpy(&total, args[3], sizeof total);
    launch(grid, block, m.kernel, table, first, rows, total);
    return 0;
  }
  const char* words[] = {"unsigned char", "unsigned short", "unsigned int", "unsigned long long"};
  for (int k = 0; k < 4; ++k) {
    for (int strided = 0; strided < 2; ++strided) {
      snprintf(expected, sizeof expected, "fastinit::%s<%s>",
               strided ? "fill_constant_strided" : "fill_constant", words[k]);
      if (strcmp(name, expected) != 0) continue;
      long long n;
      unsigned long long value = 0;
      Layout l;
      memcpy(&n, args[1], sizeof n);
      memcpy(&value, args[2], 1u << k);
      if (strided) memcpy(&l, args[3], sizeof l);
      return run_constant_bytes(1 << k, dst, n, value, strided ? &l : nullptr, grid, block);
    }
  }
  return -1;
}

// Philox4x32-R of counter[4] under key[2].
void fastinit_philox_words(const unsigned int* counter, const unsigned int* key, int rounds,
                           unsigned int* out) {
  const uint4 r = philox_words(make_uint4(counter[0], counter[1], counter[2], counter[3]),
                               make_uint2(key[0], key[1]), rounds);
  out[0] = r.x;
  out[1] = r.y;
  out[2] = r.z;
  out[3] = r.w;
}

// The transforms of transforms.cuh, elementwise over arrays of n inputs.

void fastinit_log32(const float* x, float* y, long long n) {
  for (long long i = 0; i < n; ++i) y[i] = log32(x[i]);
}

void fastinit_log64(const double* x, double* y, long long n) {
  for (long long i = 0; i < n; ++i) y[i] = log64(x[i]);
}

void fastinit_sincos_turn24(const unsigned int* k, float* s, float* c, long long n) {
  for (long long i = 0; i < n; ++i) sincos_turn24(k[i], &s[i], &c[i]);
}

void fastinit_sincos_turn53(const unsigned long long* k, double* s, double* c, long long n) {
  for (long long i = 0; i < n; ++i) sincos_turn53(k[i], &s[i], &c[i]);
}

void fastinit_ndtri_lower(const double* p, double* z, long long n) {
  for (long long i = 0; i < n; ++i) z[i] = ndtri_lower(p[i]);
}

void fastinit_truncnorm_std(const double* u, double pa, double qb, double mass, double* z,
                            long long n) {
  for (long long i = 0; i < n; ++i) z[i] = truncnorm_std(u[i], pa, qb, mass);
}

void fastinit_neglog32(const double* p, float* y, long long n) {
  for (long long i = 0; i < n; ++i) y[i] = neglog32(p[i]);
}

void fastinit_ndtri_lower32(const double* p, float* z, long long n) {
  for (long long i = 0; i < n; ++i) z[i] = ndtri_lower32(p[i]);
}

void fastinit_truncnorm_std32(const double* u, double pa, double qb, double mass, float* z,
                              long long n) {
  for (long long i = 0; i < n; ++i) z[i] = truncnorm_std32(u[i], pa, qb, mass);
}

void fastinit_bf16_bits(const float* x, unsigned short* h, long long n) {
  for (long long i = 0; i < n; ++i) h[i] = bf16_bits(x[i]);
}

void fastinit_f16_bits(const float* x, unsigned short* h, long long n) {
  for (long long i = 0; i < n; ++i) h[i] = f16_bits(x[i]);
}

// Every uniform of a word pair (wa, wb): u01_24(wa), u01_16(low half of wa), u01_53,
// u01_open32(wa), u01_open53, and both Box-Muller pairs (box_muller32(wa, wb),
// box_muller64(wa, wb, wb, wa)).
void fastinit_uniforms(const unsigned int* wa, const unsigned int* wb, float* u24, float* u16,
                       double* u53, double* open32, double* open53, float* bm32, double* bm64,
                       long long n) {
  for (long long i = 0; i < n; ++i) {
    u24[i] = u01_24(wa[i]);
    u16[i] = u01_16(wa[i] & 0xFFFFu);
    u53[i] = u01_53(wa[i], wb[i]);
    open32[i] = u01_open32(wa[i]);
    open53[i] = u01_open53(wa[i], wb[i]);
    box_muller32(wa[i], wb[i], &bm32[2 * i], &bm32[2 * i + 1]);
    box_muller64(wa[i], wb[i], wb[i], wa[i], &bm64[2 * i], &bm64[2 * i + 1]);
  }
}

}  // extern "C"
