// Portable kernels, compiled for baseline x86-64 (SSE2).
#include <cstring>

#include "kernels.hpp"

namespace mcdnn::exec::isa_scalar {
#include "kernels_isa.inc"

const Kernels& table() {
  static const Kernels k{Isa::Scalar, g_dot_f32, g_dot_f16, g_dot_i8f, g_dot_cb, g_prepare_cb, g_sparse_dot_f32, g_sparse_dot_f16, g_sparse_dot_i8, g_sparse_dot_cb, g_decode_f16, g_decode_i8, g_decode_cb, g_dot_u8s8, g_dot_u8s8_x4, g_quant_pack_16, g_gemm_u8s8_16, g_axpy};
  return k;
}
}  // namespace mcdnn::exec::isa_scalar

namespace mcdnn::exec {
const Kernels& kernels(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return isa_avx512::table();
    case Isa::Avx2: return isa_avx2::table();
    default: return isa_scalar::table();
  }
}
}  // namespace mcdnn::exec
