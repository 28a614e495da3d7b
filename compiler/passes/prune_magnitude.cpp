#include <cmath>
#include <cstdio>

#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {
struct Target {
  size_t layer, tensor;
};

// Marks the `count` smallest-magnitude entries of `mags` (ties: lower index first) with 0.
torch::Tensor keep_mask(const torch::Tensor& mags, int64_t count) {
  auto order = std::get<1>(torch::sort(mags, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  auto mask = torch::ones_like(mags);
  if (count > 0) mask.index_fill_(0, order.slice(0, 0, count), 0.0);
  return mask;
}
}  // namespace

Variant prune_magnitude(const Variant& parent, const std::vector<std::string>& layers, double sparsity, bool global) {
  if (!(sparsity > 0 && sparsity < 1))
    fail(ErrorClass::Schema, "prune: sparsity must be in (0, 1), got " + std::to_string(sparsity));
  rule_prune(plan_state(parent));
  std::vector<LayerSpec> specs = parent.net->layers();
  std::vector<size_t> idx = weight_layers(parent, layers, "prune");
  char pct[32];
  std::snprintf(pct, sizeof pct, "%g%%", sparsity * 100);
  std::string what = layers.empty() ? "all" : "";
  for (const auto& n : layers) what += (what.empty() ? "" : ",") + n;
  for (size_t i : idx) specs[i].sparse = true;
  Variant c = begin_child(parent, specs, "prune " + what + " " + pct + (global && idx.size() > 1 ? " global" : ""));
  c.first_changed = idx.empty() ? specs.size() : *std::min_element(idx.begin(), idx.end());

  std::vector<Target> targets;
  for (size_t i : idx) {
    auto ts = tensors_of(specs[i]);
    for (size_t k = 0; k < ts.size(); ++k)
      if (ts[k].matrix) targets.push_back({i, k});
  }
  torch::NoGradGuard no_grad;
  auto apply = [&](const Target& t, const torch::Tensor& flat_mask) {
    auto& w = c.net->tensors(t.layer)[t.tensor];
    auto m = flat_mask.view(w.sizes());
    w.mul_(m);
    c.masks[tensor_key(specs[t.layer], tensors_of(specs[t.layer])[t.tensor].name)] = m.clone();
  };
  if (global && targets.size() > 1) {
    std::vector<torch::Tensor> mags;
    for (const auto& t : targets) mags.push_back(c.net->tensors(t.layer)[t.tensor].abs().flatten());
    auto all = torch::cat(mags);
    auto mask = keep_mask(all, std::llround(sparsity * static_cast<double>(all.numel())));
    int64_t off = 0;
    for (size_t j = 0; j < targets.size(); ++j) {
      int64_t n = mags[j].numel();
      apply(targets[j], mask.slice(0, off, off + n));
      off += n;
    }
  } else {
    for (const auto& t : targets) {
      auto mags = c.net->tensors(t.layer)[t.tensor].abs().flatten();
      apply(t, keep_mask(mags, std::llround(sparsity * static_cast<double>(mags.numel()))));
    }
  }
  return c;
}

}  // namespace mcdnn
