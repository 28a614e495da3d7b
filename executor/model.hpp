// The executor: a variant loaded in its compressed form, run on batches of images. No LibTorch.
//
// Load turns the variant's layers into steps:
//   conv2d     im2col (skipped for 1x1 stride-1 unpadded convolutions) and a product with the
//              weight matrix; lowrank = the k x kh x kw product, then the 1 x 1 product
//   linear     a product; lowrank = two products
//   batchnorm  folded into the preceding conv2d/linear as a per-channel scale and shift applied
//              to its output (the stored weights stay as they are), else a step of its own
//   relu       fused into the preceding step's output pass
//   maxpool, avgpool, flatten   steps; dropout is the identity
// Activations are channel-major: C x N x H x W for images (at batch 1 this is CHW), features x N
// after flatten, so every product is W (rows x cols) times a cols x (N*H*W) matrix.
//
// A graph variant (file format version 2: `from`, add, concat, mul, global pooling, relu6,
// hardswish, sigmoid, grouped or dilated convs) runs as steps that name their input steps
// (graph.cpp): a conv/linear folds the batchnorm that alone reads it and an activation that
// alone reads that, an add fuses the activation after it; grouped convs run direct from their
// decoded weights; each step writes its own buffer (no reuse yet).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "catalog/variant_file.hpp"
#include "matrix.hpp"

namespace mcdnn::exec {

// When a sparse matrix runs as sparse: `auto` compares its density with the measured break-even
// density of its shape (break_even.hpp).
enum class SparsePolicy { Auto, Sparse, Dense };

struct Options {
  Int8Mode int8 = Int8Mode::Integer;
  SparsePolicy sparse = SparsePolicy::Auto;
  int64_t batch_hint = 1;  // the batch size the sparse/dense choice is made for
  int64_t layers = 0;      // > 0: only the variant's first `layers` layers (a trunk,
                           // catalog/trunk.hpp); their output replaces the logits
};

// An activation applied in a step's output pass.
enum class Act { None, ReLU, ReLU6, HardSwish, Sigmoid };

struct Step {
  enum Kind { Conv, Linear, MaxPool, AvgPool, Affine, Flatten, Add, Concat, Mul, GlobalAvgPool } kind = Linear;
  std::string name;  // the layers it covers, "conv1+bn1+relu1"
  Shape in, out;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0;  // conv / pool window
  int64_t dh = 1, dw = 1, groups = 1;                       // conv dilation and groups
  Matrix a, b;   // b only for lowrank (a: in -> rank, b: rank -> out)
  bool lowrank = false;
  std::vector<float> dense;  // a grouped conv's weights, decoded from their stored form
  std::vector<float> scale, shift;  // per output channel: y = y * scale + shift (empty: none)
  Act act = Act::None;
  std::vector<int> inputs;  // graph runs: the steps whose outputs it reads (-1 = the images)
  int64_t resident_bytes() const;
  std::string describe() const;  // "int8 dense" / "lowrank f32 dense + cb4 dense"
};

class Model {
 public:
  // Builds the steps from a read, validated variant file (catalog/variant_file.hpp).
  static Model from_file(const VariantFile& v, const Options& opt = {});

  // logits (n x num_classes, row-major) for n images (n x C x H x W, preprocessed); a prefix
  // model (Options::layers) writes its last layer's output instead, n x output_size() in the
  // same N x C x H x W layout (what a fragment's model takes).
  void run(const float* images, int64_t n, float* logits);
  // The same, adding each step's seconds to step_seconds (resized to steps().size()).
  void run_timed(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds);

  const std::vector<Step>& steps() const { return steps_; }
  const InputInfo& input() const { return input_; }
  int64_t num_classes() const { return input_.num_classes; }
  // Floats per example run() writes: num_classes(), or a prefix's output size.
  int64_t output_size() const { return output_.numel(); }
  const Shape& output_shape() const { return output_; }
  // Bytes of weights, scales, codebooks and indices held (not activations).
  int64_t resident_bytes() const;
  // Activation bytes for a batch of n: the two activation buffers (a graph: its arena, the images
  // included) and the im2col/intermediate buffer run() allocates (product scratch not included).
  int64_t activation_bytes(int64_t n) const;
  // A graph's images and step outputs per example, in floats: the arena its buffer plan packs
  // them into (graph.cpp, plan_buffers), and the sum of their sizes without reuse. 0 for a chain.
  int64_t arena_floats() const { return arena_; }
  int64_t unshared_floats() const;
  Isa isa() const { return kernels_->isa; }

 private:
  void run_impl(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds);
  void buffer_sizes(int64_t* act, int64_t* col) const;
  static void build_graph(Model& m, const VariantFile& v, const Options& opt);
  void run_graph(const float* images, int64_t n, float* logits, std::vector<double>* step_seconds);
  void plan_buffers();
  bool graph_ = false;
  // Graph runs: each step's output at offset_[step] * n floats into one arena of arena_ * n
  // floats; steps whose lifetimes overlap never share floats.
  std::vector<int64_t> offset_;
  int64_t input_offset_ = 0;  // the images (C x N x HW)
  int64_t arena_ = 0;
  std::vector<float> garena_;
  std::vector<float> mid_;                // graph runs: a low-rank layer's rank-k intermediate
  InputInfo input_;
  Shape output_;
  std::vector<Step> steps_;
  const Kernels* kernels_ = nullptr;
  Options opt_;
  std::vector<float> buf_[2], col_;
  Scratch scratch_;
};

}  // namespace mcdnn::exec
