#include "profile/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace mcdnn {

void Profile::add(const LayerProfile& l) {
  params += l.params;
  params_nonzero += l.params_nonzero;
  flops += l.flops;
  flops_effective += l.flops_effective;
  other_ops += l.other_ops;
  bytes += l.bytes;
  activation_bytes = std::max(activation_bytes, l.activation_bytes);
  layers.push_back(l);
}

int64_t weight_flops(const LayerSpec& l, const TensorSpec& t, int64_t nonzero) {
  (void)t;
  // Each weight is used once per output position: H'*W' for conv2d (both factors of a lowrank
  // conv run at the output resolution), once for linear.
  int64_t positions = l.kind == LayerKind::Conv2d ? l.out_shape.h * l.out_shape.w : 1;
  return 2 * nonzero * positions;
}

std::string stored_form(const LayerSpec& l) {
  if (l.kind != LayerKind::Conv2d && l.kind != LayerKind::Linear) return "";
  if (l.repr == "lowrank") return "lowrank k=" + std::to_string(l.rank) + (l.sparse ? " sparse " : " ") + l.storage;
  return (l.sparse ? "sparse " : l.repr + " ") + l.storage;
}

Profile profile_layers(const std::vector<LayerSpec>& layers) {
  Profile p;
  for (const auto& l : layers) {
    LayerProfile lp;
    lp.name = l.name;
    lp.kind = kind_name(l.kind);
    lp.repr = stored_form(l);
    lp.in = l.in;
    lp.out = l.out_shape;
    for (const auto& t : tensors_of(l)) {
      if (t.trainable) lp.params += t.numel();
      if (t.matrix) lp.flops += weight_flops(l, t, t.numel());
      lp.bytes += 4 * t.numel();
    }
    lp.params_nonzero = lp.params;
    lp.flops_effective = lp.flops;
    const int64_t out_n = l.out_shape.numel(), in_n = l.in.numel();
    switch (l.kind) {
      case LayerKind::Conv2d:
      case LayerKind::Linear: lp.other_ops = l.bias ? out_n : 0; break;
      case LayerKind::ReLU: lp.other_ops = out_n; break;
      case LayerKind::MaxPool: lp.other_ops = out_n * (l.kh * l.kw - 1); break;
      case LayerKind::AvgPool: lp.other_ops = out_n * l.kh * l.kw; break;
      case LayerKind::BatchNorm: lp.other_ops = 2 * out_n; break;
      case LayerKind::Dropout:
      case LayerKind::Flatten: break;
    }
    bool in_place = l.kind == LayerKind::ReLU || l.kind == LayerKind::Dropout || l.kind == LayerKind::BatchNorm ||
                    l.kind == LayerKind::Flatten;
    lp.activation_bytes = 4 * (in_place ? in_n : in_n + out_n);
    // A lowrank layer also holds its rank-k intermediate.
    if (l.repr == "lowrank" && l.kind == LayerKind::Conv2d) lp.activation_bytes += 4 * l.rank * l.out_shape.h * l.out_shape.w;
    if (l.repr == "lowrank" && l.kind == LayerKind::Linear) lp.activation_bytes += 4 * l.rank;
    p.add(lp);
  }
  return p;
}

int64_t estimate_encoded_bytes(const std::vector<int64_t>& shape, const std::string& storage, bool sparse, double density) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  const int64_t rows = shape.empty() ? 1 : shape[0];
  double entries = static_cast<double>(numel);
  int64_t index_bytes = 0;
  if (sparse) {
    const double d = std::clamp(density, 0.0, 1.0);
    const double nnz = std::round(d * static_cast<double>(numel));
    // A gap between kept weights is geometric with q = 1 - d; a gap of g needs floor(g / 256)
    // fillers, whose expectation is q^256 / (1 - q^256).
    const double q256 = std::pow(1 - d, 256);
    const double fillers = d > 0 && q256 < 1 ? nnz * q256 / (1 - q256) : 0;
    entries = nnz + fillers;
    const double per_row = rows > 0 ? entries / static_cast<double>(rows) : 0;
    index_bytes = rows * (per_row < 65536 ? 2 : 4) + std::llround(entries);  // row counts + 8-bit gaps
  }
  const int64_t e = std::llround(entries);
  int64_t values = 0;
  if (storage == "f16") values = 2 * e;
  else if (storage == "int8") values = e + 4 * rows;
  else if (const int bits = codebook_bits(storage)) values = (e * bits + 7) / 8 + 4 * std::min<int64_t>(int64_t(1) << bits, std::max<int64_t>(e, 1));
  else values = 4 * e;
  return values + index_bytes;
}

