#include "catalog/export_size.hpp"

namespace mcdnn {

namespace {

int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t blob_count(const EncodedTensor& e, const char* name) {
  for (const auto& b : e.blobs)
    if (b.name == name) return b.count();
  return 0;
}

// One weight matrix in the compressed form; `folded`: a batchnorm scale multiplies it.
int64_t compressed_weight(const EncodedTensor& e, bool folded) {
  const int64_t n = numel(e.shape), rows = e.shape.empty() ? 1 : e.shape[0];
  if (e.storage == "f32") return 4 * n;  // the fold is applied to the values
  if (e.storage == "int8") return n + 4 * rows + rows;  // q, scale (fold inside), zero points
  const int64_t fold = folded ? 4 * rows : 0;
  if (e.storage == "f16") return 2 * n + fold;
  return n + 4 * blob_count(e, "codebook") + fold;  // cbB: a uint8 code per weight + the codebook
}

}  // namespace

ExportSizes export_sizes(const VariantFile& v) {
  ExportSizes s;
  const auto& layers = v.layers;
  for (size_t i = 0; i < layers.size(); ++i) {
    const LayerSpec& l = layers[i];
    const auto& ts = v.tensors[i];
    const std::vector<TensorSpec> specs = tensors_of(l);
    if (l.kind == LayerKind::Conv2d || l.kind == LayerKind::Linear) {
      const bool folded = i + 1 < layers.size() && layers[i + 1].kind == LayerKind::BatchNorm;
      const int64_t bias = 4 * l.out;  // written even without a bias (zeros, or the folded shift)
      s.onnx_compressed += bias;
      s.onnx_float += bias;
      for (size_t k = 0; k < specs.size() && k < ts.size(); ++k) {
        if (!specs[k].matrix) continue;
        // The fold goes to the weight a batchnorm follows: a low-rank layer's second factor.
        const bool fold_here = folded && (l.repr != "lowrank" || specs[k].name == "weight_b");
        s.onnx_compressed += compressed_weight(ts[k], fold_here);
        s.onnx_float += 4 * numel(ts[k].shape);
      }
      if (folded) ++i;  // the batchnorm is inside this layer now
    } else {
      for (size_t k = 0; k < specs.size(); ++k) {
        const int64_t b = 4 * specs[k].numel();  // batchnorm's four vectors; nothing else has tensors
        s.onnx_compressed += b;
        s.onnx_float += b;
      }
    }
  }
  return s;
}

}  // namespace mcdnn
