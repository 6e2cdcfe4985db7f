// Host stand-ins for the CUDA built-ins the kernels use, so that kernels/*.cuh also compile as
// plain C++17 (g++, clang++) and run on the CPU. fastinit_emulate::launch runs every thread of
// every block in turn; that is a valid schedule because the kernels never synchronize.
#pragma once
#ifdef __CUDACC__
#error "emulation.h is for host compilers; CUDA compilers have the real built-ins"
#endif

#include <math.h>  // ::sqrt, ::sqrtf, as device code calls them
#include <string.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// __restrict__ needs no stand-in: GCC and Clang understand it.

struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int nx = 1, unsigned int ny = 1, unsigned int nz = 1) : x(nx), y(ny), z(nz) {}
};

struct alignas(8) uint2 {
  unsigned int x, y;
};

struct alignas(16) uint4 {
  unsigned int x, y, z, w;
};

inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) {
  return {x, y, z, w};
}

inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;

inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}

inline unsigned int __float_as_uint(float x) {
  unsigned int u;
  memcpy(&u, &x, sizeof u);
  return u;
}

inline float __uint_as_float(unsigned int u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

inline long long __double_as_longlong(double x) {
  long long u;
  memcpy(&u, &x, sizeof u);
  return u;
}

inline double __longlong_as_double(long long u) {
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

namespace fastinit_emulate {

// kernel<<<grid, block>>>(args...), one thread after another.
template <class... Params, class... Args>
void launch(dim3 grid, dim3 block, void (*kernel)(Params...), Args... args) {
  gridDim = grid;
  blockDim = block;
  for (blockIdx.z = 0; blockIdx.z < grid.z; ++blockIdx.z)
    for (blockIdx.y = 0; blockIdx.y < grid.y; ++blockIdx.y)
      for (blockIdx.x = 0; blockIdx.x < grid.x; ++blockIdx.x)
        for (threadIdx.z = 0; threadIdx.z < block.z; ++threadIdx.z)
          for (threadIdx.y = 0; threadIdx.y < block.y; ++threadIdx.y)
            for (threadIdx.x = 0; threadIdx.x < block.x; ++threadIdx.x) kernel(args...);
}

}  // namespace fastinit_emulate
