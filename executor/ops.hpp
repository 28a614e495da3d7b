// Operations on channel-major activations (C x N x H x W at batch N; features x N when flat),
// shared by the chain run (model.cpp) and the graph run (graph.cpp).
#pragma once
#include <cstdint>

#include "model.hpp"

namespace mcdnn::exec {

// Loading: layer `layer`'s tensor `name` (Error(Catalog) when missing), and the sparse/dense and
// integer int8 choices for a matrix multiplied with p columns.
const EncodedTensor& find_tensor(const VariantFile& v, size_t layer, const char* name);
void choose_sparse(Matrix& m, int64_t p, const Options& opt, const Kernels& k);
// Batchnorm layer j of `v` folded into s's output pass: y = (x - mean) / sqrt(var + eps) *
// gamma + beta applied after the scale and shift s already has (a bias, or nothing), computed
// in double and rounded to float32.
void fold_batchnorm(const VariantFile& v, size_t j, Step& s);

// K x (n*oh*ow) patches of a C x n x h x w activation, K = C*kh*kw in PyTorch weight order
// (dilation s.dh, s.dw).
void im2col(const float* x, const Shape& in, int64_t n, const Step& s, float* col);

float activate(Act a, float v);

// Per row (channel) of a rows x p matrix: y = y * scale + shift, then the step's activation.
void epilogue(const Step& s, float* y, int64_t rows, int64_t p);

// Max pooling pads with -inf, average pooling with zeros that count toward the average
// (PyTorch's count_include_pad); windows never cross the padded edge (floor rounding).
void pool(const Step& s, const float* x, int64_t n, float* y);

// A conv with s.groups > 1 (depthwise when groups = channels), direct, from s.dense (out x
// in/groups x kh x kw, the stored weights decoded); no bias or epilogue.
void grouped_conv(const Step& s, const float* x, int64_t n, float* y);

// C x N x H x W -> C x N (the mean of each plane).
void global_avg_pool(const Step& s, const float* x, int64_t n, float* y);

// C x N x HW -> (C*HW) x N.
void flatten(const Shape& in, const float* x, int64_t n, float* y);

}  // namespace mcdnn::exec
