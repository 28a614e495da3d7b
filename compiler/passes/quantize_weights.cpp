#include "passes/passes.hpp"
#include "util/error.hpp"

namespace mcdnn {

Variant quantize_weights(const Variant& parent, const std::string& storage, const std::vector<std::string>& layers) {
  if (!valid_storage(storage) || storage == "f32")
    fail(ErrorClass::Schema, "quantize: unknown format '" + storage + "'; valid: f16, int8, cb8, cb4, cb2");
  std::vector<LayerSpec> specs = parent.net->layers();
  std::vector<size_t> idx = weight_layers(parent, layers, "quantize");
  // Mixed precision: layers may be quantized in separate steps, each layer once.
  rule_quantize(plan_state(parent), idx);
  for (size_t i : idx) specs[i].storage = storage;
  std::string what;
  for (const auto& n : layers) what += (what.empty() ? " " : ",") + n;
  Variant c = begin_child(parent, specs, "quant " + storage + what);
  c.first_changed = idx.empty() ? specs.size() : *std::min_element(idx.begin(), idx.end());
  torch::NoGradGuard no_grad;
  for (size_t i : idx) {
    auto ts = tensors_of(specs[i]);
    for (size_t k = 0; k < ts.size(); ++k) {
      if (!ts[k].matrix) continue;
      auto& w = c.net->tensors(i)[k];
      auto cpu = w.detach().to(torch::kCPU).contiguous();
      EncodedTensor e = encode_tensor(cpu.data_ptr<float>(), ts[k].shape, storage, specs[i].sparse);
      std::vector<float> d = decode_tensor(e);
      w.copy_(torch::from_blob(d.data(), ts[k].shape, torch::kFloat32));
      c.encoded[tensor_key(specs[i], ts[k].name)] = std::move(e);
    }
  }
  return c;
}

}  // namespace mcdnn
