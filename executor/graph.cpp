// A graph variant as steps that name their input steps, and its run (model.hpp describes the
// fusions), its buffer plan (one arena, reused as lifetimes end, element-wise steps in place),
// and its run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

#include "break_even.hpp"
#include "model.hpp"
#include "ops.hpp"
#include "util/error.hpp"

namespace mcdnn::exec {

namespace {

bool act_of(LayerKind k, Act* a) {
  switch (k) {
    case LayerKind::ReLU: *a = Act::ReLU; return true;
    case LayerKind::ReLU6: *a = Act::ReLU6; return true;
    case LayerKind::HardSwish: *a = Act::HardSwish; return true;
    case LayerKind::Sigmoid: *a = Act::Sigmoid; return true;
    default: return false;
  }
}

}  // namespace

void Model::build_graph(Model& m, const VariantFile& v, const Options& opt) {
  m.graph_ = true;
  m.output_ = Shape{v.input.num_classes, 1, 1, true};
  const auto& L = v.layers;
  const size_t nl = L.size();
  std::vector<int> readers(nl, 0);
  for (size_t i = 0; i < nl; ++i)
    for (int k : inputs_of(L, i))
      if (k >= 0) ++readers[static_cast<size_t>(k)];
  // Layer j can join the step that ends with layer i: it reads i alone and nothing else reads i.
  auto joins = [&](size_t i, size_t j) {
    return j < nl && readers[i] == 1 && inputs_of(L, j) == std::vector<int>{static_cast<int>(i)};
  };
  std::vector<int> step_of(nl, -1);  // the step whose buffer holds layer i's output (-1: the images)
  const Kernels& k = *m.kernels_;
  for (size_t i = 0; i < nl; ++i) {
    const LayerSpec& l = L[i];
    const auto in = inputs_of(L, i);
    if (l.kind == LayerKind::Dropout) {  // the identity at inference
      step_of[i] = in[0] < 0 ? -1 : step_of[static_cast<size_t>(in[0])];
      continue;
    }
    Step s;
    s.name = l.name;
    s.in = l.in;
    s.out = l.out_shape;
    for (int q : in) s.inputs.push_back(q < 0 ? -1 : step_of[static_cast<size_t>(q)]);
    size_t last = i;
    auto fuse_act = [&] {
      Act a;
      if (joins(last, last + 1) && act_of(L[last + 1].kind, &a)) {
        ++last;
        s.act = a;
        s.name += "+" + L[last].name;
      }
    };
    switch (l.kind) {
      case LayerKind::Conv2d:
      case LayerKind::Linear: {
        s.kind = l.kind == LayerKind::Conv2d ? Step::Conv : Step::Linear;
        s.kh = l.kh, s.kw = l.kw, s.sh = l.sh, s.sw = l.sw, s.ph = l.ph, s.pw = l.pw;
        s.dh = l.dh, s.dw = l.dw, s.groups = l.groups;
        s.lowrank = l.repr == "lowrank";
        const int64_t positions = s.kind == Step::Conv ? l.out_shape.h * l.out_shape.w : 1;
        if (l.groups > 1) {
          s.dense = decode_tensor(find_tensor(v, i, "weight"));
        } else {
          s.a = make_matrix(find_tensor(v, i, s.lowrank ? "weight_a" : "weight"));
          choose_sparse(s.a, positions * opt.batch_hint, opt, k);
          if (s.lowrank) {
            s.b = make_matrix(find_tensor(v, i, "weight_b"));
            choose_sparse(s.b, positions * opt.batch_hint, opt, k);
          }
        }
        if (l.bias) s.shift = decode_tensor(find_tensor(v, i, "bias"));
        if (joins(i, i + 1) && L[i + 1].kind == LayerKind::BatchNorm) {
          fold_batchnorm(v, i + 1, s);
          s.name += "+" + L[i + 1].name;
          last = i + 1;
        }
        fuse_act();
        break;
      }
      case LayerKind::BatchNorm:
        s.kind = Step::Affine;
        fold_batchnorm(v, i, s);
        fuse_act();
        break;
      case LayerKind::ReLU:
      case LayerKind::ReLU6:
      case LayerKind::HardSwish:
      case LayerKind::Sigmoid:
        s.kind = Step::Affine;
        act_of(l.kind, &s.act);
        break;
      case LayerKind::MaxPool:
      case LayerKind::AvgPool:
        s.kind = l.kind == LayerKind::MaxPool ? Step::MaxPool : Step::AvgPool;
        s.kh = l.kh, s.kw = l.kw, s.sh = l.sh, s.sw = l.sw, s.ph = l.ph, s.pw = l.pw;
        break;
      case LayerKind::Flatten: s.kind = Step::Flatten; break;
      case LayerKind::Add:
        s.kind = Step::Add;
        fuse_act();
        break;
      case LayerKind::Concat: s.kind = Step::Concat; break;
      case LayerKind::Mul: s.kind = Step::Mul; break;
      case LayerKind::GlobalAvgPool: s.kind = Step::GlobalAvgPool; break;
      case LayerKind::Dropout: break;  // handled above
    }
    s.out = L[last].out_shape;
    m.steps_.push_back(std::move(s));
    for (size_t q = i; q <= last; ++q) step_of[q] = static_cast<int>(m.steps_.size() - 1);
    i = last;
  }
  if (m.steps_.empty() || step_of[nl - 1] != static_cast<int>(m.steps_.size() - 1))
    fail(ErrorClass::Catalog, "variant " + v.id + ": the network's output is not its last layer's");
  m.plan_buffers();
}

// The buffer plan. The images live until their last reader, a step's output from its step to
// its last reader (the last step's to the end). An element-wise step (affine/activation, add, mul) whose first input dies there
// writes over that input (in place). Buffers (a step and the in-place steps that continue it)
// are placed largest first at the lowest offset free of every placed buffer whose lifetime
// overlaps (the greedy-by-size plan of TFLite's arena planner), in floats per example: a batch
// of n scales every offset by n. A concat's input read by the concat alone is a slice of the
// concat's output, which then lives from the first such input's step.
void Model::plan_buffers() {
  const size_t ns = steps_.size();
  std::vector<size_t> end(ns);
  for (size_t i = 0; i < ns; ++i) end[i] = i;
  end[ns - 1] = ns;
  for (size_t i = 0; i < ns; ++i)
    for (int q : steps_[i].inputs)
      if (q >= 0) end[static_cast<size_t>(q)] = std::max(end[static_cast<size_t>(q)], i);
  std::vector<size_t> buf(ns);
  struct Buffer {
    size_t first, last;
    int64_t size;
    int64_t offset = -1;
    int parent = -1;      // a slice of this buffer (a concat's input written in place)
    int64_t within = 0;   // at this offset in it
  };
  // Buffer 0: the images, alive until their last reader.
  std::vector<Buffer> bufs{{0, 0, input_.input.numel()}};
  for (size_t i = 0; i < ns; ++i)
    for (int q : steps_[i].inputs)
      if (q < 0) bufs[0].last = std::max(bufs[0].last, i);
  for (size_t i = 0; i < ns; ++i) {
    const Step& s = steps_[i];
    const int q = s.inputs.empty() ? -1 : s.inputs[0];
    const bool elementwise = s.kind == Step::Affine || s.kind == Step::Add || s.kind == Step::Mul;
    // In place only when the overwritten input is not read again by this step (add [a, b, a]).
    const bool read_again = std::count(s.inputs.begin() + 1, s.inputs.end(), q) > 0;
    if (elementwise && !read_again && q >= 0 && end[static_cast<size_t>(q)] == i && steps_[static_cast<size_t>(q)].out.numel() == s.out.numel()) {
      buf[i] = buf[static_cast<size_t>(q)];
      bufs[buf[i]].last = std::max(bufs[buf[i]].last, end[i]);
    } else {
      buf[i] = bufs.size();
      bufs.push_back({i, end[i], s.out.numel()});
    }
  }
  // A concat's input that only the concat reads is written straight into its slice of the
  // concat's output (channel-major: a contiguous block), as the profile counts it.
  std::vector<int> readers(ns, 0);
  for (size_t i = 0; i < ns; ++i)
    for (int q : steps_[i].inputs)
      if (q >= 0) ++readers[static_cast<size_t>(q)];
  for (size_t c = 0; c < ns; ++c) {
    if (steps_[c].kind != Step::Concat) continue;
    int64_t off = 0;
    for (int q : steps_[c].inputs) {
      const int64_t len = q < 0 ? input_.input.numel() : steps_[static_cast<size_t>(q)].out.numel();
      if (q >= 0 && readers[static_cast<size_t>(q)] == 1) {
        Buffer& b = bufs[buf[static_cast<size_t>(q)]];
        if (b.parent < 0 && b.size == len && b.last == c) {
          b.parent = static_cast<int>(buf[c]);
          b.within = off;
          bufs[buf[c]].first = std::min(bufs[buf[c]].first, b.first);
        }
      }
      off += len;
    }
  }
  std::vector<size_t> order;
  for (size_t b = 0; b < bufs.size(); ++b)
    if (bufs[b].parent < 0) order.push_back(b);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return bufs[a].size > bufs[b].size; });
  arena_ = 0;
  std::vector<size_t> placed;
  for (size_t b : order) {
    // Offsets taken by placed buffers alive at the same time, by start.
    std::vector<std::pair<int64_t, int64_t>> taken;
    for (size_t p : placed)
      if (bufs[p].first <= bufs[b].last && bufs[b].first <= bufs[p].last) taken.push_back({bufs[p].offset, bufs[p].offset + bufs[p].size});
    std::sort(taken.begin(), taken.end());
    int64_t at = 0;
    for (const auto& [lo, hi] : taken) {
      if (at + bufs[b].size <= lo) break;
      at = std::max(at, hi);
    }
    bufs[b].offset = at;
    arena_ = std::max(arena_, at + bufs[b].size);
    placed.push_back(b);
  }
  // Slices: their parent's offset plus theirs (a concat's output may itself be a slice).
  std::function<int64_t(size_t)> offset_of = [&](size_t b) -> int64_t {
    return bufs[b].parent < 0 ? bufs[b].offset : offset_of(static_cast<size_t>(bufs[b].parent)) + bufs[b].within;
  };
  offset_.resize(ns);
  for (size_t i = 0; i < ns; ++i) offset_[i] = offset_of(buf[i]);
  input_offset_ = bufs[0].offset;
}

