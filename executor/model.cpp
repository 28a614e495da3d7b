#include "model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "break_even.hpp"
#include "measure.hpp"
#include "ops.hpp"
#include "util/error.hpp"

namespace mcdnn::exec {

int64_t Step::resident_bytes() const {
  return a.resident_bytes() + b.resident_bytes() +
         static_cast<int64_t>((scale.capacity() + shift.capacity() + dense.capacity()) * sizeof(float));
}

std::string Step::describe() const {
  switch (kind) {
    case Conv:
    case Linear:
      if (!dense.empty()) return "f32 grouped direct (decoded)";
      return lowrank ? "lowrank " + a.describe() + " + " + b.describe() : a.describe();
    default:
      return "";
  }
}

Model Model::from_file(const VariantFile& v, const Options& opt) {
  single_threaded_blas();
  Model m;
  m.input_ = v.input;
  m.opt_ = opt;
  m.kernels_ = &kernels(active_isa());
  const auto& L = v.layers;
  for (size_t i = 0; i < L.size(); ++i)
    if (!graph_feature(L, i).empty()) {
      if (opt.layers > 0)
        fail(ErrorClass::Catalog, "variant " + v.id + " is a graph: running a prefix of it (a trunk) is not supported yet");
      build_graph(m, v, opt);
      return m;
    }
  if (opt.layers < 0 || static_cast<size_t>(opt.layers) > L.size())
    fail(ErrorClass::Internal, "Model::from_file: " + std::to_string(opt.layers) + " layers of a variant with " + std::to_string(L.size()));
  const size_t nl = opt.layers > 0 ? static_cast<size_t>(opt.layers) : L.size();
  m.output_ = opt.layers > 0 ? L[nl - 1].out_shape : Shape{v.input.num_classes, 1, 1, true};
  for (size_t i = 0; i < nl; ++i) {
    const LayerSpec& l = L[i];
    Step s;
    s.name = l.name;
    s.in = l.in;
    s.out = l.out_shape;
    switch (l.kind) {
      case LayerKind::Conv2d:
      case LayerKind::Linear: {
        s.kind = l.kind == LayerKind::Conv2d ? Step::Conv : Step::Linear;
        s.kh = l.kh, s.kw = l.kw, s.sh = l.sh, s.sw = l.sw, s.ph = l.ph, s.pw = l.pw;
        s.lowrank = l.repr == "lowrank";
        s.a = make_matrix(find_tensor(v, i, s.lowrank ? "weight_a" : "weight"));
        if (s.lowrank) s.b = make_matrix(find_tensor(v, i, "weight_b"));
        const int64_t positions = s.kind == Step::Conv ? l.out_shape.h * l.out_shape.w : 1;
        const Kernels& k = *m.kernels_;
        choose_sparse(s.a, positions * opt.batch_hint, opt, k);
        if (s.lowrank) choose_sparse(s.b, positions * opt.batch_hint, opt, k);
        if (l.bias) s.shift = decode_tensor(find_tensor(v, i, "bias"));
        // A batchnorm right after (dropout in between is the identity) becomes the output's
        // per-channel scale and shift: y = (x - mean) / sqrt(var + eps) * gamma + beta.
        size_t j = i + 1;
        while (j < nl && L[j].kind == LayerKind::Dropout) ++j;
        if (j < nl && L[j].kind == LayerKind::BatchNorm) {
          fold_batchnorm(v, j, s);
          s.name += "+" + L[j].name;
          s.out = L[j].out_shape;
          i = j;
        }
        m.steps_.push_back(std::move(s));
        break;
      }
      case LayerKind::BatchNorm: {
        s.kind = Step::Affine;
        fold_batchnorm(v, i, s);
        m.steps_.push_back(std::move(s));
        break;
      }
      case LayerKind::ReLU:
        if (m.steps_.empty() || m.steps_.back().act != Act::None) {
          s.kind = Step::Affine;  // nothing to fuse into: a step that only clamps
          s.act = Act::ReLU;
          m.steps_.push_back(std::move(s));
        } else {
          m.steps_.back().act = Act::ReLU;
          m.steps_.back().name += "+" + l.name;
        }
        break;
      case LayerKind::MaxPool:
      case LayerKind::AvgPool:
        s.kind = l.kind == LayerKind::MaxPool ? Step::MaxPool : Step::AvgPool;
        s.kh = l.kh, s.kw = l.kw, s.sh = l.sh, s.sw = l.sw, s.ph = l.ph, s.pw = l.pw;
        m.steps_.push_back(std::move(s));
        break;
      case LayerKind::Flatten:
        s.kind = Step::Flatten;
        m.steps_.push_back(std::move(s));
        break;
      case LayerKind::Dropout:
        break;  // identity at inference
      default:  // graph layers: the variant reader refuses them, so none reaches here
        fail(ErrorClass::Internal, "Model::from_file: layer " + l.name + " (" + kind_name(l.kind) + ") is not run by this executor yet");
    }
  }
  return m;
}

int64_t Model::resident_bytes() const {
  int64_t n = 0;
  for (const auto& s : steps_) n += s.resident_bytes();
  return n;
}

// Floats per example of the two activation buffers (each) and of the im2col / intermediate
// buffer: what run_impl() allocates, and what activation_bytes() reports.
void Model::buffer_sizes(int64_t* act, int64_t* col) const {
  *act = input_.input.numel();
  *col = 0;
  for (const auto& s : steps_) {
    *act = std::max(*act, s.out.numel());
    const int64_t pos = s.out.h * s.out.w;
    if (s.kind == Step::Conv) {
      *act = std::max(*act, s.lowrank ? s.a.rows * pos : 0);
      *col = std::max(*col, s.in.c * s.kh * s.kw * pos);
      if (s.lowrank) *col = std::max(*col, s.out.c * pos);
    }
    if (s.kind == Step::Linear && s.lowrank) *col = std::max(*col, s.a.rows);
  }
}

int64_t Model::activation_bytes(int64_t n) const {
  int64_t act, col;
  buffer_sizes(&act, &col);
  if (graph_) {  // the arena (images and step outputs), the im2col buffer and a low-rank intermediate
    int64_t sum = arena_, mid = 0;
    for (const auto& s : steps_)
      if (s.lowrank) mid = std::max(mid, s.a.rows * s.out.h * s.out.w);
    return static_cast<int64_t>(sizeof(float)) * n * (sum + col + mid);
  }
  return static_cast<int64_t>(sizeof(float)) * n * (2 * act + col);
}

void Model::run(const float* images, int64_t n, float* logits) { run_impl(images, n, logits, nullptr); }

void Model::run_timed(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds) {
  step_seconds->resize(steps_.size(), 0.0);
  run_impl(images, n, logits, step_seconds);
}

void Model::run_impl(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds) {
  if (n < 1) return;
  if (graph_) {
    run_graph(images, n, logits, step_seconds);
    return;
  }
  const Shape& in = input_.input;
  int64_t most, col;
  buffer_sizes(&most, &col);
  for (auto& b : buf_)
    if (b.size() < static_cast<size_t>(most * n)) b.resize(static_cast<size_t>(most * n));
  if (col_.size() < static_cast<size_t>(col * n)) col_.resize(static_cast<size_t>(col * n));

  // N x C x HW -> C x N x HW
  float* cur = buf_[0].data();
  float* nxt = buf_[1].data();
  const int64_t hw = in.h * in.w;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t c = 0; c < in.c; ++c)
      std::memcpy(cur + (c * n + b) * hw, images + (b * in.c + c) * hw, static_cast<size_t>(hw) * sizeof(float));

