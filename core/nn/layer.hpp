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

// The first eight are the chain kinds every stage supports; the rest (a network that is a graph:
// element-wise add, channel concat, a squeeze-excite gate, global pooling, more activations, and
// grouped or dilated convolutions) are parsed, shape-checked and profiled, and refused by name
// (graph_feature()) by the stages that do not run them yet.
enum class LayerKind {
  Conv2d, Linear, ReLU, MaxPool, AvgPool, Flatten, Dropout, BatchNorm,
  Add, Concat, Mul, GlobalAvgPool, ReLU6, HardSwish, Sigmoid
};

// Schema spelling of each kind ("conv2d", "linear", ...), and its default-name prefix.
const char* kind_name(LayerKind k);
const char* kind_prefix(LayerKind k);
bool kind_from_name(const std::string& s, LayerKind* out);
std::string all_kind_names();  // "conv2d, linear, ..." for error messages
// How many inputs a kind takes: 1, or 2 and more (add, concat) / exactly 2 (mul).
int min_inputs(LayerKind k);
int max_inputs(LayerKind k);  // 1, 2, or INT32_MAX
// Element-wise with one input (relu, relu6, hardswish, sigmoid, dropout, batchnorm): runs in
// place when its input is not read again.
bool is_unary_elementwise(LayerKind k);

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
  // conv2d: dilation (height, width) and groups (in and out channels split into `groups`
  // independent convolutions; depthwise when groups = in channels).
  int64_t dh = 1, dw = 1, groups = 1;
  // The layers whose outputs this one takes, as indices into the network's layer list (all
  // earlier than this layer; -1 = the network input). Empty = the layer just before (the
  // network input for the first layer): a chain needs no `from` at all.
  std::vector<int> from;
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
  Shape in, out_shape;  // filled by shape inference; `in` is the first input's shape
  std::vector<Shape> ins;  // every input's shape, in `from` order (multi-input kinds only)
};

// The indices of layer i's inputs (-1 = network input), `from` or the default.
std::vector<int> inputs_of(const std::vector<LayerSpec>& layers, size_t i);

// Whether layers [begin, ...) read nothing before layer begin - 1's output (or the network
// input when begin = 0): the network can be cut there into a prefix and a rest joined by one
// tensor (a frozen prefix, pre-forwarded features). Always true in a chain.
bool single_cut(const std::vector<LayerSpec>& layers, size_t begin);

// What a layer uses beyond a chain of the first eight kinds with groups = dilation = 1 and no
// `from` ("" when nothing): "add", "groups 32", "dilation 2x2", "from [stem, bn2]", ... Stages
// that run chains only name it in their refusal.
std::string graph_feature(const std::vector<LayerSpec>& layers, size_t i);

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
// Same for any kind, given every input's shape (`ins` in `from` order): add needs equal shapes,
// concat equal heights and widths (channels add up; or flat features), mul a tensor then a gate
// of C x 1 x 1 or the tensor's own shape. *why names the inputs by `names` when given ("'bn2' is
// 64x8x8"), else by position ("input 2 is ...").
bool infer_output_multi(const LayerSpec& layer, const std::vector<Shape>& ins, Shape* out, std::string* why,
                        const std::vector<std::string>* names = nullptr);

}  // namespace mcdnn
