#include "passes/passes.hpp"

#include "util/error.hpp"

namespace mcdnn {

size_t layer_index(const Variant& v, const std::string& name) {
  const auto& ls = v.net->layers();
  std::string names;
  for (size_t i = 0; i < ls.size(); ++i) {
    if (ls[i].name == name) return i;
    if (ls[i].kind == LayerKind::Conv2d || ls[i].kind == LayerKind::Linear) names += (names.empty() ? "" : ", ") + ls[i].name;
  }
  fail(ErrorClass::Schema, "no layer named '" + name + "' in variant " + v.id + " (weight layers: " + names + ")");
}

std::vector<size_t> weight_layers(const Variant& v, const std::vector<std::string>& names, const std::string& pass) {
  const auto& specs = v.net->layers();
  auto has_weights = [&](size_t i) { return specs[i].kind == LayerKind::Conv2d || specs[i].kind == LayerKind::Linear; };
  std::vector<size_t> idx;
  if (names.empty()) {
    for (size_t i = 0; i < specs.size(); ++i)
      if (has_weights(i)) idx.push_back(i);
    return idx;
  }
  for (const auto& n : names) {
    size_t i = layer_index(v, n);
    if (!has_weights(i))
      fail(ErrorClass::Schema, pass + ": layer " + n + " is a " + kind_name(specs[i].kind) + "; only conv2d and linear layers have weights");
    idx.push_back(i);
  }
  return idx;
}

void reinfer_shapes(std::vector<LayerSpec>& specs, const Shape& input, const std::string& context) {
  Shape s = input;
  for (auto& l : specs) {
    std::string why;
    l.in = s;
    if (!infer_output(l, s, &l.out_shape, &why)) fail(ErrorClass::Schema, context + ": layer " + l.name + " no longer fits: " + why);
    s = l.out_shape;
  }
}

Variant begin_child(const Variant& parent, const std::vector<LayerSpec>& specs, const std::string& label) {
  Variant c = derive(parent, specs);
  c.parent = parent.id;
  c.transforms.push_back(label);
  return c;
}

}  // namespace mcdnn
