#include "nn/variant.hpp"

namespace mcdnn {

std::string tensor_key(const LayerSpec& l, const std::string& tensor) { return l.name + ":" + tensor; }

Variant derive(const Variant& v, const std::vector<LayerSpec>& specs) {
  Variant c;
  c.id = v.id;
  c.parent = v.parent;
  c.transforms = v.transforms;
  c.net = Net(specs);
  torch::NoGradGuard no_grad;
  const auto& old = v.net->layers();
  for (size_t i = 0; i < specs.size(); ++i) {
    size_t j = 0;
    while (j < old.size() && old[j].name != specs[i].name) ++j;
    if (j == old.size()) continue;
    auto ts_new = tensors_of(specs[i]), ts_old = tensors_of(old[j]);
    for (size_t a = 0; a < ts_new.size(); ++a)
      for (size_t b = 0; b < ts_old.size(); ++b)
        if (ts_new[a].name == ts_old[b].name && ts_new[a].shape == ts_old[b].shape)
          c.net->tensors(i)[a].copy_(v.net->tensors(j)[b]);
  }
  c.encoded = v.encoded;
  for (const auto& [k, m] : v.masks) c.masks[k] = m.clone();
  return c;
}

EncodedTensor encoded_tensor(const Variant& v, size_t layer, size_t k) {
  const LayerSpec& l = v.net->layers()[layer];
  auto ts = tensors_of(l)[k];
  auto it = v.encoded.find(tensor_key(l, ts.name));
  if (it != v.encoded.end()) return it->second;
  auto t = v.net->tensors(layer)[k].detach().to(torch::kCPU).contiguous();
  bool sparse = ts.matrix && l.sparse;
  return encode_tensor(t.data_ptr<float>(), ts.shape, "f32", sparse);
}

void apply_masks(Variant& v) {
  if (v.masks.empty()) return;
  torch::NoGradGuard no_grad;
  const auto& layers = v.net->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    auto ts = tensors_of(layers[i]);
    for (size_t k = 0; k < ts.size(); ++k) {
      auto it = v.masks.find(tensor_key(layers[i], ts[k].name));
      if (it != v.masks.end()) v.net->tensors(i)[k].mul_(it->second);
    }
  }
}

}  // namespace mcdnn
