// A LibTorch network with random weights whose every tensor is what its stored form decodes to:
// the executor's and the readers' tests compare against it on exactly the file's weights.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/variant_file.hpp"
#include "nn/net.hpp"

namespace mcdnn::test {

// Random weights (seeded), sparse weight matrices half zero, batchnorm statistics and affine
// non-trivial, each tensor replaced by decode(encode(w)) in its layer's storage; *f gets the id,
// input, classes, layers and encoded tensors to write as a variant file.
Net stored_net(const std::vector<LayerSpec>& layers, const Shape& input, int64_t classes, const std::string& id, uint32_t seed,
               VariantFile* f);

}  // namespace mcdnn::test
