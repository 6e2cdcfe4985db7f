// The fill kernels: elements [start, start + n) of a stream's tensor, written in place.
//
// Logical element i is value (i mod E) of Philox block c.block0 + i / E (mod 2^64) of stream
// (c.seed, c.stream), exactly as fastinit.backends.cpu.fill writes it. The destination holds
// elements [start, start + n); dst points at its element 0 (logical element start). Nothing
// outside the destination's n elements is ever written.
//
// Each thread computes whole Philox blocks in a grid-stride loop, so any grid and block shape
// gives the same output; indices are 64-bit throughout. fill_many does the same for a table of
// contiguous destinations in one launch.
#pragma once
#ifndef __CUDACC__
#include "emulation.h"
#endif
#include "constants.cuh"
#include "philox.cuh"
#include "transforms.cuh"

namespace fastinit {

struct Counter {
  unsigned long long seed, stream, block0;
};

// distributions.Rule.params in order, each converted to double; unused entries 0.
struct Params {
  double v[7];
};

constexpr int MAX_DIMS = 8;

// Element strides (may be negative) of a C-order view of shape[0..ndim).
struct Layout {
  long long shape[MAX_DIMS];
  long long stride[MAX_DIMS];
  int ndim;
};

// One destination of fill_many: fastinit.backends.ENTRY, byte for byte. The n contiguous
// elements at ptr hold logical elements [start, start + n) of the stream (c.seed, c.stream)
// from Philox block c.block0 on, by the rule of `family` (an index into
// fastinit.registry.FAMILIES) with parameters p; a constant row holds the storage word `bits`.
struct Entry {
  void* ptr;
  long long n, start;
  Counter c;
  int family;
  Params p;
  unsigned long long bits;
};

// The launcher passes these by value (Entry: in device memory), laid out as on the host
// (x86-64 / aarch64).
static_assert(sizeof(Counter) == 24 && sizeof(Params) == 56 && sizeof(Layout) == 136 &&
                  sizeof(Entry) == 120,
              "kernel argument layout changed: update the launcher");

// --- stores: the storage word of an output dtype and a value's rounding into it ----------
// Words are the stored bits as an unsigned integer of the storage width.
// float32, float64 -> f32, f64; bfloat16, float16 -> bf16, f16; bool, int8, uint8 -> u8;
// int16, uint16 -> u16; int32, uint32 -> u32; int64, uint64 -> u64. An integer value (a
// uint64 two's complement) is stored as its low bits.

namespace store {

struct f32 {
  using word = unsigned int;
  __device__ static word put(float v) { return __float_as_uint(v); }
};

struct f64 {
  using word = unsigned long long;
  __device__ static word put(double v) {
    return static_cast<unsigned long long>(__double_as_longlong(v));
  }
};

struct u32 {
  using word = unsigned int;
  __device__ static word put(unsigned int v) { return v; }
  __device__ static word put(unsigned long long v) { return static_cast<unsigned int>(v); }
};

struct u16 {
  using word = unsigned short;
  __device__ static word put(unsigned long long v) { return static_cast<unsigned short>(v); }
};

struct u64 {
  using word = unsigned long long;
  __device__ static word put(unsigned long long v) { return v; }
};

struct bf16 {
  using word = unsigned short;
  __device__ static word put(float v) { return bf16_bits(v); }
};

struct f16 {
  using word = unsigned short;
  __device__ static word put(float v) { return f16_bits(v); }
};

// 0 or 1 for Bernoulli masks, or an integer's low byte.
struct u8 {
  using word = unsigned char;
  __device__ static word put(float v) { return static_cast<unsigned char>(v); }
  __device__ static word put(unsigned long long v) { return static_cast<unsigned char>(v); }
};

}  // namespace store

// --- the rules (rules.cuh, generated from fastinit/registry.py) ----------------------------
// A rule struct (rule::<name>) holds its parameters in the types it computes in (read from a
// Params row) and has emit(), which writes a block's E values; rejects() says whether the
// block's words reject a try, and retry() then redraws the rejected values (only the bounded
// integers reject any). family_rules<Store> names the rule of each random family.

// A 64-bit integer parameter from its 32-bit halves, each exact as a double.
__device__ __forceinline__ unsigned long long from_halves(double low, double high) {
  return static_cast<unsigned long long>(low) | (static_cast<unsigned long long>(high) << 32);
}

}  // namespace fastinit

