// A LibTorch module built from layer specs. It holds, per layer, the tensors tensors_of()
// lists (same order, same shapes); forward() applies the layers with functional ops, so new
// representations only add a case here and in tensors_of().
//
// This is the one place that touches LibTorch APIs that differ between 1.13 and 2.x
// (device selection, inference guards); keep such bridges here.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "nn/layer.hpp"

namespace mcdnn {

class NetImpl : public torch::nn::Module {
 public:
  // Allocates and initializes the tensors (PyTorch's defaults: Kaiming-uniform weights with
  // a = sqrt(5), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); batchnorm scale 1, shift 0,
  // running mean 0 and variance 1). Seed torch first for reproducible weights.
  explicit NetImpl(std::vector<LayerSpec> layers);

  torch::Tensor forward(torch::Tensor x);
  // Layers [begin, end) only: x is the input of layer `begin` (in a graph: the output of layer
  // begin - 1, which must be the only earlier tensor the range reads: cut_is_single()).
  torch::Tensor forward_range(torch::Tensor x, size_t begin, size_t end);
  // Whether layers [begin, ...) read nothing before layer begin - 1's output: a prefix can be
  // run (or cached) apart from the rest. Always true in a chain.
  bool cut_is_single(size_t begin) const;

  // Every batchnorm's running-statistics momentum (1/k at batch k: a plain average, PyTorch's
  // cumulative mode); returns the previous values to give back. Until they are given back
  // dropout is the identity even in training mode, so that only the statistics move.
  std::vector<double> set_batchnorm_momentum(double m);
  void restore_batchnorm_momentum(const std::vector<double>& m);

  const std::vector<LayerSpec>& layers() const { return layers_; }
  // Tensors of layer i, in tensors_of(layers()[i]) order.
  const std::vector<torch::Tensor>& tensors(size_t i) const { return tensors_[i]; }
  std::vector<torch::Tensor>& tensors(size_t i) { return tensors_[i]; }

 private:
  // Layer i on its first input x and its other inputs (add, concat, mul).
  torch::Tensor apply(size_t i, const torch::Tensor& x, const std::vector<torch::Tensor>& extra);
  std::vector<LayerSpec> layers_;
  std::vector<std::vector<torch::Tensor>> tensors_;
  bool graph_ = false;              // some layer names its inputs (LayerSpec::from)
  bool recalibrating_ = false;      // set_batchnorm_momentum() until restored: no dropout
  std::vector<size_t> last_use_;    // per layer: the last layer reading its output (size(): none)
};
TORCH_MODULE(Net);

// "auto" picks CUDA when available, else CPU; "cuda" fails clearly when there is none.
torch::Device pick_device(const std::string& name);

// Process-wide settings that make LibTorch on CPU fast here (measured by tools/bench_eval):
//  * single_threaded_blas: LibTorch already splits work across its own threads; a
//    multi-threaded OpenBLAS underneath oversubscribes the cores (training +27% with 1 thread).
//  * keep_heap: glibc serves the large im2col/activation buffers with mmap and returns them
//    with munmap, so every batch page-faults its buffers in again; evaluation at batch 1000 ran
//    at half speed from that alone. Raising the mmap and trim thresholds keeps them in the heap.
struct RuntimeTuning {
  bool single_threaded_blas = true;
  bool keep_heap = true;
};
void tune_runtime(const RuntimeTuning& t = {});

// LibTorch's worker threads: `max_threads`, and when `adaptive`, fewer while other processes
// keep cores busy (util/thread_policy.hpp; training and evaluation loops call adapt_threads()).
void use_thread_policy(int max_threads, bool adaptive);

// Scoped: no autograd bookkeeping (inference only).
using InferenceGuard = c10::InferenceMode;

}  // namespace mcdnn
