// Operations on channel-major activations (C x N x H x W) shared by the chain and graph runs.
#include "ops.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "break_even.hpp"
#include "util/error.hpp"

namespace mcdnn::exec {

const EncodedTensor& find_tensor(const VariantFile& v, size_t layer, const char* name) {
  const auto specs = tensors_of(v.layers[layer]);
  for (size_t k = 0; k < specs.size(); ++k)
    if (specs[k].name == name) return v.tensors[layer][k];
  fail(ErrorClass::Catalog, "layer " + v.layers[layer].name + " has no tensor '" + name + "'");
}

// y = (x - mean) / sqrt(var + eps) * gamma + beta as a scale and shift per channel, after the
// shift `b` already there (a bias, or none).
void fold_batchnorm(const VariantFile& v, size_t j, Step& s) {
  const auto gamma = decode_tensor(find_tensor(v, j, "weight")), beta = decode_tensor(find_tensor(v, j, "bias"));
  const auto mean = decode_tensor(find_tensor(v, j, "running_mean")), var = decode_tensor(find_tensor(v, j, "running_var"));
  const size_t c = gamma.size();
  std::vector<float> scale(c), shift(c);
  for (size_t ch = 0; ch < c; ++ch) {
    const double sc = gamma[ch] / std::sqrt(static_cast<double>(var[ch]) + v.layers[j].eps);
    const double b = s.shift.empty() ? 0.0 : s.shift[ch];
    const double prev = s.scale.empty() ? 1.0 : s.scale[ch];
    scale[ch] = static_cast<float>(prev * sc);
    shift[ch] = static_cast<float>((b - mean[ch]) * sc + beta[ch]);
  }
  s.scale = std::move(scale);
  s.shift = std::move(shift);
}

void choose_sparse(Matrix& m, int64_t p, const Options& opt, const Kernels& k) {
  if (m.storage == "int8" && !m.sparse && opt.int8 == Int8Mode::Integer) m.integer = int8_integer_pays(m.rows, m.cols, p, k);
  if (!m.sparse || opt.sparse == SparsePolicy::Sparse) return;
  bool dense = opt.sparse == SparsePolicy::Dense;
  if (!dense) dense = m.density() >= break_even(m.storage, m.rows, m.cols, p, k).density;
  Matrix d;
  if (dense && densify(m, &d)) {
    m = std::move(d);
    if (m.storage == "int8" && opt.int8 == Int8Mode::Integer) m.integer = int8_integer_pays(m.rows, m.cols, p, k);
  }
}

// K x (n*oh*ow) patches of a C x n x h x w activation, K = C*kh*kw in PyTorch weight order.
void im2col(const float* x, const Shape& in, int64_t n, const Step& s, float* col) {
  const int64_t oh = s.out.h, ow = s.out.w, H = in.h, W = in.w;
  const int64_t P = n * oh * ow;
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t i = 0; i < s.kh; ++i)
      for (int64_t j = 0; j < s.kw; ++j) {
        float* row = col + ((c * s.kh + i) * s.kw + j) * P;
        for (int64_t b = 0; b < n; ++b) {
          const float* plane = x + (c * n + b) * H * W;
          for (int64_t y = 0; y < oh; ++y) {
            const int64_t iy = y * s.sh - s.ph + i * s.dh;
            float* out = row + (b * oh + y) * ow;
            if (iy < 0 || iy >= H) {
              std::fill(out, out + ow, 0.0f);
              continue;
            }
            const float* src = plane + iy * W;
            for (int64_t xx = 0; xx < ow; ++xx) {
              const int64_t ix = xx * s.sw - s.pw + j * s.dw;
              out[xx] = (ix >= 0 && ix < W) ? src[ix] : 0.0f;
            }
          }
        }
      }
}

float activate(Act a, float v) {
  switch (a) {
    case Act::None: return v;
    case Act::ReLU: return std::max(v, 0.0f);
    case Act::ReLU6: return std::min(std::max(v, 0.0f), 6.0f);
    case Act::HardSwish: return v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f;
    case Act::Sigmoid: return 1.0f / (1.0f + std::exp(-v));
  }
  return v;
}

void epilogue(const Step& s, float* y, int64_t rows, int64_t p) {
  const bool sc = !s.scale.empty(), sh = !s.shift.empty();
  if (!sc && !sh && s.act == Act::None) return;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = y + r * p;
    const float a = sc ? s.scale[static_cast<size_t>(r)] : 1.0f, b = sh ? s.shift[static_cast<size_t>(r)] : 0.0f;
    switch (s.act) {
      case Act::None:
        for (int64_t j = 0; j < p; ++j) row[j] = row[j] * a + b;
        break;
      case Act::ReLU:
        for (int64_t j = 0; j < p; ++j) row[j] = std::max(row[j] * a + b, 0.0f);
        break;
      default:
        for (int64_t j = 0; j < p; ++j) row[j] = activate(s.act, row[j] * a + b);
    }
  }
}

