#include <algorithm>
#include <set>

#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

namespace {

torch::Tensor index_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kLong); }

// Where the group's channels start among layer j's output rows.
int64_t row_offset(const ChannelMap& m, size_t j, int g) {
  int64_t off = 0;
  for (const auto& s : m.out[j]) {
    if (s.group == g) return off;
    off += s.count * s.hw;
  }
  fail(ErrorClass::Internal, "narrow: a layer scored for a group it does not write");
}

// Channel importance: the L1 norm of each channel's weight rows in every layer that writes it
// (producers and depthwise convs). One such layer: its norms as they are; several: each
// layer's norms divided by their mean (so that no layer dominates by its scale), summed.
torch::Tensor importance(const Variant& parent, const ChannelMap& m, int g) {
  const ChannelGroup& grp = m.groups[static_cast<size_t>(g)];
  std::vector<size_t> scored = grp.producers;
  for (size_t j : grp.channelwise)
    if (parent.net->layers()[j].kind == LayerKind::Conv2d) scored.push_back(j);
  std::sort(scored.begin(), scored.end());
  torch::Tensor score;
  for (size_t j : scored) {
    auto w = parent.net->tensors(j)[0];
    auto l1 = w.abs().reshape({w.size(0), -1}).sum(1).narrow(0, row_offset(m, j, g), grp.channels);
    if (scored.size() == 1) return l1;
    l1 = l1.to(torch::kFloat64);
    l1 = l1 / l1.mean().clamp_min(1e-30);
    score = score.defined() ? score + l1 : l1;
  }
  return score;
}

}  // namespace

Variant narrow_groups(const Variant& parent, const ChannelMap& m, const std::map<int, int64_t>& counts, const std::string& label) {
  torch::NoGradGuard no_grad;
  const std::vector<LayerSpec>& specs0 = parent.net->layers();
  KeptChannels kept;
  std::set<size_t> touched;
  for (const auto& [g, keep] : counts) {
    const ChannelGroup& grp = m.groups[static_cast<size_t>(g)];
    if (keep < 1 || keep > grp.channels)
      fail(ErrorClass::Schema, label + ": the group has " + std::to_string(grp.channels) + " channels; keep must be in 1.." +
                                   std::to_string(grp.channels) + ", got " + std::to_string(keep));
    // The `keep` channels of largest importance, in their original order.
    auto idx = std::get<0>(torch::sort(std::get<1>(torch::topk(importance(parent, m, g), keep)))).to(torch::kCPU).contiguous();
    kept[g] = std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
    for (size_t j : m.touched(g)) touched.insert(j);
  }
  auto specs = cut_specs(specs0, m, counts, specs0.front().in, label);
  Variant c = begin_child(parent, specs, label);
  c.first_changed = touched.empty() ? specs.size() : *touched.begin();
  c.recalibrate = true;
  for (size_t j : touched) {
    const auto rows = kept_rows(m, j, kept), cols = kept_cols(specs0, m, j, kept);
    const auto ts = tensors_of(specs0[j]);
    for (size_t k = 0; k < ts.size(); ++k) {
      torch::Tensor t = parent.net->tensors(j)[k];
      if (!rows.empty()) t = t.index_select(0, index_tensor(rows).to(t.device()));
      if (!cols.empty() && ts[k].matrix) t = t.index_select(1, index_tensor(cols).to(t.device()));
      c.net->tensors(j)[k].copy_(t);
    }
  }
  return c;
}

Variant narrow_layer(const Variant& parent, const std::string& layer, int64_t keep) {
  const size_t i = layer_index(parent, layer);
  const PlanState p = plan_state(parent);
  const ChannelMap m = channel_map(p.layers);
  const int g = rule_narrow(p, m, i);
  const int64_t channels = m.groups[static_cast<size_t>(g)].channels;
  if (keep < 1 || keep >= channels)
    fail(ErrorClass::Schema, "narrow: " + layer + " has " + std::to_string(channels) + " outputs; keep must be in 1.." +
                                 std::to_string(channels - 1) + ", got " + std::to_string(keep));
  return narrow_groups(parent, m, {{g, keep}}, narrow_label(layer, "", keep));
}

std::optional<Variant> narrow_all(const Variant& parent, const std::string& level) {
  const PlanState p = plan_state(parent);
  const ChannelMap m = channel_map(p.layers);
  const std::map<int, int64_t> counts = rule_narrow_all(p, m, level);
  if (counts.empty()) return std::nullopt;
  return narrow_groups(parent, m, counts, narrow_label("", level, 0));
}

}  // namespace mcdnn