#include "rules.cuh"

namespace fastinit {

// --- helpers -------------------------------------------------------------------------------

__device__ __forceinline__ long long thread_rank() {
  return static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long thread_count() {
  return static_cast<long long>(gridDim.x) * blockDim.x;
}

__device__ __forceinline__ bool is_aligned(const void* p, int bytes) {
  return reinterpret_cast<unsigned long long>(p) % bytes == 0;
}

// Bytes one vector store of a whole block needs aligned: the block's size, at most 16
// (a 32-byte block goes out as two 16-byte stores).
template <class Word, int E>
__device__ __forceinline__ constexpr int block_alignment() {
  return E * sizeof(Word) < 16 ? E * sizeof(Word) : 16;
}

// The E words of a block to `to` (aligned to block_alignment) with 4-, 8- or 16-byte stores.
template <class Word, int E>
__device__ __forceinline__ void store_block(Word* to, const Word (&w)[E]) {
  constexpr int LANES = E * sizeof(Word) / 4;  // 32-bit lanes, in memory (little-endian) order
  static_assert(LANES == 1 || LANES == 2 || LANES % 4 == 0, "no vector store for this block");
  unsigned int lane[LANES] = {};
  for (int q = 0; q < E; ++q) {
    if constexpr (sizeof(Word) == 8) {
      lane[2 * q] = static_cast<unsigned int>(w[q]);
      lane[2 * q + 1] = static_cast<unsigned int>(w[q] >> 32);
    } else {
      constexpr int PER_LANE = 4 / sizeof(Word);
      lane[q / PER_LANE] |= static_cast<unsigned int>(w[q]) << (8 * sizeof(Word) * (q % PER_LANE));
    }
  }
  if constexpr (LANES == 1) {
    *reinterpret_cast<unsigned int*>(to) = lane[0];
  } else if constexpr (LANES == 2) {
    *reinterpret_cast<uint2*>(to) = make_uint2(lane[0], lane[1]);
  } else {
    for (int k = 0; k < LANES / 4; ++k)
      reinterpret_cast<uint4*>(to)[k] =
          make_uint4(lane[4 * k], lane[4 * k + 1], lane[4 * k + 2], lane[4 * k + 3]);
  }
}

// Offset (in elements) of destination element j in a strided layout.
__device__ __forceinline__ long long strided_offset(const Layout& l, long long j) {
  long long offset = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    offset += j % l.shape[d] * l.stride[d];
    j /= l.shape[d];
  }
  return offset;
}

// strided_offset of element j, stepping on to j + 1 with carries instead of divisions.
struct Cursor {
  long long index[MAX_DIMS];
  long long offset;

  __device__ Cursor(const Layout& l, long long j) : offset(0) {
    for (int d = l.ndim - 1; d >= 0; --d) {
      index[d] = j % l.shape[d];
      offset += index[d] * l.stride[d];
      j /= l.shape[d];
    }
  }

