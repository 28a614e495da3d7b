// A variant: a Net (layer specs + tensors) plus what a pass attached to it — the stored
// encoding of quantized weights and the masks of pruned ones — and its lineage.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "nn/net.hpp"
#include "nn/storage.hpp"

namespace mcdnn {

struct Variant {
  std::string id;
  std::string parent;                   // "" for the base
  std::vector<std::string> transforms;  // from the base, in order
  Net net{nullptr};
  // "layer:tensor" -> stored form, for weights whose storage is lossy (f16, int8, cbB); the
  // net holds exactly decode_tensor() of it. Lossless (f32) weights are encoded on demand.
  std::map<std::string, EncodedTensor> encoded;
  // "layer:tensor" -> 0/1 float mask of a pruned weight; fine-tuning keeps masked weights 0.
  std::map<std::string, torch::Tensor> masks;
  // Layers before this index are identical to the parent's (same specs, same weights): the
  // frozen prefix whose activations fine-tuning may cache.
  size_t first_changed = 0;
  // Some layers were re-initialized (remove_layer): fine-tuning retrains them from scratch
  // (4x the learning rate, twice the epochs).
  bool reinitialized = false;
  // Shapes changed (narrow, remove): what reaches each batchnorm changed, so its running
  // statistics are re-estimated before the variant is evaluated and fine-tuned (finetune.cpp).
  bool recalibrate = false;
  bool quantized() const { return !encoded.empty(); }
};

std::string tensor_key(const LayerSpec& l, const std::string& tensor);

// A deep copy (new tensors) of `v` with `specs` in place of its layers; tensors are copied
// where layer name, tensor name and shape match, freshly initialized elsewhere.
Variant derive(const Variant& v, const std::vector<LayerSpec>& specs);

// The stored form of tensor k of layer i (attached encoding, or lossless per the layer spec).
EncodedTensor encoded_tensor(const Variant& v, size_t layer, size_t k);

// Zeroes masked weights (after each optimizer step).
void apply_masks(Variant& v);

}  // namespace mcdnn
