#include "matrix.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace mcdnn::exec {

namespace {

const Blob* blob(const EncodedTensor& e, const char* name) {
  for (const auto& b : e.blobs)
    if (b.name == name) return &b;
  return nullptr;
}

template <class T>
std::vector<T> as_vector(const Blob* b) {
  std::vector<T> v(b->data.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b->data.data(), v.size() * sizeof(T));
  return v;
}

template <class T>
int64_t bytes_of(const std::vector<T>& v) {
  return static_cast<int64_t>(v.capacity() * sizeof(T));
}

unsigned code_of(const uint8_t* codes, int bits, int64_t i) {
  const int64_t bit = i * bits;
  return (codes[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
}

}  // namespace

int64_t Matrix::resident_bytes() const {
  return bytes_of(f32) + bytes_of(f16) + bytes_of(i8) + bytes_of(codes) + bytes_of(scale) + bytes_of(rowsum) +
         bytes_of(table) + bytes_of(start) + bytes_of(gaps);
}

std::string Matrix::describe() const {
  std::string s = storage + (sparse ? " sparse" : " dense");
  if (storage == "int8" && !sparse) s += integer ? " integer" : " float";
  if (sparse) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.1f%%", 100.0 * density());
    s += buf;
  }
  return s;
}

Matrix make_matrix(const EncodedTensor& e) {
  if (e.shape.empty()) throw std::invalid_argument("a weight matrix needs at least one dimension");
  Matrix m;
  m.rows = e.shape[0];
  m.cols = 1;
  for (size_t i = 1; i < e.shape.size(); ++i) m.cols *= e.shape[i];
  m.storage = e.storage;
  m.sparse = e.sparse;
  m.bits = codebook_bits(e.storage);
  const Blob* values = blob(e, "values");
  if (e.storage == "f32") m.f32 = as_vector<float>(values);
  else if (e.storage == "f16") m.f16 = as_vector<uint16_t>(values);
  else if (e.storage == "int8") {
    m.i8 = as_vector<int8_t>(values);
    m.scale = as_vector<float>(blob(e, "scale"));
  } else {
    const auto book = as_vector<float>(blob(e, "codebook"));
    m.table.assign(std::max<size_t>(size_t(1) << m.bits, 16), 0.0f);
    std::copy(book.begin(), book.end(), m.table.begin());
    if (m.bits == 2)
      for (size_t i = 4; i < 16; ++i) m.table[i] = m.table[i & 3];
  }

  if (e.sparse) {
    const Blob* rc = blob(e, "row_counts");
    m.start.resize(static_cast<size_t>(m.rows) + 1);
    uint64_t at = 0;
    for (int64_t r = 0; r < m.rows; ++r) {
      m.start[static_cast<size_t>(r)] = static_cast<uint32_t>(at);
      uint32_t n;
      if (rc->type == BlobType::U16) {
        uint16_t v;
        std::memcpy(&v, rc->data.data() + r * 2, 2);
        n = v;
      } else {
        std::memcpy(&n, rc->data.data() + r * 4, 4);
      }
      at += n;
    }
    if (at > UINT32_MAX) throw std::invalid_argument("more than 2^32 sparse entries in one matrix");
    m.start.back() = static_cast<uint32_t>(at);
    m.gaps = as_vector<uint8_t>(blob(e, "gaps"));
    if (m.bits) m.codes = as_vector<uint8_t>(blob(e, "codes"));
    return m;
  }

  if (m.bits) {
    // Every row starts at a byte: at most one byte of padding per row.
    const Blob* codes = blob(e, "codes");
    m.row_bytes = (m.cols * m.bits + 7) / 8;
    m.codes.assign(static_cast<size_t>(m.rows * m.row_bytes), 0);
    for (int64_t r = 0; r < m.rows; ++r) {
      uint8_t* row = m.codes.data() + r * m.row_bytes;
      if ((r * m.cols * m.bits) % 8 == 0) {
        std::memcpy(row, codes->data.data() + r * m.cols * m.bits / 8, static_cast<size_t>(m.row_bytes));
        if ((m.cols * m.bits) % 8) row[m.row_bytes - 1] &= static_cast<uint8_t>((1u << ((m.cols * m.bits) % 8)) - 1);
      } else {
        for (int64_t c = 0; c < m.cols; ++c)
          row[c * m.bits / 8] |= static_cast<uint8_t>(code_of(codes->data.data(), m.bits, r * m.cols + c) << ((c * m.bits) % 8));
      }
    }
  }
  if (e.storage == "int8") {
    const int64_t ld = m.ld();
    std::vector<int8_t> padded(static_cast<size_t>(m.rows * ld), 0);
    m.rowsum.resize(static_cast<size_t>(m.rows));
    for (int64_t r = 0; r < m.rows; ++r) {
      int32_t s = 0;
      for (int64_t c = 0; c < m.cols; ++c) s += padded[static_cast<size_t>(r * ld + c)] = m.i8[static_cast<size_t>(r * m.cols + c)];
      m.rowsum[static_cast<size_t>(r)] = s;
    }
    m.i8 = std::move(padded);
  }
  return m;
}

bool densify(const Matrix& s, Matrix* d) {
  if (!s.sparse) {
    *d = s;
    return true;
  }
  Matrix m;
  m.rows = s.rows;
  m.cols = s.cols;
  m.storage = s.storage;
  m.bits = s.bits;
  m.scale = s.scale;
  m.table = s.table;
  const int64_t n = s.rows * s.cols;
  unsigned zero_code = 0;
  if (s.bits) {
    bool found = false;
    for (unsigned c = 0; c < (1u << s.bits) && !found; ++c)
      if (s.table[c] == 0.0f) zero_code = c, found = true;
    if (!found) return false;
    m.row_bytes = (s.cols * s.bits + 7) / 8;
    m.codes.assign(static_cast<size_t>(m.rows * m.row_bytes), 0);
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t c = 0; c < m.cols; ++c)
        m.codes[static_cast<size_t>(r * m.row_bytes + c * s.bits / 8)] |= static_cast<uint8_t>(zero_code << ((c * s.bits) % 8));
  } else if (s.storage == "f32") {
    m.f32.assign(static_cast<size_t>(n), 0.0f);
  } else if (s.storage == "f16") {
    m.f16.assign(static_cast<size_t>(n), 0);
  } else {
    m.i8.assign(static_cast<size_t>(s.rows * m.ld()), 0);
  }
  for (int64_t r = 0; r < s.rows; ++r) {
    int64_t col = -1;
    for (uint32_t e = s.start[static_cast<size_t>(r)]; e < s.start[static_cast<size_t>(r) + 1]; ++e) {
      col += 1 + s.gaps[e];
      const size_t at = static_cast<size_t>(r * s.cols + col);
      if (s.bits) {
        uint8_t& byte = m.codes[static_cast<size_t>(r * m.row_bytes + col * s.bits / 8)];
        const int shift = static_cast<int>((col * s.bits) % 8);
        byte = static_cast<uint8_t>((byte & ~(((1u << s.bits) - 1) << shift)) | (code_of(s.codes.data(), s.bits, e) << shift));
      } else if (s.storage == "f32") {
        m.f32[at] = s.f32[e];
      } else if (s.storage == "f16") {
        m.f16[at] = s.f16[e];
      } else {
        m.i8[static_cast<size_t>(r * m.ld() + col)] = s.i8[e];
      }
    }
  }
  if (s.storage == "int8") {
    m.rowsum.resize(static_cast<size_t>(m.rows));
    for (int64_t r = 0; r < m.rows; ++r) {
      int32_t sum = 0;
      for (int64_t c = 0; c < m.cols; ++c) sum += m.i8[static_cast<size_t>(r * m.ld() + c)];
      m.rowsum[static_cast<size_t>(r)] = sum;
    }
  }
  *d = std::move(m);
  return true;
}