  __device__ void next(const Layout& l) {
    for (int d = l.ndim - 1; d >= 0; --d) {
      offset += l.stride[d];
      if (++index[d] < l.shape[d]) return;
      offset -= l.shape[d] * l.stride[d];
      index[d] = 0;
    }
  }
};

// The E storage words of relative block b (logical elements [b*E, b*E + E)).
template <class Rule, class Store>
__device__ __forceinline__ void block_words(const Rule& rule, const Counter& c, long long b,
                                            typename Store::word (&w)[Rule::E]) {
  typename Rule::value v[Rule::E];
  const unsigned long long block = c.block0 + static_cast<unsigned long long>(b);
  const uint4 words = philox_block(c.seed, c.stream, block);
  rule.emit(words, v);
  if (rule.rejects(words)) rule.retry(words, v, c, block);
  for (int q = 0; q < Rule::E; ++q) w[q] = Store::put(v[q]);
}

// p, which the compiler must take as it is: an address in global memory (every destination is)
// that it may not re-derive. Left to itself, NVVM splits a vector store into words, rewrites each
// word's address from the arithmetic behind p and then may fail to merge them back into one
// store (it did in fill_many, whose block addresses derive from a loaded table).
template <class T>
__device__ __forceinline__ T* opaque_global(T* p) {
#ifdef __CUDACC__
  asm("" : "+l"(p));
  __builtin_assume(__isGlobal(p));
#endif
  return p;
}

// w[q] to out[j0 + q] for the q with 0 <= j0 + q < n: one vector store when all E lie inside
// and out + j0 is aligned to block_alignment, else one scalar store each.
template <class Word, int E>
__device__ __forceinline__ void put_block(Word* out, long long j0, long long n,
                                          const Word (&w)[E]) {
  if (j0 >= 0 && j0 + E <= n && is_aligned(out + j0, block_alignment<Word, E>())) {
    store_block(opaque_global(out + j0), w);
  } else {
    for (int q = 0; q < E; ++q)
      if (j0 + q >= 0 && j0 + q < n) out[j0 + q] = w[q];
  }
}

// Blocks b, b + step, ... below last of a contiguous fill (destination element j at out + j
// holds logical element start + j, 0 <= j < n); returns the first b >= last it reached.
template <class Rule, class Store>
__device__ __forceinline__ long long fill_blocks(typename Store::word* out, const Rule& rule,
                                                 const Counter& c, long long start, long long n,
                                                 long long b, long long last, long long step) {
  for (; b < last; b += step) {
    typename Store::word w[Rule::E];
    block_words<Rule, Store>(rule, c, b, w);
    put_block(out, b * Rule::E - start, n, w);  // b * E - start: the block's first element
  }
  return b;
}

// A constant fill writes groups of GROUP<Word> elements, 16 bytes: group k holds destination
// elements [k * G - phase, k * G - phase + G), where phase counts the elements between dst and
// the 16-byte boundary at or below it, so every whole group is 16-byte aligned and goes out in
// one store (a dst not aligned to its word has phase 0 and gets scalar stores only).
template <class Word>
constexpr int GROUP = 16 / sizeof(Word);

template <class Word>
__device__ __forceinline__ long long constant_phase(const void* dst) {
  const unsigned long long address = reinterpret_cast<unsigned long long>(dst);
  return address % sizeof(Word) == 0 ? address % 16 / sizeof(Word) : 0;
}

// The groups that cover n elements at dst: ceil((phase + n) / G), and 0 when n is 0.
template <class Word>
__device__ __forceinline__ long long constant_groups(const void* dst, long long n) {
  return n > 0 ? (constant_phase<Word>(dst) + n + GROUP<Word> - 1) / GROUP<Word> : 0;
}

// Groups k, k + step, ... below last of n copies of value at out; returns the first k >= last.
template <class Word>
__device__ __forceinline__ long long fill_groups(Word* out, long long n, Word value, long long k,
                                                 long long last, long long step) {
  Word w[GROUP<Word>];
  for (int q = 0; q < GROUP<Word>; ++q) w[q] = value;
  const long long phase = constant_phase<Word>(out);
  for (; k < last; k += step) put_block(out, k * GROUP<Word> - phase, n, w);
  return k;
}

// The row e >= lo with first[e] <= g < first[e + 1], by bisection; first is nondecreasing and
// first[lo] <= g < first[rows].
__device__ __forceinline__ int row_of(const long long* first, int lo, int rows, long long g) {
  int hi = rows;
  while (hi - lo > 1) {
    const int mid = lo + (hi - lo) / 2;
    if (first[mid] <= g)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

// Work items k, k + step, ... below items of a random row (item k: Philox block start / E + k);
// returns the first k >= items.
template <class Rule, class Store>
__device__ __forceinline__ long long fill_row(const Entry& row, long long k, long long items,
                                              long long step) {
  typename Store::word* const out = opaque_global(static_cast<typename Store::word*>(row.ptr));
  const long long b0 = row.start / Rule::E;
  return fill_blocks<Rule, Store>(out, Rule(row.p), row.c, row.start, row.n, b0 + k, b0 + items,
                                  step) - b0;
}

// --- kernels ---------------------------------------------------------------------------------

// Destination element j at dst + j.
template <class Rule, class Store>
__global__ void fill(void* dst, Counter c, long long start, long long n, Params p) {
  constexpr int E = Rule::E;
  fill_blocks<Rule, Store>(static_cast<typename Store::word*>(dst), Rule(p), c, start, n,
                           start / E + thread_rank(), (start + n + E - 1) / E, thread_count());
}

// Destination element j at dst + (C-order multi-index of j in l.shape) . l.stride.
template <class Rule, class Store>
__global__ void fill_strided(void* dst, Counter c, long long start, long long n, Params p,
                             Layout l) {
  using Word = typename Store::word;
  constexpr int E = Rule::E;
  const Rule rule(p);
  Word* const out = static_cast<Word*>(dst);
  const long long last = (start + n + E - 1) / E;
  for (long long b = start / E + thread_rank(); b < last; b += thread_count()) {
    Word w[E];
    block_words<Rule, Store>(rule, c, b, w);
    const long long j0 = b * E - start;
    const long long q0 = j0 < 0 ? -j0 : 0;  // the block's elements [q0, q1) are in the destination
    const long long q1 = n - j0 < E ? n - j0 : E;
    Cursor at(l, j0 + q0);
    for (int q = 0; q < E; ++q) {
      if (q >= q0 && q < q1) {
        out[at.offset] = w[q];
        at.next(l);
      }
    }
  }
}

// n copies of value at dst, dst + 1, ...: 16-byte stores where aligned, scalar head and tail.
template <class Word>
__global__ void fill_constant(void* dst, long long n, Word value) {
  fill_groups(static_cast<Word*>(dst), n, value, thread_rank(), constant_groups<Word>(dst, n),
              thread_count());
}

// n copies of value at the strided offsets of l.
template <class Word>
__global__ void fill_constant_strided(void* dst, long long n, Word value, Layout l) {
  Word* const out = static_cast<Word*>(dst);
  for (long long j = thread_rank(); j < n; j += thread_count()) out[strided_offset(l, j)] = value;
}

// Every row of table[0..rows) in one launch. A row's work items are its Philox blocks,
// [start / E, ceil((start + n) / E)), for a random family, and its constant_groups for a
// constant; the rows' items lie end to end, row e's at [first[e], first[e + 1]) (first[0] = 0,
// first[rows] = total), and a grid-stride loop walks them. A thread finds the row of its item
// by bisection over first, but only when it leaves a row; inside one it runs that row's loop
// (fill_blocks, fill_groups) with the rule built once.
template <class Store>
__global__ void fill_many(const Entry* __restrict__ table, const long long* __restrict__ first,
                          int rows, long long total) {
  using Word = typename Store::word;
  using Rules = family_rules<Store>;
  const long long step = thread_count();
  long long g = thread_rank();
  for (int e = 0; g < total; ++e) {  // after a row, g >= first[e + 1]: search from e + 1
    e = row_of(first, e, rows, g);
    const Entry& row = table[e];
    const long long k = g - first[e], items = first[e + 1] - first[e];
    long long end;  // the thread's first item past the row
    switch (row.family) {
      case family::uniform:
        end = fill_row<typename Rules::uniform, Store>(row, k, items, step);
        break;
      case family::normal:
        end = fill_row<typename Rules::normal, Store>(row, k, items, step);
        break;
      case family::truncnorm:
        end = fill_row<typename Rules::truncnorm, Store>(row, k, items, step);
        break;
      default:  // family::constant
        end = fill_groups(opaque_global(static_cast<Word*>(row.ptr)), row.n,
                          static_cast<Word>(row.bits), k, items, step);
    }
    g = first[e] + end;
  }
}

}  // namespace fastinit