  const Kernels& k = *kernels_;
  for (size_t si = 0; si < steps_.size(); ++si) {
    const Step& s = steps_[si];
    const auto t0 = step_seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    switch (s.kind) {
      case Step::Conv: {
        const int64_t P = n * s.out.h * s.out.w;
        const float* x = cur;
        if (!(s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0)) {
          im2col(cur, s.in, n, s, col_.data());
          x = col_.data();
        }
        if (s.lowrank) {
          // The k x kh x kw product goes to the spare buffer, the 1x1 product back into cur
          // (whose input im2col has already consumed, or which x == cur no longer needs).
          matmul(s.a, x, P, nxt, scratch_, k, opt_.int8);
          if (x == cur) {
            matmul(s.b, nxt, P, col_.data(), scratch_, k, opt_.int8);
            std::memcpy(nxt, col_.data(), static_cast<size_t>(s.out.c * P) * sizeof(float));
          } else {
            matmul(s.b, nxt, P, cur, scratch_, k, opt_.int8);
            std::swap(cur, nxt);
          }
        } else {
          matmul(s.a, x, P, nxt, scratch_, k, opt_.int8);
        }
        epilogue(s, nxt, s.out.c, P);
        std::swap(cur, nxt);
        break;
      }
      case Step::Linear: {
        if (s.lowrank) {
          matmul(s.a, cur, n, col_.data(), scratch_, k, opt_.int8);
          matmul(s.b, col_.data(), n, nxt, scratch_, k, opt_.int8);
        } else {
          matmul(s.a, cur, n, nxt, scratch_, k, opt_.int8);
        }
        epilogue(s, nxt, s.out.c, n);
        std::swap(cur, nxt);
        break;
      }
      case Step::MaxPool:
      case Step::AvgPool:
        pool(s, cur, n, nxt);
        epilogue(s, nxt, s.out.c, n * s.out.h * s.out.w);
        std::swap(cur, nxt);
        break;
      case Step::Affine:
        epilogue(s, cur, s.in.c, n * s.in.h * s.in.w);
        break;
      case Step::Flatten:
        if (n > 1 && !s.in.flat) {  // C x N x HW -> (C*HW) x N
          const int64_t C = s.in.c, HW = s.in.h * s.in.w;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t b = 0; b < n; ++b)
              for (int64_t q = 0; q < HW; ++q) nxt[(c * HW + q) * n + b] = cur[(c * n + b) * HW + q];
          std::swap(cur, nxt);
        }
        epilogue(s, cur, s.out.c, n);
        break;
      case Step::Add:
      case Step::Concat:
      case Step::Mul:
      case Step::GlobalAvgPool:
        fail(ErrorClass::Internal, "Model::run: a graph step in a chain model");
    }
    if (step_seconds)
      (*step_seconds)[si] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // C x N x HW -> N x C x HW (logits: classes x N -> N x classes)
  const int64_t C = output_.c, HW = output_.h * output_.w;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t c = 0; c < C; ++c)
      std::memcpy(logits + (b * C + c) * HW, cur + (c * n + b) * HW, static_cast<size_t>(HW) * sizeof(float));
}

}  // namespace mcdnn::exec