namespace {

// Weight of sparse entry e, before the int8 row scale.
inline float sparse_value(const Matrix& w, uint32_t e) {
  if (w.bits) return w.table[code_of(w.codes.data(), w.bits, e)];
  if (!w.f32.empty()) return w.f32[e];
  if (!w.f16.empty()) return f16_to_f32(w.f16[e]);
  return static_cast<float>(w.i8[e]);
}

// Sparse rows: each entry's column follows from the previous by its 8-bit gap.
template <class Value>
void sparse_matmul(const Matrix& w, const float* x, int64_t p, float* y, const Kernels& k, Value value) {
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint32_t b = w.start[static_cast<size_t>(r)], end = w.start[static_cast<size_t>(r) + 1];
    const uint8_t* g = w.gaps.data();
    const float sc = w.scale.empty() ? 1.0f : w.scale[static_cast<size_t>(r)];
    if (p == 1) {
      float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      int64_t col = -1;
      uint32_t e = b;
      for (; e + 4 <= end; e += 4) {
        const int64_t c0 = col + 1 + g[e], c1 = c0 + 1 + g[e + 1], c2 = c1 + 1 + g[e + 2], c3 = c2 + 1 + g[e + 3];
        a0 += value(e) * x[c0];
        a1 += value(e + 1) * x[c1];
        a2 += value(e + 2) * x[c2];
        a3 += value(e + 3) * x[c3];
        col = c3;
      }
      for (; e < end; ++e) {
        col += 1 + g[e];
        a0 += value(e) * x[col];
      }
      y[r] = sc * ((a0 + a1) + (a2 + a3));
    } else {
      float* yr = y + r * p;
      std::fill(yr, yr + p, 0.0f);
      int64_t col = -1;
      for (uint32_t e = b; e < end; ++e) {
        col += 1 + g[e];
        k.axpy(value(e), x + col * p, yr, p);
      }
      if (sc != 1.0f)
        for (int64_t j = 0; j < p; ++j) yr[j] *= sc;
    }
  }
}

