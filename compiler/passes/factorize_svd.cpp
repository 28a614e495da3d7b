#include <cmath>
#include <cstdlib>

#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
torch::Tensor weight_matrix(const Variant& v, size_t i) {
  auto w = v.net->tensors(i)[0].detach().to(torch::kCPU).to(torch::kFloat64);
  return w.reshape({w.size(0), -1}).contiguous();
}
}  // namespace

LayerSvd layer_svd(const Variant& v, const std::string& layer) {
  torch::NoGradGuard no_grad;
  const size_t i = layer_index(v, layer);
  rule_svd(plan_state(v), i);
  auto usv = torch::linalg_svd(weight_matrix(v, i), /*full_matrices=*/false);
  return {layer, std::get<0>(usv), std::get<1>(usv), std::get<2>(usv).transpose(0, 1).contiguous()};
}

std::vector<double> singular_values(const Variant& v, const std::string& layer) {
  torch::NoGradGuard no_grad;
  auto s = torch::linalg_svdvals(weight_matrix(v, layer_index(v, layer))).contiguous();
  return std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

std::optional<Variant> factorize_svd(const Variant& parent, const std::string& layer, const RankSpec& rank,
                                     std::string* note, const LayerSvd* given) {
  size_t i = layer_index(parent, layer);
  rule_svd(plan_state(parent), i);
  const auto ws = parent.net->tensors(i)[0].sizes();
  const int64_t m = ws[0], n = parent.net->tensors(i)[0].numel() / m, full = std::min(m, n);
  // The decomposition is computed only when it is needed: an energy rank, or a rank that pays.
  LayerSvd computed;
  auto decomposition = [&]() -> const LayerSvd& {
    if (given && given->layer == layer) return *given;
    if (computed.layer.empty()) computed = layer_svd(parent, layer);
    return computed;
  };
  int64_t k = 0;
  switch (rank.kind) {
    case RankSpec::Kind::Fraction: k = std::max<int64_t>(1, std::llround(rank.value * static_cast<double>(full))); break;
    case RankSpec::Kind::Absolute: k = static_cast<int64_t>(rank.value); break;
    case RankSpec::Kind::Energy: {
      const auto s = decomposition().s.contiguous();
      const double* sv = s.data_ptr<double>();
      double total = 0, acc = 0;
      for (int64_t j = 0; j < full; ++j) total += sv[j] * sv[j];
      while (k < full && acc < rank.value * total) acc += sv[k] * sv[k], ++k;
      k = std::max<int64_t>(k, 1);
      break;
    }
  }
  k = std::min(k, full);
  // Factorizing pays only when k (m + n) < m n.
  if (k * (m + n) >= m * n) {
    *note = "svd " + layer + " rank " + rank.label + " (k=" + std::to_string(k) + "): skipped, k >= mn/(m+n) = " +
            std::to_string(m * n / (m + n)) + " would not reduce the " + std::to_string(m) + "x" + std::to_string(n) +
            " layer's parameters";
    return std::nullopt;
  }
  torch::NoGradGuard no_grad;
  const LayerSvd& svd = decomposition();
  auto root = svd.s.slice(0, 0, k).sqrt();
  auto b = svd.u.slice(1, 0, k) * root.unsqueeze(0);                  // m x k
  auto a = (svd.v.slice(1, 0, k) * root.unsqueeze(0)).transpose(0, 1);  // k x n

  std::vector<LayerSpec> specs = parent.net->layers();
  specs[i].repr = "lowrank";
  specs[i].rank = k;
  std::string label = "svd " + layer + " k=" + std::to_string(k);
  Variant c = begin_child(parent, specs, label);
  c.first_changed = i;
  auto ts = tensors_of(specs[i]);
  c.net->tensors(i)[0].copy_(a.to(torch::kFloat32).reshape(ts[0].shape));
  c.net->tensors(i)[1].copy_(b.to(torch::kFloat32).reshape(ts[1].shape));
  if (specs[i].bias) c.net->tensors(i)[2].copy_(parent.net->tensors(i)[1]);
  return c;
}

}  // namespace mcdnn
