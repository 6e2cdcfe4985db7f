// The translation unit the CuPy backend compiles with NVRTC (include path: kernels/), naming
// the instantiations it launches, e.g. fastinit::fill<fastinit::rule::uniform32,
// fastinit::store::f32>. Compile with --std=c++17 --fmad=false and IEEE division and square
// root (the defaults; no --use_fast_math, no -ftz=true): see README.md.
// Under CUDA compilers no system header is included, as NVRTC has none.
#include "fill.cuh"
