#include "profile/profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
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

namespace {

// Live activation bytes while each layer runs (batch 1, fp32), over the execution order with
// buffers reused. Each layer's output is a buffer, alive from the step that writes it to the
// last step that reads it (the network's output: to the end). A layer writes in place — its
// output shares its first input's buffer — when it is element-wise (the unary activations,
// batchnorm, dropout, flatten; add and mul into their first input) and that input is read by no
// later layer. Concat copies nothing when each of its inputs is read by the concat alone: the
// producers write into the slices of one buffer, alive from the first slice written. A
// low-rank layer also holds its rank-k intermediate while it runs.
std::vector<int64_t> live_bytes(const std::vector<LayerSpec>& layers, const Shape& input) {
  const size_t n = layers.size();
  // Tensor t + 1 is layer t's output; tensor 0 is the network input.
  std::vector<int> last_use(n + 1, -1), readers(n + 1, 0), concat_reader(n + 1, -1);
  for (size_t i = 0; i < n; ++i)
    for (int k : inputs_of(layers, i)) {
      last_use[static_cast<size_t>(k + 1)] = static_cast<int>(i);
      ++readers[static_cast<size_t>(k + 1)];
      if (layers[i].kind == LayerKind::Concat) concat_reader[static_cast<size_t>(k + 1)] = static_cast<int>(i);
    }
  if (n > 0) last_use[n] = static_cast<int>(n);  // the network's output outlives every step
  // buffer[t]: the buffer tensor t lives in; a buffer's size and lifetime [first, last].
  std::vector<size_t> buffer(n + 1);
  std::vector<int64_t> size;
  std::vector<int> first, last;
  auto fresh = [&](int64_t bytes, int step) {
    size.push_back(bytes), first.push_back(step), last.push_back(step);
    return size.size() - 1;
  };
  buffer[0] = fresh(4 * input.numel(), -1);
  // Concats whose inputs become slices: decided before their producers run.
  std::vector<bool> sliced(n, false);
  for (size_t i = 0; i < n; ++i) {
    if (layers[i].kind != LayerKind::Concat) continue;
    bool ok = true;
    for (int k : inputs_of(layers, i)) {
      const size_t t = static_cast<size_t>(k + 1);
      ok = ok && k >= 0 && readers[t] == 1 && concat_reader[t] == static_cast<int>(i) && layers[static_cast<size_t>(k)].kind != LayerKind::Concat &&
           !is_unary_elementwise(layers[static_cast<size_t>(k)].kind) && layers[static_cast<size_t>(k)].kind != LayerKind::Flatten;
    }
    sliced[i] = ok;
  }
  std::vector<size_t> concat_buffer(n, SIZE_MAX);
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = layers[i];
    const auto in = inputs_of(layers, i);
    const size_t t_in = static_cast<size_t>(in[0] + 1), t_out = i + 1;
    const int step = static_cast<int>(i);
    const int64_t out_bytes = 4 * l.out_shape.numel();
    const bool elementwise = is_unary_elementwise(l.kind) || l.kind == LayerKind::Flatten || l.kind == LayerKind::Add ||
                             l.kind == LayerKind::Mul;
    if (l.kind == LayerKind::Concat && sliced[i]) {
      buffer[t_out] = concat_buffer[i];
    } else if (concat_reader[t_out] >= 0 && sliced[static_cast<size_t>(concat_reader[t_out])]) {
      size_t& cb = concat_buffer[static_cast<size_t>(concat_reader[t_out])];
      if (cb == SIZE_MAX) cb = fresh(4 * layers[static_cast<size_t>(concat_reader[t_out])].out_shape.numel(), step);
      buffer[t_out] = cb;
    } else if (elementwise && last_use[t_in] == step && size[buffer[t_in]] >= out_bytes) {
      buffer[t_out] = buffer[t_in];
    } else {
      buffer[t_out] = fresh(out_bytes, step);
    }
    last[buffer[t_out]] = std::max(last[buffer[t_out]], last_use[t_out]);
    for (int k : in) last[buffer[static_cast<size_t>(k + 1)]] = std::max(last[buffer[static_cast<size_t>(k + 1)]], step);
  }
  // A buffer whose every tensor is unread (a dead output) still lives during its own step.
  std::vector<int64_t> live(n + 1, 0);  // differences, then summed: linear in layers and buffers
  for (size_t b = 0; b < size.size(); ++b) {
    const int lo = std::max(first[b], 0), hi = std::min(last[b], static_cast<int>(n) - 1);
    if (lo > hi) continue;
    live[static_cast<size_t>(lo)] += size[b];
    live[static_cast<size_t>(hi) + 1] -= size[b];
  }
  for (size_t i = 1; i <= n; ++i) live[i] += live[i - 1];
  live.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = layers[i];
    if (l.repr == "lowrank" && l.kind == LayerKind::Conv2d) live[i] += 4 * l.rank * l.out_shape.h * l.out_shape.w;
    if (l.repr == "lowrank" && l.kind == LayerKind::Linear) live[i] += 4 * l.rank;
  }
  return live;
}

}  // namespace

