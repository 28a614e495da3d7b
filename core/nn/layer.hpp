// The layer description shared by every stage: the schema produces it, shape inference fills
// in shapes, the profiler counts it, nn builds LibTorch modules from it and the catalog writes
// it out. Torch-free so that parsing and profiling never pay for LibTorch.
//
// A layer's stored tensors (names, shapes, which are trained) are derived from the spec in one
// place, tensors_of(); every consumer goes through it. Representations (dense or lowrank,
// storage format, sparse) are fields of the spec; a new one extends them and tensors_of().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mcdnn {

enum class LayerKind { Conv2d, Linear, ReLU, MaxPool, AvgPool, Flatten, Dropout, BatchNorm };

// Schema spelling of each kind ("conv2d", "linear", ...), and its default-name prefix.
const char* kind_name(LayerKind k);
const char* kind_prefix(LayerKind k);
bool kind_from_name(const std::string& s, LayerKind* out);
std::string all_kind_names();  // "conv2d, linear, ..." for error messages

// An activation shape for one example: C×H×W, or `flat` features (c = features, h = w = 1).
struct Shape {
  int64_t c = 0, h = 1, w = 1;
  bool flat = false;
  int64_t numel() const { return c * h * w; }
  std::string str() const;  // "32x14x14" or "512"
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w && flat == o.flat; }
};

struct LayerSpec {
  LayerKind kind = LayerKind::ReLU;
  std::string name;
  // conv2d: out channels; linear: out features.
  int64_t out = 0;
  // conv2d / pooling window: kernel, stride and zero padding, height then width.
  int64_t kh = 0, kw = 0, sh = 1, sw = 1, ph = 0, pw = 0;
  bool bias = true;       // conv2d, linear
  double p = 0.5;         // dropout probability
  double eps = 1e-5;      // batchnorm
  double momentum = 0.1;  // batchnorm running-stat update (PyTorch convention)
  // Structure of a conv2d/linear weight: "dense", or "lowrank" (SVD factorized, rank `rank`:
  // linear W (out x in) = weight_b (out x k) . weight_a (k x in); conv2d = a kh x kw conv with k
  // filters (weight_a) followed by a 1x1 conv with `out` filters (weight_b), stride and
  // padding on the first, bias on the second).
  std::string repr = "dense";
  int64_t rank = 0;
  // How its weight matrices are stored (nn/storage.hpp): "f32", "f16", "int8", "cb8", "cb4",
  // "cb2"; `sparse` = pruned, stored as compressed rows. Biases and batchnorm stay f32.
  std::string storage = "f32";
  bool sparse = false;
  Shape in, out_shape;  // filled by infer_shapes()
};

struct TensorSpec {
  std::string name;            // "weight", "bias", "running_mean", ...
  std::vector<int64_t> shape;  // PyTorch layout (conv weight: out, in, kh, kw)
  bool trainable = true;       // false for batchnorm running statistics
  bool matrix = false;         // a conv2d/linear weight: subject to storage, sparsity, pruning
  int64_t numel() const;
};

// The tensors a layer stores, in a fixed order. Requires `in` to be set.
std::vector<TensorSpec> tensors_of(const LayerSpec& layer);

// Output shape of `layer` applied to `in`; on failure returns false and sets *why to what was
// expected and found (e.g. "kernel 5x5 does not fit the 3x3 input (padding 0)").
bool infer_output(const LayerSpec& layer, const Shape& in, Shape* out, std::string* why);

}  // namespace mcdnn
