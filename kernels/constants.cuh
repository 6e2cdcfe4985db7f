// Generated from fastinit/_constants.py by fastinit._constants.cuda_header(); do not
// edit: regenerate as kernels/README.md says. float32 constants are np.float32(c) of
// the Python double c, as fastinit.core rounds them; float64 constants are c.
#pragma once
#ifndef __CUDACC__
#include "emulation.h"
#endif

namespace fastinit {

// Philox4x32 (Salmon et al., SC'11; Random123 philox.h).
static constexpr unsigned int PHILOX_M0 = 0xD2511F53u;
static constexpr unsigned int PHILOX_M1 = 0xCD9E8D57u;
static constexpr unsigned int PHILOX_W0 = 0x9E3779B9u;
static constexpr unsigned int PHILOX_W1 = 0xBB67AE85u;
static constexpr int PHILOX_ROUNDS = 10;

// Bounded integers' retries: block b XOR RETRY_BLOCK_BIT, key seed + (r - 1) * step.
static constexpr unsigned long long RETRY_BLOCK_BIT = 0x8000000000000000ull;
static constexpr unsigned long long RETRY_KEY_STEP = 0x9E3779B97F4A7C15ull;

// Natural logarithm: fdlibm's polynomial and ln2 split.
static __device__ constexpr double LOG_LG64[7] = {
    0x1.5555555555593p-1,  // 0.6666666666666735
    0x1.999999997fa04p-2,  // 0.3999999999940942
    0x1.2492494229359p-2,  // 0.2857142874366239
    0x1.c71c51d8e78afp-3,  // 0.22222198432149784
    0x1.7466496cb03dep-3,  // 0.1818357216161805
    0x1.39a09d078c69fp-3,  // 0.15313837699209373
    0x1.2f112df3e5244p-3,  // 0.14798198605116586
};
static constexpr double LOG_LN2_HI64 = 0x1.62e42feep-1;  // 0.6931471803691238
static constexpr double LOG_LN2_LO64 = 0x1.a39ef35793c76p-33;  // 1.9082149292705877e-10
static __device__ constexpr float LOG_LG32[7] = {
    0x1.555556p-1f,  // 0.66666668653
    0x1.99999ap-2f,  // 0.40000000596
    0x1.24924ap-2f,  // 0.28571429849
    0x1.c71c52p-3f,  // 0.22222198546
    0x1.74664ap-3f,  // 0.1818357259
    0x1.39a09ep-3f,  // 0.15313838422
    0x1.2f112ep-3f,  // 0.1479819864
};
static constexpr float LOG_LN2_HI32 = 0x1.62e3p-1f;  // 0.69313812256
static constexpr float LOG_LN2_LO32 = 0x1.2fefa2p-17f;  // 9.0580006145e-06
// sqrt(2) = 2 * SQRT_HALF, the upper end of the mantissa range.
static constexpr double SQRT2_64 = 0x1.6a09e667f3bcdp+0;  // 1.4142135623730951
static constexpr float SQRT2_32 = 0x1.6a09e6p+0f;  // 1.4142135623730951

// 2*pi, and Taylor coefficients of sin(x)/x and cos(x) in x*x.
static constexpr double TWO_PI64 = 0x1.921fb54442d18p+2;  // 6.283185307179586
static constexpr float TWO_PI32 = 0x1.921fb6p+2f;  // 6.283185307179586
static __device__ constexpr double SIN64[9] = {
    0x1p+0,  // 1.0
    -0x1.5555555555555p-3,  // -0.16666666666666666
    0x1.1111111111111p-7,  // 0.008333333333333333
    -0x1.a01a01a01a01ap-13,  // -0.0001984126984126984
    0x1.71de3a556c734p-19,  // 2.7557319223985893e-06
    -0x1.ae64567f544e4p-26,  // -2.505210838544172e-08
    0x1.6124613a86d0ap-33,  // 1.6059043836821616e-10
    -0x1.ae7f3e733b82p-41,  // -7.647163731819817e-13
    0x1.952c77030ad4bp-49,  // 2.811457254345521e-15
};
static __device__ constexpr double COS64[10] = {
    0x1p+0,  // 1.0
    -0x1p-1,  // -0.5
    0x1.5555555555555p-5,  // 0.041666666666666664
    -0x1.6c16c16c16c16p-10,  // -0.0013888888888888887
    0x1.a01a01a01a019p-16,  // 2.4801587301587298e-05
    -0x1.27e4fb7789f5cp-22,  // -2.755731922398589e-07
    0x1.1eed8eff8d897p-29,  // 2.0876756987868096e-09
    -0x1.93974a8c07c9cp-37,  // -1.1470745597729723e-11
    0x1.ae7f3e733b81ep-45,  // 4.7794773323873846e-14
    -0x1.6827863b97d97p-53,  // -1.5619206968586225e-16
};
static __device__ constexpr float SIN32[5] = {
    0x1p+0f,  // 1.0
    -0x1.555556p-3f,  // -0.16666666666666666
    0x1.111112p-7f,  // 0.008333333333333333
    -0x1.a01a02p-13f,  // -0.0001984126984126984
    0x1.71de3ap-19f,  // 2.7557319223985893e-06
};
static __device__ constexpr float COS32[6] = {
    0x1p+0f,  // 1.0
    -0x1p-1f,  // -0.5
    0x1.555556p-5f,  // 0.041666666666666664
    -0x1.6c16c2p-10f,  // -0.0013888888888888887
    0x1.a01a02p-16f,  // 2.4801587301587298e-05
    -0x1.27e4fcp-22f,  // -2.755731922398589e-07
};

// Inverse normal CDF: Wichura's AS241, coefficients lowest degree first.
static constexpr double AS241_SPLIT1 = 0x1.b333333333333p-2;  // 0.425
static constexpr double AS241_SPLIT2 = 0x1.4p+2;  // 5.0
static constexpr double AS241_CONST1 = 0x1.71eb851eb851fp-3;  // 0.180625
static constexpr double AS241_CONST2 = 0x1.999999999999ap+0;  // 1.6
static __device__ constexpr double AS241_A[8] = {
    0x1.b18d91e9eef75p+1,  // 3.3871328727963665
    0x1.0a4888b1a436ep+7,  // 133.14166789178438
    0x1.ece5d2213c0ccp+10,  // 1971.5909503065513
    0x1.ad1d8cd4ee71dp+13,  // 13731.69376550946
    0x1.66c3e869b752ap+15,  // 45921.95393154987
    0x1.06c1c55b78f2p+16,  // 67265.7709270087
    0x1.052d26b2e45e4p+15,  // 33430.57558358813
    0x1.39a296f7d925ep+11,  // 2509.0809287301227
};
static __device__ constexpr double AS241_B[8] = {
    0x1p+0,  // 1.0
    0x1.5281b386e1ab5p+5,  // 42.31333070160091
    0x1.5797efdc8b3f7p+9,  // 687.1870074920579
    0x1.512322e75c89fp+12,  // 5394.196021424751
    0x1.4b772d5d65266p+14,  // 21213.794301586597
    0x1.3317caa64f4bep+15,  // 39307.89580009271
    0x1.c0e457cb1ae76p+14,  // 28729.085735721943
    0x1.46a7eca984b69p+12,  // 5226.495278852854
};
static __device__ constexpr double AS241_C[8] = {
    0x1.6c665fde9526ap+0,  // 1.4234371107496835
    0x1.2857748cab19bp+2,  // 4.630337846156546
    0x1.713f71462256ap+2,  // 5.769497221460691
    0x1.d2ecb1a3d02c4p+1,  // 3.6478483247632045
    0x1.453cc085375b2p+0,  // 1.2704582524523684
    0x1.ef2abb9b85c37p-3,  // 0.2417807251774506
    0x1.744eb6c45ec67p-6,  // 0.022723844989269184
    0x1.9615ac0b7ace9p-11,  // 0.0007745450142783414
};
static __device__ constexpr double AS241_D[8] = {
    0x1p+0,  // 1.0
    0x1.06cefbb46a449p+1,  // 2.053191626637759
    0x1.ad278e6526633p+0,  // 1.6763848301838038
    0x1.61292f23385c9p-1,  // 0.6897673349851
    0x1.2f5123394f04p-3,  // 0.14810397642748008
    0x1.f207a7eab17bfp-7,  // 0.015198666563616457
    0x1.1f18cbfdf2728p-11,  // 0.0005475938084995345
    0x1.20d3f686439e4p-30,  // 1.0507500716444169e-09
};
static __device__ constexpr double AS241_E[8] = {
    0x1.aa1b1c13ee526p+2,  // 6.657904643501103
    0x1.5daea6e875003p+2,  // 5.463784911164114
    0x1.c8ea6461fa445p+0,  // 1.7848265399172913
    0x1.2fad9315255cfp-2,  // 0.29656057182850487
    0x1.b2b41193b4ee7p-6,  // 0.026532189526576124
    0x1.45c1908425345p-10,  // 0.0012426609473880784
    0x1.c6ec6cc59e02ap-16,  // 2.7115555687434876e-05
    0x1.afb74d693bf93p-23,  // 2.0103343992922881e-07
};
static __device__ constexpr double AS241_F[8] = {
    0x1p+0,  // 1.0
    0x1.331d34fc7d77fp-1,  // 0.599832206555888
    0x1.186eb183443fbp-3,  // 0.1369298809227358
    0x1.e76f93215462ap-7,  // 0.014875361290850615
    0x1.9c8bc979dc5d7p-11,  // 0.0007868691311456133
    0x1.35c2c496374bfp-16,  // 1.8463183175100548e-05
    0x1.31446f740b9ep-23,  // 1.421511758316446e-07
    0x1.269bff1f8c19p-49,  // 2.0442631033899397e-15
};
static __device__ constexpr float PPND7_A[4] = {
    0x1.b18d9p+1f,  // 3.3871327179
    0x1.937964p+5f,  // 50.434271938
    0x1.3e951p+7f,  // 159.29113202
    0x1.d8ep+5f,  // 59.10937472
};
static __device__ constexpr float PPND7_B[4] = {
    0x1p+0f,  // 1.0
    0x1.1e529ep+4f,  // 17.895169469
    0x1.3b07f2p+6f,  // 78.757757664
    0x1.0cc01p+6f,  // 67.1875636
};
static __device__ constexpr float PPND7_C[4] = {
    0x1.6c6662p+0f,  // 1.4234372777
    0x1.60df54p+1f,  // 2.75681539
    0x1.4e85c2p+0f,  // 1.3067284816
    0x1.5ca5dap-3f,  // 0.17023821103
};
static __device__ constexpr float PPND7_D[3] = {
    0x1p+0f,  // 1.0
    0x1.795848p-1f,  // 0.7370016425
    0x1.ec62b8p-4f,  // 0.12021132975
};
static __device__ constexpr float PPND7_E[4] = {
    0x1.aa1b1ep+2f,  // 6.657905115
    0x1.8a65ap+1f,  // 3.081226386
    0x1.b6f8aap-2f,  // 0.42868294337
    0x1.1c0d82p-6f,  // 0.017337203997
};
static __device__ constexpr float PPND7_F[3] = {
    0x1p+0f,  // 1.0
    0x1.ef92a8p-3f,  // 0.24197894225
    0x1.91ad42p-7f,  // 0.012258202635
};

// The band between PPND7's central branch and its tails (32-bit outputs).
static constexpr float NDTRI32_SPLIT_MID = 0x1.eb851ep-2f;  // 0.48
static constexpr float NDTRI32_MID_Q = -0x1.dp-2f;  // -0.453125
static constexpr float NDTRI32_MID_Z = -0x1.ad0a62p+0f;  // -1.675939679145813
static __device__ constexpr float NDTRI32_MID_P[4] = {
    0x1.46b4ccp+3f,  // 10.209569931030273
    0x1.212558p+8f,  // 289.1458740234375
    0x1.f898p+10f,  // 2018.375
    0x1.1377aep+11f,  // 2203.739990234375
};
static __device__ constexpr float NDTRI32_MID_D[4] = {
    0x1p+0f,  // 1.0
    0x1.2702fep+5f,  // 36.876461029052734
    0x1.8e38a2p+8f,  // 398.2212219238281
    0x1.20e62p+10f,  // 1155.595703125
};

}  // namespace fastinit