Profile profile_layers(const std::vector<LayerSpec>& layers) {
  Profile p;
  const std::vector<int64_t> live = layers.empty() ? std::vector<int64_t>{} : live_bytes(layers, layers.front().in);
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    LayerProfile lp;
    lp.name = l.name;
    lp.kind = kind_name(l.kind);
    lp.repr = stored_form(l);
    lp.in = l.in;
    lp.out = l.out_shape;
    for (int k : l.from) lp.from.push_back(k < 0 ? "input" : layers[static_cast<size_t>(k)].name);
    for (const auto& t : tensors_of(l)) {
      if (t.trainable) lp.params += t.numel();
      if (t.matrix) lp.flops += weight_flops(l, t, t.numel());
      lp.bytes += 4 * t.numel();
    }
    lp.params_nonzero = lp.params;
    lp.flops_effective = lp.flops;
    const int64_t out_n = l.out_shape.numel(), in_n = l.in.numel();
    const int64_t n_in = static_cast<int64_t>(inputs_of(layers, i).size());
    switch (l.kind) {
      case LayerKind::Conv2d:
      case LayerKind::Linear: lp.other_ops = l.bias ? out_n : 0; break;
      case LayerKind::ReLU: lp.other_ops = out_n; break;
      case LayerKind::MaxPool: lp.other_ops = out_n * (l.kh * l.kw - 1); break;
      case LayerKind::AvgPool: lp.other_ops = out_n * l.kh * l.kw; break;
      case LayerKind::BatchNorm: lp.other_ops = 2 * out_n; break;
      case LayerKind::Dropout:
      case LayerKind::Flatten:
      case LayerKind::Concat: break;
      case LayerKind::Add: lp.other_ops = (n_in - 1) * out_n; break;
      case LayerKind::Mul: lp.other_ops = out_n; break;
      case LayerKind::GlobalAvgPool: lp.other_ops = in_n; break;  // H*W-1 adds and 1 multiply per channel
      case LayerKind::ReLU6: lp.other_ops = 2 * out_n; break;     // two comparisons
      case LayerKind::HardSwish: lp.other_ops = 5 * out_n; break; // x * min(max(x + 3, 0), 6) / 6
      case LayerKind::Sigmoid: lp.other_ops = 4 * out_n; break;   // 1 / (1 + exp(-x)), exp counted as 1
    }
    lp.activation_bytes = live[i];
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
  const Profile dense = profile_layers(layers);
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    LayerProfile lp = dense.layers[i];
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
  int nw = 12, kw = 9;
  bool graph = false;
  for (const auto& l : p.layers) {
    nw = std::max(nw, static_cast<int>(l.name.size()));
    kw = std::max(kw, static_cast<int>(l.kind.size()));
    graph = graph || !l.from.empty();
  }
  std::string out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-*s %-*s %-13s %-13s %14s %16s %14s %14s %14s%s\n", nw, "layer", kw, "kind", "input", "output", "params",
                "FLOPs", "other ops", "weight bytes", "act. bytes", graph ? "  from" : "");
  out += buf;
  for (const auto& l : p.layers) {
    std::string from;
    for (const auto& f : l.from) from += (from.empty() ? "  " : ", ") + f;
    std::snprintf(buf, sizeof buf, "%-*s %-*s %-13s %-13s %14lld %16lld %14lld %14lld %14lld", nw, l.name.c_str(), kw, l.kind.c_str(),
                  l.in.str().c_str(), l.out.str().c_str(), static_cast<long long>(l.params), static_cast<long long>(l.flops),
                  static_cast<long long>(l.other_ops), static_cast<long long>(l.bytes), static_cast<long long>(l.activation_bytes));
    out += buf + from + "\n";
  }
  std::snprintf(buf, sizeof buf, "%-*s %14lld %16lld %14lld %14lld %14lld (peak)\n", nw + kw + 28, "total", static_cast<long long>(p.params),
                static_cast<long long>(p.flops), static_cast<long long>(p.other_ops), static_cast<long long>(p.bytes),
                static_cast<long long>(p.activation_bytes));
  out += buf;
  out += "  = " + human(p.params) + " params, " + human(p.flops, "FLOPs") + " per input (" +
         human(p.flops / 2.0, "MACs") + "), " + human(p.bytes, "B") + " of weights, " +
         human(p.activation_bytes, "B") + " peak activations\n";
  out += "  FLOPs = 2 x multiply-adds of conv2d/linear; bias, activation, pooling, batchnorm, add and mul ops are in\n"
         "  'other ops', not FLOPs. Activation bytes: fp32, batch 1, what is alive while the layer runs (buffers reused).\n";
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
