// The translation unit the CuPy backend compiles with NVRTC (include path: kernels/), naming
// the instantiations it launches, e.g. fastinit::fill<fastinit::rule::uniform32,
// fastinit::store::f32>. Compile with --std=c++17 --fmad=false --ftz=false --prec-div=true
// --prec-sqrt=true (no --use_fast_math): see README.md.
// Under CUDA compilers no system header is included, as NVRTC has none.
#include "fill.cuh"
