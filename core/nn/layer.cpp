#include "nn/layer.hpp"

#include <climits>

namespace mcdnn {

namespace {
struct KindInfo {
  LayerKind kind;
  const char* name;
  const char* prefix;
  int min_in, max_in;
  bool unary_elementwise;
  bool chain;  // one of the eight kinds every stage supports
};
constexpr int kMany = INT32_MAX;
// One table drives parsing, default names, input counts and messages.
constexpr KindInfo kKinds[] = {
    {LayerKind::Conv2d, "conv2d", "conv", 1, 1, false, true},
    {LayerKind::Linear, "linear", "fc", 1, 1, false, true},
    {LayerKind::ReLU, "relu", "relu", 1, 1, true, true},
    {LayerKind::MaxPool, "maxpool", "maxpool", 1, 1, false, true},
    {LayerKind::AvgPool, "avgpool", "avgpool", 1, 1, false, true},
    {LayerKind::Flatten, "flatten", "flatten", 1, 1, false, true},
    {LayerKind::Dropout, "dropout", "dropout", 1, 1, true, true},
    {LayerKind::BatchNorm, "batchnorm", "bn", 1, 1, true, true},
    {LayerKind::Add, "add", "add", 2, kMany, false, false},
    {LayerKind::Concat, "concat", "concat", 2, kMany, false, false},
    {LayerKind::Mul, "mul", "mul", 2, 2, false, false},
    {LayerKind::GlobalAvgPool, "globalavgpool", "gap", 1, 1, false, false},
    {LayerKind::ReLU6, "relu6", "relu6_", 1, 1, true, false},
    {LayerKind::HardSwish, "hardswish", "hswish", 1, 1, true, false},
    {LayerKind::Sigmoid, "sigmoid", "sigmoid", 1, 1, true, false},
};

const KindInfo& info(LayerKind k) {
  for (const auto& i : kKinds)
    if (i.kind == k) return i;
  return kKinds[0];  // unreachable: every enumerator has a row
}
}  // namespace

const char* kind_name(LayerKind k) { return info(k).name; }
const char* kind_prefix(LayerKind k) { return info(k).prefix; }
int min_inputs(LayerKind k) { return info(k).min_in; }
int max_inputs(LayerKind k) { return info(k).max_in; }
bool is_unary_elementwise(LayerKind k) { return info(k).unary_elementwise; }

std::vector<int> inputs_of(const std::vector<LayerSpec>& layers, size_t i) {
  if (!layers[i].from.empty()) return layers[i].from;
  return {static_cast<int>(i) - 1};
}

bool single_cut(const std::vector<LayerSpec>& layers, size_t begin) {
  for (size_t i = begin; i < layers.size(); ++i)
    for (int k : inputs_of(layers, i))
      if (k < static_cast<int>(begin) - 1) return false;
  return true;
}

std::string graph_feature(const std::vector<LayerSpec>& layers, size_t i) {
  const LayerSpec& l = layers[i];
  if (!info(l.kind).chain) return kind_name(l.kind);
  if (l.groups != 1) return "groups " + std::to_string(l.groups);
  if (l.dh != 1 || l.dw != 1) return "dilation " + std::to_string(l.dh) + "x" + std::to_string(l.dw);
  const auto in = inputs_of(layers, i);
  if (in.size() != 1 || in[0] != static_cast<int>(i) - 1) {
    std::string s;
    for (int k : in) s += (s.empty() ? "" : ", ") + (k < 0 ? std::string("input") : layers[static_cast<size_t>(k)].name);
    return "from [" + s + "]";
  }
  return "";
}

bool kind_from_name(const std::string& s, LayerKind* out) {
  for (const auto& i : kKinds)
    if (s == i.name) {
      *out = i.kind;
      return true;
    }
  return false;
}

std::string all_kind_names() {
  std::string s;
  for (const auto& i : kKinds) s += (s.empty() ? "" : ", ") + std::string(i.name);
  return s;
}

std::string Shape::str() const {
  if (flat) return std::to_string(c);
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

int64_t TensorSpec::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<TensorSpec> tensors_of(const LayerSpec& l) {
  std::vector<TensorSpec> t;
  switch (l.kind) {
    case LayerKind::Conv2d:
      if (l.repr == "lowrank") {
        t.push_back({"weight_a", {l.rank, l.in.c, l.kh, l.kw}, true, true});
        t.push_back({"weight_b", {l.out, l.rank, 1, 1}, true, true});
      } else {
        t.push_back({"weight", {l.out, l.in.c / l.groups, l.kh, l.kw}, true, true});
      }
      if (l.bias) t.push_back({"bias", {l.out}, true});
      break;
    case LayerKind::Linear:
      if (l.repr == "lowrank") {
        t.push_back({"weight_a", {l.rank, l.in.numel()}, true, true});
        t.push_back({"weight_b", {l.out, l.rank}, true, true});
      } else {
        t.push_back({"weight", {l.out, l.in.numel()}, true, true});
      }
      if (l.bias) t.push_back({"bias", {l.out}, true});
      break;
    case LayerKind::BatchNorm:
      t.push_back({"weight", {l.in.c}, true});
      t.push_back({"bias", {l.in.c}, true});
      t.push_back({"running_mean", {l.in.c}, false});
      t.push_back({"running_var", {l.in.c}, false});
      break;
    default:
      break;
  }
  return t;
}

namespace {
bool infer_output_unchecked(const LayerSpec& l, const Shape& in, Shape* out, std::string* why);
}  // namespace

namespace {
// Output length of a window of size k (dilation d: it spans d*(k-1)+1), stride s, padding p
// over n; <= 0 when it does not fit.
int64_t window_out(int64_t n, int64_t k, int64_t s, int64_t p, int64_t d = 1) {
  const int64_t span = d * (k - 1) + 1;
  if (n + 2 * p < span) return 0;
  return (n + 2 * p - span) / s + 1;
}
}  // namespace

// Size limits that keep every count (elements, parameters, FLOPs, bytes) inside int64 for any
// network of up to 65,536 layers: at most 2^40 elements per activation or weight tensor and
// 2^44 multiply-adds per layer (VGG-16's largest layer has 2^31).
constexpr double kMaxElements = 1099511627776.0;  // 2^40
constexpr double kMaxMacs = 17592186044416.0;     // 2^44

bool infer_output(const LayerSpec& l, const Shape& in, Shape* out, std::string* why) {
  auto elems = [](const Shape& s) { return static_cast<double>(s.c) * static_cast<double>(s.h) * static_cast<double>(s.w); };
  if (elems(in) > kMaxElements) {
    *why = "input of " + in.str() + " exceeds 2^40 elements";
    return false;
  }
  if (!infer_output_unchecked(l, in, out, why)) return false;
  if (elems(*out) > kMaxElements) {
    *why = "output of " + out->str() + " exceeds 2^40 elements";
    return false;
  }
  if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) {
    const double fan_in = l.kind == LayerKind::Conv2d
                              ? static_cast<double>(in.c / l.groups) * static_cast<double>(l.kh) * static_cast<double>(l.kw)
                              : elems(in);
    if (fan_in * static_cast<double>(l.out) > kMaxElements || fan_in * elems(*out) > kMaxMacs) {
      *why = "weights or multiply-adds exceed the supported size (2^40 weights, 2^44 multiply-adds per layer)";
      return false;
    }
  }
  return true;
}

namespace {
bool infer_output_unchecked(const LayerSpec& l, const Shape& in, Shape* out, std::string* why) {
  switch (l.kind) {
    case LayerKind::Conv2d:
    case LayerKind::MaxPool:
    case LayerKind::AvgPool: {
      if (in.flat) {
        *why = std::string("expected a CxHxW input, found flat features (") + in.str() +
               "); move this layer before `flatten`";
        return false;
      }
      if (l.kind == LayerKind::Conv2d && (in.c % l.groups != 0 || l.out % l.groups != 0)) {
        *why = "groups " + std::to_string(l.groups) + " must divide both the input channels (" + std::to_string(in.c) +
               ") and `out` (" + std::to_string(l.out) + "); depthwise is groups = in channels = out";
        return false;
      }
      const int64_t dh = l.kind == LayerKind::Conv2d ? l.dh : 1, dw = l.kind == LayerKind::Conv2d ? l.dw : 1;
      int64_t oh = window_out(in.h, l.kh, l.sh, l.ph, dh), ow = window_out(in.w, l.kw, l.sw, l.pw, dw);
      if (oh <= 0 || ow <= 0) {
        *why = "kernel " + std::to_string(l.kh) + "x" + std::to_string(l.kw) +
               (dh != 1 || dw != 1 ? " (dilation " + std::to_string(dh) + "x" + std::to_string(dw) + ")" : "") + " does not fit the " +
               std::to_string(in.h) + "x" + std::to_string(in.w) + " input (padding " +
               std::to_string(l.ph) + "x" + std::to_string(l.pw) + "); use a smaller kernel or more padding";
        return false;
      }
      if (l.kind != LayerKind::Conv2d && (2 * l.ph > l.kh || 2 * l.pw > l.kw)) {
        *why = "pooling padding must be at most half the kernel";
        return false;
      }
      *out = {l.kind == LayerKind::Conv2d ? l.out : in.c, oh, ow, false};
      return true;
    }
    case LayerKind::Linear:
      if (!in.flat) {
        *why = "expected flat features, found a " + in.str() + " activation; add `- flatten` before this layer";
        return false;
      }
      *out = {l.out, 1, 1, true};
      return true;
    case LayerKind::Flatten:
      *out = {in.numel(), 1, 1, true};
      return true;
    case LayerKind::ReLU:
    case LayerKind::Dropout:
    case LayerKind::BatchNorm:
    case LayerKind::ReLU6:
    case LayerKind::HardSwish:
    case LayerKind::Sigmoid:
      *out = in;
      return true;
    case LayerKind::GlobalAvgPool:
      if (in.flat) {
        *why = "expected a CxHxW input, found flat features (" + in.str() + "); move this layer before `flatten`";
        return false;
      }
      *out = {in.c, 1, 1, false};
      return true;
    case LayerKind::Add:
    case LayerKind::Concat:
    case LayerKind::Mul:
      *why = std::string(kind_name(l.kind)) + " takes at least 2 inputs; name them with `from: [a, b]`";
      return false;
  }
  *why = "unknown layer kind";
  return false;
}

}  // namespace

bool infer_output_multi(const LayerSpec& l, const std::vector<Shape>& ins, Shape* out, std::string* why,
                        const std::vector<std::string>* names) {
  const int n = static_cast<int>(ins.size());
  if (n < min_inputs(l.kind) || n > max_inputs(l.kind)) {
    *why = std::string(kind_name(l.kind)) + " takes " +
           (max_inputs(l.kind) == 1 ? std::string("one input")
            : max_inputs(l.kind) == min_inputs(l.kind) ? "exactly " + std::to_string(min_inputs(l.kind)) + " inputs"
                                                      : "at least " + std::to_string(min_inputs(l.kind)) + " inputs") +
           ", found " + std::to_string(n);
    return false;
  }
  if (n == 1) return infer_output(l, ins[0], out, why);
  auto pos = [&](size_t k) { return names && k < names->size() ? "'" + (*names)[k] + "'" : "input " + std::to_string(k + 1); };
  switch (l.kind) {
    case LayerKind::Add:
      for (size_t k = 1; k < ins.size(); ++k)
        if (!(ins[k] == ins[0])) {
          *why = "inputs must have one shape: " + pos(0) + " is " + ins[0].str() + ", " + pos(k) + " is " + ins[k].str();
          return false;
        }
      *out = ins[0];
      break;
    case LayerKind::Concat: {
      Shape s = ins[0];
      for (size_t k = 1; k < ins.size(); ++k) {
        if (ins[k].flat != ins[0].flat || ins[k].h != ins[0].h || ins[k].w != ins[0].w) {
          *why = "inputs must agree in height and width (channels are joined): " + pos(0) + " is " + ins[0].str() + ", " +
                 pos(k) + " is " + ins[k].str();
          return false;
        }
        s.c += ins[k].c;
      }
      *out = s;
      break;
    }
    case LayerKind::Mul: {
      const Shape& x = ins[0];
      const Shape& g = ins[1];
      const bool gate = !g.flat && !x.flat && g.c == x.c && g.h == 1 && g.w == 1;
      if (!gate && !(g == x)) {
        *why = "expected a tensor then a gate of " + std::to_string(x.c) + "x1x1 (squeeze-excite) or of its own shape " + x.str() +
               ": " + pos(0) + " is " + x.str() + ", " + pos(1) + " is " + g.str();
        return false;
      }
      *out = x;
      break;
    }
    default:
      *why = std::string(kind_name(l.kind)) + " takes one input";
      return false;
  }
  const double e = static_cast<double>(out->c) * static_cast<double>(out->h) * static_cast<double>(out->w);
  if (e > 1099511627776.0) {
    *why = "output of " + out->str() + " exceeds 2^40 elements";
    return false;
  }
  return true;
}

}  // namespace mcdnn
