// The default catalog sweep (used when a schema has no `catalog.variants`).
#pragma once
#include <vector>

#include <string>
#include <vector>
#include "schema/schema.hpp"

namespace mcdnn {

// The sweep used when a schema has no `catalog.variants`, in the spirit of the paper, built
// from the schema's layers (W = conv2d/linear layers, the last one being the classifier):
//   quantize all weights: f16, int8, cb8, cb4, and cb2 with trained centroids ("ft")
//   svd every linear but the classifier: ranks 1/2, 1/4, 1/8, 1/16
//   svd every conv2d but the first: ranks 1/2, 1/4, 1/8
//   prune the largest linear, iteratively: 50, 75, 90, 95, 97% -> each quantized int8, cb4,
//     cb2 ft, and mixed: convs int8 -> linears cb4, cb2 ft
//   prune every conv2d but the first and every hidden linear, per layer, iteratively:
//     50, 75, 85, 90% -> each quantized int8
//   prune all weights, global threshold, iteratively: 50, 70, 80, 90% -> each quantized cb4
//   narrow every conv2d and every linear but the classifier: keep 1/2, 1/4
//   remove every conv2d but the first
//   narrow the first conv2d to 1/2 -> svd the largest linear 1/8 -> prune it 90% -> cb4
std::vector<PassStep> default_sweep(const Schema& s);

}  // namespace mcdnn