// Max pooling pads with -inf, average pooling with zeros that count toward the average
// (PyTorch's count_include_pad); windows never cross the padded edge (floor rounding).
void pool(const Step& s, const float* x, int64_t n, float* y) {
  const int64_t H = s.in.h, W = s.in.w, oh = s.out.h, ow = s.out.w;
  const bool mx = s.kind == Step::MaxPool;
  const float inv = 1.0f / static_cast<float>(s.kh * s.kw);
  for (int64_t plane = 0; plane < s.in.c * n; ++plane) {
    const float* in = x + plane * H * W;
    float* out = y + plane * oh * ow;
    if (mx && s.kh == 2 && s.kw == 2 && s.sh == 2 && s.sw == 2 && s.ph == 0 && s.pw == 0) {  // the common case
      for (int64_t i = 0; i < oh; ++i) {
        const float* r0 = in + 2 * i * W;
        const float* r1 = r0 + W;
        for (int64_t j = 0; j < ow; ++j)
          out[i * ow + j] = std::max(std::max(r0[2 * j], r0[2 * j + 1]), std::max(r1[2 * j], r1[2 * j + 1]));
      }
      continue;
    }
    if (s.ph == 0 && s.pw == 0) {  // every window inside: no bounds checks
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          const float* w = in + i * s.sh * W + j * s.sw;
          float acc = mx ? w[0] : 0.0f;
          for (int64_t a = 0; a < s.kh; ++a)
            for (int64_t b = 0; b < s.kw; ++b) acc = mx ? std::max(acc, w[a * W + b]) : acc + w[a * W + b];
          out[i * ow + j] = mx ? acc : acc * inv;
        }
      continue;
    }
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        float acc = mx ? -std::numeric_limits<float>::infinity() : 0.0f;
        for (int64_t a = 0; a < s.kh; ++a) {
          const int64_t iy = i * s.sh - s.ph + a;
          if (iy < 0 || iy >= H) continue;
          for (int64_t b = 0; b < s.kw; ++b) {
            const int64_t ix = j * s.sw - s.pw + b;
            if (ix < 0 || ix >= W) continue;
            const float v = in[iy * W + ix];
            acc = mx ? std::max(acc, v) : acc + v;
          }
        }
        out[i * ow + j] = mx ? acc : acc * inv;
      }
  }
}


void grouped_conv(const Step& s, const float* x, int64_t n, float* y) {
  const int64_t G = s.groups, cin = s.in.c / G, cout = s.out.c / G;
  const int64_t H = s.in.h, W = s.in.w, oh = s.out.h, ow = s.out.w;
  for (int64_t oc = 0; oc < s.out.c; ++oc) {
    const int64_t g = oc / cout;
    const float* w = s.dense.data() + oc * cin * s.kh * s.kw;
    for (int64_t b = 0; b < n; ++b) {
      float* out = y + (oc * n + b) * oh * ow;
      std::fill(out, out + oh * ow, 0.0f);
      for (int64_t ic = 0; ic < cin; ++ic) {
        const float* plane = x + ((g * cin + ic) * n + b) * H * W;
        for (int64_t i = 0; i < s.kh; ++i)
          for (int64_t j = 0; j < s.kw; ++j) {
            const float wv = w[(ic * s.kh + i) * s.kw + j];
            if (wv == 0.0f) continue;
            // Output columns xx read input column xx*sw + off: those in [x0, x1) are inside the
            // image, so the inner loop has no test (and vectorizes at stride 1). The same
            // products summed in the same order as a bounds-checked loop.
            const int64_t off = j * s.dw - s.pw;
            if (off > W - 1) continue;
            const int64_t x0 = off >= 0 ? 0 : (-off + s.sw - 1) / s.sw;
            const int64_t x1 = std::min(ow, (W - 1 - off) / s.sw + 1);
            for (int64_t yy = 0; yy < oh; ++yy) {
              const int64_t iy = yy * s.sh - s.ph + i * s.dh;
              if (iy < 0 || iy >= H) continue;
              const float* src = plane + iy * W;
              float* dst = out + yy * ow;
              if (s.sw == 1)
                for (int64_t xx = x0; xx < x1; ++xx) dst[xx] += wv * src[xx + off];
              else
                for (int64_t xx = x0; xx < x1; ++xx) dst[xx] += wv * src[xx * s.sw + off];
            }
          }
      }
    }
  }
}

void global_avg_pool(const Step& s, const float* x, int64_t n, float* y) {
  const int64_t hw = s.in.h * s.in.w;
  const float inv = 1.0f / static_cast<float>(hw);
  for (int64_t p = 0; p < s.in.c * n; ++p) {
    const float* in = x + p * hw;
    float acc = 0.0f;
    for (int64_t q = 0; q < hw; ++q) acc += in[q];
    y[p] = acc * inv;
  }
}

void flatten(const Shape& in, const float* x, int64_t n, float* y) {
  const int64_t C = in.c, HW = in.h * in.w;
  if (n == 1 || in.flat || HW == 1) {
    std::memcpy(y, x, static_cast<size_t>(C * HW * n) * sizeof(float));
    return;
  }
  for (int64_t c = 0; c < C; ++c)
    for (int64_t b = 0; b < n; ++b)
      for (int64_t q = 0; q < HW; ++q) y[(c * HW + q) * n + b] = x[(c * n + b) * HW + q];
}

}  // namespace mcdnn::exec