int64_t Model::unshared_floats() const {
  int64_t sum = 0;
  if (graph_) {
    sum = input_.input.numel();
    for (const auto& s : steps_) sum += s.out.numel();
  }
  return sum;
}

void Model::run_graph(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds) {
  const Shape& in = input_.input;
  int64_t most, col;
  buffer_sizes(&most, &col);
  if (col_.size() < static_cast<size_t>(col * n)) col_.resize(static_cast<size_t>(col * n));
  if (garena_.size() < static_cast<size_t>(arena_ * n)) garena_.resize(static_cast<size_t>(arena_ * n));
  const int64_t hw = in.h * in.w;
  float* const images_cn = garena_.data() + input_offset_ * n;
  for (int64_t b = 0; b < n; ++b)  // N x C x HW -> C x N x HW
    for (int64_t c = 0; c < in.c; ++c)
      std::memcpy(images_cn + (c * n + b) * hw, images + (b * in.c + c) * hw, static_cast<size_t>(hw) * sizeof(float));
  auto data = [&](int q) -> const float* { return q < 0 ? images_cn : garena_.data() + offset_[static_cast<size_t>(q)] * n; };
  auto shape = [&](int q) -> const Shape& { return q < 0 ? in : steps_[static_cast<size_t>(q)].out; };
  std::vector<float>& mid = mid_;  // kept across runs: no allocation per inference
  const Kernels& k = *kernels_;
  // y = W x for a weight matrix (cols x p input), through the rank-k intermediate when low-rank.
  auto product = [&](const Step& s, const float* x, int64_t p, float* y) {
    if (!s.lowrank) return matmul(s.a, x, p, y, scratch_, k, opt_.int8);
    mid.resize(static_cast<size_t>(s.a.rows * p));
    matmul(s.a, x, p, mid.data(), scratch_, k, opt_.int8);
    matmul(s.b, mid.data(), p, y, scratch_, k, opt_.int8);
  };
  for (size_t si = 0; si < steps_.size(); ++si) {
    const Step& s = steps_[si];
    const auto t0 = step_seconds ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    float* y = garena_.data() + offset_[si] * n;
    const float* x = data(s.inputs[0]);
    const int64_t out_n = s.out.numel() * n;
    switch (s.kind) {
      case Step::Conv: {
        const int64_t P = n * s.out.h * s.out.w;
        if (s.groups > 1) {
          grouped_conv(s, x, n, y);
        } else {
          const float* xin = x;
          if (!(s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.ph == 0 && s.pw == 0)) {
            im2col(x, s.in, n, s, col_.data());
            xin = col_.data();
          }
          product(s, xin, P, y);
        }
        epilogue(s, y, s.out.c, P);
        break;
      }
      case Step::Linear:
        product(s, x, n, y);
        epilogue(s, y, s.out.c, n);
        break;
      case Step::MaxPool:
      case Step::AvgPool:
        pool(s, x, n, y);
        break;
      case Step::Affine:
        if (y != x) std::memcpy(y, x, static_cast<size_t>(out_n) * sizeof(float));
        epilogue(s, y, s.in.c, n * s.in.h * s.in.w);
        break;
      case Step::Flatten:
        flatten(s.in, x, n, y);
        break;
      case Step::Add:
        if (y != x) std::memcpy(y, x, static_cast<size_t>(out_n) * sizeof(float));
        for (size_t q = 1; q < s.inputs.size(); ++q) {
          const float* z = data(s.inputs[q]);
          for (int64_t e = 0; e < out_n; ++e) y[e] += z[e];
        }
        epilogue(s, y, s.out.c, n * s.out.h * s.out.w);
        break;
      case Step::Concat: {
        // Channel-major: each input is a contiguous block of channels (or features).
        int64_t off = 0;
        for (int q : s.inputs) {
          const int64_t len = shape(q).numel() * n;
          if (data(q) != y + off) std::memcpy(y + off, data(q), static_cast<size_t>(len) * sizeof(float));  // else written in place
          off += len;
        }
        break;
      }
      case Step::Mul: {
        const float* g = data(s.inputs[1]);
        const Shape& gs = shape(s.inputs[1]);
        const int64_t hw_out = s.out.flat ? 1 : s.out.h * s.out.w;
        if (gs.numel() == s.out.numel()) {
          for (int64_t e = 0; e < out_n; ++e) y[e] = x[e] * g[e];
        } else {  // a C x 1 x 1 gate: one value per channel and example
          for (int64_t p = 0; p < s.out.c * n; ++p)
            for (int64_t q = 0; q < hw_out; ++q) y[p * hw_out + q] = x[p * hw_out + q] * g[p];
        }
        break;
      }
      case Step::GlobalAvgPool:
        global_avg_pool(s, x, n, y);
        break;
    }
    if (step_seconds) (*step_seconds)[si] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const float* out = garena_.data() + offset_.back() * n;  // classes x N -> N x classes
  const int64_t C = output_.c;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t c = 0; c < C; ++c) logits[b * C + c] = out[c * n + b];
}

}  // namespace mcdnn::exec
