#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

Variant remove_layer(const Variant& parent, const std::string& layer) {
  size_t i = layer_index(parent, layer);
  std::vector<LayerSpec> specs = parent.net->layers();
  if (specs[i].kind != LayerKind::Conv2d && specs[i].kind != LayerKind::Linear)
    fail(ErrorClass::Schema, "remove: layer " + layer + " is a " + kind_name(specs[i].kind) + "; remove a conv2d or linear layer");
  size_t end = i + 1;
  while (end < specs.size() && (specs[end].kind == LayerKind::BatchNorm || specs[end].kind == LayerKind::ReLU)) ++end;
  bool later_weights = false;
  for (size_t j = end; j < specs.size(); ++j)
    later_weights = later_weights || specs[j].kind == LayerKind::Conv2d || specs[j].kind == LayerKind::Linear;
  if (!later_weights) fail(ErrorClass::Schema, "remove: " + layer + " is the last weight layer (it produces the logits)");
  if (parent.quantized()) fail(ErrorClass::Schema, "remove: " + parent.id + " is quantized; remove layers first in a chain");
  specs.erase(specs.begin() + static_cast<long>(i), specs.begin() + static_cast<long>(end));
  reinfer_shapes(specs, parent.net->layers().front().in, "remove " + layer);
  // derive() keeps every tensor whose layer and shape are unchanged; downstream layers whose
  // input shape changed start from fresh initialization.
  Variant c = begin_child(parent, specs, "remove " + layer);
  c.first_changed = i;
  c.reinitialized = true;
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
