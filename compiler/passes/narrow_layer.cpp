#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

Variant narrow_layer(const Variant& parent, const std::string& layer, int64_t keep) {
  size_t i = layer_index(parent, layer);
  std::vector<LayerSpec> specs = parent.net->layers();
  const LayerSpec& l = specs[i];
  rule_narrow(plan_state(parent), i);
  // The next weight layer consumes these outputs (rule_narrow checked there is one).
  size_t next = i + 1;
  while (specs[next].kind != LayerKind::Conv2d && specs[next].kind != LayerKind::Linear) ++next;
  if (keep < 1 || keep >= l.out)
    fail(ErrorClass::Schema, "narrow: " + layer + " has " + std::to_string(l.out) + " outputs; keep must be in 1.." +
                                 std::to_string(l.out - 1) + ", got " + std::to_string(keep));

  // Keep the `keep` units with the largest L1 norm, in their original order.
  torch::NoGradGuard no_grad;
  auto w = parent.net->tensors(i)[0];
  auto l1 = w.abs().reshape({w.size(0), -1}).sum(1);
  auto kept = std::get<0>(torch::sort(std::get<1>(torch::topk(l1, keep))));

  specs[i].out = keep;
  reinfer_shapes(specs, parent.net->layers().front().in, "narrow " + layer);
  Variant c = begin_child(parent, specs, "narrow " + layer + " " + std::to_string(keep));
  c.first_changed = i;
  // This layer: rows of weight and bias.
  c.net->tensors(i)[0].copy_(parent.net->tensors(i)[0].index_select(0, kept));
  if (specs[i].bias) c.net->tensors(i)[1].copy_(parent.net->tensors(i)[1].index_select(0, kept));
  // Between: batchnorm channels; flatten turns channels into feature ranges.
  torch::Tensor sel = kept;
  for (size_t j = i + 1; j < next; ++j) {
    const LayerSpec& s = specs[j];
    if (s.kind == LayerKind::BatchNorm)
      for (size_t k = 0; k < c.net->tensors(j).size(); ++k) c.net->tensors(j)[k].copy_(parent.net->tensors(j)[k].index_select(0, sel));
    if (s.kind == LayerKind::Flatten && !s.in.flat) {
      int64_t hw = s.in.h * s.in.w;
      sel = (sel.unsqueeze(1) * hw + torch::arange(hw, sel.options()).unsqueeze(0)).flatten();
    }
  }
  // The consumer: its input columns (conv: input channels; lowrank: the first factor).
  c.net->tensors(next)[0].copy_(parent.net->tensors(next)[0].index_select(1, sel));
  return c;
}

}  // namespace mcdnn
