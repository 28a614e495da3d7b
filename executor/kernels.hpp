// The inner loops the executor's matrix products are made of, one table per instruction set
// (cpu.hpp). kernels_isa.inc holds the portable versions and is compiled once per set with that
// set's flags (the compiler vectorizes them for it); the AVX2 and AVX-512 files replace the loops
// where hand-written intrinsics pay: VNNI dot products, VPERMPS codebook lookup, F16C.
//
// Packed codes (codebook storage): code i of a run is bits [i*B, i*B + B) of the run's bytes,
// least significant bit first (nn/storage.hpp); the executor starts every row at a byte.
#pragma once
#include <cstdint>

#include "cpu.hpp"

namespace mcdnn::exec {

struct Kernels {
  Isa isa;
  // sum_k w[k] x[k]
  float (*dot_f32)(const float* w, const float* x, int64_t k);
  // sum_k half(w[k]) x[k]
  float (*dot_f16)(const uint16_t* w, const float* x, int64_t k);
  // sum_k float(w[k]) x[k] (int8 weights in float arithmetic)
  float (*dot_i8f)(const int8_t* w, const float* x, int64_t k);
  // sum_k table[code k] x[k], codes of `bits` = 8, 4 or 2 bits; the table holds 16 entries for
  // 2 and 4 bits (2 bits: entry i = codebook[i & 3]) and 256 for 8 bits. `xp` is x rearranged
  // by prepare_cb() for this bit width (the SIMD kernels consume codes in that order).
  float (*dot_cb)(const uint8_t* codes, int bits, const float* table, const float* x, const float* xp, int64_t k);
  // xp for dot_cb: k floats (identity where the kernel needs no rearrangement).
  void (*prepare_cb)(int bits, const float* x, int64_t k, float* xp);
  // Sparse rows: sum over n entries of value[e] * x[col e], col = -1 + sum of (gap + 1) so far.
  float (*sparse_dot_f32)(const uint8_t* gaps, const float* vals, int64_t n, const float* x);
  float (*sparse_dot_f16)(const uint8_t* gaps, const uint16_t* vals, int64_t n, const float* x);
  float (*sparse_dot_i8)(const uint8_t* gaps, const int8_t* vals, int64_t n, const float* x);
  // Codebook values: entry e's code is at bit (first + e) * bits of `codes`; table as for dot_cb.
  float (*sparse_dot_cb)(const uint8_t* gaps, const uint8_t* codes, int64_t first, int bits, const float* table, int64_t n,
                         const float* x);
  // out[k] = weight k, for a row of k
  void (*decode_f16)(const uint16_t* w, int64_t k, float* out);
  void (*decode_i8)(const int8_t* w, int64_t k, float* out);
  void (*decode_cb)(const uint8_t* codes, int bits, const float* table, int64_t k, float* out);
  // Integer dot products of unsigned 8-bit activations with signed 8-bit weights, exact in
  // int32 (|sum| < 2^31 for k < 2^16 * 2): one row, and four rows (stride ldw) at once.
  int32_t (*dot_u8s8)(const uint8_t* x, const int8_t* w, int64_t k);
  void (*dot_u8s8_x4)(const uint8_t* x, const int8_t* w, int64_t ldw, int64_t k, int32_t* out4);
  // Integer GEMM on 16 columns at once: xpack holds k4 groups of 16 columns x 4 consecutive k
  // (64 bytes each; see pack_u8 in matrix.cpp); w has `rows` rows of stride ldw >= 4 k4 bytes
  // (zero beyond k). out[r * 16 + j] = sum_k w[r][k] x[k][j].
  // Quantizes columns [j0, j0 + nj) (nj <= 16) of x (k x p, row-major) to uint8,
  // q = clamp(floor(x * inv[j] + zero[j] + 0.5), 0, 255), into one gemm_u8s8_16 block (dst,
  // 64 bytes per 4 k, zeroed beforehand; inv and zero indexed by column).
  void (*quant_pack_16)(const float* x, int64_t p, int64_t k, int64_t j0, int64_t nj, const float* inv, const float* zero,
                        uint8_t* dst);
  void (*gemm_u8s8_16)(const uint8_t* xpack, int64_t k4, const int8_t* w, int64_t ldw, int64_t rows, int32_t* out);
  // y[i] += a x[i]
  void (*axpy)(float a, const float* x, float* y, int64_t n);
};

// The table for `isa` (which the CPU must support).
const Kernels& kernels(Isa isa);

namespace isa_scalar { const Kernels& table(); }
namespace isa_avx2 { const Kernels& table(); }
namespace isa_avx512 { const Kernels& table(); }

}  // namespace mcdnn::exec
