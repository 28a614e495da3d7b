#include "stored_net.hpp"

namespace mcdnn::test {

Net stored_net(const std::vector<LayerSpec>& L, const Shape& input, int64_t classes, const std::string& id, uint32_t seed,
               VariantFile* f) {
  torch::manual_seed(seed);
  Net net(L);
  net->eval();
  f->id = id;
  f->input.input = input;
  f->input.num_classes = classes;
  f->layers = L;
  f->tensors.clear();
  torch::NoGradGuard ng;
  for (size_t i = 0; i < L.size(); ++i) {
    const auto specs = tensors_of(L[i]);
    std::vector<EncodedTensor> enc;
    for (size_t k = 0; k < specs.size(); ++k) {
      torch::Tensor& t = net->tensors(i)[k];
      if (L[i].kind == LayerKind::BatchNorm)
        t.copy_(specs[k].name == "running_var" ? torch::rand_like(t) + 0.5 : torch::randn_like(t) * 0.3 + (k == 0 ? 1.0 : 0.0));
      else if (specs[k].matrix && L[i].sparse)
        t.mul_((torch::rand_like(t) > 0.5).to(torch::kFloat));
      else if (!specs[k].matrix)
        t.copy_(torch::randn_like(t) * 0.1);
      auto c = t.contiguous();
      const bool matrix = specs[k].matrix;
      EncodedTensor e = encode_tensor(c.data_ptr<float>(), specs[k].shape, matrix ? L[i].storage : "f32", matrix && L[i].sparse);
      const auto dec = decode_tensor(e);
      t.copy_(torch::from_blob(const_cast<float*>(dec.data()), t.sizes(), torch::kFloat));
      enc.push_back(std::move(e));
    }
    f->tensors.push_back(std::move(enc));
  }
  return net;
}

}  // namespace mcdnn::test