Profile profile_planned(const std::vector<LayerSpec>& layers, const std::vector<double>& density) {
  Profile p;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    LayerProfile lp = profile_layers({l}).layers.front();
    const double d = i < density.size() ? density[i] : 1.0;
    lp.bytes = 0;
    lp.params_nonzero = 0;
    lp.flops_effective = 0;
    for (const auto& t : tensors_of(l)) {
      if (!t.matrix) {
        lp.bytes += 4 * t.numel();
        if (t.trainable) lp.params_nonzero += t.numel();
        continue;
      }
      const double kept = l.sparse ? d : 1.0;
      const int64_t nz = std::llround(kept * static_cast<double>(t.numel()));
      lp.bytes += estimate_encoded_bytes(t.shape, l.storage, l.sparse, kept);
      lp.params_nonzero += nz;
      lp.flops_effective += weight_flops(l, t, nz);
    }
    p.add(lp);
  }
  return p;
}

std::string human(double v, const char* unit) {
  const char* sfx[] = {"", " K", " M", " G", " T", " P"};
  int i = 0;
  while (v >= 1000 && i < 5) {
    v /= 1000;
    ++i;
  }
  char buf[48];
  if (i == 0)
    std::snprintf(buf, sizeof buf, "%.0f%s%s", v, *unit ? " " : "", unit);
  else
    std::snprintf(buf, sizeof buf, "%.3g%s%s", v, sfx[i], unit);
  return buf;
}

std::string format_profile(const Profile& p) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-12s %-9s %-13s %-13s %14s %16s %14s %14s %14s\n", "layer", "kind", "input",
                "output", "params", "FLOPs", "other ops", "weight bytes", "act. bytes");
  out += buf;
  for (const auto& l : p.layers) {
    std::snprintf(buf, sizeof buf, "%-12s %-9s %-13s %-13s %14lld %16lld %14lld %14lld %14lld\n", l.name.c_str(),
                  l.kind.c_str(), l.in.str().c_str(), l.out.str().c_str(), static_cast<long long>(l.params),
                  static_cast<long long>(l.flops), static_cast<long long>(l.other_ops),
                  static_cast<long long>(l.bytes), static_cast<long long>(l.activation_bytes));
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%-50s %14lld %16lld %14lld %14lld %14lld (peak)\n", "total",
                static_cast<long long>(p.params), static_cast<long long>(p.flops),
                static_cast<long long>(p.other_ops), static_cast<long long>(p.bytes),
                static_cast<long long>(p.activation_bytes));
  out += buf;
  out += "  = " + human(p.params) + " params, " + human(p.flops, "FLOPs") + " per input (" +
         human(p.flops / 2.0, "MACs") + "), " + human(p.bytes, "B") + " of weights, " +
         human(p.activation_bytes, "B") + " peak activations\n";
  out += "  FLOPs = 2 x multiply-adds of conv2d/linear; bias, activation, pooling and batchnorm ops are in\n"
         "  'other ops', not FLOPs. Activation bytes: fp32, batch 1, input+output live (elementwise in place).\n";
  return out;
}

Profile profile_stored(const std::vector<LayerSpec>& layers, const std::vector<std::vector<EncodedTensor>>& tensors) {
  Profile base = profile_layers(layers);
  Profile p;
  for (size_t i = 0; i < base.layers.size(); ++i) {
    LayerProfile lp = base.layers[i];
    const LayerSpec& l = layers[i];
    const auto ts = tensors_of(l);
    lp.bytes = 0;
    lp.params_nonzero = 0;
    lp.flops_effective = 0;
    for (size_t k = 0; k < ts.size(); ++k) {
      const EncodedTensor& e = tensors[i][k];
      const auto w = decode_tensor(e);
      int64_t nz = 0;
      for (float x : w) nz += x != 0.0f;
      if (ts[k].trainable) lp.params_nonzero += nz;
      if (ts[k].matrix) lp.flops_effective += weight_flops(l, ts[k], nz);
      lp.bytes += e.bytes();
    }
    p.add(lp);
  }
  return p;
}

}  // namespace mcdnn