void sparse(const Matrix& w, const float* x, int64_t p, float* y, const Kernels& k) {
  if (p == 1) {
    const uint8_t* g = w.gaps.data();
    const bool f32 = w.storage == "f32", f16 = w.storage == "f16";
    for (int64_t r = 0; r < w.rows; ++r) {
      const uint32_t b = w.start[static_cast<size_t>(r)];
      const int64_t n = w.start[static_cast<size_t>(r) + 1] - b;
      float v;
      if (w.bits) v = n ? k.sparse_dot_cb(g + b, w.codes.data(), b, w.bits, w.table.data(), n, x) : 0.0f;
      else if (f32) v = n ? k.sparse_dot_f32(g + b, w.f32.data() + b, n, x) : 0.0f;
      else if (f16) v = n ? k.sparse_dot_f16(g + b, w.f16.data() + b, n, x) : 0.0f;
      else v = (n ? k.sparse_dot_i8(g + b, w.i8.data() + b, n, x) : 0.0f) * w.scale[static_cast<size_t>(r)];
      y[r] = v;
    }
    return;
  }
  if (w.bits == 8) sparse_matmul(w, x, p, y, k, [&](uint32_t e) { return w.table[w.codes[e]]; });
  else if (w.bits) sparse_matmul(w, x, p, y, k, [&](uint32_t e) { return w.table[code_of(w.codes.data(), w.bits, e)]; });
  else if (!w.f32.empty() || w.storage == "f32") sparse_matmul(w, x, p, y, k, [&](uint32_t e) { return w.f32[e]; });
  else if (w.storage == "f16") sparse_matmul(w, x, p, y, k, [&](uint32_t e) { return f16_to_f32(w.f16[e]); });
  else sparse_matmul(w, x, p, y, k, [&](uint32_t e) { return static_cast<float>(w.i8[e]); });
}

// Dense non-f32 row r decoded (before the int8 scale).
void decode_row(const Matrix& w, int64_t r, float* out, const Kernels& k) {
  if (w.bits) k.decode_cb(w.codes.data() + r * w.row_bytes, w.bits, w.table.data(), w.cols, out);
  else if (!w.f16.empty()) k.decode_f16(w.f16.data() + r * w.cols, w.cols, out);
  else k.decode_i8(w.i8.data() + r * w.ld(), w.cols, out);
}

float dot_row(const Matrix& w, int64_t r, const float* x, const float* xp, const Kernels& k) {
  if (w.bits) return k.dot_cb(w.codes.data() + r * w.row_bytes, w.bits, w.table.data(), x, xp, w.cols);
  if (!w.f16.empty()) return k.dot_f16(w.f16.data() + r * w.cols, x, w.cols);
  return k.dot_i8f(w.i8.data() + r * w.ld(), x, w.cols);
}

