#include "passes/passes.hpp"

#include "util/error.hpp"

namespace mcdnn {

PlanState plan_state(const Variant& v) {
  PlanState p;
  p.id = v.id;
  p.layers = v.net->layers();
  p.quantized = v.quantized();
  p.masked = !v.masks.empty();
  return p;
}

size_t layer_index(const Variant& v, const std::string& name) { return plan_layer_index(plan_state(v), name); }

std::vector<size_t> weight_layers(const Variant& v, const std::vector<std::string>& names, const std::string& pass) {
  return plan_weight_layers(plan_state(v), names, pass);
}

Variant begin_child(const Variant& parent, const std::vector<LayerSpec>& specs, const std::string& label) {
  Variant c = derive(parent, specs);
  c.parent = parent.id;
  c.transforms.push_back(label);
  return c;
}

}  // namespace mcdnn
