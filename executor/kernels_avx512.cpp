// AVX-512 F/BW/VL/VNNI kernels (compiled with those flags; called only when the CPU has them).
#include <immintrin.h>

#include <cstring>

#include "kernels.hpp"

namespace mcdnn::exec::isa_avx512 {
#include "kernels_isa.inc"

namespace {

static float dot_f32(const float* w, const float* x, int64_t k) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), a1);
  }
  if (i + 16 <= k) {
    a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a0);
    i += 16;
  }
  if (i < k) {
    const __mmask16 m = static_cast<__mmask16>((1u << (k - i)) - 1);
    a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

static float dot_f16(const uint16_t* w, const float* x, int64_t k) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))), _mm512_loadu_ps(x + i), a0);
    a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16))), _mm512_loadu_ps(x + i + 16), a1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < k; ++i) s += half_to_float(w[i]) * x[i];
  return s;
}

static float dot_i8f(const int8_t* w, const float* x, int64_t k) {
  __m512 a0 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= k; i += 16)
    a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + i)))),
                         _mm512_loadu_ps(x + i), a0);
  float s = _mm512_reduce_add_ps(a0);
  for (; i < k; ++i) s += static_cast<float>(w[i]) * x[i];
  return s;
}

// Codebook lookup in registers: 16 codes become 16 lane indices, VPERMPS (2, 4 bits: the whole
// table in one register) or a gather (8 bits) turns them into weights, one FMA uses them.
static float dot_cb(const uint8_t* codes, int bits, const float* table, const float* x, int64_t k) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int64_t i = 0;
  if (bits == 4) {
    const __m512 t = _mm512_loadu_ps(table);
    const __m512i shifts = _mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0);
    const __m512i mask = _mm512_set1_epi32(0xf);
    for (; i + 32 <= k; i += 32) {
      uint32_t c[4];
      std::memcpy(c, codes + i / 2, 16);
      const __m512i v0 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(static_cast<int>(c[0]))), _mm256_set1_epi32(static_cast<int>(c[1])), 1);
      const __m512i v1 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(static_cast<int>(c[2]))), _mm256_set1_epi32(static_cast<int>(c[3])), 1);
      a0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_and_si512(_mm512_srlv_epi32(v0, shifts), mask), t), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(_mm512_and_si512(_mm512_srlv_epi32(v1, shifts), mask), t), _mm512_loadu_ps(x + i + 16), a1);
    }
  } else if (bits == 2) {
    const __m512 t = _mm512_loadu_ps(table);
    const __m512i shifts = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i mask = _mm512_set1_epi32(0x3);
    for (; i + 32 <= k; i += 32) {
      uint32_t c[2];
      std::memcpy(c, codes + i / 4, 8);
      const __m512i i0 = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(c[0])), shifts), mask);
      const __m512i i1 = _mm512_and_si512(_mm512_srlv_epi32(_mm512_set1_epi32(static_cast<int>(c[1])), shifts), mask);
      a0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(i0, t), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(i1, t), _mm512_loadu_ps(x + i + 16), a1);
    }
  } else {
    for (; i + 32 <= k; i += 32) {
      const __m512i i0 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i)));
      const __m512i i1 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i + 16)));
      a0 = _mm512_fmadd_ps(_mm512_i32gather_ps(i0, table, 4), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_i32gather_ps(i1, table, 4), _mm512_loadu_ps(x + i + 16), a1);
    }
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
  for (; i < k; ++i) s += table[code_at(codes, bits, i)] * x[i];
  return s;
}

static inline __mmask64 tail_mask(int64_t n) { return n >= 64 ? ~__mmask64(0) : ((__mmask64(1) << n) - 1); }

// VPDPBUSD: 64 u8 x s8 products summed into 16 int32 lanes per instruction.
static int32_t dot_u8s8(const uint8_t* x, const int8_t* w, int64_t k) {
  __m512i acc = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(x + i), _mm512_loadu_si512(w + i));
  if (i < k) {
    const __mmask64 m = tail_mask(k - i);
    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, x + i), _mm512_maskz_loadu_epi8(m, w + i));
  }
  return _mm512_reduce_add_epi32(acc);
}

static void dot_u8s8_x4(const uint8_t* x, const int8_t* w, int64_t ldw, int64_t k, int32_t* out) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    const __m512i xv = _mm512_loadu_si512(x + i);
    a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_loadu_si512(w + i));
    a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_loadu_si512(w + ldw + i));
    a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_loadu_si512(w + 2 * ldw + i));
    a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_loadu_si512(w + 3 * ldw + i));
  }
  if (i < k) {
    const __mmask64 m = tail_mask(k - i);
    const __m512i xv = _mm512_maskz_loadu_epi8(m, x + i);
    a0 = _mm512_dpbusd_epi32(a0, xv, _mm512_maskz_loadu_epi8(m, w + i));
    a1 = _mm512_dpbusd_epi32(a1, xv, _mm512_maskz_loadu_epi8(m, w + ldw + i));
    a2 = _mm512_dpbusd_epi32(a2, xv, _mm512_maskz_loadu_epi8(m, w + 2 * ldw + i));
    a3 = _mm512_dpbusd_epi32(a3, xv, _mm512_maskz_loadu_epi8(m, w + 3 * ldw + i));
  }
  out[0] = _mm512_reduce_add_epi32(a0);
  out[1] = _mm512_reduce_add_epi32(a1);
  out[2] = _mm512_reduce_add_epi32(a2);
  out[3] = _mm512_reduce_add_epi32(a3);
}

static void axpy(float a, const float* x, float* y, int64_t n) {
  const __m512 av = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

}  // namespace

const Kernels& table() {
  static const Kernels k{Isa::Avx512, dot_f32, dot_f16, dot_i8f, dot_cb, g_decode_f16, g_decode_i8,
                         g_decode_cb, dot_u8s8, dot_u8s8_x4, axpy};
  return k;
}
}  // namespace mcdnn::exec::isa_avx512
