#include "nn/layer.hpp"

namespace mcdnn {

namespace {
struct KindInfo {
  LayerKind kind;
  const char* name;
  const char* prefix;
};
// One table drives parsing, default names and messages.
constexpr KindInfo kKinds[] = {
    {LayerKind::Conv2d, "conv2d", "conv"},   {LayerKind::Linear, "linear", "fc"},
    {LayerKind::ReLU, "relu", "relu"},       {LayerKind::MaxPool, "maxpool", "maxpool"},
    {LayerKind::AvgPool, "avgpool", "avgpool"}, {LayerKind::Flatten, "flatten", "flatten"},
    {LayerKind::Dropout, "dropout", "dropout"}, {LayerKind::BatchNorm, "batchnorm", "bn"},
};
}  // namespace

const char* kind_name(LayerKind k) {
  for (const auto& i : kKinds)
    if (i.kind == k) return i.name;
  return "?";
}

const char* kind_prefix(LayerKind k) {
  for (const auto& i : kKinds)
    if (i.kind == k) return i.prefix;
  return "?";
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
        t.push_back({"weight", {l.out, l.in.c, l.kh, l.kw}, true, true});
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
// Output length of a window of size k, stride s, padding p over n; <= 0 when it does not fit.
int64_t window_out(int64_t n, int64_t k, int64_t s, int64_t p) {
  if (n + 2 * p < k) return 0;
  return (n + 2 * p - k) / s + 1;
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
    const double fan_in = l.kind == LayerKind::Conv2d ? static_cast<double>(in.c) * static_cast<double>(l.kh) * static_cast<double>(l.kw)
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
      int64_t oh = window_out(in.h, l.kh, l.sh, l.ph), ow = window_out(in.w, l.kw, l.sw, l.pw);
      if (oh <= 0 || ow <= 0) {
        *why = "kernel " + std::to_string(l.kh) + "x" + std::to_string(l.kw) + " does not fit the " +
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
      *out = in;
      return true;
  }
  *why = "unknown layer kind";
  return false;
}

}  // namespace

}  // namespace mcdnn
