#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

Variant remove_layer(const Variant& parent, const std::string& layer) {
  const RemovalPlan r = rule_remove(plan_state(parent), layer);
  std::vector<LayerSpec> specs = erase_layers(parent.net->layers(), r);
  reinfer_shapes(specs, parent.net->layers().front().in, "remove " + layer);
  // derive() keeps every tensor whose layer and shape are unchanged; downstream layers whose
  // input shape changed start from fresh initialization. A residual branch's removal changes
  // no kept layer's shapes: everything else keeps its weights.
  Variant c = begin_child(parent, specs, "remove " + layer);
  c.first_changed = r.erased.front();
  c.reinitialized = !r.residual;
  c.recalibrate = true;
  // Masks of layers whose shape changed no longer apply.
  for (auto it = c.masks.begin(); it != c.masks.end();) {
    bool keep = false;
    for (size_t j = 0; j < specs.size(); ++j) {
      auto ts = tensors_of(specs[j]);
      for (size_t k = 0; k < ts.size(); ++k)
        if (tensor_key(specs[j], ts[k].name) == it->first && c.net->tensors(j)[k].sizes().vec() == it->second.sizes().vec())
          keep = true;
    }
    it = keep ? std::next(it) : c.masks.erase(it);
  }
  return c;
}

}  // namespace mcdnn
