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
  // sum_k table[code k] x[k], codes of `bits` = 8, 4 or 2 bits; the table holds 2^bits entries
  // (unused ones 0) and, for 2 and 4 bits, at least 16.
  float (*dot_cb)(const uint8_t* codes, int bits, const float* table, const float* x, int64_t k);
  // out[k] = weight k, for a row of k
  void (*decode_f16)(const uint16_t* w, int64_t k, float* out);
  void (*decode_i8)(const int8_t* w, int64_t k, float* out);
  void (*decode_cb)(const uint8_t* codes, int bits, const float* table, int64_t k, float* out);
  // Integer dot products of unsigned 8-bit activations with signed 8-bit weights, exact in
  // int32 (|sum| < 2^31 for k < 2^16 * 2): one row, and four rows (stride ldw) at once.
  int32_t (*dot_u8s8)(const uint8_t* x, const int8_t* w, int64_t k);
  void (*dot_u8s8_x4)(const uint8_t* x, const int8_t* w, int64_t ldw, int64_t k, int32_t* out4);
  // y[i] += a x[i]
  void (*axpy)(float a, const float* x, float* y, int64_t n);
};

// The table for `isa` (which the CPU must support).
const Kernels& kernels(Isa isa);

namespace isa_scalar { const Kernels& table(); }
namespace isa_avx2 { const Kernels& table(); }
namespace isa_avx512 { const Kernels& table(); }

}  // namespace mcdnn::exec