// Dense f16 / codebook / int8-as-float.
void decoded(const Matrix& w, const float* x, int64_t p, float* y, Scratch& s, const Kernels& k) {
  const bool scaled = !w.scale.empty();
  if (p == 1) {
    const float* xp = x;
    if (w.bits) {
      s.xp.resize(static_cast<size_t>(w.cols));
      k.prepare_cb(w.bits, x, w.cols, s.xp.data());
      xp = s.xp.data();
    }
    for (int64_t r = 0; r < w.rows; ++r) y[r] = dot_row(w, r, x, xp, k) * (scaled ? w.scale[static_cast<size_t>(r)] : 1.0f);
    return;
  }
  // A tile of rows (at least 16, about 256 KB of floats) decoded once, used for all p columns.
  const int64_t tile = std::min<int64_t>(w.rows, std::max<int64_t>(16, 65536 / std::max<int64_t>(1, w.cols)));
  float* buf = s.floats(static_cast<size_t>(tile * w.cols));
  for (int64_t r0 = 0; r0 < w.rows; r0 += tile) {
    const int64_t n = std::min(tile, w.rows - r0);
    for (int64_t r = 0; r < n; ++r) {
      decode_row(w, r0 + r, buf + r * w.cols, k);
      if (scaled) {
        const float sc = w.scale[static_cast<size_t>(r0 + r)];
        for (int64_t c = 0; c < w.cols; ++c) buf[r * w.cols + c] *= sc;
      }
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(p), static_cast<int>(w.cols),
                1.0f, buf, static_cast<int>(w.cols), x, static_cast<int>(p), 0.0f, y + r0 * p, static_cast<int>(p));
  }
}

// Dense int8 in integer arithmetic. Column j of X is quantized to uint8 with its own affine
// map x = s_j (q - z_j) over [min(0, min_j), max(0, max_j)], then
//   y[r][j] = s_w[r] s_j (sum_k w[r][k] q[k][j] - z_j rowsum[r]).
// One column: q contiguous, row dot products. Several: q packed 16 columns x 4 k per 64 bytes
// for gemm_u8s8_16.
void integer(const Matrix& w, const float* x, int64_t p, float* y, Scratch& s, const Kernels& k) {
  const int64_t K = w.cols, ld = w.ld(), k4 = ld / 4;
  s.colscale.resize(static_cast<size_t>(p));
  s.colzero.resize(static_cast<size_t>(p));
  float* lo = s.floats(static_cast<size_t>(2 * p));
  float* hi = lo + p;
  std::fill(lo, lo + p, 0.0f);
  std::fill(hi, hi + p, 0.0f);
  for (int64_t c = 0; c < K; ++c)
    for (int64_t j = 0; j < p; ++j) {
      const float v = x[c * p + j];
      lo[j] = std::min(lo[j], v);
      hi[j] = std::max(hi[j], v);
    }
  for (int64_t j = 0; j < p; ++j) {
    const float range = hi[j] - lo[j];
    const float sc = range > 0 ? range / 255.0f : 1.0f;
    s.colscale[static_cast<size_t>(j)] = 1.0f / sc;  // the inverse while quantizing
    s.colzero[static_cast<size_t>(j)] = std::floor(-lo[j] / sc + 0.5f);
  }
  // Round to nearest (half up; every value lies in [lo, hi], so the result is in [0, 255]).
  auto quant = [&](float v, int64_t j) {
    const float q = v * s.colscale[static_cast<size_t>(j)] + s.colzero[static_cast<size_t>(j)] + 0.5f;
    return static_cast<uint8_t>(static_cast<int>(std::min(std::max(q, 0.0f), 255.0f)));
  };
  const int8_t* wq = w.i8.data();
  if (p == 1) {
    s.u8.assign(static_cast<size_t>(K), 0);
    for (int64_t c = 0; c < K; ++c) s.u8[static_cast<size_t>(c)] = quant(x[c], 0);
    const float sx = 1.0f / s.colscale[0];
    const int32_t zx = static_cast<int32_t>(s.colzero[0]);
    int64_t r = 0;
    int32_t acc[4];
    for (; r + 4 <= w.rows; r += 4) {
      k.dot_u8s8_x4(s.u8.data(), wq + r * ld, ld, K, acc);
      for (int i = 0; i < 4; ++i)
        y[r + i] = w.scale[static_cast<size_t>(r + i)] * sx * static_cast<float>(acc[i] - zx * w.rowsum[static_cast<size_t>(r + i)]);
    }
    for (; r < w.rows; ++r)
      y[r] = w.scale[static_cast<size_t>(r)] * sx * static_cast<float>(k.dot_u8s8(s.u8.data(), wq + r * ld, K) - zx * w.rowsum[static_cast<size_t>(r)]);
    return;
  }
  const int64_t blocks = (p + 15) / 16;
  s.u8.assign(static_cast<size_t>(blocks * k4 * 64), 0);
  for (int64_t b = 0; b < blocks; ++b)
    k.quant_pack_16(x, p, K, b * 16, std::min<int64_t>(16, p - b * 16), s.colscale.data(), s.colzero.data(),
                    s.u8.data() + b * k4 * 64);
  s.acc.resize(static_cast<size_t>(w.rows * 16));
  for (int64_t b = 0; b < blocks; ++b) {
    k.gemm_u8s8_16(s.u8.data() + b * k4 * 64, k4, wq, ld, w.rows, s.acc.data());
    const int64_t j0 = b * 16, nj = std::min<int64_t>(16, p - j0);
    for (int64_t r = 0; r < w.rows; ++r) {
      const float sw = w.scale[static_cast<size_t>(r)];
      const int32_t rs = w.rowsum[static_cast<size_t>(r)];
      for (int64_t j = 0; j < nj; ++j) {
        const int64_t col = j0 + j;
        y[r * p + col] = sw / s.colscale[static_cast<size_t>(col)] *
                         static_cast<float>(s.acc[static_cast<size_t>(r * 16 + j)] - static_cast<int32_t>(s.colzero[static_cast<size_t>(col)]) * rs);
      }
    }
  }
}

}  // namespace

