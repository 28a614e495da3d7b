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
