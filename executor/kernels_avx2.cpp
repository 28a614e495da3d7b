// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; called only when the CPU has them).
#include <immintrin.h>

#include <cstring>

#include "kernels.hpp"

namespace mcdnn::exec::isa_avx2 {
#include "kernels_isa.inc"

namespace {

static inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

static inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

static float dot_f16(const uint16_t* w, const float* x, int64_t k) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i))), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i + 8))), _mm256_loadu_ps(x + i + 8), a1);
  }
  float s = hsum(_mm256_add_ps(a0, a1));
  for (; i < k; ++i) s += half_to_float(w[i]) * x[i];
  return s;
}

// u8 x s8 widened to 16 bits, multiply-added in pairs to 32 bits: no saturation.
static int32_t dot_u8s8(const uint8_t* x, const int8_t* w, int64_t k) {
  __m256i acc = _mm256_setzero_si256();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
  }
  int32_t s = hsum_i32(acc);
  for (; i < k; ++i) s += static_cast<int32_t>(x[i]) * static_cast<int32_t>(w[i]);
  return s;
}

static void dot_u8s8_x4(const uint8_t* x, const int8_t* w, int64_t ldw, int64_t k, int32_t* out) {
  __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
    for (int r = 0; r < 4; ++r) {
      const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * ldw + i)));
      a[r] = _mm256_add_epi32(a[r], _mm256_madd_epi16(xv, wv));
    }
  }
  for (int r = 0; r < 4; ++r) {
    int32_t s = hsum_i32(a[r]);
    for (int64_t j = i; j < k; ++j) s += static_cast<int32_t>(x[j]) * static_cast<int32_t>(w[r * ldw + j]);
    out[r] = s;
  }
}

}  // namespace

const Kernels& table() {
  static const Kernels k{Isa::Avx2, g_dot_f32, dot_f16, g_dot_i8f, g_dot_cb, g_prepare_cb, g_sparse_dot_f32, g_sparse_dot_f16, g_sparse_dot_i8, g_sparse_dot_cb, g_decode_f16, g_decode_i8, g_decode_cb, dot_u8s8, dot_u8s8_x4, g_quant_pack_16, g_gemm_u8s8_16, g_axpy};
  return k;
}
}  // namespace mcdnn::exec::isa_avx2