void matmul(const Matrix& w, const float* x, int64_t p, float* y, Scratch& s, const Kernels& k, Int8Mode mode) {
  if (w.sparse) return sparse(w, x, p, y, k);
  if (w.storage == "f32") {
    if (p == 1)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(w.rows), static_cast<int>(w.cols), 1.0f, w.f32.data(),
                  static_cast<int>(w.cols), x, 1, 0.0f, y, 1);
    else
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(w.rows), static_cast<int>(p), static_cast<int>(w.cols),
                  1.0f, w.f32.data(), static_cast<int>(w.cols), x, static_cast<int>(p), 0.0f, y, static_cast<int>(p));
    return;
  }
  if (w.storage == "int8" && mode == Int8Mode::Integer && w.integer) return integer(w, x, p, y, s, k);
  decoded(w, x, p, y, s, k);
}

void matmul_reference(const Matrix& w, const float* x, int64_t p, float* y) {
  std::vector<double> acc(static_cast<size_t>(w.rows * p), 0.0);
  auto add = [&](int64_t r, int64_t c, double v) {
    for (int64_t j = 0; j < p; ++j) acc[static_cast<size_t>(r * p + j)] += v * x[c * p + j];
  };
  for (int64_t r = 0; r < w.rows; ++r) {
    const double sc = w.scale.empty() ? 1.0 : w.scale[static_cast<size_t>(r)];
    if (w.sparse) {
      int64_t col = -1;
      for (uint32_t e = w.start[static_cast<size_t>(r)]; e < w.start[static_cast<size_t>(r) + 1]; ++e) {
        col += 1 + w.gaps[e];
        add(r, col, sc * sparse_value(w, e));
      }
    } else {
      for (int64_t c = 0; c < w.cols; ++c) {
        const size_t at = static_cast<size_t>(r * w.cols + c);
        double v;
        if (w.bits) v = w.table[code_of(w.codes.data() + r * w.row_bytes, w.bits, c)];
        else if (!w.f32.empty()) v = w.f32[at];
        else if (!w.f16.empty()) v = f16_to_f32(w.f16[at]);
        else v = w.i8[static_cast<size_t>(r * w.ld() + c)];
        add(r, c, sc * v);
      }
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) y[i] = static_cast<float>(acc[i]);
}

}  // namespace mcdnn::exec
