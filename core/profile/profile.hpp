// Static cost of a variant, computed from its layer specs alone (no weights, no data), so a
// large architecture is profiled in milliseconds.
//
// FLOP convention (the one published parameter/FLOP counts use, e.g. VGG-16's 15.47 G
// multiply-adds = 30.9 GFLOPs in the MCDNN paper's Table 1):
//   * flops = 2 x multiply-adds of conv2d and linear layers (a multiply-add counts 2 FLOPs):
//       conv2d: 2 * Cout * Hout * Wout * (Cin * kh * kw);   linear: 2 * out * in.
//   * Everything else is counted separately in `other_ops` and NOT in flops:
//       bias: 1 add per output element; relu: 1 per element; maxpool: kh*kw-1 comparisons per
//       output; avgpool: kh*kw-1 adds + 1 multiply per output; batchnorm: 2 per element (scale
//       and shift, folded at inference); dropout and flatten: 0 (identity at inference).
// Memory:
//   * params: trainable elements (weights, biases, batchnorm scale/shift);
//   * bytes: the stored weight payload, every tensor the variant file holds for the layer
//     (batchnorm running statistics included): 4 bytes per element here, where every weight is
//     dense f32; profile_stored() counts compressed forms from their exact
//     encoding;
//   * activation bytes (batch 1, fp32): what is alive while a layer runs, over the execution
//     order with buffers reused (profile.cpp, live_bytes(), states the rule; in a chain: the
//     layer's input and output, or its input alone for element-wise layers — relu, dropout,
//     batchnorm, flatten — which run in place); the peak is the maximum over layers.
//   * graph kinds: add (inputs - 1) adds per output element, mul 1, concat 0, globalavgpool
//     1 per input element, relu6 2, sigmoid 4, hardswish 5 per element (other_ops).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/layer.hpp"
#include "nn/storage.hpp"

namespace mcdnn {

struct LayerProfile {
  std::string name;
  std::string kind;
  std::string repr;  // weight layers: stored_form(), "dense f32", "sparse int8", "lowrank k=64 sparse cb4"; else ""
  Shape in, out;
  std::vector<std::string> from;  // a graph layer's inputs by name ("input": the network's); empty in a chain
  int64_t params = 0;
  int64_t params_nonzero = 0;  // trainable elements that are not exactly zero (pruning)
  int64_t flops = 0;           // dense: every multiply-add of the representation
  int64_t flops_effective = 0; // only multiply-adds with a nonzero weight (= flops when dense)
  int64_t other_ops = 0;
  int64_t bytes = 0;
  int64_t activation_bytes = 0;  // live activation bytes while this layer runs (batch 1)
};

struct Profile {
  std::vector<LayerProfile> layers;
  int64_t params = 0;
  int64_t params_nonzero = 0;
  int64_t flops = 0;
  int64_t flops_effective = 0;
  int64_t other_ops = 0;
  int64_t bytes = 0;
  int64_t activation_bytes = 0;  // peak over layers
  void add(const LayerProfile& l);
};

// How a conv2d/linear layer's weight is stored, for people: the representation, then "sparse"
// when pruned rows are stored compressed, then the number format: "dense f32", "sparse int8"
// (a pruned dense layer: "sparse" replaces "dense"), "lowrank k=64 cb4", "lowrank k=64 sparse f32".
// "" for other layers.
std::string stored_form(const LayerSpec& l);

// Profile from specs alone, assuming every weight is nonzero and stored as dense f32
// (exact for a base model). profile_stored() refines params_nonzero, flops_effective and bytes
// from a variant's stored weights.
//
// Effective FLOPs of a pruned layer: 2 x (nonzero weights) x (output positions that use each
// weight): conv2d H'*W' per weight, linear 1; a lowrank layer sums its two factors.
Profile profile_layers(const std::vector<LayerSpec>& layers);

// Profile of a variant as stored: bytes from each tensor's encoding (EncodedTensor::bytes()),
// params_nonzero and flops_effective from the nonzeros its encodings decode to. `tensors[i]`
// holds layer i's tensors in tensors_of() order, each well-formed (check_encoding()).
Profile profile_stored(const std::vector<LayerSpec>& layers, const std::vector<std::vector<EncodedTensor>>& tensors);

// Estimated profile of a planned variant (schema/plan.hpp) before any weights exist: each
// conv2d/linear weight stored as its spec says, keeping `density[i]` of layer i's weights when
// the layer is sparse. Bytes follow storage.hpp's layout exactly for dense tensors; for sparse
// ones they assume the kept weights are spread uniformly at random (filler entries from the
// expected gap lengths), so real files differ by the row-count width and the fillers.
Profile profile_planned(const std::vector<LayerSpec>& layers, const std::vector<double>& density);

// The bytes encode_tensor() would produce for a rows x cols tensor (`shape`) in `storage`,
// sparse with `density` of its entries nonzero (uniformly spread), as above.
int64_t estimate_encoded_bytes(const std::vector<int64_t>& shape, const std::string& storage, bool sparse, double density);

// Dense FLOPs of one conv2d/linear weight tensor given its nonzero count.
int64_t weight_flops(const LayerSpec& layer, const TensorSpec& t, int64_t nonzero);

// The per-layer table and totals as printed by --profile-only.
std::string format_profile(const Profile& p);

// "1.23 M", "30.94 G" style with 3 significant digits.
std::string human(double v, const char* unit = "");

}  // namespace mcdnn
